/* SPDX-License-Identifier: MIT */
/* The per-codepoint folding table: its encoding, shared by the build-time generator
 * (fold_gen.c, which writes fold_table.c) and the engine that reads it. */
#ifndef WP_SCAN_FOLD_H
#define WP_SCAN_FOLD_H

#include <stdint.h>

/* The table covers U+0000..U+10FFFF in 256-entry pages: page i (codepoints i*256..) is
 * wp_scan__fold_pages[wp_scan__fold_index[i]]. Pages with equal content are stored once,
 * so all unassigned planes share one page and identity pages of a script share one. */
#define WP_FOLD_NPAGES 0x1100u
#define WP_FOLD_PAGE_SHIFT 8
#define WP_FOLD_PAGE_SIZE 256u

/* One uint32 entry per codepoint:
 *   bits  0..20  value: the folded codepoint (MAPPED) or an index into
 *                wp_scan__fold_exp (EXPAND); unused for IDENT and NOISE
 *   bits 21..22  kind
 *   bits 24..31  class, for the PII detectors (enum wp_fold_class)
 * Folding is idempotent: every codepoint a fold produces is IDENT in the table. */
#define WP_FOLD_VALUE(e) ((e) & 0x1FFFFFu)
#define WP_FOLD_KIND(e) (((e) >> 21) & 3u)
#define WP_FOLD_CLASS(e) ((e) >> 24)
#define WP_FOLD_MAKE(kind, cls, value)                                                     \
    (((uint32_t)(cls) << 24) | ((uint32_t)(kind) << 21) | (uint32_t)(value))

enum wp_fold_kind {
    WP_FOLD_IDENT = 0,  /* folds to itself */
    WP_FOLD_MAPPED = 1, /* folds to one other codepoint */
    WP_FOLD_EXPAND = 2, /* folds to 2..WP_FOLD_MAX_EXPAND codepoints */
    WP_FOLD_NOISE = 3,  /* skipped by matching */
};

/* wp_scan__fold_exp[i] is the length n, then n folded codepoints follow. */
#define WP_FOLD_MAX_EXPAND 4

/* What a folded character is to the PII detectors. Digits are 1..10 (value + 1). */
enum wp_fold_class {
    WP_FC_OTHER = 0, /* any other letter or number: CJK, Cyrillic, ... */
    WP_FC_DIGIT0 = 1,
    WP_FC_DIGIT9 = 10,
    WP_FC_LETTER = 11, /* a-z except x */
    WP_FC_X = 12,      /* x: also the check digit of an ID card number */
    /* the classes below are noise to matching */
    WP_FC_AT = 13,       /* @ */
    WP_FC_DOT = 14,      /* . and the ideographic full stop */
    WP_FC_HYPHEN = 15,   /* - and the dashes */
    WP_FC_SPACE = 16,    /* any white space */
    WP_FC_EMAILSYM = 17, /* _ % + */
    WP_FC_INVIS = 18,    /* format characters, marks, variation selectors: transparent */
    WP_FC_BREAK = 19,    /* other punctuation, symbols, controls, unassigned */
};

extern const uint16_t wp_scan__fold_index[WP_FOLD_NPAGES];
extern const uint32_t wp_scan__fold_pages[][WP_FOLD_PAGE_SIZE];
extern const uint32_t wp_scan__fold_exp[];
extern const unsigned wp_scan__fold_npages;

#endif
