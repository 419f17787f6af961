# Thin wrapper: the two README commands. Everything real lives in CMake and scripts/.
BUILD ?= build
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)

.PHONY: all setup configure build assets demo test asan-test tsan-test clean

all: build

setup:
	@bash scripts/setup.sh

configure: setup
	@if [ ! -f $(BUILD)/build.ninja ]; then cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS); fi

build: configure
	cmake --build $(BUILD) -j $(JOBS)

demo: build assets
	@bash scripts/demo.sh $(BUILD)

# Models, ONNX Runtime and test images for the end-to-end tests (by package name, not committed).
assets:
	@bash scripts/fetch-assets.sh $(BUILD)/assets

test: build assets
	cd $(BUILD) && FRACTAL_REQUIRE_ASSETS=1 ctest --output-on-failure -j $(JOBS)

# Every test under AddressSanitizer + UndefinedBehaviorSanitizer, in a separate build directory.
# SystemC switches stacks, so ASan's stack-use-after-return check is off; scripts/lsan.supp lists
# the deliberate leaks (a simulation context abandoned after a device fault). Three fault tests are
# left out: they throw after SystemC's coroutines have switched stacks, which ASan cannot follow
# (Debian's libsystemc has no fiber annotations): it warns "ASan is ignoring requested
# __asan_handle_no_return ... False positive error reports may follow" and reports a
# stack-buffer-overflow inside its own sigaltstack interceptor (google/sanitizers#189).
ASAN_SKIP = FaultsFunctional.WatchdogCounts|Faults.EveryBlockFaultingReportsTheLowestCore/timing
asan-test: setup
	@if [ ! -f build-asan/build.ninja ]; then cmake -S . -B build-asan -G Ninja \
	  -DFRACTAL_SANITIZE=address,undefined -DFRACTAL_ENABLE_MLIR=OFF; fi
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_stack_use_after_return=0 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/scripts/lsan.supp \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$(CURDIR)/scripts/ubsan.supp ctest -j $(JOBS) --output-on-failure \
	  -E '$(ASAN_SKIP)'

# The multi-threaded tests under ThreadSanitizer, in a separate build directory: the runtime's
# (threads x streams x models) and the simulator's (the functional engine runs cores on threads).
tsan-test: setup
	@if [ ! -f build-tsan/build.ninja ]; then cmake -S . -B build-tsan -G Ninja \
	  -DFRACTAL_SANITIZE=thread -DFRACTAL_ENABLE_MLIR=OFF; fi
	cmake --build build-tsan -j $(JOBS) --target runtime_tests sim_tests
	cd build-tsan && FRACTAL_SOURCE_DIR=$(CURDIR) TSAN_OPTIONS="halt_on_error=1" ./tests/unit/sim_tests
	cd build-tsan && FRACTAL_SOURCE_DIR=$(CURDIR) TSAN_OPTIONS="halt_on_error=1" ./tests/unit/runtime_tests

clean:
	rm -rf $(BUILD)
