/* SPDX-License-Identifier: MIT */
/* The search grams of a text, made the same way for both backends, and the exact match test
 * that keeps a search's candidates honest. Internal to the store. */
#ifndef WP_STORE_GRAMS_H
#define WP_STORE_GRAMS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* How the grams are written out. */
enum wp_grams_form {
    WP_GRAMS_SPACED = 1, /* "g1 g2 g3": SQLite's FTS5 (ascii tokenizer) column */
    WP_GRAMS_FTS_QUERY,  /* "\"g1\" \"g2\"": an FTS5 MATCH expression (all must be there) */
    WP_GRAMS_PG_ARRAY,   /* "{\"g1\",\"g2\"}": a PostgreSQL text[] literal */
};

/* Append the grams of text to out, sorted and without repeats. Text is folded (Unicode simple
 * lowercase) and cut into runs of letters, digits and marks; everything else separates runs.
 * query == 0 (indexing): every character of a run and every adjacent pair.
 * query != 0 (searching): a run of one character gives it; a longer run gives its pairs.
 * Every substring of an indexed text thus yields only grams the text has. *n (may be NULL)
 * gets the number of grams. Returns 0 or the wp_buf error. */
int wp_grams__make(wp_buf *out, size_t *n, const char *text, size_t len, int query,
                   enum wp_grams_form form);

/* As wp_grams__make(), but with key (WP_GRAM_KEY_LEN bytes; NULL: as wp_grams__make()) each
 * gram is written as its keyed form: the first 8 bytes of BLAKE2b keyed with key over the
 * gram's bytes, in base32 (WP_GRAM_KEYED_LEN lower-case letters and digits). The index then
 * holds keyed hashes, not characters (docs/internals/encryption.md, "Search: keyed grams"). */
#define WP_GRAM_KEY_LEN 32
#define WP_GRAM_KEYED_LEN 13
int wp_grams__make_keyed(wp_buf *out, size_t *n, const char *text, size_t len, int query,
                         enum wp_grams_form form, const unsigned char *key);

/* Find the occurrences of q in text, comparing folded characters (as the grams do), left to
 * right without overlap. *out is a malloc'ed array of *n [start, end) byte offsets into text
 * (NULL when none; caller frees). Returns 0 or WP_ENOMEM. Invalid UTF-8 bytes compare as
 * themselves. */
int wp_grams__find(size_t (**out)[2], size_t *n, const char *text, size_t len, const char *q,
                   size_t qlen);

/* SQLite: a message's search key (messages.skey, unique, also its FTS5 rowid) sorts like its
 * time, so a search can walk a query's doclists newest first (ORDER BY rowid DESC) and stop
 * after a page. The high bits are the millisecond of ts_us (clamped to 0..2^42 - 1, about the
 * year 2109), the low WP_SKEY_LOW_BITS a number unique within that millisecond, given in
 * arrival order (never 0). Hence ts1 < ts2 implies group(ts1) <= group(ts2): the key orders
 * messages by time except within one millisecond, where the search sorts the whole group
 * itself (ops_messages.c). Migration 0007 gave existing rows their keys. */
#define WP_SKEY_LOW_BITS 21
#define WP_SKEY_GROUP_MAX ((INT64_C(1) << 42) - 1)

static inline int64_t wp_skey__group(int64_t ts_us)
{
    return ts_us < 0 ? 0 : ts_us / 1000 > WP_SKEY_GROUP_MAX ? WP_SKEY_GROUP_MAX : ts_us / 1000;
}

static inline int64_t wp_skey__group_first(int64_t group)
{
    return group << WP_SKEY_LOW_BITS;
}

static inline int64_t wp_skey__group_last(int64_t group)
{
    return (group << WP_SKEY_LOW_BITS) | ((INT64_C(1) << WP_SKEY_LOW_BITS) - 1);
}

#endif
