// Placement reasons that the ONNX support check (MLIR-free) and the compiler's placement pass both
// print, so a compile report and a --check-only report say the same thing.
#pragma once

namespace fractal {

inline constexpr const char *kScalarIntegerReason =
    "integers other than int32: element by element on the scalar unit, whose 64-bit registers hold them "
    "(the vector unit's integer lanes are int32, and it divides floats only)";

inline constexpr const char *kFloat64CastReason =
    "float64 conversion: bit by bit on the scalar unit (the NPU has no float64 arithmetic; float64 models are "
    "computed in float32, converted at their inputs and outputs)";

inline constexpr const char *kTopKVectorReason =
    "selection along the last axis (the importer moves another axis last): k rounds of max (or min) and take on "
    "the vector unit, which has no sort instruction";

// NonZero and Compress (GraphOps.td's kCompaction says the same).
inline constexpr const char *kCompactionReason =
    "data-dependent compaction: the scalar unit counts the selected elements, then stores them in order";

} // namespace fractal
