# BlindTuner — one plain Makefile.
#
#   make              build the library and every program (bt_bench, tools/bt_*, bt_train)
#   make test         build and run the doctest suite (./bt_tests), real-size cases included
#   make test-quick   the suite without the real-size (*-slow) cases: minutes, under 2 GiB
#   make bench        run the benchmarks (./bt_bench all)
#   make cross        aarch64 cross build of the tests into build-aarch64/ (portable path only)
#   make clean
#
# Overridable: CXX, CXXFLAGS (optimisation/debug), LDFLAGS, PREFIX, BUILD, BIN.
# No host-tuned -march flag, ever: files named *_avx2.cpp / *_avx512.cpp get their own flags and
# the code picks a path at run time (src/math/cpu.cpp). On non-x86 targets those files
# are left out and only the portable path is built.

CXX      ?= g++
CXXFLAGS ?= -O2 -g
LDFLAGS  ?=
PREFIX   ?= /usr/local
BUILD    ?= build
BIN      ?= .

WARN     := -Wall -Wextra -Wshadow -Wconversion -Wsign-conversion -Wno-psabi
# -ffp-contract=off: no a·b + c fused into one multiply-add behind our back (GCC does it by
# default for C++ on aarch64 and in x86 files built with -mfma). The server's floating point
# must round the same way on every target and SIMD path (see include/bt/detmath.hpp).
FP_FLAGS := -ffp-contract=off
BT_FLAGS := -std=c++17 -pthread -Iinclude -isystem third_party $(WARN) $(FP_FLAGS) -MMD -MP
LIBS     := -pthread

TARGET   := $(shell $(CXX) -dumpmachine 2>/dev/null)
ifneq (,$(findstring x86_64,$(TARGET)))
  X86 := 1
endif

AVX2_FLAGS   := -mavx2 -mbmi2 -mfma
AVX512_FLAGS := -mavx2 -mbmi2 -mfma -mavx512f -mavx512dq -mavx512vl -mavx512bw -mavx512ifma

# ---------------------------------------------------------------- sources
SIMD_PAT    := %_avx2.cpp %_avx512.cpp
ALL_LIB     := $(shell find src -name '*.cpp' -not -path 'src/cli/*' | sort)
LIB_SRCS    := $(filter-out $(SIMD_PAT),$(ALL_LIB))
ifdef X86
  LIB_SRCS  += $(filter %_avx2.cpp %_avx512.cpp,$(ALL_LIB))
  SIMD_BUILT := scalar avx2 avx512 avx512ifma
else
  SIMD_BUILT := scalar
endif
LIB_OBJS    := $(LIB_SRCS:%.cpp=$(BUILD)/%.o)
LIBBT       := $(BUILD)/libbt.a

TEST_SRCS   := $(shell find tests -name '*.cpp' | sort)
TEST_OBJS   := $(TEST_SRCS:%.cpp=$(BUILD)/%.o)

CLI_SRCS    := $(shell find src/cli -name '*.cpp' 2>/dev/null | sort)
CLI_OBJS    := $(CLI_SRCS:%.cpp=$(BUILD)/%.o)

# Every folder tools/bt_NAME/ holding .cpp files is one program ./bt_NAME.
TOOL_DIRS   := $(sort $(patsubst %/,%,$(dir $(shell find tools -name '*.cpp' -path 'tools/bt_*/*'))))
TOOL_NAMES  := $(notdir $(TOOL_DIRS))
TOOL_BINS   := $(TOOL_NAMES:%=$(BIN)/%)

PROGRAMS    := $(TOOL_BINS)
ifneq (,$(CLI_SRCS))
  PROGRAMS  += $(BIN)/bt_train
endif

.PHONY: all test test-quick bench cross clean install info fuzz simd-symbol-check
all: info $(PROGRAMS)

info:
	@echo "BlindTuner: target $(TARGET); SIMD paths built: $(SIMD_BUILT)"

# ---------------------------------------------------------------- compile rules
$(BUILD)/%_avx2.o: %_avx2.cpp
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) $(BT_FLAGS) $(AVX2_FLAGS) -c $< -o $@

$(BUILD)/%_avx512.o: %_avx512.cpp
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) $(BT_FLAGS) $(AVX512_FLAGS) -c $< -o $@

$(BUILD)/%.o: %.cpp
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) $(BT_FLAGS) -c $< -o $@

$(LIBBT): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# ---------------------------------------------------------------- programs
define tool_rule
$(BIN)/$(1): $(patsubst %.cpp,$(BUILD)/%.o,$(shell find tools/$(1) -name '*.cpp' | sort)) $(LIBBT)
	$$(CXX) $$(CXXFLAGS) $$^ -o $$@ $$(LDFLAGS) $$(LIBS)
endef
$(foreach t,$(TOOL_NAMES),$(eval $(call tool_rule,$(t))))

$(BIN)/bt_train: $(CLI_OBJS) $(LIBBT)
	$(CXX) $(CXXFLAGS) $^ -o $@ $(LDFLAGS) $(LIBS)

$(BIN)/bt_tests: $(TEST_OBJS) $(LIBBT)
	$(CXX) $(CXXFLAGS) $^ -o $@ $(LDFLAGS) $(LIBS)

# SIMD objects must not define weak (COMDAT) symbols: an inline function or template
# instantiated there is compiled with AVX-512 flags, and the linker may keep that copy
# for scalar callers too, which would then fault on CPUs without AVX-512. Nor may they
# have static initializers (a namespace-scope vector constant runs its AVX-512
# initializer at program start, on every CPU).
SIMD_OBJS = $(filter %_avx2.o %_avx512.o,$(LIB_OBJS))
simd-symbol-check: $(SIMD_OBJS)
	@bad=$$(for o in $(SIMD_OBJS); do nm $$o | awk -v o=$$o '$$2 ~ /^[WVu]$$/ || $$3 ~ /^_GLOBAL__sub_I/ {print o": "$$0}'; done); \
	if [ -n "$$bad" ]; then echo "weak symbols or static initializers in SIMD objects (make them local):"; echo "$$bad"; exit 1; fi

test: info $(BIN)/bt_tests $(BIN)/bt_train $(TOOL_BINS) simd-symbol-check
	$(BIN)/bt_tests

test-quick: info $(BIN)/bt_tests $(BIN)/bt_train $(TOOL_BINS) simd-symbol-check
	$(BIN)/bt_tests -tse='*-slow'

bench: $(BIN)/bt_bench
	$(BIN)/bt_bench all

# aarch64 cross build of the test binary: portable scalar path only.
cross:
	$(MAKE) CXX=aarch64-linux-gnu-g++ BUILD=build-aarch64 BIN=build-aarch64 build-aarch64/bt_tests

# libFuzzer targets for the loaders (clang, AddressSanitizer): ./build-fuzz/fuzz_ckks_load
# runs until stopped; FUZZ_SECONDS bounds the smoke run this target does.
FUZZ_SECONDS ?= 60
fuzz:
	$(MAKE) CXX=clang++ BUILD=build-fuzz BIN=build-fuzz CXXFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address" build-fuzz/libbt.a
	clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address -Iinclude tools/fuzz/fuzz_ckks_load.cpp build-fuzz/libbt.a -o build-fuzz/fuzz_ckks_load -pthread
	mkdir -p build-fuzz/corpus && cp tests/ckks/golden/*.bthe build-fuzz/corpus/
	./build-fuzz/fuzz_ckks_load -max_total_time=$(FUZZ_SECONDS) -max_len=70000 build-fuzz/corpus

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf $(BUILD) build-aarch64 build-fuzz build-tsan $(BIN)/bt_tests $(PROGRAMS)

-include $(LIB_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(shell find $(BUILD) -name '*.d' 2>/dev/null)
