# Shared build rules: every system's module.mk appends to these variables.
#
# O is the output directory: build/ for the normal build, build-san/ for the
# AddressSanitizer + UBSan build (make SAN=1).  Each module.mk declares its
# libraries (LIBS), programs (PROGS) and unit tests (UNIT_TESTS) with the
# helpers below, so the root Makefile stays a list of modules.

CC      ?= cc
PKG     ?= pkg-config
CSTD    := -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64
WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter
OPT     ?= -O2 -g
CFLAGS_BASE := $(CSTD) $(WARN) $(OPT) -fPIC -pthread -Icommon/include

ifeq ($(SAN),1)
O       ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
O       ?= build
SANFLAGS :=
endif

ALL_CFLAGS  = $(CFLAGS_BASE) $(SANFLAGS) $(CFLAGS)
ALL_LDFLAGS = -pthread $(SANFLAGS) $(LDFLAGS)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CFLAGS_$(firstword $(subst /, ,$<))) -MMD -MP -c -o $@ $<

# $(call objs,dir/a.c dir/b.c) -> object paths
objs = $(patsubst %.c,$(O)/%.o,$(1))
deps = $(patsubst %.c,$(O)/%.d,$(1))
