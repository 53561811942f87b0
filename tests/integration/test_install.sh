#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installed like a service (issue 19, docs/deploy.md): `make install DESTDIR=` lays out every
# file, the systemd unit passes `systemd-analyze verify`, its ExecStart run directly (as the
# unit's user when root) with the system config serves and tells $NOTIFY_SOCKET READY=1 and
# STOPPING=1; the config's checks and precedence; on PostgreSQL a role's password given only
# in a passfile works and never shows in `ps`.
. "$(dirname "$0")/lib.sh"

skip() { echo "SKIP: $*" >&2; exit 77; }
# once per CI run, in the plain build: what is installed does not change under a sanitizer
[ "${WORKPHONE_SANITIZED:-0}" = 1 ] && skip "the install test runs in the plain build only"
command -v systemd-analyze >/dev/null || skip "systemd-analyze is missing (apt-get install systemd)"
command -v groff >/dev/null || skip "groff is missing (apt-get install groff-base)"
command -v make >/dev/null || skip "make is missing"
[ -f "$SRC/web/dist/index.html" ] || skip "the console is not built: run 'make web' first"

BUILD=$(cd "$(dirname "$WP")/../.." && pwd)
opt() { meson introspect "$BUILD" --buildoptions | python3 -c "import json,sys
print([o['value'] for o in json.load(sys.stdin) if o['name'] == '$1'][0])"; }
PREFIX=$(opt prefix)
abs() { case "$1" in /*) echo "$1" ;; *) echo "$PREFIX/$1" ;; esac; }
BINDIR=$(abs "$(opt bindir)")
DATADIR=$(abs "$(opt datadir)")
MANDIR=$(abs "$(opt mandir)")
SYSCONFDIR=$(abs "$(opt sysconfdir)")
D=$TMP/root

# --- make install: each file in its place ----------------------------------------------------
run make -C "$SRC" --no-print-directory install BUILDDIR="$BUILD" PREFIX="$PREFIX" DESTDIR="$D"
expect_rc 0 "make install DESTDIR"
for f in "$BINDIR/workphone" "$DATADIR/workphone/web/index.html" \
    "$DATADIR/workphone/lexicon/default.txt" "$SYSCONFDIR/workphone/workphone.conf" \
    "$PREFIX/lib/systemd/system/workphone.service" "$PREFIX/lib/sysusers.d/workphone.conf"; do
    checks=$((checks + 1))
    [ -f "$D$f" ] || { rc=- out="" err=""; fail "make install put no $f"; }
done
checks=$((checks + 1))
[ -x "$D$BINDIR/workphone" ] || { rc=- out="" err=""; fail "the binary is not executable"; }
checks=$((checks + 1))
cmp -s "$SRC/web/dist/index.html" "$D$DATADIR/workphone/web/index.html" &&
    [ "$(cd "$SRC/web/dist" && find . -type f | sort)" = \
      "$(cd "$D$DATADIR/workphone/web" && find . -type f | sort)" ] ||
    { rc=- out="" err=""; fail "the installed console differs from web/dist"; }
checks=$((checks + 1))
cmp -s "$SRC/data/lexicon/default.txt" "$D$DATADIR/workphone/lexicon/default.txt" ||
    { rc=- out="" err=""; fail "the installed lexicon differs from data/lexicon/default.txt"; }
run cat "$D$PREFIX/lib/sysusers.d/workphone.conf"
expect_out_has 'u workphone - "workphone server" /var/lib/workphone' "sysusers.d names the user"
run grep -c '^data_dir=/var/lib/workphone$' "$D$SYSCONFDIR/workphone/workphone.conf"
expect_out 1 "the system config names the data directory"

# a man page per command, rendering without a warning, naming each of its --help's options
run "$WP" --help
cmds=$(printf '%s\n' "$out" | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
checks=$((checks + 1))
[ "$(printf '%s\n' "$cmds" | wc -l)" -ge 10 ] || fail "workphone --help lists the commands"
pages="workphone"
for c in $cmds; do pages="$pages workphone-$c"; done
for p in $pages; do
    page=$D$MANDIR/man1/$p.1
    checks=$((checks + 1))
    [ -f "$page" ] || { rc=- out="" err=""; fail "no man page $p.1"; continue; }
    run groff -k -man -ww -Wbreak -z "$page"
    expect_rc 0 "groff renders $p.1"
    expect_out "" "$p.1 renders without a warning"
    [ "$p" = workphone ] && continue
    run "$WP" "${p#workphone-}" --help
    flags=$(printf '%s\n' "$out" | grep -o -- '--[a-z][a-z-]*' | sort -u)
    body=$(sed 's/\\-/-/g' "$page")
    for f in $flags; do
        checks=$((checks + 1))
        case "$body" in *"$f"*) ;; *) rc=- out="" err=""; fail "$p.1 lacks $f of its --help";; esac
    done
done
for c in $cmds; do
    checks=$((checks + 1))
    grep -q "^\.BR workphone-$c (1)" "$SRC/docs/man/workphone.1" ||
        { rc=- out="" err=""; fail "workphone.1 does not point to workphone-$c(1)"; }
done

# --- the unit: systemd-analyze verify, with its binary where the install put it ---------------
UNIT=$D$PREFIX/lib/systemd/system/workphone.service
run grep -E '^(Type|User|ExecStart|Restart|StateDirectory|ReadWritePaths|NoNewPrivileges|ProtectSystem|ProtectHome|PrivateTmp|CapabilityBoundingSet)=' "$UNIT"
expect_out "Type=notify
ExecStart=$BINDIR/workphone serve --config $SYSCONFDIR/workphone/workphone.conf
Restart=on-failure
User=workphone
StateDirectory=workphone
ReadWritePaths=/var/lib/workphone
NoNewPrivileges=yes
CapabilityBoundingSet=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes" "the unit's type, command, user, restart policy and hardening"
mkdir -p "$TMP/unit"
sed "s#^ExecStart=/#ExecStart=$D/#" "$UNIT" >"$TMP/unit/workphone.service"
MANPATH=$D$MANDIR run systemd-analyze verify "$TMP/unit/workphone.service"
expect_rc 0 "systemd-analyze verify"
checks=$((checks + 1))
[ -z "$err$out" ] || fail "systemd-analyze verify warns"

# --- the unit's ExecStart run directly, as its user ---------------------------------------------
USER_=$(sed -n 's/^User=//p' "$UNIT")
made_user=0
as_unit() { "$@"; }
if [ "$(id -u)" = 0 ]; then
    if ! id -u "$USER_" >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir /var/lib/workphone \
            --shell /usr/sbin/nologin "$USER_" || { echo "cannot add the user $USER_" >&2; exit 1; }
        made_user=1
    fi
    as_unit() { runuser -u "$USER_" -- "$@"; }
fi
cleanup_all() {
    [ "$made_user" = 1 ] && userdel "$USER_" 2>/dev/null
    [ -n "${HBA:-}" ] && [ -f "$TMP/hba.orig" ] && cat "$TMP/hba.orig" >"$HBA" &&
        psql -q "$WORKPHONE_TEST_PG_URL" -c 'SELECT pg_reload_conf()' >/dev/null 2>&1
    rm -rf "$TMP"
}
trap cleanup_all EXIT
chmod 755 "$TMP"
EXEC=$(sed -n 's/^ExecStart=//p' "$UNIT")
CONF=$SYSCONFDIR/workphone/workphone.conf
# the ExecStart line, its absolute paths under the install root
exec_args() { local a; for a in $EXEC; do case "$a" in /*) printf '%s\n' "$D$a" ;; *) printf '%s\n' "$a" ;; esac; done; }
mapfile -t ARGS < <(exec_args)

DATA=$TMP/data
WORKPHONE_ADMIN_PASSWORD=install-pass-1 run "$WP" init --data "$DATA" --tenant Inst --admin admin
expect_rc 0 "init the service's data dir"
[ "$(id -u)" = 0 ] && chown -R "$USER_" "$DATA"
cat >"$D$CONF" <<EOF
# the test's system config
data_dir=$DATA
listen=127.0.0.1:0
threads=4
EOF

# serve_notify ARGS...: runs ARGS as the unit's user with NOTIFY_SOCKET on a socket of its own;
# prints READY's message, the health answer, the console's first bytes, STOPPING's message and
# the exit code, one a line; the password in $TMP/secret (when there) must not be in any
# process's command line or environment
serve_notify() {
    python3 - "$TMP" "$(id -u)" "$USER_" "$@" <<'PY'
import os, socket, subprocess, sys, urllib.request
tmp, uid, user, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
secret = ""
if os.path.exists(os.path.join(tmp, "secret")):  # read here, so no command line holds it
    secret = open(os.path.join(tmp, "secret")).read().strip()
path = os.path.join(tmp, "notify.sock")
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o777)
s.settimeout(30)
cmd = (["runuser", "-u", user, "--"] if uid == "0" else []) + args
env = dict(os.environ, NOTIFY_SOCKET=path)
p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "serve.err"), "w"))
def out(x): print(x, flush=True)
try:
    ready = s.recv(4096).decode()
except socket.timeout:
    p.kill(); out("no notification; exit %s" % p.wait()); sys.exit(0)
out(ready.replace("\n", " "))
port = [l for l in ready.split("\n") if l.startswith("STATUS=")][0].rsplit(":", 1)[1]
base = "http://127.0.0.1:" + port
out(urllib.request.urlopen(base + "/api/v1/health", timeout=10).read().decode())
out(urllib.request.urlopen(base + "/", timeout=10).read(15).decode())
if secret:
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    leaks = []
    if secret in ps:
        leaks.append("ps")
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            for f in ("cmdline", "environ"):
                try:
                    with open("/proc/%s/%s" % (pid, f), "rb") as fh:
                        if secret.encode() in fh.read():
                            leaks.append(pid + "/" + f)
                except OSError:
                    pass
    out("secret seen: " + (",".join(leaks) or "nowhere"))
# as systemd does: SIGTERM to the main process (not to runuser), which names itself
mainpid = int([l for l in ready.split("\n") if l.startswith("MAINPID=")][0][8:])
os.kill(mainpid, 15)
try:
    out(s.recv(4096).decode())
except socket.timeout:
    out("no STOPPING")
out("exit %d" % p.wait(30))
PY
}

run serve_notify "${ARGS[@]}"
mapfile -t lines <<<"$out"
checks=$((checks + 1))
case "${lines[0]:-}" in "READY=1 STATUS=serving on 127.0.0.1:"*" MAINPID="*) ;; *) fail "READY=1 reaches NOTIFY_SOCKET";; esac
checks=$((checks + 1))
case "${lines[1]:-}" in '{"status":"ok"'*'"store":"sqlite"'*) ;; *) fail "the unit's command serves /api/v1/health";; esac
expect_out_has '<!doctype html>' "the installed binary serves the installed console"
checks=$((checks + 1))
[ "${lines[3]:-}" = "STOPPING=1" ] || fail "STOPPING=1 on SIGTERM"
checks=$((checks + 1))
[ "${lines[4]:-}" = "exit 0" ] || fail "a clean stop exits 0"
if [ "$(id -u)" = 0 ]; then
    checks=$((checks + 1))
    [ "$(stat -c %U "$DATA/workphone.db")" = "$USER_" ] || fail "the store stays the unit user's"
fi

# --- the system config: checks and precedence --------------------------------------------------
IWP=$D$BINDIR/workphone
printf 'data_dir=%s\nlisten=127.0.0.1:0\nlisen=x\n' "$DATA" >"$TMP/bad.conf"
run "$IWP" serve --config "$TMP/bad.conf"
expect_rc 2 "an unknown key"
expect_err_has "workphone serve: '$TMP/bad.conf': unknown key 'lisen'; see 'workphone serve --help'" "the unknown key named"
run "$IWP" serve --config "$TMP/none.conf"
expect_rc 2 "--config naming no file"
expect_err_has "workphone serve: config file '$TMP/none.conf' does not exist" "the missing file named"
printf 'data_dir=%s\ndb=postgresql://wp:s3cret@127.0.0.1/wp\n' "$DATA" >"$TMP/pw.conf"
run "$IWP" serve --config "$TMP/pw.conf"
expect_rc 2 "a password in db="
expect_err_has "workphone serve: '$TMP/pw.conf': db= holds a password; put it in a PostgreSQL password file named by db_passfile=" "db= with a password refused"
printf 'data_dir=%s\ndb=postgresql://wp@127.0.0.1/wp?password=s3cret\n' "$DATA" >"$TMP/pw.conf"
run "$IWP" serve --config "$TMP/pw.conf"
expect_rc 2 "a password= parameter in db="
printf '*:*:*:*:s3cret\n' >"$TMP/open.pass"
chmod 644 "$TMP/open.pass"
printf 'data_dir=%s\ndb=postgresql://wp@127.0.0.1/wp\ndb_passfile=%s\n' "$DATA" "$TMP/open.pass" >"$TMP/pf.conf"
run "$IWP" serve --config "$TMP/pf.conf"
expect_rc 2 "a passfile others may read"
expect_err_has "workphone serve: '$TMP/pf.conf': db_passfile '$TMP/open.pass' must be a regular file only its owner may read (chmod 600)" "the open passfile refused"
printf 'data_dir=%s\ndb_passfile=%s\n' "$DATA" "$TMP/open.pass" >"$TMP/pf.conf"
chmod 600 "$TMP/open.pass"
run "$IWP" serve --config "$TMP/pf.conf"
expect_rc 2 "db_passfile= without db="
expect_err_has "workphone serve: '$TMP/pf.conf': db_passfile= is only for a db= URL" "passfile without db"
# a flag wins over the system config: threads=999 is never read when --threads is given
printf 'data_dir=%s\nlisten=127.0.0.1:0\nthreads=999\n' "$DATA" >"$TMP/prec.conf"
run "$IWP" serve --config "$TMP/prec.conf"
expect_rc 2 "a bad value in the system config"
expect_err_has "workphone serve: '$TMP/prec.conf': threads= must be 1-256" "the config's bad value named"
run serve_notify "$IWP" serve --config "$TMP/prec.conf" --threads 4
expect_out_has "READY=1" "--threads wins over threads="
expect_out_has "exit 0" "and it serves"
# the system config wins over the data dir's own workphone.conf, which stays as it is
cp "$DATA/workphone.conf" "$TMP/dir.conf.orig"
printf 'max_connections=0\n' >>"$DATA/workphone.conf"
run "$IWP" serve --data "$DATA" --listen 127.0.0.1:0
expect_rc 2 "the data dir's bad max_connections="
expect_err_has "$DATA/workphone.conf: max_connections= must be 1-100000" "the dir's file read"
printf 'data_dir=%s\nlisten=127.0.0.1:0\nmax_connections=50\n' "$DATA" >"$TMP/prec.conf"
run serve_notify "$IWP" serve --config "$TMP/prec.conf"
expect_out_has "READY=1" "max_connections= of the system config wins over the data dir's"
cp "$TMP/dir.conf.orig" "$DATA/workphone.conf"
# with --data on the command line the default system config is not read, and --data wins
run "$IWP" serve
expect_rc 2 "no --data, no config"
expect_err_has "workphone serve: missing --data DIR" "serve without a data dir"

# --- PostgreSQL: the password only in a passfile ---------------------------------------------
if pg_half; then
    PG=$WORKPHONE_TEST_PG_URL
    hostport=${PG#postgresql://*@}; hostport=${hostport%%/*}
    role=wp_inst_$$
    SECRET="pw-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
    (umask 077; printf '%s\n' "$SECRET" >"$TMP/secret")
    run psql -q -v ON_ERROR_STOP=1 "$PG" -c "CREATE ROLE $role LOGIN PASSWORD '$SECRET'" -c "CREATE DATABASE $role OWNER $role"
    expect_rc 0 "a role with a password"
    # this role, and only it, must give its password (the throwaway server trusts the rest)
    HBA=$(psql -tA "$PG" -c 'SHOW hba_file')
    cp "$HBA" "$TMP/hba.orig"
    { printf 'host all %s 127.0.0.1/32 scram-sha-256\n' "$role"; cat "$TMP/hba.orig"; } >"$HBA"
    psql -q "$PG" -c 'SELECT pg_reload_conf()' >/dev/null
    URL="postgresql://$role@$hostport/$role"
    run psql -w "$URL" -c 'SELECT 1'
    expect_rc 2 "without the password the role is refused"
    expect_err_has "password" "the server asks for a password"
    PASS=$TMP/pgpass
    printf '%s:%s:%s:%s\n' "${hostport%:*}" "${hostport#*:}" "$role" "$role" >"$PASS.tmp"
    sed -i "s/\$/:$SECRET/" "$PASS.tmp"
    mv "$PASS.tmp" "$PASS"
    chmod 600 "$PASS"
    PGDATA_=$TMP/pgdata
    WORKPHONE_ADMIN_PASSWORD=install-pass-1 PGPASSFILE=$PASS run "$WP" init --data "$PGDATA_" --db "$URL" --tenant InstPg --admin admin
    expect_rc 0 "init on PostgreSQL with the passfile (PGPASSFILE)"
    if [ "$(id -u)" = 0 ]; then chown -R "$USER_" "$PGDATA_"; chown "$USER_" "$PASS"; fi
    cat >"$D$CONF" <<EOF
data_dir=$PGDATA_
listen=127.0.0.1:0
threads=4
db=$URL
db_passfile=$PASS
EOF
    run serve_notify "${ARGS[@]}"
    mapfile -t lines <<<"$out"
    checks=$((checks + 1))
    case "${lines[0]:-}" in "READY=1 STATUS=serving on 127.0.0.1:"*) ;; *) fail "READY=1 on PostgreSQL";; esac
    checks=$((checks + 1))
    case "${lines[1]:-}" in '{"status":"ok"'*'"store":"postgresql"'*) ;; *) fail "served from PostgreSQL with the passfile's password";; esac
    checks=$((checks + 1))
    [ "${lines[3]:-}" = "secret seen: nowhere" ] || fail "the password is in no command line or environment"
    checks=$((checks + 1))
    [ "${lines[5]:-}" = "exit 0" ] || fail "a clean stop on PostgreSQL"
    checks=$((checks + 1))
    ! grep -q -- "$SECRET" "$TMP/serve.err" || fail "the password is in the server's log"
fi

finish
