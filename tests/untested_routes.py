#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Lists the routes of src/api/routes.c that no test calls (issue 17): a route counts as called
when a file under tests/ or web/tests/ names its method and, within a short distance after it,
its path (with or without /api/v1, any text in place of a {parameter}). Routes tested only
indirectly are listed in tests/routes_untested.txt with the reason. Exit status 1 when a route
is neither called nor listed, or when the list names a route that is gone or now called."""
import os
import re
import sys

root = os.environ.get("WORKPHONE_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..")
os.chdir(root)

# --routes FILE: another route table (lint.sh's check that an uncalled route does fail)
table = sys.argv[sys.argv.index("--routes") + 1] if "--routes" in sys.argv else "src/api/routes.c"
routes = re.findall(r'\{"(GET|POST|PUT|PATCH|DELETE)",\s*"([^"]+)"', open(table).read())
if len(routes) < 50:
    sys.exit("untested_routes: found only %d routes in src/api/routes.c" % len(routes))

texts = []
for top in ("tests", "web/tests"):
    for d, dirs, files in os.walk(top):
        dirs[:] = [x for x in dirs if x not in ("node_modules", "corpus")]
        for f in files:
            if f.endswith((".sh", ".py", ".mjs", ".js", ".c")) and f != "untested_routes.py":
                src = open(os.path.join(d, f), encoding="utf-8", errors="replace").read()
                # comments name routes without calling them
                texts.append("\n".join(l for l in src.split("\n")
                                       if not re.match(r"\s*(#|//|/?\*)", l)))
text = "\n".join(texts)

# a {parameter}: a shell/JS/Python placeholder inside the string, or the string closed and
# concatenated with an expression
SEG = r"""(?:[^/\s"'`?{][^/\s"'`?]*|["'`]\s*\+\s*[\w\[\]."'()]+(?:\s*\+\s*["'`])?)"""


def pattern(method, path):
    rel = path[len("/api/v1"):] if path.startswith("/api/v1/") else path
    body = "".join(SEG if re.fullmatch(r"\{\w+\}", p) else re.escape(p)
                   for p in re.split(r"(\{\w+\})", rel))
    prefix = "(?:/api/v1)?" if path.startswith("/api/v1/") else ""
    # test_importexport.sh's helpers: upload POSTs a file, download GETs one
    verb = {"POST": "(?:POST|upload)", "GET": "(?:GET|download)"}.get(method, method)
    return re.compile(r"\b%s\b(?!/)[^\n]{0,80}?(?:\n[^\n]{0,80}?)?[\"'`\s(]%s%s(?![\w/-])"
                      % (verb, prefix, body))


allow = {}
for n, line in enumerate(open("tests/routes_untested.txt", encoding="utf-8"), 1):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    m = re.match(r"(GET|POST|PUT|PATCH|DELETE) (\S+)\s+(\S.*)$", line)
    if not m:
        sys.exit("tests/routes_untested.txt:%d: want 'METHOD PATH  reason'" % n)
    allow[(m.group(1), m.group(2))] = m.group(3)

bad = 0
for method, path in routes:
    called = pattern(method, path).search(text) is not None
    if not called and (method, path) not in allow:
        print("untested_routes: no test calls %s %s (test it, or list it in "
              "tests/routes_untested.txt with the reason)" % (method, path), file=sys.stderr)
        bad = 1
    elif called and (method, path) in allow:
        print("untested_routes: %s %s is called by a test now: drop it from "
              "tests/routes_untested.txt" % (method, path), file=sys.stderr)
        bad = 1
for key in allow:
    if key not in routes:
        print("untested_routes: tests/routes_untested.txt lists %s %s, which is not a route"
              % key, file=sys.stderr)
        bad = 1
if "-v" in sys.argv:
    for method, path in routes:
        print(method, path, "called" if pattern(method, path).search(text) else "NOT CALLED")
sys.exit(bad)
