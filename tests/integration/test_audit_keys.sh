#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The audit log's key files (src/store/audit_key.c) when they are not what workphone made: a
# key readable by others, a symlink, a directory, one byte short or long, missing, and a keys/
# that is a file when init makes them. Each is refused with its reason, naming the file, and
# nothing else is changed. The keys are files beside any store: SQLite only.
. "$(dirname "$0")/lib_api.sh"

setup_store sqlite
key=$dir/keys/audit.key
sign=$dir/keys/checkpoint.key
cp -p "$key" "$TMP/audit.key.good"

verify() { run "$WP" audit verify --data "$dir"; }
verify
expect_rc 0 "verify with the key init made"
expect_out "ok: 2 rows" "... two rows"

chmod 644 "$key"
verify
expect_rc 1 "a key others can read"
expect_out "" "... prints nothing on stdout"
expect_err_has "audit key '$key' is readable by others: chmod 600 it" "... says so and how to fix it"
chmod 600 "$key"

mv "$key" "$TMP/audit.key.moved"
ln -s "$TMP/audit.key.moved" "$key"
verify
expect_rc 1 "a key that is a symlink (to a good key)"
expect_err_has "cannot open audit key '$key': Too many levels of symbolic links" "... is not followed"
rm "$key"
mv "$TMP/audit.key.moved" "$key"

mv "$key" "$TMP/audit.key.moved"
mkdir -m 700 "$key"
verify
expect_rc 1 "a key that is a directory"
expect_err_has "audit key '$key' is not a regular file" "... says so"
rmdir "$key"
mv "$TMP/audit.key.moved" "$key"

head -c 31 "$TMP/audit.key.good" >"$key"
verify
expect_rc 1 "a key one byte short"
expect_err_has "audit key '$key' is not 32 bytes long" "... says so"
{ cat "$TMP/audit.key.good"; printf x; } >"$key"
verify
expect_rc 1 "a key one byte long"
expect_err_has "audit key '$key' is not 32 bytes long" "... says so"
: >"$key"
verify
expect_rc 1 "an empty key"
expect_err_has "audit key '$key' is not 32 bytes long" "... says so"

rm "$key"
verify
expect_rc 1 "no key"
expect_err_has "audit key '$key' does not exist" "... says so"
[ ! -e "$key" ] || fail "verify made a new key"

# the checkpoint key goes through the same checks
cp -p "$TMP/audit.key.good" "$key"
chmod 640 "$sign"
run "$WP" audit public-key --data "$dir"
expect_rc 1 "a checkpoint key others can read"
expect_err_has "audit key '$sign' is readable by others: chmod 600 it" "... says so"
chmod 600 "$sign"
run "$WP" audit public-key --data "$dir"
expect_rc 0 "the checkpoint key at 0600 again"
[ "${#out}" = 64 ] || fail "public-key prints 64 hex digits"
verify
expect_rc 0 "verify with the key put back"
expect_out "ok: 2 rows" "... the log as it was"

# init where keys/ cannot be made: a file is in its place
mkdir "$TMP/blocked"
printf 'not a directory\n' >"$TMP/blocked/keys"
run "$WP" init --data "$TMP/blocked" --tenant Acme --admin admin
expect_rc 1 "init with a file named keys in the data dir"
expect_err_has "cannot open audit key '$TMP/blocked/keys/audit.key': Not a directory" \
    "... says which file it could not open and why"
[ "$(cat "$TMP/blocked/keys")" = "not a directory" ] || fail "init left the file named keys alone"
[ ! -e "$TMP/blocked/workphone.conf" ] || fail "init wrote no workphone.conf"
[ ! -e "$TMP/blocked/workphone.db" ] || fail "init made no store"

# init with no data dir path at all is refused before any key
run "$WP" init --data "" --tenant Acme --admin admin
expect_rc 2 "init with an empty --data"
expect_err_has "missing --data DIR" "... says so"

finish
