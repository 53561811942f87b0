#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `workphone init` (CONTRACT §1) on SQLite and PostgreSQL: creates, refuses twice, bad input.
. "$(dirname "$0")/lib.sh"
export WORKPHONE_ADMIN_PASSWORD='s3cret-pass'

d=$TMP/acme
run "$WP" init --data "$d" --tenant Acme --admin admin
expect_rc 0 "first init"
expect_out_has "tenant 'Acme'" "first init says what it made"
[ -f "$d/workphone.db" ] || fail "no workphone.db after init"
[ -f "$d/workphone.conf" ] || fail "no workphone.conf after init"
q() { sqlite3 -batch -noheader "$d/workphone.db" "$1"; }
out=$(q "select name from tenants"); expect_out "Acme" "tenant row"
out=$(q "select kind || ' ' || name || ' ' || (parent_id is null) from org_units"); expect_out "hq Acme 1" "root org unit"
out=$(q "select role || ' ' || substr(password_hash, 1, 10) from employees where username = 'admin'")
expect_out 'admin $argon2id$' "admin account with an argon2id hash"
out=$(q "select count(*) from employees where password_hash like '%s3cret%'"); expect_out 0 "no clear password"

sum_before=$(sha256sum "$d"/workphone.* | sha256sum)
run "$WP" init --data "$d" --tenant Other --admin root
expect_rc 2 "second init on the same dir"
expect_err_has "already initialized" "second init says why"
expect_one_line_err "second init"
[ "$(sha256sum "$d"/workphone.* | sha256sum)" = "$sum_before" ] || fail "second init changed the store"

# bad input: one line, exit 2, and nothing created
for args in "--tenant T --admin a" "--data $TMP/m1 --admin a" "--data $TMP/m2 --tenant T" \
            "--data $TMP/m3 --tenant T --admin a --bogus" "--data"; do
    run "$WP" init $args
    expect_rc 2 "init $args"
    expect_one_line_err "init $args"
done
expect_err_has "needs a value" "--data without a value"
for m in m1 m2 m3; do [ ! -e "$TMP/$m" ] || fail "bad input created $m"; done

WORKPHONE_ADMIN_PASSWORD= run "$WP" init --data "$TMP/e" --tenant T --admin a
expect_rc 2 "empty password"
expect_err_has "password is empty" "empty password named"
[ ! -e "$TMP/e" ] || fail "empty password created the data dir"

WORKPHONE_ADMIN_PASSWORD=short run "$WP" init --data "$TMP/e" --tenant T --admin a
expect_rc 2 "short password"
expect_err_has "shorter than 8" "short password named"

env -u WORKPHONE_ADMIN_PASSWORD setsid "$WP" init --data "$TMP/e" --tenant T --admin a \
    >"$TMP/out" 2>"$TMP/err" </dev/null; rc=$?; out=$(cat "$TMP/out"); err=$(cat "$TMP/err")
expect_rc 2 "no password and no terminal"
expect_err_has "WORKPHONE_ADMIN_PASSWORD" "no password says how to give one"

long=$(printf '长%.0s' $(seq 101))
run "$WP" init --data "$TMP/l" --tenant "$long" --admin a
expect_rc 2 "tenant name of 101 characters"
expect_err_has "longer than 100 characters" "long tenant name named"
run "$WP" init --data "$TMP/l" --tenant "${long#长}" --admin a
expect_rc 0 "tenant name of exactly 100 characters"

run "$WP" init --data "$TMP/u" --tenant T --admin 'bad user'
expect_rc 2 "bad admin username"
expect_err_has "admin username" "bad username named"

touch "$TMP/file"
run "$WP" init --data "$TMP/file" --tenant T --admin a
expect_rc 2 "data dir is a file"
expect_err_has "not a directory" "file named"

# As root every directory is writable, so run this one as nobody, with a copy of the binary
# that nobody can reach (the checkout may sit under a private directory).
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
    mkdir -m 755 "$TMP/ro"
    chmod 755 "$TMP"
    cp "$WP" "$TMP/workphone" && chmod 755 "$TMP/workphone"
    runuser -u nobody -- env WORKPHONE_ADMIN_PASSWORD=s3cret-pass "$TMP/workphone" init --data "$TMP/ro" \
        --tenant T --admin a >"$TMP/out" 2>"$TMP/err"; rc=$?; out=""; err=$(cat "$TMP/err")
    expect_rc 2 "unwritable data dir"
    expect_err_has "not writable" "unwritable dir named"
    [ -z "$(ls -A "$TMP/ro")" ] || fail "unwritable dir got files"
fi

# PostgreSQL: the same through --db, on a fresh database.
if pg_half; then
    db="wp_it_$$_$RANDOM"
    psql -q "$WORKPHONE_TEST_PG_URL" -c "create database $db" || fail "create database"
    url="${WORKPHONE_TEST_PG_URL%/*}/$db"
    run "$WP" init --data "$TMP/pg1" --tenant Acme --admin admin --db "$url"
    expect_rc 0 "init on PostgreSQL"
    out=$(psql -At "$url" -c "select t.name, o.kind, e.role, substr(e.password_hash, 1, 10)
        from tenants t join org_units o on o.tenant_id = t.id join employees e on e.tenant_id = t.id")
    expect_out 'Acme|hq|admin|$argon2id$' "PostgreSQL rows"
    run "$WP" init --data "$TMP/pg1" --tenant Acme --admin admin --db "$url"
    expect_rc 2 "second init, same dir, PostgreSQL"
    run "$WP" init --data "$TMP/pg2" --tenant Acme --admin admin --db "$url"
    expect_rc 2 "second init of the same tenant in PostgreSQL"
    expect_err_has "already exists" "duplicate tenant named"
    out=$(psql -At "$url" -c "select count(*) from tenants"); expect_out 1 "one tenant only"
    # a new data dir makes a new audit key: its tenant's chain would not verify on the node
    # serving the database with the first dir's key; such a tenant is added by `tenant add`
    run "$WP" init --data "$TMP/pg3" --tenant Beta --admin admin --db "$url"
    expect_rc 2 "a second data dir's init on a database with tenants"
    expect_err_has "workphone tenant add" "the refusal names tenant add"
    [ ! -e "$TMP/pg3" ] || fail "the refused init left its data dir behind"
    out=$(psql -At "$url" -c "select count(*) from tenants"); expect_out 1 "still one tenant"
    run "$WP" init --data "$TMP/pg4" --tenant Acme --admin admin --db "postgresql://127.0.0.1:1/none"
    expect_rc 1 "unreachable PostgreSQL is a runtime failure"
    expect_one_line_err "unreachable PostgreSQL"
    psql -q "$WORKPHONE_TEST_PG_URL" -c "drop database $db" || true
fi

finish
