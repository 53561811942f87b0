/* SPDX-License-Identifier: MIT */
/* Building the matcher: the scanner's codepoint -> symbol table and the double-array
 * Aho-Corasick automaton over symbols (the scan loop itself is in scan.c). */
#include "scan/scan_int.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

/* ---- codepoint table ---- */

static uint32_t page_hash(const uint32_t *pg)
{
    uint32_t h = 2166136261u;
    for (unsigned i = 0; i < WP_FOLD_PAGE_SIZE; i++)
        h = (h ^ pg[i]) * 16777619u;
    return h;
}

int wp_scan__cptable_build(struct wp_scanner *s, const wp_symmap *symid, bool raw)
{
    /* Pages with equal content are stored once: open addressing on their hash. */
    enum { HSIZE = 8192 };
    uint32_t *hslot = malloc(HSIZE * sizeof *hslot);
    size_t cap = 64, np = 0;
    uint32_t *pages = malloc(cap * WP_FOLD_PAGE_SIZE * sizeof *pages);
    /* A page with no codepoint of a pattern depends only on its folding page (what it maps
     * to does not depend on where it is): built once per folding page, not 4352 times. */
    uint32_t *done = malloc(wp_scan__fold_npages * sizeof *done);
    uint32_t pg[WP_FOLD_PAGE_SIZE];
    int err = 0;
    if (!hslot || !pages || !done) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    memset(hslot, 0xFF, HSIZE * sizeof *hslot);
    memset(done, 0xFF, wp_scan__fold_npages * sizeof *done);
    for (uint32_t p = 0; p < WP_FOLD_NPAGES; p++) {
        uint32_t gi = wp_scan__fold_index[p];
        bool plain = symid->pagemap[p] == 0;
        if (plain && done[gi] != UINT32_MAX) {
            s->pagemap[p] = done[gi];
            continue;
        }
        const uint32_t *g = wp_scan__fold_pages[gi];
        for (uint32_t i = 0; i < WP_FOLD_PAGE_SIZE; i++) {
            uint32_t cp = (p << WP_FOLD_PAGE_SHIFT) | i, e = g[i];
            uint32_t cls = WP_FOLD_CLASS(e), sym;
            if (raw) {
                /* raw bytes: no folding, nothing is noise; the class still serves PII */
                sym = wp_symmap_get(symid, cp);
                if (WP_FOLD_KIND(e) == WP_FOLD_EXPAND)
                    cls = WP_FC_OTHER;
            } else {
                switch (WP_FOLD_KIND(e)) {
                case WP_FOLD_IDENT:
                    sym = wp_symmap_get(symid, cp);
                    break;
                case WP_FOLD_MAPPED:
                    sym = wp_symmap_get(symid, WP_FOLD_VALUE(e));
                    break;
                case WP_FOLD_EXPAND:
                    sym = WP_SYM_SPECIAL | WP_FOLD_VALUE(e);
                    break;
                default:
                    sym = WP_SYM_NOISE;
                }
            }
            pg[i] = (cls << 24) | sym;
        }
        uint32_t h = page_hash(pg), k = h & (HSIZE - 1);
        while (hslot[k] != UINT32_MAX &&
               memcmp(pages + (size_t)hslot[k] * WP_FOLD_PAGE_SIZE, pg, sizeof pg))
            k = (k + 1) & (HSIZE - 1);
        if (hslot[k] == UINT32_MAX) {
            if (np == cap) {
                uint32_t *t = realloc(pages, cap * 2 * WP_FOLD_PAGE_SIZE * sizeof *pages);
                if (!t) {
                    err = wp_error_set(WP_ENOMEM, "out of memory");
                    goto out;
                }
                pages = t;
                cap *= 2;
            }
            memcpy(pages + np * WP_FOLD_PAGE_SIZE, pg, sizeof pg);
            hslot[k] = (uint32_t)np++;
        }
        s->pagemap[p] = hslot[k] * WP_FOLD_PAGE_SIZE;
        if (plain)
            done[gi] = s->pagemap[p];
    }
    uint32_t *t = realloc(pages, np * WP_FOLD_PAGE_SIZE * sizeof *pages);
    s->pages = t ? t : pages;
    pages = NULL;
    s->npages = np;
    s->memory += np * WP_FOLD_PAGE_SIZE * sizeof *s->pages;
out:
    free(pages);
    free(hslot);
    free(done);
    return err;
}

/* ---- double-array Aho-Corasick ---- */

typedef struct qitem {
    uint32_t lo, hi; /* the patterns below this state: pats[lo..hi) */
    uint32_t depth;
    uint32_t state;
    uint32_t sym; /* the symbol that leads here from its parent */
} qitem;

typedef struct builder {
    struct wp_scanner *s;
    uint32_t size;  /* cells allocated */
    uint64_t *used; /* one bit per cell */
    uint32_t first_free;
    uint32_t wide_hint; /* where the last state with many children found room */
    uint32_t top;       /* highest cell used + 1 */
} builder;

static int grow(builder *b, uint32_t need)
{
    if (need <= b->size)
        return 0;
    if (need > WP_DA_BASE - 1)
        return wp_error_set(WP_ELIMIT, "lexicon too large for the automaton");
    uint32_t n = b->size ? b->size : 1024;
    while (n < need)
        n = n > WP_DA_BASE / 2 ? WP_DA_BASE - 1 : n * 2;
    struct wp_scanner *s = b->s;
    wp_da_cell *da = realloc(s->da, (size_t)n * sizeof *da);
    if (da)
        s->da = da;
    uint32_t *fail = da ? realloc(s->fail, (size_t)n * sizeof *fail) : NULL;
    if (fail)
        s->fail = fail;
    uint32_t *out = fail ? realloc(s->out, (size_t)n * sizeof *out) : NULL;
    if (out)
        s->out = out;
    uint32_t *dict = out ? realloc(s->dict, (size_t)n * sizeof *dict) : NULL;
    if (dict)
        s->dict = dict;
    uint64_t *used = dict ? realloc(b->used, ((size_t)n / 64 + 1) * sizeof *used) : NULL;
    if (!used)
        return wp_error_set(WP_ENOMEM, "out of memory");
    b->used = used;
    for (uint32_t i = b->size; i < n; i++) {
        s->da[i].base = 0;
        s->da[i].check = WP_DA_FREE;
        s->fail[i] = s->out[i] = s->dict[i] = 0;
    }
    memset(b->used + b->size / 64, 0, ((size_t)n / 64 + 1 - b->size / 64) * sizeof *used);
    b->size = n;
    return 0;
}

static inline bool is_used(const builder *b, uint32_t i)
{
    return i < b->size && ((b->used[i / 64] >> (i % 64)) & 1);
}

static inline void set_used(builder *b, uint32_t i)
{
    b->used[i / 64] |= 1ull << (i % 64);
    if (i + 1 > b->top)
        b->top = i + 1;
}

/* The first cell >= i not in use (possibly past the allocated size). */
static uint32_t next_free(const builder *b, uint32_t i)
{
    while (i < b->size) {
        uint64_t w = ~b->used[i / 64] >> (i % 64);
        if (w)
            return i + (uint32_t)__builtin_ctzll(w);
        i = (i / 64 + 1) * 64;
    }
    return i;
}

/* Find a base where every child symbol sym[0..n) (ascending) lands on a free cell. */
static uint32_t find_base(builder *b, const uint32_t *sym, size_t n)
{
    uint32_t start = b->first_free;
    if (n >= 8 && b->wide_hint > start)
        start = b->wide_hint;
    uint32_t base = start > sym[0] ? start - sym[0] : 0;
    for (;;) {
        uint32_t c = next_free(b, base + sym[0]);
        base = c - sym[0];
        size_t j = 1;
        while (j < n && !is_used(b, base + sym[j]))
            j++;
        if (j == n)
            break;
        base++;
    }
    if (n >= 8)
        b->wide_hint = base + sym[0];
    return base;
}

static inline uint32_t child_of(const struct wp_scanner *s, uint32_t st, uint32_t c)
{
    uint32_t t = (s->da[st].base & WP_DA_BASE) + c;
    return s->da[t].check == st ? t : UINT32_MAX;
}

int wp_scan__ac_build(struct wp_scanner *s, const wp_ac_pattern *pats, size_t n)
{
    builder b = {.s = s};
    qitem *q = NULL;
    size_t qhead = 0, qlen = 0, qcap = 0;
    uint32_t *syms = NULL, *glo = NULL;
    size_t cap_children = 0;
    int err;
    uint32_t nsym = s->nsym;

    if ((err = grow(&b, 1024 + nsym)) < 0)
        goto out;
    set_used(&b, WP_DA_ROOT);
    s->da[WP_DA_ROOT].check = WP_DA_FREE;
    s->da[WP_DA_ROOT].base = WP_DA_FAILROOT;
    b.first_free = 1;
    qcap = 1024;
    q = malloc(qcap * sizeof *q);
    if (!q) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    q[qlen++] = (qitem){0, (uint32_t)n, 0, WP_DA_ROOT, 0};
    s->root_info = calloc((size_t)nsym + 1, sizeof *s->root_info);
    if (!s->root_info) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    while (qhead < qlen) {
        qitem it = q[qhead++];
        uint32_t lo = it.lo, d = it.depth;
        if (lo < it.hi && pats[lo].len == d)
            lo++; /* the pattern ending here: recorded when this state was made */
        if (lo == it.hi)
            continue;
        /* children: runs of equal symbols at position d (pats are sorted) */
        size_t nc = 0;
        for (uint32_t i = lo; i < it.hi;) {
            uint32_t c = pats[i].sym[d], j = i + 1;
            while (j < it.hi && pats[j].sym[d] == c)
                j++;
            if (nc + 1 > cap_children) {
                size_t ncap = cap_children ? cap_children * 2 : 256;
                uint32_t *t1 = realloc(syms, ncap * sizeof *t1);
                if (t1)
                    syms = t1;
                uint32_t *t2 = t1 ? realloc(glo, (ncap + 1) * sizeof *t2) : NULL;
                if (!t2) {
                    err = wp_error_set(WP_ENOMEM, "out of memory");
                    goto out;
                }
                glo = t2;
                cap_children = ncap;
            }
            syms[nc] = c;
            glo[nc++] = i;
            i = j;
        }
        glo[nc] = it.hi;
        if (d == 1) {
            uint64_t filt = 0;
            for (size_t k = 0; k < nc; k++)
                filt |= 1ull << (syms[k] & 63);
            s->root_info[it.sym].filt = filt;
        }
        uint32_t base = find_base(&b, syms, nc);
        if ((err = grow(&b, base + syms[nc - 1] + nsym + 2)) < 0)
            goto out;
        s->da[it.state].base = (s->da[it.state].base & ~WP_DA_BASE) | base;
        for (size_t k = 0; k < nc; k++) {
            uint32_t t = base + syms[k];
            set_used(&b, t);
            s->da[t].check = it.state;
        }
        if (b.first_free == base + syms[0] || is_used(&b, b.first_free))
            b.first_free = next_free(&b, b.first_free);
        for (size_t k = 0; k < nc; k++) {
            uint32_t t = base + syms[k], c = syms[k];
            if (pats[glo[k]].len == d + 1)
                s->out[t] = pats[glo[k]].entry + 1;
            uint32_t f = WP_DA_ROOT;
            if (it.state != WP_DA_ROOT) {
                for (uint32_t g = s->fail[it.state];; g = s->fail[g]) {
                    uint32_t u = child_of(s, g, c);
                    if (u != UINT32_MAX) {
                        f = u;
                        break;
                    }
                    if (g == WP_DA_ROOT)
                        break;
                }
            }
            s->fail[t] = f;
            s->dict[t] = s->out[f] ? f : s->dict[f];
            if (s->out[t] || s->dict[t])
                s->da[t].base |= WP_DA_OUT;
            if (f == WP_DA_ROOT)
                s->da[t].base |= WP_DA_FAILROOT;
            if (qlen == qcap) {
                qitem *nq;
                if (qhead > qcap / 2) {
                    memmove(q, q + qhead, (qlen - qhead) * sizeof *q);
                    qlen -= qhead;
                    qhead = 0;
                } else if ((nq = realloc(q, qcap * 2 * sizeof *q)) != NULL) {
                    q = nq;
                    qcap *= 2;
                } else {
                    err = wp_error_set(WP_ENOMEM, "out of memory");
                    goto out;
                }
            }
            q[qlen++] = (qitem){glo[k], glo[k + 1], d + 1, t, c};
        }
    }
    /* Any base + symbol of a reachable state must stay inside the array. */
    uint32_t size = b.top + nsym + 1;
    if ((err = grow(&b, size)) < 0)
        goto out;
    wp_da_cell *da = realloc(s->da, (size_t)size * sizeof *da);
    if (da)
        s->da = da;
    uint32_t *t;
    if ((t = realloc(s->fail, (size_t)size * sizeof *t)))
        s->fail = t;
    if ((t = realloc(s->out, (size_t)size * sizeof *t)))
        s->out = t;
    if ((t = realloc(s->dict, (size_t)size * sizeof *t)))
        s->dict = t;
    s->da_size = size;
    for (uint32_t c = 1; c <= nsym; c++) {
        uint32_t u = child_of(s, WP_DA_ROOT, c);
        if (u != UINT32_MAX)
            s->root_info[c].state = (s->da[u].base & WP_DA_OUT) | u;
    }
    s->memory += (size_t)size * (sizeof *s->da + 3 * sizeof(uint32_t)) +
                 ((size_t)nsym + 1) * sizeof *s->root_info;
out:
    free(b.used);
    free(q);
    free(syms);
    free(glo);
    return err;
}
