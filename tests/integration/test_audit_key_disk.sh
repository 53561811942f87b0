#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The audit key files on a file system that refuses them (issue 17, src/store/audit_key.c):
# `workphone serve` making the checkpoint key of an older data dir in a read-only keys/, and
# `workphone init` on a full disk, each fail (exit 1) naming the file and the
# system's reason, and leave no temporary file and no short key behind; init refuses a
# read-only data dir before it makes anything (exit 2); once there is room, init makes both
# keys (32 bytes, mode 600) and the store. The data directory is a small tmpfs (root, or a user
# and mount namespace of our own; SKIP otherwise, as test_disk.sh).
. "$(dirname "$0")/lib.sh"
export WORKPHONE_ADMIN_PASSWORD=s3cret-pass

mounts=()
cleanup() {
    for m in "${mounts[@]}"; do umount "$m" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
mkdir -p "$TMP/probe"
if ! mount -t tmpfs -o size=64k tmpfs "$TMP/probe" 2>/dev/null; then
    if [ -z "${WP_DISK_NS:-}" ] && unshare -rm true 2>/dev/null; then
        rm -rf "$TMP"
        WP_DISK_NS=1 exec unshare -rm bash "$0" "$@"
    fi
    echo "SKIP: cannot mount a tmpfs here (not root, and no user namespace)" >&2
    exit 77
fi
umount "$TMP/probe"

# disk DIR OPTIONS: a tmpfs at DIR
disk() {
    mkdir -p "$1"
    mount -t tmpfs -o "$2" tmpfs "$1" || { rc=x out="" err=""; fail "mount a tmpfs at $1"; exit 1; }
    mounts+=("$1")
}

# init_at DIR: workphone init on DIR
init_at() { run "$WP" init --data "$1" --tenant Acme --admin admin; }

# only FILE...: the files under DIR are exactly these (relative, sorted)
only() {
    local dir=$1; shift
    local want; want=$(printf '%s\n' "$@" | sort)
    local got; got=$(cd "$dir" && find . -mindepth 1 | sed 's|^\./||' | sort)
    checks=$((checks + 1))
    [ "$got" = "$want" ] || fail "$dir holds: $(echo $got), want: $(echo $want)"
}

# a read-only data directory: init refuses it before it makes anything
ro=$TMP/ro
disk "$ro" size=1m,mode=0700
mount -o remount,ro "$ro"
init_at "$ro"
expect_rc 2 "init on a read-only data dir"
expect_err_has "data dir '$ro' is not writable" "init on a read-only data dir"
expect_one_line_err "init on a read-only data dir"
only "$ro"

# serve makes the checkpoint key of a data dir from before checkpoints: not in a read-only
# keys/ (a read-only bind mount of it), which it names, exit 1
d=$TMP/d
disk "$d" size=8m,mode=0700
init_at "$d/data"
expect_rc 0 "init"
rm "$d/data/keys/checkpoint.key"
mount --bind "$d/data/keys" "$d/data/keys" && mounts=("$d/data/keys" "${mounts[@]}")
mount -o remount,bind,ro "$d/data/keys"
serve_at() { run timeout 60 "$WP" serve --data "$1" --listen 127.0.0.1:0; }
serve_at "$d/data"
expect_rc 1 "serve with a read-only keys/"
expect_err_has "cannot load the checkpoint key: cannot create '$d/data/keys/checkpoint.key." \
    "serve with a read-only keys/"
expect_err_has ".tmp': Read-only file system" "serve with a read-only keys/"
only "$d/data/keys" audit.key
umount "$d/data/keys"

fill_up() {
    local avail; avail=$(df -B1 --output=avail "$1" | tail -n 1 | tr -d ' ')
    dd if=/dev/zero of="$1/filler" bs=4096 count=$((avail / 4096)) status=none 2>/dev/null
}

# init on a full disk: the audit key cannot be written, and init takes back what it made
full=$TMP/full
disk "$full" size=16m,mode=0700
fill_up "$full"
init_at "$full/data"
expect_rc 1 "init on a full disk"
expect_err_has "cannot write '$full/data/keys/audit.key." "init on a full disk"
expect_err_has ".tmp': No space left on device" "init on a full disk"
expect_one_line_err "init on a full disk"
only "$full" filler

# once there is room, the same init makes both keys, whole and private, and the store
rm -f "$full/filler"
init_at "$full/data"
expect_rc 0 "init once there is room"
for f in audit.key checkpoint.key; do
    checks=$((checks + 1))
    [ "$(stat -c '%s %a' "$full/data/keys/$f")" = "32 600" ] ||
        fail "keys/$f: $(stat -c '%s %a' "$full/data/keys/$f")"
done
only "$full/data/keys" audit.key checkpoint.key
run "$WP" audit verify --data "$full/data"
expect_rc 0 "the new store's audit chain verifies"
expect_out_has "ok: " "the new store's audit chain verifies"

echo "$checks checks, $failures failed"
[ "$failures" = 0 ]
