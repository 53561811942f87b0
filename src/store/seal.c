/* SPDX-License-Identifier: MIT */
/* Sealed fields and the keyring the store seals with (seal.h, docs/internals/encryption.md). */
#include "store/seal.h"
#include "store/db.h"
#include "store/internal.h"
#include "util/error.h"
#include "util/log.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define VARINT_MAX 10
#define AD_MAX 4096 /* bytes of associated data: ids and names */

/* The sub-keys a data key gives: fields are sealed with one, grams keyed with the other. */
#define KDF_FIELD_CTX "wpfield1"
#define KDF_GRAMS_CTX "wpgrams" /* 7 letters and the NUL: crypto_kdf's 8 bytes */
#define KDF_BLIND_CTX "wpblind"
#define BLIND_BYTES 16
#define KDF_ID 1

/* How long the newest version of a tenant's data key is taken from memory before the store is
 * asked again: a `keys rotate-tenant` is used by every node's writes within this long. */
#define NEWEST_TTL_NS (5LL * 1000000000LL)

static size_t put_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    do {
        unsigned char c = v & 0x7f;
        v >>= 7;
        p[n++] = c | (v ? 0x80 : 0);
    } while (v);
    return n;
}

/* The varint at p (at most len bytes): its length, or 0 when cut short or too long. */
static size_t get_varint(uint64_t *v, const unsigned char *p, size_t len)
{
    uint64_t r = 0;
    for (size_t i = 0; i < len && i < VARINT_MAX; i++) {
        r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = r;
            return i + 1;
        }
    }
    return 0;
}

static int ad_add(wp_buf *ad, const char *s)
{
    unsigned char n[VARINT_MAX];
    size_t len = s ? strlen(s) : 0;
    int err = wp_buf_add(ad, n, put_varint(n, len));
    return err < 0 ? err : wp_buf_add(ad, s ? s : "", len);
}

/* The associated data: the version byte, the key version, then the place. */
static int make_ad(wp_buf *ad, int64_t key_version, const wp_seal_at *at)
{
    unsigned char head[1 + VARINT_MAX];
    head[0] = (unsigned char)WP_SEAL_V1;
    size_t n = 1 + put_varint(head + 1, (uint64_t)key_version);
    int err;
    if ((err = wp_buf_add(ad, head, n)) < 0 || (err = ad_add(ad, at->tenant_id)) < 0 ||
        (err = ad_add(ad, at->table)) < 0 || (err = ad_add(ad, at->column)) < 0)
        return err;
    return ad_add(ad, at->row_id);
}

int wp_seal__seal(wp_buf *out, const unsigned char key[WP_KEY_LEN], int64_t key_version,
                  const wp_seal_at *at, const char *plain, size_t len)
{
    size_t bin_len = VARINT_MAX + NONCE_LEN + len + TAG_LEN;
    unsigned char *bin = malloc(bin_len);
    wp_buf ad;
    int err;
    if (!bin)
        return wp_error_set(WP_ENOMEM, "out of memory");
    wp_buf_init(&ad, AD_MAX);
    size_t n = put_varint(bin, (uint64_t)key_version);
    unsigned char *nonce = bin + n;
    randombytes_buf(nonce, NONCE_LEN);
    unsigned long long clen = 0;
    if ((err = make_ad(&ad, key_version, at)) == 0) {
        crypto_aead_xchacha20poly1305_ietf_encrypt(
            nonce + NONCE_LEN, &clen, (const unsigned char *)plain, len,
            (const unsigned char *)ad.buf, ad.len, NULL, nonce, key);
        bin_len = n + NONCE_LEN + (size_t)clen;
        size_t b64 = sodium_base64_ENCODED_LEN(bin_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        char *txt = malloc(b64 + 1);
        if (!txt)
            err = wp_error_set(WP_ENOMEM, "out of memory");
        else {
            txt[0] = WP_SEAL_V1;
            sodium_bin2base64(txt + 1, b64, bin, bin_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
            err = wp_buf_adds(out, txt);
            free(txt);
        }
    }
    wp_buf_release(&ad);
    free(bin);
    return err;
}

/* The bytes after the version byte, decoded into a malloc'ed *bin. */
static int decode(unsigned char **bin, size_t *bin_len, const char *stored, size_t len)
{
    if (len < 1 || stored[0] != WP_SEAL_V1)
        return wp_error_set(WP_ECORRUPT, "not a sealed value");
    size_t cap = len; /* base64 decodes to fewer bytes than it has */
    unsigned char *b = malloc(cap ? cap : 1);
    if (!b)
        return wp_error_set(WP_ENOMEM, "out of memory");
    if (sodium_base642bin(b, cap, stored + 1, len - 1, NULL, bin_len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
        free(b);
        return wp_error_set(WP_ECORRUPT, "a sealed value is not base64");
    }
    *bin = b;
    return 0;
}

int wp_seal__version(int64_t *key_version, const char *stored, size_t len)
{
    unsigned char *bin = NULL;
    size_t bin_len = 0;
    uint64_t v = 0;
    int err;
    if ((err = decode(&bin, &bin_len, stored, len)) < 0)
        return err;
    size_t n = get_varint(&v, bin, bin_len);
    free(bin);
    if (n == 0 || v == 0 || v > INT64_MAX)
        return wp_error_set(WP_ECORRUPT, "a sealed value names no key version");
    *key_version = (int64_t)v;
    return 0;
}

int wp_seal__open(wp_buf *out, const unsigned char key[WP_KEY_LEN], const wp_seal_at *at,
                  const char *stored, size_t len)
{
    unsigned char *bin = NULL;
    size_t bin_len = 0;
    uint64_t v = 0;
    wp_buf ad;
    int err;
    if ((err = decode(&bin, &bin_len, stored, len)) < 0)
        return err;
    wp_buf_init(&ad, AD_MAX);
    size_t n = get_varint(&v, bin, bin_len);
    if (n == 0 || v > INT64_MAX || bin_len < n + NONCE_LEN + TAG_LEN) {
        err = wp_error_set(WP_ECORRUPT, "a sealed value is cut short");
        goto out;
    }
    if ((err = make_ad(&ad, (int64_t)v, at)) < 0)
        goto out;
    size_t clen = bin_len - n - NONCE_LEN;
    unsigned char *plain = malloc(clen - TAG_LEN + 1); /* + 1: never malloc(0) */
    unsigned long long plen = 0;
    if (!plain) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen, NULL, bin + n + NONCE_LEN, clen,
                                                   (const unsigned char *)ad.buf, ad.len, bin + n,
                                                   key) != 0)
        err = wp_error_set(WP_ECORRUPT, "a sealed value does not open");
    else {
        err = wp_buf_add(out, plain, (size_t)plen);
        sodium_memzero(plain, (size_t)plen);
    }
    free(plain);
out:
    wp_buf_release(&ad);
    free(bin);
    return err;
}

/* --- the keyring --------------------------------------------------------------------------- */

struct ring_key {
    char tenant_id[WP_ID_LEN + 1];
    int64_t version; /* 0: the gram key, -1: the blind index key */
    unsigned char key[WP_KEY_LEN];
};

struct ring_newest {
    char tenant_id[WP_ID_LEN + 1];
    int64_t version;
    long long at_ns;
};

static struct {
    pthread_mutex_t lock;
    int on;
    wp_master_key mk;
    struct ring_key *k;
    size_t n, cap;
    struct ring_newest *nw;
    size_t n_nw, cap_nw;
} ring = {.lock = PTHREAD_MUTEX_INITIALIZER};

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void wp_seal_keyring_set(const wp_master_key *mk)
{
    pthread_mutex_lock(&ring.lock);
    if (ring.k)
        sodium_memzero(ring.k, ring.cap * sizeof *ring.k);
    free(ring.k);
    free(ring.nw);
    ring.k = NULL;
    ring.nw = NULL;
    ring.n = ring.cap = ring.n_nw = ring.cap_nw = 0;
    wp_keys_master_wipe(&ring.mk);
    ring.on = mk != NULL;
    if (mk)
        ring.mk = *mk;
    pthread_mutex_unlock(&ring.lock);
}

int wp_seal_keyring_on(void)
{
    pthread_mutex_lock(&ring.lock);
    int on = ring.on;
    pthread_mutex_unlock(&ring.lock);
    return on;
}

/* Lock held. A key kept in memory: it is only ever forgotten with the keyring. */
static void remember(const char *tenant_id, int64_t version, const unsigned char key[WP_KEY_LEN])
{
    if (ring.n == ring.cap) {
        size_t cap = ring.cap ? ring.cap * 2 : 16;
        struct ring_key *k = calloc(cap, sizeof *k);
        if (!k)
            return; /* not kept: asked again next time */
        if (ring.n) {
            memcpy(k, ring.k, ring.n * sizeof *k);
            sodium_memzero(ring.k, ring.cap * sizeof *ring.k);
        }
        free(ring.k);
        ring.k = k;
        ring.cap = cap;
    }
    struct ring_key *r = &ring.k[ring.n++];
    snprintf(r->tenant_id, sizeof r->tenant_id, "%s", tenant_id);
    r->version = version;
    memcpy(r->key, key, WP_KEY_LEN);
}

static const struct ring_key *cached(const char *tenant_id, int64_t version)
{
    for (size_t i = 0; i < ring.n; i++)
        if (ring.k[i].version == version && !strcmp(ring.k[i].tenant_id, tenant_id))
            return &ring.k[i];
    return NULL;
}

static void remember_newest(const char *tenant_id, int64_t version)
{
    for (size_t i = 0; i < ring.n_nw; i++)
        if (!strcmp(ring.nw[i].tenant_id, tenant_id)) {
            ring.nw[i].version = version;
            ring.nw[i].at_ns = now_ns();
            return;
        }
    if (ring.n_nw == ring.cap_nw) {
        size_t cap = ring.cap_nw ? ring.cap_nw * 2 : 16;
        struct ring_newest *v = realloc(ring.nw, cap * sizeof *v);
        if (!v)
            return;
        ring.nw = v;
        ring.cap_nw = cap;
    }
    struct ring_newest *r = &ring.nw[ring.n_nw++];
    snprintf(r->tenant_id, sizeof r->tenant_id, "%s", tenant_id);
    r->version = version;
    r->at_ns = now_ns();
}

/* The data key of version want (0: the newest; made as version 1 when the tenant has none)
 * into dk, its version into *got, and whether it may be kept in memory (*keep: a key made
 * inside a transaction that may yet be rolled back is not). Called with the lock held, which
 * is let go while the store is asked: a thread waiting in the database (on another's
 * uncommitted key) never holds it, so no other thread waits on it behind the database. */
static int data_key(wp_store *st, unsigned char dk[WP_KEY_LEN], int64_t *got, int *keep,
                    const char *tenant_id, int64_t want)
{
    wp_master_key mk = ring.mk;
    pthread_mutex_unlock(&ring.lock);
    int err = wp_store_keys_get(st, dk, got, &mk, tenant_id, "data", want);
    *keep = 1;
    if (err == WP_ENOTFOUND && want <= 1) {
        if ((err = wp_store_keys_ensure(st, dk, &mk, tenant_id, "data", NULL)) == 0)
            *got = 1;
        *keep = !st->in_tx && st->op == WP_OP_NONE;
    } else if (err == WP_ENOTFOUND)
        err =
            wp_error_set(WP_ECORRUPT, "data key version %lld is not in the store", (long long)want);
    wp_keys_master_wipe(&mk);
    pthread_mutex_lock(&ring.lock);
    if (err == 0 && !ring.on) /* the keyring was taken away meanwhile */
        err = wp_error_set(WP_ECORRUPT, "no master key is set");
    if (err < 0)
        sodium_memzero(dk, WP_KEY_LEN);
    return err;
}

/* The field key of version want (0: the newest) into key, with its version. Lock held (let go
 * and taken again while the store is asked: data_key()). */
static int field_key(wp_store *st, unsigned char key[WP_KEY_LEN], int64_t *version,
                     const char *tenant_id, int64_t want)
{
    unsigned char dk[WP_KEY_LEN];
    int64_t got = want;
    int keep, err;
    if (want == 0)
        for (size_t i = 0; i < ring.n_nw; i++)
            if (!strcmp(ring.nw[i].tenant_id, tenant_id) &&
                now_ns() - ring.nw[i].at_ns < NEWEST_TTL_NS)
                got = ring.nw[i].version;
    const struct ring_key *c = got ? cached(tenant_id, got) : NULL;
    if (c) {
        memcpy(key, c->key, WP_KEY_LEN);
        *version = got;
        return 0;
    }
    if ((err = data_key(st, dk, &got, &keep, tenant_id, want)) < 0)
        return err;
    crypto_kdf_derive_from_key(key, WP_KEY_LEN, KDF_ID, KDF_FIELD_CTX, dk);
    sodium_memzero(dk, sizeof dk);
    *version = got;
    if (keep) {
        if (!cached(tenant_id, got))
            remember(tenant_id, got, key);
        if (want == 0)
            remember_newest(tenant_id, got);
    }
    return 0;
}

/* A key derived from data key version 1 with ctx, kept in the ring under slot (0: the gram
 * key, -1: the blind index key); *have = 0 when no keyring is set. */
static int v1_key(wp_store *st, unsigned char key[WP_KEY_LEN], int *have, const char *tenant_id,
                  const char *ctx, int64_t slot)
{
    unsigned char dk[WP_KEY_LEN];
    int64_t got = 0;
    int keep, err = 0;
    pthread_mutex_lock(&ring.lock);
    if (!(*have = ring.on))
        goto out;
    const struct ring_key *c = cached(tenant_id, slot);
    if (c) {
        memcpy(key, c->key, WP_KEY_LEN);
        goto out;
    }
    if ((err = data_key(st, dk, &got, &keep, tenant_id, 1)) < 0)
        goto out;
    crypto_kdf_derive_from_key(key, WP_KEY_LEN, KDF_ID, ctx, dk);
    sodium_memzero(dk, sizeof dk);
    if (keep && !cached(tenant_id, slot))
        remember(tenant_id, slot, key);
out:
    pthread_mutex_unlock(&ring.lock);
    return err;
}

int wp_seal__gram_key(wp_store *st, unsigned char key[WP_KEY_LEN], int *have, const char *tenant_id)
{
    return v1_key(st, key, have, tenant_id, KDF_GRAMS_CTX, 0);
}

void wp_seal__blind_make(char out[WP_SEAL_BLIND_LEN + 1], const unsigned char key[WP_KEY_LEN],
                         const char *value)
{
    unsigned char h[BLIND_BYTES];
    crypto_generichash(h, sizeof h, (const unsigned char *)value, strlen(value), key, WP_KEY_LEN);
    out[0] = WP_SEAL_BLIND;
    sodium_bin2base64(out + 1, WP_SEAL_BLIND_LEN, h, sizeof h,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

enum wp_seal_need wp_seal__need(const char *stored, int64_t newest)
{
    int64_t ver = 0;
    if (!stored)
        return WP_SEAL_NEED_NONE;
    if (!wp_seal__is_sealed(stored))
        return WP_SEAL_NEED_PLAIN;
    if (wp_seal__version(&ver, stored, strlen(stored)) < 0)
        return WP_SEAL_NEED_BAD;
    return ver < newest ? WP_SEAL_NEED_OLDER : WP_SEAL_NEED_NONE;
}

int wp_seal__lookup(wp_store *st, char out[WP_SEAL_BLIND_LEN + 1], const char **res,
                    const char *tenant_id, const char *kind, const char *value)
{
    unsigned char key[WP_KEY_LEN];
    int have = 0, err;
    *res = value;
    if (!value || !kind || strcmp(kind, "phone") != 0)
        return 0;
    if ((err = v1_key(st, key, &have, tenant_id, KDF_BLIND_CTX, -1)) < 0 || !have)
        return err;
    wp_seal__blind_make(out, key, value);
    sodium_memzero(key, sizeof key);
    *res = out;
    return 0;
}

int wp_seal__text(wp_store *st, wp_buf *b, const char **res, const wp_seal_at *at,
                  const char *plain)
{
    unsigned char key[WP_KEY_LEN];
    int64_t version = 0;
    int err;
    *res = plain;
    if (!plain)
        return 0;
    pthread_mutex_lock(&ring.lock);
    if (!ring.on) {
        pthread_mutex_unlock(&ring.lock);
        return 0;
    }
    err = field_key(st, key, &version, at->tenant_id, 0);
    pthread_mutex_unlock(&ring.lock);
    if (err < 0)
        return err;
    wp_buf_reset(b);
    err = wp_seal__seal(b, key, version, at, plain, strlen(plain));
    sodium_memzero(key, sizeof key);
    if (err == 0)
        *res = b->buf;
    return err;
}

static int open_failed(const wp_seal_at *at, const char *why)
{
    wp_buf line;
    wp_log_start(&line, "error", "seal_open");
    wp_log_add(&line, "tenant", at->tenant_id);
    wp_log_add(&line, "table", at->table);
    wp_log_add(&line, "column", at->column);
    wp_log_add(&line, "row", at->row_id);
    wp_log_addn(&line, "error_msg", why, 200);
    wp_log_end(&line, 2);
    /* WP_EIO: a 500 whose message stays in the log (WP_ECORRUPT is the API's media_corrupt,
     * which is shown) */
    return wp_error_set(WP_EIO, "%s.%s of row %s does not open: it was altered or moved", at->table,
                        at->column, at->row_id);
}

int wp_seal__open_text(wp_store *st, wp_buf *b, const char **res, const wp_seal_at *at,
                       const char *stored)
{
    unsigned char key[WP_KEY_LEN];
    int64_t want = 0, version = 0;
    int err;
    *res = stored;
    if (!wp_seal__is_sealed(stored))
        return 0;
    size_t len = strlen(stored);
    if ((err = wp_seal__version(&want, stored, len)) < 0)
        return open_failed(at, wp_error_last());
    pthread_mutex_lock(&ring.lock);
    err = ring.on ? field_key(st, key, &version, at->tenant_id, want)
                  : wp_error_set(WP_ECORRUPT, "no master key is set to open it with");
    pthread_mutex_unlock(&ring.lock);
    if (err == WP_ECORRUPT)
        return open_failed(at, wp_error_last());
    if (err < 0)
        return err;
    wp_buf_reset(b);
    err = wp_seal__open(b, key, at, stored, len);
    sodium_memzero(key, sizeof key);
    if (err == WP_ECORRUPT)
        return open_failed(at, wp_error_last());
    if (err == 0)
        *res = b->buf;
    return err;
}

int wp_seal__col_copy_opt(wp_store *st, struct wp_stmt *s, int col, char *buf, size_t cap,
                          const wp_seal_at *at)
{
    const char *v = wp_db_col_text(s, col), *plain = NULL;
    wp_buf b;
    int err;
    if (!wp_seal__is_sealed(v))
        return wp_db_col_copy_opt(s, col, buf, cap);
    wp_buf_init(&b, WP_SEAL_SMALL_MAX);
    if ((err = wp_seal__open_text(st, &b, &plain, at, v)) == 0) {
        if (strlen(plain) >= cap)
            err = wp_error_set(WP_EIO, "store: value in column %d is too long", col);
        else
            memcpy(buf, plain, strlen(plain) + 1);
    }
    if (b.len)
        sodium_memzero(b.buf, b.len);
    wp_buf_release(&b);
    return err;
}

/* the longest value a column opened into a pool holds: a link of 4,096 bytes, a title of
 * 1,024 characters (ingest's limits), with room to spare */
#define COL_OPENED_MAX (64u * 1024)

int wp_seal__col_dup(wp_store *st, wp_strpool **pool, const char **out, struct wp_stmt *s, int col,
                     const wp_seal_at *at)
{
    const char *v = wp_db_col_text(s, col), *plain = NULL;
    wp_buf b;
    int err;
    if (!wp_seal__is_sealed(v))
        return wp_strpool__dup(pool, out, v);
    wp_buf_init(&b, COL_OPENED_MAX);
    if ((err = wp_seal__open_text(st, &b, &plain, at, v)) == 0)
        err = wp_strpool__dup(pool, out, plain);
    if (b.len)
        sodium_memzero(b.buf, b.len);
    wp_buf_release(&b);
    return err;
}
