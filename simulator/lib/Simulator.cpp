// The device and the process-wide SystemC host. SystemC 2.3 has one simulation context per
// process, can elaborate only before the first sc_start, and cannot restart after sc_stop. So the
// host keeps one elaboration (cores, L2, DRAM) for the current chip config and reuses it run after
// run; a config change or a fault (which stops the simulation) makes it elaborate again in a fresh
// context. The old context is deliberately leaked: SystemC cannot delete a context safely.
#include "fractal/sim/Simulator.h"

#include "AiCore.h"
#include "FunctionalCore.h"
#include "HostThreads.h"
#include "MemorySystem.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace fractal::sim {

using namespace detail;

const char *simModeName(SimMode mode) {
  switch (mode) {
  case SimMode::Functional: return "functional";
  case SimMode::Timing: return "timing";
  case SimMode::Rtl: return "rtl";
  }
  return "?";
}

const char *pipeLabel(int pipeIndex) {
  static const char *names[kNumPipes] = {"s", "v", "m", "mte1", "mte2", "mte3", "fix"};
  return pipeIndex >= 0 && pipeIndex < kNumPipes ? names[pipeIndex] : "?";
}

int pipeIndexOf(isa::Pipe pipe) {
  switch (pipe) {
  case isa::Pipe::S: return 0;
  case isa::Pipe::V: return 1;
  case isa::Pipe::M: return 2;
  case isa::Pipe::MTE1: return 3;
  case isa::Pipe::MTE2: return 4;
  case isa::Pipe::MTE3: return 5;
  case isa::Pipe::FIX: return 6;
  case isa::Pipe::ALL: break;
  }
  return 0;
}

namespace {

struct Elaboration {
  explicit Elaboration(const ChipConfig &c) : config(c) {
    dram = std::make_unique<Dram>("dram", config);
    l2 = std::make_unique<L2Cache>("l2", config);
    l2->dram.bind(dram->socket);
    for (int i = 0; i < config.chip.cores; ++i) {
      cores.push_back(std::make_unique<AiCore>(("core" + std::to_string(i)).c_str(), config, i));
      cores.back()->gmSocket.bind(l2->cores);
    }
  }
  ChipConfig config; // the modules keep references into it
  std::unique_ptr<Dram> dram;
  std::unique_ptr<L2Cache> l2;
  std::vector<std::unique_ptr<AiCore>> cores;
  sc_core::sc_event syncReached; // sync_all (RunContext)
};

class SystemCHost {
public:
  static SystemCHost &instance() {
    static SystemCHost host;
    return host;
  }
  std::mutex mutex;

  // `key` tells configs apart (the config as YAML, made once per Simulator: not per run).
  Elaboration &prepare(const ChipConfig &config, const std::string &key) {
    if (elaboration_ && usable_ && key == key_)
      return *elaboration_;
    if (elaboration_ && usable_)
      elaboration_.reset(); // a clean context: its modules can be destroyed
    else
      elaboration_.release(); // stopped mid-run: leave it with its leaked context
    freshContext();
    elaboration_ = std::make_unique<Elaboration>(config);
    key_ = key;
    usable_ = true;
    return *elaboration_;
  }
  void poison() { usable_ = false; }

private:
  SystemCHost() {
    // No banner on stdout, no "simulation stopped" notes: the CLI's output is for the user.
    setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
  }
  static void freshContext() {
    sc_core::sc_curr_simcontext = new sc_core::sc_simcontext;
    sc_core::sc_default_global_context = sc_core::sc_curr_simcontext;
    sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
    sc_core::sc_report_handler::set_actions(sc_core::SC_WARNING, sc_core::SC_DO_NOTHING);
  }
  std::unique_ptr<Elaboration> elaboration_;
  std::string key_;
  bool usable_ = false;
};

} // namespace

uint64_t watchdogCycles(const ChipConfig &config, uint32_t milliseconds) {
  // (At most 4.3e9 ms x 1000 x 100,000 MHz, the config's largest clock: 4.3e17 cycles.)
  return std::max<uint64_t>(1, static_cast<uint64_t>(double(milliseconds) * 1000.0 * config.chip.clockMhz));
}

Simulator::Simulator(ChipConfig config)
    : config_(std::move(config)), gm_(static_cast<uint64_t>(config_.chip.gmSizeBytes)),
      configKey_(chipConfigToYaml(config_)), l2Lines_(std::make_unique<L2Lines>()) {
  for (int i = 0; i < config_.chip.cores; ++i)
    cores_.push_back(std::make_unique<CoreState>(config_, i));
}

Simulator::~Simulator() = default;

RunResult Simulator::newResult(const SimOptions &options) const {
  RunResult result;
  result.mode = options.mode;
  result.config = config_.name;
  result.blockDim = options.blockDim;
  result.cores.assign(cores_.size(), CoreStats{});
  return result;
}

void Simulator::setUp(detail::RunSetup &run, const isa::KernelBinary &kernel, const LaunchInfo &launch,
                      const SimOptions &options) {
  run.kernel = &kernel;
  run.gm = &gm_;
  run.launch = launch;
  run.launch.blockDim = options.blockDim;
  run.blockDim = options.blockDim;
  run.numCores = static_cast<int>(cores_.size());
  run.instructionBudget = options.watchdog ? options.watchdog : watchdogCycles(config_, kDefaultWatchdogMs);
}

Expected<uint64_t> Simulator::loadKernelData(const isa::KernelBinary &kernel,
                                             const std::string &name) {
  if (kernel.data.empty())
    return uint64_t(0);
  uint64_t address = gm_.findFree(kernel.data.size(), 512);
  if (address == 0)
    return Error::badInput("no room in device memory for the " +
                           std::to_string(kernel.data.size()) + "-byte data section of " + name);
  if (Status s = gm_.allocate(address, kernel.data.size(), name + " .data"); !s)
    return s.error();
  if (Status s = gm_.write(address, kernel.data.data(), kernel.data.size()); !s)
    return s.error();
  return address;
}

Expected<RunResult> Simulator::run(const isa::KernelBinary &kernel, const LaunchInfo &launch,
                                   const SimOptions &options) {
  if (!kernel.target.empty() && kernel.target != config_.name)
    return Error::badInput("kernel " + kernel.source + " was built for target '" + kernel.target +
                           "', the device is '" + config_.name + "'");
  if (options.blockDim < 1)
    return Error::badInput("block_dim must be at least 1, got " + std::to_string(options.blockDim));
  if (kernel.instructionCount() == 0)
    return Error::badInput("kernel " + kernel.source + " has no instructions");
  if (options.mode == SimMode::Rtl && !options.backend)
    return Error::badInput("rtl mode needs the RTL tiles (this program was built without them)");

  const bool fastFunctional = options.mode == SimMode::Functional && !options.checkRaces && !options.trace;
  if (launch.entryPc != 0 || launch.endPc != 0) {
    if (!fastFunctional)
      return Error::badInput("kernel " + kernel.source + ": a segment of a kernel runs only in functional mode "
                             "without race checks or traces");
    if (launch.entryPc >= launch.endPc || launch.endPc > kernel.instructionCount())
      return Error::badInput("kernel " + kernel.source + ": segment [" + std::to_string(launch.entryPc) + ", " +
                             std::to_string(launch.endPc) + ") is not inside its " +
                             std::to_string(kernel.instructionCount()) + " instructions");
  }
  std::lock_guard<std::mutex> deviceLock(runMutex_);
  if (fastFunctional)
    return runFunctional(kernel, launch, options);

  SystemCHost &host = SystemCHost::instance();
  std::lock_guard<std::mutex> lock(host.mutex);
  Elaboration &elab = host.prepare(config_, configKey_);
  // This device's L2 lines for the run (the elaboration is shared by every device of the config).
  elab.l2->swapLines(*l2Lines_);
  struct LinesBack {
    L2Cache &l2;
    L2Lines &lines;
    ~LinesBack() { l2.swapLines(lines); }
  } linesBack{*elab.l2, *l2Lines_};
  if (!options.warmL2)
    elab.l2->empty();
  elab.l2->resetCounters();
  elab.dram->reset();

  RunResult result = newResult(options);
  RunContext ctx;
  setUp(ctx, kernel, launch, options);
  const uint64_t watchdog = ctx.instructionBudget; // timing mode: cycles; functional: instructions
  ctx.timed = options.mode != SimMode::Functional;
  ctx.backend = options.mode == SimMode::Rtl ? options.backend : nullptr;
  ctx.checkRaces = options.checkRaces;
  ctx.trace = options.trace;
  ctx.traceOut = &result.trace;
  ctx.start = sc_core::sc_time_stamp();
  ctx.syncReached = &elab.syncReached;
  // Highest core first: SystemC (2.3) triggers the events notified in a delta cycle last to first,
  // so core 0 wakes first and the cores contend for the L2 and DRAM in their order, as in the
  // first run of an elaboration, whose threads start at SystemC's initialization. (Notified
  // lowest first, a later run woke core 1 first, and two contending cores finished in each
  // other's cycles: the same kernel twice in a process, core 0 at 17,855 then 18,983 cycles.)
  for (size_t i = cores_.size(); i-- > 0;)
    elab.cores[i]->launch(&ctx, cores_[i].get(), &result.cores[i]);

  const int activeCores = static_cast<int>(std::min<int64_t>(options.blockDim, ctx.numCores));
  auto wallStart = std::chrono::steady_clock::now();
  if (ctx.timed)
    sc_core::sc_start(sc_core::sc_time(static_cast<double>(watchdog), sc_core::SC_NS));
  else
    sc_core::sc_start();
  result.wallSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count();

  if (!ctx.fault && ctx.finishedCores < activeCores) {
    // Nothing can move (deadlock) or time ran out (watchdog): say what each unit waits for.
    const bool watchdogHit = ctx.timed && sc_core::sc_pending_activity();
    for (auto &core : elab.cores)
      if (std::optional<Fault> blocked = core->describeBlocked()) {
        blocked->kind = watchdogHit ? FaultKind::Watchdog : FaultKind::Deadlock;
        blocked->cause = (watchdogHit ? "no end after " + std::to_string(watchdog) + " cycles; "
                                      : std::string("every unfinished unit is blocked: ")) +
                         blocked->cause;
        if (watchdogHit)
          blocked->cycle = watchdog;
        ctx.fault = *blocked;
        break;
      }
  }
  for (const CoreStats &c : result.cores) {
    result.cycles = std::max(result.cycles, c.finishCycle);
    result.instructions += c.pipes[0].instructions; // every instruction is fetched by the scalar unit
  }
  result.latencyUs = config_.cyclesToMicroseconds(static_cast<double>(result.cycles));
  result.dramBytes = elab.dram->bytesTransferred();
  if (ctx.fault) {
    host.poison(); // the simulation was stopped or is stuck mid-kernel
    result.fault = ctx.fault;
    if (ctx.fault->kind == FaultKind::Internal)
      return Error::internal(ctx.fault->message());
    return Error::deviceFault(ctx.fault->message());
  }
  return result;
}

Expected<RunResult> Simulator::runFunctional(const isa::KernelBinary &kernel,
                                             const LaunchInfo &launch, const SimOptions &options) {
  RunResult result = newResult(options);
  FunctionalCore::Run run;
  setUp(run, kernel, launch, options);
  // Made on the first functional run: their pipe queues (~27 KB a core) are of no use to a
  // device that only times kernels (peak RSS, issue 6).
  if (functionalCores_.empty())
    for (int i = 0; i < config_.chip.cores; ++i)
      functionalCores_.push_back(std::make_unique<FunctionalCore>(config_, i));

  const int activeCores = static_cast<int>(std::min<int64_t>(options.blockDim, run.numCores));
  std::vector<std::optional<Fault>> faults(static_cast<size_t>(activeCores));
  auto runCore = [&](int i) {
    try {
      faults[i] = functionalCores_[i]->run(run, *cores_[i], result.cores[i]);
    } catch (const std::exception &e) { // FunctionalCore reports its own faults; this is a bug
      Fault f;
      f.kind = FaultKind::Internal;
      f.core = i;
      f.cause = std::string("simulator bug: ") + e.what();
      faults[i] = f;
    }
  };
  // Asked once: glibc answers hardware_concurrency() by reading sysfs files, 10 us a call.
  static const int hostCores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int threads = options.hostThreads > 0 ? options.hostThreads : hostCores;
  threads = std::min(threads, activeCores);
  const auto wallStart = std::chrono::steady_clock::now();
  if (threads <= 1) {
    for (int i = 0; i < activeCores; ++i)
      runCore(i);
  } else {
    if (!hostThreads_ || hostThreads_->workers() != threads - 1)
      hostThreads_ = std::make_unique<HostThreads>(threads - 1);
    hostThreads_->run(activeCores, runCore);
  }
  result.wallSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count();
  for (const CoreStats &c : result.cores)
    result.instructions += c.pipes[0].instructions;
  for (std::optional<Fault> &f : faults) // the lowest core's fault, as a sequential run would see
    if (f) {
      result.fault = f;
      if (f->kind == FaultKind::Internal)
        return Error::internal(f->message());
      return Error::deviceFault(f->message());
    }
  return result;
}

} // namespace fractal::sim
