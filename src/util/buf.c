/* SPDX-License-Identifier: MIT */
/* Capped growable buffer. */
#include "util/buf.h"
#include "util/error.h"
#include "util/testhooks.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char empty[1];

void wp_buf_init(wp_buf *b, size_t limit)
{
    b->buf = empty;
    b->len = 0;
    b->alloc = 0;
    b->limit = limit;
}

void wp_buf_release(wp_buf *b)
{
    if (b->alloc)
        free(b->buf);
    wp_buf_init(b, b->limit);
}

void wp_buf_reset(wp_buf *b)
{
    b->len = 0;
    b->buf[0] = '\0';
}

static int grow(wp_buf *b, size_t extra)
{
    if (extra > b->limit || b->len > b->limit - extra)
        return wp_error_set(WP_ELIMIT, "buffer limit of %zu bytes reached", b->limit);
    size_t need = b->len + extra + 1;
    if (need <= b->alloc)
        return 0;
    size_t n = b->alloc ? b->alloc : 64;
    while (n < need)
        n = n / 2 > SIZE_MAX / 3 ? need : n + n / 2;
    char *p = wp_test_hooks_alloc_fails() ? NULL : b->alloc ? realloc(b->buf, n) : malloc(n);
    if (!p)
        return wp_error_set(WP_ENOMEM, "out of memory");
    if (!b->alloc)
        p[0] = '\0';
    b->buf = p;
    b->alloc = n;
    return 0;
}

int wp_buf_add(wp_buf *b, const void *data, size_t len)
{
    int err = grow(b, len);
    if (err < 0)
        return err;
    if (len)
        memcpy(b->buf + b->len, data, len);
    b->len += len;
    b->buf[b->len] = '\0';
    return 0;
}

int wp_buf_adds(wp_buf *b, const char *s)
{
    return wp_buf_add(b, s, strlen(s));
}

int wp_buf_addc(wp_buf *b, char c)
{
    return wp_buf_add(b, &c, 1);
}

int wp_buf_addf(wp_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return wp_error_set(WP_EINVAL, "bad format");
    int err = grow(b, (size_t)n);
    if (err < 0)
        return err;
    va_start(ap, fmt);
    vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *wp_buf_detach(wp_buf *b, size_t *len)
{
    char *s = b->alloc ? b->buf : strdup("");
    if (len)
        *len = b->len;
    wp_buf_init(b, b->limit);
    return s;
}
