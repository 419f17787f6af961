#!/usr/bin/env python3
"""replace_kernel.py IN.fpk KERNEL.bin OUT.fpk: IN with its first kernel's binary replaced by
KERNEL's and the header's CRC and size made valid, as a package written by another tool would be
(a test of what the runtime does with a valid package whose kernel misbehaves). Uses protoc and
the package fuzzer's helpers (tests/fuzz/mutate_packages.py)."""
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'fuzz'))
import mutate_packages as fpk  # noqa: E402

source, kernel, target = sys.argv[1:4]
file = open(source, 'rb').read()
text = fpk.protoc('decode', file[fpk.HEADER.size:]).decode('latin-1')
binary = 'binary: "' + fpk.escape(open(kernel, 'rb').read()) + '"'
text, count = re.subn(r'binary: "[^\n]*"', lambda _: binary, text, count=1)
if count != 1:
    sys.exit(f'{source}: no kernel to replace')
payload = fpk.protoc('encode', text.encode('latin-1'))
with open(target, 'wb') as f:
    f.write(fpk.sealed_package(file, payload))
