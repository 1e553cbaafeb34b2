# Outboard: ecfs, blkd, numamove.  GNU Make, one non-recursive build.
#
#   make             build everything into build/
#   make check       build, then run every test (unit + integration)
#   make SAN=1 check the same with AddressSanitizer + UBSan, into build-san/
#   make check-all   both of the above; ends with one "N passed, N failed" line
#
# Each system describes itself in <system>/module.mk.

.DEFAULT_GOAL := all
include mk/rules.mk
include mk/install.mk

LIBS :=
PROGS :=
UNIT_TESTS :=
DEPS :=

include common/module.mk
include $(filter-out common/module.mk,$(wildcard */module.mk))
# What each system installs (mk/install.mk); a module.mk may say it itself.
include $(filter-out mk/install.mk,$(wildcard */install.mk))

all: $(LIBS) $(PROGS) $(UNIT_TESTS)

check: all
	O=$(O) tests/run-all

check-all:
	$(MAKE) -j2 all
	$(MAKE) -j2 SAN=1 all
	tests/run-all --build build --build build-san

clean:
	rm -rf build build-san

.PHONY: all check check-all clean
-include $(DEPS)
