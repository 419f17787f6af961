# lit configuration for Fractal's CLI and compiler tests. RUN lines execute in /bin/bash so that
# tests can record exact exit codes (`...; echo "exit=$?"`), which the CLI contract promises.
import os
import shutil
import sys
import lit.formats

config.name = "Fractal"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".test", ".mlir", ".s"]
config.excludes = ["Inputs", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(lit_config.params.get("build_root", "."), "tests", "lit")

config.substitutions.append(("%bindir", config.fractal_tools_dir))
config.substitutions.append(("%fractal-opt", os.path.join(config.fractal_tools_dir, "fractal-opt")))
config.substitutions.append(("%fractal", os.path.join(config.fractal_tools_dir, "fractal")))
config.substitutions.append(("%FileCheck", config.filecheck))
config.substitutions.append(("%src", config.fractal_source_dir))
# The interpreter running lit: for small reference computations inside tests.
config.substitutions.append(("%python", sys.executable))
if config.mlir_enabled:
    config.available_features.add("mlir")
# ONNX Runtime (from `make assets`) and Node.js, for `fractal verify`: feature `ort`, its
# node_modules as %ort. CI (`make test`) sets FRACTAL_REQUIRE_ASSETS=1: there a missing one is an
# error rather than a quietly unsupported test.
ort_modules = os.path.join(config.fractal_build_dir, "assets", "ort", "node_modules")
if os.path.isdir(os.path.join(ort_modules, "onnxruntime-node")) and shutil.which("node"):
    config.available_features.add("ort")
    config.substitutions.append(("%ort", ort_modules))
elif os.environ.get("FRACTAL_REQUIRE_ASSETS") == "1":
    lit_config.fatal("FRACTAL_REQUIRE_ASSETS=1 but ONNX Runtime is not in " + ort_modules +
                     " or node is not on PATH: run `make assets`")
# Tests never depend on the caller's environment for presets or colours.
config.environment["LC_ALL"] = "C"
# Sanitizer builds configure their runtimes through the environment: pass it on.
for name in ("ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"):
    if name in os.environ:
        config.environment[name] = os.environ[name]
