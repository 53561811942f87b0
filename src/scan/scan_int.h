/* SPDX-License-Identifier: MIT */
/* Internals of the compliance engine shared by its files (and its unit tests). */
#ifndef WP_SCAN_INT_H
#define WP_SCAN_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "scan/fold.h"
#include "scan/scan.h"

#define WP_SCAN_MAX_TEXT (16u << 20)
#define WP_SCAN_REGEX_MATCH_LIMIT 10000000u

/* An internal compile flag (never set by callers of the public API): no literal prefilter,
 * every regex runs on every text. Tests compare the two. */
#define WP_SCAN__NO_PREFILTER 0x80000000u

/* ---- UTF-8 ---- */

/* Decode one well-formed UTF-8 sequence (no overlongs, no surrogates, <= U+10FFFF) at
 * p[0..avail); its length, or 0 when p[0] does not start one (the caller then takes that
 * single byte as an invalid character). Never reads past p + avail. */
static inline size_t wp_utf8_decode(const unsigned char *p, size_t avail, uint32_t *cp)
{
    unsigned b = p[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if (b < 0xC2)
        return 0;
    if (b < 0xE0) {
        if (avail < 2 || (p[1] & 0xC0) != 0x80)
            return 0;
        *cp = ((b & 0x1Fu) << 6) | (p[1] & 0x3Fu);
        return 2;
    }
    if (b < 0xF0) {
        if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        uint32_t c = ((b & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
        if (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF))
            return 0;
        *cp = c;
        return 3;
    }
    if (b < 0xF5) {
        if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
            (p[3] & 0xC0) != 0x80)
            return 0;
        uint32_t c = ((b & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) |
                     (p[3] & 0x3Fu);
        if (c < 0x10000 || c > 0x10FFFF)
            return 0;
        *cp = c;
        return 4;
    }
    return 0;
}

static inline size_t wp_utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- folding (normalize.c) ---- */

static inline uint32_t wp_fold_entry(uint32_t cp)
{
    return wp_scan__fold_pages[wp_scan__fold_index[cp >> WP_FOLD_PAGE_SHIFT]]
                              [cp & (WP_FOLD_PAGE_SIZE - 1)];
}

/* The folded codepoints of cp into out[0..WP_FOLD_MAX_EXPAND); their number, 0 for noise. */
static inline unsigned wp_fold_cp(uint32_t cp, uint32_t *out)
{
    uint32_t e = wp_fold_entry(cp);
    switch (WP_FOLD_KIND(e)) {
    case WP_FOLD_IDENT:
        out[0] = cp;
        return 1;
    case WP_FOLD_MAPPED:
        out[0] = WP_FOLD_VALUE(e);
        return 1;
    case WP_FOLD_EXPAND: {
        const uint32_t *x = wp_scan__fold_exp + WP_FOLD_VALUE(e);
        for (uint32_t i = 0; i < x[0]; i++)
            out[i] = x[1 + i];
        return x[0];
    }
    default:
        return 0;
    }
}

/* The folded, noise-free text with, for each of its bytes, where the character came from:
 * map_start[i] is the original start of the character beginning at byte i, map_end[i] the
 * original end of the character ending at byte i (both only meaningful on boundaries). */
typedef struct wp_scan_norm {
    char *text;
    size_t len, cap;
    uint32_t *map_start, *map_end;
} wp_scan_norm;

int wp_scan__normalize_mapped(wp_scan_norm *n, const char *text, size_t len);
void wp_scan__norm_release(wp_scan_norm *n);

/* ---- the compiled scanner ---- */

/* HIDDEN: a literal some regex needs (prefilter.c), in the automaton but never reported;
 * hidden entries follow the nentries entries of the lexicon. */
enum wp_entry_kind {
    WP_ENTRY_LITERAL = 0,
    WP_ENTRY_ALLOW = 1,
    WP_ENTRY_REGEX = 2,
    WP_ENTRY_HIDDEN = 3
};

typedef struct wp_scan_entry {
    uint32_t pattern;  /* offset of the pattern as written in the string pool */
    uint32_t category; /* offset of the category in the string pool */
    uint32_t line;
    uint16_t nsym; /* symbols (folded codepoints) of a literal */
    uint8_t action;
    uint8_t kind;
} wp_scan_entry;

/* Double-array Aho-Corasick: the child of state s by symbol c is t = base(s) + c when
 * cell[t].check == s. Two flags ride in base: OUT, s ends at least one pattern (its own or
 * one on its failure chain); FAILROOT, the failure link of s is the root, so a missing
 * child is resolved by one look in the dense root row. */
typedef struct wp_da_cell {
    uint32_t base;
    uint32_t check;
} wp_da_cell;
#define WP_DA_OUT 0x80000000u
#define WP_DA_FAILROOT 0x40000000u
#define WP_DA_BASE 0x3FFFFFFFu
#define WP_DA_FREE 0xFFFFFFFFu
#define WP_DA_ROOT 0u

/* An entry of a scanner's own codepoint table: class << 24 | symbol field, where the
 * symbol field is 0 (a character no pattern has), 1..nsym, WP_SYM_NOISE, or
 * WP_SYM_SPECIAL | index into wp_scan__fold_exp for an expansion. */
#define WP_SYM_MASK 0xFFFFFFu
#define WP_SYM_SPECIAL 0x800000u
#define WP_SYM_NOISE 0xFFFFFFu

typedef struct wp_scan_regex {
    pcre2_code *code;
    uint32_t entry;
    bool jit; /* JIT compiled: matched with pcre2_jit_match(), which skips the checks */
} wp_scan_regex;

/* One symbol's transition from the root: the state (with its OUT flag) and a filter of
 * that state's children, bit (sym % 64) for each child symbol. */
typedef struct wp_root_info {
    uint64_t filt;
    uint32_t state, pad;
} wp_root_info;

struct wp_scanner {
    atomic_size_t refs;
    unsigned flags;
    uint32_t invalid_entry; /* what a byte that is not UTF-8 is: noise, or a breaker (raw) */
    uint32_t pagemap[WP_FOLD_NPAGES]; /* page of codepoint cp: pages + pagemap[cp >> 8] */
    uint32_t *pages;
    size_t npages;

    wp_da_cell *da;
    uint32_t *fail; /* failure link of each state */
    uint32_t *out;  /* entry index + 1 of the literal ending at the state, or 0 */
    uint32_t *dict; /* the next state on the failure chain that has an out, or 0 */
    wp_root_info *root_info; /* the root's row, dense: nsym + 1 entries */
    uint32_t da_size;
    uint32_t nsym;
    uint32_t maxlen; /* longest literal, in symbols */

    wp_scan_entry *entries;
    size_t nentries; /* as compiled: duplicates dropped */
    char *strings;
    wp_scan_regex *re;
    size_t nre;
    /* The prefilter. An entry e whose literal some regexes need has trig[e] != 0, the
     * offset in trig_pool of their count then their indices in re; seeing it sets their
     * bits in the scan's "may match" set, which starts as re_always (the regexes without a
     * requirement). trig is NULL when no regex has a requirement. */
    uint32_t *trig;
    uint32_t *trig_pool;
    uint64_t *re_always;
    size_t re_words; /* 64-bit words of a set of regexes */
    size_t nhidden;  /* hidden entries, after the nentries ones */
    size_t memory;
};

void wp_scan__scanner_free(struct wp_scanner *s);

/* ---- lexicon parsing (lexicon.c) ---- */

typedef struct wp_lex_line {
    const char *pattern; /* as written, with its "re:" or "allow:" prefix */
    size_t pattern_len;
    const char *body; /* without the prefix */
    size_t body_len;
    const char *category; /* NULL: "custom" */
    size_t category_len;
    uint32_t line;
    uint8_t action;
    uint8_t kind;
} wp_lex_line;

/* Parse lexicon text into lines (borrowing from lex). Caller frees *out.
 * WP_EINVAL / WP_ELIMIT with "<source>:<line>: <what>". */
int wp_scan__lex_parse(wp_lex_line **out, size_t *n, const char *lex, size_t len,
                       const char *source);

/* ---- automaton (match.c) ---- */

/* A literal to build into the automaton: its symbols and its entry index. */
typedef struct wp_ac_pattern {
    const uint32_t *sym;
    uint32_t len;
    uint32_t entry;
} wp_ac_pattern;

/* Build the double array over pats (sorted by symbols, duplicates removed) into s. */
int wp_scan__ac_build(struct wp_scanner *s, const wp_ac_pattern *pats, size_t n);

/* Symbol ids of codepoints, paged: only the pages of codepoints some pattern has exist. */
typedef struct wp_symmap {
    uint32_t pagemap[WP_FOLD_NPAGES]; /* page of cp: pages + pagemap[cp >> 8]; 0: none */
    uint32_t *pages;                  /* page 0 is all zeros */
    size_t npages, cap;
} wp_symmap;

static inline uint32_t wp_symmap_get(const wp_symmap *m, uint32_t cp)
{
    return m->pages[m->pagemap[cp >> WP_FOLD_PAGE_SHIFT] + (cp & (WP_FOLD_PAGE_SIZE - 1))];
}

/* Fill s->pagemap/pages from symbol ids of codepoints (0 if none). */
int wp_scan__cptable_build(struct wp_scanner *s, const wp_symmap *symid, bool raw);

/* ---- the regex prefilter (prefilter.c) ---- */

/* A regex's requirement: n strings of codepoints as the automaton sees them, string k being
 * cps[off[k]..off[k+1]); every match of the regex contains one. n == 0: none known. */
typedef struct wp_rx_req {
    uint32_t *cps;
    uint32_t *off;
    size_t n;
} wp_rx_req;

/* The requirement of the regex pat[0..len) as compiled (for raw: case-sensitive, on raw
 * text; else caseless, on normalized text). 0 (out->n may be 0) or WP_ENOMEM. */
int wp_scan__regex_requirement(const char *pat, size_t len, bool raw, wp_rx_req *out);
void wp_scan__rx_req_release(wp_rx_req *r);

/* ---- per-scan state ---- */

typedef struct wp_pii {
    /* digit runs of the current group of runs joined by single separators */
    struct wp_pii_run {
        uint32_t start, end, xend;
        uint8_t ndig; /* 21 means more than 20 */
        bool x;       /* followed by an x (ID card check digit) */
        uint8_t d[20];
    } runs[6];
    unsigned nruns;
    bool in_run, sep;
    /* email */
    unsigned lrun; /* local-part characters so far */
    uint32_t lstart;
    bool domain;
    unsigned label_len;
    bool label_alpha, seen_dot, have_valid;
    uint32_t valid_end;
} wp_pii;

typedef struct wp_scan_slot_rec {
    size_t q;        /* symbol position where the matches start */
    uint32_t idx[4]; /* per action, the index of the match in the list, or UINT32_MAX */
} wp_scan_slot_rec;

typedef struct wp_scan_scratch {
    size_t cap;     /* capacity of r->matches */
    uint32_t *ring; /* byte offset where each of the last symbols started */
    wp_scan_slot_rec *slots, *aslots;
    size_t ring_size;
    size_t qbase, qnext; /* first symbol position of this scan, and after the last one */
    wp_scan_match *allows;
    size_t nallow, allow_cap;
    size_t dropped; /* matches marked dropped (pattern NULL) by record() */
    wp_scan_norm norm;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    uint64_t *may; /* the regexes whose requirement this scan saw (or that have none) */
    size_t may_cap;
    size_t re_runs; /* regexes run, all scans together (tests look at it) */
    wp_pii pii;
    int err;
} wp_scan_scratch;

int wp_scan__add_match(wp_scan_result *r, const char *pattern, const char *category,
                       enum wp_scan_action action, size_t start, size_t end);

void wp_scan__pii_reset(wp_pii *p);
/* Feed one folded character of class cls spanning [start, end); whether the detectors
 * are now inside something. While they are not, only digits and letters need feeding. */
bool wp_scan__pii_feed(wp_pii *p, unsigned cls, uint32_t start, uint32_t end,
                       wp_scan_result *r);
void wp_scan__pii_finish(wp_pii *p, wp_scan_result *r);

#endif
