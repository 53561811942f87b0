#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Search benchmark queries from the benchmark's own texts, from a fixed seed: runs of 1, 2 and
# 4 Chinese characters. Most are taken at random places in the text (so common words come up
# as often as people type them); a fifth are drawn from the distinct runs (rare ones too).
"""usage: queries.py --texts FILE --out FILE [--per-length N] [--seed N]"""

import argparse
import random
import re


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--texts', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--per-length', type=int, default=50)
    ap.add_argument('--seed', type=int, default=20261122)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with open(args.texts, encoding='utf-8') as f:
        lines = [line.rstrip('\n') for line in f][:200000]
    runs = [r for line in lines for r in re.findall('[\u4e00-\u9fff]+', line)]
    out = []
    for n in (1, 2, 4):
        cands = [r for r in runs if len(r) >= n]
        picked = []
        while len(picked) < args.per_length - args.per_length // 5:
            r = rng.choice(cands)
            i = rng.randrange(len(r) - n + 1)
            if r[i:i + n] not in picked:
                picked.append(r[i:i + n])
        distinct = sorted({r[i:i + n] for r in cands[:50000] for i in range(len(r) - n + 1)}
                          - set(picked))
        out += picked + rng.sample(distinct, args.per_length // 5)
    with open(args.out, 'w', encoding='utf-8') as f:
        f.write('\n'.join(out) + '\n')


if __name__ == '__main__':
    main()
