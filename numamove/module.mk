# SPDX-License-Identifier: MIT
# numamove: libnumamove (move a process's memory between NUMA nodes and say
# what stayed), the numamove tool, unit tests and the guest helper.
CFLAGS_numamove := -Inumamove/include -Inumamove/lib

NUMAMOVE_LIB_SRCS := $(wildcard numamove/lib/*.c)
NUMAMOVE_LIB := $(O)/lib/libnumamove.a
LIBS += $(NUMAMOVE_LIB)

$(NUMAMOVE_LIB): $(call objs,$(NUMAMOVE_LIB_SRCS))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

NUMAMOVE_CLI_SRCS := $(wildcard numamove/cli/*.c)
NUMAMOVE_BIN := $(O)/bin/numamove
PROGS += $(NUMAMOVE_BIN)

$(NUMAMOVE_BIN): $(call objs,$(NUMAMOVE_CLI_SRCS)) $(NUMAMOVE_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^

# Unit tests: numamove/tests/unit/test-<unit>.c, each its own cmocka binary.
NUMAMOVE_UNIT_SRCS := $(wildcard numamove/tests/unit/test-*.c)
NUMAMOVE_UNIT_BINS := $(patsubst numamove/tests/unit/%.c,$(O)/tests/numamove/%,$(NUMAMOVE_UNIT_SRCS))
UNIT_TESTS += $(NUMAMOVE_UNIT_BINS)

$(O)/tests/numamove/test-%: $(O)/numamove/tests/unit/test-%.o $(NUMAMOVE_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(shell $(PKG) --libs cmocka)

# Guest helpers: a target process with the page kinds the tests need
# (nm-target) and the stall-measuring benchmark target.  Not named test-*,
# so tests/run-all does not run them as unit tests.
NUMAMOVE_HELPER_SRCS := $(wildcard numamove/tests/helpers/*.c)
NUMAMOVE_HELPERS := $(patsubst numamove/tests/helpers/%.c,$(O)/tests/numamove/%,$(NUMAMOVE_HELPER_SRCS))
UNIT_TESTS += $(NUMAMOVE_HELPERS)

# Built without sanitizers even with SAN=1: it stands for an ordinary
# process, and an AddressSanitizer shadow (terabytes of mapping) is not one.
$(O)/numamove/tests/helpers/%.o: numamove/tests/helpers/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -MMD -MP -c -o $@ $<

$(O)/tests/numamove/nm-%: $(O)/numamove/tests/helpers/nm-%.o
	@mkdir -p $(dir $@)
	$(CC) -pthread $(LDFLAGS) -o $@ $^

numamove: $(NUMAMOVE_LIB) $(NUMAMOVE_BIN) $(NUMAMOVE_UNIT_BINS) $(NUMAMOVE_HELPERS)
.PHONY: numamove

DEPS += $(call deps,$(NUMAMOVE_LIB_SRCS) $(NUMAMOVE_CLI_SRCS) $(NUMAMOVE_UNIT_SRCS) $(NUMAMOVE_HELPER_SRCS))
