# SPDX-License-Identifier: MIT
# make install / make uninstall, driven by lists that each module.mk fills,
# so that a system added later installs by adding its own lines:
#
#   INSTALL_FILES += MODE:SOURCE:DEST      one file; DEST is absolute
#                                          (use $(BINDIR), $(MAN8DIR), ...)
#   INSTALL_LINKS += TARGET:DEST           a symlink DEST -> TARGET
#
# Both are installed under $(DESTDIR) and removed again by uninstall.
# Paths follow the GNU conventions; PREFIX=/usr is what a package uses.
PREFIX      ?= /usr/local
EXEC_PREFIX ?= $(PREFIX)
BINDIR      ?= $(EXEC_PREFIX)/bin
SBINDIR     ?= $(EXEC_PREFIX)/sbin
LIBDIR      ?= $(EXEC_PREFIX)/lib/$(MULTIARCH)
INCLUDEDIR  ?= $(PREFIX)/include
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
MAN1DIR     ?= $(MANDIR)/man1
MAN8DIR     ?= $(MANDIR)/man8
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
# Outside the prefix on purpose: mount(8) looks only in /sbin for
# mount.TYPE helpers, and libpam only in its own security directory.
MOUNTHELPERDIR ?= /sbin
MULTIARCH   ?= $(shell $(CC) -print-multiarch 2>/dev/null)
PAMDIR      ?= /lib/$(MULTIARCH)/security
SYSTEMDUNITDIR ?= /lib/systemd/system

INSTALL_FILES :=
INSTALL_LINKS :=
# Every other library links this one (common/install.mk builds it).
COMMON_SHLIB := $(O)/lib/libob-common.so.0.1.0

# Files that embed an installed path depend on this file, rewritten only
# when the paths change, so "make PREFIX=/usr" rebuilds just those.
PREFIX_STAMP := $(O)/prefix.stamp
PATHS_NOW := $(PREFIX) $(BINDIR) $(LIBDIR) $(INCLUDEDIR)
$(shell mkdir -p $(O) && echo '$(PATHS_NOW)' | cmp -s - $(PREFIX_STAMP) 2>/dev/null || echo '$(PATHS_NOW)' > $(PREFIX_STAMP))

# $(call shlib,NAME,SOMAJOR,VERSION,OBJECTS,LIBS): $(O)/lib/libNAME.so.VERSION
# with the soname libNAME.so.SOMAJOR, built by "make all" and installed
# with its two links (the soname, and libNAME.so for -lNAME).  Programs
# keep linking the static archives; these are for programs outside.
define shlib
LIBS += $(O)/lib/lib$(1).so.$(3)
$(O)/lib/lib$(1).so.$(3): $(4)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_LDFLAGS) -shared -Wl,-soname,lib$(1).so.$(2) -Wl,-z,defs -o $$@ \
		$(4) -Wl,--as-needed $(5)
INSTALL_FILES += 644:$(O)/lib/lib$(1).so.$(3):$(LIBDIR)/lib$(1).so.$(3)
INSTALL_LINKS += lib$(1).so.$(3):$(LIBDIR)/lib$(1).so.$(2) lib$(1).so.$(2):$(LIBDIR)/lib$(1).so
endef

# $(call pkgconfig,NAME,DESCRIPTION,VERSION,LIBS,REQUIRES): NAME.pc.
define pkgconfig
LIBS += $(O)/pkgconfig/$(1).pc
$(O)/pkgconfig/$(1).pc: $(PREFIX_STAMP)
	@mkdir -p $$(dir $$@)
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' \
		'Name: $(1)' 'Description: $(2)' 'Version: $(3)' 'Requires.private: $(5)' \
		'Cflags: -I$$$${includedir}' 'Libs: -L$$$${libdir} $(4)' > $$@
INSTALL_FILES += 644:$(O)/pkgconfig/$(1).pc:$(PKGCONFIGDIR)/$(1).pc
endef

install: all
	@set -e; for f in $(INSTALL_FILES); do \
		mode=$${f%%:*}; rest=$${f#*:}; src=$${rest%%:*}; dst=$${rest#*:}; \
		echo "install -m $$mode $$src $(DESTDIR)$$dst"; \
		install -D -m $$mode "$$src" "$(DESTDIR)$$dst"; \
	done
	@set -e; for l in $(INSTALL_LINKS); do \
		tgt=$${l%%:*}; dst=$${l#*:}; \
		echo "ln -sfn $$tgt $(DESTDIR)$$dst"; \
		mkdir -p "$$(dirname "$(DESTDIR)$$dst")"; ln -sfn "$$tgt" "$(DESTDIR)$$dst"; \
	done

uninstall:
	@for f in $(INSTALL_FILES); do \
		dst=$${f#*:}; dst=$${dst#*:}; echo "rm -f $(DESTDIR)$$dst"; rm -f "$(DESTDIR)$$dst"; \
	done
	@for l in $(INSTALL_LINKS); do \
		dst=$${l#*:}; echo "rm -f $(DESTDIR)$$dst"; rm -f "$(DESTDIR)$$dst"; \
	done

# The list, one destination a line: for tests and packaging.
install-list:
	@for f in $(INSTALL_FILES); do d=$${f#*:}; echo "$${d#*:}"; done
	@for l in $(INSTALL_LINKS); do echo "$${l#*:}"; done

.PHONY: install uninstall install-list
