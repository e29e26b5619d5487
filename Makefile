# BlindTuner — one plain Makefile.
#
#   make              build the library, every program (bt_bench, tools/bt_*, bt_train) and the
#                     examples of the library (tools/examples/*.cpp -> $(BUILD)/examples/)
#   make test         build and run the doctest suite (./bt_tests), real-size cases included
#   make test-quick   the suite without the real-size (*-slow) cases: minutes, under 2 GiB
#   make test-mpi     the data-parallel server (build-mpi/, needs Open MPI's mpicxx and mpirun): the
#                     mpi suite under mpirun -np 2 and -np 3, then tests/mpi_cli.sh (kill, resume)
#   make bench        run the benchmarks (./bt_bench all)
#   make static       fully static bt_train and bt_bench for this machine into $(BUILD)/static/
#   make cross        fully static bt_train, bt_bench and bt_tests for CROSS (a GNU triplet,
#                     default aarch64-linux-gnu; compiler CROSS-g++) into build-<arch>/,
#                     portable path only
#   make install      programs, headers, libbt.a, blindtuner.pc, the model, the examples'
#                     sources and LICENSE under $(DESTDIR)$(PREFIX); make uninstall removes them
#   make clean
#
# Overridable: CXX, CXXFLAGS (optimisation/debug), LDFLAGS, PREFIX, DESTDIR, BUILD, BIN, CROSS.
# No host-tuned -march flag, ever: files named *_avx2.cpp / *_avx512.cpp get their own flags and
# the code picks a path at run time (src/math/cpu.cpp). On non-x86 targets those files
# are left out and only the portable path is built.

CXX      ?= g++
CXXFLAGS ?= -O2 -g
LDFLAGS  ?=
PREFIX   ?= /usr/local
DESTDIR  ?=
# MPI=1 adds the data-parallel server: build-mpi/bt_train and build-mpi/bt_tests, linked
# by mpicxx (Open MPI's or MPICH's) for `mpirun -np R build-mpi/bt_train train|infer`.
# Every MPI call is in src/dist/comm.cpp, the one file compiled differently (mpicxx
# -DBT_MPI, into build-mpi/); every other object is the default build's, which keeps its
# zero dependencies and runs as one rank.
MPICXX   ?= mpicxx
MPI_DIR  := build-mpi
BUILD    ?= build
BIN      ?= .
CROSS    ?= aarch64-linux-gnu

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

# Each tools/examples/NAME.cpp is one example program of the library, $(BUILD)/examples/NAME
# (the examples suite of bt_tests runs them).
EXAMPLE_SRCS := $(sort $(wildcard tools/examples/*.cpp))
EXAMPLE_BINS := $(EXAMPLE_SRCS:tools/examples/%.cpp=$(BUILD)/examples/%)
.SECONDARY: $(EXAMPLE_SRCS:%.cpp=$(BUILD)/%.o)

.PHONY: all test test-mpi test-quick bench static cross clean install uninstall info fuzz sanitize simd-symbol-check ct-check FORCE
all: info $(PROGRAMS) $(EXAMPLE_BINS) $(if $(filter 1,$(MPI)),$(MPI_DIR)/bt_train $(MPI_DIR)/bt_tests)

info:
	@echo "BlindTuner: target $(TARGET); SIMD paths built: $(SIMD_BUILT); floating point: $(FP_FLAGS)"

# ---------------------------------------------------------------- compile rules
# The compiler and flags of this build directory, rewritten only when they change, so that
# changing CXX or CXXFLAGS rebuilds every object instead of mixing old and new ones.
FLAGS_STAMP := $(BUILD)/compile-flags.txt
COMPILE_ID  := $(CXX) $(CXXFLAGS) $(BT_FLAGS) | avx2: $(AVX2_FLAGS) | avx512: $(AVX512_FLAGS)
$(FLAGS_STAMP): FORCE
	@mkdir -p $(@D)
	@if [ "$$(cat $@ 2>/dev/null)" != '$(COMPILE_ID)' ]; then \
	  [ ! -f $@ ] || echo "compiler or flags changed: rebuilding every object in $(BUILD)"; \
	  echo '$(COMPILE_ID)' > $@; fi

$(BUILD)/%_avx2.o: %_avx2.cpp $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) $(BT_FLAGS) $(AVX2_FLAGS) -c $< -o $@

$(BUILD)/%_avx512.o: %_avx512.cpp $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) $(BT_FLAGS) $(AVX512_FLAGS) -c $< -o $@

$(BUILD)/%.o: %.cpp $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) $(BT_FLAGS) -c $< -o $@

# The examples suite finds the example programs of this build directory.
$(BUILD)/tests/examples/%.o: BT_FLAGS += -DBT_EXAMPLES_DIR='"$(BUILD)/examples"'

$(LIBBT): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# ---------------------------------------------------------------- programs
define tool_rule
$(BIN)/$(1): $(patsubst %.cpp,$(BUILD)/%.o,$(shell find tools/$(1) -name '*.cpp' | sort)) $(LIBBT)
	@mkdir -p $$(@D)
	$$(CXX) $$(CXXFLAGS) $$^ -o $$@ $$(LDFLAGS) $$(LIBS)
endef
$(foreach t,$(TOOL_NAMES),$(eval $(call tool_rule,$(t))))

$(BIN)/bt_train: $(CLI_OBJS) $(LIBBT)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) $^ -o $@ $(LDFLAGS) $(LIBS)

$(BIN)/bt_tests: $(TEST_OBJS) $(LIBBT)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) $^ -o $@ $(LDFLAGS) $(LIBS)

$(BUILD)/examples/%: $(BUILD)/tools/examples/%.o $(LIBBT)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) $^ -o $@ $(LDFLAGS) $(LIBS)

# The MPI programs: the MPI communication object first, so that the linker never takes the
# one-process src/dist/comm.o from libbt.a (both define the same symbols).
$(MPI_DIR)/src/dist/comm.o: src/dist/comm.cpp $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(MPICXX) $(CXXFLAGS) $(BT_FLAGS) -DBT_MPI -c $< -o $@
$(MPI_DIR)/bt_train: $(MPI_DIR)/src/dist/comm.o $(CLI_OBJS) $(LIBBT)
	$(MPICXX) $(CXXFLAGS) $^ -o $@ $(LDFLAGS) $(LIBS)
$(MPI_DIR)/bt_tests: $(MPI_DIR)/src/dist/comm.o $(TEST_OBJS) $(LIBBT)
	$(MPICXX) $(CXXFLAGS) $^ -o $@ $(LDFLAGS) $(LIBS)

# SIMD objects must not define weak (COMDAT) symbols: an inline function or template
# instantiated there is compiled with AVX-512 flags, and the linker may keep that copy
# for scalar callers too, which would then fault on CPUs without AVX-512. Nor may they
# have static initializers (a namespace-scope vector constant runs its AVX-512
# initializer at program start, on every CPU).
SIMD_OBJS = $(filter %_avx2.o %_avx512.o,$(LIB_OBJS))
simd-symbol-check: $(SIMD_OBJS)
	@bad=$$(for o in $(SIMD_OBJS); do nm $$o | awk -v o=$$o '$$2 ~ /^[WVu]$$/ || $$3 ~ /^_GLOBAL__sub_I/ {print o": "$$0}'; done); \
	if [ -n "$$bad" ]; then echo "weak symbols or static initializers in SIMD objects (make them local):"; echo "$$bad"; exit 1; fi

test: info $(BIN)/bt_tests $(BIN)/bt_train $(TOOL_BINS) $(EXAMPLE_BINS) simd-symbol-check
	$(BIN)/bt_tests

test-quick: info $(BIN)/bt_tests $(BIN)/bt_train $(TOOL_BINS) $(EXAMPLE_BINS) simd-symbol-check
	$(BIN)/bt_tests -tse='*-slow'

# MPI test cases under mpirun with 2 and 3 ranks (one thread each), then the command line
# under mpirun (tests/mpi_cli.sh): kill a rank mid-step, resume with another rank count,
# the same head.bin. One closing line over all runs. Running as root (CI containers) needs
# OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 in the environment.
MPIRUN       ?= mpirun
MPIRUN_FLAGS ?= --oversubscribe --bind-to none
MPI_TIMEOUT  ?= 900   # seconds per mpirun: a rank that fails alone must not hang CI
test-mpi: info $(MPI_DIR)/bt_tests $(MPI_DIR)/bt_train
	@log=$(MPI_DIR)/test-mpi.log; : > $$log; \
	for np in 2 3; do \
	  echo "== $(MPIRUN) -np $$np $(MPI_DIR)/bt_tests -ts=mpi"; \
	  BT_THREADS=1 timeout -k 10 $(MPI_TIMEOUT) $(MPIRUN) $(MPIRUN_FLAGS) -np $$np $(MPI_DIR)/bt_tests -ts=mpi --no-colors=true 2>&1 | sed 's/^tests:/mpi run: tests:/' | tee -a $$log; \
	done; \
	echo "== tests/mpi_cli.sh"; \
	MPIRUN="timeout -k 10 $(MPI_TIMEOUT) $(MPIRUN) $(MPIRUN_FLAGS)" BT_TRAIN=$(MPI_DIR)/bt_train sh tests/mpi_cli.sh 2>&1 | sed 's/^tests:/mpi run: tests:/' | tee -a $$log; \
	p=$$(grep -E '^mpi run: tests: [0-9]+ passed' $$log | awk '{s+=$$4} END {print s+0}'); \
	f=$$(grep -E '^mpi run: tests: [0-9]+ passed' $$log | awk '{s+=$$6} END {print s+0}'); \
	n=$$(grep -cE '^mpi run: tests: [0-9]+ passed' $$log); [ "$$n" -eq 3 ] || f=$$((f + 3 - n)); \
	echo "tests: $$p passed, $$f failed"; [ "$$f" -eq 0 ]

bench: $(BIN)/bt_bench
	$(BIN)/bt_bench all

# ---------------------------------------------------------------- static and cross builds
# Fully static programs (glibc and libstdc++ linked in): a bare server needs only the
# binary and its bundle. `file` shows "statically linked"; --version shows target and paths.
STATIC_DIR := $(BUILD)/static
CROSS_ARCH := $(firstword $(subst -, ,$(CROSS)))
CROSS_DIR  := build-$(CROSS_ARCH)
SHOW_BUILT  = for f in $(1); do \
	  printf '%s: %s bytes; ' $$f $$(wc -c < $$f); \
	  if command -v file >/dev/null; then file -b $$f | cut -d, -f1,2,4; else echo; fi; done

# This machine's target, from the objects of $(BUILD) (only the link differs).
static:
	$(MAKE) BIN=$(STATIC_DIR) LDFLAGS="$(LDFLAGS) -static" $(STATIC_DIR)/bt_train $(STATIC_DIR)/bt_bench
	@echo "static build for $(TARGET):"; $(call SHOW_BUILT,$(STATIC_DIR)/bt_train $(STATIC_DIR)/bt_bench)

# Another target: the portable scalar path only (no *_avx*.cpp), tests included.
cross:
	$(MAKE) CXX=$(CROSS)-g++ BUILD=$(CROSS_DIR) BIN=$(CROSS_DIR) LDFLAGS="$(LDFLAGS) -static" \
	  $(CROSS_DIR)/bt_train $(CROSS_DIR)/bt_bench $(CROSS_DIR)/bt_tests
	@echo "cross build for $(CROSS):"; $(call SHOW_BUILT,$(CROSS_DIR)/bt_train $(CROSS_DIR)/bt_bench $(CROSS_DIR)/bt_tests)

# ---------------------------------------------------------------- sanitizers and fuzzing
# One clang build, build-san/, shared by the sanitizer pass of the tests and the fuzz
# targets: AddressSanitizer (LeakSanitizer on), UndefinedBehaviorSanitizer with
# float-cast-overflow, every finding fatal, and libFuzzer's coverage instrumentation.
SAN_FLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined,float-cast-overflow \
               -fno-sanitize-recover=all
SAN_MAKE     = $(MAKE) CXX=clang++ BUILD=build-san BIN=build-san CXXFLAGS="$(SAN_FLAGS) -fsanitize=fuzzer-no-link"
SAN_ENV     := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
SAN_TESTS   ?= -tse='*-slow'
# SAN_QUICK=1 (CI): without the app-level flows whose time under the sanitizers goes to key
# generation and training arithmetic the ckks and train suites already run there (about 3
# minutes on 2 cores instead of 20; the loaders, refusals and crafted files stay in).
SAN_CI_SKIP := roles:*,mpi: every rank count*,run: peak memory*,cli: every refusal*,cli: --plan*,run: --stream*,run: --prefer speed*,run: small ring*,run: bad input*,run: a run whose*,data formats: a features file of d = 768*
ifeq ($(SAN_QUICK),1)
SAN_TESTS   += -tce='$(SAN_CI_SKIP)'
endif

# The fast suites under the sanitizers (the app tests run build-san/bt_train too).
sanitize:
	$(SAN_MAKE) build-san/bt_tests build-san/bt_train $(EXAMPLE_SRCS:tools/examples/%.cpp=build-san/examples/%)
	$(SAN_ENV) BT_TEST_BIN_DIR=build-san build-san/bt_tests $(SAN_TESTS)

# libFuzzer targets for the loaders: every tools/fuzz/fuzz_NAME.cpp becomes
# build-san/fuzz_NAME (runs until stopped when started by hand) and runs here for
# FUZZ_SECONDS, or FUZZ_RUNS executions if set, from the seeds of tools/fuzz/make_seeds.cpp
# and tools/fuzz/seed_corpus.sh; the corpus grows in build-san/corpus-NAME.
FUZZ_SECONDS ?= 60
FUZZ_RUNS    ?=
FUZZ_LIMIT    = $(if $(FUZZ_RUNS),-runs=$(FUZZ_RUNS),-max_total_time=$(FUZZ_SECONDS))
FUZZ_TARGETS := $(patsubst tools/fuzz/%.cpp,%,$(sort $(wildcard tools/fuzz/fuzz_*.cpp)))
$(BIN)/make_seeds: $(BUILD)/tools/fuzz/make_seeds.o $(LIBBT)
	$(CXX) $(CXXFLAGS) $^ -o $@ $(LDFLAGS) $(LIBS)
build-san/fuzz_%: tools/fuzz/fuzz_%.cpp tools/fuzz/fuzz_common.hpp build-san/libbt.a
	clang++ -std=c++17 $(SAN_FLAGS) -fsanitize=fuzzer -Iinclude $< build-san/libbt.a -o $@ -pthread
fuzz:
	$(SAN_MAKE) build-san/libbt.a build-san/make_seeds
	$(MAKE) $(FUZZ_TARGETS:%=build-san/%)
	build-san/make_seeds build-san/seeds
	@for t in $(FUZZ_TARGETS); do \
	  echo "== $$t"; \
	  sh tools/fuzz/seed_corpus.sh $$t build-san/corpus-$$t build-san/seeds || exit 1; \
	  $(SAN_ENV) ./build-san/$$t $(FUZZ_LIMIT) -max_len=70000 -rss_limit_mb=4096 -print_final_stats=1 \
	    build-san/corpus-$$t 2>build-san/$$t.log || { tail -60 build-san/$$t.log; exit 1; }; \
	  grep -E '^#[0-9]+.*DONE|stat::number_of_executed_units|cov:' build-san/$$t.log | tail -2; \
	done
	@echo "tests: $(words $(FUZZ_TARGETS)) passed, 0 failed"

# Constant-time check (Langley's ctgrind): the CKKS engine built with -DBT_CTGRIND, whose
# secrets are marked undefined for valgrind's memcheck; any branch or index on a secret is
# an error (tools/ct_check/ct_check.cpp). Needs valgrind (Debian: valgrind).
CT_OBJS = $(filter $(BUILD)/src/math/% $(BUILD)/src/ckks/%,$(LIB_OBJS))
$(BIN)/ct_check: $(BUILD)/tools/ct_check/ct_check.o $(CT_OBJS)
	$(CXX) $(CXXFLAGS) $^ -o $@ $(LDFLAGS) $(LIBS)

ct-check:
	$(MAKE) BUILD=build-ct BIN=build-ct CXXFLAGS="$(CXXFLAGS) -DBT_CTGRIND" build-ct/ct_check
	@echo "ct-check: the canary (a branch on a marked secret) must be reported:"
	@valgrind -q --error-exitcode=3 build-ct/ct_check --canary >/dev/null 2>&1; test $$? -eq 3 && echo "ct-check: canary reported"
	BT_SIMD=scalar valgrind -q --error-exitcode=3 build-ct/ct_check
	BT_SIMD=avx2 valgrind -q --error-exitcode=3 build-ct/ct_check
	@echo "tests: 3 passed, 0 failed"

# ---------------------------------------------------------------- install
# PREFIX/bin            bt_train, bt_bench, bt_pretrain
# PREFIX/include/bt/    the public headers;  PREFIX/lib/libbt.a;  PREFIX/lib/pkgconfig/blindtuner.pc
# PREFIX/share/blindtuner/       the shipped model (bt_train finds it at ../share/blindtuner/
#                                from its own directory, so a relocated install works too)
# PREFIX/share/doc/blindtuner/   LICENSE, README.md, examples/*.cpp
VERSION   := $(shell sed -n 's/.*kVersion = "\(.*\)";.*/\1/p' include/bt/version.hpp)
HEADERS   := $(shell find include/bt -name '*.hpp' | sort)
MODEL     := $(wildcard models/*.safetensors) models/README.md
ROOT      := $(DESTDIR)$(PREFIX)
DOC_DIR   := $(ROOT)/share/doc/blindtuner

install: all
	install -d $(ROOT)/bin $(ROOT)/lib/pkgconfig $(ROOT)/share/blindtuner $(DOC_DIR)/examples
	install -m 755 $(PROGRAMS) $(ROOT)/bin/
	for h in $(HEADERS); do install -D -m 644 $$h $(ROOT)/$$h || exit 1; done
	install -m 644 $(LIBBT) $(ROOT)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' blindtuner.pc.in > $(ROOT)/lib/pkgconfig/blindtuner.pc
	install -m 644 $(MODEL) $(ROOT)/share/blindtuner/
	install -m 644 LICENSE README.md $(DOC_DIR)/
	install -m 644 $(EXAMPLE_SRCS) $(DOC_DIR)/examples/
	@echo "installed BlindTuner $(VERSION) under $(ROOT): bin/, include/bt/, lib/libbt.a, lib/pkgconfig/blindtuner.pc, share/blindtuner/, share/doc/blindtuner/"

# Removes exactly what install put there, then the directories that only held it.
uninstall:
	rm -f $(addprefix $(ROOT)/bin/,$(notdir $(PROGRAMS))) $(addprefix $(ROOT)/,$(HEADERS))
	rm -f $(ROOT)/lib/libbt.a $(ROOT)/lib/pkgconfig/blindtuner.pc
	rm -f $(addprefix $(ROOT)/share/blindtuner/,$(notdir $(MODEL)))
	rm -f $(DOC_DIR)/LICENSE $(DOC_DIR)/README.md $(addprefix $(DOC_DIR)/examples/,$(notdir $(EXAMPLE_SRCS)))
	for d in $(sort $(dir $(HEADERS))) include/bt/; do rmdir $(ROOT)/$$d 2>/dev/null || true; done
	rmdir $(ROOT)/share/blindtuner $(DOC_DIR)/examples $(DOC_DIR) 2>/dev/null || true
	@echo "uninstalled BlindTuner from $(ROOT)"

clean:
	rm -rf $(BUILD) $(CROSS_DIR) build-aarch64 build-fuzz build-san build-tsan build-ct build-asan $(MPI_DIR) $(BIN)/bt_tests $(PROGRAMS)

-include $(LIB_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(shell find $(BUILD) -name '*.d' 2>/dev/null) $(MPI_DIR)/src/dist/comm.d
