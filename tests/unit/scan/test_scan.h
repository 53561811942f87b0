/* SPDX-License-Identifier: MIT */
/* Helpers shared by the files of the scan unit test binary. */
#ifndef WP_TEST_SCAN_H
#define WP_TEST_SCAN_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scan/scan.h"
#include "util/buf.h"
#include "util/error.h"

/* Compile lexicon text, failing the test with the engine's message on error. */
static inline wp_scanner *compile_ok(const char *lex, unsigned flags)
{
    wp_scan_options o = WP_SCAN_OPTIONS_INIT;
    o.flags = flags;
    wp_scanner *s = NULL;
    int err = wp_scan_compile(&s, lex, strlen(lex), &o);
    if (err != 0)
        fail_msg("compile failed (%d): %s", err, wp_error_last());
    assert_non_null(s);
    return s;
}

/* Compile lexicon text that must fail; returns the code, message in wp_error_last(). */
static inline int compile_err(const char *lex, size_t len, const char *source)
{
    wp_scan_options o = WP_SCAN_OPTIONS_INIT;
    o.source_name = source;
    wp_scanner *s = (wp_scanner *)(uintptr_t)0x1; /* must stay untouched */
    int err = wp_scan_compile(&s, lex, len, &o);
    assert_true(err < 0);
    assert_ptr_equal(s, (wp_scanner *)(uintptr_t)0x1);
    return err;
}

static inline void scan_ok(const wp_scanner *s, const char *text, wp_scan_result *r)
{
    int err = wp_scan_run(s, text, strlen(text), r);
    if (err != 0)
        fail_msg("scan failed (%d): %s", err, wp_error_last());
}

/* The index of the match with that pattern and span, or -1. */
static inline int find_match(const wp_scan_result *r, const char *pattern, size_t start,
                             size_t end)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->matches[i].pattern, pattern) && r->matches[i].start == start &&
            r->matches[i].end == end)
            return (int)i;
    return -1;
}

/* How many matches have that pattern (or category, for the PII detectors). */
static inline size_t count_pattern(const wp_scan_result *r, const char *pattern)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        n += !strcmp(r->matches[i].pattern, pattern);
    return n;
}

/* Print a result on failure, to see what went wrong. */
static inline void dump(const char *text, const wp_scan_result *r)
{
    fprintf(stderr, "text '%s': %zu matches, action %s\n", text, r->n,
            wp_scan_action_name(r->action));
    for (size_t i = 0; i < r->n; i++)
        fprintf(stderr, "  %s [%s] %s %zu..%zu '%.*s'\n", r->matches[i].pattern,
                r->matches[i].category, wp_scan_action_name(r->matches[i].action),
                r->matches[i].start, r->matches[i].end,
                (int)(r->matches[i].end - r->matches[i].start), text + r->matches[i].start);
}

/* Assert exactly one match, of that pattern and span. */
static inline void assert_one(const char *text, const wp_scan_result *r, const char *pattern,
                              size_t start, size_t end)
{
    if (r->n != 1 || find_match(r, pattern, start, end) != 0) {
        dump(text, r);
        fail_msg("expected exactly '%s' at %zu..%zu", pattern, start, end);
    }
}

/* The normalized form of text, in a static buffer (one at a time). */
static inline const char *norm(const char *text, size_t len)
{
    static char out[4096];
    wp_buf b;
    wp_buf_init(&b, sizeof out - 1);
    assert_int_equal(wp_scan_normalize(&b, text, len), 0);
    memcpy(out, b.buf, b.len + 1);
    wp_buf_release(&b);
    return out;
}
#define NORM(s) norm((s), sizeof(s) - 1)

/* The masked text of r, in a static buffer. */
static inline const char *masked(const char *text, size_t len, const wp_scan_result *r)
{
    static char out[4096];
    wp_buf b;
    wp_buf_init(&b, sizeof out - 1);
    assert_int_equal(wp_scan_mask(&b, text, len, r), 0);
    memcpy(out, b.buf, b.len + 1);
    wp_buf_release(&b);
    return out;
}

/* The test groups, one per file. */
extern const struct CMUnitTest scan_normalize_tests[];
extern const size_t scan_normalize_ntests;
extern const struct CMUnitTest scan_lexicon_tests[];
extern const size_t scan_lexicon_ntests;
extern const struct CMUnitTest scan_match_tests[];
extern const size_t scan_match_ntests;
extern const struct CMUnitTest scan_pii_tests[];
extern const size_t scan_pii_ntests;
extern const struct CMUnitTest scan_threads_tests[];
extern const size_t scan_threads_ntests;
extern const struct CMUnitTest scan_prefilter_tests[];
extern const size_t scan_prefilter_ntests;
extern const struct CMUnitTest scan_union_tests[];
extern const size_t scan_union_ntests;
extern const struct CMUnitTest scan_view_tests[];
extern const size_t scan_view_ntests;

#endif
