/* SPDX-License-Identifier: MIT */
/* logfmt lines: escaping, the line cap, one write() per line. */
#include "util/log.h"
#include "util/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char quiet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                            "/_.~:%@!$&'()*+,;=-{}[]";

/* A field being made on the stack, appended to the line whole or not at all. */
struct field {
    char s[WP_LOG_LINE_MAX];
    size_t n;
    int full;
};

static void put(struct field *f, const char *s, size_t n)
{
    if (f->full || n > sizeof f->s - f->n) {
        f->full = 1;
        return;
    }
    memcpy(f->s + f->n, s, n);
    f->n += n;
}

/* The line's limit keeps a byte for the LF; a field that would not fit is left out. */
static void add_field(wp_buf *b, const struct field *f)
{
    if (!f->full && wp_buf_add(b, f->s, f->n) < 0)
        return;
}

void wp_log_start(wp_buf *b, const char *level, const char *event)
{
    char ts[40];
    wp_buf_init(b, WP_LOG_LINE_MAX - 1);
    wp_time_format(ts, wp_time_real_us(), 0);
    if (wp_buf_addf(b, "ts=%s level=%s event=%s", ts, level, event) < 0)
        return; /* only a level or event longer than a line: the line stays empty */
}

void wp_log_addn(wp_buf *b, const char *key, const char *value, size_t max)
{
    struct field f; /* not zeroed: 4 KiB, and only f.s[0..f.n) is ever read */
    size_t n = strlen(value);
    int cut = n > max;
    if (cut)
        n = max;
    f.n = 0;
    f.full = 0;
    put(&f, " ", 1);
    put(&f, key, strlen(key));
    put(&f, "=", 1);
    if (n && !cut && strspn(value, quiet) >= n) {
        put(&f, value, n);
    } else {
        put(&f, "\"", 1);
        for (size_t i = 0; i < n && !f.full; i++) {
            unsigned char c = (unsigned char)value[i];
            char esc[5];
            if (c == '"' || c == '\\') {
                esc[0] = '\\';
                esc[1] = (char)c;
                put(&f, esc, 2);
            } else if (c < 0x20 || c >= 0x7f) {
                snprintf(esc, sizeof esc, "\\x%02x", c);
                put(&f, esc, 4);
            } else {
                put(&f, (const char *)&c, 1);
            }
        }
        if (cut)
            put(&f, "...", 3);
        put(&f, "\"", 1);
    }
    add_field(b, &f);
}

void wp_log_add(wp_buf *b, const char *key, const char *value)
{
    wp_log_addn(b, key, value, WP_LOG_LINE_MAX);
}

void wp_log_addf(wp_buf *b, const char *key, const char *fmt, ...)
{
    char v[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    wp_log_add(b, key, v);
}

void wp_log_add_fields(wp_buf *b, const char *fields)
{
    struct field f;
    size_t n = strlen(fields);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)fields[i] < 0x20)
            return;
    f.n = 0;
    f.full = 0;
    if (n && fields[0] != ' ')
        put(&f, " ", 1);
    put(&f, fields, n);
    add_field(b, &f);
}

void wp_log_end(wp_buf *b, int fd)
{
    b->limit = WP_LOG_LINE_MAX; /* the byte kept for the LF */
    if (fd >= 0 && b->len && wp_buf_addc(b, '\n') == 0) {
        /* one write per line, so that lines from different threads do not interleave; a line
         * that cannot be written is lost, never retried in pieces */
        if (write(fd, b->buf, b->len) < 0)
            b->len = 0;
    }
    wp_buf_release(b);
}

void wp_log_line(int fd, const char *level, const char *event, ...)
{
    wp_buf b;
    va_list ap;
    if (fd < 0)
        return;
    wp_log_start(&b, level, event);
    va_start(ap, event);
    for (const char *k; (k = va_arg(ap, const char *));) {
        const char *v = va_arg(ap, const char *);
        wp_log_add(&b, k, v ? v : "");
    }
    va_end(ap);
    wp_log_end(&b, fd);
}
