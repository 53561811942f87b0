#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Turns data/lexicon/default.txt into a C array: the lexicon a new tenant starts with.
# Bytes, not a string literal: C99 compilers need not accept literals past 4095 bytes.
import sys

out, src = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
with open(out, "w") as f:
    f.write("/* Generated from data/lexicon/default.txt by embed_lexicon.py: do not edit. */\n")
    f.write("#include <stddef.h>\n\n")
    f.write("const char wp_ingest__default_lexicon[] = {\n")
    for i in range(0, len(data), 16):
        f.write("    " + ", ".join("%d" % (b if b < 128 else b - 256) for b in data[i:i + 16]) + ",\n")
    f.write("    0\n};\n")
    f.write("const size_t wp_ingest__default_lexicon_len = %d;\n" % len(data))
