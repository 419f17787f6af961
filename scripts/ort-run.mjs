// The reference: runs an ONNX model on ONNX Runtime (CPU, one thread) with .npy inputs and writes
// each output as OUTDIR/<name>.npy (the file names `fractal run` uses). Optionally times N runs.
//
//   node scripts/ort-run.mjs MODEL.onnx OUTDIR NAME=FILE.npy ... [--time N] [--by-index]
//
// --by-index names the files by output position instead (OUTDIR/0.npy, 1.npy, ...): two names can
// become one file name (`fractal verify` keeps every intermediate tensor of a model).
//
// ONNX Runtime comes from npm: `npm install --ignore-scripts --prefix DIR onnxruntime-node@1.30.0`,
// found through NODE_PATH or ./node_modules.
import fs from 'node:fs';
import path from 'node:path';
import { ort, readNpy, writeNpy } from './npy.mjs';

const args = process.argv.slice(2);
const timeAt = args.indexOf('--time');
const repeats = timeAt >= 0 ? Number(args.splice(timeAt, 2)[1]) : 0;
const byIndexAt = args.indexOf('--by-index');
const byIndex = byIndexAt >= 0 && args.splice(byIndexAt, 1).length > 0;
const [model, outDir, ...inputs] = args;
const feeds = {};
for (const item of inputs) {
  const eq = item.lastIndexOf('=');
  feeds[item.slice(0, eq)] = readNpy(item.slice(eq + 1));
}
const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
const results = await session.run(feeds);
fs.mkdirSync(outDir, { recursive: true });
session.outputNames.forEach((name, k) =>
  writeNpy(path.join(outDir, (byIndex ? String(k) : name.replace(/[/\\:]/g, '_')) + '.npy'), results[name]));
if (repeats > 0) {
  const times = [];
  for (let i = 0; i < repeats; ++i) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  console.log(`onnxruntime: median ${times[Math.floor(times.length / 2)].toFixed(3)} ms over ${repeats} runs`);
}
