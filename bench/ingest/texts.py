#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Chat texts for the ingest and search benchmarks, one message a line, from a fixed seed: half
# real chat lines (../shared/data/corpora), half generated sales talk from bench/scan/gen_data.py
# (names, phone numbers, products, prices; 1.5% carry a violation, 1.5% personal data).
"""usage: texts.py --out FILE --lines N [--shared DIR] [--seed N]

Cached: a rerun with the same inputs does nothing. Without the shared folder the texts are
generated sales lines only, and a line saying so goes to standard error.
"""

import argparse
import hashlib
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'scan'))
import gen_data  # noqa: E402  (the scan benchmark's generator: one recipe for both)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', required=True)
    ap.add_argument('--lines', type=int, required=True)
    ap.add_argument('--shared', default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                     '../../../shared/data'))
    ap.add_argument('--seed', type=int, default=20261122)
    args = ap.parse_args()

    corpora = os.path.join(args.shared, 'corpora')
    sources = sorted(os.path.join(corpora, n) for n in os.listdir(corpora)
                     if n.endswith('.txt')) if os.path.isdir(corpora) else []
    key = hashlib.sha256()
    key.update(('%d %d\n' % (args.lines, args.seed)).encode())
    for p in [__file__, gen_data.__file__]:
        with open(p, 'rb') as f:
            key.update(f.read())
    for p in sources:
        key.update(('%s %d\n' % (os.path.basename(p), os.path.getsize(p))).encode())
    stamp = args.out + '.stamp'
    if os.path.isfile(stamp) and os.path.isfile(args.out) and \
            open(stamp).read().strip() == key.hexdigest():
        return
    real = []
    for p in sources:
        real += gen_data.read_lines(p)
    if not real:
        print('texts.py: %s has no corpora: generated sales lines only' % corpora, file=sys.stderr)
    rng = random.Random(args.seed)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w', encoding='utf-8', newline='\n') as f:
        for _ in range(args.lines):
            line = rng.choice(real) if real and rng.random() < 0.5 else gen_data.sales_line(rng)
            f.write(line.replace('\r', ' ').replace('\n', ' ') + '\n')
    with open(stamp, 'w') as f:
        f.write(key.hexdigest() + '\n')


if __name__ == '__main__':
    main()
