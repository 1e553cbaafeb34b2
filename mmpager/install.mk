# SPDX-License-Identifier: MIT
# What "make install" puts where for mmpager (mk/install.mk).  libumap
# carries the pager and the Outboard helpers inside it, so an unchanged UMap
# program links with "-lumap" alone, as it does against LLNL UMap; it leaves
# the NBD store out (UMap's API cannot name an export), so no libnbd either.
$(eval $(call shlib,mmpager,0,0.1.0,$(call objs,$(MMPAGER_LIB_SRCS)) $(COMMON_SHLIB),$(MMPAGER_LDLIBS)))
$(eval $(call shlib,umap,0,0.1.0,$(call objs,$(UMAP_SRCS) $(UMAP_LIB_SRCS) $(COMMON_SRCS)),))
$(eval $(call pkgconfig,mmpager,Demand paging in userspace through userfaultfd,0.1.0,-lmmpager,ob-common))
$(eval $(call pkgconfig,umap,UMap C API over mmpager,0.1.0,-lumap,))
INSTALL_FILES += 755:$(MMPAGER_BIN):$(BINDIR)/mmpager
INSTALL_FILES += 644:mmpager/include/mmpager.h:$(INCLUDEDIR)/mmpager.h
# UMap installs umap/umap.h; <umap.h> is there for programs that say so.
INSTALL_FILES += 644:mmpager/include/umap/umap.h:$(INCLUDEDIR)/umap/umap.h
INSTALL_FILES += 644:mmpager/include/umap.h:$(INCLUDEDIR)/umap.h
INSTALL_FILES += 644:mmpager/man/mmpager.1:$(MAN1DIR)/mmpager.1
INSTALL_FILES += 644:mmpager/completion/mmpager.bash:$(BASHCOMPDIR)/mmpager
