# SPDX-License-Identifier: MIT
# What "make install" puts where for blkd (mk/install.mk).
$(eval $(call shlib,blkd,0,0.1.0,$(call objs,$(BLKD_LIB_SRCS)) $(COMMON_SHLIB),$(BLKD_LDLIBS)))
$(eval $(call pkgconfig,blkd,Userspace block layer: queues schedulers and ordered flushes,0.1.0,-lblkd,))
INSTALL_FILES += 755:$(BLKD_BIN):$(BINDIR)/blkd
INSTALL_FILES += 644:blkd/include/blkd.h:$(INCLUDEDIR)/blkd.h
INSTALL_FILES += 644:blkd/man/blkd.8:$(MAN8DIR)/blkd.8
INSTALL_FILES += 644:blkd/completion/blkd.bash:$(BASHCOMPDIR)/blkd
