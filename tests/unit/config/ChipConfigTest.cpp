// The chip config loader: presets load with the documented numbers; every kind of bad config gives
// its own error naming the file, line and key.
#include "fractal/config/ChipConfig.h"

#include <gtest/gtest.h>

#include <sstream>

using namespace fractal;

namespace {

std::string edgeYaml() {
  Expected<ChipConfig> edge = loadChipConfig("edge");
  EXPECT_TRUE(edge.ok());
  return chipConfigToYaml(*edge);
}

std::string replaceOnce(std::string text, const std::string &from, const std::string &to) {
  size_t pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << "'" << from << "' not in the config";
  if (pos != std::string::npos)
    text.replace(pos, from.size(), to);
  return text;
}

// Loads `yaml` and returns the error message (empty if it loaded).
std::string errorOf(const std::string &yaml) {
  Expected<ChipConfig> c = parseChipConfig(yaml, "test.yaml");
  if (c)
    return "";
  EXPECT_EQ(c.error().code, ExitCode::BadInput);
  return c.error().message;
}

} // namespace

TEST(ChipConfig, EdgePresetHasThe310Numbers) {
  Expected<ChipConfig> c = loadChipConfig("edge");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->name, "edge");
  EXPECT_EQ(c->chip.cores, 2);
  EXPECT_DOUBLE_EQ(c->chip.clockMhz, 680);
  EXPECT_EQ(c->cube.fp16.m * c->cube.fp16.k * c->cube.fp16.n, 4096);
  EXPECT_EQ(c->cube.int8.m * c->cube.int8.k * c->cube.int8.n, 8192);
  EXPECT_EQ(c->buffer(BufferKind::L1).sizeBytes, 1 << 20);
  EXPECT_EQ(c->buffer(BufferKind::L0A).sizeBytes, 64 << 10);
  EXPECT_EQ(c->buffer(BufferKind::L0A).alignmentBytes, 512);
  EXPECT_EQ(c->buffer(BufferKind::L0C).sizeBytes, 256 << 10);
  EXPECT_EQ(c->buffer(BufferKind::UB).sizeBytes, 256 << 10);
  EXPECT_EQ(c->buffer(BufferKind::UB).alignmentBytes, 32);
  EXPECT_EQ(c->vector.bytesPerRepeat, 256);
  EXPECT_EQ(c->vectorTiming(VectorTimingClass::Exp).bytesPerCycle, 64);
  EXPECT_EQ(c->l2.lineBytes, 512);
  EXPECT_NEAR(c->dramBytesPerCycle(), 51.2e3 / 680, 1e-9);
  EXPECT_EQ(c->chip.gmSizeBytes, int64_t(8) << 30);
}

TEST(ChipConfig, CloudPresetLoads) {
  Expected<ChipConfig> c = loadChipConfig("cloud");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->chip.cores, 32);
  EXPECT_DOUBLE_EQ(c->dram.bandwidthGBs, 1200);
}

TEST(ChipConfig, PresetFilesOnDiskMatchTheEmbeddedOnes) {
  const char *src = std::getenv("FRACTAL_SOURCE_DIR");
  ASSERT_NE(src, nullptr);
  for (const std::string &name : presetNames()) {
    Expected<ChipConfig> file = loadChipConfigFile(std::string(src) + "/configs/" + name + ".yaml");
    ASSERT_TRUE(file.ok()) << file.error().message;
    Expected<ChipConfig> embedded = loadChipConfig(name);
    ASSERT_TRUE(embedded.ok());
    EXPECT_EQ(chipConfigToYaml(*file), chipConfigToYaml(*embedded)) << name;
  }
}

TEST(ChipConfig, CanonicalYamlRoundTrips) {
  for (const std::string &name : presetNames()) {
    Expected<ChipConfig> c = loadChipConfig(name);
    ASSERT_TRUE(c.ok());
    std::string yaml = chipConfigToYaml(*c);
    Expected<ChipConfig> again = parseChipConfig(yaml, "roundtrip.yaml");
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(chipConfigToYaml(*again), yaml);
  }
}

// Overrides (fractal sweep's points): the keys take the values, written as in a file; the rest
// stays; unknown keys and values the schema rejects are errors naming the source and the key.
TEST(ChipConfig, OverridesSetKeysAndAreValidatedAsAFile) {
  Expected<ChipConfig> base = loadChipConfig("edge");
  ASSERT_TRUE(base.ok());
  Expected<ChipConfig> c = overrideChipConfig(*base, {{"l2.size_bytes", "2 MiB"}, {"chip.cores", "4"}}, "point 1");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->l2.sizeBytes, 2 << 20);
  EXPECT_EQ(c->chip.cores, 4);
  EXPECT_DOUBLE_EQ(c->dram.bandwidthGBs, base->dram.bandwidthGBs);
  EXPECT_EQ(chipConfigToYaml(*overrideChipConfig(*base, {}, "none")), chipConfigToYaml(*base));
  Expected<ChipConfig> unknown = overrideChipConfig(*base, {{"l2.sise", "1"}}, "point 2");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("point 2: key 'l2.sise': unknown key"), std::string::npos)
      << unknown.error().message;
  Expected<ChipConfig> bad = overrideChipConfig(*base, {{"l2.line_bytes", "500"}}, "point 3");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("key 'l2.line_bytes': must be a power of two, got 500"), std::string::npos)
      << bad.error().message;
  Expected<ChipConfig> injected = overrideChipConfig(*base, {{"chip.cores", "2\nbogus: 1"}}, "point 4");
  ASSERT_FALSE(injected.ok()); // one scalar, never more YAML
}

TEST(ChipConfig, UnknownPresetListsThePresets) {
  Expected<ChipConfig> c = loadChipConfig("edgy");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("unknown target 'edgy'"), std::string::npos);
  EXPECT_NE(c.error().message.find("edge"), std::string::npos);
}

TEST(ChipConfig, MissingFileIsBadInput) {
  Expected<ChipConfig> c = loadChipConfig("/nonexistent/chip.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ExitCode::BadInput);
  EXPECT_NE(c.error().message.find("/nonexistent/chip.yaml"), std::string::npos);
}

TEST(ChipConfig, UnknownKeyNamesKeyLineAndAlternatives) {
  std::string yaml = replaceOnce(edgeYaml(), "  cores: 2", "  corez: 2");
  std::string err = errorOf(yaml);
  EXPECT_NE(err.find("test.yaml:5:3: key 'chip.corez': unknown key (expected one of: clock_mhz "
                     "cores cross_core_sync_cycles gm_size_bytes)"),
            std::string::npos)
      << err;
}

TEST(ChipConfig, EveryKeyIsRequired) {
  // Drop each leaf line of the canonical YAML in turn: the error must name exactly that key.
  std::string yaml = edgeYaml();
  std::vector<std::string> lines;
  std::istringstream in(yaml);
  for (std::string l; std::getline(in, l);)
    lines.push_back(l);
  int checked = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty() || lines[i][0] == '#' || lines[i].back() == ':')
      continue; // comments and section headers
    std::string without;
    for (size_t j = 0; j < lines.size(); ++j)
      if (j != i)
        without += lines[j] + "\n";
    std::string err = errorOf(without);
    std::string leaf = lines[i].substr(lines[i].find_first_not_of(' '));
    leaf = leaf.substr(0, leaf.find(':'));
    EXPECT_NE(err.find("': missing required key"), std::string::npos) << lines[i] << "\n" << err;
    EXPECT_NE(err.find(leaf + "': missing"), std::string::npos) << err;
    ++checked;
  }
  EXPECT_GT(checked, 60);
}

TEST(ChipConfig, NonPositiveSize) {
  std::string err = errorOf(replaceOnce(edgeYaml(), "    size_bytes: 65536", "    size_bytes: 0"));
  EXPECT_NE(err.find("key 'buffers.l0a.size_bytes': must be positive, got 0"), std::string::npos)
      << err;
  err = errorOf(replaceOnce(edgeYaml(), "  clock_mhz: 680", "  clock_mhz: -1"));
  EXPECT_NE(err.find("key 'chip.clock_mhz': must be positive, got -1"), std::string::npos) << err;
}

TEST(ChipConfig, MisalignedSize) {
  std::string err =
      errorOf(replaceOnce(edgeYaml(), "    size_bytes: 65536", "    size_bytes: 65000"));
  EXPECT_NE(err.find("key 'buffers.l0a.size_bytes': size 65000 is not a multiple of the "
                     "alignment 512"),
            std::string::npos)
      << err;
}

TEST(ChipConfig, AlignmentMustBeAPowerOfTwo) {
  std::string err =
      errorOf(replaceOnce(edgeYaml(), "    alignment_bytes: 512", "    alignment_bytes: 500"));
  EXPECT_NE(err.find("key 'buffers.l0a.alignment_bytes': must be a power of two, got 500"),
            std::string::npos)
      << err;
}

TEST(ChipConfig, BufferTooSmallForOneFractal) {
  // L0C must hold one 16x16 fp32 accumulator fractal: 1024 bytes.
  std::string err =
      errorOf(replaceOnce(edgeYaml(), "    size_bytes: 262144", "    size_bytes: 512"));
  EXPECT_NE(err.find("key 'buffers.l0c.size_bytes': buffer of 512 bytes is too small for one "
                     "fractal (1024 bytes)"),
            std::string::npos)
      << err;
}

TEST(ChipConfig, GmTooLargeForTheL2Tags) {
  // 8 MiB of 512-byte lines in 16 ways: 1,024 sets; a tag (a line's number within its set) is
  // 32-bit, so GM may hold at most 2^32 x 1,024 lines of 512 bytes (2 PiB).
  std::string err = errorOf(replaceOnce(edgeYaml(), "  gm_size_bytes: 8589934592", "  gm_size_bytes: 2251799813685248"));
  EXPECT_NE(err.find("key 'chip.gm_size_bytes': more than 2^32 GM lines share an L2 set"), std::string::npos) << err;
  EXPECT_EQ(errorOf(replaceOnce(edgeYaml(), "  gm_size_bytes: 8589934592", "  gm_size_bytes: 2251799813685247")), "");
}

TEST(ChipConfig, DuplicateKey) {
  std::string err = errorOf(replaceOnce(edgeYaml(), "  cores: 2\n", "  cores: 2\n  cores: 4\n"));
  EXPECT_NE(err.find("key 'chip.cores': duplicate key"), std::string::npos) << err;
}

TEST(ChipConfig, WrongTypes) {
  std::string err = errorOf(replaceOnce(edgeYaml(), "  cores: 2", "  cores: two"));
  EXPECT_NE(err.find("key 'chip.cores': expected an integer, got 'two'"), std::string::npos)
      << err;
  err = errorOf(replaceOnce(edgeYaml(), "  cores: 2", "  cores: 2.5"));
  EXPECT_NE(err.find("expected an integer, got '2.5'"), std::string::npos) << err;
  err = errorOf(replaceOnce(edgeYaml(), "  cores: 2", "  cores: [2]"));
  EXPECT_NE(err.find("key 'chip.cores': expected a single value"), std::string::npos) << err;
  err = errorOf(replaceOnce(edgeYaml(), "chip:\n", "chip: 3\nxchip:\n"));
  EXPECT_NE(err.find("key 'chip': expected a section"), std::string::npos) << err;
}

TEST(ChipConfig, RangeLimits) {
  std::string err = errorOf(replaceOnce(edgeYaml(), "  max_repeat: 255", "  max_repeat: 256"));
  EXPECT_NE(err.find("key 'vector.max_repeat': must be at most 255, got 256"), std::string::npos)
      << err;
  err = errorOf(replaceOnce(edgeYaml(), "  cores: 2", "  cores: 99999999999999999999"));
  EXPECT_NE(err.find("is out of range"), std::string::npos) << err;
}

TEST(ChipConfig, BoundsThatKeepTheSimulatorSane) {
  // A latency of 2^63 cycles wrapped the simulator's sums (a Gemm ran in fewer cycles than with
  // 20); a 1 TiB L1 or a 1 PiB L2 was a bad_alloc (exit 1; the L2's aborted the process); a clock
  // of 10^300 MHz overflowed the op execute timeout's cycles.
  auto at = [](const std::string &from, const std::string &to) { return errorOf(replaceOnce(edgeYaml(), from, to)); };
  EXPECT_NE(at("  mmad_latency_cycles: 20", "  mmad_latency_cycles: 1000001")
                .find("key 'cube.mmad_latency_cycles': must be at most 1000000, got 1000001"),
            std::string::npos);
  EXPECT_EQ(at("  mmad_latency_cycles: 20", "  mmad_latency_cycles: 1000000"), "");
  EXPECT_NE(at("\n  latency_cycles: 150", "\n  latency_cycles: 9223372036854775807")
                .find("key 'dram.latency_cycles': must be at most 1000000"),
            std::string::npos);
  std::string err = at("    size_bytes: 1048576", "    size_bytes: 512 MiB");
  EXPECT_NE(err.find("key 'buffers.l1.size_bytes': must be at most 268435456, got 512 MiB"), std::string::npos) << err;
  err = at("  clock_mhz: 680", "  clock_mhz: 1e300");
  EXPECT_NE(err.find("key 'chip.clock_mhz': must be at most 100000, got 1e300"), std::string::npos) << err;
  err = at("  clock_mhz: 680", "  clock_mhz: 0.5");
  EXPECT_NE(err.find("key 'chip.clock_mhz': must be at least 1, got 0.5"), std::string::npos) << err;
  err = at("  bandwidth_gbs: 51.2", "  bandwidth_gbs: 0.001");
  EXPECT_NE(err.find("key 'dram.bandwidth_gbs': must be at least 0.01, got 0.001"), std::string::npos) << err;
  // 2^22 lines of the simulator's L2 tags at most: 2 GiB of 512-byte lines, not 4.
  err = at("  size_bytes: 8388608", "  size_bytes: 4 GiB");
  EXPECT_NE(err.find("key 'l2.size_bytes': 8388608 lines of 512 bytes, at most 4194304"), std::string::npos) << err;
  EXPECT_EQ(at("  size_bytes: 8388608", "  size_bytes: 2 GiB"), "");
}

TEST(ChipConfig, SizeSuffixes) {
  Expected<ChipConfig> c = parseChipConfig(
      replaceOnce(edgeYaml(), "    size_bytes: 65536", "    size_bytes: 64 KiB"), "t.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->buffer(BufferKind::L0A).sizeBytes, 65536);
}

TEST(ChipConfig, SyntaxErrorHasLine) {
  std::string err = errorOf("name: edge\nchip: {cores: 2\n");
  EXPECT_NE(err.find("test.yaml:"), std::string::npos) << err;
  EXPECT_NE(err.find("YAML syntax error"), std::string::npos) << err;
  err = errorOf("- just\n- a list\n");
  EXPECT_NE(err.find("must be a YAML mapping"), std::string::npos) << err;
}

TEST(ChipConfig, AllProblemsAreReportedAtOnce) {
  std::string yaml = replaceOnce(edgeYaml(), "  cores: 2", "  cores: 0");
  yaml = replaceOnce(yaml, "  clock_mhz: 680", "  clock_mhz: fast");
  std::string err = errorOf(yaml);
  EXPECT_NE(err.find("chip.cores"), std::string::npos) << err;
  EXPECT_NE(err.find("chip.clock_mhz"), std::string::npos) << err;
}
