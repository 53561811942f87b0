/* SPDX-License-Identifier: MIT */
/* The audit log's keys, outside the database: the hash key (32 random bytes in
 * <data_dir>/keys/audit.key) and the checkpoint signing seed (keys/checkpoint.key). */
#include "store/audit.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_DIR "keys"
#define KEY_FILE "keys/audit.key"
#define SIGN_FILE "keys/checkpoint.key"
#define KEY_MAX 32 /* bytes of the longest key file */

_Static_assert(WP_AUDIT_KEY_LEN <= KEY_MAX && WP_AUDIT_SIGN_SEED_LEN <= KEY_MAX, "KEY_MAX");

/* Read exactly len bytes from path. WP_ENOTFOUND when it does not exist. */
static int read_key(unsigned char *key, size_t len, const char *path)
{
    unsigned char buf[KEY_MAX + 1];
    struct stat sb;
    size_t got = 0;
    int err = 0;

    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return wp_error_set(WP_ENOTFOUND, "audit key '%s' does not exist", path);
        return wp_error_set(WP_EIO, "cannot open audit key '%s': %s", path, strerror(errno));
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        err = wp_error_set(WP_EIO, "audit key '%s' is not a regular file", path);
        goto out;
    }
    /* a key others can read lets them forge the chain together with database access */
    if (sb.st_mode & 077) {
        err = wp_error_set(WP_EIO, "audit key '%s' is readable by others: chmod 600 it", path);
        goto out;
    }
    while (got < len + 1) {
        ssize_t n = read(fd, buf + got, len + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = wp_error_set(WP_EIO, "cannot read audit key '%s': %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (got != len) {
        err = wp_error_set(WP_EIO, "audit key '%s' is not %zu bytes long", path, len);
        goto out;
    }
    memcpy(key, buf, len);
out:
    sodium_memzero(buf, sizeof buf);
    close(fd);
    return err;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Write a new key to path through a temporary file and link(), so a crash never leaves a
 * short key behind and two processes creating it at once end up with one key (the loser
 * reads the winner's). */
static int create_key(const char *dir, const char *path, size_t len)
{
    unsigned char key[KEY_MAX];
    char tmp[4096];
    int err = 0, fd = -1;

    if ((size_t)snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) >= sizeof tmp)
        return wp_error_set(WP_EINVAL, "data dir path is too long");
    if (sodium_init() < 0)
        return wp_error_set(WP_EIO, "libsodium cannot start");
    randombytes_buf(key, len);
    unlink(tmp); /* a leftover of a crashed run with the same pid */
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        err = wp_error_set(WP_EIO, "cannot create '%s': %s", tmp, strerror(errno));
        goto out;
    }
    if (write(fd, key, len) != (ssize_t)len || fsync(fd) != 0) {
        err = wp_error_set(WP_EIO, "cannot write '%s': %s", tmp, strerror(errno));
        goto out;
    }
    if (link(tmp, path) != 0 && errno != EEXIST) {
        err = wp_error_set(WP_EIO, "cannot create audit key '%s': %s", path, strerror(errno));
        goto out;
    }
    if (fsync_dir(dir) != 0)
        err = wp_error_set(WP_EIO, "cannot sync '%s': %s", dir, strerror(errno));
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    sodium_memzero(key, sizeof key);
    return err;
}

/* Read DIR/file (len bytes), creating it when create is set and it is missing. */
static int load(unsigned char *key, size_t len, const char *data_dir, const char *file,
                int create)
{
    char dir[4096], path[4096];
    int err;

    if (!data_dir || !*data_dir)
        return wp_error_set(WP_EINVAL, "no data dir for the audit key");
    if ((size_t)snprintf(dir, sizeof dir, "%s/%s", data_dir, KEY_DIR) >= sizeof dir ||
        (size_t)snprintf(path, sizeof path, "%s/%s", data_dir, file) >= sizeof path)
        return wp_error_set(WP_EINVAL, "data dir path is too long");
    err = read_key(key, len, path);
    if (err != WP_ENOTFOUND || !create)
        return err;
    if (mkdir(dir, 0700) == 0)
        fsync_dir(data_dir); /* best effort: the key's own fsync follows */
    else if (errno != EEXIST)
        return wp_error_set(WP_EIO, "cannot create '%s': %s", dir, strerror(errno));
    if ((err = create_key(dir, path, len)) < 0)
        return err;
    return read_key(key, len, path);
}

int wp_audit_key_load(unsigned char key[WP_AUDIT_KEY_LEN], const char *data_dir, int create)
{
    return load(key, WP_AUDIT_KEY_LEN, data_dir, KEY_FILE, create);
}

int wp_audit_sign_key_load(unsigned char seed[WP_AUDIT_SIGN_SEED_LEN], const char *data_dir,
                           int create)
{
    return load(seed, WP_AUDIT_SIGN_SEED_LEN, data_dir, SIGN_FILE, create);
}

void wp_audit_sign_public(unsigned char pub[WP_AUDIT_SIGN_PUB_LEN],
                          const unsigned char seed[WP_AUDIT_SIGN_SEED_LEN])
{
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    _Static_assert(WP_AUDIT_SIGN_PUB_LEN == crypto_sign_PUBLICKEYBYTES, "public key size");
    _Static_assert(WP_AUDIT_SIGN_SEED_LEN == crypto_sign_SEEDBYTES, "seed size");
    crypto_sign_seed_keypair(pub, sk, seed);
    sodium_memzero(sk, sizeof sk);
}
