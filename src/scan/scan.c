/* SPDX-License-Identifier: MIT */
/* The engine's public face: scanner references, the fused decode-fold-match scan loop,
 * regexes, allow entries, verdict, masking and the tenant slot (compiling is compile.c). */
#include "scan/scan_int.h"
#include "util/error.h"
#include "util/testhooks.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

wp_scanner *wp_scanner_ref(wp_scanner *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void wp_scanner_unref(wp_scanner *s)
{
    if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        wp_scan__scanner_free(s);
}

size_t wp_scanner_pattern_count(const wp_scanner *s)
{
    return s->nentries;
}

size_t wp_scanner_memory(const wp_scanner *s)
{
    return s->memory;
}

const char *wp_scan_action_name(enum wp_scan_action a)
{
    switch (a) {
    case WP_SCAN_MASK:
        return "mask";
    case WP_SCAN_ALERT:
        return "alert";
    case WP_SCAN_BLOCK:
        return "block";
    default:
        return "none";
    }
}

/* ---- results ---- */

void wp_scan_result_init(wp_scan_result *r)
{
    memset(r, 0, sizeof *r);
}

void wp_scan_result_release(wp_scan_result *r)
{
    wp_scan_scratch *sc = r->scratch;
    if (sc) {
        free(sc->ring);
        free(sc->slots);
        free(sc->aslots);
        free(sc->allows);
        wp_scan__norm_release(&sc->norm);
        pcre2_match_data_free(sc->md);
        pcre2_match_context_free(sc->mctx);
        free(sc->may);
        free(sc);
    }
    free(r->matches);
    memset(r, 0, sizeof *r);
}

static int grow_matches(wp_scan_match **m, size_t *cap, size_t n)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    wp_scan_match *t = wp_test_hooks_alloc_fails() ? NULL : realloc(*m, nc * sizeof *t);
    if (!t)
        return wp_error_set(WP_ENOMEM, "out of memory");
    *m = t;
    *cap = nc;
    return 0;
}

int wp_scan__add_match(wp_scan_result *r, const char *pattern, const char *category,
                       enum wp_scan_action action, size_t start, size_t end)
{
    wp_scan_scratch *sc = r->scratch;
    int err = grow_matches(&r->matches, &sc->cap, r->n);
    if (err < 0)
        return err;
    r->matches[r->n++] = (wp_scan_match){pattern, category, action, start, end};
    return 0;
}

static int scratch_prepare(const struct wp_scanner *s, wp_scan_result *r)
{
    wp_scan_scratch *sc = r->scratch;
    if (!sc) {
        sc = calloc(1, sizeof *sc);
        if (!sc)
            return wp_error_set(WP_ENOMEM, "out of memory");
        r->scratch = sc;
    }
    size_t need = 16;
    while (need < (size_t)s->maxlen + 1)
        need *= 2;
    if (need > sc->ring_size) {
        uint32_t *ring = realloc(sc->ring, need * sizeof *ring);
        if (ring)
            sc->ring = ring;
        wp_scan_slot_rec *a = ring ? realloc(sc->slots, need * sizeof *a) : NULL;
        if (a)
            sc->slots = a;
        wp_scan_slot_rec *b = a ? realloc(sc->aslots, need * sizeof *b) : NULL;
        if (!b)
            return wp_error_set(WP_ENOMEM, "out of memory");
        sc->aslots = b;
        sc->ring_size = need;
        for (size_t i = 0; i < need; i++)
            sc->slots[i].q = sc->aslots[i].q = SIZE_MAX;
    }
    /* Symbol positions continue from the last scan, a ring's length apart, so no slot left
     * by an earlier scan can be taken for one of this scan (64 bits do not wrap). */
    sc->qbase = sc->qnext + sc->ring_size;
    if (s->nre && !sc->md) {
        /* a backtracking regex gives up on a text after this many steps, not hang on it */
        sc->mctx = pcre2_match_context_create(NULL);
        sc->md = pcre2_match_data_create(1, NULL);
        if (!sc->md || !sc->mctx)
            return wp_error_set(WP_ENOMEM, "out of memory");
        pcre2_set_match_limit(sc->mctx, WP_SCAN_REGEX_MATCH_LIMIT);
    }
    if (s->nre) {
        if (sc->may_cap < s->re_words) {
            uint64_t *m = realloc(sc->may, s->re_words * sizeof *m);
            if (!m)
                return wp_error_set(WP_ENOMEM, "out of memory");
            sc->may = m;
            sc->may_cap = s->re_words;
        }
        memcpy(sc->may, s->re_always, s->re_words * sizeof *sc->may);
    }
    sc->nallow = 0;
    sc->dropped = 0;
    sc->err = 0;
    r->n = 0;
    r->action = WP_SCAN_NONE;
    return 0;
}

/* A literal (or allow entry) starting at symbol position q, longer than any seen at q.
 * Per start, only the longest is kept, except that a shorter one stays when its action is
 * stronger than that of every longer one: the verdict never loses an action. So each start
 * keeps at most one match per action, longer ones with weaker actions; allow entries keep
 * only the longest. Dropped matches are marked (pattern NULL) and removed after the loop. */
static void record(const struct wp_scanner *s, wp_scan_result *r, wp_scan_scratch *sc,
                   const wp_scan_entry *e, size_t q, uint32_t start, uint32_t end)
{
    bool allow = e->kind == WP_ENTRY_ALLOW;
    wp_scan_slot_rec *slot = (allow ? sc->aslots : sc->slots) + (q & (sc->ring_size - 1));
    wp_scan_match m = {s->strings + e->pattern, s->strings + e->category,
                       (enum wp_scan_action)e->action, start, end};
    if (slot->q != q) {
        slot->q = q;
        for (int a = 0; a <= WP_SCAN_BLOCK; a++)
            slot->idx[a] = UINT32_MAX;
    }
    unsigned level = allow ? 0 : e->action;
    for (unsigned a = 0; a <= level; a++) {
        if (slot->idx[a] == UINT32_MAX)
            continue;
        if (allow) {
            sc->allows[slot->idx[a]] = m;
            return;
        }
        r->matches[slot->idx[a]].pattern = NULL;
        sc->dropped++;
        slot->idx[a] = UINT32_MAX;
    }
    int err;
    if (allow) {
        err = grow_matches(&sc->allows, &sc->allow_cap, sc->nallow);
        if (!err) {
            slot->idx[0] = (uint32_t)sc->nallow;
            sc->allows[sc->nallow++] = m;
        }
    } else {
        err = grow_matches(&r->matches, &sc->cap, r->n);
        if (!err) {
            slot->idx[level] = (uint32_t)r->n;
            r->matches[r->n++] = m;
        }
    }
    if (err < 0)
        sc->err = err;
}

static __attribute__((noinline)) void emit(const struct wp_scanner *s, wp_scan_result *r,
                                           wp_scan_scratch *sc, uint32_t st, size_t pos,
                                           uint32_t end)
{
    uint32_t t = s->out[st] ? st : s->dict[st];
    while (t) {
        uint32_t ei = s->out[t] - 1;
        const wp_scan_entry *e = &s->entries[ei];
        if (e->kind != WP_ENTRY_HIDDEN) {
            size_t q = pos + 1 - e->nsym;
            record(s, r, sc, e, q, sc->ring[q & (sc->ring_size - 1)], end);
        }
        if (s->trig && s->trig[ei]) {
            /* a literal some regexes need: they may match this text */
            const uint32_t *l = s->trig_pool + s->trig[ei];
            for (uint32_t k = 1; k <= l[0]; k++)
                sc->may[l[k] / 64] |= 1ull << (l[k] % 64);
        }
        t = s->dict[t];
    }
}

static __attribute__((noinline)) uint32_t ac_slow(const struct wp_scanner *s, uint32_t st,
                                                  uint32_t c)
{
    if (c == 0)
        return WP_DA_ROOT;
    for (;;) {
        uint32_t t = (s->da[st].base & WP_DA_BASE) + c;
        if (s->da[t].check == st)
            return t;
        if (st == WP_DA_ROOT)
            return WP_DA_ROOT;
        st = s->fail[st];
    }
}

/* One automaton step from *st by symbol c; returns the new state's base word (its OUT
 * flag says whether to emit). Most of the time *st is a child of the root with no child
 * for c, and the root's row (root_info, small and hot in cache) holds both the next
 * state and a filter of that state's children, so the common step touches no cell of the
 * double array at all. Only when the filter lets c through is the cell looked at; past
 * the first level the filter is all ones. Branches, not conditional moves: they are
 * predictable enough that speculation beats a dependency chain through the state. */
static inline __attribute__((always_inline)) uint32_t
ac_step(const struct wp_scanner *s, const wp_da_cell *da, const wp_root_info *root_info,
        const uint32_t *fail, uint32_t *st, uint64_t *filt, uint32_t c)
{
    if (*filt & (1ull << (c & 63))) {
        uint32_t b = da[*st].base, t = (b & WP_DA_BASE) + c;
        if (da[t].check == *st) {
            *st = t;
            *filt = ~0ull;
            return da[t].base;
        }
        if (!(b & WP_DA_FAILROOT)) {
            *st = ac_slow(s, fail[*st], c);
            *filt = *st == WP_DA_ROOT ? 0 : ~0ull;
            return da[*st].base;
        }
    }
    const wp_root_info *ri = &root_info[c];
    *st = ri->state & WP_DA_BASE;
    *filt = ri->filt;
    return ri->state;
}

/* The hot loop: decode, fold (one table lookup), step the automaton, feed the PII
 * detectors, all in one pass with no intermediate string. */
static inline __attribute__((always_inline)) bool
scan_loop(const struct wp_scanner *s, const unsigned char *p, size_t len, wp_scan_result *r,
          wp_scan_scratch *sc, bool pii)
{
    const wp_da_cell *da = s->da;
    const wp_root_info *root_info = s->root_info;
    const uint32_t *fail = s->fail;
    const uint32_t *pagemap = s->pagemap, *pages = s->pages;
    uint32_t *ring = sc->ring;
    const size_t rm = sc->ring_size - 1;
    wp_pii *pp = &sc->pii;
    uint32_t st = WP_DA_ROOT;
    uint64_t filt = 0; /* symbols (mod 64) that may be children of st; 0 at the root */
    size_t pos = sc->qbase;
    bool active = false; /* a PII detector is inside something: feed it every character */

#define STEP_CHAR(entry)                                                                   \
    do {                                                                                   \
        uint32_t sym_ = (entry)&WP_SYM_MASK;                                               \
        ring[pos & rm] = start;                                                            \
        if (ac_step(s, da, root_info, fail, &st, &filt, sym_) & WP_DA_OUT)                 \
            emit(s, r, sc, st, pos, (uint32_t)i);                                          \
        pos++;                                                                             \
        if (pii) {                                                                         \
            unsigned cls_ = (entry) >> 24;                                                 \
            if (cls_ - 1u < WP_FC_X || active)                                             \
                active = wp_scan__pii_feed(pp, cls_, start, (uint32_t)i, r);               \
        }                                                                                  \
    } while (0)

    for (size_t i = 0; i < len;) {
        uint32_t cp, e;
        uint32_t start = (uint32_t)i;
        unsigned b0 = p[i];
        if (b0 < 0x80) {
            e = pages[pagemap[0] + b0];
            i++;
        } else if (b0 >= 0xE1 && b0 <= 0xEC && len - i >= 3 && (p[i + 1] & 0xC0) == 0x80 &&
                   (p[i + 2] & 0xC0) == 0x80) {
            /* the common three-byte case (U+1000..U+CFFF, CJK included) needs no range check */
            cp = ((b0 & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu);
            e = pages[pagemap[cp >> WP_FOLD_PAGE_SHIFT] + (cp & 0xFF)];
            i += 3;
        } else {
            size_t k = wp_utf8_decode(p + i, len - i, &cp);
            if (k) {
                e = pages[pagemap[cp >> WP_FOLD_PAGE_SHIFT] + (cp & 0xFF)];
                i += k;
            } else {
                e = s->invalid_entry;
                i++;
            }
        }
        if (__builtin_expect(!(e & WP_SYM_SPECIAL), 1)) {
            STEP_CHAR(e);
            continue;
        }
        if ((e & WP_SYM_MASK) == WP_SYM_NOISE) {
            if (pii && active)
                active = wp_scan__pii_feed(pp, e >> 24, start, (uint32_t)i, r);
            continue;
        }
        const uint32_t *x = wp_scan__fold_exp + (e & WP_SYM_MASK & ~WP_SYM_SPECIAL);
        for (uint32_t j = 0; j < x[0]; j++) {
            uint32_t e2 = pages[pagemap[x[1 + j] >> WP_FOLD_PAGE_SHIFT] + (x[1 + j] & 0xFF)];
            STEP_CHAR(e2);
        }
    }
#undef STEP_CHAR
    sc->qnext = pos;
    return active;
}

/* Run the regexes the prefilter let through (sc->may) over the text: the normalized copy
 * with its offset maps is made only when one runs. */
static int run_regexes(const struct wp_scanner *s, const char *text, size_t len,
                       wp_scan_result *r, wp_scan_scratch *sc)
{
    bool raw = s->flags & WP_SCAN_NO_NORMALIZE;
    uint64_t any = 0;
    for (size_t w = 0; w < s->re_words; w++)
        any |= sc->may[w];
    if (!any)
        return 0;
    const char *subj = text;
    size_t n = len;
    uint32_t opts = 0;
    if (!raw) {
        int err = wp_scan__normalize_mapped(&sc->norm, text, len);
        if (err < 0)
            return err;
        subj = sc->norm.text;
        n = sc->norm.len;
        opts = PCRE2_NO_UTF_CHECK;
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(sc->md);
    for (size_t w = 0; w < s->re_words; w++) {
        for (uint64_t bits = sc->may[w]; bits; bits &= bits - 1) {
            const wp_scan_regex *re = &s->re[w * 64 + (size_t)__builtin_ctzll(bits)];
            const wp_scan_entry *e = &s->entries[re->entry];
            size_t off = 0;
            sc->re_runs++;
            while (off <= n) {
                /* pcre2_jit_match() skips pcre2_match()'s checks, none of which can fail
                 * here: off <= n, and the subject is valid UTF-8 (normalized) or the regex
                 * was compiled for invalid UTF (raw) */
                int rc = re->jit ? pcre2_jit_match(re->code, (PCRE2_SPTR)subj, n, off, 0, sc->md,
                                                   sc->mctx)
                                 : pcre2_match(re->code, (PCRE2_SPTR)subj, n, off, opts, sc->md,
                                               sc->mctx);
                if (rc < 0)
                    break; /* no match, or a limit hit: this regex is done with this text */
                if (ov[1] <= ov[0]) {
                    /* an empty match flags nothing: move on one character */
                    off = ov[0] + 1;
                    while (off < n && ((unsigned char)subj[off] & 0xC0) == 0x80)
                        off++;
                    continue;
                }
                size_t a = raw ? ov[0] : sc->norm.map_start[ov[0]];
                size_t b = raw ? ov[1] : sc->norm.map_end[ov[1]];
                int err = wp_scan__add_match(r, s->strings + e->pattern,
                                             s->strings + e->category,
                                             (enum wp_scan_action)e->action, a, b);
                if (err < 0)
                    return err;
                off = ov[1];
            }
        }
    }
    return 0;
}

static int cmp_match(const void *a, const void *b)
{
    const wp_scan_match *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->end != y->end)
        return x->end > y->end ? -1 : 1;
    int c = strcmp(x->pattern, y->pattern);
    return c ? c : strcmp(x->category, y->category);
}

/* Drop every match lying inside an allow match. Both lists sorted by start. */
static void apply_allows(wp_scan_result *r, const wp_scan_scratch *sc)
{
    size_t a = 0, kept = 0, maxend = 0;
    for (size_t i = 0; i < r->n; i++) {
        const wp_scan_match *m = &r->matches[i];
        while (a < sc->nallow && sc->allows[a].start <= m->start) {
            if (sc->allows[a].end > maxend)
                maxend = sc->allows[a].end;
            a++;
        }
        if (a > 0 && maxend >= m->end)
            continue;
        r->matches[kept++] = *m;
    }
    r->n = kept;
}

int wp_scan_run(const wp_scanner *s, const char *text, size_t len, wp_scan_result *r)
{
    if (len > WP_SCAN_MAX_TEXT)
        return wp_error_set(WP_ELIMIT, "text larger than %u bytes", WP_SCAN_MAX_TEXT);
    int err = scratch_prepare(s, r);
    if (err < 0)
        return err;
    wp_scan_scratch *sc = r->scratch;
    const unsigned char *p = (const unsigned char *)text;
    /* the PII detectors are left idle after every scan: finish resets them */
    if (s->flags & WP_SCAN_NO_PII)
        scan_loop(s, p, len, r, sc, false);
    else if (scan_loop(s, p, len, r, sc, true))
        wp_scan__pii_finish(&sc->pii, r);
    if (sc->err < 0) {
        r->n = 0;
        return sc->err;
    }
    if (sc->dropped) {
        size_t kept = 0;
        for (size_t i = 0; i < r->n; i++)
            if (r->matches[i].pattern)
                r->matches[kept++] = r->matches[i];
        r->n = kept;
    }
    if (s->nre && (err = run_regexes(s, text, len, r, sc)) < 0) {
        r->n = 0;
        return err;
    }
    if (r->n > 1)
        qsort(r->matches, r->n, sizeof *r->matches, cmp_match);
    if (sc->nallow) {
        qsort(sc->allows, sc->nallow, sizeof *sc->allows, cmp_match);
        apply_allows(r, sc);
    }
    for (size_t i = 0; i < r->n; i++)
        if (r->matches[i].action > r->action)
            r->action = r->matches[i].action;
    return 0;
}

/* ---- masking ---- */

int wp_scan_mask(wp_buf *out, const char *text, size_t len, const wp_scan_result *r)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t m = 0, cover = 0, plain = 0; /* plain: start of the bytes not yet copied */
    int err = 0;
    for (size_t i = 0; i < len;) {
        while (m < r->n && r->matches[m].start <= i) {
            if (r->matches[m].end > cover)
                cover = r->matches[m].end;
            m++;
        }
        uint32_t cp;
        size_t k = wp_utf8_decode(p + i, len - i, &cp);
        if (k == 0)
            k = 1;
        if (i < cover) {
            if (plain < i && (err = wp_buf_add(out, text + plain, i - plain)) < 0)
                return err;
            if ((err = wp_buf_addc(out, '*')) < 0)
                return err;
            plain = i + k;
        }
        i += k;
    }
    if (plain < len)
        err = wp_buf_add(out, text + plain, len - plain);
    return err;
}

/* ---- the tenant slot ---- */

/* A mutex held only for a pointer copy and a reference count increment: a reader never
 * waits on a compile, which happens before wp_scan_slot_set is called. */
struct wp_scan_slot {
    pthread_mutex_t mu;
    wp_scanner *cur;
};

int wp_scan_slot_new(wp_scan_slot **out)
{
    wp_scan_slot *slot = calloc(1, sizeof *slot);
    if (!slot)
        return wp_error_set(WP_ENOMEM, "out of memory");
    if (pthread_mutex_init(&slot->mu, NULL) != 0) {
        free(slot);
        return wp_error_set(WP_ENOMEM, "cannot create a mutex");
    }
    *out = slot;
    return 0;
}

void wp_scan_slot_free(wp_scan_slot *slot)
{
    if (!slot)
        return;
    wp_scanner_unref(slot->cur);
    pthread_mutex_destroy(&slot->mu);
    free(slot);
}

wp_scanner *wp_scan_slot_get(wp_scan_slot *slot)
{
    pthread_mutex_lock(&slot->mu);
    wp_scanner *s = slot->cur ? wp_scanner_ref(slot->cur) : NULL;
    pthread_mutex_unlock(&slot->mu);
    return s;
}

void wp_scan_slot_set(wp_scan_slot *slot, wp_scanner *s)
{
    if (s)
        wp_scanner_ref(s);
    pthread_mutex_lock(&slot->mu);
    wp_scanner *old = slot->cur;
    slot->cur = s;
    pthread_mutex_unlock(&slot->mu);
    wp_scanner_unref(old);
}
