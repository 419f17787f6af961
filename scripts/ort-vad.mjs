// The reference for `fractal vad`: Silero VAD on ONNX Runtime (CPU, one thread) over 16 kHz
// samples, chunk by chunk with its LSTM state carried, sr = 16000; writes the speech probability
// of every chunk.
//
//   node scripts/ort-vad.mjs silero_vad.onnx SAMPLES.npy PROBABILITIES.npy [CHUNK]
//
// SAMPLES.npy: float32 samples, as `fractal vad --samples` writes them; CHUNK: 1536 by default.
import { ort, readNpy, writeNpy } from './npy.mjs';

const [model, samplesFile, outFile, chunkText] = process.argv.slice(2);
const chunk = Number(chunkText || 1536);
const samples = readNpy(samplesFile).data;
const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
const sr = new ort.Tensor('int64', BigInt64Array.from([16000n]), []);
let h = new ort.Tensor('float32', new Float32Array(128), [2, 1, 64]);
let c = new ort.Tensor('float32', new Float32Array(128), [2, 1, 64]);
const chunks = Math.floor(samples.length / chunk);
const speech = new Float32Array(chunks);
for (let k = 0; k < chunks; ++k) {
  const input = new ort.Tensor('float32', samples.slice(k * chunk, (k + 1) * chunk), [1, chunk]);
  const out = await session.run({ input, sr, h, c });
  speech[k] = out.output.data[0];
  h = out.hn;
  c = out.cn;
}
writeNpy(outFile, new ort.Tensor('float32', speech, [chunks]));
