#!/usr/bin/env python3
"""Robustness of the compiler's tiling against chips smaller than the edge chip.

Makes random chip configs from edge by changing the on-chip buffer sizes (L1 16 KiB-1 MiB, L0A and
L0B 8-64 KiB, L0C 16-256 KiB, UB 8-256 KiB) and the core count (1-4), then for each runs the ONNX
backend suite (`fractal conformance --suite all`) and, with --models DIR (the build's assets
directory), `fractal verify` of BlazeFace front and back, PP-OCRv4 det 640 and rec 320 on
astronaut.png and page.png (`fractal prep`) against ONNX Runtime (random inputs make det's
probabilities all but zero, where fp16 alone misses the cosine bound). A config may make an op impossible (a refusal naming
the op, exit 2); what must never happen is a test that fails or errs, a model that compiles but
differs from ONNX Runtime (exit 4), or any other exit (a crash, an internal error). Those are
printed with the config kept in the work directory to reproduce them.

    tests/fuzz/random_configs.py --fractal build/bin/fractal --count 16 --seed 1 --work /tmp/cfz
    tests/fuzz/random_configs.py ... --models build/assets --no-conformance

Not part of ctest (a minute or two per config); what it found became unit tests (the ConvKernel
SmallL1 and SmallL0 cases).
"""
import argparse
import os
import random
import re
import subprocess
import sys

SIZES = {
    'l1': [16, 32, 64, 128, 256, 1024],
    'l0a': [8, 16, 32, 64],
    'l0b': [8, 16, 32, 64],
    'l0c': [16, 32, 64, 128, 256],
    'ub': [8, 16, 32, 64, 256],
}
MODELS = [  # (path under assets, fractal verify's shape flags, input name, fractal prep of an image)
    ('blazeface/ONNX/face_detection_front_128x128_barracuda.onnx', [], 'input:0',
     ['astronaut.png', '--preset', 'blazeface', '--size', '128x128']),
    ('blazeface/ONNX/face_detection_back_256x256_barracuda.onnx', [], 'input:0',
     ['astronaut.png', '--preset', 'blazeface', '--size', '256x256']),
    ('ocr/assets/ch_PP-OCRv4_det_infer.onnx', ['--input-shape', 'x:1,3,640,640'], 'x',
     ['page.png', '--preset', 'ppocr', '--size', '640x640']),
    ('ocr/assets/ch_PP-OCRv4_rec_infer.onnx', ['--input-shape', 'x:1,3,48,320'], 'x',
     ['page.png', '--preset', 'ppocr-rec', '--size', '320x48']),
]


def make_config(edge, rng):
    text, picked = edge, []
    for buf, kib in SIZES.items():
        v = rng.choice(kib)
        picked.append(f'{buf}={v}K')
        text, n = re.subn(r'(\n  %s:\s*\{size_bytes: )[^,]*,' % buf, r'\g<1>%d,' % (v * 1024), text)
        assert n == 1, buf
    cores = rng.choice([1, 2, 3, 4])
    picked.append(f'cores={cores}')
    text, n = re.subn(r'(\n  cores:\s*)\d+', r'\g<1>%d' % cores, text)
    assert n == 1
    return text, ' '.join(picked)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--fractal', required=True)
    ap.add_argument('--edge', default=os.path.join(os.path.dirname(__file__), '../../configs/edge.yaml'))
    ap.add_argument('--count', type=int, default=8)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--work', required=True)
    ap.add_argument('--models', help='the build\'s assets directory: also verify the four models')
    ap.add_argument('--no-conformance', action='store_true')
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    edge = open(args.edge).read()
    rng = random.Random(args.seed)
    bad = 0
    inputs = []
    for i, (_, _, name, prep) in enumerate(MODELS if args.models else []):
        npy = os.path.join(args.work, f'input-{i}.npy')
        subprocess.run([args.fractal, 'prep', os.path.join(args.models, 'images', prep[0]), *prep[1:], '-o', npy],
                       check=True, capture_output=True)
        inputs.append(f'{name}={npy}')
    for i in range(args.count):
        text, what = make_config(edge, rng)
        path = os.path.join(args.work, f'config-{args.seed}-{i}.yaml')
        with open(path, 'w') as f:
            f.write(text)
        if not args.no_conformance:
            r = subprocess.run([args.fractal, 'conformance', '--suite', 'all', '--target', path, '--jobs', '2'],
                               capture_output=True, text=True)
            rows = [line.split('|') for line in r.stdout.splitlines() if re.match(r'\| (node|pytorch|simple)', line)]
            passed, failed, errors = (sum(int(row[c]) for row in rows) for c in (3, 4, 6))
            ok = r.returncode == 0 and rows and failed == 0 and errors == 0
            print(f'{path} ({what}): backend tests {passed} pass, {failed} fail, {errors} error'
                  + ('' if ok else f'  <-- rc {r.returncode}'))
            bad += not ok
        for (model, shape, _, _), given in zip(MODELS, inputs):
            r = subprocess.run([args.fractal, 'verify', os.path.join(args.models, model), *shape, '-i', given,
                                '--target', path], capture_output=True, text=True)
            first = next((line.strip() for line in r.stderr.splitlines() if line.startswith('  ')), '')
            verdict = {0: 'matches ONNX Runtime', 2: 'refused: ' + first[:140]}.get(r.returncode)
            print(f'  {os.path.basename(model)}: {verdict or "exit %d <--" % r.returncode}')
            if verdict is None:
                print(r.stdout[-2000:], r.stderr[-2000:])
                bad += 1
    print(f'{args.count} config(s), {bad} problem(s)')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
