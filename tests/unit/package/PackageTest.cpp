// The model package reader: round trip, and every kind of damage rejected with a message (never a
// crash): each truncation, each flipped byte, and semantic corruption behind a valid checksum.
#include "fractal/isa/Assembler.h"
#include "fractal/package/Package.h"
#include "fractal/support/Npy.h"

#include <gtest/gtest.h>

namespace {

using namespace fractal;
using namespace fractal::pkg;

Package samplePackage() {
  Package p;
  p.producer = "test";
  p.sourceModel = "sample.onnx";
  p.target = "edge";
  p.targetDigest = 42;
  p.gmBytes = 4096;
  Tensor in{"x", DType::F32, {2, 3}, 0, 512, TensorKind::Input, "ND", {}, kNoAlias};
  Tensor w{"w", DType::F32, {3}, 512, 512, TensorKind::Constant, "ND", {}, kNoAlias};
  w.data = std::vector<uint8_t>(12, 7);
  Tensor out{"y", DType::F32, {2, 3}, 1024, 512, TensorKind::Output, "ND", {}, kNoAlias};
  Tensor view{"y_flat", DType::F32, {6}, 1024, 512, TensorKind::Activation, "ND", {}, kNoAlias};
  view.aliasOf = 2;
  p.tensors = {in, w, out, view};
  p.inputs = {0};
  p.outputs = {2};
  Expected<isa::KernelBinary> k = isa::assemble(".node \"Add_0\"\n.text\n  nop\n  end\n", "k.s");
  EXPECT_TRUE(k.ok());
  p.kernels.push_back({"add", *k});
  Task launch;
  launch.name = "Add_0";
  launch.opType = "Add";
  launch.onnxNodes = {"Add_0"};
  launch.launch = {0, 2, {0, 1, 2}, {}};
  launch.launch.segments = {{"Add_0", "Add", 0, 1, 2, {"Add_0"}, 7, 2}, {"Nop_1", "Nop", 1, 2, 1, {"Nop_1", "Relu_2"}, 0, 1}};
  launch.launch.barrierFlagBytes = 128;
  launch.modelMacs = 12345678901ull;
  Task host;
  host.name = "copy";
  host.opType = "Copy";
  host.isHost = true;
  host.host.opType = "Copy";
  host.host.inputs = {2};
  host.host.outputs = {3};
  host.host.ints["axes"] = {1, -1};
  host.host.floats["value"] = 0.5f;
  host.host.reason = "test";
  p.tasks = {launch, host};
  return p;
}

std::string parseError(const Package &p) {
  std::vector<uint8_t> bytes = serializePackage(p);
  Expected<Package> r = parsePackage(bytes.data(), bytes.size(), "p.fpk");
  return r ? "" : r.error().message;
}

TEST(Package, RoundTrip) {
  Package p = samplePackage();
  std::vector<uint8_t> bytes = serializePackage(p);
  Expected<Package> r = parsePackage(bytes.data(), bytes.size(), "p.fpk");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->target, "edge");
  EXPECT_EQ(r->targetDigest, 42u);
  ASSERT_EQ(r->tensors.size(), 4u);
  EXPECT_EQ(r->tensors[1].data, p.tensors[1].data);
  EXPECT_EQ(r->tensors[3].aliasOf, 2u);
  EXPECT_EQ(r->tensors[0].aliasOf, kNoAlias);
  EXPECT_EQ(r->tasks[0].launch.blockDim, 2u);
  EXPECT_EQ(r->tasks[0].modelMacs, 12345678901ull);
  EXPECT_EQ(r->tasks[1].modelMacs, 0u);
  EXPECT_EQ(r->tasks[0].launch.tensors, (std::vector<uint32_t>{0, 1, 2}));
  ASSERT_EQ(r->tasks[0].launch.segments.size(), 2u);
  const KernelSegment &second = r->tasks[0].launch.segments[1];
  EXPECT_EQ(second.name, "Nop_1");
  EXPECT_EQ(second.opType, "Nop");
  EXPECT_EQ(second.entryPc, 1u);
  EXPECT_EQ(second.endPc, 2u);
  EXPECT_EQ(second.blockDim, 1u);
  EXPECT_EQ(second.onnxNodes, (std::vector<std::string>{"Nop_1", "Relu_2"}));
  EXPECT_EQ(second.tensors, 1u);
  EXPECT_EQ(r->tasks[0].launch.segments[0].modelMacs, 7u);
  EXPECT_EQ(r->tasks[0].launch.segments[0].tensors, 2u);
  EXPECT_EQ(r->tasks[0].launch.barrierFlagBytes, 128u);
  EXPECT_TRUE(r->tasks[1].isHost);
  EXPECT_EQ(r->tasks[1].host.ints.at("axes"), (std::vector<int64_t>{1, -1}));
  EXPECT_EQ(r->tasks[1].host.floats.at("value"), 0.5f);
  EXPECT_EQ(r->tasks[1].host.reason, "test");
  ASSERT_EQ(r->kernels.size(), 1u);
  EXPECT_EQ(r->kernels[0].binary.code.size(), 2u);
  EXPECT_EQ(r->kernels[0].binary.noteOf(0), "Add_0");
}

// A data-dependent output (NonZero, Compress) keeps its axis and the tensor its extent is in;
// the description marks the axis's extent as a bound.
TEST(Package, DataDependentOutputRoundTrips) {
  Package p = samplePackage();
  p.tensors.push_back({"y/extent", DType::I64, {}, 1536, 512, TensorKind::Activation, "ND", {}, kNoAlias});
  p.tensors[2].dynamicAxis = 1;
  p.tensors[2].extentTensor = 4;
  std::vector<uint8_t> bytes = serializePackage(p);
  Expected<Package> r = parsePackage(bytes.data(), bytes.size(), "p.fpk");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->tensors[2].isDataDependent());
  EXPECT_EQ(r->tensors[2].dynamicAxis, 1u);
  EXPECT_EQ(r->tensors[2].extentTensor, 4u);
  EXPECT_FALSE(r->tensors[0].isDataDependent());
  EXPECT_EQ(r->tensors[0].extentTensor, kNoAlias);
  EXPECT_EQ(r->tensors[2].shapeWithExtent(2), (std::vector<int64_t>{2, 2}));
  EXPECT_NE(describePackage(*r).find("output y: float32[2,<=3]"), std::string::npos) << describePackage(*r);
}

// Asked for the encoded form (as a runtime asks), every kernel keeps its code as stored.
TEST(Package, DeviceMemoryCountsEachConstantByteOnce) {
  Package p = samplePackage(); // w: [512, +512); plan 4096 bytes
  p.kernels[0].binary.data.assign(100, 1);
  DeviceMemorySize m = deviceMemoryOf(p);
  EXPECT_EQ(m.constantBytes, 512u);
  EXPECT_EQ(m.kernelDataBytes, 100u);
  EXPECT_EQ(m.workBytes, 4096u - 512u);
  EXPECT_EQ(m.totalBytes(), 4196u);
  // A view of w, a constant sharing w's second half and one straddling its end: their union
  // [512, 1280) counts, each byte once.
  Tensor view = p.tensors[1], half = p.tensors[1], past = p.tensors[1];
  view.aliasOf = 1;
  half.offset = 768;
  half.bytes = 256;
  past.offset = 1024;
  past.bytes = 256;
  p.tensors.insert(p.tensors.end(), {view, half, past});
  m = deviceMemoryOf(p);
  EXPECT_EQ(m.constantBytes, 768u);
  EXPECT_EQ(m.workBytes, 4096u - 768u);
  EXPECT_EQ(m.weightBytes(), 868u);
}

TEST(Package, DescriptionSaysWhatTheCodeTakesOnceLoaded) {
  // Three instructions, two distinct (nop twice): 48 bytes stored; loaded, two 16-byte words and
  // a 16-bit index per pc, 38 bytes, in either form of the code.
  Package p = samplePackage();
  Expected<isa::KernelBinary> k = isa::assemble(".text\n  nop\n  nop\n  end\n", "k.s");
  ASSERT_TRUE(k.ok());
  p.kernels[0].binary = *k;
  const std::string decoded = describePackage(p);
  EXPECT_NE(decoded.find("kernels: 1 (48 bytes of code; 2 distinct instructions, 38 bytes once loaded)"),
            std::string::npos) << decoded;
  p.kernels[0].binary.encoded = p.kernels[0].binary.encodedCode();
  p.kernels[0].binary.code.clear();
  EXPECT_EQ(describePackage(p), decoded);
}

TEST(Package, CodeStaysEncodedWhenAskedTo) {
  const std::vector<uint8_t> bytes = serializePackage(samplePackage()); // one kernel, 2 instructions
  Expected<Package> decoded = parsePackage(bytes.data(), bytes.size(), "p.fpk");
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->kernels[0].binary.code.size(), 2u);
  EXPECT_TRUE(decoded->kernels[0].binary.encoded.empty());
  Expected<Package> encoded = parsePackage(bytes.data(), bytes.size(), "p.fpk", isa::CodeForm::Encoded);
  ASSERT_TRUE(encoded.ok()) << encoded.error().message;
  EXPECT_TRUE(encoded->kernels[0].binary.code.empty());
  EXPECT_EQ(encoded->kernels[0].binary.encoded.size(), 2u);
  EXPECT_EQ(serializePackage(*encoded), bytes);
}

TEST(Package, EveryTruncationIsRejected) {
  std::vector<uint8_t> bytes = serializePackage(samplePackage());
  for (size_t n = 0; n < bytes.size(); ++n) {
    Expected<Package> r = parsePackage(bytes.data(), n, "p.fpk");
    ASSERT_FALSE(r.ok()) << "accepted a package cut to " << n << " bytes";
    EXPECT_EQ(r.error().code, ExitCode::BadInput);
  }
}

TEST(Package, EveryFlippedByteIsRejected) {
  const std::vector<uint8_t> good = serializePackage(samplePackage());
  for (size_t i = 0; i < good.size(); ++i) {
    std::vector<uint8_t> bytes = good;
    bytes[i] ^= 0x5a;
    Expected<Package> r = parsePackage(bytes.data(), bytes.size(), "p.fpk");
    ASSERT_FALSE(r.ok()) << "accepted a flip at byte " << i;
  }
}

TEST(Package, SemanticCorruptionBehindAValidChecksum) {
  struct Case {
    const char *expected;
    void (*damage)(Package &);
  };
  const Case cases[] = {
      {"tensor 2 'y': bytes [4000, +512) lie outside the model's 4096-byte memory region",
       [](Package &p) { p.tensors[2].offset = 4000; }},
      {"tensor 2 'y': bytes [18446744073709551615, +512) lie outside",
       [](Package &p) { p.tensors[2].offset = UINT64_MAX; }},
      {"tensor 0 'x': reserves 8 bytes but its elements need 24", [](Package &p) { p.tensors[0].bytes = 8; }},
      {"tensor 0 'x': negative dimension -2", [](Package &p) { p.tensors[0].shape = {-2, 3}; }},
      {"tensor 0 'x': shape has more than 2^48 elements",
       [](Package &p) { p.tensors[0].shape = {1 << 30, 1 << 30}; }},
      {"tensor 1 'w': constant holds 4 bytes, expected 12", [](Package &p) { p.tensors[1].data.resize(4); }},
      {"tensor 0 'x': only constants carry data", [](Package &p) { p.tensors[0].data = {1}; }},
      {"tensor 3 'y_flat': aliases a tensor that does not exist", [](Package &p) { p.tensors[3].aliasOf = 9; }},
      {"tensor 3 'y_flat': view lies outside the tensor it aliases", [](Package &p) { p.tensors[3].offset = 0; }},
      {"input list refers to tensor 7, but the package has 4", [](Package &p) { p.inputs = {7}; }},
      {"input list: tensor 'w' is not an input", [](Package &p) { p.inputs = {1}; }},
      {"output list refers to tensor 5", [](Package &p) { p.outputs = {5}; }},
      {"task 0 'Add_0': launches kernel 3, but the package has 1", [](Package &p) { p.tasks[0].launch.kernel = 3; }},
      {"task 0 'Add_0': block_dim 0 outside 1..65535", [](Package &p) { p.tasks[0].launch.blockDim = 0; }},
      {"task 0 'Add_0' refers to tensor 4, but the package has 4", [](Package &p) { p.tasks[0].launch.tensors = {4}; }},
      {"task 1 'copy' refers to tensor 99", [](Package &p) { p.tasks[1].host.outputs = {99}; }},
      {"task 0 'Add_0': segment 1 'Nop_1': code [1, 3) is not after the previous segment inside the kernel's 2 "
       "instructions",
       [](Package &p) { p.tasks[0].launch.segments[1].endPc = 3; }},
      {"task 0 'Add_0': segment 1 'Nop_1': code [0, 2) is not after the previous segment",
       [](Package &p) { p.tasks[0].launch.segments[1].entryPc = 0; }},
      {"task 0 'Add_0': segment 0 'Add_0': code [0, 0) is not after",
       [](Package &p) { p.tasks[0].launch.segments[0].endPc = 0; }},
      {"task 0 'Add_0': segment 1 'Nop_1': block_dim 0 outside 1..65535",
       [](Package &p) { p.tasks[0].launch.segments[1].blockDim = 0; }},
      {"task 0 'Add_0': its segments claim 4 argument tensors of 3",
       [](Package &p) { p.tasks[0].launch.segments[1].tensors = 2; }},
      {"task 0 'Add_0': barrier_flag_bytes 12 is not a multiple of 8 up to 1 MiB",
       [](Package &p) { p.tasks[0].launch.barrierFlagBytes = 12; }},
      {"task 0 'Add_0': barrier_flag_bytes 1048584 is not a multiple of 8",
       [](Package &p) { p.tasks[0].launch.barrierFlagBytes = (1u << 20) + 8; }},
      {"task 1 'copy': host op without an op type", [](Package &p) { p.tasks[1].host.opType.clear(); }},
      // (Found by tests/fuzz/mutate_packages.py: it loaded, and the run failed as an internal error.)
      {"kernel 'add' was built for target 'edgd', the package is for 'edge'",
       [](Package &p) { p.kernels[0].binary.target = "edgd"; }},
      {"tensor 2 'y': a data-dependent extent needs both its axis and the tensor holding it",
       [](Package &p) { p.tensors[2].dynamicAxis = 0; }},
      {"tensor 2 'y': data-dependent axis 2 of a rank-2 tensor",
       [](Package &p) { p.tensors[2].dynamicAxis = 2, p.tensors[2].extentTensor = 3; }},
      {"tensor 0 'x': only a model output may have a data-dependent extent",
       [](Package &p) { p.tensors[0].dynamicAxis = 0, p.tensors[0].extentTensor = 3; }},
      {"tensor 2 'y': its extent is in a tensor that does not exist",
       [](Package &p) { p.tensors[2].dynamicAxis = 1, p.tensors[2].extentTensor = 9; }},
      {"tensor 2 'y': its extent tensor 'y_flat' is not one written int64",
       [](Package &p) { p.tensors[2].dynamicAxis = 1, p.tensors[2].extentTensor = 3; }},
  };
  for (const Case &c : cases) {
    Package p = samplePackage();
    c.damage(p);
    std::string error = parseError(p);
    EXPECT_NE(error.find(c.expected), std::string::npos) << "expected: " << c.expected << "\ngot: " << error;
    EXPECT_EQ(error.rfind("p.fpk: ", 0), 0u) << error;
  }
}

TEST(Package, OtherFilesAndVersions) {
  const uint8_t notPackage[32] = {'P', 'K'};
  Expected<Package> r = parsePackage(notPackage, sizeof notPackage, "x.fpk");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "x.fpk: not a model package (no FRACTPKG magic)");
  std::vector<uint8_t> bytes = serializePackage(samplePackage());
  bytes[8] = 9; // format version
  r = parsePackage(bytes.data(), bytes.size(), "v.fpk");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "v.fpk: package format version 9, this build reads version 3; recompile the model");
}

TEST(Npy, RoundTripAndShapes) {
  for (std::vector<int64_t> shape : {std::vector<int64_t>{}, {4}, {2, 3}, {1, 0, 5}}) {
    NpyArray a{"<f4", shape, {}};
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    for (int64_t i = 0; i < n * 4; ++i) a.data.push_back(uint8_t(i));
    std::vector<uint8_t> bytes = serializeNpy(a);
    EXPECT_EQ((10 + bytes[8]) % 64, 0) << "header not padded to 64 bytes";
    Expected<NpyArray> b = parseNpy(bytes, "a.npy");
    ASSERT_TRUE(b.ok()) << b.error().message;
    EXPECT_EQ(b->descr, "<f4");
    EXPECT_EQ(b->shape, shape);
    EXPECT_EQ(b->data, a.data);
  }
}

TEST(Npy, DamageIsRejected) {
  NpyArray a{"<f4", {2, 2}, std::vector<uint8_t>(16, 1)};
  const std::vector<uint8_t> good = serializeNpy(a);
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + long(n));
    EXPECT_FALSE(parseNpy(cut, "a.npy").ok()) << "accepted a cut to " << n;
  }
  auto withHeader = [&](const std::string &from, const std::string &to) {
    std::string text(good.begin(), good.end());
    text.replace(text.find(from), from.size(), to);
    return parseNpy(std::vector<uint8_t>(text.begin(), text.end()), "a.npy");
  };
  Expected<NpyArray> r = withHeader("'fortran_order': False", "'fortran_order': True ");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "a.npy: not a valid .npy file: Fortran-ordered arrays are not supported (save in C order)");
  r = withHeader("<f4", "<c8");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("dtype '<c8' is not supported"), std::string::npos);
  r = withHeader("(2, 2)", "(2, 3)");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "a.npy: not a valid .npy file: shape and dtype need 24 data bytes, the file has 16");
  r = withHeader("(2, 2)", "(2,-2)");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("shape entry '-2' is not a dimension"), std::string::npos);
}

} // namespace
