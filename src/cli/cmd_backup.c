/* SPDX-License-Identifier: MIT */
/* `workphone backup` and `workphone restore`: a data dir's store, keys and media in one file,
 * optionally encrypted, and a new data dir (and database) made from it. The file's format is
 * described in docs/backup.md; its parts are the store's (src/store/backup.c). */
#include "cli/cli.h"
#include "ingest/ingest.h"
#include "store/audit.h"
#include "store/backup.h"
#include "store/org.h"
#include "store/integrity.h"
#include "store/policy.h"
#include "store/pool.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/json.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef WP_VERSION
#define WP_VERSION "unknown"
#endif

#define MAGIC "WPBACKUP"
#define FORMAT_VERSION 1
#define CHUNK 65536 /* bytes of plaintext in one encrypted frame */
#define ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define SS_HEADER crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define KEY_LEN crypto_secretstream_xchacha20poly1305_KEYBYTES
#define SALT_LEN crypto_pwhash_SALTBYTES
#define HASH_LEN 32
#define NAME_MAX_BYTES 512
#define MANIFEST_MAX (1024 * 1024)
#define KEY_FILE_MAX 1024
#define SMALL_MEDIA (16 * 1024 * 1024) /* media files up to this size are read once */

enum { MODE_PLAIN = 0, MODE_KEY = 1, MODE_PASSPHRASE = 2 };
enum { ENTRY_FILE = 'F', ENTRY_TABLE = 'T', ENTRY_MANIFEST = 'M', ENTRY_END = 'Z' };

static const char backup_help[] =
    "usage: workphone backup --data DIR [--db URL] --out FILE [--key-file KEY]\n"
    "                        [--media-dir DIR]\n"
    "       workphone backup --list FILE [--key-file KEY]\n"
    "\n"
    "writes one file holding what a data dir needs to run again: the store (SQLite: a copy\n"
    "made with SQLite's online backup; PostgreSQL: every table dumped in one REPEATABLE READ\n"
    "transaction), DIR/workphone.conf, the keys in DIR/keys (the audit key and the checkpoint\n"
    "key: the data is useless without them; with a master key they are wrapped in the store\n"
    "and the master key is never in a backup) and every media file the store lists, each\n"
    "checked against its hash as it is read. It runs beside the server, which keeps serving. The file\n"
    "is written beside FILE and renamed to FILE once complete; an existing FILE is refused.\n"
    "Anyone holding the file holds the data and its keys: encrypt it with --key-file, or keep\n"
    "it as safe as the data dir.\n"
    "--list reads a backup through, checks it whole, and prints its manifest.\n"
    "\n"
    "  --data DIR       the data directory made by 'workphone init'\n"
    "  --db URL         postgresql://... when the store is in PostgreSQL\n"
    "  --out FILE       the backup file to write\n"
    "  --key-file KEY   encrypt (XChaCha20-Poly1305): KEY holds 32 random bytes (e.g.\n"
    "                   'head -c 32 /dev/urandom > KEY') or a passphrase (argon2id)\n"
    "  --list FILE      check a backup and print its manifest\n"
    "  --media-dir DIR  the media dir several nodes share (default: media_dir= in\n"
    "                   DIR/workphone.conf, a path relative to DIR; else DIR/media)\n"
    "\n"
    "exit status: 0 done; 1 failed, or a media file did not match its hash (the backup is\n"
    "written without it and names it); 2 bad usage.\n";

static const char restore_help[] =
    "usage: workphone restore --in FILE --data DIR [--db URL] [--key-file KEY]\n"
    "\n"
    "makes the data dir DIR (which must not exist, or be empty) from a file 'workphone backup'\n"
    "wrote. The file is first read through and checked whole (its hash, or with a key its\n"
    "authentication, every plain media file's hash (an encrypted one is read with its\n"
    "tenant's key when it is served), each entry once, and a manifest that lists what it\n"
    "holds): a wrong key, a changed byte or a made-up file is refused before anything is\n"
    "written. DIR is then made beside itself under a temporary name, its audit log verified\n"
    "with the restored audit key (another deployment's key is refused), and renamed at the\n"
    "end: a failed restore leaves no DIR. A PostgreSQL backup is loaded into the\n"
    "empty database at URL (its schema made to the backup's version, then every table copied in\n"
    "one transaction); a database with tables in it is refused. Then run 'workphone serve\n"
    "--data DIR [--db URL]'; 'workphone audit verify' passes on the result. Media files go to\n"
    "DIR/media; when the restored workphone.conf names a shared media_dir=, serve moves them\n"
    "there at its start, each hash checked.\n"
    "\n"
    "  --in FILE        the backup\n"
    "  --data DIR       the data directory to make\n"
    "  --db URL         postgresql://... (an empty database) for a PostgreSQL backup\n"
    "  --key-file KEY   the key the backup was encrypted with\n"
    "\n"
    "exit status: 0 done; 1 failed (a wrong key, a damaged file, the database); 2 bad usage.\n";


/* SHA-256 through OpenSSL's EVP, which uses the CPU's SHA instructions where it has them:
 * libsodium's portable SHA-256 was three quarters of a backup's CPU time. */
typedef struct sha_state {
    EVP_MD_CTX *c;
} sha_state;

static void sha_init(sha_state *s)
{
    if ((s->c = EVP_MD_CTX_new()) && EVP_DigestInit_ex(s->c, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(s->c);
        s->c = NULL;
    }
}
static void sha_update(sha_state *s, const void *p, size_t n)
{
    if (s->c && EVP_DigestUpdate(s->c, p, n) != 1) {
        EVP_MD_CTX_free(s->c);
        s->c = NULL;
    }
}
/* The digest; all zero bytes (which matches no file) when a step failed (out of memory). */
static void sha_final(sha_state *s, unsigned char out[32])
{
    if (!s->c || EVP_DigestFinal_ex(s->c, out, NULL) != 1)
        memset(out, 0, 32);
    EVP_MD_CTX_free(s->c);
    s->c = NULL;
}
static void sha_release(sha_state *s)
{
    EVP_MD_CTX_free(s->c);
    s->c = NULL;
}

/* --- the key ------------------------------------------------------------------------- */

struct key {
    int mode; /* MODE_KEY or MODE_PASSPHRASE */
    unsigned char raw[KEY_LEN];
    char pass[KEY_FILE_MAX + 1];
    size_t pass_len;
};

/* Read --key-file: exactly 32 bytes are a key, anything else a passphrase (one line). */
static int key_read(struct key *k, const char *cmd, const char *path)
{
    unsigned char buf[KEY_FILE_MAX + 1];
    FILE *f = fopen(path, "rb");
    size_t n;
    if (!f)
        return cli_usage_error(cmd, "--key-file '%s': %s", path, strerror(errno));
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (n > KEY_FILE_MAX)
        return cli_usage_error(cmd, "--key-file '%s': more than %d bytes", path, KEY_FILE_MAX);
    if (n == KEY_LEN) {
        k->mode = MODE_KEY;
        memcpy(k->raw, buf, KEY_LEN);
    } else {
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            n--;
        if (n == 0)
            return cli_usage_error(cmd, "--key-file '%s' is empty", path);
        k->mode = MODE_PASSPHRASE;
        memcpy(k->pass, buf, n);
        k->pass[n] = '\0';
        k->pass_len = n;
    }
    sodium_memzero(buf, sizeof buf);
    return 0;
}

/* The stream key of a passphrase and salt (argon2id), or the raw key. */
static int key_derive(unsigned char out[KEY_LEN], const struct key *k, const unsigned char *salt,
                      unsigned long long ops, size_t mem)
{
    if (k->mode == MODE_KEY) {
        memcpy(out, k->raw, KEY_LEN);
        return 0;
    }
    if (crypto_pwhash(out, KEY_LEN, k->pass, k->pass_len, salt, ops, mem,
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
        return wp_error_set(WP_ENOMEM, "argon2id: out of memory");
    return 0;
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}
static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}
static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}
static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* --- the writer: the inner stream, hashed, plain or in secretstream frames ------------- */

struct bw {
    FILE *f;
    const char *path;
    int enc;
    crypto_secretstream_xchacha20poly1305_state ss;
    unsigned char hdr[64];
    size_t hdr_len;
    sha_state hash;
    unsigned char buf[CHUNK];
    size_t len;
    uint64_t bytes;
};

static int bw_raw(struct bw *w, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, w->f) != n)
        return wp_error_set(wp_error_errno_code(errno), "cannot write '%s': %s", w->path,
                            strerror(errno));
    w->bytes += n;
    return 0;
}

static int bw_flush(struct bw *w, int final)
{
    int err;
    if (!w->enc) {
        err = bw_raw(w, w->buf, w->len);
        w->len = 0;
        return err;
    }
    unsigned char frame[4 + CHUNK + ABYTES];
    unsigned long long clen = 0;
    crypto_secretstream_xchacha20poly1305_push(
        &w->ss, frame + 4, &clen, w->buf, w->len, w->hdr, w->hdr_len,
        final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
    put_u32(frame, (uint32_t)clen);
    w->len = 0;
    return bw_raw(w, frame, 4 + (size_t)clen);
}

/* Append to the inner stream; hashed unless nohash (the end mark's own hash). */
static int bw_put_h(struct bw *w, const void *p, size_t n, int hash)
{
    const unsigned char *s = p;
    int err;
    if (hash)
        sha_update(&w->hash, s, n);
    while (n) {
        size_t take = CHUNK - w->len < n ? CHUNK - w->len : n;
        memcpy(w->buf + w->len, s, take);
        w->len += take, s += take, n -= take;
        if (w->len == CHUNK && (err = bw_flush(w, 0)) < 0)
            return err;
    }
    return 0;
}
static int bw_put(struct bw *w, const void *p, size_t n)
{
    return bw_put_h(w, p, n, 1);
}

static int bw_entry(struct bw *w, int type, const char *name)
{
    unsigned char h[3];
    size_t n = strlen(name);
    h[0] = (unsigned char)type, h[1] = (unsigned char)(n >> 8), h[2] = (unsigned char)n;
    int err = bw_put(w, h, 3);
    return err < 0 ? err : bw_put(w, name, n);
}
static int bw_data(struct bw *w, const void *p, size_t n)
{
    unsigned char len[4];
    int err;
    if (n == 0)
        return 0;
    put_u32(len, (uint32_t)n);
    if ((err = bw_put(w, len, 4)) < 0)
        return err;
    return bw_put(w, p, n);
}
static int bw_entry_end(struct bw *w)
{
    static const unsigned char zero[4];
    return bw_put(w, zero, 4);
}

static int bw_start(struct bw *w, const struct key *k)
{
    unsigned char key[KEY_LEN];
    int err;
    memcpy(w->hdr, MAGIC, 8);
    w->hdr[8] = FORMAT_VERSION;
    w->hdr[9] = (unsigned char)(k ? k->mode : MODE_PLAIN);
    w->hdr_len = 10;
    sha_init(&w->hash);
    if (!k)
        return bw_raw(w, w->hdr, w->hdr_len);
    w->enc = 1;
    if (k->mode == MODE_PASSPHRASE) {
        unsigned char *salt = w->hdr + w->hdr_len;
        randombytes_buf(salt, SALT_LEN);
        put_u64(salt + SALT_LEN, crypto_pwhash_OPSLIMIT_INTERACTIVE);
        put_u64(salt + SALT_LEN + 8, crypto_pwhash_MEMLIMIT_INTERACTIVE);
        w->hdr_len += SALT_LEN + 16;
        if ((err = key_derive(key, k, salt, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE)) < 0)
            return err;
    } else {
        memcpy(key, k->raw, KEY_LEN);
    }
    unsigned char ssh[SS_HEADER];
    crypto_secretstream_xchacha20poly1305_init_push(&w->ss, ssh, key);
    sodium_memzero(key, sizeof key);
    if ((err = bw_raw(w, w->hdr, w->hdr_len)) < 0)
        return err;
    return bw_raw(w, ssh, SS_HEADER);
}

static int bw_finish(struct bw *w)
{
    unsigned char h[HASH_LEN], z = ENTRY_END;
    int err;
    sha_final(&w->hash, h);
    if ((err = bw_put_h(w, &z, 1, 0)) < 0 || (err = bw_put_h(w, h, HASH_LEN, 0)) < 0 ||
        (err = bw_flush(w, 1)) < 0)
        return err;
    if (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0)
        return wp_error_set(wp_error_errno_code(errno), "cannot write '%s': %s", w->path,
                            strerror(errno));
    return 0;
}

/* --- the reader ---------------------------------------------------------------------- */

struct br {
    FILE *f;
    const char *path;
    int enc, final;
    crypto_secretstream_xchacha20poly1305_state ss;
    unsigned char hdr[64];
    size_t hdr_len;
    sha_state hash;
    unsigned char buf[CHUNK + ABYTES];
    size_t pos, len;
    uint32_t left; /* bytes left in the entry's current piece */
    int in_entry;
};

static int damaged(const struct br *r, const char *why)
{
    return wp_error_set(WP_ECORRUPT, "backup '%s' is damaged: %s", r->path, why);
}

static int br_fill(struct br *r)
{
    if (!r->enc) {
        r->len = fread(r->buf, 1, CHUNK, r->f);
        r->pos = 0;
        if (ferror(r->f))
            return wp_error_set(WP_EIO, "cannot read '%s': %s", r->path, strerror(errno));
        return r->len ? 0 : damaged(r, "it is cut short");
    }
    if (r->final)
        return damaged(r, "it is cut short");
    unsigned char lenb[4], frame[CHUNK + ABYTES];
    unsigned long long mlen = 0;
    unsigned char tag = 0;
    if (fread(lenb, 1, 4, r->f) != 4)
        return damaged(r, "it is cut short");
    uint32_t clen = get_u32(lenb);
    if (clen < ABYTES || clen > CHUNK + ABYTES)
        return wp_error_set(WP_ECORRUPT,
                            "cannot decrypt '%s': a damaged backup (a frame of %u bytes)", r->path,
                            clen);
    if (fread(frame, 1, clen, r->f) != clen)
        return damaged(r, "it is cut short");
    if (crypto_secretstream_xchacha20poly1305_pull(&r->ss, r->buf, &mlen, &tag, frame, clen,
                                                   r->hdr, r->hdr_len) != 0)
        return wp_error_set(WP_ECORRUPT,
                            "cannot decrypt '%s': a wrong key, or a damaged backup", r->path);
    if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL)
        r->final = 1;
    r->len = (size_t)mlen, r->pos = 0;
    return 0;
}

static int br_get_h(struct br *r, void *out, size_t n, int hash)
{
    unsigned char *d = out;
    int err;
    while (n) {
        if (r->pos == r->len && (err = br_fill(r)) < 0)
            return err;
        size_t take = r->len - r->pos < n ? r->len - r->pos : n;
        memcpy(d, r->buf + r->pos, take);
        if (hash)
            sha_update(&r->hash, d, take);
        r->pos += take, d += take, n -= take;
    }
    return 0;
}
static int br_get(struct br *r, void *out, size_t n)
{
    return br_get_h(r, out, n, 1);
}

/* Open FILE and read its header. Returns 0, or an exit code after a message. */
static int br_open(struct br *r, const char *cmd, const char *path, const struct key *k)
{
    unsigned char key[KEY_LEN], ssh[SS_HEADER];
    memset(r, 0, sizeof *r);
    r->path = path;
    if (!(r->f = fopen(path, "rb")))
        return cli_usage_error(cmd, "cannot open '%s': %s", path, strerror(errno));
    if (fread(r->hdr, 1, 10, r->f) != 10 || memcmp(r->hdr, MAGIC, 8))
        return cli_usage_error(cmd, "'%s' is not a workphone backup", path);
    if (r->hdr[8] != FORMAT_VERSION)
        return cli_usage_error(cmd, "'%s': backup format %d; this workphone reads %d", path,
                               r->hdr[8], FORMAT_VERSION);
    r->hdr_len = 10;
    sha_init(&r->hash);
    int mode = r->hdr[9];
    if (mode == MODE_PLAIN) {
        if (k)
            return cli_usage_error(cmd, "'%s' is not encrypted: leave out --key-file", path);
        return 0;
    }
    if (mode != MODE_KEY && mode != MODE_PASSPHRASE)
        return cli_fail(cmd, "backup '%s' is damaged: unknown mode %d", path, mode);
    if (!k)
        return cli_usage_error(cmd, "'%s' is encrypted: give its key with --key-file", path);
    if ((mode == MODE_KEY) != (k->mode == MODE_KEY))
        return cli_fail(cmd, "cannot decrypt '%s': it was encrypted with a %s, --key-file holds "
                        "a %s", path, mode == MODE_KEY ? "32-byte key" : "passphrase",
                        k->mode == MODE_KEY ? "32-byte key" : "passphrase");
    r->enc = 1;
    if (mode == MODE_PASSPHRASE) {
        unsigned char *salt = r->hdr + 10;
        if (fread(salt, 1, SALT_LEN + 16, r->f) != SALT_LEN + 16)
            return cli_fail(cmd, "backup '%s' is damaged: it is cut short", path);
        r->hdr_len += SALT_LEN + 16;
        uint64_t ops = get_u64(salt + SALT_LEN), mem = get_u64(salt + SALT_LEN + 8);
        if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > crypto_pwhash_OPSLIMIT_SENSITIVE ||
            mem < crypto_pwhash_MEMLIMIT_MIN || mem > crypto_pwhash_MEMLIMIT_SENSITIVE)
            return cli_fail(cmd, "backup '%s' is damaged: bad argon2id limits", path);
        if (key_derive(key, k, salt, ops, (size_t)mem) < 0)
            return cli_fail(cmd, "%s", wp_error_last());
    } else {
        memcpy(key, k->raw, KEY_LEN);
    }
    if (fread(ssh, 1, SS_HEADER, r->f) != SS_HEADER)
        return cli_fail(cmd, "backup '%s' is damaged: it is cut short", path);
    int bad = crypto_secretstream_xchacha20poly1305_init_pull(&r->ss, ssh, key) != 0;
    sodium_memzero(key, sizeof key);
    if (bad)
        return cli_fail(cmd, "cannot decrypt '%s': a damaged header", path);
    return 0;
}

static void br_close(struct br *r)
{
    sha_release(&r->hash);
    if (r->f)
        fclose(r->f);
    r->f = NULL;
}

/* The next entry: 1 with its type and name, 0 at the end mark (its hash checked and nothing
 * after it), or a negative WP_E*. */
static int br_entry(struct br *r, int *type, char name[NAME_MAX_BYTES + 1])
{
    unsigned char h[3], want[HASH_LEN], got[HASH_LEN];
    int err;
    if ((err = br_get_h(r, h, 1, 0)) < 0) /* the end mark is not in the hash */
        return err;
    if (h[0] != ENTRY_END)
        sha_update(&r->hash, h, 1);
    if (h[0] == ENTRY_END) {
        sha_final(&r->hash, want);
        if ((err = br_get_h(r, got, HASH_LEN, 0)) < 0)
            return err;
        if (sodium_memcmp(want, got, HASH_LEN) != 0)
            return damaged(r, "its content does not match its hash");
        /* the end mark may close a full frame: then an empty one, tagged final, follows */
        if (r->enc && !r->final && r->pos == r->len && (err = br_fill(r)) < 0)
            return err;
        if (r->pos != r->len || (r->enc && !r->final) || fgetc(r->f) != EOF)
            return damaged(r, "bytes after its end");
        return 0;
    }
    if ((err = br_get(r, h + 1, 2)) < 0)
        return err;
    size_t n = (size_t)h[1] << 8 | h[2];
    if (n == 0 || n > NAME_MAX_BYTES || (h[0] != ENTRY_FILE && h[0] != ENTRY_TABLE &&
                                         h[0] != ENTRY_MANIFEST))
        return damaged(r, "an entry of an unknown kind");
    if ((err = br_get(r, name, n)) < 0)
        return err;
    name[n] = '\0';
    if (memchr(name, '\0', n))
        return damaged(r, "a name with a NUL in it");
    *type = h[0];
    r->left = 0;
    r->in_entry = 1;
    return 1;
}

/* Up to cap bytes of the current entry's data; 0 at its end. */
static long br_data(struct br *r, char *buf, size_t cap)
{
    int err;
    if (!r->in_entry)
        return 0;
    if (r->left == 0) {
        unsigned char len[4];
        if ((err = br_get(r, len, 4)) < 0)
            return err;
        r->left = get_u32(len);
        if (r->left == 0) {
            r->in_entry = 0;
            return 0;
        }
    }
    size_t take = r->left < cap ? r->left : cap;
    if ((err = br_get(r, buf, take)) < 0)
        return err;
    r->left -= (uint32_t)take;
    return (long)take;
}

/* Read the rest of the current entry's data and drop it. @return 0 or the error */
static int br_skip(struct br *r)
{
    char sink[CHUNK];
    long got;
    while ((got = br_data(r, sink, sizeof sink)) > 0)
        ;
    return got < 0 ? (int)got : 0;
}

/* --- what may be in a backup ---------------------------------------------------------- */

static int is_hex64(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return 0;
    return n == 64;
}

/* The files a backup may hold, by their path in the data dir; *media gets the hex name. */
static int allowed_file(const char *name, const char **media)
{
    *media = NULL;
    if (!strcmp(name, "workphone.conf") || !strcmp(name, WP_STORE_SQLITE_FILE))
        return 1;
    if (!strncmp(name, "keys/", 5)) {
        const char *k = name + 5;
        if (!*k || *k == '.' || strchr(k, '/') || strlen(k) > 100)
            return 0;
        for (const char *p = k; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
                  *p == '_' || *p == '-'))
                return 0;
        return 1;
    }
    /* media/ab/cd/<abcd...64 hex> */
    if (strlen(name) == 6 + 3 + 3 + 64 && !strncmp(name, "media/", 6) && name[8] == '/' &&
        name[11] == '/' && is_hex64(name + 12) && !strncmp(name + 6, name + 12, 2) &&
        !strncmp(name + 9, name + 14, 2)) {
        *media = name + 12;
        return 1;
    }
    return 0;
}

/* --- backup ------------------------------------------------------------------------- */

struct media_item {
    char hex[65], name[65]; /* name: on disk; another than hex when encrypted */
    int64_t size;
};

struct backup {
    const char *data, *db;
    const char *media_root; /* the media root (cli_media_dir): entries are still media/ab/cd/<hex> */
    struct bw w;
    json_t *tables, *problems;
    struct media_item *media;
    size_t n_media, cap_media;
    int64_t media_files, media_bytes, rows;
    /* a tenant's export with encrypted media: an ingest holding the master key opens them */
    wp_ingest *ing;
    const char *tenant_id;
};

static int add_media(void *ctx, const char *name, const char *hex, int64_t size)
{
    struct backup *b = ctx;
    if (!is_hex64(hex) || !is_hex64(name))
        return 0;
    if (b->n_media == b->cap_media) {
        size_t cap = b->cap_media ? 2 * b->cap_media : 256;
        struct media_item *m = realloc(b->media, cap * sizeof *m);
        if (!m)
            return wp_error_set(WP_ENOMEM, "out of memory");
        b->media = m, b->cap_media = cap;
    }
    memcpy(b->media[b->n_media].hex, hex, 65);
    memcpy(b->media[b->n_media].name, name, 65);
    b->media[b->n_media++].size = size;
    return 0;
}

static int add_count(void *ctx, const char *table, int64_t rows)
{
    struct backup *b = ctx;
    b->rows += rows;
    return json_object_set_new(b->tables, table, json_integer(rows)) ? WP_ENOMEM : 0;
}

/* One file of the data dir (or path, when not NULL) as entry name, streamed. When hex is not
 * NULL the bytes must hash to it: the file is hashed first, and one that does not match (or is
 * gone) is reported and left out. */
static int put_file(struct backup *b, const char *name, const char *path, const char *hex)
{
    char full[4096], buf[CHUNK];
    size_t n;
    int err = 0;
    if (!path) {
        if ((size_t)snprintf(full, sizeof full, "%s/%s", b->data, name) >= sizeof full)
            return wp_error_set(WP_EINVAL, "data dir path is too long");
        path = full;
    }
    FILE *f = fopen(path, "rb");
    if (!f && hex) {
        char why[300];
        snprintf(why, sizeof why, "the store lists it but it cannot be read: %s", strerror(errno));
        json_array_append_new(b->problems, json_pack("{s:s,s:s}", "file", name, "problem", why));
        return 0;
    }
    if (!f)
        return wp_error_set(WP_EIO, "cannot read '%s': %s", path, strerror(errno));
    struct stat sb;
    if (hex && fstat(fileno(f), &sb) == 0 && sb.st_size <= SMALL_MEDIA) {
        /* most media (photos, voice) are small: read once, hashed, then written */
        unsigned char *all = malloc(sb.st_size ? (size_t)sb.st_size : 1), d[32];
        char got[65];
        if (!all) {
            fclose(f);
            return wp_error_set(WP_ENOMEM, "out of memory");
        }
        n = fread(all, 1, (size_t)sb.st_size, f);
        int more = fgetc(f) != EOF, bad = ferror(f);
        fclose(f);
        if (EVP_Digest(all, n, d, NULL, EVP_sha256(), NULL) != 1)
            memset(d, 0, sizeof d);
        sodium_bin2hex(got, sizeof got, d, sizeof d);
        if (bad || more || n != (size_t)sb.st_size || strcmp(got, hex)) {
            free(all);
            json_array_append_new(b->problems,
                                  json_pack("{s:s,s:s}", "file", name, "problem",
                                            bad ? "it cannot be read"
                                                : "its bytes no longer match its hash"));
            return 0;
        }
        err = bw_entry(&b->w, ENTRY_FILE, name);
        for (size_t off = 0; err == 0 && off < n; off += CHUNK)
            err = bw_data(&b->w, all + off, n - off < CHUNK ? n - off : CHUNK);
        free(all);
        if (err == 0)
            err = bw_entry_end(&b->w);
        if (err == 0)
            b->media_files++, b->media_bytes += (int64_t)n;
        return err;
    }
    if (hex) {
        sha_state h;
        unsigned char d[32];
        char got[65];
        sha_init(&h);
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            sha_update(&h, (unsigned char *)buf, n);
        sha_final(&h, d);
        sodium_bin2hex(got, sizeof got, d, sizeof d);
        if (ferror(f) || strcmp(got, hex)) {
            json_array_append_new(b->problems,
                                  json_pack("{s:s,s:s}", "file", name, "problem",
                                            ferror(f) ? "it cannot be read"
                                                      : "its bytes no longer match its hash"));
            fclose(f);
            return 0;
        }
        rewind(f);
    }
    sha_state h;
    sha_init(&h);
    int64_t total = 0;
    if ((err = bw_entry(&b->w, ENTRY_FILE, name)) < 0)
        goto out;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        sha_update(&h, (unsigned char *)buf, n);
        total += (int64_t)n;
        if ((err = bw_data(&b->w, buf, n)) < 0)
            goto out;
    }
    if (ferror(f)) {
        err = wp_error_set(WP_EIO, "cannot read '%s': %s", path, strerror(errno));
        goto out;
    }
    if (hex) {
        unsigned char d[32];
        char got[65];
        sha_final(&h, d);
        sodium_bin2hex(got, sizeof got, d, sizeof d);
        if (strcmp(got, hex)) {
            err = wp_error_set(WP_ECORRUPT, "media file '%s' changed while it was read", path);
            goto out;
        }
        b->media_files++;
        b->media_bytes += total;
    }
    err = bw_entry_end(&b->w);
out:
    sha_release(&h);
    fclose(f);
    return err;
}

static int put_keys(struct backup *b)
{
    char dir[4096], name[300];
    struct dirent **list = NULL;
    int n, err = 0;
    if ((size_t)snprintf(dir, sizeof dir, "%s/keys", b->data) >= sizeof dir)
        return wp_error_set(WP_EINVAL, "data dir path is too long");
    if ((n = scandir(dir, &list, NULL, alphasort)) < 0)
        return errno == ENOENT ? 0 : wp_error_set(WP_EIO, "cannot list '%s': %s", dir,
                                                   strerror(errno));
    for (int i = 0; i < n; i++) {
        const char *media;
        snprintf(name, sizeof name, "keys/%s", list[i]->d_name);
        if (err == 0 && list[i]->d_type == DT_REG && allowed_file(name, &media))
            err = put_file(b, name, NULL, NULL);
        free(list[i]);
    }
    free(list);
    return err;
}

/* An encrypted media file, carried as it is (docs/internals/keys.md, "Media"): it reads only
 * with the tenant's data key, which the backup holds wrapped by the master key it never holds.
 * Its chunks are authenticated when it is read; here its header and size are checked. */
static int put_encrypted(struct backup *b, const char *name, const char *path, int64_t plain)
{
    struct stat sb;
    char head[8] = "";
    const char *why = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        why = "the store lists it but it cannot be read";
    else if (fstat(fd, &sb) != 0 || pread(fd, head, sizeof head, 0) != (ssize_t)sizeof head ||
             memcmp(head, "WPMEDIA1", 8) ||
             sb.st_size != wp_ingest_media_stored_size(plain, 1))
        why = "it is not the encrypted file the store recorded";
    if (fd >= 0)
        close(fd);
    if (why) {
        json_array_append_new(b->problems, json_pack("{s:s,s:s}", "file", name, "problem", why));
        return 0;
    }
    int err = put_file(b, name, path, NULL);
    if (err == 0)
        b->media_files++, b->media_bytes += (int64_t)sb.st_size;
    return err;
}

/* An encrypted media file of a tenant's export, opened (docs/internals/keys.md, "Media"): read
 * through the checked reader (every chunk authenticated, the plaintext hashed against its
 * sha256) and carried plain under its sha256, as a plain file is; the other deployment seals
 * it again under its own keys. A file that fails its check is a problem, named by its name on
 * disk, and left out. */
static int put_opened(struct backup *b, const struct media_item *m)
{
    char entry[128], disk[128], ref[72], buf[CHUNK], plain[4096 + 80];
    wp_media_reader *rd = NULL;
    int64_t size = 0, total = 0;
    long n = 0;
    int fd = -1, err;
    snprintf(entry, sizeof entry, "media/%.2s/%.2s/%s", m->hex, m->hex + 2, m->hex);
    snprintf(disk, sizeof disk, "media/%.2s/%.2s/%s", m->name, m->name + 2, m->name);
    snprintf(ref, sizeof ref, "sha256:%s", m->hex);
    if ((err = wp_ingest_media_open(b->ing, &fd, &rd, &size, b->tenant_id, ref)) == WP_ENOMEM)
        return err;
    if (err < 0) {
        json_array_append_new(b->problems,
                              json_pack("{s:s,s:s}", "file", disk, "problem", wp_error_last()));
        return 0;
    }
    if (fd >= 0) { /* its keyed copy is gone but the plain file it came from is there */
        close(fd);
        snprintf(plain, sizeof plain, "%s/%.2s/%.2s/%s", b->media_root, m->hex, m->hex + 2, m->hex);
        return put_file(b, entry, plain, m->hex);
    }
    err = bw_entry(&b->w, ENTRY_FILE, entry);
    while (err == 0 && (n = wp_media_reader_read(rd, buf, sizeof buf)) > 0) {
        total += n;
        err = bw_data(&b->w, buf, (size_t)n);
    }
    sodium_memzero(buf, sizeof buf);
    wp_media_reader_free(rd);
    if (err == 0 && n < 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", wp_error_last());
        return wp_error_set(WP_ECORRUPT, "media file '%s' changed while it was read: %s", disk,
                            why);
    }
    if (err == 0 && (err = bw_entry_end(&b->w)) == 0)
        b->media_files++, b->media_bytes += total;
    return err;
}

static int put_media(struct backup *b)
{
    char name[128], path[4096 + 80];
    int err;
    for (size_t i = 0; i < b->n_media; i++) {
        const char *h = b->media[i].name;
        snprintf(name, sizeof name, "media/%.2s/%.2s/%s", h, h + 2, h);
        snprintf(path, sizeof path, "%s/%.2s/%.2s/%s", b->media_root, h, h + 2, h);
        if (strcmp(h, b->media[i].hex) == 0)
            err = put_file(b, name, path, h);
        else if (b->ing)
            err = put_opened(b, &b->media[i]);
        else
            err = put_encrypted(b, name, path, b->media[i].size);
        if (err < 0)
            return err;
    }
    return 0;
}

static int dump_begin(void *ctx, const char *table)
{
    return bw_entry(&((struct backup *)ctx)->w, ENTRY_TABLE, table);
}
static int dump_data(void *ctx, const char *p, size_t n)
{
    return bw_data(&((struct backup *)ctx)->w, p, n);
}
static int dump_end(void *ctx, const char *table, int64_t rows)
{
    int err = add_count(ctx, table, rows);
    return err ? err : bw_entry_end(&((struct backup *)ctx)->w);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}
static void rm_tree(const char *dir)
{
    if (dir && *dir)
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The directory of path ("." when it has none), in out. */
static void dir_of(char *out, size_t cap, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, cap, ".");
    else if (slash == path)
        snprintf(out, cap, "/");
    else
        snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* End a backup or export: the manifest (with the counts of b), the file closed, then linked
 * in at out (never over an existing file, even one made meanwhile) and part removed. */
static int finish_file(struct backup *b, json_t *man, char *part, const char *out,
                       const char *dir)
{
    int err;
    if (json_object_set(man, "tables", b->tables) < 0 ||
        json_object_set_new(man, "rows", json_integer(b->rows)) < 0 ||
        json_object_set_new(man, "media",
                            json_pack("{s:I,s:I}", "files", (json_int_t)b->media_files, "bytes",
                                      (json_int_t)b->media_bytes)) < 0 ||
        json_object_set(man, "problems", b->problems) < 0)
        return wp_error_set(WP_ENOMEM, "out of memory");
    char *text = wp_json_dumps(man, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text)
        return wp_error_set(WP_ENOMEM, "out of memory");
    err = bw_entry(&b->w, ENTRY_MANIFEST, "manifest.json");
    if (err == 0)
        err = bw_data(&b->w, text, strlen(text));
    free(text);
    if (err < 0 || (err = bw_entry_end(&b->w)) < 0 || (err = bw_finish(&b->w)) < 0)
        return err;
    if (fclose(b->w.f) != 0) {
        b->w.f = NULL;
        return wp_error_set(WP_EIO, "cannot write '%s': %s", part, strerror(errno));
    }
    b->w.f = NULL;
    if (link(part, out) != 0)
        return wp_error_set(WP_EIO, "cannot make '%s': %s", out, strerror(errno));
    unlink(part);
    part[0] = '\0';
    fsync_dir(dir);
    return 0;
}

static json_t *manifest_new(const char *backend, int version, int encrypted)
{
    char when[40];
    int64_t now = wp_time_now_us();
    wp_time_format(when, now - now % 1000000, 0); /* whole seconds */
    return json_pack("{s:i,s:s,s:i,s:s,s:s,s:b}", "format", FORMAT_VERSION, "backend", backend,
                     "schema_version", version, "workphone_version", WP_VERSION, "created", when,
                     "encrypted", encrypted);
}

static int run_backup(const char *data, const char *db, const char *media, const char *out,
                      const struct key *k)
{
    struct backup b = {.data = data, .db = db, .media_root = media};
    char part[4096], dir[4096], tmpdir[4096] = "", snap[4200];
    wp_store *st = NULL;
    json_t *man = NULL;
    int fd = -1, err = 0, version = 0, code = WP_EXIT_FAIL;
    int64_t t0 = wp_time_now_us();

    b.tables = json_object();
    b.problems = json_array();
    dir_of(dir, sizeof dir, out);
    if ((size_t)snprintf(part, sizeof part, "%s.part-XXXXXX", out) >= sizeof part)
        return cli_usage_error("backup", "--out '%s': the path is too long", out);
    if ((fd = mkstemp(part)) < 0) {
        code = cli_fail("backup", "cannot create '%s': %s", part, strerror(errno));
        part[0] = '\0';
        goto out;
    }
    fchmod(fd, 0600);
    if (!(b.w.f = fdopen(fd, "wb"))) {
        code = cli_fail("backup", "cannot write '%s': %s", part, strerror(errno));
        close(fd);
        goto out;
    }
    b.w.path = part;
    if ((err = bw_start(&b.w, k)) < 0 || (err = put_file(&b, "workphone.conf", NULL, NULL)) < 0 ||
        (err = put_keys(&b)) < 0)
        goto fail;
    if (!db) {
        /* the live file copied with SQLite's online backup, then read through the store */
        if ((size_t)snprintf(tmpdir, sizeof tmpdir, "%s/.wpbackup-XXXXXX", dir) >=
                sizeof tmpdir ||
            !mkdtemp(tmpdir)) {
            err = wp_error_set(WP_EIO, "cannot make a temporary directory in '%s': %s", dir,
                               strerror(errno));
            tmpdir[0] = '\0';
            goto fail;
        }
        snprintf(snap, sizeof snap, "%s/%s", tmpdir, WP_STORE_SQLITE_FILE);
        if ((err = wp_store_sqlite_snapshot(data, snap)) < 0 ||
            (err = wp_store_open(&st, tmpdir, NULL)) < 0 ||
            (err = wp_store_schema_version(st, &version)) < 0 ||
            (err = wp_store_table_counts(st, add_count, &b)) < 0 ||
            (err = wp_store_media_each(st, add_media, &b)) < 0)
            goto fail;
        wp_store_free(st);
        st = NULL;
        /* the last connection's close folds the WAL back: the file alone is the snapshot */
        char wal[4300];
        struct stat sb;
        snprintf(wal, sizeof wal, "%s-wal", snap);
        if (stat(wal, &sb) == 0 && sb.st_size > 0) {
            err = wp_error_set(WP_EIO, "the snapshot's WAL '%s' was not checkpointed", wal);
            goto fail;
        }
        if ((err = put_file(&b, WP_STORE_SQLITE_FILE, snap, NULL)) < 0)
            goto fail;
    } else {
        wp_store_dump_cb cb = {dump_begin, dump_data, dump_end, &b};
        if ((err = wp_store_open(&st, data, db)) < 0 ||
            (err = wp_store_pg_dump(st, &version, &cb)) < 0)
            goto fail;
        /* after the snapshot: every file its rows name is listed still (media rows are only
         * added while the archive is kept), and files added since may come along */
        if ((err = wp_store_media_each(st, add_media, &b)) < 0)
            goto fail;
        wp_store_free(st);
        st = NULL;
    }
    if ((err = put_media(&b)) < 0)
        goto fail;
    if (!(man = manifest_new(db ? "postgresql" : "sqlite", version, k != NULL))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto fail;
    }
    if ((err = finish_file(&b, man, part, out, dir)) < 0)
        goto fail;
    for (size_t i = 0; i < json_array_size(b.problems); i++) {
        json_t *p = json_array_get(b.problems, i);
        fprintf(stderr, "workphone backup: bad: %s: %s; it is not in the backup\n",
                json_string_value(json_object_get(p, "file")),
                json_string_value(json_object_get(p, "problem")));
    }
    printf("%s: %s, schema %d, %zu tables, %lld rows, %lld media files (%lld bytes), "
           "%lld bytes%s, %.1f s\n",
           json_array_size(b.problems) ? "written with problems" : "ok", out,
           version, json_object_size(b.tables), (long long)b.rows, (long long)b.media_files,
           (long long)b.media_bytes, (long long)b.w.bytes, k ? ", encrypted" : "",
           (double)(wp_time_now_us() - t0) / 1e6);
    code = json_array_size(b.problems) ? WP_EXIT_FAIL : WP_EXIT_OK;
    goto out;
fail:
    code = cli_fail("backup", "%s", wp_error_last());
out:
    wp_store_free(st);
    sha_release(&b.w.hash);
    if (b.w.f)
        fclose(b.w.f);
    if (part[0])
        unlink(part);
    rm_tree(tmpdir);
    json_decref(man);
    json_decref(b.tables);
    json_decref(b.problems);
    free(b.media);
    return code;
}

/* --- one tenant's export ------------------------------------------------------------- */

/* A tenant's export carries its audit key but not its data keys (the other deployment has
 * another master key): media encrypted at rest (docs/internals/keys.md) are opened here, with
 * the master key, through an ingest as serve's. Without it they cannot be: the export fails. */
static int open_encrypted(struct backup *b, cli_keyring *kr, wp_store_connpool **pool)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n_media; i++)
        n += strcmp(b->media[i].name, b->media[i].hex) != 0;
    if (!n)
        return 0;
    if (!kr->have)
        return wp_error_set(WP_EINVAL,
                            "%zu of the tenant's media files are encrypted at rest, and no "
                            "master key is configured: the export opens them with it; set "
                            "master_key_file= or master_key_command= in %s/workphone.conf",
                            n, b->data);
    return cli_keyring_ingest(kr, b->media_root, pool, &b->ing);
}

/* A store whose keys a master key wraps holds the tenant's fields sealed and its media
 * encrypted: the export opens them with that key, and without it refuses before it writes. */
static int sealed_without_key(wp_store *st, const cli_keyring *kr, const char *data)
{
    char fp[WP_KEY_FP_LEN + 1];
    int err;
    if (kr->have)
        return 0;
    if ((err = wp_store_keys_master_fp(st, fp)) < 0)
        return err;
    if (!*fp)
        return 0;
    return wp_error_set(WP_EINVAL,
                        "the tenant's data is encrypted at rest under master key %s, and no "
                        "master key is configured: the export opens it with it; set "
                        "master_key_file= or master_key_command= in %s/workphone.conf",
                        fp, data);
}

int cli_tenant_export(const char *data, const char *db, const char *media, const char *tenant_id,
                      const char *name, const char *out, const char *key_file)
{
    struct backup b = {.data = data, .db = db, .media_root = media, .tenant_id = tenant_id};
    unsigned char audit_key[WP_AUDIT_KEY_LEN];
    cli_keyring kr;
    wp_store_connpool *pool = NULL;
    struct key key, *k = NULL;
    char part[4096], dir[4096];
    wp_store *st = NULL;
    json_t *man = NULL;
    int fd = -1, err = 0, version = 0, code = WP_EXIT_FAIL;

    memset(&kr, 0, sizeof kr);
    if (sodium_init() < 0)
        return cli_fail("tenant", "libsodium cannot start");
    if (key_file) {
        if ((code = key_read(&key, "tenant", key_file)) != 0)
            return code;
        k = &key;
    }
    if (access(out, F_OK) == 0) {
        code =
            cli_usage_error("tenant", "--out '%s' exists: an export never overwrites a file", out);
        goto wipe;
    }
    b.tables = json_object();
    b.problems = json_array();
    dir_of(dir, sizeof dir, out);
    if ((size_t)snprintf(part, sizeof part, "%s.part-XXXXXX", out) >= sizeof part) {
        code = cli_usage_error("tenant", "--out '%s': the path is too long", out);
        part[0] = '\0';
        goto out;
    }
    if ((fd = mkstemp(part)) < 0) {
        code = cli_fail("tenant", "cannot create '%s': %s", part, strerror(errno));
        part[0] = '\0';
        goto out;
    }
    fchmod(fd, 0600);
    if (!(b.w.f = fdopen(fd, "wb"))) {
        code = cli_fail("tenant", "cannot write '%s': %s", part, strerror(errno));
        close(fd);
        goto out;
    }
    b.w.path = part;
    wp_store_dump_cb cb = {dump_begin, dump_data, dump_end, &b};
    /* the audit key as the chain needs it: unwrapped when a master key keeps it in the store */
    if ((err = cli_keyring_open(&kr, data, db, NULL, NULL)) == 0)
        err = cli_keyring_get(&kr, audit_key, 0, 0);
    if (err < 0)
        goto fail;
    err = bw_start(&b.w, k);
    if (err == 0 && (err = bw_entry(&b.w, ENTRY_FILE, "keys/audit.key")) == 0 &&
        (err = bw_data(&b.w, audit_key, sizeof audit_key)) == 0)
        err = bw_entry_end(&b.w);
    sodium_memzero(audit_key, sizeof audit_key);
    if (err < 0 || (err = wp_store_open(&st, data, db)) < 0 ||
        (err = sealed_without_key(st, &kr, data)) < 0 ||
        (err = wp_store_tenant_dump(st, tenant_id, &version, &cb)) < 0 ||
        (err = wp_store_tenant_media_each(st, tenant_id, add_media, &b)) < 0 ||
        (err = open_encrypted(&b, &kr, &pool)) < 0 || (err = put_media(&b)) < 0)
        goto fail;
    if (!(man = manifest_new(db ? "postgresql" : "sqlite", version, k != NULL))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto fail;
    }
    json_object_set_new(man, "kind", json_string("tenant"));
    json_object_set_new(man, "tenant", json_pack("{s:s,s:s}", "id", tenant_id, "name", name));
    if ((err = finish_file(&b, man, part, out, dir)) < 0)
        goto fail;
    for (size_t i = 0; i < json_array_size(b.problems); i++) {
        json_t *p = json_array_get(b.problems, i);
        fprintf(stderr, "workphone tenant: bad: %s: %s; it is not in the export\n",
                json_string_value(json_object_get(p, "file")),
                json_string_value(json_object_get(p, "problem")));
    }
    printf("%s: tenant '%s' to %s, schema %d, %lld rows, %lld media files (%lld bytes)%s\n",
           json_array_size(b.problems) ? "written with problems" : "ok", name, out, version,
           (long long)b.rows, (long long)b.media_files, (long long)b.media_bytes,
           k ? ", encrypted" : "");
    code = json_array_size(b.problems) ? WP_EXIT_FAIL : WP_EXIT_OK;
    goto out;
fail:
    code = cli_fail("tenant", "%s", wp_error_last());
out:
    wp_ingest_free(b.ing);
    wp_store_connpool_free(pool);
    cli_keyring_close(&kr);
    wp_store_free(st);
    sha_release(&b.w.hash);
    if (b.w.f)
        fclose(b.w.f);
    if (part[0])
        unlink(part);
    json_decref(man);
    json_decref(b.tables);
    json_decref(b.problems);
    free(b.media);
wipe:
    sodium_memzero(&key, sizeof key);
    return code;
}

/* --- reading a backup through: --list and restore's first pass -------------------------- */

struct seen {
    json_t *manifest;
    int conf, db_file, tables;
    int64_t media_files, media_bytes;
};

/* A table entry's name as the writer gives it: the catalog's, never schema_version. */
static int table_name_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
            return 0;
    return n > 0 && n <= 63 && strcmp(s, "schema_version") != 0;
}

/* The manifest lists what the entries before it hold: every table entry (and no other), and
 * as many media files. A file that passes its hash but not this was made up, or written by
 * a broken writer: restoring it would make a store whose rows name what is not there. */
static int manifest_matches(const struct seen *s, json_t *names)
{
    json_t *tables = json_object_get(s->manifest, "tables"),
           *files = json_object_get(json_object_get(s->manifest, "media"), "files");
    const char *key;
    json_t *v;
    if (!json_is_object(tables) || !json_is_integer(files) ||
        json_integer_value(files) != s->media_files || (s->tables && json_object_size(tables) !=
                                                                         (size_t)s->tables))
        return 0;
    json_object_foreach(names, key, v)
        if (!strncmp(key, "T:", 2) && (!table_name_ok(key + 2) || !json_object_get(tables, key + 2)))
            return 0;
    return 1;
}

/* Read the whole backup, checking each part. 0, or a negative WP_E* with the message set. */
static int verify(struct br *r, struct seen *s)
{
    char name[NAME_MAX_BYTES + 1], buf[CHUNK], why[NAME_MAX_BYTES + 40];
    int type, err;
    json_t *names = json_object(); /* "F:name", "T:name": each entry once */
    memset(s, 0, sizeof *s);
    if (!names)
        return wp_error_set(WP_ENOMEM, "out of memory");
    while ((err = br_entry(r, &type, name)) == 1) {
        const char *hex = NULL;
        sha_state h = {NULL};
        char *man = NULL, head[8];
        size_t man_len = 0, head_len = 0;
        int64_t total = 0;
        long n;
        err = WP_ECORRUPT;
        if (type == ENTRY_FILE && !allowed_file(name, &hex)) {
            damaged(r, "a file it may not hold");
            goto out;
        }
        if (type == ENTRY_MANIFEST && (s->manifest || strcmp(name, "manifest.json"))) {
            damaged(r, "a second manifest");
            goto out;
        }
        if (s->manifest) { /* the writer puts it last */
            damaged(r, "an entry after its manifest");
            goto out;
        }
        if (type != ENTRY_MANIFEST) {
            snprintf(why, sizeof why, "%c:%s", type, name);
            if (json_object_get(names, why)) {
                snprintf(why, sizeof why, "'%s' is in it twice", name);
                damaged(r, why);
                goto out;
            }
            if (json_object_set_new(names, why, json_true()) < 0) {
                err = wp_error_set(WP_ENOMEM, "out of memory");
                goto out;
            }
        }
        if (type == ENTRY_MANIFEST && !(man = malloc(MANIFEST_MAX + 1))) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
        if (hex)
            sha_init(&h);
        while ((n = br_data(r, buf, sizeof buf)) > 0) {
            if (hex && head_len < sizeof head) {
                size_t k = sizeof head - head_len < (size_t)n ? sizeof head - head_len : (size_t)n;
                memcpy(head + head_len, buf, k);
                head_len += k;
            }
            total += n;
            if (hex)
                sha_update(&h, (unsigned char *)buf, (size_t)n);
            if (man) {
                if (man_len + (size_t)n > MANIFEST_MAX) {
                    free(man);
                    damaged(r, "its manifest is too long");
                    goto out;
                }
                memcpy(man + man_len, buf, (size_t)n);
                man_len += (size_t)n;
            }
        }
        if (n < 0) {
            sha_release(&h);
            free(man);
            err = (int)n;
            goto out;
        }
        if (hex) {
            unsigned char d[32];
            char got[65];
            sha_final(&h, d);
            sodium_bin2hex(got, sizeof got, d, sizeof d);
            /* an encrypted one is named by a keyed hash: its chunks authenticate it when read */
            int enc = head_len == sizeof head && !memcmp(head, "WPMEDIA1", 8);
            if (!enc && strcmp(got, hex)) {
                damaged(r, "a media file does not match its hash");
                goto out;
            }
            s->media_files++, s->media_bytes += total;
        }
        if (type == ENTRY_FILE && !strcmp(name, "workphone.conf"))
            s->conf = 1;
        if (type == ENTRY_FILE && !strcmp(name, WP_STORE_SQLITE_FILE))
            s->db_file = 1;
        if (type == ENTRY_TABLE)
            s->tables++;
        if (man) {
            man[man_len] = '\0';
            s->manifest = wp_json_loads(man, 0, NULL);
            free(man);
            if (!json_is_object(s->manifest)) {
                json_decref(s->manifest);
                s->manifest = NULL;
                err = damaged(r, "its manifest is not JSON");
                goto out;
            }
        }
    }
    if (err < 0)
        goto out;
    err = WP_ECORRUPT;
    const char *kind = json_string_value(json_object_get(s->manifest, "kind"));
    if (kind && !strcmp(kind, "tenant")) {
        /* `workphone tenant export`: its rows as JSON lines, its media, the audit key */
        if (s->db_file || s->conf || !s->tables ||
            !json_is_object(json_object_get(s->manifest, "tenant")) ||
            json_integer_value(json_object_get(s->manifest, "schema_version")) < 1 ||
            !manifest_matches(s, names)) {
            damaged(r, "its manifest does not describe what it holds");
            goto out;
        }
        err = 0;
        goto out;
    }
    if (!s->manifest || !s->conf) {
        damaged(r, "no manifest or no workphone.conf");
        goto out;
    }
    const char *backend = json_string_value(json_object_get(s->manifest, "backend"));
    if (!backend || (strcmp(backend, "sqlite") && strcmp(backend, "postgresql")) ||
        (!strcmp(backend, "sqlite") && (!s->db_file || s->tables)) ||
        (!strcmp(backend, "postgresql") && (s->db_file || !s->tables)) ||
        json_integer_value(json_object_get(s->manifest, "schema_version")) < 1 ||
        !manifest_matches(s, names)) {
        damaged(r, "its manifest does not describe what it holds");
        goto out;
    }
    err = 0;
out:
    json_decref(names);
    return err;
}

static void print_manifest(const json_t *m)
{
    char *text = wp_json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (text)
        printf("%s\n", text);
    free(text);
}

static int run_list(const char *path, const struct key *k)
{
    struct br r;
    struct seen s = {0};
    int code = br_open(&r, "backup", path, k);
    if (code == 0) {
        if (verify(&r, &s) < 0) {
            code = cli_fail("backup", "%s", wp_error_last());
        } else {
            print_manifest(s.manifest);
            printf("ok: %s is whole: %lld media files (%lld bytes) match their hashes\n", path,
                   (long long)s.media_files, (long long)s.media_bytes);
        }
    }
    br_close(&r);
    json_decref(s.manifest);
    return code;
}

/* --- restore -------------------------------------------------------------------------- */

static int mkdirs(const char *root, const char *name)
{
    char path[4096];
    const char *p = name;
    while ((p = strchr(p, '/'))) {
        if ((size_t)snprintf(path, sizeof path, "%s/%.*s", root, (int)(p - name), name) >=
            sizeof path)
            return wp_error_set(WP_EINVAL, "data dir path is too long");
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return wp_error_set(wp_error_errno_code(errno), "cannot make '%s': %s", path,
                                strerror(errno));
        p++;
    }
    return 0;
}

static int write_entry(struct br *r, const char *root, const char *name)
{
    char path[4096], buf[CHUNK];
    long n;
    int fd, err = 0;
    if ((err = mkdirs(root, name)) < 0)
        return err;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", root, name) >= sizeof path)
        return wp_error_set(WP_EINVAL, "data dir path is too long");
    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
        return wp_error_set(wp_error_errno_code(errno), "cannot create '%s': %s", path,
                            strerror(errno));
    while ((n = br_data(r, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w < 0) {
                err = wp_error_set(wp_error_errno_code(errno), "cannot write '%s': %s", path,
                                   strerror(errno));
                goto out;
            }
            off += w;
        }
    }
    if (n < 0)
        err = (int)n;
    else if (fsync(fd) != 0)
        err = wp_error_set(wp_error_errno_code(errno), "cannot write '%s': %s", path,
                           strerror(errno));
out:
    close(fd);
    return err;
}

static long load_read(void *ctx, char *buf, size_t cap)
{
    return br_data(ctx, buf, cap);
}

static int dir_is_empty(const char *dir, int *exists)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int empty = 1;
    *exists = d != NULL || errno != ENOENT;
    if (!d)
        return errno == ENOENT ? 1 : -1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            empty = 0;
    closedir(d);
    return empty;
}

/* The restored audit log verifies with the restored audit key: a backup whose key is another
 * deployment's (or whose log was changed before it was taken) is refused, as 'audit verify'
 * after it would fail. With a master key the audit key is wrapped in the store: when that
 * master key cannot be had here, the check is left to 'audit verify' (docs/backup.md). */
static int audit_fits(wp_store *st, const char *dir, const char *db)
{
    unsigned char key[WP_AUDIT_KEY_LEN];
    cli_keyring kr;
    wp_audit_verdict v;
    int err;
    if ((err = cli_keyring_open(&kr, dir, db, NULL, NULL)) == 0)
        err = cli_keyring_get(&kr, key, 0, 0);
    cli_keyring_close(&kr);
    if (err < 0)
        return 0;
    err = wp_store_audit_verify(st, key, NULL, &v);
    sodium_memzero(key, sizeof key);
    if (err < 0)
        return err;
    if (!v.ok)
        return wp_error_set(WP_ECORRUPT, "its audit log does not verify with its audit key "
                            "(tenant %s, row %lld: %s): the key is another deployment's, or the "
                            "log was changed", v.tenant_id, (long long)v.bad_seq, v.why);
    return 0;
}

static int run_restore(const char *in, const char *data_arg, const char *db, const struct key *k)
{
    char parent[4096], tmp[4096] = "", name[NAME_MAX_BYTES + 1], data[4096];
    struct br r = {0};
    struct seen s = {0};
    wp_store *st = NULL;
    int code, err = 0, type, exists, in_tx = 0, schema_made = 0;
    char **index_defs = NULL;
    size_t n_index = 0;
    int64_t t0 = wp_time_now_us();

    /* "dir/" is "dir": the temporary directory goes beside it, not inside */
    size_t dlen = strlen(data_arg);
    while (dlen > 1 && data_arg[dlen - 1] == '/')
        dlen--;
    if (dlen >= sizeof data)
        return cli_usage_error("restore", "--data: the path is too long");
    memcpy(data, data_arg, dlen);
    data[dlen] = '\0';
    int empty = dir_is_empty(data, &exists);
    if (empty < 0)
        return cli_usage_error("restore", "--data '%s': %s", data, strerror(errno));
    if (!empty)
        return cli_usage_error("restore", "--data '%s' is not empty: restore makes a new data "
                               "dir", data);
    if ((code = br_open(&r, "restore", in, k)) != 0)
        goto out;
    if (verify(&r, &s) < 0) {
        code = cli_fail("restore", "%s; nothing was written", wp_error_last());
        goto out;
    }
    if (json_object_get(s.manifest, "kind")) {
        code = cli_usage_error("restore",
                               "'%s' is one tenant's export, not a backup: 'workphone "
                               "tenant import' reads it",
                               in);
        goto out;
    }
    const char *backend = json_string_value(json_object_get(s.manifest, "backend"));
    int version = (int)json_integer_value(json_object_get(s.manifest, "schema_version"));
    int pg = !strcmp(backend, "postgresql");
    if (pg && !db) {
        code = cli_usage_error("restore", "'%s' is a PostgreSQL backup: give --db URL of an "
                               "empty database", in);
        goto out;
    }
    if (!pg && db) {
        code = cli_usage_error("restore", "'%s' is a SQLite backup: leave out --db", in);
        goto out;
    }
    if (version > wp_store_schema_latest()) {
        code = cli_usage_error("restore", "'%s' has schema version %d; this workphone knows %d: "
                               "upgrade workphone", in, version, wp_store_schema_latest());
        goto out;
    }
    if (pg) {
        int db_empty = 0;
        if (wp_store_pg_is_empty(db, &db_empty) < 0) {
            code = cli_fail("restore", "%s", wp_error_last());
            goto out;
        }
        if (!db_empty) {
            code = cli_usage_error("restore", "--db: the database has tables in it; restore "
                                   "needs an empty one");
            goto out;
        }
    }
    /* the second pass writes, beside DIR under a temporary name */
    br_close(&r);
    if ((code = br_open(&r, "restore", in, k)) != 0)
        goto out;
    code = WP_EXIT_FAIL;
    dir_of(parent, sizeof parent, data);
    const char *base = strrchr(data, '/') ? strrchr(data, '/') + 1 : data;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s/.%s.restore-XXXXXX", parent, base) >= sizeof tmp ||
        !mkdtemp(tmp)) {
        err = wp_error_set(WP_EIO, "cannot make a directory in '%s': %s", parent,
                           strerror(errno));
        tmp[0] = '\0';
        goto fail;
    }
    chmod(tmp, 0700);
    while ((err = br_entry(&r, &type, name)) == 1) {
        if (type == ENTRY_FILE) {
            if ((err = write_entry(&r, tmp, name)) < 0)
                goto fail;
        } else if (type == ENTRY_TABLE) {
            if (!st) {
                schema_made = 1; /* the migrations write from here on */
                if ((err = wp_store_open_at(&st, db, version)) < 0 ||
                    (err = wp_store_begin(st)) < 0)
                    goto fail;
                in_tx = 1;
                if ((err = wp_store_pg_indexes_drop(st, &index_defs, &n_index)) < 0)
                    goto fail;
            }
            if ((err = wp_store_pg_load(st, name, load_read, &r)) < 0)
                goto fail;
        } else {
            if ((err = br_skip(&r)) < 0)
                goto fail;
        }
    }
    if (err < 0)
        goto fail;
    if (st) {
        err = wp_store_pg_indexes_make(st, index_defs, n_index);
        index_defs = NULL;
        if (err < 0 || (err = wp_store_pg_reset_identities(st)) < 0 ||
            (err = wp_store_commit(st)) < 0)
            goto fail;
        in_tx = 0;
        wp_store_free(st);
        st = NULL;
    }
    /* open it as serve would: brings an older schema up to date, and proves it opens */
    if ((err = wp_store_open(&st, tmp, db)) < 0 || (err = audit_fits(st, tmp, db)) < 0)
        goto fail;
    wp_store_free(st);
    st = NULL;
    if (rename(tmp, data) != 0) {
        err = wp_error_set(WP_EIO, "cannot rename '%s' to '%s': %s", tmp, data, strerror(errno));
        goto fail;
    }
    tmp[0] = '\0';
    fsync_dir(parent);
    print_manifest(s.manifest);
    printf("ok: restored %s into %s%s: %lld media files (%lld bytes), %.1f s\n", in, data,
           pg ? " and the database" : "", (long long)s.media_files,
           (long long)s.media_bytes, (double)(wp_time_now_us() - t0) / 1e6);
    code = WP_EXIT_OK;
    goto out;
fail:
    code = cli_fail("restore", "%s%s", wp_error_last(),
                    schema_made ? "; the database may hold the schema restore made: empty it "
                                  "before trying again"
                                : "; nothing was left in place of the data dir");
out:
    if (index_defs)
        wp_store_pg_indexes_make(NULL, index_defs, n_index);
    if (in_tx)
        wp_store_rollback(st);
    wp_store_free(st);
    br_close(&r);
    rm_tree(tmp);
    json_decref(s.manifest);
    return code;
}

/* --- the commands ---------------------------------------------------------------------- */

static int db_check(const char *cmd, const char *db)
{
    if (db && strncmp(db, "postgresql://", 13) && strncmp(db, "postgres://", 11))
        return cli_usage_error(cmd, "--db must be a postgresql:// URL");
    return 0;
}

int cmd_backup(int argc, char **argv)
{
    const char *data = NULL, *db = NULL, *out = NULL, *key_file = NULL, *list = NULL;
    const char *media_dir = NULL;
    struct key key;
    int code;
    if (cli_wants_help(argc, argv)) {
        fputs(backup_help, stdout);
        return WP_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_opt(argc, argv, &i, "backup", "data", &data)) ||
            (r = cli_opt(argc, argv, &i, "backup", "db", &db)) ||
            (r = cli_opt(argc, argv, &i, "backup", "out", &out)) ||
            (r = cli_opt(argc, argv, &i, "backup", "key-file", &key_file)) ||
            (r = cli_opt(argc, argv, &i, "backup", "list", &list)) ||
            (r = cli_opt(argc, argv, &i, "backup", "media-dir", &media_dir))) {
            if (r < 0)
                return WP_EXIT_USAGE;
            continue;
        }
        return cli_usage_error("backup", "unknown argument '%s'; see 'workphone backup --help'",
                               argv[i]);
    }
    if (sodium_init() < 0)
        return cli_fail("backup", "libsodium cannot start");
    if (key_file && (code = key_read(&key, "backup", key_file)) != 0)
        return code;
    if (list) {
        if (data || db || out || media_dir)
            return cli_usage_error("backup", "--list takes only --key-file");
        code = run_list(list, key_file ? &key : NULL);
        sodium_memzero(&key, sizeof key);
        return code;
    }
    if (!out || !*out)
        return cli_usage_error("backup", "missing --out FILE");
    if (access(out, F_OK) == 0)
        return cli_usage_error("backup", "--out '%s' exists: a backup never overwrites a file",
                               out);
    wp_conf *conf = NULL;
    char media[4096];
    if ((code = db_check("backup", db)) != 0 ||
        (code = cli_data_dir_check("backup", data, db, &conf)) != 0)
        return code;
    code = cli_media_dir(media, sizeof media, NULL, "backup", data, media_dir, conf);
    wp_conf_free(conf);
    if (code)
        return code;
    code = run_backup(data, db, media, out, key_file ? &key : NULL);
    sodium_memzero(&key, sizeof key);
    return code;
}

int cmd_restore(int argc, char **argv)
{
    const char *data = NULL, *db = NULL, *in = NULL, *key_file = NULL;
    struct key key;
    int code;
    if (cli_wants_help(argc, argv)) {
        fputs(restore_help, stdout);
        return WP_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_opt(argc, argv, &i, "restore", "data", &data)) ||
            (r = cli_opt(argc, argv, &i, "restore", "db", &db)) ||
            (r = cli_opt(argc, argv, &i, "restore", "in", &in)) ||
            (r = cli_opt(argc, argv, &i, "restore", "key-file", &key_file))) {
            if (r < 0)
                return WP_EXIT_USAGE;
            continue;
        }
        return cli_usage_error("restore", "unknown argument '%s'; see 'workphone restore --help'",
                               argv[i]);
    }
    if (!in || !*in)
        return cli_usage_error("restore", "missing --in FILE");
    if (!data || !*data)
        return cli_usage_error("restore", "missing --data DIR");
    if ((code = db_check("restore", db)) != 0)
        return code;
    if (sodium_init() < 0)
        return cli_fail("restore", "libsodium cannot start");
    if (key_file && (code = key_read(&key, "restore", key_file)) != 0)
        return code;
    code = run_restore(in, data, db, key_file ? &key : NULL);
    sodium_memzero(&key, sizeof key);
    return code;
}

/* --- loading a tenant's export ---------------------------------------------------------- */

/* Tables not loaded: the rollups the jobs build again from the archive, and what belongs to
 * the deployment the tenant left rather than to its data: console sessions (its people sign in
 * again on the new one) and login throttling. */
static int unloaded_table(const char *t)
{
    return !strcmp(t, "analytics_hourly") || !strcmp(t, "analytics_alerts_hourly") ||
           !strcmp(t, "analytics_chats") || !strcmp(t, "analytics_state") ||
           !strcmp(t, "sessions") || !strcmp(t, "login_failures") || !strcmp(t, "wrapped_keys");
}

/* Columns the target gives itself: row numbers and the search index. */
static int own_column(const char *t, const char *c)
{
    return (!strcmp(t, "messages") &&
            (!strcmp(c, "rid") || !strcmp(c, "skey") || !strcmp(c, "grams"))) ||
           (!strcmp(t, "webhook_outbox") && !strcmp(c, "seq"));
}

struct rid_map {
    int64_t old;
    char id[WP_ID_LEN + 1];
};

struct importer {
    wp_store *st;
    const char *tenant_id;
    json_t *held;         /* rows loaded last: [table, columns, row] */
    struct rid_map *rids; /* the export's messages: their old rid and id */
    size_t n_rids, cap_rids;
    int64_t rows, tables;
    /* with a master key here: the new tenant's data key (version 1), which its media are
     * sealed under and named with */
    const unsigned char *dk;
};

/* One row of table as the export has it, the columns kept and the values converted. */
static int load_row(struct importer *im, const char *table, json_t *cols, const unsigned char *keep,
                    json_t *row)
{
    size_t n = json_array_size(cols), k = 0;
    const char *names[128], *sha = NULL;
    char keyed[80];
    wp_store_value v[128];
    if (!json_is_array(row) || json_array_size(row) != n || n > 128)
        return wp_error_set(WP_EINVAL, "table '%s': a row does not match its columns", table);
    /* a file the export carries plain is sealed here: its rows name it by its keyed name */
    for (size_t i = 0;
         im->dk && i < n && (!strcmp(table, "media") || !strcmp(table, "retention_files")); i++)
        if (!strcmp(json_string_value(json_array_get(cols, i)), "sha256"))
            sha = json_string_value(json_array_get(row, i));
    if (sha && !is_hex64(sha))
        return wp_error_set(WP_EINVAL, "table '%s': a sha256 that is not 64 hex digits", table);
    if (sha) {
        char name[65];
        wp_media_keyed_name(name, im->dk, sha);
        snprintf(keyed, sizeof keyed, "%.2s/%.2s/%s", name, name + 2, name);
    }
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(row, i);
        const char *c = json_string_value(json_array_get(cols, i));
        if (!strcmp(table, "messages") && !strcmp(c, "rid") && json_is_integer(x)) {
            /* kept for the watermarks that point at it */
            if (im->n_rids == im->cap_rids) {
                size_t cap = im->cap_rids ? im->cap_rids * 2 : 256;
                struct rid_map *m = realloc(im->rids, cap * sizeof *m);
                if (!m)
                    return wp_error_set(WP_ENOMEM, "out of memory");
                im->rids = m, im->cap_rids = cap;
            }
            const char *id = NULL;
            for (size_t j = 0; j < n; j++)
                if (!strcmp(json_string_value(json_array_get(cols, j)), "id"))
                    id = json_string_value(json_array_get(row, j));
            if (!id || strlen(id) > WP_ID_LEN)
                return wp_error_set(WP_EINVAL, "table 'messages': a row without its id");
            im->rids[im->n_rids].old = json_integer_value(x);
            snprintf(im->rids[im->n_rids++].id, WP_ID_LEN + 1, "%s", id);
        }
        if (!keep[i])
            continue;
        names[k] = c;
        if (sha && !strcmp(c, "path") && !json_is_null(x))
            v[k] = (wp_store_value){WP_STORE_VALUE_TEXT, 0, keyed};
        else if (json_is_integer(x))
            v[k] = (wp_store_value){WP_STORE_VALUE_INT, json_integer_value(x), NULL};
        else if (json_is_string(x))
            v[k] = (wp_store_value){WP_STORE_VALUE_TEXT, 0, json_string_value(x)};
        else if (json_is_null(x))
            v[k] = (wp_store_value){WP_STORE_VALUE_NULL, 0, NULL};
        else
            return wp_error_set(WP_EINVAL, "table '%s', column '%s': not a value", table, c);
        k++;
    }
    im->rows++;
    return wp_store_row_insert(im->st, table, names, v, k);
}

/* A watermark that counted the export's messages up to old rid w, in this store's rids. */
static int map_rid(struct importer *im, int64_t w, int64_t *out)
{
    const char *id = NULL;
    int64_t best = -1;
    *out = 0;
    for (size_t i = 0; i < im->n_rids; i++)
        if (im->rids[i].old <= w && im->rids[i].old > best)
            best = im->rids[i].old, id = im->rids[i].id;
    return id ? wp_store_message_rid(im->st, im->tenant_id, id, out) : 0;
}

/* One table entry: JSON lines, the columns first. */
static int load_table(struct importer *im, struct br *r, const char *table)
{
    wp_buf line;
    char buf[CHUNK];
    json_t *cols = NULL;
    unsigned char keep[128];
    long n;
    int err = 0, hold = !strcmp(table, "webhook_outbox") || !strcmp(table, "script_usage_state");
    wp_buf_init(&line, 64u << 20);
    int skip = unloaded_table(table);
    while ((n = br_data(r, buf, sizeof buf)) > 0) {
        for (long i = 0; i < n; i++) {
            if (buf[i] != '\n') {
                if ((err = wp_buf_addc(&line, buf[i])) < 0)
                    goto out;
                continue;
            }
            json_t *j = json_loadb(line.buf, line.len, 0, NULL);
            wp_buf_reset(&line);
            if (!json_is_array(j)) {
                json_decref(j);
                err = wp_error_set(WP_EINVAL, "table '%s': a line that is not a JSON array", table);
                goto out;
            }
            if (!cols) {
                const char *names[128];
                cols = j;
                if (json_array_size(cols) > 128 || skip)
                    continue;
                for (size_t c = 0; c < json_array_size(cols); c++)
                    if (!(names[c] = json_string_value(json_array_get(cols, c)))) {
                        err = wp_error_set(WP_EINVAL, "table '%s': a column without a name", table);
                        goto out;
                    }
                if ((err = wp_store_table_has(im->st, table, names, json_array_size(cols), keep)) <
                    0)
                    goto out;
                for (size_t c = 0; c < json_array_size(cols); c++) {
                    if (own_column(table, names[c]))
                        keep[c] = 0;
                    else if (!keep[c]) {
                        err = wp_error_set(WP_EINVAL,
                                           "column '%s.%s' of the export is not in "
                                           "this store: import it into a workphone as new as "
                                           "the one that exported it",
                                           table, names[c]);
                        goto out;
                    }
                }
                im->tables++;
                continue;
            }
            if (skip) {
                json_decref(j);
            } else if (hold) {
                json_array_append_new(im->held, json_pack("[s,O,o]", table, cols, j));
            } else {
                err = load_row(im, table, cols, keep, j);
                json_decref(j);
                if (err < 0)
                    goto out;
            }
        }
    }
    if (n < 0)
        err = (int)n;
    else if (line.len)
        err = wp_error_set(WP_EINVAL, "table '%s': its last line is not ended", table);
out:
    json_decref(cols);
    wp_buf_release(&line);
    return err;
}

/* The held rows: the outbox after the triggers' copies are gone, the watermark mapped. */
static int load_held(struct importer *im)
{
    int err;
    if ((err = wp_store_tenant_table_clear(im->st, im->tenant_id, "webhook_outbox")) < 0)
        return err;
    for (size_t i = 0; i < json_array_size(im->held); i++) {
        json_t *h = json_array_get(im->held, i), *cols = json_array_get(h, 1),
               *row = json_array_get(h, 2);
        const char *table = json_string_value(json_array_get(h, 0));
        unsigned char keep[128];
        const char *names[128];
        size_t n = json_array_size(cols);
        if (n > 128)
            return wp_error_set(WP_EINVAL, "table '%s': too many columns", table);
        for (size_t c = 0; c < n; c++) {
            names[c] = json_string_value(json_array_get(cols, c));
            if (!strcmp(table, "script_usage_state") && !strcmp(names[c], "last_rid")) {
                int64_t mapped = 0;
                if ((err = map_rid(im, json_integer_value(json_array_get(row, c)), &mapped)) < 0)
                    return err;
                json_array_set_new(row, c, json_integer(mapped));
            }
        }
        if ((err = wp_store_table_has(im->st, table, names, n, keep)) < 0)
            return err;
        for (size_t c = 0; c < n; c++)
            if (own_column(table, names[c]))
                keep[c] = 0;
        if ((err = load_row(im, table, cols, keep, row)) < 0)
            return err;
    }
    return 0;
}

/* Remember a file an import made (removed again if the import fails). */
static int made_add(char ***made, size_t *n, const char *path)
{
    char **m = realloc(*made, (*n + 1) * sizeof *m);
    if (!m)
        return wp_error_set(WP_ENOMEM, "out of memory");
    *made = m;
    if (!(m[*n] = strdup(path)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    (*n)++;
    return 0;
}

int cli_tenant_import(const char *data, const char *db, const char *media, const char *in,
                      const char *key_file)
{
    cli_keyring kr;
    struct key fkey, *k = NULL;
    struct br r;
    struct seen seen = {0};
    struct importer im = {0};
    unsigned char old_key[WP_AUDIT_KEY_LEN], new_key[WP_AUDIT_KEY_LEN], dk[WP_KEY_LEN];
    char name[NAME_MAX_BYTES + 1], tmpdir[4096] = "", id[WP_ID_LEN + 1], tname[256];
    char **made = NULL;
    size_t n_made = 0;
    int code = WP_EXIT_FAIL, err = 0, type, have_key = 0, in_tx = 0;
    wp_store *st = NULL;
    wp_audit_verdict v;
    int64_t resealed = 0, files = 0;

    memset(&r, 0, sizeof r);
    memset(&kr, 0, sizeof kr);
    if (sodium_init() < 0)
        return cli_fail("tenant", "libsodium cannot start");
    if (key_file) {
        if ((code = key_read(&fkey, "tenant", key_file)) != 0)
            return code;
        k = &fkey;
    }
    /* first pass: the whole file checked before anything is written */
    if ((code = br_open(&r, "tenant", in, k)) != 0)
        goto out;
    code = WP_EXIT_FAIL;
    if (verify(&r, &seen) < 0) {
        code = cli_fail("tenant", "%s; nothing was imported", wp_error_last());
        goto out;
    }
    br_close(&r);
    const char *kind = json_string_value(json_object_get(seen.manifest, "kind"));
    json_t *t = json_object_get(seen.manifest, "tenant");
    const char *tid = json_string_value(json_object_get(t, "id")),
               *tn = json_string_value(json_object_get(t, "name"));
    int version = (int)json_integer_value(json_object_get(seen.manifest, "schema_version")), cur;
    if (!kind || strcmp(kind, "tenant") || !tid || !tn || strlen(tid) > WP_ID_LEN ||
        strlen(tn) >= sizeof tname) {
        code = cli_usage_error("tenant",
                               "--in '%s' is not a tenant's export (a backup is "
                               "restored with 'workphone restore')",
                               in);
        goto out;
    }
    snprintf(id, sizeof id, "%s", tid);
    snprintf(tname, sizeof tname, "%s", tn);
    im.tenant_id = id;
    if (!(im.held = json_array())) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto fail;
    }
    if ((err = cli_keyring_open(&kr, data, db, NULL, NULL)) == 0)
        err = cli_keyring_get(&kr, new_key, 0, 0);
    if (err < 0 || (err = wp_store_open(&st, data, db)) < 0 || (err = wp_store_schema_version(st, &cur)) < 0)
        goto fail;
    im.st = st;
    if (version > cur) {
        code = cli_usage_error("tenant",
                               "'%s' was exported at schema version %d; this store is "
                               "at %d: upgrade workphone",
                               in, version, cur);
        goto out;
    }
    char other[WP_ID_LEN + 1];
    wp_tenant have;
    if (wp_store_tenant_find(st, other, tname) == 0) {
        code = cli_usage_error("tenant", "a tenant '%s' exists in this store already", tname);
        goto out;
    }
    if (wp_store_tenant_get(st, &have, id) == 0) {
        code = cli_usage_error("tenant", "tenant id %s exists in this store already (as '%s')", id,
                               have.name);
        goto out;
    }
    if ((size_t)snprintf(tmpdir, sizeof tmpdir, "%s/.wpimport-XXXXXX", data) >= sizeof tmpdir ||
        !mkdtemp(tmpdir)) {
        tmpdir[0] = '\0';
        err = wp_error_set(WP_EIO, "cannot make a temporary directory in '%s'", data);
        goto fail;
    }
    /* second pass: the rows in one transaction, the media beside it */
    if ((code = br_open(&r, "tenant", in, k)) != 0)
        goto out;
    code = WP_EXIT_FAIL;
    if ((err = wp_store_begin(st)) < 0)
        goto fail;
    in_tx = 1;
    if ((err = wp_store_load_begin(st)) < 0)
        goto fail;
    /* with a master key, the tenant's data key made with its rows: its media are sealed
     * under it as they are read, so no plain file reaches the disk (docs/internals/keys.md) */
    if (kr.have) {
        if ((err = wp_store_keys_ensure(st, dk, &kr.mk, id, "data", NULL)) < 0)
            goto fail;
        im.dk = dk;
    }
    while ((err = br_entry(&r, &type, name)) == 1) {
        const char *hex = NULL;
        if (type == ENTRY_TABLE) {
            if ((err = load_table(&im, &r, name)) < 0)
                goto fail;
        } else if (type == ENTRY_FILE && !strcmp(name, "keys/audit.key")) {
            if ((err = write_entry(&r, tmpdir, name)) < 0 ||
                (err = wp_audit_key_load(old_key, tmpdir, 0)) < 0)
                goto fail;
            have_key = 1;
        } else if (type == ENTRY_FILE && allowed_file(name, &hex) && hex && im.dk) {
            char path[4096 + 80], keyed[65], buf[CHUNK];
            wp_media_sealer *w = NULL;
            long n = 0;
            wp_media_keyed_name(keyed, dk, hex);
            snprintf(path, sizeof path, "%s/%.2s/%.2s/%s", media, keyed, keyed + 2, keyed);
            if (access(path, F_OK) == 0) { /* this tenant's: the same bytes under its key */
                if ((err = br_skip(&r)) < 0)
                    goto fail;
                continue;
            }
            if ((err = wp_media_sealer_begin(&w, media, dk, dk, 1, hex)) < 0)
                goto fail;
            while ((n = br_data(&r, buf, sizeof buf)) > 0)
                if ((err = wp_media_sealer_write(w, buf, (size_t)n)) < 0)
                    break;
            sodium_memzero(buf, sizeof buf);
            if (err < 0 || n < 0) {
                wp_media_sealer_abort(w);
                err = err < 0 ? err : (int)n;
                goto fail;
            }
            if ((err = wp_media_sealer_finish(w, path)) < 0)
                goto fail;
            if ((err = made_add(&made, &n_made, path)) < 0)
                goto fail;
            files++;
        } else if (type == ENTRY_FILE && allowed_file(name, &hex) && hex) {
            char path[4096 + 80];
            snprintf(path, sizeof path, "%s/%s", media, name + 6); /* media/ab/cd/<hex> */
            if (access(path, F_OK) == 0) { /* the same bytes: its name is their hash */
                if ((err = br_skip(&r)) < 0)
                    goto fail;
                continue;
            }
            if (mkdir(media, 0700) != 0 && errno != EEXIST) {
                err = wp_error_set(wp_error_errno_code(errno), "cannot make '%s': %s", media,
                                   strerror(errno));
                goto fail;
            }
            if ((err = write_entry(&r, media, name + 6)) < 0)
                goto fail;
            if ((err = made_add(&made, &n_made, path)) < 0)
                goto fail;
            files++;
        } else {
            if ((err = br_skip(&r)) < 0)
                goto fail;
        }
    }
    if (err < 0)
        goto fail;
    if (!have_key) {
        err = wp_error_set(WP_EINVAL, "'%s' holds no audit key", in);
        goto fail;
    }
    if ((err = load_held(&im)) < 0 || (err = wp_store_tenant_reindex(st, id)) < 0)
        goto fail;
    /* the chain as it came, with the key it came with; then under this store's key */
    if ((err = wp_store_audit_verify(st, old_key, id, &v)) < 0)
        goto fail;
    if (!v.ok) {
        err = wp_error_set(WP_EINVAL,
                           "the export's audit chain does not verify with its key: "
                           "row %lld: %s",
                           (long long)v.bad_seq, v.why);
        goto fail;
    }
    int rekey = sodium_memcmp(old_key, new_key, WP_AUDIT_KEY_LEN) != 0;
    char head[WP_AUDIT_HASH_HEX + 1] = "", details[256], target[64];
    if ((err = wp_store_audit_head(st, id, head)) < 0)
        goto fail;
    if (rekey && (err = wp_store_audit_reseal(st, new_key, id, &resealed)) < 0)
        goto fail;
    snprintf(details, sizeof details,
             "{\"rows\":%lld,\"media_files\":%lld,\"resealed\":%s,\"source_head\":\"%s\"}",
             (long long)im.rows, (long long)seen.media_files, rekey ? "true" : "false", head);
    snprintf(target, sizeof target, "tenant:%s", id);
    wp_audit_entry e = {.tenant_id = id,
                        .actor = "system",
                        .action = "tenant.import",
                        .target = target,
                        .details = details};
    if ((err = wp_store_audit_append(st, new_key, &e, NULL)) < 0 ||
        (err = wp_store_audit_verify(st, new_key, id, &v)) < 0)
        goto fail;
    if (!v.ok) {
        err = wp_error_set(WP_EIO, "the imported chain does not verify: row %lld: %s",
                           (long long)v.bad_seq, v.why);
        goto fail;
    }
    if ((err = wp_store_commit(st)) < 0)
        goto fail;
    in_tx = 0;
    /* with a master key, a data key of its own here (those it had were wrapped by the other
     * deployment's master key and are not loaded): made in the transaction already */
    if ((err = cli_keyring_tenant(&kr, id)) < 0)
        fprintf(stderr, "workphone tenant: warning: tenant '%s' was imported, but not its data "
                        "key ('workphone keys migrate' makes it): %s\n", tname, wp_error_last());
    printf("imported tenant '%s' (%s): %lld rows in %lld tables, %lld media files%s; its audit "
           "chain %s\n",
           tname, id, (long long)im.rows, (long long)im.tables, (long long)files,
           im.dk && files ? " (encrypted under its data key here)" : "",
           rekey ? "re-sealed with this store's key" : "kept (the same key)");
    code = WP_EXIT_OK;
    goto out;
fail : {
    char why[512];
    snprintf(why, sizeof why, "%s", wp_error_last());
    if (in_tx)
        wp_store_rollback(st);
    in_tx = 0;
    for (size_t i = 0; i < n_made; i++)
        unlink(made[i]);
    code = err == WP_EINVAL || err == WP_EEXISTS
               ? cli_usage_error("tenant", "%s; nothing was imported", why)
               : cli_fail("tenant", "%s; nothing was imported", why);
}
out:
    if (in_tx)
        wp_store_rollback(st);
    br_close(&r);
    wp_store_free(st);
    cli_keyring_close(&kr);
    sodium_memzero(dk, sizeof dk);
    rm_tree(tmpdir);
    for (size_t i = 0; i < n_made; i++)
        free(made[i]);
    free(made);
    free(im.rids);
    json_decref(im.held);
    json_decref(seen.manifest);
    sodium_memzero(old_key, sizeof old_key);
    sodium_memzero(new_key, sizeof new_key);
    sodium_memzero(&fkey, sizeof fkey);
    return code;
}
