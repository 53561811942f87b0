/* SPDX-License-Identifier: MIT */
/* Media files (recordings, attachments): content-addressed under the media root (<data
 * dir>/media, or the shared directory of media_dir=) as ab/cd/<hex>, written to a temp file,
 * fsynced, renamed and the directory fsynced, so a file that the store says exists is complete
 * on disk. */
#include "ingest/ingest_int.h"
#include "store/policy.h"
#include "store/pool.h"
#include "store/store.h"
#include "store/org.h"
#include "store/usage.h"
#include "util/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct wp_media_upload {
    wp_ingest *ing;
    char tenant_id[WP_ID_LEN + 1];
    char device_id[WP_ID_LEN + 1];
    char hex[65];
    char dir[4096], tmp[4096], path[4096];
    int fd;
    int unnamed; /* the name comes from the bytes, at finish */
    size_t size;
    crypto_hash_sha256_state sha;
    /* encrypted (ing->keys): the file is named by name, the keyed hash of hex */
    int enc;
    char name[65];
    struct wp_media_crypt c;
    size_t fill;        /* plaintext bytes waiting in buf */
    unsigned char *buf; /* WP_MEDIA_CHUNK, then its ciphertext */
};

static int write_all(int fd, const void *bytes, size_t len)
{
    const char *p = bytes;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return wp_error_set(wp_error_errno_code(errno), "cannot write media: %s",
                                strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The encrypted stream under file key key of version: its header written to the temp file. */
static int enc_start(wp_media_upload *up, const unsigned char key[WP_KEY_LEN], int64_t version)
{
    unsigned char hdr[WP_MEDIA_HDR];
    if (!(up->buf = malloc(WP_MEDIA_CHUNK + WP_MEDIA_CHUNK + WP_MEDIA_ABYTES)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    wp_media_crypt__begin(&up->c, hdr, key, version);
    up->enc = 1;
    return write_all(up->fd, hdr, sizeof hdr);
}

/* With a master key: encrypted under the tenant's newest data key. */
static int enc_begin(wp_media_upload *up)
{
    unsigned char key[WP_KEY_LEN];
    int64_t version = 0;
    int err;
    if (!up->ing->keys)
        return 0;
    if ((err = wp_media_keys__get(up->ing->keys, up->ing->pool, key, &version, NULL,
                                  up->tenant_id, NULL, 0)) < 0)
        return err;
    err = enc_start(up, key, version);
    sodium_memzero(key, sizeof key);
    return err;
}

/* The chunk waiting in buf, encrypted and written. */
static int enc_flush(wp_media_upload *up, int final)
{
    unsigned char *out = up->buf + WP_MEDIA_CHUNK;
    wp_media_crypt__push(&up->c, out, up->buf, up->fill, final);
    int err = write_all(up->fd, out, up->fill + WP_MEDIA_ABYTES);
    up->fill = 0;
    return err;
}

/* The name of the file on disk: the keyed hash when encrypted, else the content hash. */
static const char *disk_name(const wp_media_upload *up)
{
    return up->enc ? up->name : up->hex;
}

/* "sha256:" + 64 lowercase hex → hex. */
static int parse_ref(char hex[65], const char *ref)
{
    int ok = ref && strlen(ref) == 71 && strncmp(ref, "sha256:", 7) == 0;
    for (size_t i = 7; ok && i < 71; i++)
        ok = (ref[i] >= '0' && ref[i] <= '9') || (ref[i] >= 'a' && ref[i] <= 'f');
    if (!ok)
        return wp_error_set(WP_EINVAL,
                            "media name must be \"sha256:\" and 64 lowercase hex digits");
    memcpy(hex, ref + 7, 65);
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return wp_error_set(wp_error_errno_code(errno), "cannot open '%s': %s", dir,
                            strerror(errno));
    int rc = fsync(fd), e = errno;
    close(fd);
    return rc == 0 ? 0
                   : wp_error_set(wp_error_errno_code(e), "cannot fsync '%s': %s", dir,
                                  strerror(e));
}

/* mkdir that is fine with the directory being there; a new directory's entry is fsynced in
 * its parent, so the file that goes in it survives a crash too. */
static int make_dir(const char *dir, const char *parent)
{
    if (mkdir(dir, 0700) == 0)
        return fsync_dir(parent);
    if (errno == EEXIST)
        return 0;
    return wp_error_set(wp_error_errno_code(errno), "cannot create '%s': %s", dir,
                        strerror(errno));
}

/* The media root: made (and its entry fsynced in its parent) when it is not there. */
static int make_root(const char *root)
{
    char parent[4096];
    const char *slash = strrchr(root, '/');
    if ((size_t)snprintf(parent, sizeof parent, "%s", root) >= sizeof parent)
        return wp_error_set(WP_EINVAL, "media dir path is too long");
    if (!slash)
        snprintf(parent, sizeof parent, ".");
    else if (slash == root)
        parent[1] = '\0';
    else
        parent[slash - root] = '\0';
    return make_dir(root, parent);
}

static int paths(wp_media_upload *up, const char *root)
{
    char media[4096], ab[4096];
    int n1 = snprintf(media, sizeof media, "%s", root);
    const char *nm = disk_name(up);
    int n2 = snprintf(ab, sizeof ab, "%s/%.2s", media, nm);
    int n3 = snprintf(up->dir, sizeof up->dir, "%s/%.2s", ab, nm + 2);
    int n4 = snprintf(up->path, sizeof up->path, "%s/%s", up->dir, nm);
    int n5 = snprintf(up->tmp, sizeof up->tmp, "%s/.tmp-%s-XXXXXX", up->dir, nm);
    if (n1 < 0 || n2 < 0 || n3 < 0 || n4 < 0 || n5 < 0 || (size_t)n5 >= sizeof up->tmp)
        return wp_error_set(WP_EINVAL, "media dir path is too long");
    int err;
    if ((err = make_root(media)) < 0 || (err = make_dir(ab, media)) < 0 ||
        (err = make_dir(up->dir, ab)) < 0)
        return err;
    return 0;
}

/* 0 when the tenant has the file (hex) or size more bytes fit in its media limit; else
 * WP_EQUOTA. */
static int admit(wp_store *st, const char *tenant_id, const char *hex, int64_t size)
{
    wp_usage u;
    int64_t have;
    int err = wp_store_media_get(st, &have, tenant_id, hex);
    if (err != WP_ENOTFOUND)
        return err;
    if ((err = wp_store_usage_get(st, &u, tenant_id)) < 0)
        return err;
    if (u.used[WP_USAGE_MEDIA] + size > u.limit[WP_USAGE_MEDIA]) {
        wp_usage_refusal r = {WP_USAGE_MEDIA, u.used[WP_USAGE_MEDIA], u.limit[WP_USAGE_MEDIA],
                              size, 0};
        return wp_usage_refuse(&r);
    }
    /* the operator's storage limit of the whole tenant (migration 0033) */
    wp_tenant t;
    if ((err = wp_store_tenant_get(st, &t, tenant_id)) < 0)
        return err;
    int64_t used = 0;
    for (int k = 0; k < WP_USAGE_KINDS; k++)
        used += u.used[k];
    if (t.storage_limit < 0 || used + size <= t.storage_limit)
        return 0;
    wp_usage_refusal r = {WP_USAGE_MEDIA, used, t.storage_limit, size, 1};
    return wp_usage_refuse(&r);
}

int wp_ingest_media_admit(wp_ingest *ing, const char *tenant_id, const char *ref, int64_t size)
{
    char hex[65];
    wp_store *st = NULL;
    int err;
    if ((err = parse_ref(hex, ref)) < 0)
        return err;
    if ((err = wp_store_connpool_acquire(ing->pool, &st)) < 0)
        return err;
    err = admit(st, tenant_id, hex, size < 0 ? 1 : size);
    wp_store_connpool_release(ing->pool, st);
    return err;
}

int wp_ingest_media_begin(wp_ingest *ing, wp_media_upload **out, const char *tenant_id,
                          const char *device_id, const char *ref)
{
    wp_media_upload *up = NULL;
    int err;

    if (!tenant_id || strlen(tenant_id) != WP_ID_LEN)
        return wp_error_set(WP_ENOTFOUND, "tenant not found");
    if (!device_id || strlen(device_id) != WP_ID_LEN)
        return wp_error_set(WP_ENOTFOUND, "device not found");
    if (!(up = calloc(1, sizeof *up)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    up->fd = -1;
    up->ing = ing;
    memcpy(up->tenant_id, tenant_id, sizeof up->tenant_id);
    memcpy(up->device_id, device_id, sizeof up->device_id);
    if ((err = parse_ref(up->hex, ref)) < 0)
        goto fail;
    if (ing->keys) {
        up->enc = 1; /* for paths(); enc_begin sets it again */
        if ((err = wp_media_keys__get(ing->keys, ing->pool, NULL, NULL, up->name, tenant_id,
                                      up->hex, 0)) < 0)
            goto fail;
    }
    if ((err = paths(up, ing->media_dir)) < 0)
        goto fail;
    if ((up->fd = mkostemp(up->tmp, O_CLOEXEC)) < 0) {
        err = wp_error_set(wp_error_errno_code(errno), "cannot create a temp file in '%s': %s",
                           up->dir, strerror(errno));
        goto fail;
    }
    crypto_hash_sha256_init(&up->sha);
    if ((err = enc_begin(up)) < 0)
        goto fail;
    *out = up;
    return 0;
fail:
    wp_ingest_media_abort(up);
    return err;
}

int wp_ingest_media_begin_unnamed(wp_ingest *ing, wp_media_upload **out, const char *tenant_id,
                                  const char *device_id)
{
    wp_media_upload *up = NULL;
    char media[4096];
    int err;

    if (!tenant_id || strlen(tenant_id) != WP_ID_LEN)
        return wp_error_set(WP_ENOTFOUND, "tenant not found");
    if (!device_id || strlen(device_id) != WP_ID_LEN)
        return wp_error_set(WP_ENOTFOUND, "device not found");
    if (!(up = calloc(1, sizeof *up)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    up->fd = -1;
    up->ing = ing;
    up->unnamed = 1;
    memcpy(up->tenant_id, tenant_id, sizeof up->tenant_id);
    memcpy(up->device_id, device_id, sizeof up->device_id);
    /* the temp file waits in media/ itself: its directory is known once its hash is */
    int n1 = snprintf(media, sizeof media, "%s", ing->media_dir);
    int n2 = snprintf(up->tmp, sizeof up->tmp, "%s/.tmp-unnamed-XXXXXX", media);
    if (n1 < 0 || n2 < 0 || (size_t)n2 >= sizeof up->tmp) {
        err = wp_error_set(WP_EINVAL, "media dir path is too long");
        goto fail;
    }
    if ((err = make_root(media)) < 0)
        goto fail;
    if ((up->fd = mkostemp(up->tmp, O_CLOEXEC)) < 0) {
        err = wp_error_set(wp_error_errno_code(errno), "cannot create a temp file in '%s': %s",
                           media, strerror(errno));
        goto fail;
    }
    crypto_hash_sha256_init(&up->sha);
    if ((err = enc_begin(up)) < 0)
        goto fail;
    *out = up;
    return 0;
fail:
    wp_ingest_media_abort(up);
    return err;
}

int wp_ingest_media_write(wp_media_upload *up, const void *bytes, size_t len)
{
    if (len > WP_INGEST_MEDIA_MAX - up->size)
        return wp_error_set(WP_ELIMIT, "media file is larger than %u bytes", WP_INGEST_MEDIA_MAX);
    crypto_hash_sha256_update(&up->sha, bytes, len);
    const char *p = bytes;
    while (up->enc && len > 0) {
        size_t k = WP_MEDIA_CHUNK - up->fill < len ? WP_MEDIA_CHUNK - up->fill : len;
        memcpy(up->buf + up->fill, p, k);
        up->fill += k, up->size += k, p += k, len -= k;
        int err;
        if (up->fill == WP_MEDIA_CHUNK && (err = enc_flush(up, 0)) < 0)
            return err;
    }
    while (len > 0) {
        ssize_t n = write(up->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return wp_error_set(wp_error_errno_code(errno), "cannot write media: %s",
                                strerror(errno));
        p += n;
        len -= (size_t)n;
        up->size += (size_t)n;
    }
    return 0;
}

void wp_ingest_media_abort(wp_media_upload *up)
{
    if (!up)
        return;
    if (up->fd >= 0) {
        close(up->fd);
        unlink(up->tmp);
    }
    if (up->buf) {
        sodium_memzero(up->buf, WP_MEDIA_CHUNK);
        free(up->buf);
    }
    sodium_memzero(&up->c, sizeof up->c);
    free(up);
}

/* The written file put in place: its last chunk, fsynced, renamed to its name, the directory
 * fsynced. Same name, same bytes: when the file is there already (another tenant, an earlier
 * upload; encrypted, the same tenant's only: names are keyed per tenant) the new copy is just
 * dropped. */
static int put_in_place(wp_media_upload *up)
{
    int err;
    if (up->enc && (err = enc_flush(up, 1)) < 0)
        return err;
    if (fsync(up->fd) != 0)
        return wp_error_set(wp_error_errno_code(errno), "cannot fsync media: %s",
                            strerror(errno));
    close(up->fd);
    up->fd = -1;
    if (access(up->path, F_OK) == 0) {
        unlink(up->tmp);
        return 0;
    }
    if (rename(up->tmp, up->path) != 0) {
        err = wp_error_set(wp_error_errno_code(errno), "cannot store media: %s", strerror(errno));
        unlink(up->tmp);
        return err;
    }
    return fsync_dir(up->dir);
}

int wp_ingest_media_finish(wp_media_upload *up, int *created)
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    char hex[65];
    wp_store *st = NULL;
    int err;

    crypto_hash_sha256_final(&up->sha, digest);
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    if (up->unnamed) { /* named by its bytes: its directories now */
        char tmp[sizeof up->tmp];
        memcpy(tmp, up->tmp, sizeof tmp);
        memcpy(up->hex, hex, sizeof up->hex);
        if (up->enc && (err = wp_media_keys__get(up->ing->keys, up->ing->pool, NULL, NULL,
                                                 up->name, up->tenant_id, hex, 0)) < 0)
            goto out;
        err = paths(up, up->ing->media_dir);
        memcpy(up->tmp, tmp, sizeof tmp); /* paths() names a temp file it did not make */
        if (err < 0)
            goto out;
    }
    if (strcmp(hex, up->hex) != 0) {
        err = wp_error_set(WP_EINVAL, "media content does not match its sha256 name");
        goto out;
    }
    /* A file past the tenant's media limit is not kept (abort removes the temp file): checked
     * before it is put in place, and again, exactly, when its row is added. */
    if ((err = wp_store_connpool_acquire(up->ing->pool, &st)) < 0)
        goto out;
    err = admit(st, up->tenant_id, up->hex, (int64_t)up->size);
    wp_store_connpool_release(up->ing->pool, st);
    st = NULL;
    if (err < 0)
        goto out;
    if ((err = put_in_place(up)) < 0 || (err = wp_store_connpool_acquire(up->ing->pool, &st)) < 0)
        goto out;
    err = wp_store_media_add_named(st, created, up->tenant_id, up->device_id, up->hex,
                                   (int64_t)up->size, up->enc ? up->name : NULL);
    wp_store_connpool_release(up->ing->pool, st);
out:
    wp_ingest_media_abort(up);
    return err;
}

int wp_ingest_media_finish_named(wp_media_upload *up, int *created, char ref[72])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state copy = up->sha;
    char hex[65];
    crypto_hash_sha256_final(&copy, digest);
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    snprintf(ref, 72, "sha256:%s", hex);
    return wp_ingest_media_finish(up, created);
}

int wp_ingest_media_put(wp_ingest *ing, int *created, const char *tenant_id,
                        const char *device_id, const char *ref, const void *bytes, size_t len)
{
    wp_media_upload *up = NULL;
    int err;
    if (len > WP_INGEST_MEDIA_MAX)
        return wp_error_set(WP_ELIMIT, "media file is larger than %u bytes", WP_INGEST_MEDIA_MAX);
    if ((err = wp_ingest_media_begin(ing, &up, tenant_id, device_id, ref)) < 0)
        return err;
    if ((err = wp_ingest_media_write(up, bytes, len)) < 0) {
        wp_ingest_media_abort(up);
        return err;
    }
    return wp_ingest_media_finish(up, created);
}

struct wp_media_reader {
    int fd;
    struct wp_media_crypt c;
    unsigned char key[WP_KEY_LEN];
    off_t at;
    unsigned char *in, *out; /* a chunk as stored, and its plaintext */
    size_t out_len, out_pos;
    int done;
    unsigned char head[12];
    size_t head_len;
};

void wp_media_reader_free(wp_media_reader *rd)
{
    if (!rd)
        return;
    if (rd->fd >= 0)
        close(rd->fd);
    if (rd->out)
        sodium_memzero(rd->out, WP_MEDIA_CHUNK);
    free(rd->in);
    free(rd->out);
    sodium_memzero(rd, sizeof *rd);
    free(rd);
}

static int rd_start(wp_media_reader *rd)
{
    unsigned char hdr[WP_MEDIA_HDR];
    if (pread(rd->fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr)
        return wp_error_set(WP_ECORRUPT, "media file is shorter than its header");
    rd->at = WP_MEDIA_HDR;
    rd->out_len = rd->out_pos = 0;
    rd->done = 0;
    return wp_media_crypt__start(&rd->c, hdr, rd->key);
}

/* The next chunk's plaintext into out: 1, 0 after the last one, or WP_ECORRUPT. */
static int rd_next(wp_media_reader *rd)
{
    unsigned char extra;
    ssize_t n;
    int final = 0, err;
    if (rd->done)
        return 0;
    do
        n = pread(rd->fd, rd->in, WP_MEDIA_CHUNK + WP_MEDIA_ABYTES, rd->at);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return wp_error_set(WP_EIO, "cannot read media: %s", strerror(errno));
    if ((err = wp_media_crypt__pull(&rd->c, rd->out, &rd->out_len, &final, rd->in,
                                    (size_t)n)) < 0)
        return err;
    rd->at += n, rd->out_pos = 0;
    if (!final && n < WP_MEDIA_CHUNK + WP_MEDIA_ABYTES)
        return wp_error_set(WP_ECORRUPT, "media file is cut short");
    if (final && pread(rd->fd, &extra, 1, rd->at) != 0)
        return wp_error_set(WP_ECORRUPT, "media file has bytes past its end");
    rd->done = final;
    return 1;
}

long wp_media_reader_read(wp_media_reader *rd, void *buf, size_t max)
{
    int r;
    while (rd->out_pos == rd->out_len)
        if ((r = rd_next(rd)) <= 0)
            return r;
    size_t k = rd->out_len - rd->out_pos < max ? rd->out_len - rd->out_pos : max;
    memcpy(buf, rd->out + rd->out_pos, k);
    rd->out_pos += k;
    return (long)k;
}

const unsigned char *wp_media_reader_head(const wp_media_reader *rd, size_t *len)
{
    *len = rd->head_len;
    return rd->head;
}

/* A reader of the encrypted file fd (taken) of tenant_id: every chunk authenticated and the
 * plaintext's sha256 compared with hex, then rewound for the reply. */
static int reader_open(wp_media_reader **out, wp_ingest *ing, int fd, const char *tenant_id,
                       const char *hex)
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state sha;
    char got[65];
    int64_t version = wp_media_crypt__version(fd), v = 0;
    int err, r;
    wp_media_reader *rd = calloc(1, sizeof *rd);
    if (!rd) {
        close(fd);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    rd->fd = fd;
    if (!(rd->in = malloc(WP_MEDIA_CHUNK + WP_MEDIA_ABYTES)) ||
        !(rd->out = malloc(WP_MEDIA_CHUNK))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    if (version <= 0) {
        err = wp_error_set(WP_ECORRUPT, "media 'sha256:%s' is damaged: no valid header", hex);
        goto out;
    }
    if ((err = wp_media_keys__get(ing->keys, ing->pool, rd->key, &v, NULL, tenant_id, NULL,
                                  version)) < 0 ||
        (err = rd_start(rd)) < 0)
        goto out;
    crypto_hash_sha256_init(&sha);
    while ((r = rd_next(rd)) > 0) {
        crypto_hash_sha256_update(&sha, rd->out, rd->out_len);
        if (rd->head_len < sizeof rd->head) {
            size_t k = sizeof rd->head - rd->head_len;
            k = k < rd->out_len ? k : rd->out_len;
            memcpy(rd->head + rd->head_len, rd->out, k);
            rd->head_len += k;
        }
    }
    if ((err = r) < 0) {
        char why[256];
        snprintf(why, sizeof why, "%s", wp_error_last());
        err = wp_error_set(err, "media 'sha256:%s' is damaged: %s", hex, why);
        goto out;
    }
    crypto_hash_sha256_final(&sha, digest);
    sodium_bin2hex(got, sizeof got, digest, sizeof digest);
    if (strcmp(got, hex) != 0) {
        err = wp_error_set(WP_ECORRUPT,
                           "media 'sha256:%s' is damaged: its bytes no longer match its hash",
                           hex);
        goto out;
    }
    if ((err = rd_start(rd)) < 0)
        goto out;
    *out = rd;
    rd = NULL;
out:
    wp_media_reader_free(rd);
    return err;
}

int wp_ingest_media_open(wp_ingest *ing, int *fd, wp_media_reader **rd, int64_t *size,
                         const char *tenant_id, const char *ref)
{
    char hex[65], name[65], path[4096];
    wp_store *st = NULL;
    int64_t sz = 0;
    int err, f = -1;

    *fd = -1;
    *rd = NULL;
    if (parse_ref(hex, ref) < 0)
        return wp_error_set(WP_ENOTFOUND, "media not found");
    if ((err = wp_store_connpool_acquire(ing->pool, &st)) < 0)
        return err;
    err = wp_store_media_get(st, &sz, tenant_id, hex);
    wp_store_connpool_release(ing->pool, st);
    if (err < 0)
        return err;
    /* encrypted under its keyed name; else a plain file from before (or from before the
     * master key), under its content hash */
    if (ing->keys) {
        if ((err = wp_media_keys__get(ing->keys, ing->pool, NULL, NULL, name, tenant_id, hex,
                                      0)) < 0)
            return err;
        snprintf(path, sizeof path, "%s/%.2s/%.2s/%s", ing->media_dir, name, name + 2, name);
        if ((f = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
            struct stat sb;
            if (fstat(f, &sb) == 0 && sb.st_size != wp_media_crypt__size(sz)) {
                close(f);
                return wp_error_set(WP_ECORRUPT,
                                    "media 'sha256:%s' is damaged: %lld bytes on disk, %lld "
                                    "expected",
                                    hex, (long long)sb.st_size,
                                    (long long)wp_media_crypt__size(sz));
            }
            if ((err = reader_open(rd, ing, f, tenant_id, hex)) < 0)
                return err;
            *size = sz;
            return 0;
        }
    }
    snprintf(path, sizeof path, "%s/%.2s/%.2s/%s", ing->media_dir, hex, hex + 2, hex);
    f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return wp_error_set(WP_EIO, "media file '%s' is missing: %s", hex, strerror(errno));
    struct stat sb;
    if (fstat(f, &sb) == 0 && sb.st_size != sz)
        err = wp_error_set(WP_ECORRUPT,
                           "media 'sha256:%s' is damaged: %lld bytes on disk, %lld stored", hex,
                           (long long)sb.st_size, (long long)sz);
    else
        err = wp_ingest_media_verify(f, path, hex);
    if (err < 0) {
        close(f);
        return err;
    }
    *fd = f;
    *size = sz;
    return 0;
}

int wp_ingest_media_verify(int fd, const char *path, const char *hex)
{
    unsigned char digest[crypto_hash_sha256_BYTES], buf[65536];
    crypto_hash_sha256_state sha;
    char got[65];
    int own = fd < 0, err = 0;
    off_t at = 0;

    if (own && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return wp_error_set(WP_EIO, "cannot open '%s': %s", path, strerror(errno));
    crypto_hash_sha256_init(&sha);
    for (;;) {
        /* pread: the caller's offset stays at 0 for the reply that follows */
        ssize_t n = pread(fd, buf, sizeof buf, at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = wp_error_set(WP_EIO, "cannot read '%s': %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        crypto_hash_sha256_update(&sha, buf, (size_t)n);
        at += n;
    }
    crypto_hash_sha256_final(&sha, digest);
    sodium_bin2hex(got, sizeof got, digest, sizeof digest);
    if (strcmp(got, hex) != 0)
        err = wp_error_set(WP_ECORRUPT,
                           "media 'sha256:%.64s' is damaged: its bytes no longer match its hash",
                           hex);
out:
    if (own)
        close(fd);
    return err;
}

static int is_hex_name(const char *name, size_t len)
{
    if (strlen(name) != len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
            return 0;
    return 1;
}

/* Every file of a media root's ab/cd/<hex> tree: fn(ctx, path, hex) for each well-named one,
 * bad(ctx, path, why) for anything else there and for directories that cannot be read. */
static int walk(const char *media, int (*fn)(void *ctx, const char *path, const char *hex),
                void (*bad)(void *ctx, const char *path, const char *why), void *ctx)
{
    char ab[4096], cd[4096], path[4096];
    DIR *d1 = NULL, *d2 = NULL, *d3 = NULL;
    struct dirent *e1, *e2, *e3;
    int err = 0;

    if (!(d1 = opendir(media)))
        return errno == ENOENT ? 0
                               : wp_error_set(WP_EIO, "cannot read '%s': %s", media,
                                              strerror(errno));
    /* ab/cd/<abcd...>: the name's first four digits are its directories */
    while (err == 0 && (e1 = readdir(d1))) {
        if (!is_hex_name(e1->d_name, 2))
            continue;
        if (snprintf(ab, sizeof ab, "%s/%s", media, e1->d_name) >= (int)sizeof ab)
            continue;
        if (!(d2 = opendir(ab))) {
            bad(ctx, ab, strerror(errno));
            continue;
        }
        while (err == 0 && (e2 = readdir(d2))) {
            if (!is_hex_name(e2->d_name, 2))
                continue;
            if (snprintf(cd, sizeof cd, "%s/%s", ab, e2->d_name) >= (int)sizeof cd)
                continue;
            if (!(d3 = opendir(cd))) {
                bad(ctx, cd, strerror(errno));
                continue;
            }
            while (err == 0 && (e3 = readdir(d3))) {
                const char *n = e3->d_name;
                if (!strcmp(n, ".") || !strcmp(n, "..") || !strncmp(n, ".tmp-", 5))
                    continue;
                if (snprintf(path, sizeof path, "%s/%s", cd, n) >= (int)sizeof path)
                    continue;
                if (!is_hex_name(n, 64) || strncmp(n, e1->d_name, 2) ||
                    strncmp(n + 2, e2->d_name, 2)) {
                    bad(ctx, path, "not a media file's name (64 hex digits in its own directory)");
                    continue;
                }
                err = fn(ctx, path, n);
            }
            closedir(d3);
        }
        closedir(d2);
    }
    closedir(d1);
    return err;
}

/* The file at path starts as an encrypted media file does. */
static int is_encrypted(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int r = wp_media_crypt__is(fd);
    close(fd);
    return r;
}

struct check_ctx {
    size_t *checked;
    void (*cb)(void *ctx, const char *path, const char *why);
    void *ctx;
};

static int check_one(void *ctx, const char *path, const char *hex)
{
    struct check_ctx *c = ctx;
    (*c->checked)++;
    int r = wp_ingest_media_verify(-1, path, hex);
    if (r == WP_ECORRUPT && is_encrypted(path))
        return 0; /* its name is keyed: check authenticates it from the store's list */
    if (r == WP_ECORRUPT)
        c->cb(c->ctx, path, "its bytes no longer match its sha256 name");
    else if (r < 0)
        c->cb(c->ctx, path, wp_error_last());
    return 0;
}

static void check_bad(void *ctx, const char *path, const char *why)
{
    struct check_ctx *c = ctx;
    c->cb(c->ctx, path, why);
}

int wp_ingest_media_check_all(const char *media_dir, size_t *checked,
                              void (*cb)(void *ctx, const char *path, const char *why),
                              void *ctx)
{
    struct check_ctx c = {checked, cb, ctx};
    *checked = 0;
    return walk(media_dir, check_one, check_bad, &c);
}

struct adopt_ctx {
    const char *to;
    size_t *files;
    int64_t *bytes;
    void (*cb)(void *ctx, const char *path, const char *why);
    void *ctx;
};

/* Copy one file from the old root into the new one: hashed as it is copied, fsynced, renamed,
 * its directory fsynced; then the old copy goes. A file whose bytes do not match its name
 * stays where it was (reported). Another node moving the same file meanwhile is fine: the
 * names are the same and so are the bytes. */
static int adopt_one(void *ctx, const char *path, const char *hex)
{
    struct adopt_ctx *a = ctx;
    wp_media_upload up = {0};
    unsigned char buf[65536], digest[crypto_hash_sha256_BYTES];
    char got[65];
    int src = -1, err = 0;

    up.fd = -1;
    memcpy(up.hex, hex, 65);
    if ((err = paths(&up, a->to)) < 0)
        return err;
    if (access(up.path, F_OK) == 0) {
        /* there already: same name, same bytes once it verifies */
        if (wp_ingest_media_verify(-1, up.path, hex) == 0 || is_encrypted(up.path)) {
            if (unlink(path) != 0 && errno != ENOENT)
                a->cb(a->ctx, path, strerror(errno));
            return 0;
        }
    }
    if ((src = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? 0 : (a->cb(a->ctx, path, strerror(errno)), 0);
    if ((up.fd = mkostemp(up.tmp, O_CLOEXEC)) < 0) {
        err = wp_error_set(wp_error_errno_code(errno), "cannot create a temp file in '%s': %s",
                           up.dir, strerror(errno));
        goto out;
    }
    crypto_hash_sha256_init(&up.sha);
    for (;;) {
        ssize_t n = read(src, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = wp_error_set(WP_EIO, "cannot read '%s': %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        crypto_hash_sha256_update(&up.sha, buf, (size_t)n);
        for (ssize_t w = 0; w < n;) {
            ssize_t k = write(up.fd, buf + w, (size_t)(n - w));
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0) {
                err = wp_error_set(wp_error_errno_code(errno), "cannot write media: %s",
                                   strerror(errno));
                goto out;
            }
            w += k;
        }
        up.size += (size_t)n;
    }
    crypto_hash_sha256_final(&up.sha, digest);
    sodium_bin2hex(got, sizeof got, digest, sizeof digest);
    if (strcmp(got, hex) != 0 && !is_encrypted(path)) {
        a->cb(a->ctx, path, "its bytes no longer match its sha256 name: left where it is");
        goto out;
    }
    if (fsync(up.fd) != 0) {
        err = wp_error_set(wp_error_errno_code(errno), "cannot fsync media: %s",
                           strerror(errno));
        goto out;
    }
    close(up.fd);
    up.fd = -1;
    if (rename(up.tmp, up.path) != 0) {
        err = wp_error_set(wp_error_errno_code(errno), "cannot store media: %s", strerror(errno));
        goto out;
    }
    up.tmp[0] = '\0';
    if ((err = fsync_dir(up.dir)) < 0)
        goto out;
    if (unlink(path) != 0 && errno != ENOENT)
        a->cb(a->ctx, path, strerror(errno));
    (*a->files)++;
    *a->bytes += (int64_t)up.size;
out:
    if (up.fd >= 0) {
        close(up.fd);
        unlink(up.tmp);
    } else if (up.tmp[0] && err < 0) {
        unlink(up.tmp);
    }
    if (src >= 0)
        close(src);
    return err;
}

static void adopt_bad(void *ctx, const char *path, const char *why)
{
    struct adopt_ctx *a = ctx;
    a->cb(a->ctx, path, why);
}

int wp_ingest_media_adopt(const char *from, const char *to, size_t *files, int64_t *bytes,
                          void (*cb)(void *ctx, const char *path, const char *why), void *ctx)
{
    struct adopt_ctx a = {to, files, bytes, cb, ctx};
    *files = 0;
    *bytes = 0;
    return walk(from, adopt_one, adopt_bad, &a);
}

/* --- converting plain files (`workphone keys encrypt-media`) ------------------------------ */

struct row {
    char tenant_id[WP_ID_LEN + 1], hex[65], name[65];
    int done; /* the tenant's encrypted copy is in place */
};

struct rows {
    struct row *v;
    size_t n, cap;
};

static int add_row(void *ctx, const char *tenant_id, const char *sha, int64_t size)
{
    struct rows *r = ctx;
    (void)size;
    if (strlen(tenant_id) != WP_ID_LEN || !is_hex_name(sha, 64))
        return 0;
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 256;
        struct row *v = realloc(r->v, cap * sizeof *v);
        if (!v)
            return wp_error_set(WP_ENOMEM, "out of memory");
        r->v = v, r->cap = cap;
    }
    memset(&r->v[r->n], 0, sizeof r->v[0]);
    memcpy(r->v[r->n].tenant_id, tenant_id, WP_ID_LEN + 1);
    memcpy(r->v[r->n].hex, sha, 65);
    r->n++;
    return 0;
}

/* The plain file at plain, encrypted for the tenant of rw into its keyed name: *ok 1 when it
 * is in place; its bytes not matching its name leave it (reported). */
/* The tenant's copy of a file, encrypted under its newest key version into a temp file, checked
 * against its sha256 and renamed into place under its keyed name: read from the plain file at
 * plain, or (rd not NULL) from an encrypted file's reader (a re-encryption after a rotation,
 * which replaces the file of the same name). */
static int encrypt_one(wp_ingest *ing, struct row *rw, const char *plain, wp_media_reader *rd,
                       int *ok, void (*cb)(void *ctx, const char *path, const char *why),
                       void *ctx)
{
    unsigned char buf[65536], digest[crypto_hash_sha256_BYTES];
    char got[65];
    int src = -1, err;
    wp_media_upload *up = calloc(1, sizeof *up);
    *ok = 0;
    if (!up)
        return wp_error_set(WP_ENOMEM, "out of memory");
    up->fd = -1;
    up->ing = ing;
    up->enc = 1;
    memcpy(up->tenant_id, rw->tenant_id, sizeof up->tenant_id);
    memcpy(up->hex, rw->hex, sizeof up->hex);
    memcpy(up->name, rw->name, sizeof up->name);
    if ((err = paths(up, ing->media_dir)) < 0)
        goto out;
    if (!rd && (src = open(plain, O_RDONLY | O_CLOEXEC)) < 0) {
        err = errno == ENOENT ? 0
                              : wp_error_set(WP_EIO, "cannot read '%s': %s", plain,
                                             strerror(errno));
        goto out;
    }
    if ((up->fd = mkostemp(up->tmp, O_CLOEXEC)) < 0) {
        err = wp_error_set(wp_error_errno_code(errno), "cannot create a temp file in '%s': %s",
                           up->dir, strerror(errno));
        goto out;
    }
    crypto_hash_sha256_init(&up->sha);
    if ((err = enc_begin(up)) < 0)
        goto out;
    for (;;) {
        long n = rd ? wp_media_reader_read(rd, buf, sizeof buf) : (long)read(src, buf, sizeof buf);
        if (!rd && n < 0 && errno == EINTR)
            continue;
        if (rd && n < 0) { /* changed since it was checked */
            cb(ctx, plain, wp_error_last());
            err = 0;
            goto out;
        }
        if (n < 0) {
            err = wp_error_set(WP_EIO, "cannot read '%s': %s", plain, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        if ((err = wp_ingest_media_write(up, buf, (size_t)n)) < 0)
            goto out;
    }
    crypto_hash_sha256_final(&up->sha, digest);
    sodium_bin2hex(got, sizeof got, digest, sizeof digest);
    if (strcmp(got, up->hex) != 0) {
        cb(ctx, plain, "its bytes no longer match its sha256 name: left as it is");
        goto out;
    }
    if ((err = enc_flush(up, 1)) < 0)
        goto out;
    if (fsync(up->fd) != 0) {
        err = wp_error_set(wp_error_errno_code(errno), "cannot fsync media: %s",
                           strerror(errno));
        goto out;
    }
    close(up->fd);
    up->fd = -1;
    if (rename(up->tmp, up->path) != 0) {
        err = wp_error_set(wp_error_errno_code(errno), "cannot store media: %s", strerror(errno));
        unlink(up->tmp);
        goto out;
    }
    if ((err = fsync_dir(up->dir)) < 0)
        goto out;
    *ok = 1;
out:
    if (src >= 0)
        close(src);
    wp_ingest_media_abort(up);
    return err;
}

/* The tenant's encrypted file at enc re-encrypted under its newest key version when it is under
 * an older one (after `keys rotate-tenant`); *done counts it. A file that fails its check is
 * reported and left. */
static int reencrypt_one(wp_ingest *ing, struct row *rw, const char *enc, size_t *done,
                         void (*cb)(void *ctx, const char *path, const char *why), void *ctx)
{
    unsigned char key[WP_KEY_LEN];
    wp_media_reader *rd = NULL;
    char ref[72];
    int64_t newest = 0, size;
    int fd = open(enc, O_RDONLY | O_CLOEXEC), ok = 0, err;
    if (fd < 0)
        return 0; /* gone meanwhile (a purge): nothing to do */
    int64_t v = wp_media_crypt__version(fd);
    close(fd);
    fd = -1;
    err = wp_media_keys__get(ing->keys, ing->pool, key, &newest, NULL, rw->tenant_id, NULL, 0);
    sodium_memzero(key, sizeof key);
    if (err < 0 || v <= 0 || v >= newest)
        return err < 0 ? err : 0; /* v <= 0: not ours to read (check reports it) */
    snprintf(ref, sizeof ref, "sha256:%s", rw->hex);
    if ((err = wp_ingest_media_open(ing, &fd, &rd, &size, rw->tenant_id, ref)) < 0 || !rd) {
        if (fd >= 0)
            close(fd);
        if (err == WP_ECORRUPT || err == 0) {
            cb(ctx, enc, err ? wp_error_last() : "not the tenant's encrypted file: left as it is");
            return 0;
        }
        return err;
    }
    err = encrypt_one(ing, rw, enc, rd, &ok, cb, ctx);
    wp_media_reader_free(rd);
    *done += (size_t)ok;
    return err;
}

int wp_ingest_media_encrypt_all(wp_ingest *ing, size_t *converted, size_t *removed,
                                size_t *reencrypted,
                                void (*cb)(void *ctx, const char *path, const char *why),
                                void *ctx)
{
    struct rows r = {0};
    wp_store *st = NULL;
    char plain[4096], enc[4096], dir[4096];
    int err;

    *converted = *removed = *reencrypted = 0;
    if (!ing->keys)
        return wp_error_set(WP_EINVAL, "encrypting media needs a master key");
    if ((err = wp_store_connpool_acquire(ing->pool, &st)) < 0)
        return err;
    err = wp_store_media_each_row(st, add_row, &r);
    wp_store_connpool_release(ing->pool, st);
    st = NULL;
    if (err < 0)
        goto out;
    /* each tenant's copy first; its row names it once it is in place */
    for (size_t i = 0; i < r.n; i++) {
        struct row *rw = &r.v[i];
        if ((err = wp_media_keys__get(ing->keys, ing->pool, NULL, NULL, rw->name, rw->tenant_id,
                                      rw->hex, 0)) < 0)
            goto out;
        snprintf(enc, sizeof enc, "%s/%.2s/%.2s/%s", ing->media_dir, rw->name, rw->name + 2,
                 rw->name);
        snprintf(plain, sizeof plain, "%s/%.2s/%.2s/%s", ing->media_dir, rw->hex, rw->hex + 2,
                 rw->hex);
        if (access(enc, F_OK) == 0) {
            rw->done = 1;
            if ((err = reencrypt_one(ing, rw, enc, reencrypted, cb, ctx)) < 0)
                goto out;
        } else if (access(plain, F_OK) == 0) {
            if ((err = encrypt_one(ing, rw, plain, NULL, &rw->done, cb, ctx)) < 0)
                goto out;
            *converted += (size_t)rw->done;
        } else {
            cb(ctx, plain, "the store lists it but it is not on disk");
        }
        if (rw->done) {
            if ((err = wp_store_connpool_acquire(ing->pool, &st)) < 0)
                goto out;
            err = wp_store_media_set_name(st, rw->tenant_id, rw->hex, rw->name);
            wp_store_connpool_release(ing->pool, st);
            st = NULL;
            if (err < 0)
                goto out;
        }
    }
    /* then the plain file, once every tenant that has it has its own copy (rows by hash) */
    for (size_t i = 0, j; i < r.n; i = j) {
        int all = 1;
        for (j = i; j < r.n && !strcmp(r.v[j].hex, r.v[i].hex); j++)
            all &= r.v[j].done;
        snprintf(plain, sizeof plain, "%s/%.2s/%.2s/%s", ing->media_dir, r.v[i].hex,
                 r.v[i].hex + 2, r.v[i].hex);
        if (!all)
            continue;
        if (unlink(plain) == 0) {
            (*removed)++;
            snprintf(dir, sizeof dir, "%s/%.2s/%.2s", ing->media_dir, r.v[i].hex,
                     r.v[i].hex + 2);
            if ((err = fsync_dir(dir)) < 0)
                goto out;
        } else if (errno != ENOENT) {
            cb(ctx, plain, strerror(errno));
        }
    }
out:
    free(r.v);
    return err;
}

/* --- a file sealed outside serve (tenant import) ----------------------------------------- */

/* An upload without an ingest: the key is the caller's, and no row is added. */
void wp_media_sealer_abort(wp_media_sealer *w)
{
    wp_ingest_media_abort(w);
}

int wp_media_sealer_begin(wp_media_sealer **out, const char *media_root,
                          const unsigned char dk1[32], const unsigned char dk[32], int64_t version,
                          const char *hex)
{
    unsigned char key[WP_KEY_LEN];
    int err;
    wp_media_upload *up = calloc(1, sizeof *up);
    *out = NULL;
    if (!up)
        return wp_error_set(WP_ENOMEM, "out of memory");
    up->fd = -1;
    up->enc = 1; /* for paths() */
    snprintf(up->hex, sizeof up->hex, "%s", hex);
    wp_media_keyed_name(up->name, dk1, hex);
    if ((err = paths(up, media_root)) < 0)
        goto fail;
    if ((up->fd = mkostemp(up->tmp, O_CLOEXEC)) < 0) {
        err = wp_error_set(wp_error_errno_code(errno), "cannot create '%s': %s", up->tmp,
                           strerror(errno));
        goto fail;
    }
    crypto_hash_sha256_init(&up->sha);
    wp_media_crypt__file_key(key, dk);
    err = enc_start(up, key, version);
    sodium_memzero(key, sizeof key);
    if (err < 0)
        goto fail;
    *out = up;
    return 0;
fail:
    wp_ingest_media_abort(up);
    return err;
}

int wp_media_sealer_write(wp_media_sealer *w, const void *bytes, size_t len)
{
    return wp_ingest_media_write(w, bytes, len);
}

int wp_media_sealer_finish(wp_media_sealer *w, char path[4096])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    char got[65];
    int err;
    crypto_hash_sha256_final(&w->sha, digest);
    sodium_bin2hex(got, sizeof got, digest, sizeof digest);
    if (strcmp(got, w->hex) != 0)
        err =
            wp_error_set(WP_ECORRUPT, "media 'sha256:%s': its bytes do not match its hash", w->hex);
    else if ((err = put_in_place(w)) == 0)
        memcpy(path, w->path, sizeof w->path);
    wp_ingest_media_abort(w);
    return err;
}
