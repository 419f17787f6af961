// The kernel binary (.bin): what `fractal asm` writes, the compiler emits, and the simulator
// loads. Layout (all integers little-endian; docs/isa.md "Kernel binary format"):
//
//   header (80 bytes): magic "FRKB", version, target name, then (offset, count/size) pairs for the
//   code, data, symbol, debug and string sections, the source-name string, and a CRC-32 of the
//   whole file computed with the checksum field zeroed.
//   code:    count x 16-byte instructions
//   data:    constant bytes, placed in GM by the loader (address: special register data_base)
//   symbols: count x {u32 name (string offset), u32 value, u8 section (0 code, 1 data), u8 pad[3]}
//   debug:   count x {u32 source line, u32 note (string offset of the ONNX node name or
//            0xffffffff)}: one per instruction, or none
//   strings: NUL-terminated strings
//
// The reader validates every offset, size, count and string before use and decodes every
// instruction, so a corrupt file is rejected before anything executes.
#pragma once

#include "fractal/isa/EncodedCode.h"
#include "fractal/isa/Isa.h"
#include "fractal/support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace fractal::isa {

constexpr uint16_t kKernelFormatMajor = 1;
constexpr uint16_t kKernelFormatMinor = 0;
constexpr size_t kKernelHeaderBytes = 80;
constexpr size_t kKernelTargetBytes = 16;

struct Symbol {
  enum class Section : uint8_t { Code = 0, Data = 1 };
  std::string name;
  Section section = Section::Code;
  uint32_t value = 0; // instruction index (code) or byte offset (data)
};

struct DebugEntry {
  static constexpr uint32_t kNoNote = UINT32_MAX;
  uint32_t line = 0;
  uint32_t note = kNoNote; // index into KernelBinary::notes: the ONNX node it came from
};

// The debug section in memory: an entry per instruction, kept as runs of instructions with the
// same note on consecutive source lines. A compiled kernel's instructions come from its assembly
// text line after line, a node's at a time, so a run is tens of instructions long; an entry each
// (8 bytes) was BlazeFace front's 170 KiB, a loaded model's largest host allocation after its code
// (peak RSS, issue 6).
class DebugMap {
public:
  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  // The entry of instruction `pc` (< size()).
  DebugEntry operator[](size_t pc) const;
  // Appends the entry of the next instruction.
  void push_back(const DebugEntry &entry);
  void clear() {
    runs_.clear();
    count_ = 0;
  }
  // Drops the room push_back's growth left (up to half of the runs' bytes), once all are in.
  void shrinkToFit() { runs_.shrink_to_fit(); }
  size_t runCount() const { return runs_.size(); }

private:
  struct Run {
    uint32_t firstPc;
    uint32_t firstLine; // instruction firstPc + i is on line firstLine + i
    uint32_t note;
  };
  std::vector<Run> runs_;
  uint32_t count_ = 0;
};

struct KernelBinary {
  std::string target; // chip config name it was built for; "" means any
  std::string source; // source file name (assembly or model)
  std::vector<Instruction> code;
  // The code section as stored (every instruction validated), kept instead of `code` by a reader
  // asked for CodeForm::Encoded: a decoded instruction takes sizeof(Instruction) (72 bytes), so a
  // runtime keeps a model's code encoded, each distinct instruction once, and its simulator
  // decodes what it fetches (sim::FetchCache).
  EncodedCode encoded;
  std::vector<uint8_t> data;
  std::vector<Symbol> symbols;
  DebugMap debug; // empty, or one entry per instruction
  // Each distinct note once: a compiled kernel's hundreds of instructions share a few ONNX node
  // names, which are long ("StatefulPartitionedCall/functional_1/conv2d_17/BiasAdd__137") and
  // were most of a loaded model's host memory when every entry held its own copy.
  std::vector<std::string> notes;

  size_t instructionCount() const { return encoded.empty() ? code.size() : encoded.size(); }
  // The code in its encoded form: `encoded` itself, or `code` encoded.
  EncodedCode encodedCode() const;
  // Instruction `pc` in either form (a copy: decoded when the code is kept encoded); throws
  // std::out_of_range past the end. For messages and reports: a simulator fetches through its
  // cores' sim::FetchCache.
  Instruction instructionAt(size_t pc) const;
  // The note of instruction `pc`: "" when it has none or the kernel has no debug section.
  const std::string &noteOf(size_t pc) const;
  // Appends a debug entry for the next instruction, reusing `note`'s index when it is already
  // known (an empty note means none).
  void addDebug(uint32_t line, const std::string &note);
};

std::vector<uint8_t> serializeKernel(const KernelBinary &kernel);
enum class CodeForm { Decoded, Encoded }; // what parseKernel keeps: `code` or `encoded`
// `name` is the file name used in error messages.
Expected<KernelBinary> parseKernel(const std::vector<uint8_t> &bytes, const std::string &name,
                                   CodeForm form = CodeForm::Decoded);
// The same over bytes held elsewhere (a package's kernel section), read in place.
Expected<KernelBinary> parseKernel(const uint8_t *bytes, size_t size, const std::string &name,
                                   CodeForm form = CodeForm::Decoded);
Expected<KernelBinary> readKernelFile(const std::string &path);
Status writeKernelFile(const std::string &path, const KernelBinary &kernel);

} // namespace fractal::isa
