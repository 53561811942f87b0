/* SPDX-License-Identifier: MIT */
/* The key hierarchy: the master key read from a file or a command, keys wrapped under it,
 * and the store's table of them (migration 0035). docs/internals/keys.md */
#include "store/keys.h"
#include "store/cluster.h"
#include "store/db.h"
#include "util/clock.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define WRAPPED_LEN (NONCE_LEN + WP_KEY_LEN + TAG_LEN)
#define TEXT_MAX 1024 /* bytes of a key file or of a command's output read */
#define ARGS_MAX 32   /* words of master_key_command= */
#define AD_MAX 256

_Static_assert(WP_KEY_WRAPPED_HEX == 2 * WRAPPED_LEN, "wrapped size");
_Static_assert(WP_KEY_LEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");

void wp_keys_fingerprint(char fp[WP_KEY_FP_LEN + 1], const unsigned char key[WP_KEY_LEN])
{
    static const char domain[] = "workphone.key.fingerprint.v1";
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)domain, sizeof domain - 1, key,
                       WP_KEY_LEN);
    sodium_bin2hex(fp, WP_KEY_FP_LEN + 1, h, WP_KEY_FP_LEN / 2);
}

void wp_keys_master_wipe(wp_master_key *mk)
{
    sodium_memzero(mk, sizeof *mk);
}

int wp_keys_master_parse(wp_master_key *out, const char *text, size_t len, const char *what)
{
    unsigned char key[WP_KEY_LEN];
    size_t got = 0, b = 0, e = len;
    int ok = 0;

    if (len == WP_KEY_LEN) { /* the raw bytes: `head -c 32 /dev/urandom` */
        memcpy(key, text, WP_KEY_LEN);
        ok = 1;
    } else {
        while (b < e && strchr(" \t\r\n", text[b]))
            b++;
        while (e > b && strchr(" \t\r\n", text[e - 1]))
            e--;
        if (e - b == 2 * WP_KEY_LEN)
            ok = sodium_hex2bin(key, sizeof key, text + b, e - b, NULL, &got, NULL) == 0 &&
                 got == WP_KEY_LEN;
        else if (e > b)
            ok = sodium_base642bin(key, sizeof key, text + b, e - b, NULL, &got, NULL,
                                   sodium_base64_VARIANT_ORIGINAL) == 0 &&
                 got == WP_KEY_LEN;
    }
    if (!ok) {
        sodium_memzero(key, sizeof key);
        return wp_error_set(WP_EINVAL,
                            "%s: not a master key (32 bytes, 64 hex digits or base64 of 32 "
                            "bytes)",
                            what);
    }
    memcpy(out->key, key, WP_KEY_LEN);
    wp_keys_fingerprint(out->fp, out->key);
    sodium_memzero(key, sizeof key);
    return 0;
}

/* 1 when path is inside dir (both resolved), else 0 */
static int inside(const char *path, const char *dir)
{
    char rp[PATH_MAX], rd[PATH_MAX];
    if (!realpath(path, rp) || !realpath(dir, rd))
        return 0;
    size_t n = strlen(rd);
    return !strncmp(rp, rd, n) && (rp[n] == '/' || rp[n] == '\0' || (n == 1 && rd[0] == '/'));
}

int wp_keys_master_from_file(wp_master_key *out, const char *path, const char *data_dir)
{
    char buf[TEXT_MAX + 1], what[4200];
    struct stat sb;
    size_t got = 0;
    int err = 0;

    if (sodium_init() < 0)
        return wp_error_set(WP_EIO, "libsodium cannot start");
    snprintf(what, sizeof what, "master key file '%s'", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return wp_error_set(WP_ENOTFOUND, "%s does not exist", what);
        return wp_error_set(WP_EIO, "cannot open %s: %s", what, strerror(errno));
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        err = wp_error_set(WP_EIO, "%s is not a regular file", what);
        goto out;
    }
    if (sb.st_mode & 077) {
        err = wp_error_set(WP_EIO, "%s is readable by others: chmod 600 it", what);
        goto out;
    }
    if (data_dir && inside(path, data_dir)) {
        err = wp_error_set(WP_EINVAL,
                           "%s is inside the data dir '%s', which backups copy: keep it apart",
                           what, data_dir);
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf + got, sizeof buf - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = wp_error_set(WP_EIO, "cannot read %s: %s", what, strerror(errno));
            goto out;
        }
        if (n == 0 || (got += (size_t)n) == sizeof buf)
            break;
    }
    err = got > TEXT_MAX ? wp_error_set(WP_EINVAL, "%s is longer than %d bytes", what, TEXT_MAX)
                         : wp_keys_master_parse(out, buf, got, what);
out:
    sodium_memzero(buf, sizeof buf);
    close(fd);
    return err;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int wp_keys_master_from_command(wp_master_key *out, const char *command, int timeout_ms)
{
    char words[4096], *argv[ARGS_MAX + 1], buf[TEXT_MAX + 1];
    int argc = 0, pfd[2] = {-1, -1}, err = 0, status = 0, done = 0;
    size_t got = 0;
    pid_t pid = -1;

    if (sodium_init() < 0)
        return wp_error_set(WP_EIO, "libsodium cannot start");
    if (!command || (size_t)snprintf(words, sizeof words, "%s", command) >= sizeof words)
        return wp_error_set(WP_EINVAL, "master key command is too long");
    for (char *save = NULL, *w = strtok_r(words, " \t", &save); w;
         w = strtok_r(NULL, " \t", &save)) {
        if (argc == ARGS_MAX)
            return wp_error_set(WP_EINVAL, "master key command has more than %d words", ARGS_MAX);
        argv[argc++] = w;
    }
    argv[argc] = NULL;
    if (argc == 0)
        return wp_error_set(WP_EINVAL, "master key command is empty");
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return wp_error_set(WP_EIO, "master key command '%s': pipe: %s", argv[0], strerror(errno));
    if ((pid = fork()) < 0) {
        err = wp_error_set(WP_EIO, "master key command '%s': fork: %s", argv[0], strerror(errno));
        goto out;
    }
    if (pid == 0) { /* a group of its own: a timeout kills what it started too */
        setpgid(0, 0);
        int null = open("/dev/null", O_RDONLY);
        if (null < 0 || dup2(null, 0) < 0 || dup2(pfd[1], 1) < 0)
            _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    pfd[1] = -1;
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0) {
            err = wp_error_set(WP_EIO, "master key command '%s' timed out after %d ms", argv[0],
                               timeout_ms);
            goto out;
        }
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        ssize_t n = read(pfd[0], buf + got, sizeof buf - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if ((got += (size_t)n) == sizeof buf) {
            err = wp_error_set(WP_EIO, "master key command '%s' printed more than %d bytes",
                               argv[0], TEXT_MAX);
            goto out;
        }
    }
    /* stdout closed: the command ends now, or is made to within the time left */
    while (!done) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            done = 1;
            break;
        }
        if (w < 0 && errno != EINTR) {
            err =
                wp_error_set(WP_EIO, "master key command '%s': wait: %s", argv[0], strerror(errno));
            goto out;
        }
        if (mono_ms() >= deadline) {
            err = wp_error_set(WP_EIO, "master key command '%s' timed out after %d ms", argv[0],
                               timeout_ms);
            goto out;
        }
        usleep(10000);
    }
    if (WIFSIGNALED(status))
        err = wp_error_set(WP_EIO, "master key command '%s' was killed by signal %d", argv[0],
                           WTERMSIG(status));
    else if (WEXITSTATUS(status) == 127)
        err = wp_error_set(WP_EIO, "master key command '%s' could not be run", argv[0]);
    else if (WEXITSTATUS(status) != 0)
        err = wp_error_set(WP_EIO, "master key command '%s' failed: exit status %d", argv[0],
                           WEXITSTATUS(status));
    else {
        char what[200];
        snprintf(what, sizeof what, "master key command '%.150s' output", argv[0]);
        if ((err = wp_keys_master_parse(out, buf, got, what)) < 0)
            err = WP_EIO;
    }
out:
    if (pid > 0 && !done) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    sodium_memzero(buf, sizeof buf);
    return err;
}

/* --- wrapping ------------------------------------------------------------------------- */

static size_t put_text(unsigned char *p, const char *s)
{
    size_t n = strlen(s);
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(n >> (24 - 8 * i));
    memcpy(p + 4, s, n);
    return 4 + n;
}

/* the associated data: the domain, owner, purpose and version, each length-prefixed */
static size_t make_ad(unsigned char ad[AD_MAX], const char *owner, const char *purpose,
                      int64_t version)
{
    size_t n = 0;
    if (strlen(owner) > 100 || strlen(purpose) > 32)
        return 0;
    n += put_text(ad + n, "workphone.key.v1");
    n += put_text(ad + n, owner);
    n += put_text(ad + n, purpose);
    for (int i = 0; i < 8; i++)
        ad[n++] = (unsigned char)((uint64_t)version >> (56 - 8 * i));
    return n;
}

void wp_keys_wrap(char out[WP_KEY_WRAPPED_HEX + 1], const wp_master_key *mk,
                  const unsigned char key[WP_KEY_LEN], const char *owner, const char *purpose,
                  int64_t version)
{
    unsigned char w[WRAPPED_LEN], ad[AD_MAX];
    unsigned long long clen = 0;
    size_t adlen = make_ad(ad, owner, purpose, version);
    randombytes_buf(w, NONCE_LEN);
    crypto_aead_xchacha20poly1305_ietf_encrypt(w + NONCE_LEN, &clen, key, WP_KEY_LEN, ad, adlen,
                                               NULL, w, mk->key);
    sodium_bin2hex(out, WP_KEY_WRAPPED_HEX + 1, w, sizeof w);
}

int wp_keys_unwrap(unsigned char key[WP_KEY_LEN], const wp_master_key *mk, const char *wrapped,
                   const char *owner, const char *purpose, int64_t version)
{
    unsigned char w[WRAPPED_LEN], ad[AD_MAX], k[WP_KEY_LEN];
    unsigned long long klen = 0;
    size_t got = 0, adlen = make_ad(ad, owner, purpose, version);
    if (strlen(wrapped) != WP_KEY_WRAPPED_HEX ||
        sodium_hex2bin(w, sizeof w, wrapped, WP_KEY_WRAPPED_HEX, NULL, &got, NULL) != 0 ||
        got != sizeof w)
        return wp_error_set(WP_ECORRUPT, "wrapped key '%s' %s v%lld is damaged", owner, purpose,
                            (long long)version);
    if (adlen == 0 ||
        crypto_aead_xchacha20poly1305_ietf_decrypt(
            k, &klen, NULL, w + NONCE_LEN, WP_KEY_LEN + TAG_LEN, ad, adlen, w, mk->key) != 0 ||
        klen != WP_KEY_LEN)
        return wp_error_set(WP_ECORRUPT,
                            "wrapped key '%s' %s v%lld does not open with master key %s: it "
                            "was altered or moved",
                            owner, purpose, (long long)version, mk->fp);
    memcpy(key, k, WP_KEY_LEN);
    sodium_memzero(k, sizeof k);
    return 0;
}

/* --- the store ------------------------------------------------------------------------ */

static int mismatch(const char *stored_fp, const wp_master_key *mk)
{
    return wp_error_set(WP_EAUTH,
                        "master key fingerprint mismatch: the store's keys are wrapped by master "
                        "key %s, the configured one is %s",
                        stored_fp, mk->fp);
}

int wp_store_keys_get(wp_store *st, unsigned char key[WP_KEY_LEN], int64_t *version_out,
                      const wp_master_key *mk, const char *owner, const char *purpose,
                      int64_t version)
{
    char fp[WP_KEY_FP_LEN + 1], wrapped[WP_KEY_WRAPPED_HEX + 1];
    struct wp_stmt *s = NULL;
    int64_t v = 0;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             version ? "SELECT version, master_fp, wrapped FROM wrapped_keys"
                                       " WHERE owner = ? AND purpose = ? AND version = ?"
                                     : "SELECT version, master_fp, wrapped FROM wrapped_keys"
                                       " WHERE owner = ? AND purpose = ? AND retired_us IS NULL"
                                       " AND version > ? ORDER BY version DESC LIMIT 1")) < 0)
        return err;
    wp_db_bind_text(s, 1, owner);
    wp_db_bind_text(s, 2, purpose);
    wp_db_bind_int64(s, 3, version);
    if ((err = wp_db_step(s)) == WP_DB_DONE) {
        err = wp_error_set(WP_ENOTFOUND, "the store holds no %s key of '%s'", purpose, owner);
        goto out;
    }
    if (err < 0)
        goto out;
    v = wp_db_col_int64(s, 0);
    if ((err = wp_db_col_copy(s, 1, fp, sizeof fp)) < 0 ||
        (err = wp_db_col_copy(s, 2, wrapped, sizeof wrapped)) < 0)
        goto out;
    if (strcmp(fp, mk->fp)) {
        err = mismatch(fp, mk);
        goto out;
    }
    if ((err = wp_keys_unwrap(key, mk, wrapped, owner, purpose, v)) < 0)
        goto out;
    if (version_out)
        *version_out = v;
out:
    wp_db_done(s);
    return err;
}

static int insert(wp_store *st, const wp_master_key *mk, const unsigned char key[WP_KEY_LEN],
                  const char *owner, const char *purpose, int64_t version)
{
    char wrapped[WP_KEY_WRAPPED_HEX + 1];
    wp_keys_wrap(wrapped, mk, key, owner, purpose, version);
    return wp_db_run(st,
                     "INSERT INTO wrapped_keys (owner, purpose, version, master_fp, wrapped,"
                     " created_us) VALUES (?, ?, ?, ?, ?, ?)",
                     "ttitti", owner, purpose, version, mk->fp, wrapped, wp_time_now_us());
}

int wp_store_keys_ensure(wp_store *st, unsigned char key[WP_KEY_LEN], const wp_master_key *mk,
                         const char *owner, const char *purpose, const unsigned char *import)
{
    unsigned char k[WP_KEY_LEN];
    int err = wp_store_keys_get(st, k, NULL, mk, owner, purpose, 1);
    if (err == WP_ENOTFOUND) {
        if (import)
            memcpy(k, import, WP_KEY_LEN);
        else
            randombytes_buf(k, sizeof k);
        err = insert(st, mk, k, owner, purpose, 1);
        if (err == WP_EEXISTS) /* another process made it first: use that one */
            err = wp_store_keys_get(st, k, NULL, mk, owner, purpose, 1);
    }
    if (err == 0 && import && sodium_memcmp(k, import, WP_KEY_LEN) != 0)
        err =
            wp_error_set(WP_EEXISTS, "the store holds another %s key of '%s' already: not replaced",
                         purpose, owner);
    if (err == 0)
        memcpy(key, k, WP_KEY_LEN);
    sodium_memzero(k, sizeof k);
    return err;
}

int wp_store_keys_rotate(wp_store *st, int64_t *version_out, const wp_master_key *mk,
                         const char *owner, const char *purpose)
{
    unsigned char k[WP_KEY_LEN];
    int64_t v = 0;
    int err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_store_keys_get(st, k, &v, mk, owner, purpose, 0)) < 0)
        goto out;
    randombytes_buf(k, sizeof k);
    if ((err = insert(st, mk, k, owner, purpose, v + 1)) < 0)
        goto out;
    *version_out = v + 1;
out:
    sodium_memzero(k, sizeof k);
    return wp_store__op_end(st, err);
}

int wp_store_keys_list(wp_store *st, wp_key_info **out, size_t *n)
{
    struct wp_stmt *s = NULL;
    wp_key_info *all = NULL;
    size_t len = 0, cap = 0;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT owner, purpose, version, created_us, retired_us, master_fp"
                             " FROM wrapped_keys ORDER BY owner, purpose, version")) < 0)
        return err;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (len == cap) {
            size_t nc = cap ? 2 * cap : 16;
            wp_key_info *m = realloc(all, nc * sizeof *m);
            if (!m) {
                err = wp_error_set(WP_ENOMEM, "out of memory");
                goto out;
            }
            all = m;
            cap = nc;
        }
        wp_key_info *k = &all[len];
        memset(k, 0, sizeof *k);
        if ((err = wp_db_col_copy(s, 0, k->owner, sizeof k->owner)) < 0 ||
            (err = wp_db_col_copy(s, 1, k->purpose, sizeof k->purpose)) < 0 ||
            (err = wp_db_col_copy(s, 5, k->master_fp, sizeof k->master_fp)) < 0)
            goto out;
        k->version = wp_db_col_int64(s, 2);
        k->created_us = wp_db_col_int64(s, 3);
        k->retired_us = wp_db_col_isnull(s, 4) ? 0 : wp_db_col_int64(s, 4);
        len++;
    }
    if (err == WP_DB_DONE)
        err = 0;
out:
    wp_db_done(s);
    if (err < 0) {
        free(all);
        return err;
    }
    *out = all;
    *n = len;
    return 0;
}

int wp_store_keys_rewrap(wp_store *st, int64_t *n, const wp_master_key *cur,
                         const wp_master_key *next)
{
    unsigned char k[WP_KEY_LEN];
    char wrapped[WP_KEY_WRAPPED_HEX + 1];
    wp_key_info *all = NULL;
    size_t len = 0;
    int err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_store_keys_list(st, &all, &len)) < 0)
        goto out;
    for (size_t i = 0; i < len; i++) {
        wp_key_info *ki = &all[i];
        if ((err = wp_store_keys_get(st, k, NULL, cur, ki->owner, ki->purpose, ki->version)) < 0)
            goto out;
        wp_keys_wrap(wrapped, next, k, ki->owner, ki->purpose, ki->version);
        if ((err = wp_db_run(st,
                             "UPDATE wrapped_keys SET master_fp = ?, wrapped = ?"
                             " WHERE owner = ? AND purpose = ? AND version = ?",
                             "tttti", next->fp, wrapped, ki->owner, ki->purpose, ki->version)) < 0)
            goto out;
    }
    /* every node hears of it at the commit: it logs which master key it must be given */
    if ((err = wp_store__notify(st, "", WP_CLUSTER_KEYS)) < 0)
        goto out;
    *n = (int64_t)len;
out:
    sodium_memzero(k, sizeof k);
    free(all);
    return wp_store__op_end(st, err);
}

int wp_store_keys_master_fp(wp_store *st, char fp[WP_KEY_FP_LEN + 1])
{
    struct wp_stmt *s = NULL;
    int err;
    fp[0] = '\0';
    if ((err = wp_db_prepare(st, &s,
                             "SELECT master_fp FROM wrapped_keys ORDER BY owner <> ?,"
                             " purpose <> 'audit', version LIMIT 1")) < 0)
        return err;
    wp_db_bind_text(s, 1, WP_KEY_OWNER_DEPLOYMENT);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        err = wp_db_col_copy(s, 0, fp, WP_KEY_FP_LEN + 1);
    else if (err == WP_DB_DONE)
        err = 0;
    wp_db_done(s);
    return err;
}
