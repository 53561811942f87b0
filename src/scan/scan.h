/* SPDX-License-Identifier: MIT */
/* The compliance engine: lexicon (CONTRACT §2), normalization, multi-pattern matching,
 * PII detectors, verdict and masking (CONTRACT §3). No I/O, no logging, no globals that
 * change after start: a compiled scanner is immutable and shared by any number of threads. */
#ifndef WP_SCAN_H
#define WP_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

typedef struct wp_scanner wp_scanner;

/* Ordered by strength: the verdict of a text is the strongest of its matches. */
enum wp_scan_action {
    WP_SCAN_NONE = 0,
    WP_SCAN_MASK = 1,
    WP_SCAN_ALERT = 2,
    WP_SCAN_BLOCK = 3,
};

enum wp_scan_flags {
    WP_SCAN_NO_PII = 1 << 0,       /* no built-in PII detectors (`scan --no-pii`) */
    WP_SCAN_NO_NORMALIZE = 1 << 1, /* match raw bytes only (benchmarks: the engine alone) */
};

/* Limits; a lexicon past them is refused with WP_ELIMIT. */
#define WP_SCAN_MAX_LEXICON_BYTES (64u << 20)
#define WP_SCAN_MAX_PATTERNS 1000000u
#define WP_SCAN_MAX_PATTERN_BYTES 1024u

typedef struct wp_scan_options {
    unsigned flags;          /* enum wp_scan_flags */
    const char *source_name; /* file name used in error messages; NULL: "lexicon" */
} wp_scan_options;
#define WP_SCAN_OPTIONS_INIT {0, NULL}

/* Compile lexicon text (CONTRACT §2) into a scanner.
 * @param[out] out  the scanner, with one reference; untouched on failure
 * @param lex       lexicon text, len bytes, need not be NUL-terminated
 * @param opts      NULL for defaults
 * @return 0; WP_EINVAL with wp_error_last() = "<source>:<line>: <what is wrong>";
 *         WP_ELIMIT; WP_ENOMEM.
 * Caller owns the reference; release with wp_scanner_unref(). */
int wp_scan_compile(wp_scanner **out, const char *lex, size_t len, const wp_scan_options *opts);

/* Take one more reference to a scanner (thread-safe). Returns s. */
wp_scanner *wp_scanner_ref(wp_scanner *s);

/* Drop a reference; the last one frees the scanner. NULL is a no-op. Thread-safe. */
void wp_scanner_unref(wp_scanner *s);

/* Number of lexicon entries (patterns, regexes and allow entries) compiled in. */
size_t wp_scanner_pattern_count(const wp_scanner *s);

/* Bytes of memory held by the compiled scanner (automaton, tables, strings). */
size_t wp_scanner_memory(const wp_scanner *s);

/* One match. pattern and category are borrowed from the scanner (valid while the caller
 * holds a reference); start/end are byte offsets in the original text, end exclusive. */
typedef struct wp_scan_match {
    const char *pattern;  /* the lexicon pattern as written (with "re:"), or the detector name */
    const char *category; /* e.g. "private_deal", "pii.mobile" */
    enum wp_scan_action action;
    size_t start, end;
} wp_scan_match;

/* The result of one scan, reusable across scans (keeps its memory: no allocation per scan
 * once warm). Matches are sorted by start, then longer first. */
typedef struct wp_scan_result {
    wp_scan_match *matches;
    size_t n;
    enum wp_scan_action action; /* strongest action of the matches; WP_SCAN_NONE if none */
    void *scratch;              /* private to the engine */
} wp_scan_result;

void wp_scan_result_init(wp_scan_result *r);
void wp_scan_result_release(wp_scan_result *r);

/* Scan len bytes of text (any bytes; invalid UTF-8 is treated as noise) into r, replacing
 * what r held. Returns 0, WP_ELIMIT (text over 16 MiB) or WP_ENOMEM. Thread-safe for a
 * shared scanner as long as each thread uses its own r. */
int wp_scan_run(const wp_scanner *s, const char *text, size_t len, wp_scan_result *r);

/* Append to out the text with every matched slice replaced by one '*' per character
 * (per UTF-8 sequence; each invalid byte counts as one character). */
int wp_scan_mask(wp_buf *out, const char *text, size_t len, const wp_scan_result *r);

/* Append to out the normalized form of text that matching sees: folded (NFKC, case,
 * traditional to simplified, styled digits and letters) with noise removed.
 * @return 0, or WP_ELIMIT / WP_ENOMEM from out (what was appended stays).
 * Caller owns out. */
int wp_scan_normalize(wp_buf *out, const char *text, size_t len);

/* "none", "mask", "alert", "block". */
const char *wp_scan_action_name(enum wp_scan_action a);

/* A slot holding the current scanner of a tenant: readers get a reference without ever
 * waiting on a writer that compiles; a writer swaps a new scanner in atomically. */
typedef struct wp_scan_slot wp_scan_slot;

int wp_scan_slot_new(wp_scan_slot **out);
void wp_scan_slot_free(wp_scan_slot *slot);

/* A new reference to the current scanner, or NULL if none was set. Caller unrefs it. */
wp_scanner *wp_scan_slot_get(wp_scan_slot *slot);

/* Install s (the slot takes one new reference of its own); the old scanner is unreffed and
 * freed once the last scan in flight drops it. */
void wp_scan_slot_set(wp_scan_slot *slot, wp_scanner *s);

#endif
