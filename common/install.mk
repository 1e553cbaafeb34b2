# SPDX-License-Identifier: MIT
# What "make install" puts where for common (mk/install.mk): libob-common,
# the error and locked-memory helpers every Outboard library returns and
# uses in its public header.
$(eval $(call shlib,ob-common,0,0.1.0,$(call objs,$(COMMON_SRCS)),))
$(eval $(call pkgconfig,ob-common,Outboard error reasons and locked key memory,0.1.0,-lob-common,))
INSTALL_FILES += 644:common/include/ob/err.h:$(INCLUDEDIR)/ob/err.h
INSTALL_FILES += 644:common/include/ob/secmem.h:$(INCLUDEDIR)/ob/secmem.h
