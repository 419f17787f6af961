# Thin wrapper: the two README commands. Everything real lives in CMake and scripts/.
BUILD ?= build
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)

.PHONY: all setup configure build demo test tsan-test clean

all: build

setup:
	@bash scripts/setup.sh

configure: setup
	@if [ ! -f $(BUILD)/build.ninja ]; then cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS); fi

build: configure
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The runtime's multi-threaded tests under ThreadSanitizer, in a separate build directory.
tsan-test: setup
	@if [ ! -f build-tsan/build.ninja ]; then cmake -S . -B build-tsan -G Ninja \
	  -DFRACTAL_SANITIZE=thread -DFRACTAL_ENABLE_MLIR=OFF; fi
	cmake --build build-tsan -j $(JOBS) --target runtime_tests
	cd build-tsan && TSAN_OPTIONS="halt_on_error=1" ./tests/unit/runtime_tests

clean:
	rm -rf $(BUILD)
