#!/usr/bin/env python3
"""Robustness of the importer, the compiler and the simulator against malformed ONNX models.

Takes the ONNX backend suite's models (Debian libonnx-testdata), mutates each (bytes, or integer
fields through protoc's text form: dims, attributes, element types, constant data), compiles the
result with `fractal compile` and runs what compiles with `fractal run --random-inputs` in both
modes. Fractal must answer every mutant with exit 0, 2 (a malformed or unsupported model, named)
or, at run time, 3 for a kernel's own index check (`trap`); anything else (a signal, an internal
error, a timeout) is printed with the mutant kept in the work directory to reproduce it.

    tests/fuzz/mutate_models.py --fractal build/bin/fractal --count 2000 --seed 1 --work /tmp/fuzz
    tests/fuzz/mutate_models.py --filter 'conv|pool' ...   # only models whose test name matches

Not part of ctest (minutes to hours, random); what it found became unit tests (OnnxCheckTest).
Needs protoc (protobuf-compiler) for the field mutations.
"""
import argparse
import glob
import os
import random
import re
import subprocess
import sys

SUITE = '/usr/share/libonnx-testdata/data'
INTEGER_FIELD = re.compile(r'^(\s*)(i|ints|dim_value|elem_type|dims|int64_data|int32_data|data_type|version): (-?\d+)$')


def protoc(mode, data):
    r = subprocess.run(['protoc', '--proto_path=/usr/include', f'--{mode}=onnx.ModelProto', 'onnx/onnx.proto'],
                       input=data, capture_output=True)
    return r.stdout if r.returncode == 0 else None


def mutate_bytes(rng, data):
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        p = rng.randrange(len(b))
        r = rng.random()
        if r < 0.6:
            b[p] = rng.randrange(256)
        elif r < 0.8:
            b[p] ^= 1 << rng.randrange(8)
        else:
            del b[p:p + rng.randint(1, 8)]
    return bytes(b)


def mutate_fields(rng, data):
    text = protoc('decode', data)
    if text is None:
        return None
    lines = text.decode('utf-8', 'replace').split('\n')
    fields = [k for k, line in enumerate(lines) if INTEGER_FIELD.match(line)]
    if not fields:
        return None
    for _ in range(rng.randint(1, 2)):
        k = rng.choice(fields)
        m = INTEGER_FIELD.match(lines[k])
        v = int(m.group(3))
        new = rng.choice([0, 1, -1, 2, 3, v + 1, v - 1, -v, 2 * v, 7, 16, 100, 65536, 2**31, -2**31, 2**62])
        lines[k] = f'{m.group(1)}{m.group(2)}: {new}'
    return protoc('encode', '\n'.join(lines).encode())


def run(cmd, timeout):
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=timeout)
        return r.returncode, r.stderr.decode('utf-8', 'replace')
    except subprocess.TimeoutExpired:
        return 'timeout', ''


def run_in_both_modes(fractal, package, out, timeout, allowed):
    """`fractal run PACKAGE --random-inputs` in functional, then timing mode: the (exit, stderr) of
    the first run whose exit `allowed(exit, stderr)` refuses, else None."""
    for mode in ('functional', 'timing'):
        rc, err = run([fractal, 'run', package, '--random-inputs', '--mode', mode, '--output-dir', out], timeout)
        if not allowed(rc, err):
            return rc, err
    return None


def fuzz_arguments(doc, work, timeout, extra=lambda ap: None):
    """The options both fuzzers take (`extra` adds a fuzzer's own), parsed."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--fractal', default='build/bin/fractal')
    ap.add_argument('--count', type=int, default=500)
    ap.add_argument('--seed', type=int, default=1)
    extra(ap)
    ap.add_argument('--work', default=work)
    ap.add_argument('--timeout', type=int, default=timeout, help='seconds per command')
    ap.add_argument('--filter', default='', help='only source models whose test directory matches this regex')
    return ap.parse_args()


def suite_models(pattern):
    """The backend suite's node and PyTorch models whose test directory matches `pattern`; exits
    when there are none."""
    models = sorted(glob.glob(f'{SUITE}/node/*/model.onnx') + glob.glob(f'{SUITE}/pytorch-*/*/model.onnx'))
    models = [m for m in models if re.search(pattern, os.path.basename(os.path.dirname(m)))]
    if not models:
        sys.exit(f'no models under {SUITE} (install libonnx-testdata)' + (f' matching {pattern!r}' if pattern else ''))
    return models


def main():
    a = fuzz_arguments(__doc__, '/tmp/fractal-fuzz', 120)
    rng = random.Random(a.seed)
    models = suite_models(a.filter)
    os.makedirs(a.work, exist_ok=True)
    failures = compiled = 0
    for i in range(a.count):
        source = rng.choice(models)
        data = open(source, 'rb').read()
        mutant = mutate_fields(rng, data) if rng.random() < 0.5 else mutate_bytes(rng, data)
        if not mutant:
            continue
        model, package = f'{a.work}/m{i}.onnx', f'{a.work}/m{i}.fpk'
        open(model, 'wb').write(mutant)
        rc, err = run([a.fractal, 'compile', model, '-o', package], a.timeout)
        bad = rc not in (0, 2)
        if rc == 0:
            compiled += 1
            refused = run_in_both_modes(a.fractal, package, f'{a.work}/out', a.timeout,
                                        lambda rc, err: rc in (0, 2) or (rc == 3 and 'trap:' in err))
            if refused:
                bad, (rc, err) = True, refused
        if bad:
            failures += 1
            print(f'{model} (from {source}): exit {rc}\n  {err.strip()[-400:]}', flush=True)
            continue
        for f in (model, package):
            if os.path.exists(f):
                os.remove(f)
    print(f'{a.count} mutants, {compiled} compiled, {failures} failure(s)')
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
