# SPDX-License-Identifier: MIT
# What "make install" puts where for numamove (mk/install.mk).
$(eval $(call shlib,numamove,0,0.1.0,$(call objs,$(NUMAMOVE_LIB_SRCS)) $(COMMON_SHLIB),))
$(eval $(call pkgconfig,numamove,Move the memory of a process between NUMA nodes,0.1.0,-lnumamove,ob-common))
INSTALL_FILES += 755:$(NUMAMOVE_BIN):$(BINDIR)/numamove
INSTALL_FILES += 644:numamove/include/numamove.h:$(INCLUDEDIR)/numamove.h
INSTALL_FILES += 644:numamove/man/numamove.8:$(MAN8DIR)/numamove.8
INSTALL_FILES += 644:numamove/completion/numamove.bash:$(BASHCOMPDIR)/numamove
