# SPDX-License-Identifier: MIT
# `workphone backup` and `restore` under bad files and faults (issue 17): a backup cut short at
# every boundary of its stream, a flipped byte in its header, an entry, its hash or an
# encrypted frame, entries duplicated, out of order or not of a backup, a manifest that does
# not describe the file, a newer format or schema; a disk that fills while a backup or a
# restore writes (a file-size limit), an --out that exists or cannot be made, a data dir that
# is not empty or cannot be written, media missing or changed on disk. Each asserts the exit
# code (2 for a bad input file, 1 for a runtime failure), the message, and that nothing half
# made is left: no data dir, no temporary directory, no .part file, no tables in the database.
# Both backends where the code differs (the PostgreSQL tables' entries and their load).
import hashlib
import json
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys

from harness import PG_URL, WP, check, kill_live, run_backends

HDR = 10  # "WPBACKUP", the format version, the mode


def wp(*args, fsize=None, user=None, exe=None):
    def limit():
        # a full disk: writes past fsize bytes fail with EFBIG (SIGXFSZ ignored, as a daemon
        # would have it; the default action would kill the process instead)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    return subprocess.run([exe or WP] + list(args), capture_output=True, text=True,
                          preexec_fn=limit if fsize is not None else None, user=user)


def parse(blob):
    """a plain backup as [(kind, name, [pieces])] and its hash; the end mark last"""
    s, i, entries = blob[HDR:], 0, []
    while s[i:i + 1] != b"Z":
        kind, n = s[i:i + 1], struct.unpack(">H", s[i + 1:i + 3])[0]
        name, i, pieces = s[i + 3:i + 3 + n], i + 3 + n, []
        while True:
            ln = struct.unpack(">I", s[i:i + 4])[0]
            i += 4
            if ln == 0:
                break
            pieces.append(s[i:i + ln])
            i += ln
        entries.append((kind, name, pieces))
    return entries, s[i + 1:i + 33]


def build(entries, digest=None):
    """a plain backup of these entries, its hash computed (or the one given)"""
    out = b""
    for kind, name, pieces in entries:
        out += kind + struct.pack(">H", len(name)) + name
        for p in pieces:
            out += struct.pack(">I", len(p)) + p
        out += b"\0\0\0\0"
    return b"WPBACKUP\x01\x00" + out + b"Z" + (digest or hashlib.sha256(out).digest())


def boundaries(entries):
    """the offsets in the file where a part of the stream ends: after the header, after each
    entry's head, each piece's length, each piece, each end of an entry, the end mark"""
    at, i = [HDR], HDR
    for kind, name, pieces in entries:
        i += 3 + len(name)
        at.append(i)
        for p in pieces:
            i += 4
            at.append(i)
            i += len(p)
            at.append(i)
        i += 4
        at.append(i)
    at.append(i + 1)       # the end mark, no hash
    at.append(i + 1 + 16)  # half the hash
    return at


def manifest_of(entries):
    return json.loads([p for k, n, ps in entries if k == b"M" for p in ps][0])


def with_manifest(entries, change):
    man = manifest_of(entries)
    change(man)
    text = json.dumps(man).encode()
    return [(k, n, [text] if k == b"M" else ps) for k, n, ps in entries]


def leftovers(parent):
    return [f for f in os.listdir(parent) if ".restore-" in f or ".part-" in f or
            f.startswith(".wpbackup-")]


def tables_in(url):
    return subprocess.run(["psql", "-qtAX", url, "-c",
                           "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"],
                          capture_output=True, text=True).stdout.strip()


class Target:
    """restore targets: a new data dir name each time, and on PostgreSQL one empty database
    made at the start and checked empty after every refusal"""

    def __init__(self, tmp, be):
        self.tmp, self.be, self.n = tmp, be, 0
        self.url = None
        if be == "postgresql":
            self.url = PG_URL.rsplit("/", 1)[0] + "/wp_faults_target_%d" % os.getpid()
            subprocess.run(["psql", "-q", PG_URL, "-c", "create database " +
                            self.url.rsplit("/", 1)[1]], check=True)
        self.args = ["--db", self.url] if self.url else []

    def refused(self, path, rc, msg, what, key=None, exact=True):
        """restore of path is refused with rc and msg (the whole stderr, or words in it), and
        leaves no data dir, no temporary directory and an empty database"""
        self.n += 1
        data = os.path.join(self.tmp, "target-%d" % self.n)
        args = ["restore", "--in", path, "--data", data] + self.args
        if key:
            args += ["--key-file", key]
        r = wp(*args)
        ok = r.stderr == "workphone restore: %s\n" % msg if exact else \
            all(w in r.stderr for w in msg)
        check(r.returncode == rc and ok, "%s: %s: rc %d %r" % (self.be, what, r.returncode,
                                                                r.stderr))
        check(not os.path.exists(data), "%s: %s: no data dir is made" % (self.be, what))
        left = leftovers(self.tmp)
        check(not left, "%s: %s: nothing half made is left: %r" % (self.be, what, left))
        if self.url:
            check(tables_in(self.url) == "0", "%s: %s: the database is untouched" % (self.be,
                                                                                     what))
        return r

    def drop(self):
        if self.url:
            subprocess.run(["psql", "-q", PG_URL, "-c", "drop database if exists %s with "
                            "(force)" % self.url.rsplit("/", 1)[1]], capture_output=True)


def put_media(store, blob, on_disk=None, size=None):
    """a media row for blob (as the store lists an upload), its file written with on_disk
    (the same bytes unless given; None with on_disk=False: no file)"""
    hexname = hashlib.sha256(blob).hexdigest()
    path = "%s/%s/%s" % (hexname[:2], hexname[2:4], hexname)
    tenant = store.sql("SELECT id FROM tenants LIMIT 1")
    store.sql("INSERT INTO media (tenant_id, sha256, size, path, created_us) VALUES "
              "('%s', '%s', %d, '%s', 0)" % (tenant, hexname, size or len(blob), path))
    if on_disk is not False:
        full = os.path.join(store.data, "media", path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(blob if on_disk is None else on_disk)
    return "media/" + path


def write(path, blob):
    with open(path, "wb") as f:
        f.write(blob)
    return path


def reader_faults(store, tmp, t, good, be):
    """a plain backup damaged or made up in every way the reader must refuse"""
    with open(good, "rb") as f:
        blob = f.read()
    entries, digest = parse(blob)
    check(build(entries) == blob, be + ": the test's parser reads the file the writer made")
    bad = os.path.join(tmp, be + ".bad")
    cut = "backup '%s' is damaged: it is cut short; nothing was written" % bad

    # --- cut short: in the header, then at every boundary of the stream --------------------
    for n in (0, 5, 9):
        t.refused(write(bad, blob[:n]), 2, "'%s' is not a workphone backup" % bad,
                  "cut to %d bytes" % n)
    for n in boundaries(entries):
        check(n < len(blob), be + ": boundary %d lies inside the file" % n)
        t.refused(write(bad, blob[:n]), 1, cut, "cut short at %d of %d" % (n, len(blob)))
    t.refused(write(bad, blob + b"\0"), 1, "backup '%s' is damaged: bytes after its end; "
              "nothing was written" % bad, "a byte after the end mark")

    # --- a flipped byte: the header --------------------------------------------------------
    def flip(at, to=None):
        b = bytearray(blob)
        b[at] = b[at] ^ 1 if to is None else to
        return write(bad, bytes(b))
    t.refused(flip(0), 2, "'%s' is not a workphone backup" % bad, "a flipped magic byte")
    t.refused(flip(8, 2), 2, "'%s': backup format 2; this workphone reads 1" % bad,
              "a newer format version")
    t.refused(flip(9, 7), 1, "backup '%s' is damaged: unknown mode 7" % bad, "an unknown mode")
    t.refused(flip(9, 1), 2, "'%s' is encrypted: give its key with --key-file" % bad,
              "a plain file marked encrypted")
    key = write(os.path.join(tmp, be + ".k"), os.urandom(32))
    t.refused(good, 2, "'%s' is not encrypted: leave out --key-file" % good,
              "a key for a plain backup", key=key)

    # --- a flipped byte: an entry, its data, the hash, the end mark -------------------------
    dmg = "backup '%s' is damaged: %%s; nothing was written" % bad
    at = boundaries(entries)
    t.refused(flip(HDR), 1, dmg % "an entry of an unknown kind", "a flipped entry kind")
    t.refused(flip(HDR + 1, 0x02), 1, dmg % "an entry of an unknown kind",
              "a name's length over 512")
    t.refused(flip(HDR + 2), 1, dmg % "a name with a NUL in it",
              "a name's length one more")  # the name runs into its data's length
    t.refused(flip(HDR + 3), 1, dmg % "a file it may not hold", "a flipped byte of a name")
    t.refused(flip(at[2] + 1), 1, dmg % "its content does not match its hash",
              "a flipped byte of workphone.conf")
    store_entry = b"F\x00\x0cworkphone.db" if be == "sqlite" else b"T\x00\x07tenants"
    t.refused(flip(blob.index(store_entry) + len(store_entry) + 4 + 5), 1,
              dmg % "its content does not match its hash", "a flipped byte of the store")
    t.refused(flip(len(blob) - 1), 1, dmg % "its content does not match its hash",
              "a flipped byte of the hash")
    t.refused(flip(len(blob) - 33, ord("Y")), 1, dmg % "an entry of an unknown kind",
              "a flipped end mark")

    # --- made up with a right hash: what the reader checks beyond the hash ------------------
    def crafted(ents, msg, what, rc=1):
        t.refused(write(bad, build(ents)), rc, dmg % msg if rc == 1 else msg, what)
    media = [e for e in entries if e[1].startswith(b"media/")]
    check(len(media) == 1, be + ": the backup holds one media file")
    swapped = [(k, n, [b"x" + ps[0][1:]] + ps[1:]) if n.startswith(b"media/") else (k, n, ps)
               for k, n, ps in entries]
    crafted(swapped, "a media file does not match its hash", "a media file's bytes changed")
    for name in (b"../workphone.conf", b"keys/../../x", b"keys/.hidden", b"media/ab/cd/ef",
                 b"etc/passwd", b"keys/" + b"k" * 101):
        crafted([(b"F", name, [b"x"])] + entries, "a file it may not hold",
                "an entry named %r" % name[:20])
    crafted([(b"F", b"keys/a\0b", [b"x"])] + entries, "a name with a NUL in it", "a NUL in a name")
    crafted([(b"Q", b"x", [b"x"])] + entries, "an entry of an unknown kind", "an unknown kind")
    crafted(entries + [entries[-1]], "a second manifest", "two manifests")
    crafted([(k, n, [b"{not json"] if k == b"M" else ps) for k, n, ps in entries],
            "its manifest is not JSON", "a manifest that is not JSON")
    crafted([(k, n, [b" " * (1024 * 1024 + 1)] if k == b"M" else ps) for k, n, ps in entries],
            "its manifest is too long", "a manifest over 1 MiB")
    crafted([e for e in entries if e[0] != b"M"], "no manifest or no workphone.conf",
            "no manifest")
    crafted([e for e in entries if e[1] != b"workphone.conf"], "no manifest or no "
            "workphone.conf", "no workphone.conf")
    nodesc = "its manifest does not describe what it holds"
    for what, change in (("an unknown backend", lambda m: m.update(backend="oracle")),
                         ("no backend", lambda m: m.pop("backend")),
                         ("schema version 0", lambda m: m.update(schema_version=0)),
                         ("a tenant export's kind", lambda m: m.update(kind="tenant"))):
        crafted(with_manifest(entries, change), nodesc, "a manifest with " + what)
    other = "postgresql" if be == "sqlite" else "sqlite"
    crafted(with_manifest(entries, lambda m: m.update(backend=other)), nodesc,
            "a manifest naming the other backend")
    crafted(with_manifest(entries, lambda m: m.update(schema_version=9999)),
            "'%s' has schema version 9999; this workphone knows %s: upgrade workphone" %
            (bad, store.sql("SELECT max(version) FROM schema_version")),
            "a backup of a newer schema", rc=2)
    # entries duplicated, after the manifest, or that the manifest does not list
    conf = [e for e in entries if e[1] == b"workphone.conf"][0]
    crafted([conf] + entries, "'workphone.conf' is in it twice", "workphone.conf twice")
    crafted(entries[:-1] + media + entries[-1:], "'%s' is in it twice" % media[0][1].decode(),
            "a media file twice")
    crafted(entries + [conf], "an entry after its manifest", "an entry after the manifest")
    crafted(with_manifest(entries, lambda m: m["media"].update(files=2)), nodesc,
            "a manifest counting a media file more")
    crafted([e for e in entries if not e[1].startswith(b"media/")], nodesc,
            "a media file taken out")
    if be == "sqlite":
        crafted(entries[:-1] + [(b"T", b"messages", [b"x\n"])] + entries[-1:], nodesc,
                "a table's rows in a SQLite backup")
        crafted([e for e in entries if e[1] != b"workphone.db"], nodesc, "no workphone.db")
    else:
        tables = [e for e in entries if e[0] == b"T"]
        for name in (b"schema_version", b"Messages; drop table x", b"nosuch"):
            crafted(entries[:-1] + [(b"T", name, [b"x\n"])] + entries[-1:], nodesc,
                    "a table entry %r the manifest does not list" % name)
        crafted([tables[0]] + entries, "'%s' is in it twice" % tables[0][1].decode(),
                "a table twice")
        crafted([e for e in entries if e[1] != b"tenants"], nodesc, "a table taken out")
        crafted(entries[:-1] + [(b"F", b"workphone.db", [b"x"])] + entries[-1:], nodesc,
                "a SQLite file in a PostgreSQL backup")
    # another deployment's audit key in place of its own: the restored log would not verify
    foreign = [(k, n, [os.urandom(32)] if n == b"keys/audit.key" else ps) for k, n, ps in entries]
    t.n += 1
    data = os.path.join(tmp, "target-%d" % t.n)
    r = wp("restore", "--in", write(bad, build(foreign)), "--data", data, *t.args)
    check(r.returncode == 1 and r.stderr.startswith("workphone restore: its audit log does not "
                                                    "verify with its audit key (tenant ") and
          "the key is another deployment's, or the log was changed; " in r.stderr and
          r.stderr.endswith("; the database may hold the schema restore made: empty it before "
                            "trying again\n" if t.url else
                            "; nothing was left in place of the data dir\n"),
          be + ": another deployment's audit key: rc %d %r" % (r.returncode, r.stderr))
    check(not os.path.exists(data) and not leftovers(tmp), be + ": ... leaves no data dir")
    if t.url:
        t.drop()
        t.__init__(tmp, be)
    # what the writer's order does not matter for is still restored: the keys before the conf
    keys = [e for e in entries if e[1].startswith(b"keys/")]
    rest = [e for e in entries if not e[1].startswith(b"keys/")]
    reordered = write(os.path.join(tmp, be + ".reordered"), build(keys + rest))
    data = os.path.join(tmp, be + "-reordered")
    r = wp("restore", "--in", reordered, "--data", data, *t.args)
    check(r.returncode == 0, be + ": the keys before workphone.conf restore: %s" % r.stderr)
    if t.url:  # the database is used: a new one for what follows
        t.drop()
        t.__init__(tmp, be)


def pg_load_faults(tmp, t, good):
    """PostgreSQL: rows a well-formed file holds that the database refuses, after the schema is
    made: exit 1, no data dir, and the message says the database holds the schema"""
    with open(good, "rb") as f:
        entries, _ = parse(f.read())
    tables = [e for e in entries if e[0] == b"T" and e[2]]
    bad = os.path.join(tmp, "pg.load")
    # a row of the tenants table that is not COPY text
    broken = [(k, n, [b"not\tcopy\ttext\n"] if n == b"tenants" else ps)
              for k, n, ps in entries]
    for what, ents in (("a table's COPY text the database refuses", broken),
                       ("tables out of their foreign keys' order",
                        [e for e in entries if e not in tables] [:1] + tables[::-1] +
                        [e for e in entries if e not in tables][1:])):
        t.n += 1
        data = os.path.join(tmp, "target-%d" % t.n)
        r = wp("restore", "--in", write(bad, build(ents)), "--data", data, *t.args)
        check(r.returncode == 1 and r.stderr.startswith("workphone restore: ") and
              r.stderr.endswith("; the database may hold the schema restore made: empty it "
                                "before trying again\n"),
              "postgresql: %s: rc %d %r" % (what, r.returncode, r.stderr))
        check(not os.path.exists(data) and not leftovers(tmp),
              "postgresql: %s: no data dir, nothing half made" % what)
        n = int(tables_in(t.url))
        rows = subprocess.run(["psql", "-qtAX", t.url, "-c", "SELECT count(*) FROM tenants"],
                              capture_output=True, text=True).stdout.strip()
        check(n > 0 and rows == "0", "postgresql: %s: the schema is there, no rows: %d %r" %
              (what, n, rows))
        t.drop()
        t.__init__(tmp, be="postgresql")


def encrypted_faults(tmp, t, enc, key, passf, pout, be):
    with open(enc, "rb") as f:
        blob = f.read()
    bad = os.path.join(tmp, be + ".encbad")
    wrong = "cannot decrypt '%s': a wrong key, or a damaged backup; nothing was written" % bad
    cut = "backup '%s' is damaged: it is cut short; nothing was written" % bad
    # frames: [u32 length][ciphertext]; the first after the 10-byte header and 24-byte
    # secretstream header
    frames, i = [], HDR + 24
    while i < len(blob):
        ln = struct.unpack(">I", blob[i:i + 4])[0]
        frames.append(blob[i:i + 4 + ln])
        i += 4 + ln
    check(len(frames) >= 3 and i == len(blob), be + ": the encrypted file has %d frames" %
          len(frames))
    head = blob[:HDR + 24]
    for n in (HDR, HDR + 10, HDR + 24, HDR + 24 + 2, HDR + 24 + len(frames[0]),
              HDR + 24 + len(frames[0]) + 100, len(blob) - len(frames[-1])):
        t.refused(write(bad, blob[:n]), 1, cut if n >= HDR + 24 else
                  "backup '%s' is damaged: it is cut short" % bad,
                  "encrypted, cut short at %d" % n, key=key)
    for what, b in (("frames swapped", head + frames[1] + frames[0] + b"".join(frames[2:])),
                    ("a frame twice", head + frames[0] + b"".join(frames)),
                    ("a frame left out", head + b"".join(frames[1:])),
                    ("the final frame twice", blob + frames[-1]),
                    ("a flipped header byte bound to every frame",
                     blob[:9] + b"\x01" + blob[10:11] + bytes([blob[11] ^ 1]) + blob[12:])):
        t.refused(write(bad, b), 1, wrong if what != "the final frame twice" else
                  "backup '%s' is damaged: bytes after its end; nothing was written" % bad,
                  "encrypted, " + what, key=key)
    big = head + struct.pack(">I", 65536 + 17 + 1) + frames[0][4:] + b"".join(frames[1:])
    t.refused(write(bad, big), 1, "cannot decrypt '%s': a damaged backup (a frame of %d bytes); "
              "nothing was written" % (bad, 65536 + 18), "encrypted, a frame's length too big",
              key=key)
    tiny = head + struct.pack(">I", 3) + b"abc"
    t.refused(write(bad, tiny), 1, "cannot decrypt '%s': a damaged backup (a frame of 3 bytes); "
              "nothing was written" % bad, "encrypted, a frame's length too small", key=key)
    t.refused(write(bad, blob[:HDR + 5] + bytes([blob[HDR + 5] ^ 1]) + blob[HDR + 6:]), 1,
              wrong, "encrypted, a flipped byte of the secretstream header", key=key)
    t.refused(write(bad, blob[:9] + b"\x02" + blob[10:]), 1,
              "cannot decrypt '%s': it was encrypted with a passphrase, --key-file holds a "
              "32-byte key" % bad, "a key file for a file marked passphrase", key=key)
    # the passphrase's header: salt (16), opslimit (8), memlimit (8)
    with open(pout, "rb") as f:
        pblob = f.read()
    t.refused(write(bad, pblob[:HDR + 20]), 1, "backup '%s' is damaged: it is cut short" % bad,
              "a passphrase header cut short", key=passf)
    for what, at, val in (("opslimit", HDR + 16, 0), ("opslimit", HDR + 16, 1 << 62),
                          ("memlimit", HDR + 24, 1 << 62)):
        b = pblob[:at] + struct.pack(">Q", val) + pblob[at + 8:]
        t.refused(write(bad, b), 1, "backup '%s' is damaged: bad argon2id limits" % bad,
                  "a passphrase header's %s %d" % (what, val), key=passf)
    b = pblob[:HDR] + bytes([pblob[HDR] ^ 1]) + pblob[HDR + 1:]
    t.refused(write(bad, b), 1, wrong, "a flipped byte of the salt", key=passf)
    emptyk = write(os.path.join(tmp, be + ".emptyk"), b"\n\n")
    r = wp("restore", "--in", enc, "--data", os.path.join(tmp, "nope"), "--key-file", emptyk)
    check(r.returncode == 2 and r.stderr == "workphone restore: --key-file '%s' is empty\n" %
          emptyk, be + ": an empty key file: %r" % r.stderr)
    longk = write(os.path.join(tmp, be + ".longk"), b"p" * 1025)
    r = wp("restore", "--in", enc, "--data", os.path.join(tmp, "nope"), "--key-file", longk)
    check(r.returncode == 2 and r.stderr == "workphone restore: --key-file '%s': more than 1024 "
          "bytes\n" % longk, be + ": a key file too long: %r" % r.stderr)


def writer_faults(store, tmp, be):
    """the backup's side: an --out that cannot be made, a disk that fills, media missing or
    changed on disk"""
    db = store.db_args
    # --out in a directory that is not there
    out = os.path.join(tmp, "no-such-dir", "x.wpbackup")
    r = wp("backup", "--data", store.data, "--out", out, *db)
    check(r.returncode == 1 and r.stderr.startswith("workphone backup: cannot create '%s.part-"
                                                    % out) and
          r.stderr.endswith("': No such file or directory\n"),
          be + ": --out in a missing directory: rc %d %r" % (r.returncode, r.stderr))
    # a disk that fills: writes past a file-size limit fail, at the start and midway
    full = os.path.join(tmp, be + "-full")
    os.mkdir(full)
    size = os.path.getsize(os.path.join(tmp, be + ".wpbackup"))
    esize = os.path.getsize(os.path.join(tmp, be + ".enc"))
    key = os.path.join(tmp, be + ".key")
    for limit, enc in [(0, []), (4096, []), (200000, [])] + \
            [(size - d, []) for d in (1, 20, 33, 40, 300, 5000, 150000, 210000)] + \
            [(esize - d, ["--key-file", key]) for d in (1, 30, 70000)]:
        out = os.path.join(full, "%s-%d.wpbackup" % (be, limit))
        r = wp("backup", "--data", store.data, "--out", out, *db, *enc, fsize=limit)
        check(r.returncode == 1 and r.stderr.startswith("workphone backup: ") and
              ("File too large" in r.stderr or "disk" in r.stderr) and
              not os.path.exists(out) and not os.listdir(full),
              be + ": a disk full at %d bytes: rc %d %r, left %r" % (limit, r.returncode,
                                                                    r.stderr, os.listdir(full)))
    # a media file the store lists that is gone, one whose bytes changed, both small and over
    # 16 MiB (read twice: hashed, then copied); the backup is written without them, exit 1
    big = os.urandom(17 * 1024 * 1024)
    good_big = put_media(store, big)
    bad_big = put_media(store, big[:-1] + bytes([big[-1] ^ 1]),
                        on_disk=big[:-1] + bytes([big[-1] ^ 2]))
    gone = put_media(store, b"gone" * 10, on_disk=False)
    changed = put_media(store, b"a photo" * 10, on_disk=b"a phot0" * 10)
    out = os.path.join(tmp, be + ".problems")
    r = wp("backup", "--data", store.data, "--out", out, *db)
    want = sorted(["workphone backup: bad: %s: the store lists it but it cannot be read: No "
                   "such file or directory; it is not in the backup" % gone,
                   "workphone backup: bad: %s: its bytes no longer match its hash; it is not in "
                   "the backup" % bad_big,
                   "workphone backup: bad: %s: its bytes no longer match its hash; it is not in "
                   "the backup" % changed])
    check(r.returncode == 1 and sorted(r.stderr.splitlines()) == want and
          r.stdout.startswith("written with problems: " + out),
          be + ": missing and changed media: rc %d %r" % (r.returncode, r.stderr))
    r = wp("backup", "--list", out)
    man = json.loads(r.stdout[:r.stdout.rindex("}") + 1]) if r.returncode == 0 else {}
    check(man.get("media", {}).get("files") == 2 and
          sorted(p["file"] for p in man.get("problems", [])) == sorted([gone, bad_big, changed]),
          be + ": the manifest counts the good ones and names the bad: %r" % man.get("problems"))
    data = os.path.join(tmp, be + "-problems")
    rdb = None
    if be == "postgresql":
        rdb = PG_URL.rsplit("/", 1)[0] + "/wp_faults_problems_%d" % os.getpid()
        subprocess.run(["psql", "-q", PG_URL, "-c", "create database " + rdb.rsplit("/", 1)[1]],
                       check=True)
    r = wp("restore", "--in", out, "--data", data, *(["--db", rdb] if rdb else []))
    check(r.returncode == 0, be + ": a backup with problems restores: %r" % r.stderr)
    with open(os.path.join(data, good_big), "rb") as f:
        check(f.read() == big, be + ": the 17 MiB media file is restored byte for byte")
    for name in (bad_big, gone, changed):
        check(not os.path.exists(os.path.join(data, name)), be + ": %s is not restored" % name)
    # a restore that fills the disk: the 17 MiB file does not fit
    t = os.path.join(tmp, be + "-restore-full")
    if be == "sqlite":
        r = wp("restore", "--in", out, "--data", t, fsize=8 * 1024 * 1024)
        check(r.returncode == 1 and "File too large" in r.stderr and
              r.stderr.endswith("; nothing was left in place of the data dir\n") and
              not os.path.exists(t) and not leftovers(tmp),
              be + ": a restore that fills the disk: rc %d %r" % (r.returncode, r.stderr))
    if rdb:
        subprocess.run(["psql", "-q", PG_URL, "-c", "drop database if exists %s with (force)" %
                        rdb.rsplit("/", 1)[1]], capture_output=True)
    for name in (good_big, bad_big, changed):
        os.unlink(os.path.join(store.data, name))
    store.sql("DELETE FROM media")


def list_and_tenant_faults(store, tmp, good, be):
    """--list reads a file as restore's first pass does; a tenant's export is read by the same
    reader: its import refuses the same damage, and what is not an export"""
    with open(good, "rb") as f:
        blob = f.read()
    bad = write(os.path.join(tmp, be + ".listbad"), blob[:-1] + bytes([blob[-1] ^ 1]))
    r = wp("backup", "--list", bad)
    check(r.returncode == 1 and r.stderr == "workphone backup: backup '%s' is damaged: its "
          "content does not match its hash\n" % bad and r.stdout == "",
          be + ": --list of a damaged file: rc %d %r" % (r.returncode, r.stderr))
    key = write(os.path.join(tmp, be + ".listk"), os.urandom(32))
    r = wp("backup", "--list", good, "--key-file", key)
    check(r.returncode == 2 and r.stderr == "workphone backup: '%s' is not encrypted: leave out "
          "--key-file\n" % good, be + ": --list of a plain file with a key: %r" % r.stderr)
    db = store.db_args
    out = os.path.join(tmp, be + ".wpt")
    r = wp("tenant", "export", "Acme", "--data", store.data, "--out", out, *db)
    check(r.returncode == 0, be + ": tenant export: %r" % r.stderr)
    r = wp("tenant", "export", "Acme", "--data", store.data, "--out", out, *db)
    check(r.returncode == 2 and r.stderr == "workphone tenant: --out '%s' exists: an export "
          "never overwrites a file\n" % out, be + ": an export over a file: %r" % r.stderr)
    nodir = os.path.join(tmp, "no-such-dir", "x.wpt")
    r = wp("tenant", "export", "Acme", "--data", store.data, "--out", nodir, *db)
    check(r.returncode == 1 and r.stderr.startswith("workphone tenant: cannot create '%s.part-" %
                                                    nodir),
          be + ": an export into a missing directory: %r" % r.stderr)
    with open(out, "rb") as f:
        entries, _ = parse(f.read())
    imp = lambda path: wp("tenant", "import", "--in", path, "--data", store.data, *db)
    for what, ents, msg in (
            ("a flipped byte", None, "its content does not match its hash"),
            ("a table taken out", [e for e in entries if e[1] != b"customers"],
             "its manifest does not describe what it holds"),
            ("a table twice", entries[:1] + entries,
             "'%s' is in it twice" % entries[0][1].decode())):
        path = os.path.join(tmp, be + ".wpt.bad")
        if ents is None:
            with open(out, "rb") as f:
                b = bytearray(f.read())
            b[-1] ^= 1  # the hash
            write(path, bytes(b))
        else:
            write(path, build(ents))
        r = imp(path)
        check(r.returncode == 1 and r.stderr == "workphone tenant: backup '%s' is damaged: %s; "
              "nothing was imported\n" % (path, msg),
              be + ": import of an export with %s: rc %d %r" % (what, r.returncode, r.stderr))
    r = imp(good)
    check(r.returncode == 2 and r.stderr == "workphone tenant: --in '%s' is not a tenant's export "
          "(a backup is restored with 'workphone restore')\n" % good,
          be + ": import of a backup: rc %d %r" % (r.returncode, r.stderr))
    data = os.path.join(tmp, be + "-from-export")
    r = wp("restore", "--in", out, "--data", data, *(["--db", PG_URL] if db else []))
    check(r.returncode == 2 and r.stderr == "workphone restore: '%s' is one tenant's export, not "
          "a backup: 'workphone tenant import' reads it\n" % out and not os.path.exists(data),
          be + ": restore of an export: rc %d %r" % (r.returncode, r.stderr))


def sqlite_store_faults(store, tmp):
    """SQLite: a store file that rotted is not backed up; what keys/ holds beside the keys
    (a directory, names no key has) is left out"""
    dbf = os.path.join(store.data, "workphone.db")
    os.rename(dbf, dbf + ".saved")
    write(dbf, b"not a database " * 1000)
    out = os.path.join(tmp, "rotten.wpbackup")
    r = wp("backup", "--data", store.data, "--out", out)
    check(r.returncode == 1 and r.stderr == "workphone backup: backup of '%s' failed: file is not "
          "a database\n" % dbf and not os.path.exists(out) and not leftovers(tmp),
          "sqlite: a rotten store file: rc %d %r" % (r.returncode, r.stderr))
    os.rename(dbf + ".saved", dbf)
    keys = os.path.join(store.data, "keys")
    os.mkdir(os.path.join(keys, "sub"))
    for name in ("UPPER", ".hidden"):
        write(os.path.join(keys, name), b"x")
    out = os.path.join(tmp, "keys-extra.wpbackup")
    r = wp("backup", "--data", store.data, "--out", out)
    check(r.returncode == 0, "sqlite: a backup beside extra files in keys/: %r" % r.stderr)
    with open(out, "rb") as f:
        names = sorted(n.decode() for k, n, ps in parse(f.read())[0] if n.startswith(b"keys/"))
    check(names == ["keys/audit.key", "keys/checkpoint.key"],
          "sqlite: only the keys are backed up: %r" % names)
    os.rmdir(os.path.join(keys, "sub"))
    for name in ("UPPER", ".hidden"):
        os.unlink(os.path.join(keys, name))


def suite(store):
    be = store.backend
    tmp = os.path.dirname(store.data)
    photo = b"\xff\xd8\xff\xe0" + os.urandom(200000)  # the encrypted file: 4 frames
    put_media(store, photo)
    good = os.path.join(tmp, be + ".wpbackup")
    r = wp("backup", "--data", store.data, "--out", good, *store.db_args)
    check(r.returncode == 0, be + ": backup: %r" % r.stderr)
    key = write(os.path.join(tmp, be + ".key"), os.urandom(32))
    enc = os.path.join(tmp, be + ".enc")
    r = wp("backup", "--data", store.data, "--out", enc, "--key-file", key, *store.db_args)
    check(r.returncode == 0, be + ": encrypted backup: %r" % r.stderr)
    passf = write(os.path.join(tmp, be + ".pass"), b"a passphrase\n")
    pout = os.path.join(tmp, be + ".pass.wpbackup")
    r = wp("backup", "--data", store.data, "--out", pout, "--key-file", passf, *store.db_args)
    check(r.returncode == 0, be + ": passphrase backup: %r" % r.stderr)

    t = Target(tmp, be)
    try:
        reader_faults(store, tmp, t, good, be)
        encrypted_faults(tmp, t, enc, key, passf, pout, be)
        if be == "postgresql":
            pg_load_faults(tmp, t, good)
        # --data that is a file, or under one; a parent restore cannot write in
        afile = write(os.path.join(tmp, be + "-a-file"), b"x")
        for data, why in ((afile, "Not a directory"), (afile + "/sub", "Not a directory")):
            r = wp("restore", "--in", good, "--data", data, *t.args)
            check(r.returncode == 2 and r.stderr == "workphone restore: --data '%s': %s\n" %
                  (data, why), be + ": --data %s: rc %d %r" % (data, r.returncode, r.stderr))
        if os.getuid() == 0:  # root writes anywhere: the unwritable parent as nobody
            locked = os.path.join(tmp, be + "-locked")
            os.mkdir(locked, 0o755)
            os.chmod(tmp, 0o755)
            os.chmod(good, 0o644)
            data = os.path.join(locked, "restored")
            # a copy of the binary nobody can run (the build dir may be under a home it cannot
            # enter: a clean clone in a 0700 temp dir, root's home)
            exe = os.path.join(tmp, "workphone-nobody")
            shutil.copy(WP, exe)
            os.chmod(exe, 0o755)
            r = wp("restore", "--in", good, "--data", data, *t.args, user=65534, exe=exe)
            # (its first line: a coverage build adds lines that it cannot write its counters)
            check(r.returncode == 1 and r.stderr.split("\n")[0] == "workphone restore: cannot "
                  "make a directory in '%s': Permission denied; nothing was left in place of "
                  "the data dir" % locked, be + ": a parent it cannot write in: rc %d %r" % (r.returncode,
                                                                         r.stderr))
            check(os.listdir(locked) == [], be + ": ... leaves nothing in it")
        else:
            print("%s: the unwritable parent is tested as root only" % be, file=sys.stderr)
    finally:
        t.drop()
    list_and_tenant_faults(store, tmp, good, be)
    if be == "sqlite":
        sqlite_store_faults(store, tmp)
    writer_faults(store, tmp, be)


if __name__ == "__main__":
    try:
        rc = run_backends(suite, "backup_faults")
    finally:
        kill_live()
    sys.exit(rc)
