/* SPDX-License-Identifier: MIT */
/* JSON string escaping, and jansson's writer into a wp_buf. */
#include "util/json.h"
#include "util/utf8.h"
#include "util/error.h"

#include <jansson.h>
#include <stdint.h>
#include <string.h>

int wp_json_str(wp_buf *b, const char *s, size_t len)
{
    static const char hexd[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    int err = wp_buf_addc(b, '"');
    size_t i = 0;
    while (!err && i < len) {
        size_t run = i;
        /* copy plain printable ASCII in one go */
        while (run < len && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\')
            run++;
        if (run > i) {
            err = wp_buf_add(b, p + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            err = wp_buf_add(b, esc, 2);
            i++;
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hexd[c >> 4], hexd[c & 15]};
            if (c == '\n')
                err = wp_buf_add(b, "\\n", 2);
            else if (c == '\t')
                err = wp_buf_add(b, "\\t", 2);
            else if (c == '\r')
                err = wp_buf_add(b, "\\r", 2);
            else
                err = wp_buf_add(b, esc, 6);
            i++;
        } else {
            size_t n = wp_utf8_seq(p + i, len - i);
            if (n) {
                err = wp_buf_add(b, p + i, n);
                i += n;
            } else {
                err = wp_buf_add(b, "\xEF\xBF\xBD", 3);
                i++;
            }
        }
    }
    return err ? err : wp_buf_addc(b, '"');
}

struct dump_to {
    wp_buf b;
    int err;
};

/* jansson's writer: appends, and remembers a failure it may not be told about again */
static int dump_to_buf(const char *text, size_t n, void *data)
{
    struct dump_to *d = data;
    if (!d->err)
        d->err = wp_buf_add(&d->b, text, n);
    return d->err < 0 ? -1 : 0;
}

char *wp_json_dumps(const json_t *v, size_t flags)
{
    struct dump_to d = {.err = 0};
    wp_buf_init(&d.b, SIZE_MAX / 2);
    if (json_dump_callback(v, dump_to_buf, &d, flags) < 0 || d.err < 0 || !d.b.alloc) {
        wp_buf_release(&d.b);
        wp_error_set(WP_ENOMEM, "out of memory");
        return NULL;
    }
    return wp_buf_detach(&d.b, NULL);
}

static _Thread_local int parsing;

int wp_json_parsing(void)
{
    return parsing;
}

json_t *wp_json_loadb(const char *text, size_t len, size_t flags, json_error_t *err)
{
    parsing++;
    json_t *v = json_loadb(text, len, flags, err);
    parsing--;
    return v;
}

json_t *wp_json_loads(const char *text, size_t flags, json_error_t *err)
{
    return wp_json_loadb(text, strlen(text), flags, err);
}
