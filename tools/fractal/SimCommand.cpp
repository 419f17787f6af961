// `fractal sim`: run a kernel binary (or assembly) on the simulated chip.
#include "ArgParser.h"
#include "Commands.h"

#include "fractal/isa/Assembler.h"
#include "fractal/sim/Simulator.h"
#include "RtlBackend.h"
#include "fractal/support/File.h"

#include <cerrno>
#include <cstdio>
#include <iostream>

namespace fractal::cli {

namespace {

Expected<isa::KernelBinary> loadKernel(const std::string &path, const isa::Defines &defines) {
  if (path.size() > 2 && path.compare(path.size() - 2, 2, ".s") == 0) {
    Expected<std::string> text = readTextFile(path);
    if (!text)
      return text.takeError();
    return isa::assemble(*text, path, defines);
  }
  if (!defines.empty())
    return Error::badInput("-D applies to assembly (.s) input, not to the binary " + path);
  return isa::readKernelFile(path);
}

struct DumpRequest {
  uint64_t address, length;
  std::string file;
};

} // namespace

int runSimCommand(const Args &args) {
  std::string input, target = "edge", mode = "timing", blocks = "1", report, trace, watchdog;
  std::vector<std::string> inits, allocs, dumps, kernelArgs, defineArgs;
  ArgParser parser("fractal sim", "run a kernel on the simulated NPU");
  parser.positional("KERNEL", "kernel binary (.bin) or assembly (.s)", &input);
  parser.option("--target", "NAME|FILE", "chip: preset (edge, cloud) or config file (default: edge)", &target);
  parser.option("--mode", "MODE", "functional (results only), timing (default), or rtl (timing with the "
                "cube and vector tiles run on their Verilated RTL)", &mode);
  parser.option("--blocks", "N", "number of blocks (block_dim) to launch (default: 1)", &blocks);
  parser.list("--gm-init", "FILE@ADDR", "allocate GM at ADDR and fill it with FILE's bytes", &inits);
  parser.list("--gm-alloc", "ADDR:LEN", "allocate LEN zeroed GM bytes at ADDR", &allocs);
  parser.list("--gm-dump", "ADDR:LEN=FILE", "after the run, write GM [ADDR, +LEN) to FILE "
              "(allocated zeroed first if needed)", &dumps);
  parser.list("--arg", "VALUE", "kernel argument (64-bit word at the `args` special register)", &kernelArgs);
  parser.list("--define", "NAME=VALUE", "for .s input: define a symbol (overrides its .equ)", &defineArgs, "-D");
  parser.option("--report", "FILE.json", "write the run report (docs/simulator.md)", &report);
  parser.option("--trace", "FILE.json", "write a Perfetto/Chrome trace (one lane per pipe per core)", &trace);
  bool checkRaces = false;
  parser.flag("--check-races", "stop on a data race: two pipes touching the same bytes (one "
              "writing) with no flag or barrier between them", &checkRaces);
  parser.option("--watchdog", "N", "stop after N cycles (timing) or N scalar instructions or cycles of a "
                "pipe's work per core (functional); default: 200 simulated ms of the chip's clock (136000000 on "
                "edge)", &watchdog);
  parser.epilog("EXIT CODES: 0 ok, 2 bad input, 3 the device faulted (the message names core, pipe,\n"
                "pc and instruction)\n\nEXAMPLE:\n  fractal sim tests/sim/kernels/gemm_fp16.s "
                "--gm-init a.bin@0x100000 --gm-init b.bin@0x200000 \\\n"
                "      --gm-dump 0x300000:16384=c.bin --arg 0x100000 --arg 0x200000 --arg 0x300000");
  if (std::optional<int> exit = parseArguments(parser, args))
    return *exit;
  auto usage = [&](const std::string &why) {
    return reportError(Error::badInput("fractal sim: " + why));
  };

  sim::SimOptions options;
  std::unique_ptr<sim::TileBackend> rtlBackend;
  if (mode == "functional") {
    options.mode = sim::SimMode::Functional;
  } else if (mode == "rtl") {
    options.mode = sim::SimMode::Rtl;
    rtlBackend = sim::makeRtlBackend();
    options.backend = rtlBackend.get();
  } else if (mode != "timing") {
    return usage("--mode must be functional, timing or rtl, got '" + mode + "'");
  }
  uint64_t n = 0;
  if (!parseUnsigned(blocks, n) || n == 0 || n > 65535)
    return usage("--blocks must be 1..65535, got '" + blocks + "'");
  options.blockDim = static_cast<int64_t>(n);
  if (!watchdog.empty() && (!parseUnsigned(watchdog, options.watchdog) || options.watchdog == 0))
    return usage("--watchdog must be a positive integer, got '" + watchdog + "'");
  options.trace = !trace.empty();
  options.checkRaces = checkRaces;

  Expected<ChipConfig> config = loadChipConfig(target);
  if (!config)
    return reportError(config.error());
  isa::Defines defines;
  for (const std::string &d : defineArgs)
    if (Status s = isa::parseDefine(d, defines); !s)
      return reportError(s.error());
  Expected<isa::KernelBinary> kernel = loadKernel(input, defines);
  if (!kernel)
    return reportError(kernel.error());

  sim::Simulator simulator(*config);
  sim::GlobalMemory &gm = simulator.gm();
  for (const std::string &spec : inits) {
    size_t at = spec.rfind('@');
    uint64_t address = 0;
    if (at == std::string::npos || !parseUnsigned(spec.substr(at + 1), address))
      return usage("--gm-init expects FILE@ADDR, got '" + spec + "'");
    std::string file = spec.substr(0, at);
    Expected<std::vector<uint8_t>> bytes = readBinaryFile(file);
    if (!bytes)
      return reportError(bytes.error());
    if (bytes->empty())
      return usage("--gm-init file " + file + " is empty");
    if (Status s = gm.allocate(address, bytes->size(), file); !s)
      return reportError(s.error());
    if (Status s = gm.write(address, bytes->data(), bytes->size()); !s)
      return reportError(s.error());
  }
  for (const std::string &spec : allocs) {
    size_t colon = spec.find(':');
    uint64_t address = 0, length = 0;
    if (colon == std::string::npos || !parseUnsigned(spec.substr(0, colon), address) ||
        !parseUnsigned(spec.substr(colon + 1), length))
      return usage("--gm-alloc expects ADDR:LEN, got '" + spec + "'");
    if (Status s = gm.allocate(address, length, "--gm-alloc " + spec); !s)
      return reportError(s.error());
  }
  std::vector<DumpRequest> dumpRequests;
  for (const std::string &spec : dumps) {
    size_t colon = spec.find(':'), eq = spec.find('=');
    DumpRequest d;
    if (colon == std::string::npos || eq == std::string::npos || eq < colon ||
        !parseUnsigned(spec.substr(0, colon), d.address) ||
        !parseUnsigned(spec.substr(colon + 1, eq - colon - 1), d.length) || d.length == 0 ||
        eq + 1 >= spec.size())
      return usage("--gm-dump expects ADDR:LEN=FILE, got '" + spec + "'");
    d.file = spec.substr(eq + 1);
    std::string why;
    if (!gm.find(d.address))
      if (Status s = gm.allocate(d.address, d.length, "--gm-dump " + d.file); !s)
        return reportError(s.error());
    dumpRequests.push_back(d);
  }

  sim::LaunchInfo launch;
  Expected<uint64_t> dataBase = simulator.loadKernelData(*kernel, input);
  if (!dataBase)
    return reportError(dataBase.error());
  launch.dataBase = *dataBase;
  if (!kernelArgs.empty()) {
    std::vector<uint64_t> words;
    for (const std::string &a : kernelArgs) {
      uint64_t v = 0;
      if (!parseUnsigned(a, v))
        return usage("--arg expects an unsigned integer (decimal or 0x hex), got '" + a + "'");
      words.push_back(v);
    }
    uint64_t address = gm.findFree(words.size() * 8, 512);
    if (Status s = gm.allocate(address, words.size() * 8, "kernel arguments"); !s)
      return reportError(s.error());
    if (Status s = gm.write(address, words.data(), words.size() * 8); !s)
      return reportError(s.error());
    launch.args = address;
  }

  Expected<sim::RunResult> result = simulator.run(*kernel, launch, options);
  if (!result)
    return reportError(result.error());

  for (const DumpRequest &d : dumpRequests) {
    std::vector<uint8_t> bytes(d.length);
    if (Status s = gm.read(d.address, bytes.data(), d.length); !s)
      return reportError(s.error().withContext("--gm-dump " + d.file));
    if (Status s = writeFileAtomically(d.file, bytes); !s)
      return reportError(s.error());
  }
  if (!report.empty())
    if (Status s = writeFileAtomically(report, sim::runReportJson(*result, *config)); !s)
      return reportError(s.error());
  if (!trace.empty())
    if (Status s = writeFileAtomically(trace, sim::traceJson(*result, *config, *kernel)); !s)
      return reportError(s.error());

  const sim::RunResult &r = *result;
  std::printf("%s: %s mode on %s, %lld block(s): %llu instructions", input.c_str(),
              sim::simModeName(r.mode), config->name.c_str(), (long long)r.blockDim,
              (unsigned long long)r.instructions);
  if (r.mode != sim::SimMode::Functional) {
    uint64_t mBusy = 0, macs = 0;
    for (const sim::CoreStats &c : r.cores) {
      mBusy += c.pipes[2].busyCycles;
      macs += c.macs;
    }
    std::printf(", %llu cycles (%.3f us at %g MHz)", (unsigned long long)r.cycles, r.latencyUs,
                config->chip.clockMhz);
    if (macs)
      std::printf(", cube busy %.1f%%",
                  100.0 * mBusy / (double(r.cycles) * std::min<int64_t>(r.blockDim, config->chip.cores)));
  }
  if (r.mode == sim::SimMode::Rtl) {
    uint64_t onRtl = 0, mismatches = 0;
    for (const sim::CoreStats &c : r.cores) {
      onRtl += c.rtlInstructions;
      mismatches += c.rtlCycleMismatches;
    }
    std::printf(", %llu instructions on the RTL tiles (%llu cycle mismatches)",
                (unsigned long long)onRtl, (unsigned long long)mismatches);
  }
  std::printf(", %.3f s wall\n", r.wallSeconds);
  return 0;
}

} // namespace fractal::cli
