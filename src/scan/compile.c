/* SPDX-License-Identifier: MIT */
/* Compiling a lexicon into a scanner: folding literals into symbols, duplicates, regexes,
 * the string pool, then the tables of match.c. */
#include "scan/scan_int.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

typedef struct strpool {
    char *buf;
    size_t len, cap;
    uint32_t *hash; /* interned categories: offset + 1, 0 empty */
    size_t hcap, hn;
} strpool;

static int pool_add(strpool *p, const char *s, size_t n, uint32_t *off)
{
    if (p->len + n + 1 > p->cap) {
        size_t cap = p->cap ? p->cap : 4096;
        while (cap < p->len + n + 1)
            cap *= 2;
        char *b = realloc(p->buf, cap);
        if (!b)
            return wp_error_set(WP_ENOMEM, "out of memory");
        p->buf = b;
        p->cap = cap;
    }
    memcpy(p->buf + p->len, s, n);
    p->buf[p->len + n] = '\0';
    *off = (uint32_t)p->len;
    p->len += n + 1;
    return 0;
}

static uint32_t str_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* Categories repeat on most lines: store each once. */
static int pool_intern(strpool *p, const char *s, size_t n, uint32_t *off)
{
    if (p->hn * 2 >= p->hcap) {
        size_t ncap = p->hcap ? p->hcap * 2 : 64;
        uint32_t *nh = calloc(ncap, sizeof *nh);
        if (!nh)
            return wp_error_set(WP_ENOMEM, "out of memory");
        for (size_t i = 0; i < p->hcap; i++) {
            if (!p->hash[i])
                continue;
            const char *e = p->buf + p->hash[i] - 1;
            size_t k = str_hash(e, strlen(e)) & (ncap - 1);
            while (nh[k])
                k = (k + 1) & (ncap - 1);
            nh[k] = p->hash[i];
        }
        free(p->hash);
        p->hash = nh;
        p->hcap = ncap;
    }
    size_t k = str_hash(s, n) & (p->hcap - 1);
    while (p->hash[k]) {
        const char *e = p->buf + p->hash[k] - 1;
        if (!strncmp(e, s, n) && e[n] == '\0') {
            *off = p->hash[k] - 1;
            return 0;
        }
        k = (k + 1) & (p->hcap - 1);
    }
    int err = pool_add(p, s, n, off);
    if (err < 0)
        return err;
    p->hash[k] = *off + 1;
    p->hn++;
    return 0;
}

/* The symbols (folded codepoints, or raw ones) of a literal, noise dropped. */
static size_t fold_literal(const char *s, size_t n, bool raw, uint32_t *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = wp_utf8_decode(p + i, n - i, &cp);
        if (k == 0)
            return 0; /* the parser let no invalid UTF-8 through */
        i += k;
        if (raw)
            out[o++] = cp;
        else
            o += wp_fold_cp(cp, out + o);
    }
    return o;
}

/* A regex is matched on normalized text: its non-ASCII characters are folded the same
 * way where they fold to one letter or digit, so "re:返[0-9]個點" works (not after a
 * backslash, where folding could turn a literal into a class). off_map[i] is where byte i
 * of the result came from, to report compile errors at offsets of the pattern as written.
 * raw: copied as is. */
static int prepare_regex(const char *s, size_t n, bool raw, char **out, size_t *olen,
                         size_t **off_map)
{
    char *b = malloc(n * 4 + 1);
    size_t *m = malloc((n * 4 + 1) * sizeof *m);
    if (!b || !m) {
        free(b);
        free(m);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    bool escaped = false;
    for (size_t i = 0; i < n;) {
        uint32_t cp, f[WP_FOLD_MAX_EXPAND];
        size_t k = wp_utf8_decode(p + i, n - i, &cp);
        if (k == 0)
            k = 1, cp = p[i];
        uint32_t use = cp;
        if (!raw && !escaped && cp >= 0x80 && wp_fold_cp(cp, f) == 1 &&
            (f[0] >= 0x80 || (f[0] | 0x20) - 'a' < 26 || f[0] - '0' < 10))
            use = f[0];
        size_t w = k;
        if (use == cp)
            memcpy(b + o, s + i, k);
        else
            w = wp_utf8_encode(use, b + o);
        for (size_t j = 0; j < w; j++)
            m[o + j] = i;
        escaped = cp == '\\' && !escaped;
        o += w;
        i += k;
    }
    m[o] = n;
    b[o] = '\0';
    *out = b;
    *olen = o;
    *off_map = m;
    return 0;
}

/* Compile one regex; with req, also find the literals its matches need (prefilter.c). */
static int compile_regex(pcre2_code **out, const wp_lex_line *l, bool raw, const char *src,
                         wp_rx_req *req)
{
    char *pat = NULL;
    size_t plen = 0, *map = NULL;
    int err, ecode;
    PCRE2_SIZE eoff;
    /* normalized text is lower case: a regex written with capitals must still match it */
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | (raw ? PCRE2_MATCH_INVALID_UTF : PCRE2_CASELESS);
    if ((err = prepare_regex(l->body, l->body_len, raw, &pat, &plen, &map)) < 0)
        return err;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pat, plen, opts, &ecode, &eoff, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(ecode, msg, sizeof msg) < 0)
            msg[0] = '\0';
        size_t at = eoff <= plen ? map[eoff] : l->body_len;
        err = wp_error_set(WP_EINVAL, "%s:%u: bad regex: %s at offset %zu", src, l->line,
                           (const char *)msg, at);
        goto out;
    }
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* the interpreter stays as fallback */
    *out = code;
    if (req)
        err = wp_scan__regex_requirement(pat, plen, raw, req);
out:
    free(pat);
    free(map);
    return err;
}

typedef struct compiling {
    wp_lex_line *lines;
    size_t nlines;
    /* literal and allow lines, then the hidden literals of regexes; .entry is the line
     * index first (nlines + k for hidden literal k, needed by regex line hid_line[k]) */
    wp_ac_pattern *pats;
    size_t npats, patcap;
    uint32_t *hid_line;
    size_t nhid;
    uint32_t *cps; /* the symbols of all of them */
    size_t ncps, cpcap;
    pcre2_code **codes; /* per line, regexes only */
    wp_rx_req *reqs;    /* per line, regexes only */
    wp_symmap *sym;     /* symbol id of each codepoint */
    uint32_t *line_entry;
    uint32_t *re_of_line; /* index in s->re of a regex line kept */
    uint32_t *ptrig;      /* per kept pattern: offset of its regexes in tpool, or 0 */
    uint32_t *tpool;
    size_t ntpool, tpcap;
    bool *dropped;
    strpool pool;
} compiling;

static int cmp_pat(const void *a, const void *b)
{
    const wp_ac_pattern *x = a, *y = b;
    uint32_t n = x->len < y->len ? x->len : y->len;
    for (uint32_t i = 0; i < n; i++)
        if (x->sym[i] != y->sym[i])
            return x->sym[i] < y->sym[i] ? -1 : 1;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->entry < y->entry ? -1 : x->entry > y->entry;
}

static int cmp_regex_line(const void *a, const void *b)
{
    const wp_lex_line *x = *(const wp_lex_line *const *)a, *y = *(const wp_lex_line *const *)b;
    size_t n = x->body_len < y->body_len ? x->body_len : y->body_len;
    int c = memcmp(x->body, y->body, n);
    if (c)
        return c;
    if (x->body_len != y->body_len)
        return x->body_len < y->body_len ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

static int cmp_freq(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return *x > *y ? -1 : *x < *y;
}

/* The slot of cp in m, its page made (zeroed) if it had none. */
static int symmap_slot(wp_symmap *m, uint32_t cp, uint32_t **slot)
{
    uint32_t pg = cp >> WP_FOLD_PAGE_SHIFT;
    if (!m->pagemap[pg]) {
        if (m->npages == m->cap) {
            uint32_t *t = realloc(m->pages, m->cap * 2 * WP_FOLD_PAGE_SIZE * sizeof *t);
            if (!t)
                return wp_error_set(WP_ENOMEM, "out of memory");
            m->pages = t;
            m->cap *= 2;
        }
        memset(m->pages + m->npages * WP_FOLD_PAGE_SIZE, 0, WP_FOLD_PAGE_SIZE * sizeof *m->pages);
        m->pagemap[pg] = (uint32_t)(m->npages++ * WP_FOLD_PAGE_SIZE);
    }
    *slot = m->pages + m->pagemap[pg] + (cp & (WP_FOLD_PAGE_SIZE - 1));
    return 0;
}

/* Give the codepoints used by literals dense symbol ids, the most frequent first. The map
 * is paged, so it costs a few pages, not a slot for each of the 0x110000 codepoints. */
static int assign_symbols(compiling *c, struct wp_scanner *s)
{
    wp_symmap *m = c->sym = calloc(1, sizeof *c->sym);
    if (!m)
        return wp_error_set(WP_ENOMEM, "out of memory");
    m->cap = 16;
    m->npages = 1; /* page 0: all zeros, for the codepoints of no pattern */
    m->pages = calloc(m->cap * WP_FOLD_PAGE_SIZE, sizeof *m->pages);
    if (!m->pages)
        return wp_error_set(WP_ENOMEM, "out of memory");
    size_t distinct = 0;
    int err;
    uint32_t *slot = NULL;
    for (size_t i = 0; i < c->ncps; i++) {
        if ((err = symmap_slot(m, c->cps[i], &slot)) < 0)
            return err;
        if ((*slot)++ == 0)
            distinct++;
    }
    uint64_t *f = malloc((distinct + 1) * sizeof *f);
    if (!f)
        return wp_error_set(WP_ENOMEM, "out of memory");
    size_t k = 0;
    for (uint32_t pg = 0; pg < WP_FOLD_NPAGES; pg++) {
        if (!m->pagemap[pg])
            continue;
        const uint32_t *page = m->pages + m->pagemap[pg];
        for (uint32_t j = 0; j < WP_FOLD_PAGE_SIZE; j++)
            if (page[j])
                f[k++] = ((uint64_t)page[j] << 21) | (pg << WP_FOLD_PAGE_SHIFT) | j;
    }
    qsort(f, k, sizeof *f, cmp_freq);
    for (size_t i = 0; i < k; i++)
        m->pages[m->pagemap[(f[i] & 0x1FFFFF) >> WP_FOLD_PAGE_SHIFT] +
                 (f[i] & (WP_FOLD_PAGE_SIZE - 1))] = (uint32_t)(i + 1);
    free(f);
    for (size_t i = 0; i < c->ncps; i++)
        c->cps[i] = wp_symmap_get(m, c->cps[i]);
    s->nsym = (uint32_t)k;
    return 0;
}

static int add_cps(compiling *c, const uint32_t *cps, size_t n)
{
    if (c->ncps + n > c->cpcap) {
        size_t cap = c->cpcap ? c->cpcap : 4096;
        while (cap < c->ncps + n)
            cap *= 2;
        uint32_t *t = realloc(c->cps, cap * sizeof *t);
        if (!t)
            return wp_error_set(WP_ENOMEM, "out of memory");
        c->cps = t;
        c->cpcap = cap;
    }
    memcpy(c->cps + c->ncps, cps, n * sizeof *cps);
    c->ncps += n;
    return 0;
}

void wp_scan__scanner_free(struct wp_scanner *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nre; i++)
        pcre2_code_free(s->re[i].code);
    free(s->re);
    free(s->trig);
    free(s->trig_pool);
    free(s->re_always);
    free(s->pages);
    free(s->da);
    free(s->fail);
    free(s->out);
    free(s->dict);
    free(s->root_info);
    free(s->entries);
    free(s->strings);
    free(s);
}

static int add_pat(compiling *c, size_t len, uint32_t entry)
{
    if (c->npats == c->patcap) {
        size_t cap = c->patcap ? c->patcap * 2 : 64;
        wp_ac_pattern *t = realloc(c->pats, cap * sizeof *t);
        if (!t)
            return wp_error_set(WP_ENOMEM, "out of memory");
        c->pats = t;
        c->patcap = cap;
    }
    wp_ac_pattern *p = &c->pats[c->npats++];
    p->sym = (const uint32_t *)(uintptr_t)c->ncps; /* an offset until cps stops moving */
    p->len = (uint32_t)len;
    p->entry = entry;
    return 0;
}

static int tpool_add(compiling *c, uint32_t v)
{
    if (c->ntpool == c->tpcap) {
        size_t cap = c->tpcap ? c->tpcap * 2 : 256;
        uint32_t *t = realloc(c->tpool, cap * sizeof *t);
        if (!t)
            return wp_error_set(WP_ENOMEM, "out of memory");
        c->tpool = t;
        c->tpcap = cap;
    }
    c->tpool[c->ntpool++] = v;
    return 0;
}

/* The hidden literals of the regexes kept (after their duplicates are dropped). */
static int add_hidden(compiling *c)
{
    int err;
    for (size_t i = 0; i < c->nlines; i++) {
        const wp_rx_req *q = &c->reqs[i];
        if (c->lines[i].kind != WP_ENTRY_REGEX || c->dropped[i] || q->n == 0)
            continue;
        for (size_t k = 0; k < q->n; k++) {
            if (c->nhid % 64 == 0) {
                uint32_t *t = realloc(c->hid_line, (c->nhid + 64) * sizeof *t);
                if (!t)
                    return wp_error_set(WP_ENOMEM, "out of memory");
                c->hid_line = t;
            }
            c->hid_line[c->nhid] = (uint32_t)i;
            if ((err = add_pat(c, q->off[k + 1] - q->off[k], (uint32_t)(c->nlines + c->nhid))) <
                    0 ||
                (err = add_cps(c, q->cps + q->off[k], q->off[k + 1] - q->off[k])) < 0)
                return err;
            c->nhid++;
        }
    }
    return 0;
}

/* Sorted patterns with equal symbols are one automaton entry: of the lexicon's lines the
 * last wins (the others are dropped); the hidden literals among them (sorted after the
 * lines) become the list of regexes that entry triggers. Returns the hidden-only entries. */
static int merge_equal(compiling *c, size_t *nhidden)
{
    int err;
    size_t kept = 0;
    *nhidden = 0;
    c->ptrig = calloc(c->npats + 1, sizeof *c->ptrig);
    if (!c->ptrig || (err = tpool_add(c, 0)) < 0)
        return wp_error_set(WP_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->npats;) {
        size_t j = i + 1;
        while (j < c->npats && c->pats[j].len == c->pats[i].len &&
               !memcmp(c->pats[j].sym, c->pats[i].sym, c->pats[i].len * sizeof(uint32_t)))
            j++;
        size_t vis = SIZE_MAX, nh = 0;
        for (size_t k = i; k < j; k++) {
            if (c->pats[k].entry < c->nlines) {
                if (vis != SIZE_MAX)
                    c->dropped[c->pats[vis].entry] = true;
                vis = k;
            } else {
                nh++;
            }
        }
        wp_ac_pattern keep = c->pats[vis != SIZE_MAX ? vis : i];
        uint32_t trig = 0;
        if (nh) {
            trig = (uint32_t)c->ntpool;
            if ((err = tpool_add(c, (uint32_t)nh)) < 0)
                return err;
            for (size_t k = i; k < j; k++)
                if (c->pats[k].entry >= c->nlines &&
                    (err = tpool_add(c, c->re_of_line[c->hid_line[c->pats[k].entry -
                                                                   c->nlines]])) < 0)
                    return err;
            if (vis == SIZE_MAX)
                (*nhidden)++;
        }
        c->ptrig[kept] = trig;
        c->pats[kept++] = keep;
        i = j;
    }
    c->npats = kept;
    return 0;
}

static int build(compiling *c, struct wp_scanner *s, const char *src)
{
    bool raw = s->flags & WP_SCAN_NO_NORMALIZE;
    bool prefilter = !(s->flags & WP_SCAN__NO_PREFILTER);
    uint32_t tmp[WP_SCAN_MAX_PATTERN_BYTES * WP_FOLD_MAX_EXPAND];
    int err;
    size_t nre = 0;

    c->codes = calloc(c->nlines + 1, sizeof *c->codes);
    c->reqs = calloc(c->nlines + 1, sizeof *c->reqs);
    c->dropped = calloc(c->nlines + 1, sizeof *c->dropped);
    c->line_entry = malloc((c->nlines + 1) * sizeof *c->line_entry);
    c->re_of_line = malloc((c->nlines + 1) * sizeof *c->re_of_line);
    if (!c->codes || !c->reqs || !c->dropped || !c->line_entry || !c->re_of_line)
        return wp_error_set(WP_ENOMEM, "out of memory");
    /* first pass: fold literals (offsets into cps for now), compile regexes */
    for (size_t i = 0; i < c->nlines; i++) {
        const wp_lex_line *l = &c->lines[i];
        if (l->kind == WP_ENTRY_REGEX) {
            if ((err = compile_regex(&c->codes[i], l, raw, src,
                                     prefilter ? &c->reqs[i] : NULL)) < 0)
                return err;
            nre++;
            continue;
        }
        size_t n = fold_literal(l->body, l->body_len, raw, tmp);
        if (n == 0) {
            int shown = l->body_len > 40 ? 40 : (int)l->body_len;
            return wp_error_set(WP_EINVAL, "%s:%u: pattern '%.*s' has no letters or digits", src,
                                l->line, shown, l->body);
        }
        if ((err = add_pat(c, n, (uint32_t)i)) < 0 || (err = add_cps(c, tmp, n)) < 0)
            return err;
    }
    /* the same regex twice: the last line wins, as for literals */
    if (nre > 1) {
        const wp_lex_line **idx = malloc(nre * sizeof *idx);
        if (!idx)
            return wp_error_set(WP_ENOMEM, "out of memory");
        size_t k = 0;
        for (size_t i = 0; i < c->nlines; i++)
            if (c->lines[i].kind == WP_ENTRY_REGEX)
                idx[k++] = &c->lines[i];
        qsort(idx, k, sizeof *idx, cmp_regex_line);
        for (size_t i = 0; i + 1 < k; i++) {
            const wp_lex_line *x = idx[i], *y = idx[i + 1];
            if (x->body_len == y->body_len && !memcmp(x->body, y->body, x->body_len)) {
                c->dropped[x - c->lines] = true;
                nre--;
            }
        }
        free(idx);
    }
    for (size_t i = 0, k = 0; i < c->nlines; i++)
        if (c->lines[i].kind == WP_ENTRY_REGEX && !c->dropped[i])
            c->re_of_line[i] = (uint32_t)k++;
    if ((err = add_hidden(c)) < 0)
        return err;
    for (size_t i = 0; i < c->npats; i++)
        c->pats[i].sym = c->cps + (uintptr_t)c->pats[i].sym;
    if ((err = assign_symbols(c, s)) < 0)
        return err;
    /* duplicates (equal after folding): the last line wins; hidden literals merge */
    if (c->npats) /* pats is NULL for a lexicon without literals, and qsort wants non-NULL */
        qsort(c->pats, c->npats, sizeof *c->pats, cmp_pat);
    size_t nhidden;
    if ((err = merge_equal(c, &nhidden)) < 0)
        return err;
    /* entries, in lexicon order, then the hidden ones */
    size_t ne = 0;
    for (size_t i = 0; i < c->nlines; i++)
        if (!c->dropped[i])
            c->line_entry[i] = (uint32_t)ne++;
    s->entries = calloc(ne + nhidden + 1, sizeof *s->entries);
    s->re = calloc(nre + 1, sizeof *s->re);
    s->re_words = (nre + 63) / 64;
    s->re_always = calloc(s->re_words + 1, sizeof *s->re_always);
    if (!s->entries || !s->re || !s->re_always)
        return wp_error_set(WP_ENOMEM, "out of memory");
    uint32_t custom;
    if ((err = pool_intern(&c->pool, "custom", 6, &custom)) < 0)
        return err;
    for (size_t i = 0; i < c->nlines; i++) {
        if (c->dropped[i])
            continue;
        const wp_lex_line *l = &c->lines[i];
        wp_scan_entry *e = &s->entries[s->nentries++];
        e->line = l->line;
        e->action = l->action;
        e->kind = l->kind;
        e->category = custom;
        if (l->category && (err = pool_intern(&c->pool, l->category, l->category_len,
                                              &e->category)) < 0)
            return err;
        if ((err = pool_add(&c->pool, l->pattern, l->pattern_len, &e->pattern)) < 0)
            return err;
        if (l->kind == WP_ENTRY_REGEX) {
            wp_scan_regex *re = &s->re[s->nre];
            size_t jit = 0;
            re->code = c->codes[i];
            re->entry = (uint32_t)(s->nentries - 1);
            re->jit = pcre2_pattern_info(re->code, PCRE2_INFO_JITSIZE, &jit) == 0 && jit > 0;
            c->codes[i] = NULL;
            if (c->reqs[i].n == 0)
                s->re_always[s->nre / 64] |= 1ull << (s->nre % 64);
            s->nre++;
        }
    }
    if (c->ntpool > 1) {
        s->trig = calloc(ne + nhidden + 1, sizeof *s->trig);
        if (!s->trig)
            return wp_error_set(WP_ENOMEM, "out of memory");
        s->trig_pool = c->tpool;
        c->tpool = NULL;
    }
    for (size_t i = 0; i < c->npats; i++) {
        wp_ac_pattern *p = &c->pats[i];
        if (p->entry < c->nlines) {
            p->entry = c->line_entry[p->entry];
            if (p->len > s->maxlen)
                s->maxlen = p->len; /* the ring of starts serves reported literals only */
        } else {
            p->entry = (uint32_t)(ne + s->nhidden++);
            s->entries[p->entry].kind = WP_ENTRY_HIDDEN;
        }
        s->entries[p->entry].nsym = (uint16_t)p->len;
        if (s->trig)
            s->trig[p->entry] = c->ptrig[i];
    }
    s->strings = c->pool.buf;
    c->pool.buf = NULL;
    s->memory += sizeof *s + (ne + s->nhidden) * sizeof *s->entries + nre * sizeof *s->re +
                 c->pool.cap + (s->re_words + 1) * sizeof *s->re_always;
    if (s->trig)
        s->memory += (ne + s->nhidden + 1) * sizeof *s->trig + c->tpcap * sizeof *s->trig_pool;
    for (size_t i = 0; i < s->nre; i++) {
        size_t sz = 0;
        if (pcre2_pattern_info(s->re[i].code, PCRE2_INFO_SIZE, &sz) == 0)
            s->memory += sz;
        if (pcre2_pattern_info(s->re[i].code, PCRE2_INFO_JITSIZE, &sz) == 0)
            s->memory += sz;
    }
    if ((err = wp_scan__cptable_build(s, c->sym, raw)) < 0)
        return err;
    return wp_scan__ac_build(s, c->pats, c->npats);
}

int wp_scan_compile(wp_scanner **out, const char *lex, size_t len, const wp_scan_options *opts)
{
    const char *src = opts && opts->source_name ? opts->source_name : "lexicon";
    compiling c = {0};
    int err;
    struct wp_scanner *s = calloc(1, sizeof *s);
    if (!s)
        return wp_error_set(WP_ENOMEM, "out of memory");
    atomic_init(&s->refs, 1);
    s->flags = opts ? opts->flags : 0;
    /* a byte that is not UTF-8 is noise, except in raw mode where it breaks a match */
    s->invalid_entry = (s->flags & WP_SCAN_NO_NORMALIZE) ? ((uint32_t)WP_FC_BREAK << 24)
                                                         : (((uint32_t)WP_FC_BREAK << 24) |
                                                            WP_SYM_NOISE);
    if ((err = wp_scan__lex_parse(&c.lines, &c.nlines, lex, len, src)) < 0)
        goto out;
    err = build(&c, s, src);
out:
    for (size_t i = 0; c.codes && i < c.nlines; i++)
        pcre2_code_free(c.codes[i]);
    free(c.codes);
    for (size_t i = 0; c.reqs && i < c.nlines; i++)
        wp_scan__rx_req_release(&c.reqs[i]);
    free(c.reqs);
    free(c.lines);
    free(c.pats);
    free(c.hid_line);
    free(c.cps);
    if (c.sym)
        free(c.sym->pages);
    free(c.sym);
    free(c.dropped);
    free(c.line_entry);
    free(c.re_of_line);
    free(c.ptrig);
    free(c.tpool);
    free(c.pool.buf);
    free(c.pool.hash);
    if (err < 0) {
        wp_scan__scanner_free(s);
        return err;
    }
    *out = s;
    return 0;
}
