// The kernel binary format: round trip, and rejection of every kind of corruption before use.
#include "fractal/isa/Assembler.h"
#include "fractal/isa/KernelBinary.h"
#include "fractal/isa/Disassembler.h"
#include "fractal/isa/Encoding.h"
#include "fractal/support/Checksum.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

using namespace fractal;
using namespace fractal::isa;

namespace {

KernelBinary sample() {
  Expected<KernelBinary> k = assemble(".target edge\nstart:\n.node \"n1\"\n  li x1, 5\n"
                                      "  dbnz x1, start\n  end\n.data\ntbl: .byte 1, 2, 3\n",
                                      "sample.s");
  EXPECT_TRUE(k.ok());
  return *k;
}

void put32(std::vector<uint8_t> &b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    b[at + i] = (v >> (8 * i)) & 0xff;
}
// Re-seals a deliberately corrupted file so that the structural checks, not the CRC, must catch it.
void reseal(std::vector<uint8_t> &b) {
  put32(b, 72, 0);
  put32(b, 72, crc32(b.data(), b.size()));
}
std::string errorOf(const std::vector<uint8_t> &bytes) {
  Expected<KernelBinary> k = parseKernel(bytes, "k.bin");
  return k ? "(accepted)" : k.error().message;
}

} // namespace

TEST(KernelBinary, RoundTrip) {
  KernelBinary k = sample();
  std::vector<uint8_t> bytes = serializeKernel(k);
  Expected<KernelBinary> back = parseKernel(bytes, "k.bin");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->target, "edge");
  EXPECT_EQ(back->source, "sample.s");
  EXPECT_EQ(back->code.size(), 3u);
  EXPECT_EQ(back->data, (std::vector<uint8_t>{1, 2, 3}));
  ASSERT_EQ(back->symbols.size(), 2u);
  EXPECT_EQ(back->debug.size(), 3u);
  EXPECT_EQ(back->noteOf(0), "n1");
  EXPECT_EQ(back->noteOf(2), "n1");
  EXPECT_EQ(back->notes.size(), 1u); // the three instructions share one stored note
  EXPECT_EQ(back->noteOf(3), "");    // past the end: none
  EXPECT_EQ(back->debug[1].line, 5u);
  EXPECT_EQ(serializeKernel(*back), bytes);
}

TEST(KernelBinary, DebugEntriesAreKeptAsRunsOfConsecutiveLines) {
  KernelBinary k;
  k.addDebug(3, "conv");
  k.addDebug(4, "conv");
  k.addDebug(5, "conv"); // one run: lines 3..5
  k.addDebug(7, "conv"); // a line skipped (a label): a new run
  k.addDebug(8, "relu"); // another note
  k.addDebug(9, "");
  k.addDebug(10, "");
  EXPECT_EQ(k.debug.size(), 7u);
  EXPECT_EQ(k.debug.runCount(), 4u);
  const uint32_t lines[] = {3, 4, 5, 7, 8, 9, 10};
  const char *notes[] = {"conv", "conv", "conv", "conv", "relu", "", ""};
  for (size_t pc = 0; pc < 7; ++pc) {
    EXPECT_EQ(k.debug[pc].line, lines[pc]) << pc;
    EXPECT_EQ(k.noteOf(pc), notes[pc]) << pc;
  }
  EXPECT_EQ(k.debug[5].note, DebugEntry::kNoNote);
}

TEST(KernelBinary, EveryTruncationIsRejected) {
  std::vector<uint8_t> bytes = serializeKernel(sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);
    EXPECT_NE(errorOf(cut).find("k.bin: invalid kernel binary:"), std::string::npos) << n;
  }
  EXPECT_EQ(errorOf({}), "k.bin: invalid kernel binary: file is 0 bytes, shorter than the "
                         "80-byte header");
}

TEST(KernelBinary, EveryFlippedByteIsRejected) {
  std::vector<uint8_t> bytes = serializeKernel(sample());
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::vector<uint8_t> bad = bytes;
    bad[i] ^= 0x5a;
    EXPECT_NE(errorOf(bad), "(accepted)") << "byte " << i;
  }
}

TEST(KernelBinary, StructuralCorruptionIsNamed) {
  const std::vector<uint8_t> good = serializeKernel(sample());
  auto withField = [&](size_t at, uint32_t v) {
    std::vector<uint8_t> b = good;
    put32(b, at, v);
    reseal(b);
    return errorOf(b);
  };
  EXPECT_EQ(withField(36, 0x10000000), // code count
            "k.bin: invalid kernel binary: code section [80, +4294967296) lies outside the " +
                std::to_string(good.size()) + "-byte file");
  EXPECT_NE(withField(40, 0xfffffff0).find("data section"), std::string::npos);
  EXPECT_NE(withField(64, 0).find("string section overlaps the header"), std::string::npos);
  EXPECT_NE(withField(60, 1).find("debug section has 1 entries for 3 instructions"),
            std::string::npos);
  EXPECT_NE(withField(76, 0xffff).find("source name string offset 65535"), std::string::npos);
  EXPECT_NE(withField(4, 2).find("format version 2.0 is not supported"), std::string::npos);
  EXPECT_NE(withField(12, 1).find("unknown flags"), std::string::npos);
  EXPECT_NE(withField(40, 80).find("overlap"), std::string::npos); // data over code
  std::vector<uint8_t> magic = good;
  magic[0] = 'X';
  EXPECT_EQ(errorOf(magic), "k.bin: invalid kernel binary: bad magic (not a Fractal kernel binary)");
  std::vector<uint8_t> crc = good;
  crc[90] ^= 1;
  EXPECT_EQ(errorOf(crc), "k.bin: invalid kernel binary: checksum mismatch (file is corrupt or "
                          "truncated)");
}

TEST(KernelBinary, IllegalInstructionInsideAValidFileNamesItsOffset) {
  std::vector<uint8_t> b = serializeKernel(sample());
  b[80 + 16] = 0xfe; // opcode of instruction 1
  reseal(b);
  EXPECT_EQ(errorOf(b),
            "k.bin: invalid kernel binary: instruction 1: illegal opcode 0xfe at byte offset 96");
}

// A runtime keeps a model's code as stored: validated all the same, and the same instructions
// when decoded (as a simulator's cores decode what they fetch).
TEST(KernelBinary, CodeKeptEncodedIsValidatedAndDecodesToTheSameInstructions) {
  const KernelBinary k = sample();
  const std::vector<uint8_t> bytes = serializeKernel(k);
  Expected<KernelBinary> kept = parseKernel(bytes, "k.bin", CodeForm::Encoded);
  ASSERT_TRUE(kept.ok()) << kept.error().message;
  EXPECT_TRUE(kept->code.empty());
  ASSERT_EQ(kept->instructionCount(), k.code.size());
  for (size_t pc = 0; pc < k.code.size(); ++pc) {
    const Instruction inst = kept->instructionAt(pc);
    EXPECT_EQ(inst.opcode, k.code[pc].opcode) << pc;
    EXPECT_EQ(inst.values, k.code[pc].values) << pc;
    EXPECT_EQ(inst.spaces, k.code[pc].spaces) << pc;
  }
  EXPECT_THROW(kept->instructionAt(k.code.size()), std::out_of_range);
  EXPECT_EQ(kept->noteOf(2), "n1");
  EXPECT_EQ(serializeKernel(*kept), bytes);
  std::vector<uint8_t> bad = bytes;
  bad[80 + 16] = 0xfe;
  reseal(bad);
  Expected<KernelBinary> refused = parseKernel(bad, "k.bin", CodeForm::Encoded);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message,
            "k.bin: invalid kernel binary: instruction 1: illegal opcode 0xfe at byte offset 96");
}

TEST(KernelBinary, RandomCorruptionNeverCrashes) {
  const std::vector<uint8_t> good = serializeKernel(sample());
  std::mt19937 rng(7);
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<uint8_t> b = good;
    int flips = 1 + rng() % 4;
    for (int f = 0; f < flips; ++f)
      b[rng() % b.size()] = static_cast<uint8_t>(rng());
    if (rng() % 2)
      b.resize(rng() % (b.size() + 64), 0);
    if (b.size() >= 80)
      reseal(b);
    Expected<KernelBinary> k = parseKernel(b, "k.bin"); // must return, accepted or not
    if (!k) {
      EXPECT_EQ(k.error().message.rfind("k.bin: invalid kernel binary: ", 0), 0u);
    }
  }
}

// The checksum of binaries and packages is zlib's CRC-32: the standard check value, and any split
// of a buffer into pieces gives the same as the bitwise definition over the whole.
TEST(Checksum, Crc32IsZlibsCrc32) {
  EXPECT_EQ(crc32("123456789", 9), 0xCBF43926u);
  EXPECT_EQ(crc32("", 0), 0u);
  std::mt19937 rng(7);
  std::vector<uint8_t> bytes(1000);
  for (uint8_t &b : bytes) b = static_cast<uint8_t>(rng());
  uint32_t bitwise = ~0u;
  for (uint8_t b : bytes) {
    bitwise ^= b;
    for (int k = 0; k < 8; ++k) bitwise = (bitwise & 1) ? 0xEDB88320u ^ (bitwise >> 1) : bitwise >> 1;
  }
  bitwise = ~bitwise;
  EXPECT_EQ(crc32(bytes.data(), bytes.size()), bitwise);
  for (size_t split : {1u, 3u, 8u, 13u, 999u}) {
    const uint32_t first = crc32(bytes.data(), split);
    EXPECT_EQ(crc32(bytes.data() + split, bytes.size() - split, first), bitwise) << split;
  }
}

// A kernel read for execution keeps each distinct instruction once: the same bytes at every pc,
// and the same file when written back.
TEST(KernelBinary, EncodedCodeKeepsEachDistinctInstructionOnce) {
  Expected<KernelBinary> k = assemble(".target edge\n  li x1, 5\n  li x2, 6\n  li x1, 5\n  li x1, 5\n  li x2, 6\n"
                                      "  li x3, 7\n  end\n",
                                      "repeats.s");
  ASSERT_TRUE(k.ok()) << k.error().message;
  const std::vector<uint8_t> bytes = serializeKernel(*k);
  Expected<KernelBinary> encoded = parseKernel(bytes, "repeats.bin", CodeForm::Encoded);
  ASSERT_TRUE(encoded.ok()) << encoded.error().message;
  ASSERT_EQ(encoded->instructionCount(), 7u);
  EXPECT_EQ(encoded->encoded.distinctCount(), 4u); // li x1, li x2, li x3, end
  for (size_t pc = 0; pc < 7; ++pc) {
    uint8_t word[kInstructionBytes];
    encodeInstruction(k->code[pc], word);
    EXPECT_EQ(std::memcmp(encoded->encoded.at(pc), word, kInstructionBytes), 0) << pc;
    EXPECT_EQ(formatInstruction(encoded->instructionAt(pc)), formatInstruction(k->code[pc])) << pc;
  }
  EXPECT_EQ(encoded->encoded.wordOf(0), encoded->encoded.wordOf(3));
  EXPECT_NE(encoded->encoded.wordOf(0), encoded->encoded.wordOf(1));
  EXPECT_EQ(serializeKernel(*encoded), bytes);
}

// More than 65,536 distinct words no longer fit 16-bit indices: every pc still reads its own bytes.
TEST(KernelBinary, EncodedCodeBeyondSixteenBitIndices) {
  const size_t count = 70000;
  std::vector<uint8_t> words(count * 2 * kInstructionBytes);
  for (size_t i = 0; i < 2 * count; ++i) { // pcs i and i + count hold the same word
    const uint32_t v = static_cast<uint32_t>(i % count) * 2654435761u;
    for (int b = 0; b < kInstructionBytes; ++b) words[i * kInstructionBytes + b] = uint8_t(v >> (8 * (b % 4))) ^ uint8_t(b);
  }
  EncodedCode code;
  code.assign(words.data(), 2 * count);
  EXPECT_EQ(code.size(), 2 * count);
  EXPECT_EQ(code.distinctCount(), count);
  for (size_t pc = 0; pc < 2 * count; pc += 977)
    EXPECT_EQ(std::memcmp(code.at(pc), &words[pc * kInstructionBytes], kInstructionBytes), 0) << pc;
  EXPECT_EQ(code.wordOf(count - 1), count - 1);
  EXPECT_EQ(code.wordOf(2 * count - 1), count - 1);
  std::vector<uint8_t> back;
  code.appendTo(back);
  EXPECT_EQ(back, words);
}
