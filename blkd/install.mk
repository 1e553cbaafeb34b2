# SPDX-License-Identifier: MIT
# What "make install" puts where for blkd (mk/install.mk).
$(eval $(call shlib,blkd,0,0.1.0,$(call objs,$(BLKD_LIB_SRCS)) $(COMMON_SHLIB),$(BLKD_LDLIBS)))
$(eval $(call pkgconfig,blkd,Userspace block layer: queues schedulers and ordered flushes,0.1.0,-lblkd,))
INSTALL_FILES += 755:$(BLKD_BIN):$(BINDIR)/blkd
INSTALL_FILES += 644:blkd/include/blkd.h:$(INCLUDEDIR)/blkd.h
INSTALL_FILES += 644:blkd/man/blkd.8:$(MAN8DIR)/blkd.8
INSTALL_FILES += 644:blkd/completion/blkd.bash:$(BASHCOMPDIR)/blkd
# The unit names the installed program, so it is made for this BINDIR.
LIBS += $(O)/systemd/blkd.service
$(O)/systemd/blkd.service: blkd/systemd/blkd.service.in $(PREFIX_STAMP)
	@mkdir -p $(dir $@)
	sed 's|@BINDIR@|$(BINDIR)|g' $< > $@
INSTALL_FILES += 644:$(O)/systemd/blkd.service:$(SYSTEMDUNITDIR)/blkd.service
INSTALL_FILES += 644:blkd/systemd/blkd.socket:$(SYSTEMDUNITDIR)/blkd.socket
