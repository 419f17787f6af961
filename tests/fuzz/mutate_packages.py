#!/usr/bin/env python3
"""Robustness of the package loader, the runtime and the simulator against damaged model packages.

A package's CRC catches a damaged file (PackageTest flips every byte), so this mutates what a CRC
cannot: packages whose payload was changed and whose header was then made valid again, as a
buggy or hostile producer would write them. Compiles ONNX backend-suite models (Debian
libonnx-testdata) to packages once, then for each mutant changes the payload (an integer or enum
field through protoc's text form: offsets, sizes, shapes, tensor and kernel indices, block_dim,
segment ranges, host-op attributes; bytes of a kernel binary: its header, its instructions, its
debug map, with the binary's own CRC made valid again; or raw payload bytes), recomputes the
header's CRC and size, and runs `fractal info`
and `fractal run --random-inputs` in both modes on it. Fractal must answer `info` with exit 0 or
2 (a malformed package, named) and `run` with 0, 2 or 3 (the simulated device stopped on a
fault: an illegal instruction, an access outside a buffer, a deadlock, a kernel that does not
end); anything else (a signal, an internal error, a timeout) is printed with the mutant kept in
the work directory to reproduce it.

    tests/fuzz/mutate_packages.py --fractal build/bin/fractal --count 1000 --seed 1 --work /tmp/pkgfuzz
    tests/fuzz/mutate_packages.py --filter 'conv|gather' ...   # only models whose test name matches

Not part of ctest (minutes, random); what it finds becomes unit tests (PackageTest, RuntimeTest).
Needs protoc (protobuf-compiler).
"""
import os
import random
import re
import struct
import subprocess
import sys
import zlib

from mutate_models import fuzz_arguments, run, run_in_both_modes, suite_models
from mutate_models import mutate_bytes as damage  # 1..4 bytes replaced, bits flipped or deleted

PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'package', 'proto')
HEADER = struct.Struct('<8sIIQ')  # magic, format version, CRC-32 of the payload, payload size
INTEGER_FIELD = re.compile(r'^(\s*)(\w+): (-?\d+)$')
ENUM_FIELD = re.compile(r'^(\s*)(dtype|kind): ([A-Z_0-9]+)$')
KERNEL_BYTES = re.compile(r'^(\s*)binary: "(.*)"$')
ENUM_VALUES = {'dtype': [f'DT_{t}' for t in ('UNDEFINED', 'FLOAT32', 'FLOAT16', 'INT64', 'INT32', 'INT8', 'BOOL',
                                             'UINT8', 'INT16', 'UINT16', 'UINT32', 'UINT64', 'FLOAT64')],
               'kind': ['TK_ACTIVATION', 'TK_INPUT', 'TK_OUTPUT', 'TK_CONSTANT']}


def protoc(mode, data):
    r = subprocess.run(['protoc', f'--proto_path={PROTO_DIR}', f'--{mode}=fractal.pkgproto.Package',
                        'fractal_package.proto'], input=data, capture_output=True)
    return r.stdout if r.returncode == 0 else None


def unescape(text):
    """Bytes of a protoc text-format string literal (C escapes: octal, \\n, \\t, \\r, quotes)."""
    out, i = bytearray(), 0
    simple = {'n': 10, 't': 9, 'r': 13, '"': 34, "'": 39, '\\': 92}
    while i < len(text):
        c = text[i]
        if c != '\\':
            out += c.encode('latin-1')
            i += 1
        elif text[i + 1] in simple:
            out.append(simple[text[i + 1]])
            i += 2
        else:
            j = i + 1
            while j < len(text) and j < i + 4 and text[j] in '01234567':
                j += 1
            out.append(int(text[i + 1:j], 8) & 0xff)
            i = j
    return bytes(out)


def escape(data):
    return ''.join(chr(b) if 32 <= b < 127 and chr(b) not in '"\\' else f'\\{b:03o}' for b in data)


def damage_kernel(rng, binary):
    """Mostly bits of its instructions (what the decoder and the simulator see), else any bytes."""
    if len(binary) < 80 or rng.random() < 0.3:
        return damage(rng, binary)
    code, count = struct.unpack_from('<II', binary, 32)
    if count == 0 or code + 16 * count > len(binary):
        return damage(rng, binary)
    b = bytearray(binary)
    for _ in range(rng.randint(1, 3)):
        # an instruction's fields sit in its low bytes: the rest must be zero (reserved bits)
        p = code + 16 * rng.randrange(count) + rng.randrange(8)
        if rng.random() < 0.5:
            b[p] ^= 1 << rng.randrange(8)
        else:
            b[p] = rng.randrange(256)
    return bytes(b)


def resealed_kernel(binary):
    """A kernel binary with its own CRC (offset 72, computed with the field zero) made valid again."""
    if len(binary) < 80:
        return binary
    b = bytearray(binary)
    b[72:76] = bytes(4)
    b[72:76] = struct.pack('<I', zlib.crc32(b))
    return bytes(b)


def mutate_fields(rng, payload):
    text = protoc('decode', payload)
    if text is None:
        return None
    lines = text.decode('latin-1').split('\n')
    kernels = [k for k, line in enumerate(lines) if KERNEL_BYTES.match(line)]
    numbers = [k for k, line in enumerate(lines) if INTEGER_FIELD.match(line) or ENUM_FIELD.match(line)]
    if kernels and rng.random() < 0.4:
        k = rng.choice(kernels)
        m = KERNEL_BYTES.match(lines[k])
        lines[k] = f'{m.group(1)}binary: "{escape(resealed_kernel(damage_kernel(rng, unescape(m.group(2)))))}"'
    elif numbers:
        for _ in range(rng.randint(1, 2)):
            k = rng.choice(numbers)
            m = ENUM_FIELD.match(lines[k])
            if m:
                lines[k] = f'{m.group(1)}{m.group(2)}: {rng.choice(ENUM_VALUES[m.group(2)])}'
                continue
            m = INTEGER_FIELD.match(lines[k])
            v = int(m.group(3))
            new = rng.choice([0, 1, 2, 3, 7, 16, 100, 65535, 65536, v + 1, v - 1, 2 * v, v // 2, v + 32,
                              2**31, 2**32 - 1, 2**32, 2**62, 2**64 - 1, -1, -v])
            lines[k] = f'{m.group(1)}{m.group(2)}: {new}'
    else:
        return None
    return protoc('encode', '\n'.join(lines).encode('latin-1'))


def sealed_package(header, payload):
    """A package file of `payload` with `header`'s magic and version, its CRC and size made valid."""
    magic, version, _, _ = HEADER.unpack_from(header)
    return HEADER.pack(magic, version, zlib.crc32(payload), len(payload)) + payload


def source_packages(a, rng):
    """Packages compiled from up to --sources backend-suite models that compile."""
    models = suite_models(a.filter)
    rng.shuffle(models)
    packages = []
    for model in models:
        if len(packages) == a.sources:
            break
        package = f'{a.work}/source{len(packages)}.fpk'
        if run([a.fractal, 'compile', model, '-o', package], a.timeout)[0] == 0:
            packages.append((model, package))
    return packages


def main():
    a = fuzz_arguments(__doc__, '/tmp/fractal-pkgfuzz', 60,
                       lambda ap: ap.add_argument('--sources', type=int, default=60, help='how many compiled models to mutate'))
    rng = random.Random(a.seed)
    os.makedirs(a.work, exist_ok=True)
    sources = source_packages(a, rng)
    failures = loaded = 0
    for i in range(a.count):
        model, source = rng.choice(sources)
        file = open(source, 'rb').read()
        payload = mutate_fields(rng, file[HEADER.size:]) if rng.random() < 0.8 else damage(rng, file[HEADER.size:])
        if not payload:
            continue
        package = f'{a.work}/p{i}.fpk'
        with open(package, 'wb') as f:
            f.write(sealed_package(file, payload))
        rc, err = run([a.fractal, 'info', package], a.timeout)
        bad = rc not in (0, 2)
        if rc == 0:
            loaded += 1
            refused = run_in_both_modes(a.fractal, package, f'{a.work}/out', a.timeout, lambda rc, err: rc in (0, 2, 3))
            if refused:
                bad, (rc, err) = True, refused
        if bad:
            failures += 1
            print(f'{package} (from {source}, {model}): exit {rc}\n  {err.strip()[-400:]}', flush=True)
            continue
        os.remove(package)
    print(f'{a.count} mutants of {len(sources)} packages, {loaded} loaded, {failures} failure(s)')
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
