// .npy files as ONNX Runtime tensors, for the reference scripts (ort-run.mjs, ort-vad.mjs).
// ONNX Runtime comes from npm (`npm install --ignore-scripts --prefix DIR onnxruntime-node@1.30.0`),
// found through NODE_PATH or ./node_modules.
import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
export const ort = require('onnxruntime-node');

export function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.readUInt8(0) !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file}: not .npy`);
  const major = buf.readUInt8(6);
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr': '([^']+)'/.exec(header)[1];
  const shape = /'shape': \(([^)]*)\)/.exec(header)[1].split(',').map(s => s.trim()).filter(s => s).map(Number);
  const data = buf.subarray(start + headerLen);
  const copy = new Uint8Array(data).buffer;
  // float16 as its bits (Uint16Array), as onnxruntime-node takes and gives it.
  const types = { '<f8': ['float64', Float64Array], '<f4': ['float32', Float32Array], '<f2': ['float16', Uint16Array], '<i8': ['int64', BigInt64Array],
                  '<i4': ['int32', Int32Array],
                  '|b1': ['bool', Uint8Array], '|i1': ['int8', Int8Array], '|u1': ['uint8', Uint8Array],
                  '<i2': ['int16', Int16Array], '<u2': ['uint16', Uint16Array], '<u4': ['uint32', Uint32Array],
                  '<u8': ['uint64', BigUint64Array] };
  if (!types[descr]) throw new Error(`${file}: dtype ${descr} not supported`);
  const [type, Ctor] = types[descr];
  return new ort.Tensor(type, new Ctor(copy), shape);
}

export function writeNpy(file, tensor) {
  const descrs = { float64: '<f8', float32: '<f4', float16: '<f2', int64: '<i8', int32: '<i4', bool: '|b1', int8: '|i1', uint8: '|u1', int16: '<i2',
                   uint16: '<u2', uint32: '<u4', uint64: '<u8' };
  const dims = tensor.dims.length === 1 ? `${tensor.dims[0]},` : tensor.dims.join(', ');
  let header = `{'descr': '${descrs[tensor.type]}', 'fortran_order': False, 'shape': (${dims}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.writeUInt8(0x93, 0); head.write('NUMPY', 1, 'latin1'); head.writeUInt8(1, 6); head.writeUInt8(0, 7);
  head.writeUInt16LE(header.length, 8);
  const data = Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  const tmp = file + '.tmp';
  fs.writeFileSync(tmp, Buffer.concat([head, Buffer.from(header, 'latin1'), data]));
  fs.renameSync(tmp, file);
}
