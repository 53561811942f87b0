/* SPDX-License-Identifier: MIT */
/* Normalization: text to its folded, noise-free form through the generated table
 * (fold_table.c), materialized only where a string is needed (regexes, callers). */
#include "scan/scan_int.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

void wp_scan__norm_release(wp_scan_norm *n)
{
    free(n->text);
    free(n->map_start);
    free(n->map_end);
    memset(n, 0, sizeof *n);
}

static int norm_reserve(wp_scan_norm *n, size_t need)
{
    if (need <= n->cap)
        return 0;
    size_t cap = n->cap ? n->cap : 256;
    while (cap < need)
        cap *= 2;
    char *t = realloc(n->text, cap + 1);
    if (t)
        n->text = t;
    uint32_t *a = t ? realloc(n->map_start, (cap + 1) * sizeof *a) : NULL;
    if (a)
        n->map_start = a;
    uint32_t *b = a ? realloc(n->map_end, (cap + 1) * sizeof *b) : NULL;
    if (!b)
        return wp_error_set(WP_ENOMEM, "out of memory");
    n->map_end = b;
    n->cap = cap;
    return 0;
}

int wp_scan__normalize_mapped(wp_scan_norm *n, const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *)text;
    int err = norm_reserve(n, len + 64);
    if (err < 0)
        return err;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp, f[WP_FOLD_MAX_EXPAND];
        /* one character folds to at most WP_FOLD_MAX_EXPAND codepoints of 4 bytes */
        if (n->cap - o < 4 * WP_FOLD_MAX_EXPAND && (err = norm_reserve(n, n->cap * 2)) < 0)
            return err;
        size_t k = wp_utf8_decode(p + i, len - i, &cp);
        if (k == 0) {
            i++;
            continue;
        }
        unsigned nf = wp_fold_cp(cp, f);
        for (unsigned j = 0; j < nf; j++) {
            n->map_start[o] = (uint32_t)i;
            o += wp_utf8_encode(f[j], n->text + o);
            n->map_end[o] = (uint32_t)(i + k);
        }
        i += k;
    }
    n->text[o] = '\0';
    n->len = o;
    return 0;
}

int wp_scan_normalize(wp_buf *out, const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        uint32_t cp, f[WP_FOLD_MAX_EXPAND];
        size_t k = wp_utf8_decode(p + i, len - i, &cp);
        if (k == 0) {
            i++;
            continue;
        }
        unsigned nf = wp_fold_cp(cp, f);
        for (unsigned j = 0; j < nf; j++) {
            char u[4];
            int err = wp_buf_add(out, u, wp_utf8_encode(f[j], u));
            if (err < 0)
                return err;
        }
        i += k;
    }
    return 0;
}
