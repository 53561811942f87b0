#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Media encrypted at rest (issue 20; docs/internals/keys.md, "Media"), on both backends:
#  - without a master key a file is stored as before: plain, named by its sha256;
#  - after `keys migrate` (a master key) that plain file still downloads; a new recording with
#    a marker and a phone number is stored encrypted: neither is in any file of the media
#    folder (nor in the SQLite file), no file is named by a sha256; it downloads identical;
#  - a flipped byte in the encrypted file: 503 media_corrupt and one alert; `check` names it;
#  - rotate-tenant, then an upload: the files of both key versions download; rotate-master
#    while serving: an upload and downloads go on; encrypt-media then re-encrypts the files
#    of version 1 under version 2 (still downloading identical), and a second run has none;
#  - `keys encrypt-media` converts the plain file while serve runs, and resumes (a second run
#    has nothing left); check authenticates every encrypted file (without the master key: by
#    size only, and says so); a backup carries them encrypted and a
#    restore with the master key serves them;
#  - a file cut short: 503 media_corrupt naming both sizes;
#  - the retention purge removes the encrypted files with their last rows.
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile

from harness import (PASSWORD, PG_URL, WP, Server, check, created, enroll, err_code, login,
                     run_backends)

ENV = dict(os.environ, WORKPHONE_ADMIN_PASSWORD=PASSWORD)
MARKER = b"MARKER-7f3a-contract-price-issue20"
PHONE = b"13912345678"


def wp(*args):
    return subprocess.run([WP] + list(args), capture_output=True, text=True, env=ENV,
                          timeout=120)


def upload(srv, dev, data):
    ref = "sha256:" + hashlib.sha256(data).hexdigest()
    st, j, _ = srv.req("PUT", "/api/v1/device/media/" + ref, dev, raw=data,
                       headers={"Content-Type": "application/octet-stream"})
    check(st == 201, "upload %s: %s %s" % (ref[:16], st, j))
    return ref


def files_under(root):
    out = []
    for d, _, names in os.walk(root):
        out += [os.path.join(d, n) for n in names]
    return sorted(out)


def grep(paths, needle):
    hits = []
    for p in paths:
        with open(p, "rb") as f:
            if needle in f.read():
                hits.append(p)
    return hits


def call_event(srv, dev, seq, ref):
    st, j, _ = srv.req("POST", "/api/v1/device/events", dev, body={"events": [
        {"seq": seq, "type": "call", "ts": "2026-11-26T10:%02d:00+08:00" % seq,
         "direction": "out", "peer": {"phone": "13800138000"}, "duration_s": 63,
         "recording": ref}]})
    check(st == 200 and j["acked_seq"] == seq, "event naming %s: %s %s" % (ref[:16], st, j))


def other_deployment(s, name, exp, master, every):
    """Deployment name (another data dir and database, tenant Other, with a master key of
    its own when master) imports the export exp: every file of every downloads identical."""
    be = s.backend
    top = os.path.join(os.path.dirname(s.data), "%s-%s" % (name, be))
    args, db = [], None
    if be == "postgresql":
        db = "wp_media_crypt_%s_%d" % (name.lower(), os.getpid())
        subprocess.run(["psql", "-q", PG_URL, "-c", "create database " + db], check=True)
        args = ["--db", PG_URL.rsplit("/", 1)[0] + "/" + db]
    try:
        r = wp("init", "--data", top, "--tenant", "Other", "--admin", "admin", *args)
        check(r.returncode == 0, "%s %s: init: %r" % (be, name, r.stderr))
        if master:
            mk = top + ".master.key"
            with open(mk, "w") as f:
                f.write(os.urandom(32).hex() + "\n")
            os.chmod(mk, 0o600)
            r = wp("keys", "migrate", "--data", top, *args, "--master-key-file", mk)
            check(r.returncode == 0, "%s %s: keys migrate: %r" % (be, name, r.stderr))
        r = wp("tenant", "import", "--in", exp, "--data", top, *args)
        check(r.returncode == 0 and r.stdout.startswith("imported tenant 'Acme' (") and
              (", 7 media files (encrypted under its data key here); " if master else
               ", 7 media files; ") in r.stdout,
              "%s %s: tenant import: %s %r %r" % (be, name, r.returncode, r.stdout, r.stderr))
        media = os.path.join(top, "media")
        names = files_under(media)
        shas = sorted(rf[7:] for rf, _ in every)
        if master:
            check(len(names) == 7 and grep(names, MARKER) == [] and grep(names, PHONE) == [] and
                  all(open(p, "rb").read(8) == b"WPMEDIA1" for p in names) and
                  not any(os.path.basename(p) in shas for p in names),
                  "%s %s: the imported media are sealed under keyed names: %r" %
                  (be, name, names))
        else:
            check(sorted(os.path.basename(p) for p in names) == shas,
                  "%s %s: the imported media are plain, named by their sha256: %r" %
                  (be, name, names))
        srv = Server(top, args)
        tok = login(srv, "admin", tenant="Acme")
        for rf, data in every:
            st, body, _ = srv.raw("GET", "/api/v1/media/" + rf, tok)
            check(st == 200 and body == data, "%s %s: %s downloads identical: %s" %
                  (be, name, rf[:16], st))
        srv.stop()
        r = wp("check", "--data", top, *args)
        check(r.returncode == 0 and r.stdout.endswith(
            " and 7 media files intact, 7 of them encrypted and authenticated\n" if master
            else " and 7 media files intact\n"),
              "%s %s: check: %r %r" % (be, name, r.stdout, r.stderr))
    finally:
        if db:
            subprocess.run(["psql", "-q", PG_URL, "-c", "drop database if exists %s with (force)"
                            % db], capture_output=True)


def suite(s):
    be = s.backend
    media = os.path.join(s.data, "media")
    srv = Server(s.data, s.db_args)
    admin = login(srv, "admin")
    st, j, _ = srv.req("GET", "/api/v1/auth/session", admin)
    hq = j["employee"]["org_unit_id"]
    emp = created(srv, admin, "/api/v1/employees",
                  {"name": "张三", "org_unit_id": hq, "role": "sales", "username": "zs",
                   "password": "s3cret-pass"}, "employee")["id"]
    dev = enroll(srv, admin, emp, "SN-CRYPT-1")
    # without a master key: exactly as before
    old = b"RIFF....WAVEfmt an old plain recording " + PHONE + b" " * 5000
    old_ref = upload(srv, dev, old)
    call_event(srv, dev, 1, old_ref)
    hx = old_ref[7:]
    plain = os.path.join(media, hx[:2], hx[2:4], hx)
    check(os.path.isfile(plain) and open(plain, "rb").read() == old,
          "%s: without a master key the file is plain, named by its sha256" % be)
    srv.stop()

    key = os.urandom(32)
    mk = os.path.join(os.path.dirname(s.data), "master-%s.key" % be)
    with open(mk, "w") as f:
        f.write(key.hex() + "\n")
    os.chmod(mk, 0o600)
    r = wp("keys", "migrate", "--data", s.data, *s.db_args, "--master-key-file", mk)
    check(r.returncode == 0, "%s: keys migrate: %r" % (be, r.stderr))

    srv = Server(s.data, s.db_args)
    admin = login(srv, "admin")
    st, body, _ = srv.raw("GET", "/api/v1/media/" + old_ref, admin)
    check(st == 200 and body == old, "%s: the plain file still downloads: %s" % (be, st))
    # the plain file converted while serve runs; a second run finds nothing left to do
    r = wp("keys", "encrypt-media", "--data", s.data, *s.db_args)
    check(r.returncode == 0 and r.stdout == "encrypted: 1 file, 1 plain file removed, "
          "0 re-encrypted under the newest key, 0 problems\n", "%s: encrypt-media: %r %r" % (be, r.stdout, r.stderr))
    check(not os.path.exists(plain), "%s: the plain file is gone" % be)
    r = wp("keys", "encrypt-media", "--data", s.data, *s.db_args)
    check(r.returncode == 0 and r.stdout == "encrypted: 0 files, 0 plain files removed, "
          "0 re-encrypted under the newest key, 0 problems\n", "%s: encrypt-media again: %r %r" % (be, r.stdout, r.stderr))
    st, body, _ = srv.raw("GET", "/api/v1/media/" + old_ref, admin)
    check(st == 200 and body == old, "%s: the converted file downloads: %s" % (be, st))
    converted = files_under(media)
    check(len(converted) == 1 and grep(converted, PHONE) == [] and
          os.path.basename(converted[0]) != old_ref[7:],
          "%s: converted under a keyed name, no phone number in it: %r" % (be, converted))
    # a recording of 3 chunks and a bit, with the marker and the phone number in it
    rec = b"RIFF....WAVEfmt " + (MARKER + b" call " + PHONE + b" ") * 4000 + os.urandom(7)
    ref = upload(srv, dev, rec)
    call_event(srv, dev, 2, ref)
    st, body, hdrs = srv.raw("GET", "/api/v1/media/" + ref, admin)
    check(st == 200 and body == rec, "%s: the encrypted file downloads identical: %s %d/%d" %
          (be, st, len(body or b""), len(rec)))
    st, body, _ = srv.raw("GET", "/api/v1/media/" + ref + "?view=1", admin)
    check(st == 200 and body == rec, "%s: view=1 too: %s" % (be, st))
    # the customer's data export (PIPL) holds the recording as it was recorded
    st, j, _ = srv.req("GET", "/api/v1/customers", admin)
    cust = [c["id"] for c in j["items"]]
    check(st == 200 and len(cust) == 1, "%s: one customer, the caller: %s %s" % (be, st, j))
    st, zdata, _ = srv.raw("POST", "/api/v1/customers/%s/data-export" % cust[0], admin)
    zf = zipfile.ZipFile(io.BytesIO(zdata)) if st == 200 else None
    check(zf is not None and zf.read("media/" + ref[7:]) == rec,
          "%s: the data export holds the decrypted recording: %s %r" %
          (be, st, zf.namelist() if zf else zdata[:200]))
    names = files_under(media)
    enc = [p for p in names if p not in converted]
    check(len(enc) == 1 and len(names) == 2, "%s: one new file: %r" % (be, names))
    shas = (ref[7:], old_ref[7:])
    check(not any(os.path.basename(p) in shas for p in names),
          "%s: no file is named by its sha256: %r" % (be, names))
    check(grep(names, MARKER) == [] and grep(names, PHONE) == [],
          "%s: neither the marker nor the phone number in any file of the media folder" % be)
    check(all(open(p, "rb").read(8) == b"WPMEDIA1" for p in names),
          "%s: every file starts with the clear header" % be)
    if be == "sqlite":
        db = os.path.join(s.data, "workphone.db")
        check(MARKER not in open(db, "rb").read(), "%s: no marker in the SQLite file" % be)
    # rotate-tenant: a new file under version 2, the old one still readable
    srv.stop()
    r = wp("keys", "rotate-tenant", "--data", s.data, *s.db_args, "--tenant", "Acme")
    check(r.returncode == 0, "%s: rotate-tenant: %r %r" % (be, r.stdout, r.stderr))
    srv = Server(s.data, s.db_args)
    admin = login(srv, "admin")
    rec2 = b"second recording " + MARKER + os.urandom(70000)
    ref2 = upload(srv, dev, rec2)
    call_event(srv, dev, 3, ref2)
    new = [p for p in files_under(media) if p not in names]
    check(len(new) == 1 and open(new[0], "rb").read(16)[8:] == (2).to_bytes(8, "little"),
          "%s: the new file is under key version 2: %r" % (be, new))
    for rf, data in ((ref, rec), (ref2, rec2), (old_ref, old)):
        st, body, _ = srv.raw("GET", "/api/v1/media/" + rf, admin)
        check(st == 200 and body == data, "%s: %s downloads after the rotation: %s" %
              (be, rf[:16], st))
    # rotate-master while serving: this node keeps the data keys it holds and goes on
    mk2 = os.path.join(os.path.dirname(s.data), "master2-%s.key" % be)
    with open(mk2, "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    os.chmod(mk2, 0o600)
    r = wp("keys", "rotate-master", "--data", s.data, *s.db_args, "--new-key-file", mk2)
    check(r.returncode == 0, "%s: rotate-master: %r %r" % (be, r.stdout, r.stderr))
    rec3 = b"third recording " + MARKER + os.urandom(1000)
    ref3 = upload(srv, dev, rec3)
    call_event(srv, dev, 4, ref3)
    for rf, data in ((ref3, rec3), (ref, rec)):
        st, body, _ = srv.raw("GET", "/api/v1/media/" + rf, admin)
        check(st == 200 and body == data, "%s: %s downloads after rotate-master: %s" %
              (be, rf[:16], st))
    # the chunk boundaries: empty, exactly one chunk, exactly two
    bounds = []
    for seq, data in ((5, b""), (6, b"\x01" * 65536), (7, b"\x02" * 131072)):
        rf = upload(srv, dev, data)
        bounds.append((rf, data))
        call_event(srv, dev, seq, rf)
        st, body, _ = srv.raw("GET", "/api/v1/media/" + rf, admin)
        check(st == 200 and body == data, "%s: %d bytes download identical: %s %d" %
              (be, len(data), st, len(body or b"")))
    # after the rotation, encrypt-media re-encrypts the files under version 1 (the converted
    # one and the first recording) under version 2, while serve runs; they still download
    def versions():
        return sorted(int.from_bytes(open(p, "rb").read(16)[8:], "little")
                      for p in files_under(media))
    check(versions() == [1, 1, 2, 2, 2, 2, 2], "%s: two files under version 1: %r" %
          (be, versions()))
    r = wp("keys", "encrypt-media", "--data", s.data, *s.db_args)
    check(r.returncode == 0 and r.stdout == "encrypted: 0 files, 0 plain files removed, "
          "2 re-encrypted under the newest key, 0 problems\n",
          "%s: encrypt-media re-encrypts: %r %r" % (be, r.stdout, r.stderr))
    check(versions() == [2] * 7, "%s: every file under version 2: %r" % (be, versions()))
    for rf, data in ((ref, rec), (old_ref, old)):
        st, body, _ = srv.raw("GET", "/api/v1/media/" + rf, admin)
        check(st == 200 and body == data, "%s: %s downloads re-encrypted: %s" % (be, rf[:16], st))
    r = wp("keys", "encrypt-media", "--data", s.data, *s.db_args)
    check(r.returncode == 0 and r.stdout == "encrypted: 0 files, 0 plain files removed, "
          "0 re-encrypted under the newest key, 0 problems\n",
          "%s: nothing left to re-encrypt: %r %r" % (be, r.stdout, r.stderr))
    # check counts them intact; a backup carries them encrypted, a restore with the master
    # key reads them
    r = wp("check", "--data", s.data, *s.db_args)
    check(r.returncode == 0 and r.stdout.endswith(
        " and 7 media files intact, 7 of them encrypted and authenticated\n"),
          "%s: check: %r %r" % (be, r.stdout, r.stderr))
    # without the master key check cannot open them, and says so
    r = wp("keys", "status", "--data", s.data, *s.db_args)
    mfp = r.stdout.split("master: fingerprint=", 1)[-1].split()[0]
    conf = os.path.join(s.data, "workphone.conf")
    conf_text = open(conf).read()
    with open(conf, "w") as f:
        f.write("".join(ln for ln in conf_text.splitlines(True)
                        if not ln.startswith("master_key_file")))
    r = wp("check", "--data", s.data, *s.db_args, "--json")
    exp = os.path.join(os.path.dirname(s.data), "%s.tenant" % be)
    # nor can a tenant's export, which opens them: nothing is written
    r2 = wp("tenant", "export", "Acme", "--data", s.data, *s.db_args, "--out", exp)
    with open(conf, "w") as f:
        f.write(conf_text)
    # (its sealed fields too: it refuses before it writes anything)
    check(r2.returncode == 1 and r2.stderr == "workphone tenant: the tenant's data is encrypted "
          "at rest under master key %s, and no master key is configured: the export opens it "
          "with it; set master_key_file= or master_key_command= in %s/workphone.conf\n" %
          (mfp, s.data) and len(mfp) == 16 and
          not os.path.exists(exp) and
          not [n for n in os.listdir(os.path.dirname(s.data)) if ".part-" in n],
          "%s: tenant export without the master key: %s %r" % (be, r2.returncode, r2.stderr))
    j = json.loads(r.stdout) if r.returncode == 0 else {}
    check(j.get("ok") is True and j.get("media_checked") == 7 and
          j.get("media_authenticated") == 0 and j.get("media_not_authenticated") == 7,
          "%s: check without the master key: %s %r %r" % (be, r.returncode, r.stdout, r.stderr))
    # a tenant's export does not carry its data keys: it opens its encrypted media (each
    # checked) and carries them plain under their sha256, as the other deployment seals them
    # again under its own keys
    every = [(old_ref, old), (ref, rec), (ref2, rec2), (ref3, rec3)] + bounds
    r = wp("tenant", "export", "Acme", "--data", s.data, *s.db_args, "--out", exp)
    check(r.returncode == 0 and r.stderr == "" and
          r.stdout.startswith("ok: tenant 'Acme' to %s, schema " % exp) and
          r.stdout.endswith(" rows, 7 media files (%d bytes)\n" % sum(len(d) for _, d in every)),
          "%s: tenant export of encrypted media: %s %r %r" % (be, r.returncode, r.stdout,
                                                              r.stderr))
    check(MARKER in open(exp, "rb").read(),
          "%s: the export carries the media opened (--key-file encrypts it whole)" % be)
    for name, k2 in (("B", True), ("C", False)):
        other_deployment(s, name, exp, k2, every)
    out = os.path.join(os.path.dirname(s.data), "%s.wpbackup" % be)
    r = wp("backup", "--data", s.data, "--out", out, *s.db_args)
    check(r.returncode == 0, "%s: backup: %r %r" % (be, r.stdout, r.stderr))
    raw = open(out, "rb").read()
    check(MARKER not in raw and PHONE not in raw, "%s: the backup holds no media in clear" % be)
    r_dir = os.path.join(os.path.dirname(s.data), "restored-%s" % be)
    r_args = []
    if be == "postgresql":
        db = "wp_media_crypt_r_%d" % os.getpid()
        subprocess.run(["psql", "-q", PG_URL, "-c", "create database " + db], check=True)
        r_args = ["--db", PG_URL.rsplit("/", 1)[0] + "/" + db]
    try:
        r = wp("restore", "--in", out, "--data", r_dir, *r_args)
        check(r.returncode == 0, "%s: restore: %r %r" % (be, r.stdout, r.stderr))
        rsrv = Server(r_dir, r_args)
        rtok = login(rsrv, "admin")
        for rf, data in ((ref, rec), (ref2, rec2), (old_ref, old), (ref3, rec3)):
            st, body, _ = rsrv.raw("GET", "/api/v1/media/" + rf, rtok)
            check(st == 200 and body == data, "%s: %s downloads from the restore: %s" %
                  (be, rf[:16], st))
        rsrv.stop()
    finally:
        if r_args:
            subprocess.run(["psql", "-q", PG_URL, "-c", "drop database if exists %s with (force)"
                            % r_args[1].rsplit("/", 1)[1]], capture_output=True)
    # a flipped byte: refused, one alert
    with open(enc[0], "r+b") as f:
        f.seek(70000)
        b = f.read(1)
        f.seek(70000)
        f.write(bytes([b[0] ^ 1]))
    for _ in range(2):
        st, j, _ = srv.req("GET", "/api/v1/media/" + ref, admin)
        check(st == 503 and err_code(j) == "media_corrupt" and
              j["error"]["message"] == "media '%s' is damaged: media file fails "
              "authentication: altered or damaged; an administrator restores it from a backup"
              % ref,
              "%s: a flipped byte: 503 media_corrupt: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/alerts?kind=media_corrupt", admin)
    check(st == 200 and len(j["items"]) == 1, "%s: one alert: %s" % (be, j))
    # a tenant's export names it and leaves it out
    bad = os.path.join(os.path.dirname(s.data), "%s-bad.tenant" % be)
    r = wp("tenant", "export", "Acme", "--data", s.data, *s.db_args, "--out", bad)
    check(r.returncode == 1 and
          r.stdout.startswith("written with problems: tenant 'Acme' to %s, schema " % bad) and
          r.stdout.endswith(" rows, 6 media files (%d bytes)\n" %
                            sum(len(d) for rf, d in every if rf != ref)) and
          r.stderr == "workphone tenant: bad: %s: media '%s' is damaged: media file fails "
          "authentication: altered or damaged; it is not in the export\n" %
          (os.path.relpath(enc[0], s.data), ref) and os.path.exists(bad),
          "%s: tenant export with a flipped byte: %s %r %r" % (be, r.returncode, r.stdout,
                                                             r.stderr))
    # check finds it too, by the file's name, without reading it through the server
    r = wp("check", "--data", s.data, *s.db_args)
    check(r.returncode == 1 and r.stdout == "bad: %s: media '%s' is damaged: media file fails "
          "authentication: altered or damaged\n1 problem\n" % (enc[0], ref),
          "%s: check finds the flipped byte: %s %r %r" % (be, r.returncode, r.stdout, r.stderr))
    # a file cut short
    with open(new[0], "r+b") as f:
        f.truncate(os.path.getsize(new[0]) - 1)
    st, j, _ = srv.req("GET", "/api/v1/media/" + ref2, admin)
    size = 40 + len(rec2) // 65536 * (65536 + 17) + len(rec2) % 65536 + 17
    check(st == 503 and err_code(j) == "media_corrupt" and
          j["error"]["message"] == "media '%s' is damaged: %d bytes on disk, %d expected; an "
          "administrator restores it from a backup" % (ref2, size - 1, size),
          "%s: a file cut short: 503 media_corrupt: %s %s" % (be, st, j))
    # the retention purge: the calls a year old go, and the encrypted files with them
    st, j, _ = srv.req("PUT", "/api/v1/retention", admin,
                       body={"rules": [{"kind": "channel", "name": "call", "days": 365}]})
    check(st == 200, "%s: a retention rule: %s %s" % (be, st, j))
    srv.stop()
    env = dict(ENV, WORKPHONE_TEST_HOOKS="1", WORKPHONE_FAKE_NOW="2029-01-01T00:00:00Z")
    r = subprocess.run([WP, "jobs", "run", "--data", s.data] + s.db_args, env=env,
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0 and "retention: messages=0 calls=7 alerts=0 media=7" in r.stderr,
          "%s: jobs run purges: %s %r" % (be, r.returncode, r.stderr[-600:]))
    check(files_under(media) == [], "%s: the purge removed the encrypted files: %r" %
          (be, files_under(media)))


if __name__ == "__main__":
    sys.exit(run_backends(suite, "media_crypt"))
