# ecfs: libecfs (the eCryptfs format), the ecfs tool, the FUSE mount.
CFLAGS_ecfs := -Iecfs/include -Iecfs/lib $(shell $(PKG) --cflags libcrypto nettle fuse3 liburing botan-2 gpgme tss2-esys tss2-mu tss2-tctildr 2>/dev/null)
ECFS_CRYPTO_LIBS := $(shell $(PKG) --libs libcrypto nettle botan-2 gpgme tss2-esys tss2-mu tss2-tctildr)
ECFS_FUSE_LIBS := $(shell $(PKG) --libs fuse3 liburing)

ECFS_LIB_SRCS := $(wildcard ecfs/lib/*.c)
ECFS_LIB := $(O)/lib/libecfs.a
LIBS += $(ECFS_LIB)

$(ECFS_LIB): $(call objs,$(ECFS_LIB_SRCS))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# The ecfs tool: offline subcommands (cli/) plus the FUSE mount (fuse/).
ECFS_CLI_SRCS := $(wildcard ecfs/cli/*.c) $(wildcard ecfs/fuse/*.c)
ECFS_BIN := $(O)/bin/ecfs
PROGS += $(ECFS_BIN)

$(ECFS_BIN): $(call objs,$(ECFS_CLI_SRCS)) $(ECFS_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ECFS_CRYPTO_LIBS) $(ECFS_FUSE_LIBS)

# Unit tests: ecfs/tests/unit/test-<unit>.c, each its own cmocka binary.
ECFS_UNIT_SRCS := $(wildcard ecfs/tests/unit/test-*.c)
ECFS_UNIT_BINS := $(patsubst ecfs/tests/unit/%.c,$(O)/tests/ecfs/%,$(ECFS_UNIT_SRCS))
UNIT_TESTS += $(ECFS_UNIT_BINS)

$(O)/tests/ecfs/%: $(O)/ecfs/tests/unit/%.o $(ECFS_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ECFS_CRYPTO_LIBS) $(shell $(PKG) --libs cmocka)

DEPS += $(call deps,$(ECFS_LIB_SRCS) $(ECFS_CLI_SRCS) $(ECFS_UNIT_SRCS))
include ecfs/fuzz.mk
include ecfs/pam/pam.mk
