# SPDX-License-Identifier: MIT
# blkd: libblkd (queue, schedulers, ordered flushes, backends) and the NBD
# server built on it.  See blkd/include/blkd.h and the map in blkd/README.md.
CFLAGS_blkd := -Iblkd/include -Iblkd/lib -Iblkd/server $(shell $(PKG) --cflags libnbd gnutls)
# mpath.c is a libnbd client (Debian libnbd-dev); server/tls.c uses GnuTLS
# (libgnutls28-dev)
BLKD_LDLIBS := $(shell $(PKG) --libs libnbd gnutls)

BLKD_LIB_SRCS := $(wildcard blkd/lib/*.c)
BLKD_LIB := $(O)/lib/libblkd.a
LIBS += $(BLKD_LIB)

$(BLKD_LIB): $(call objs,$(BLKD_LIB_SRCS))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

BLKD_SRV_SRCS := $(wildcard blkd/server/*.c)
BLKD_SRV_LIB := $(O)/lib/libblkd-server.a
BLKD_BIN := $(O)/bin/blkd
PROGS += $(BLKD_BIN)

# main.o alone makes the program; the rest is a library so unit tests can
# link the protocol code.
$(BLKD_SRV_LIB): $(call objs,$(filter-out blkd/server/main.c,$(BLKD_SRV_SRCS)))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BLKD_BIN): $(call objs,blkd/server/main.c) $(BLKD_SRV_LIB) $(BLKD_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(BLKD_LDLIBS)

# bench/blkd-vs-nbdkit's load generator for the TLS rows: a libnbd client,
# built with everything so the benchmark finds it beside blkd.
BLKD_NBDLOAD := $(O)/bench/nbd-load
PROGS += $(BLKD_NBDLOAD)
CFLAGS_bench := $(shell $(PKG) --cflags libnbd)

$(BLKD_NBDLOAD): $(call objs,bench/nbd-load.c) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(shell $(PKG) --libs libnbd)

# Unit tests: blkd/tests/unit/test-<unit>.c, each its own cmocka binary.
BLKD_UNIT_SRCS := $(wildcard blkd/tests/unit/test-*.c)
BLKD_UNIT_BINS := $(patsubst blkd/tests/unit/%.c,$(O)/tests/blkd/%,$(BLKD_UNIT_SRCS))
UNIT_TESTS += $(BLKD_UNIT_BINS)

$(O)/tests/blkd/%: $(O)/blkd/tests/unit/%.o $(BLKD_SRV_LIB) $(BLKD_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(shell $(PKG) --libs cmocka) $(BLKD_LDLIBS)

DEPS += $(call deps,$(BLKD_LIB_SRCS) $(BLKD_SRV_SRCS) $(BLKD_UNIT_SRCS) bench/nbd-load.c)
