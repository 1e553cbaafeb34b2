# SPDX-License-Identifier: MIT
# What "make install" puts where for ecfs (mk/install.mk).
$(eval $(call shlib,ecfs,0,0.1.0,$(call objs,$(ECFS_LIB_SRCS)) $(COMMON_SHLIB),$(ECFS_CRYPTO_LIBS)))
$(eval $(call pkgconfig,ecfs,eCryptfs on-disk format byte-compatible with Linux,0.1.0,-lecfs,ob-common))
INSTALL_FILES += 755:$(ECFS_BIN):$(BINDIR)/ecfs
INSTALL_FILES += 755:ecfs/fuse/mount.fuse.ecfs:$(MOUNTHELPERDIR)/mount.fuse.ecfs
INSTALL_FILES += 644:$(PAM_ECFS):$(PAMDIR)/pam_ecfs.so
INSTALL_FILES += 644:ecfs/include/ecfs.h:$(INCLUDEDIR)/ecfs.h
INSTALL_FILES += 644:ecfs/man/ecfs.1:$(MAN1DIR)/ecfs.1
INSTALL_FILES += 644:ecfs/man/mount.fuse.ecfs.8:$(MAN8DIR)/mount.fuse.ecfs.8
INSTALL_FILES += 644:ecfs/man/pam_ecfs.8:$(MAN8DIR)/pam_ecfs.8
INSTALL_FILES += 644:ecfs/completion/ecfs.bash:$(BASHCOMPDIR)/ecfs
INSTALL_FILES += 755:ecfs/examples/demo.sh:$(DATADIR)/doc/ecfs/examples/demo.sh
INSTALL_FILES += 644:ecfs/systemd/home-Private.mount:$(DATADIR)/doc/ecfs/examples/home-Private.mount
