# mmpager: libmmpager (userfaultfd demand paging with split page-table
# locks), libumap (UMap's C API over it), the mmpager tool, unit tests and
# the UMap-API test programs.
CFLAGS_mmpager := -Immpager/include -Immpager/lib $(shell $(PKG) --cflags libnbd)
# store-nbd.c is a libnbd client (Debian libnbd-dev)
MMPAGER_LDLIBS := $(shell $(PKG) --libs libnbd)

MMPAGER_LIB_SRCS := $(wildcard mmpager/lib/*.c)
MMPAGER_LIB := $(O)/lib/libmmpager.a
LIBS += $(MMPAGER_LIB)

$(MMPAGER_LIB): $(call objs,$(MMPAGER_LIB_SRCS))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# libumap carries everything a UMap program needs, so "-lumap" alone links;
# UMap's API has no way to name an NBD export, so it leaves libnbd out.
UMAP_SRCS := $(wildcard mmpager/libumap/*.c)
UMAP_LIB_SRCS := $(filter-out mmpager/lib/store-nbd.c,$(MMPAGER_LIB_SRCS))
UMAP_LIB := $(O)/lib/libumap.a
LIBS += $(UMAP_LIB)

$(UMAP_LIB): $(call objs,$(UMAP_SRCS) $(UMAP_LIB_SRCS) $(COMMON_SRCS))
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# The shared libraries themselves (libmmpager.so.0, libumap.so.0) are made
# by mmpager/install.mk; these links in $(O)/lib let unchanged UMap
# programs built elsewhere (the benchmark) say "-L$(O)/lib -lumap".
UMAP_SO := $(O)/lib/libumap.so
LIBS += $(UMAP_SO)
$(UMAP_SO): $(O)/lib/libumap.so.0.1.0
	ln -sfn libumap.so.0.1.0 $(O)/lib/libumap.so.0
	ln -sfn libumap.so.0 $@

MMPAGER_CLI_SRCS := $(wildcard mmpager/cli/*.c) mmpager/bench/workloads.c
MMPAGER_BIN := $(O)/bin/mmpager
PROGS += $(MMPAGER_BIN)

$(MMPAGER_BIN): $(call objs,$(MMPAGER_CLI_SRCS)) $(MMPAGER_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(MMPAGER_LDLIBS)

# Unit tests: mmpager/tests/unit/test-<unit>.c, each its own cmocka binary.
MMPAGER_UNIT_SRCS := $(wildcard mmpager/tests/unit/test-*.c)
MMPAGER_UNIT_BINS := $(patsubst mmpager/tests/unit/%.c,$(O)/tests/mmpager/%,$(MMPAGER_UNIT_SRCS))
UNIT_TESTS += $(MMPAGER_UNIT_BINS)

$(O)/tests/mmpager/test-%: $(O)/mmpager/tests/unit/test-%.o $(MMPAGER_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(shell $(PKG) --libs cmocka) $(MMPAGER_LDLIBS)

# UMap-API programs of this project's own (um-*.c), driven by pytest; not
# named test-*, so tests/run-all does not run them as unit tests.
MMPAGER_HELPER_SRCS := $(wildcard mmpager/tests/helpers/um-*.c)
MMPAGER_HELPERS := $(patsubst mmpager/tests/helpers/%.c,$(O)/tests/mmpager/%,$(MMPAGER_HELPER_SRCS))
UNIT_TESTS += $(MMPAGER_HELPERS)

$(O)/tests/mmpager/um-%: $(O)/mmpager/tests/helpers/um-%.o $(UMAP_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^

# Native-API programs (mp-*.c), driven by pytest: the NBD store under a
# model, the uffd-handing client of "mmpager serve".
MMPAGER_MP_SRCS := $(wildcard mmpager/tests/helpers/mp-*.c)
MMPAGER_MP := $(patsubst mmpager/tests/helpers/%.c,$(O)/tests/mmpager/%,$(MMPAGER_MP_SRCS))
UNIT_TESTS += $(MMPAGER_MP)

$(O)/tests/mmpager/mp-%: $(O)/mmpager/tests/helpers/mp-%.o $(MMPAGER_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(MMPAGER_LDLIBS)

# The benchmark's UMap-API program, linked with our libumap here; the
# benchmark script also builds it against UMap's own library.
MMPAGER_UMBENCH := $(O)/tests/mmpager/um-bench
UNIT_TESTS += $(MMPAGER_UMBENCH)
$(O)/mmpager/bench/um-bench.o: CFLAGS_mmpager += -Immpager/bench
$(MMPAGER_UMBENCH): $(call objs,mmpager/bench/um-bench.c mmpager/bench/workloads.c) $(UMAP_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^

mmpager: $(MMPAGER_UMBENCH) $(MMPAGER_LIB) $(UMAP_LIB) $(UMAP_SO) $(MMPAGER_BIN) $(MMPAGER_UNIT_BINS) $(MMPAGER_HELPERS) $(MMPAGER_MP)
.PHONY: mmpager

DEPS += $(call deps,$(MMPAGER_LIB_SRCS) $(UMAP_SRCS) $(MMPAGER_CLI_SRCS) mmpager/bench/um-bench.c $(MMPAGER_UNIT_SRCS) $(MMPAGER_HELPER_SRCS) $(MMPAGER_MP_SRCS))
