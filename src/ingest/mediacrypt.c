/* SPDX-License-Identifier: MIT */
/* Media encrypted at rest (docs/internals/keys.md, "Media"): the keyring of each tenant's
 * unwrapped data keys that serve holds, the keyed names, and the file format: a clear header
 * ("WPMEDIA1", the key version), then crypto_secretstream_xchacha20poly1305 in 64 KiB chunks. */
#include "ingest/ingest_int.h"
#include "store/keys.h"
#include "store/pool.h"
#include "util/error.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct mk_version {
    int64_t version;
    unsigned char key[WP_KEY_LEN]; /* the file key derived from the data key of version */
};

struct mk_tenant {
    char tenant_id[WP_ID_LEN + 1];
    unsigned char name_key[crypto_generichash_KEYBYTES]; /* from data key version 1 */
    struct mk_version *v;
    size_t n;
};

struct wp_media_keys {
    pthread_mutex_t lock;
    wp_master_key mk;
    struct mk_tenant *t;
    size_t n, cap;
};

/* The two keys a data key gives media: one names files, one encrypts them. */
#define KDF_CTX "wpmedia1"
#define KDF_NAME 1
#define KDF_FILE 2

int wp_media_keys__new(struct wp_media_keys **out, const wp_master_key *mk)
{
    struct wp_media_keys *k = calloc(1, sizeof *k);
    if (!k)
        return wp_error_set(WP_ENOMEM, "out of memory");
    pthread_mutex_init(&k->lock, NULL);
    k->mk = *mk;
    *out = k;
    return 0;
}

void wp_media_keys__free(struct wp_media_keys *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->n; i++) {
        if (k->t[i].v)
            sodium_memzero(k->t[i].v, k->t[i].n * sizeof *k->t[i].v);
        free(k->t[i].v);
    }
    if (k->t)
        sodium_memzero(k->t, k->cap * sizeof *k->t);
    free(k->t);
    wp_keys_master_wipe(&k->mk);
    pthread_mutex_destroy(&k->lock);
    free(k);
}

/* The tenant's entry (made, with its name key, on first use). Called with the lock held. */
static int tenant_of(struct mk_tenant **out, struct wp_media_keys *k, wp_store *st,
                     const char *tenant_id)
{
    unsigned char dk[WP_KEY_LEN];
    int err;
    for (size_t i = 0; i < k->n; i++)
        if (!strcmp(k->t[i].tenant_id, tenant_id)) {
            *out = &k->t[i];
            return 0;
        }
    if (strlen(tenant_id) != WP_ID_LEN)
        return wp_error_set(WP_ENOTFOUND, "tenant not found");
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 16;
        struct mk_tenant *t = calloc(cap, sizeof *t);
        if (!t)
            return wp_error_set(WP_ENOMEM, "out of memory");
        if (k->n) {
            memcpy(t, k->t, k->n * sizeof *t);
            sodium_memzero(k->t, k->cap * sizeof *k->t);
        }
        free(k->t);
        k->t = t, k->cap = cap;
    }
    /* version 1 names the files: a rotation changes no name (made here when a tenant made
     * since has none yet) */
    if ((err = wp_store_keys_ensure(st, dk, &k->mk, tenant_id, "data", NULL)) < 0)
        return err;
    struct mk_tenant *t = &k->t[k->n];
    memset(t, 0, sizeof *t);
    memcpy(t->tenant_id, tenant_id, WP_ID_LEN + 1);
    crypto_kdf_derive_from_key(t->name_key, sizeof t->name_key, KDF_NAME, KDF_CTX, dk);
    sodium_memzero(dk, sizeof dk);
    k->n++;
    *out = t;
    return 0;
}

/* The file key of version (0: the newest, asked of the store every time, so a rotation by any
 * node or by `keys rotate-tenant` is seen at the next upload). Lock held. */
static int file_key(unsigned char key[WP_KEY_LEN], int64_t *version, struct wp_media_keys *k,
                    wp_store *st, struct mk_tenant *t, int64_t want)
{
    unsigned char dk[WP_KEY_LEN];
    int64_t got = 0;
    int err;
    for (size_t i = 0; want > 0 && i < t->n; i++)
        if (t->v[i].version == want) {
            memcpy(key, t->v[i].key, WP_KEY_LEN);
            *version = want;
            return 0;
        }
    if ((err = wp_store_keys_get(st, dk, &got, &k->mk, t->tenant_id, "data", want)) == WP_EAUTH &&
        want == 0 && t->n > 0) {
        /* rotate-master while serving: the store's keys are wrapped by a master key this node
         * does not have yet; its newest data key in memory serves until it restarts */
        size_t best = 0;
        for (size_t i = 1; i < t->n; i++)
            if (t->v[i].version > t->v[best].version)
                best = i;
        memcpy(key, t->v[best].key, WP_KEY_LEN);
        *version = t->v[best].version;
        return 0;
    }
    if (err < 0)
        return err == WP_ENOTFOUND && want > 0
                   ? wp_error_set(WP_ECORRUPT, "media key version %lld is not in the store",
                                  (long long)want)
                   : err;
    crypto_kdf_derive_from_key(key, WP_KEY_LEN, KDF_FILE, KDF_CTX, dk);
    sodium_memzero(dk, sizeof dk);
    *version = got;
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].version == got)
            return 0;
    struct mk_version *v = calloc(t->n + 1, sizeof *v);
    if (!v)
        return 0; /* not kept: asked again next time */
    if (t->n) {
        memcpy(v, t->v, t->n * sizeof *v);
        sodium_memzero(t->v, t->n * sizeof *v);
    }
    free(t->v);
    t->v = v;
    t->v[t->n].version = got;
    memcpy(t->v[t->n].key, key, WP_KEY_LEN);
    t->n++;
    return 0;
}

int wp_media_keys__get(struct wp_media_keys *k, wp_store_connpool *pool,
                       unsigned char key[WP_KEY_LEN], int64_t *version, char name[65],
                       const char *tenant_id, const char *hex, int64_t want)
{
    wp_store *st = NULL;
    struct mk_tenant *t;
    int err;
    if ((err = wp_store_connpool_acquire(pool, &st)) < 0)
        return err;
    pthread_mutex_lock(&k->lock);
    if ((err = tenant_of(&t, k, st, tenant_id)) == 0) {
        if (name && hex) {
            unsigned char raw[32], h[32];
            sodium_hex2bin(raw, sizeof raw, hex, 64, NULL, NULL, NULL);
            crypto_generichash(h, sizeof h, raw, sizeof raw, t->name_key, sizeof t->name_key);
            sodium_bin2hex(name, 65, h, sizeof h);
        }
        if (key)
            err = file_key(key, version, k, st, t, want);
    }
    pthread_mutex_unlock(&k->lock);
    wp_store_connpool_release(pool, st);
    if (err == WP_EAUTH) { /* not the caller's fault: this node's master key is the old one */
        char why[512];
        snprintf(why, sizeof why, "%s", wp_error_last());
        return wp_error_set(WP_EIO, "media keys: %s; restart this node with the new master key",
                            why);
    }
    return err;
}

int wp_media_keys__preload(struct wp_media_keys *k, wp_store_connpool *pool)
{
    wp_key_info *ki = NULL;
    wp_store *st = NULL;
    size_t n = 0;
    int err;
    if ((err = wp_store_connpool_acquire(pool, &st)) < 0)
        return err;
    if ((err = wp_store_keys_list(st, &ki, &n)) < 0)
        goto out;
    pthread_mutex_lock(&k->lock);
    for (size_t i = 0; i < n && err == 0; i++) {
        struct mk_tenant *t;
        unsigned char key[WP_KEY_LEN];
        int64_t v;
        if (strcmp(ki[i].purpose, "data") != 0 || strlen(ki[i].owner) != WP_ID_LEN)
            continue;
        if ((err = tenant_of(&t, k, st, ki[i].owner)) == 0)
            err = file_key(key, &v, k, st, t, ki[i].version);
        sodium_memzero(key, sizeof key);
    }
    pthread_mutex_unlock(&k->lock);
out:
    free(ki);
    wp_store_connpool_release(pool, st);
    return err;
}

/* --- the file format ------------------------------------------------------------------ */

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

int64_t wp_media_crypt__size(int64_t plain)
{
    return WP_MEDIA_HDR + (plain / WP_MEDIA_CHUNK) * (WP_MEDIA_CHUNK + WP_MEDIA_ABYTES) +
           (plain % WP_MEDIA_CHUNK) + WP_MEDIA_ABYTES;
}

int64_t wp_ingest_media_stored_size(int64_t plain, int encrypted)
{
    return encrypted ? wp_media_crypt__size(plain) : plain;
}

int wp_media_crypt__is(int fd)
{
    unsigned char m[8];
    return pread(fd, m, 8, 0) == 8 && !memcmp(m, WP_MEDIA_MAGIC, 8);
}

int64_t wp_media_crypt__version(int fd)
{
    unsigned char h[16];
    if (pread(fd, h, 16, 0) != 16 || memcmp(h, WP_MEDIA_MAGIC, 8))
        return -1;
    return (int64_t)get64(h + 8);
}

void wp_media_crypt__begin(struct wp_media_crypt *c, unsigned char hdr[WP_MEDIA_HDR],
                           const unsigned char key[WP_KEY_LEN], int64_t version)
{
    memcpy(hdr, WP_MEDIA_MAGIC, 8);
    put64(hdr + 8, (uint64_t)version);
    crypto_secretstream_xchacha20poly1305_init_push(&c->st, hdr + 16, key);
    c->first = 1;
    memcpy(c->ad, hdr, 16);
}

void wp_media_crypt__push(struct wp_media_crypt *c, unsigned char *out, const unsigned char *in,
                          size_t len, int final)
{
    crypto_secretstream_xchacha20poly1305_push(
        &c->st, out, NULL, in, len, c->first ? c->ad : NULL, c->first ? 16 : 0,
        final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
    c->first = 0;
}

int wp_media_crypt__start(struct wp_media_crypt *c, const unsigned char hdr[WP_MEDIA_HDR],
                          const unsigned char key[WP_KEY_LEN])
{
    if (memcmp(hdr, WP_MEDIA_MAGIC, 8) ||
        crypto_secretstream_xchacha20poly1305_init_pull(&c->st, hdr + 16, key) != 0)
        return wp_error_set(WP_ECORRUPT, "media file header is damaged");
    c->first = 1;
    memcpy(c->ad, hdr, 16);
    return 0;
}

int wp_media_crypt__pull(struct wp_media_crypt *c, unsigned char *out, size_t *outlen, int *final,
                         const unsigned char *in, size_t len)
{
    unsigned char tag = 0;
    unsigned long long n = 0;
    if (len < WP_MEDIA_ABYTES ||
        crypto_secretstream_xchacha20poly1305_pull(&c->st, out, &n, &tag, in, len,
                                                   c->first ? c->ad : NULL, c->first ? 16 : 0) != 0)
        return wp_error_set(WP_ECORRUPT, "media file fails authentication: altered or damaged");
    c->first = 0;
    *outlen = (size_t)n;
    *final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    return 0;
}

/* --- outside serve: one tenant's data key given (tenant import) ------------------------- */

void wp_media_keyed_name(char name[65], const unsigned char dk1[WP_KEY_LEN], const char *hex)
{
    unsigned char nk[crypto_generichash_KEYBYTES], raw[32], h[32];
    crypto_kdf_derive_from_key(nk, sizeof nk, KDF_NAME, KDF_CTX, dk1);
    sodium_hex2bin(raw, sizeof raw, hex, 64, NULL, NULL, NULL);
    crypto_generichash(h, sizeof h, raw, sizeof raw, nk, sizeof nk);
    sodium_bin2hex(name, 65, h, sizeof h);
    sodium_memzero(nk, sizeof nk);
}

void wp_media_crypt__file_key(unsigned char key[WP_KEY_LEN], const unsigned char dk[WP_KEY_LEN])
{
    crypto_kdf_derive_from_key(key, WP_KEY_LEN, KDF_FILE, KDF_CTX, dk);
}
