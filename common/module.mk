# common: error reasons, option parsing, power state, secure memory and the syscall table, linked into every system.
COMMON_SRCS := common/lib/err.c common/lib/opt.c common/lib/power.c common/lib/secmem.c common/lib/sys.c
COMMON_LIB  := $(O)/lib/libob-common.a
LIBS  += $(COMMON_LIB)
DEPS  += $(call deps,$(COMMON_SRCS) common/tests/test-err.c common/tests/test-opt.c \
		common/tests/test-power.c)

$(COMMON_LIB): $(call objs,$(COMMON_SRCS))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

UNIT_TESTS += $(O)/tests/common/test-err
$(O)/tests/common/test-err: $(call objs,common/tests/test-err.c) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(shell $(PKG) --libs cmocka)

UNIT_TESTS += $(O)/tests/common/test-opt
$(O)/tests/common/test-opt: $(call objs,common/tests/test-opt.c) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(shell $(PKG) --libs cmocka)

UNIT_TESTS += $(O)/tests/common/test-power
$(O)/tests/common/test-power: $(call objs,common/tests/test-power.c) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(shell $(PKG) --libs cmocka)
