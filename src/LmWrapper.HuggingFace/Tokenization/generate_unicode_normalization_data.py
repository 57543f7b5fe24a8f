#!/usr/bin/env python3
"""Regenerates UnicodeNormalizationData.bin from Python's unicodedata.

The .NET runtime's string.Normalize is a silent no-op under InvariantGlobalization (which this
repository and many container apps use), so the tokenizer carries its own normalization tables.
Layout (little-endian int32 unless noted):
  n, then n x (cp << 8 | canonical_combining_class)                      nonzero classes only
  n, then n x (cp, len, len x cp)     full canonical decomposition (NFD), Hangul syllables excluded
  n, then n x (cp, len, len x cp)     full compatibility decomposition (NFKD) where it differs from NFD
  n, then n x (first, second, composite)   primary composites (canonical pairs not excluded)
"""
import struct, sys, unicodedata

out = bytearray()
def i32(v): out.extend(struct.pack('<i', v))

ccc = [(cp, unicodedata.combining(chr(cp))) for cp in range(0x110000) if unicodedata.combining(chr(cp))]
i32(len(ccc)); [i32(cp << 8 | c) for cp, c in ccc]

def is_hangul(cp): return 0xAC00 <= cp <= 0xD7A3
def surrogate(cp): return 0xD800 <= cp <= 0xDFFF

nfd, nfkd, pairs = [], [], []
for cp in range(0x110000):
    if surrogate(cp) or is_hangul(cp):
        continue
    ch = chr(cp)
    d = unicodedata.normalize('NFD', ch)
    if d != ch:
        nfd.append((cp, [ord(x) for x in d]))
    k = unicodedata.normalize('NFKD', ch)
    if k != d:
        nfkd.append((cp, [ord(x) for x in k]))
    dec = unicodedata.decomposition(ch)
    if dec and not dec.startswith('<'):
        parts = [int(x, 16) for x in dec.split()]
        if len(parts) == 2 and unicodedata.normalize('NFC', ch) == ch:
            pairs.append((parts[0], parts[1], cp))
for table in (nfd, nfkd):
    i32(len(table))
    for cp, seq in table:
        i32(cp); i32(len(seq)); [i32(x) for x in seq]
i32(len(pairs))
for a, b, c in pairs:
    i32(a); i32(b); i32(c)
open(sys.argv[1] if len(sys.argv) > 1 else 'UnicodeNormalizationData.bin', 'wb').write(out)
print(unicodedata.unidata_version, len(ccc), len(nfd), len(nfkd), len(pairs), len(out))
