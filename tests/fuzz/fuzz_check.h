/* SPDX-License-Identifier: MIT */
/* Invariants of a scan result and of its masked text, shared by the fuzz targets: on a broken
 * invariant they print what broke and abort(), which libFuzzer records as a crash. */
#ifndef WP_FUZZ_CHECK_H
#define WP_FUZZ_CHECK_H

#include "scan/scan.h"
#include "util/buf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(cond, ...)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz invariant broken at %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF), or 0 when the byte at s starts none. Written out here rather than
 * taken from the engine so that the check does not share the engine's mistakes. */
static inline size_t fuzz_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    if (c < 0xc2 || c > 0xf4)
        return 0;
    size_t len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (n < len)
        return 0;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* bound[i] is true when offset i starts a character (a sequence or an invalid byte), for
 * 0 <= i <= len. Caller frees. */
static inline bool *fuzz_char_bounds(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    bool *bound = calloc(len + 1, sizeof *bound);
    FUZZ_ASSERT(bound != NULL, "out of memory");
    for (size_t i = 0; i < len;) {
        size_t l = fuzz_utf8_len(s + i, len - i);
        bound[i] = true;
        i += l ? l : 1;
    }
    bound[len] = true;
    return bound;
}

/* The result of scanning text: offsets in range and on character boundaries, matches sorted
 * (by start, then longer first), well-formed actions, and the verdict the strongest action. */
/* Set by a target when the lexicon it compiled holds the text "pii." anywhere. */
static bool fuzz_lexicon_names_pii;

static inline bool fuzz_mentions_pii(const void *lex, size_t len)
{
    return memmem(lex, len, "pii.", 4) != NULL;
}

static inline void fuzz_check_result(const char *text, size_t len, const wp_scan_result *r,
                                     unsigned flags)
{
    bool *bound = fuzz_char_bounds(text, len);
    enum wp_scan_action strongest = WP_SCAN_NONE;
    FUZZ_ASSERT(r->n == 0 || r->matches != NULL, "n=%zu", r->n);
    for (size_t i = 0; i < r->n; i++) {
        const wp_scan_match *m = &r->matches[i];
        FUZZ_ASSERT(m->pattern != NULL && m->category != NULL, "match %zu", i);
        FUZZ_ASSERT(m->action >= WP_SCAN_MASK && m->action <= WP_SCAN_BLOCK, "action %d",
                    (int)m->action);
        FUZZ_ASSERT(m->start < m->end && m->end <= len, "match %zu: [%zu,%zu) of %zu", i, m->start,
                    m->end, len);
        FUZZ_ASSERT(bound[m->start] && bound[m->end], "match %zu [%zu,%zu) cuts a UTF-8 sequence",
                    i, m->start, m->end);
        /* A lexicon may name its own categories "pii.*" with any action: only the built-in
         * detectors (whose pattern is their category) must mask. */
        if (strncmp(m->category, "pii.", 4) == 0 && !fuzz_lexicon_names_pii) {
            FUZZ_ASSERT(!(flags & WP_SCAN_NO_PII), "PII match '%s' with WP_SCAN_NO_PII",
                        m->category);
            FUZZ_ASSERT(m->action == WP_SCAN_MASK, "PII match action %d", (int)m->action);
        }
        if (i > 0) {
            const wp_scan_match *p = &r->matches[i - 1];
            FUZZ_ASSERT(p->start < m->start || (p->start == m->start && p->end >= m->end),
                        "matches %zu [%zu,%zu) and %zu [%zu,%zu) out of order", i - 1, p->start,
                        p->end, i, m->start, m->end);
        }
        if (m->action > strongest)
            strongest = m->action;
    }
    FUZZ_ASSERT(r->action == strongest, "verdict %d, strongest match %d", (int)r->action,
                (int)strongest);
    free(bound);
}

/* wp_scan_mask() must give the text with the union of the matched slices replaced by one '*'
 * per character: the expected output is rebuilt here independently and compared byte for
 * byte. */
static inline void fuzz_check_mask(const char *text, size_t len, const wp_scan_result *r)
{
    bool *covered = calloc(len + 1, sizeof *covered);
    FUZZ_ASSERT(covered != NULL, "out of memory");
    for (size_t i = 0; i < r->n; i++)
        for (size_t j = r->matches[i].start; j < r->matches[i].end; j++)
            covered[j] = true;

    char *want = malloc(len + 1);
    FUZZ_ASSERT(want != NULL, "out of memory");
    size_t wlen = 0;
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        size_t l = fuzz_utf8_len(s + i, len - i);
        if (!l)
            l = 1;
        if (covered[i]) {
            want[wlen++] = '*';
        } else {
            memcpy(want + wlen, text + i, l);
            wlen += l;
        }
        i += l;
    }

    wp_buf out;
    wp_buf_init(&out, 4 * len + 64);
    int rc = wp_scan_mask(&out, text, len, r);
    FUZZ_ASSERT(rc == 0, "wp_scan_mask returned %d", rc);
    FUZZ_ASSERT(out.len == wlen && memcmp(out.buf, want, wlen) == 0,
                "masked text differs: got %zu bytes, want %zu", out.len, wlen);
    FUZZ_ASSERT(out.buf[out.len] == '\0', "masked buffer not NUL-terminated");

    /* Appending keeps what the buffer held. */
    wp_buf_reset(&out);
    rc = wp_buf_adds(&out, "<");
    FUZZ_ASSERT(rc == 0, "wp_buf_adds");
    rc = wp_scan_mask(&out, text, len, r);
    FUZZ_ASSERT(rc == 0 && out.len == wlen + 1 && out.buf[0] == '<' &&
                    memcmp(out.buf + 1, want, wlen) == 0,
                "wp_scan_mask does not append");
    wp_buf_release(&out);
    free(want);
    free(covered);
}

/* Scanning is deterministic, and a result reused across scans gives what a fresh one gives. */
static inline void fuzz_check_rescan(const wp_scanner *s, const char *text, size_t len,
                                     const wp_scan_result *first)
{
    wp_scan_result again;
    wp_scan_result_init(&again);
    int rc = wp_scan_run(s, text, len, &again);
    FUZZ_ASSERT(rc == 0, "second scan returned %d", rc);
    FUZZ_ASSERT(again.n == first->n && again.action == first->action,
                "second scan: %zu matches, action %d; first: %zu, %d", again.n, (int)again.action,
                first->n, (int)first->action);
    for (size_t i = 0; i < again.n; i++) {
        const wp_scan_match *a = &first->matches[i], *b = &again.matches[i];
        FUZZ_ASSERT(a->start == b->start && a->end == b->end && a->action == b->action &&
                        strcmp(a->pattern, b->pattern) == 0 &&
                        strcmp(a->category, b->category) == 0,
                    "match %zu differs between two scans of the same text", i);
    }
    wp_scan_result_release(&again);
}

/* Scan text with s into r (which may hold an earlier result) and check everything above. */
static inline void fuzz_scan_and_check(const wp_scanner *s, unsigned flags, const char *text,
                                       size_t len, wp_scan_result *r)
{
    int rc = wp_scan_run(s, text, len, r);
    FUZZ_ASSERT(rc == 0, "wp_scan_run returned %d on %zu bytes", rc, len);
    fuzz_check_result(text, len, r, flags);
    fuzz_check_mask(text, len, r);
    fuzz_check_rescan(s, text, len, r);
}

#endif
