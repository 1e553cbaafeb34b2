# SPDX-License-Identifier: MIT
# pam_ecfs.so: the PAM module (ecfs/pam/), with libecfs and libob-common
# linked in and hidden (pam_ecfs.map), so that it loads into any PAM
# application.  The ecfs it starts is $(BINDIR)/ecfs unless ecfs= is given.
PAM_ECFS_SRCS := $(wildcard ecfs/pam/*.c)
PAM_ECFS := $(O)/lib/security/pam_ecfs.so
PROGS += $(PAM_ECFS)

$(call objs,$(PAM_ECFS_SRCS)): CFLAGS += -DPE_ECFS_PROG='"$(BINDIR)/ecfs"'
$(call objs,$(PAM_ECFS_SRCS)): $(PREFIX_STAMP)

$(PAM_ECFS): $(call objs,$(PAM_ECFS_SRCS)) $(ECFS_LIB) $(COMMON_LIB) ecfs/pam/pam_ecfs.map
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -shared -Wl,-z,defs -Wl,--version-script=ecfs/pam/pam_ecfs.map \
		-Wl,--exclude-libs,ALL -o $@ $(filter %.o %.a,$^) \
		-Wl,--as-needed $(ECFS_CRYPTO_LIBS) -lpam

DEPS += $(call deps,$(PAM_ECFS_SRCS))
