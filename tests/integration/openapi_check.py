# SPDX-License-Identifier: MIT
# Real answers against docs/openapi.yaml: problems(method, path, status, body) names every way a
# JSON body differs from the schema documented for that operation and status. Documented
# object schemas are closed (a field the schema lacks is a problem, unless the schema says
# additionalProperties itself), required fields are enforced, allOf is merged so that a closed
# object still admits the fields of every part. Needs python3-yaml and python3-jsonschema
# (scripts/packages.txt). Run as a script, it checks itself on bodies known good and bad.
import copy
import json
import os
import re
import sys
import urllib.parse

try:
    import jsonschema
    import yaml
except ImportError:  # a python3 of its own (pyenv, a venv) on PATH: Debian's packages then
    sys.path.append("/usr/lib/python3/dist-packages")
    import jsonschema
    import yaml

DOC_PATH = os.path.join(os.environ.get("WORKPHONE_SOURCE_ROOT",
                                       os.path.join(os.path.dirname(__file__), "..", "..")),
                        "docs", "openapi.yaml")
_doc = None
_routes = None  # [(regex, literal segment count, path template)]
_cache = {}  # (template, method, status) -> validator or a problem string


def _load():
    global _doc, _routes
    if _doc is None:
        with open(DOC_PATH, encoding="utf-8") as f:
            _doc = yaml.safe_load(f)
        _routes = []
        for tpl in _doc["paths"]:
            segs = tpl.strip("/").split("/")
            rx = "^/" + "/".join("[^/]+" if s.startswith("{") else re.escape(s) for s in segs) + "$"
            _routes.append((re.compile(rx), sum(1 for s in segs if not s.startswith("{")), tpl))
        # the most literal template first: /api/v1/alerts/count before /api/v1/alerts/{id}
        _routes.sort(key=lambda r: -r[1])
    return _doc


def _deref(node):
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError("external $ref " + ref)
        target = _doc
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        extra = {k: v for k, v in node.items() if k != "$ref"}
        node = dict(target, **extra) if extra else target
        seen += 1
        if seen > 50:
            raise ValueError("$ref loop at " + ref)
    return node


def _types(t):
    return set(t) if isinstance(t, list) else {t}


def _merge(a, b):
    """Two schemas that must both hold (allOf), as one: properties merged, required united."""
    out = dict(a)
    for k, v in b.items():
        if k not in out:
            out[k] = v
        elif k == "properties":
            props = dict(out[k])
            for name, s in v.items():
                props[name] = {"allOf": [props[name], s]} if name in props else s
            out[k] = props
        elif k == "required":
            out[k] = list(dict.fromkeys(list(out[k]) + list(v)))
        elif k == "type":
            both = _types(out[k]) & _types(v)
            if not both:
                raise ValueError("allOf of types %s and %s" % (out[k], v))
            out[k] = sorted(both) if len(both) > 1 else both.pop()
        elif k == "items":
            out[k] = {"allOf": [out[k], v]}
        elif k in ("description", "example", "examples", "title", "summary"):
            out[k] = v
        elif out[k] != v:
            out[k] = v if k in ("additionalProperties",) and out[k] is True else out[k]
            if k not in ("additionalProperties", "default", "format"):
                raise ValueError("allOf parts disagree on %s: %r and %r" % (k, out[k], v))
    return out


def strict(schema, depth=0):
    """The schema with $refs inlined, allOf merged, and documented objects closed."""
    if depth > 60:
        raise ValueError("schema nested too deep (a recursive $ref?)")
    if isinstance(schema, bool):
        return schema
    s = _deref(schema)
    if "allOf" in s:
        parts = [strict(p, depth + 1) for p in s["allOf"]]
        rest = {k: v for k, v in s.items() if k != "allOf"}
        merged = strict(rest, depth + 1) if rest else {}
        for p in parts:
            if isinstance(p, bool) or "oneOf" in p or "anyOf" in p:
                merged.setdefault("allOf", []).append(p)
            else:
                merged = _merge(merged, p)
        s = merged
    out = {}
    for k, v in s.items():
        if k in ("properties", "patternProperties", "$defs"):
            out[k] = {name: strict(p, depth + 1) for name, p in v.items()}
        elif k in ("items", "additionalProperties", "not", "contains", "unevaluatedProperties"):
            out[k] = strict(v, depth + 1) if isinstance(v, (dict, bool)) else v
        elif k in ("oneOf", "anyOf", "allOf", "prefixItems"):
            out[k] = [strict(p, depth + 1) for p in v]
        elif k in ("example", "examples", "discriminator", "xml", "externalDocs"):
            continue
        else:
            out[k] = v
    if "properties" in out and "additionalProperties" not in out and \
            "patternProperties" not in out:
        out["additionalProperties"] = False
    return out


def _route(path):
    _load()
    p = urllib.parse.urlsplit(path).path
    for rx, _, tpl in _routes:
        if rx.match(p):
            return tpl
    return None


def _error_validator():
    key = ("", "", "error")
    if key not in _cache:
        _cache[key] = jsonschema.Draft202012Validator(strict(_doc["components"]["schemas"]["Error"]))
    return _cache[key]


def _validator(tpl, method, status):
    key = (tpl, method, status)
    if key in _cache:
        return _cache[key]
    item = _doc["paths"][tpl]
    op = item.get(method.lower())
    if op is None:
        v = _error_validator()  # 405: the path exists for other methods only
    else:
        responses = op.get("responses", {})
        resp = responses.get(str(status)) or responses.get("%dXX" % (status // 100)) or \
            responses.get("default")
        if resp is None:
            v = "%s %s: status %d is not documented" % (method, tpl, status)
        else:
            resp = _deref(resp)
            media = resp.get("content", {}).get("application/json")
            if media is None or "schema" not in media:
                v = "%s %s %d: no JSON body is documented" % (method, tpl, status)
            else:
                v = jsonschema.Draft202012Validator(strict(media["schema"]))
    _cache[key] = v
    return v


def problems(method, path, status, body):
    """Every way the JSON body of an answer differs from docs/openapi.yaml (empty: none)."""
    _load()
    tpl = _route(path)
    if tpl is None:
        v = _error_validator()  # no such path: a JSON error
        tpl = "(undocumented path)"
    else:
        v = _validator(tpl, method.upper(), status)
    if isinstance(v, str):
        return [v]
    out = []
    for e in sorted(v.iter_errors(body), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(x) for x in e.absolute_path) or "(body)"
        out.append("%s %s %d: %s: %s" % (method.upper(), tpl, status, where, e.message[:300]))
    return out


def check_answer(check, method, path, status, body, headers):
    """check(ok, what) that a JSON answer (by its Content-Type) is as documented."""
    ctype = (headers.get("Content-Type") or headers.get("content-type") or "") \
        if headers is not None else ""
    if not ctype.startswith("application/json") or isinstance(body, str):
        return True
    p = problems(method, path, status, body)
    return check(not p, "the answer differs from docs/openapi.yaml: " + "; ".join(p[:8]) +
                 ("; ..." if len(p) > 8 else ""))


def _selftest():
    """The checker catches what it is for: a field the schema lacks, a missing required one."""
    fails = 0

    def expect(ok, what):
        nonlocal fails
        if not ok:
            fails += 1
            print("FAIL: " + what, file=sys.stderr)

    health = {"status": "ok", "version": "0.1.0", "store": "sqlite"}
    p = problems("GET", "/api/v1/health", 200, health)
    expect(p == [], "a documented health answer passes: %s" % p)
    p = problems("GET", "/api/v1/health", 200, dict(health, extra=1))
    expect(p == ["GET /api/v1/health 200: (body): Additional properties are not allowed "
                 "('extra' was unexpected)"], "a field the schema lacks fails: %s" % p)
    p = problems("GET", "/api/v1/health", 200, {"status": "ok", "version": "0.1.0"})
    expect(p == ["GET /api/v1/health 200: (body): 'store' is a required property"],
           "a missing required field fails: %s" % p)
    err = {"error": {"code": "not_found", "message": "no such thing", "details": {}}}
    expect(problems("GET", "/api/v1/no/such/path", 404, err) == [], "an error on no route passes")
    p = problems("GET", "/api/v1/no/such/path", 404, {"oops": 1})
    expect(p != [], "a non-error on no route fails: %s" % p)
    # allOf (a Page of Devices): the Page's fields and the item's, no other
    p = problems("GET", "/api/v1/devices?limit=1", 200, {"items": [], "next_cursor": None})
    expect(p == [], "an empty page of devices passes: %s" % p)
    p = problems("GET", "/api/v1/devices", 200, {"items": [], "next_cursor": None, "x": 1})
    expect(any("'x' was unexpected" in x for x in p), "a page with a stray field fails: %s" % p)
    p = problems("GET", "/api/v1/devices", 200, {"items": [{"bogus": 1}], "next_cursor": None})
    expect(any(x.startswith("GET /api/v1/devices 200: items/0:") for x in p),
           "a device that is no Device fails: %s" % p)
    # every documented JSON schema can be made strict
    for tpl, item in _load()["paths"].items():
        for m, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            for st in op["responses"]:
                code = int(st) if st.isdigit() else 500
                try:
                    v = _validator(tpl, m.upper(), code)
                    if not isinstance(v, str):
                        v.check_schema(v.schema)
                except Exception as e:  # noqa: BLE001 - name the operation
                    expect(False, "%s %s %s: %s" % (m.upper(), tpl, st, e))
    print("%d failed" % fails)
    return 1 if fails else 0


def check_dir(d):
    """The answers a shell suite kept (lib_api.sh keep_answer): an index of NAME, METHOD, PATH
    and STATUS, tab-separated, and the bodies in files of those names; prints one line per answer that differs (and per body
    that is no JSON) and returns how many."""
    bad = 0
    with open(os.path.join(d, "index"), encoding="utf-8") as f:
        for line in f:
            n, method, path, status = line.rstrip("\n").split("\t")
            with open(os.path.join(d, n), "rb") as b:
                raw = b.read()
            try:
                body = json.loads(raw.decode("utf-8"))
            except ValueError as e:
                print("%s %s %s: the body is no JSON (%s)" % (method, path, status, e))
                bad += 1
                continue
            p = problems(method, path, int(status), body)
            if p:
                print("the answer differs from docs/openapi.yaml: " + "; ".join(p[:8]) +
                      ("; ..." if len(p) > 8 else ""))
                bad += 1
    return bad


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--answers":
        check_dir(sys.argv[2])
        sys.exit(0)
    sys.exit(_selftest())
