/* SPDX-License-Identifier: MIT */
/* Search grams (unigrams and bigrams of folded characters) and the folded substring test. */
#include "store/grams.h"
#include "util/error.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

typedef struct gram {
    unsigned char len;
    char b[8]; /* two folded characters of at most 4 bytes each */
} gram;

typedef struct cpx {
    int32_t cp;    /* folded code point; -1 - byte for an invalid byte */
    size_t at, to; /* its bytes in the original text */
} cpx;

/* Next character of s at *i: its folded code point, or -1 - byte for an invalid byte. */
static int32_t next_cp(const char *s, size_t len, size_t *i)
{
    utf8proc_int32_t cp;
    utf8proc_ssize_t n =
        utf8proc_iterate((const utf8proc_uint8_t *)s + *i, (utf8proc_ssize_t)(len - *i), &cp);
    if (n <= 0 || cp < 0) {
        int32_t bad = -1 - (int32_t)(unsigned char)s[*i];
        (*i)++;
        return bad;
    }
    *i += (size_t)n;
    return utf8proc_tolower(cp);
}

/* Letters, digits and combining marks make words; the rest (spaces, punctuation, symbols,
 * emoji, controls, invalid bytes) separates them. */
static int is_word(int32_t cp)
{
    if (cp < 0)
        return 0;
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return 1;
    default:
        return 0;
    }
}

static int gram_cmp(const void *a, const void *b)
{
    const gram *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->b, y->b, n);
    return c ? c : (int)x->len - (int)y->len;
}

struct grams {
    gram *v;
    size_t n, cap;
};

static int push(struct grams *g, int32_t a, int32_t b)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        gram *v = realloc(g->v, cap * sizeof *v);
        if (!v)
            return wp_error_set(WP_ENOMEM, "out of memory");
        g->v = v;
        g->cap = cap;
    }
    gram *x = &g->v[g->n++];
    utf8proc_ssize_t n = utf8proc_encode_char(a, (utf8proc_uint8_t *)x->b);
    if (b >= 0)
        n += utf8proc_encode_char(b, (utf8proc_uint8_t *)x->b + n);
    x->len = (unsigned char)n;
    return 0;
}

/* Grams of one run of word characters. */
static int run_grams(struct grams *g, const int32_t *run, size_t n, int query)
{
    int err = 0;
    if (!query || n == 1)
        for (size_t i = 0; i < n && err == 0; i++)
            err = push(g, run[i], -1);
    for (size_t i = 0; i + 1 < n && err == 0; i++)
        err = push(g, run[i], run[i + 1]);
    return err;
}

/* A keyed gram: the first 8 bytes of BLAKE2b keyed with the tenant's gram key, in base32
 * (RFC 4648's alphabet in lower case, no padding: 13 letters and digits). */
static void keyed(gram *x, char out[WP_GRAM_KEYED_LEN + 1], const unsigned char *key)
{
    static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned char h[8];
    crypto_generichash(h, sizeof h, (const unsigned char *)x->b, x->len, key, WP_GRAM_KEY_LEN);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | h[i];
    /* 64 bits: 12 groups of 5 and the last 4 bits */
    for (int i = 0; i < WP_GRAM_KEYED_LEN - 1; i++)
        out[i] = b32[(v >> (59 - 5 * i)) & 31];
    out[WP_GRAM_KEYED_LEN - 1] = b32[(v & 15) << 1];
    out[WP_GRAM_KEYED_LEN] = '\0';
}

static int render(wp_buf *out, const struct grams *g, enum wp_grams_form form,
                  const unsigned char *key)
{
    int err = 0;
    if (form == WP_GRAMS_PG_ARRAY)
        err = wp_buf_addc(out, '{');
    for (size_t i = 0; i < g->n && err == 0; i++) {
        const gram *x = &g->v[i];
        if (i > 0)
            err = wp_buf_addc(out, form == WP_GRAMS_PG_ARRAY ? ',' : ' ');
        /* grams never hold a quote or a backslash: ASCII punctuation separates runs */
        if (err == 0 && form != WP_GRAMS_SPACED)
            err = wp_buf_addc(out, '"');
        if (err == 0 && key) {
            char k[WP_GRAM_KEYED_LEN + 1];
            keyed((gram *)x, k, key);
            err = wp_buf_add(out, k, WP_GRAM_KEYED_LEN);
        } else if (err == 0)
            err = wp_buf_add(out, x->b, x->len);
        if (err == 0 && form != WP_GRAMS_SPACED)
            err = wp_buf_addc(out, '"');
    }
    if (err == 0 && form == WP_GRAMS_PG_ARRAY)
        err = wp_buf_addc(out, '}');
    return err;
}

int wp_grams__make(wp_buf *out, size_t *n, const char *text, size_t len, int query,
                   enum wp_grams_form form)
{
    return wp_grams__make_keyed(out, n, text, len, query, form, NULL);
}

int wp_grams__make_keyed(wp_buf *out, size_t *n, const char *text, size_t len, int query,
                         enum wp_grams_form form, const unsigned char *key)
{
    struct grams g = {NULL, 0, 0};
    int32_t *run = NULL;
    size_t nrun = 0, i = 0;
    int err = 0;

    if (len && !(run = malloc(len * sizeof *run)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    while (i < len && err == 0) {
        int32_t cp = next_cp(text, len, &i);
        if (is_word(cp)) {
            run[nrun++] = cp;
            continue;
        }
        if (nrun)
            err = run_grams(&g, run, nrun, query);
        nrun = 0;
    }
    if (err == 0 && nrun)
        err = run_grams(&g, run, nrun, query);
    if (err == 0 && g.n) {
        qsort(g.v, g.n, sizeof *g.v, gram_cmp);
        size_t w = 1;
        for (size_t r = 1; r < g.n; r++)
            if (gram_cmp(&g.v[r], &g.v[w - 1]) != 0)
                g.v[w++] = g.v[r];
        g.n = w;
    }
    if (err == 0)
        err = render(out, &g, form, key);
    if (err == 0 && n)
        *n = g.n;
    free(run);
    free(g.v);
    return err;
}

static int fold_all(cpx **out, size_t *n, const char *s, size_t len)
{
    cpx *v = NULL;
    size_t k = 0, i = 0;
    if (len && !(v = malloc(len * sizeof *v)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    while (i < len) {
        size_t at = i;
        int32_t cp = next_cp(s, len, &i);
        v[k].cp = cp;
        v[k].at = at;
        v[k].to = i;
        k++;
    }
    *out = v;
    *n = k;
    return 0;
}

int wp_grams__find(size_t (**out)[2], size_t *n, const char *text, size_t len, const char *q,
                   size_t qlen)
{
    cpx *t = NULL, *p = NULL;
    size_t nt = 0, np = 0, found = 0, cap = 0;
    size_t(*hits)[2] = NULL;
    int err;

    *out = NULL;
    *n = 0;
    if ((err = fold_all(&t, &nt, text, len)) < 0 || (err = fold_all(&p, &np, q, qlen)) < 0)
        goto out;
    if (np == 0)
        goto out;
    for (size_t i = 0; i + np <= nt;) {
        size_t j = 0;
        while (j < np && t[i + j].cp == p[j].cp)
            j++;
        if (j < np) {
            i++;
            continue;
        }
        if (found == cap) {
            size_t c = cap ? cap * 2 : 4;
            size_t(*h)[2] = realloc(hits, c * sizeof *h);
            if (!h) {
                err = wp_error_set(WP_ENOMEM, "out of memory");
                goto out;
            }
            hits = h;
            cap = c;
        }
        hits[found][0] = t[i].at;
        hits[found][1] = t[i + np - 1].to;
        found++;
        i += np;
    }
    *out = hits;
    *n = found;
    hits = NULL;
out:
    free(hits);
    free(t);
    free(p);
    return err;
}
