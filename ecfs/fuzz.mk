# ecfs/fuzz.mk - libFuzzer harnesses for the libecfs parsers: "make fuzz".
#
# Included from ecfs/module.mk.  Not part of "all": the harnesses need clang
# and its libFuzzer runtime (Debian: clang, libclang-rt-14-dev), which a
# plain build machine may lack.  The library and common sources are compiled
# a second time with clang and the fuzzer's coverage instrumentation into
# $(O)/fuzzobj/, with the same include flags and warnings (-Werror) as the
# normal build; harnesses land in $(O)/fuzz/.  ecfs/fuzz/run-fuzzers runs
# them for a bounded time; ecfs/tests/test_fuzz.py replays their corpora.

FUZZ_CC   ?= clang
FUZZ_SAN  := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	     -fno-omit-frame-pointer
FUZZ_O    := $(O)/fuzzobj
FUZZ_LIB_SRCS := $(ECFS_LIB_SRCS) $(COMMON_SRCS)
FUZZ_LIB_OBJS := $(patsubst %.c,$(FUZZ_O)/%.o,$(FUZZ_LIB_SRCS))
FUZZ_SRCS := $(wildcard ecfs/fuzz/fuzz-*.c)
FUZZ_BINS := $(patsubst ecfs/fuzz/%.c,$(O)/fuzz/%,$(FUZZ_SRCS))

# Per-harness link flags.  fuzz-wrapped replaces the 65536-round key
# derivation with a memo (see the harness) through the linker's --wrap.
FUZZ_LDFLAGS_fuzz-wrapped := -Wl,--wrap=ecfs_key_derive

$(FUZZ_O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS_BASE) $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(CFLAGS) \
		$(CFLAGS_$(firstword $(subst /, ,$<))) -MMD -MP -c -o $@ $<

$(O)/fuzz/%: $(FUZZ_O)/ecfs/fuzz/%.o $(FUZZ_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -pthread $(FUZZ_SAN) -fsanitize=fuzzer $(FUZZ_LDFLAGS_$*) \
		-o $@ $^ $(ECFS_CRYPTO_LIBS)

fuzz: $(FUZZ_BINS)

# Objects reached only through the pattern rules: keep them between runs.
.SECONDARY: $(FUZZ_LIB_OBJS) $(patsubst %.c,$(FUZZ_O)/%.o,$(FUZZ_SRCS))

.PHONY: fuzz
DEPS += $(patsubst %.c,$(FUZZ_O)/%.d,$(FUZZ_LIB_SRCS) $(FUZZ_SRCS))
