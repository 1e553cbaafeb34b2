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

INSTALL_FILES :=
INSTALL_LINKS :=

# Objects that embed an installed path depend on this file, rewritten only
# when PREFIX/BINDIR change, so "make PREFIX=/usr" rebuilds just those.
PREFIX_STAMP := $(O)/prefix.stamp
$(shell mkdir -p $(O) && echo '$(BINDIR)' | cmp -s - $(PREFIX_STAMP) 2>/dev/null || echo '$(BINDIR)' > $(PREFIX_STAMP))

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
