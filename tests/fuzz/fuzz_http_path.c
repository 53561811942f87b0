/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a request target ("/path?query") and a Host header as src/http reads
 * them. The path splits into at most WP_HTTP_MAX_SEGMENTS decoded segments that, encoded
 * again, split back the same; as a console file name it never climbs out of the directory (no
 * "." or ".." segment, no leading '/', no '\\'); the query gives non-empty keys that, encoded
 * again, parse back the same; a host parses into a name and a port in 1..65535. */
#include "http/arena.h"
#include "http/internal.h"
#include "util/buf.h"
#include "util/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_assert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void encode(wp_buf *b, const char *s, int query)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~';
        int rc = plain ? wp_buf_addf(b, "%c", *p) : wp_buf_addf(b, "%%%02X", *p);
        FUZZ_ASSERT(rc == 0, "out of memory");
    }
    (void)query;
}

static void check_path(wp_arena *a, const char *path, size_t len)
{
    char *segs[WP_HTTP_MAX_SEGMENTS];
    size_t n = 0;
    int err = wp_http__split_path(a, path, len, segs, &n);
    if (err < 0) {
        FUZZ_ASSERT(err == WP_EINVAL || err == WP_ELIMIT, "split: error %d", err);
        return;
    }
    FUZZ_ASSERT(len && path[0] == '/', "'%s' split without a leading '/'", path);
    FUZZ_ASSERT(n >= 1 && n <= WP_HTTP_MAX_SEGMENTS, "%zu segments", n);
    size_t decoded = 0;
    wp_buf again;
    wp_buf_init(&again, 16 * len + 64);
    for (size_t i = 0; i < n; i++) {
        decoded += strlen(segs[i]);
        FUZZ_ASSERT(wp_buf_adds(&again, "/") == 0, "out of memory");
        encode(&again, segs[i], 0);
    }
    FUZZ_ASSERT(decoded + (n - 1) <= len, "%zu bytes decoded from %zu", decoded, len);
    char *segs2[WP_HTTP_MAX_SEGMENTS];
    size_t n2 = 0;
    err = wp_http__split_path(a, again.buf, again.len, segs2, &n2);
    FUZZ_ASSERT(err == 0 && n2 == n, "'%s' re-encoded does not split back: %d", path, err);
    for (size_t i = 0; i < n; i++)
        FUZZ_ASSERT(!strcmp(segs[i], segs2[i]), "segment %zu changed", i);
    wp_buf_release(&again);
}

static void check_file_name(const char *path)
{
    char rel[256];
    if (wp_http__rel_path(path, rel, sizeof rel) < 0)
        return;
    size_t n = strlen(rel);
    FUZZ_ASSERT(n < sizeof rel, "name of %zu bytes", n);
    FUZZ_ASSERT(rel[0] != '/' && (n == 0 || rel[n - 1] != '/'), "'%s' from '%s'", rel, path);
    FUZZ_ASSERT(!strchr(rel, '\\') && !strstr(rel, "//"), "'%s' from '%s'", rel, path);
    for (const char *seg = rel; *seg;) {
        FUZZ_ASSERT(seg[0] != '.', "a segment of '%s' starts with '.' (from '%s')", rel, path);
        const char *slash = strchr(seg, '/');
        seg = slash ? slash + 1 : seg + strlen(seg);
    }
}

static void check_query(wp_arena *a, const char *q)
{
    struct wp_http__qpair *p = NULL;
    size_t n = 0;
    int err = wp_http__parse_query(a, q, &p, &n);
    if (err < 0) {
        FUZZ_ASSERT(err == WP_EINVAL, "query: error %d", err);
        return;
    }
    FUZZ_ASSERT(n <= WP_HTTP__MAX_QUERY_PARAMS, "%zu pairs", n);
    wp_buf again;
    wp_buf_init(&again, 16 * strlen(q) + 64);
    FUZZ_ASSERT(wp_buf_adds(&again, "?") == 0, "out of memory");
    for (size_t i = 0; i < n; i++) {
        FUZZ_ASSERT(p[i].key && p[i].key[0] && p[i].value, "pair %zu", i);
        if (i)
            FUZZ_ASSERT(wp_buf_adds(&again, "&") == 0, "out of memory");
        encode(&again, p[i].key, 1);
        FUZZ_ASSERT(wp_buf_adds(&again, "=") == 0, "out of memory");
        encode(&again, p[i].value, 1);
    }
    struct wp_http__qpair *p2 = NULL;
    size_t n2 = 0;
    err = wp_http__parse_query(a, again.buf, &p2, &n2);
    FUZZ_ASSERT(err == 0 && n2 == n, "'%s' re-encoded as '%s' gives %d, %zu pairs", q, again.buf,
                err, n2);
    for (size_t i = 0; i < n; i++)
        FUZZ_ASSERT(!strcmp(p[i].key, p2[i].key) && !strcmp(p[i].value, p2[i].value),
                    "pair %zu changed", i);
    wp_buf_release(&again);
}

static void check_authority(const char *s, size_t n)
{
    const char *host = NULL;
    size_t hlen = 0;
    long port = 0;
    if (wp_http__parse_authority(s, n, &host, &hlen, &port) < 0)
        return;
    FUZZ_ASSERT(host == s && hlen >= 1 && hlen <= n, "host of %zu bytes in %zu", hlen, n);
    FUZZ_ASSERT(port == -1 || (port >= 1 && port <= 65535), "port %ld", port);
    FUZZ_ASSERT(port != -1 || hlen == n, "no port, yet %zu bytes after the host", n - hlen);
    for (size_t i = 0; i < hlen; i++)
        FUZZ_ASSERT(
            strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~[]:", s[i]) &&
                s[i],
            "byte 0x%02x in a host", (unsigned char)s[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* what libmicrohttpd hands over is a C string: the target ends at a NUL */
    char *s = malloc(size + 1);
    FUZZ_ASSERT(s != NULL, "out of memory");
    memcpy(s, data, size);
    s[size] = '\0';
    wp_arena *a = NULL;
    FUZZ_ASSERT(wp_arena_new(&a, 1u << 24) == 0, "out of memory");
    char *q = strchr(s, '?');
    size_t plen = q ? (size_t)(q - s) : strlen(s);
    check_path(a, s, plen);
    char *path = strndup(s, plen);
    FUZZ_ASSERT(path != NULL, "out of memory");
    check_file_name(path);
    free(path);
    if (q)
        check_query(a, q);
    check_authority((const char *)data, size);
    wp_arena_free(a);
    free(s);
    return 0;
}
