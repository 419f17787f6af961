#include "fractal/sim/CoreState.h"

#include "fractal/isa/Encoding.h"
#include "fractal/sim/Fault.h"

#include <sstream>

namespace fractal::sim {

const char *faultKindName(FaultKind kind) {
  switch (kind) {
  case FaultKind::OutOfBounds: return "out-of-bounds";
  case FaultKind::Misaligned: return "misaligned";
  case FaultKind::GmAccess: return "gm-access";
  case FaultKind::BadOperand: return "bad-operand";
  case FaultKind::FlagSetTwice: return "flag-set-twice";
  case FaultKind::Deadlock: return "deadlock";
  case FaultKind::Watchdog: return "watchdog";
  case FaultKind::BadBranch: return "bad-branch";
  case FaultKind::DataRace: return "data-race";
  case FaultKind::Trap: return "trap";
  case FaultKind::Internal: return "internal-error";
  }
  return "?";
}

std::string Fault::message() const {
  std::ostringstream os;
  os << faultKindName(kind) << ": ";
  if (core >= 0) {
    os << "core " << core;
    if (block >= 0)
      os << " (block " << block << ")";
  }
  if (!pipe.empty())
    os << ", pipe " << pipe;
  if (pc >= 0)
    os << ", pc " << pc << " `" << instruction << "`";
  if (!note.empty())
    os << " [" << note << "]";
  if (core >= 0)
    os << ": ";
  os << cause;
  if (cycle)
    os << " (cycle " << cycle << ")";
  return os.str();
}

BufferKind bufferKindOf(isa::Space space) {
  switch (space) {
  case isa::Space::L1: return BufferKind::L1;
  case isa::Space::L0A: return BufferKind::L0A;
  case isa::Space::L0B: return BufferKind::L0B;
  case isa::Space::L0C: return BufferKind::L0C;
  case isa::Space::UB: return BufferKind::UB;
  case isa::Space::GM: break;
  }
  throw FaultError(FaultKind::BadOperand, "GM is not a local buffer");
}

const isa::Instruction &FetchCache::fill(const isa::KernelBinary &kernel, int64_t pc, uint32_t word) {
  if (tags_.empty()) {
    tags_.assign(kLines, -1);
    lines_.resize(kLines);
  }
  const size_t line = word % kLines;
  lines_[line] = isa::decodeValidInstruction(kernel.encoded.at(static_cast<size_t>(pc)));
  tags_[line] = word;
  return lines_[line];
}

CoreState::CoreState(const ChipConfig &config, int coreId) : config_(&config), coreId_(coreId) {
  for (int i = 0; i < kNumBufferKinds; ++i) {
    const BufferSpec &spec = config.buffers[i];
    buffers_[i] = LocalBuffer{static_cast<BufferKind>(i), spec.alignmentBytes,
                              ZeroedBytes(static_cast<size_t>(spec.sizeBytes))};
  }
}

uint8_t *CoreState::local(isa::Space space, uint64_t address, uint64_t length, const char *what) {
  LocalBuffer &b = buffer(bufferKindOf(space));
  auto hex = [](uint64_t v) {
    std::ostringstream os;
    os << "0x" << std::hex << v;
    return os.str();
  };
  if (address % static_cast<uint64_t>(b.alignment) != 0)
    throw FaultError(FaultKind::Misaligned,
                     std::string(what) + ": " + isa::spaceName(space) + " address " + hex(address) +
                         " is not a multiple of " + std::to_string(b.alignment));
  if (address > b.bytes.size() || length > b.bytes.size() - address)
    throw FaultError(FaultKind::OutOfBounds,
                     std::string(what) + ": " + isa::spaceName(space) + " access [" + hex(address) +
                         ", +" + std::to_string(length) + ") exceeds the " +
                         std::to_string(b.bytes.size()) + "-byte buffer");
  return b.bytes.data() + address;
}

} // namespace fractal::sim
