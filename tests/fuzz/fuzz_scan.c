/* SPDX-License-Identifier: MIT */
/* libFuzzer target: scan and mask arbitrary bytes with a fixed or a fuzzed lexicon, checking
 * the invariants of fuzz_check.h.
 *
 * Input layout: byte 0 is a mode byte; bit 0 sets WP_SCAN_NO_PII, bit 1 WP_SCAN_NO_NORMALIZE,
 * bit 2 asks for a fuzzed lexicon. Without it the rest of the input is the text, scanned with
 * a fixed lexicon compiled once per flag set. With it, byte 1 is a length L, the next L bytes
 * are the lexicon and the rest is the text; a lexicon that does not compile ends the run. */
#include "fuzz_check.h"
#include "scan/scan.h"
#include "util/error.h"

#include <stddef.h>
#include <stdint.h>

/* Literals in Chinese and Latin, each of two a prefix of a longer one, with a weaker action
 * (保本 in 保本保息) and with a stronger one (a in abc); a single letter (dense, overlapping
 * matches); regexes with repetition and lookbehind; allow entries containing a pattern. */
static const struct entry {
    const char *pattern, *category, *action; /* category NULL: an allow entry */
} fixed[] = {
    {"飞单", "private_deal", "block"},
    {"私单", "private_deal", "alert"},
    {"保本保息", "false_promise", "block"},
    {"保本", "false_promise", "alert"},
    {"加我vx", "contact_leak", "alert"},
    {"回扣", "rebate", "alert"},
    {"abc", "test", "mask"},
    {"a", "test", "block"},
    {"re:返[0-9]{1,2}个点", "rebate", "alert"},
    {"re:(ab|a)+c", "test", "alert"},
    {"re:(?<!不)保证(收益|回报)", "false_promise", "alert"},
    {"allow:严禁飞单", NULL, NULL},
    {"allow:退回扣款", NULL, NULL},
    {"allow:不保本", NULL, NULL},
};
#define NFIXED (sizeof fixed / sizeof fixed[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static wp_scanner *fixed_scanner(unsigned flags)
{
    static wp_scanner *cache[4];
    if (!cache[flags]) {
        wp_buf lex;
        wp_buf_init(&lex, 4096);
        int rc = wp_buf_adds(&lex, "# fuzz_scan's fixed lexicon\n");
        for (size_t i = 0; rc == 0 && i < NFIXED; i++)
            rc = fixed[i].category ? wp_buf_addf(&lex, "%s\t%s\t%s\n", fixed[i].pattern,
                                                 fixed[i].category, fixed[i].action)
                                   : wp_buf_addf(&lex, "%s\n", fixed[i].pattern);
        FUZZ_ASSERT(rc == 0, "building the fixed lexicon");
        wp_scan_options o = WP_SCAN_OPTIONS_INIT;
        o.flags = flags;
        o.source_name = "fixed";
        rc = wp_scan_compile(&cache[flags], lex.buf, lex.len, &o);
        FUZZ_ASSERT(rc == 0, "the fixed lexicon does not compile: %d %s", rc, wp_error_last());
        FUZZ_ASSERT(wp_scanner_pattern_count(cache[flags]) == NFIXED, "%zu entries",
                    wp_scanner_pattern_count(cache[flags]));
        wp_buf_release(&lex);
    }
    return cache[flags];
}

static bool is_literal(const struct entry *e)
{
    return e->category && strncmp(e->pattern, "re:", 3) != 0;
}

/* Whether text[p, p + len) lies inside an occurrence of an allow entry. */
static bool allowed(const char *text, size_t tlen, size_t p, size_t len)
{
    for (size_t i = 0; i < NFIXED; i++) {
        if (fixed[i].category)
            continue;
        const char *a = fixed[i].pattern + 6;
        size_t alen = strlen(a);
        for (size_t q = p + len >= alen ? p + len - alen : 0; q <= p && q + alen <= tlen; q++)
            if (memcmp(text + q, a, alen) == 0)
                return true;
    }
    return false;
}

static enum wp_scan_action action_of(const char *name)
{
    return strcmp(name, "block") == 0  ? WP_SCAN_BLOCK
           : strcmp(name, "mask") == 0 ? WP_SCAN_MASK
                                       : WP_SCAN_ALERT;
}

/* With WP_SCAN_NO_NORMALIZE a literal matches its own bytes and nothing else, and every
 * occurrence of it outside an allow entry is accounted for: reported, or covered by a longer
 * literal match at the same start with an action at least as strong (the engine keeps one
 * match per start and action, so 保本 may give way to 保本保息, never a block to an alert). */
static void check_raw_literals(const char *text, size_t len, const wp_scan_result *r)
{
    for (size_t i = 0; i < r->n; i++) {
        const wp_scan_match *m = &r->matches[i];
        if (strncmp(m->pattern, "re:", 3) == 0 || strncmp(m->category, "pii.", 4) == 0)
            continue;
        size_t plen = strlen(m->pattern);
        FUZZ_ASSERT(m->end - m->start == plen && memcmp(text + m->start, m->pattern, plen) == 0,
                    "raw match of '%s' at [%zu,%zu) is other bytes", m->pattern, m->start, m->end);
    }
    for (size_t k = 0; k < NFIXED; k++) {
        if (!is_literal(&fixed[k]))
            continue;
        const char *lit = fixed[k].pattern;
        size_t l = strlen(lit);
        for (size_t p = 0; p + l <= len; p++) {
            if (memcmp(text + p, lit, l) != 0 || allowed(text, len, p, l))
                continue;
            enum wp_scan_action want = action_of(fixed[k].action);
            bool found = false;
            for (size_t i = 0; i < r->n && !found; i++) {
                const wp_scan_match *m = &r->matches[i];
                if (m->start != p || strncmp(m->pattern, "re:", 3) == 0 ||
                    strncmp(m->category, "pii.", 4) == 0)
                    continue;
                found = (m->end == p + l && strcmp(m->pattern, lit) == 0) ||
                        (m->end > p + l && m->action >= want);
            }
            FUZZ_ASSERT(found, "'%s' at [%zu,%zu) is neither reported nor covered", lit, p, p + l);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0] & 3u;
    bool fuzzed = data[0] & 4u;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    wp_scanner *own = NULL;
    const wp_scanner *s;

    if (fuzzed) {
        if (len < 1 || (size_t)data[1] > len - 1)
            return 0;
        size_t lexlen = data[1];
        wp_scan_options o = WP_SCAN_OPTIONS_INIT;
        o.flags = flags;
        int rc = wp_scan_compile(&own, (const char *)data + 2, lexlen, &o);
        fuzz_lexicon_names_pii = fuzz_mentions_pii(data + 2, lexlen);
        if (rc < 0) {
            FUZZ_ASSERT(rc == WP_EINVAL || rc == WP_ELIMIT, "compile returned %d: %s", rc,
                        wp_error_last());
            return 0;
        }
        s = own;
        text = (const char *)data + 2 + lexlen;
        len -= 1 + lexlen;
    } else {
        s = fixed_scanner(flags);
        fuzz_lexicon_names_pii = false;
    }

    wp_scan_result r;
    wp_scan_result_init(&r);
    fuzz_scan_and_check(s, flags, text, len, &r);
    if (!fuzzed && (flags & WP_SCAN_NO_NORMALIZE))
        check_raw_literals(text, len, &r);
    /* The result keeps its memory across scans: scan a prefix into it, then the whole text. */
    fuzz_scan_and_check(s, flags, text, len / 2, &r);
    fuzz_scan_and_check(s, flags, text, len, &r);
    wp_scan_result_release(&r);
    wp_scanner_unref(own);
    return 0;
}
