/* SPDX-License-Identifier: MIT */
/* The lexicon that applies under a chain of lexicons: the tenant's, then those of the org
 * units down to the nearest (docs/internals/scan.md, "Lexicons per org unit"). */
#ifndef WP_SCAN_UNION_H
#define WP_SCAN_UNION_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* One lexicon of a chain (CONTRACT §2 text). */
typedef struct wp_scan_level {
    const char *text; /* len bytes, need not be NUL-terminated */
    size_t len;
    const char *label; /* the comment line before the level's lines ("org unit <id>"); NULL: none */
} wp_scan_level;

/* An allow: entry of a unit's lexicon that the union leaves out, because a match of a block
 * entry set above it (by a level nearer the top) lies inside its text. */
typedef struct wp_scan_lifted {
    size_t level;        /* index of its lexicon in the chain (>= 1) */
    uint32_t line;       /* its line in that lexicon's text */
    char *allow;         /* the entry as written ("allow:..."), malloc */
    char *blocked;       /* the pattern of the block entry it would lift, as written, malloc */
    size_t blocked_level; /* the level that set that block (< level) */
    char *blocked_label;  /* that level's label, malloc; NULL when it has none */
} wp_scan_lifted;

typedef struct wp_scan_union_report {
    wp_scan_lifted *items;
    size_t n;
} wp_scan_union_report;

void wp_scan_union_report_release(wp_scan_union_report *r);

/* Append to out the one lexicon text that applies under levels[0..n) (levels[0] the tenant's,
 * each next one an org unit below the one before):
 *  - every entry of every level, in order, levels[i] after a comment line "# ---- <label>", so
 *    that where two levels list a pattern the nearer one (the later line) wins (CONTRACT §2
 *    duplicates: the last line wins);
 *  - except each allow: entry of a level i >= 1 whose text holds a match of a block entry that
 *    is in force in the union and was set by a level above i: that line is written as the
 *    comment "# not applied (would lift the block of '<pattern>' set above): <line>", so a
 *    unit's exception never lifts a block set above it. Allow entries of levels[0] all stay.
 * Comments and blank lines are copied; a UTF-8 BOM that starts a level other than the first is
 * dropped. The result compiles with wp_scan_compile whenever each level does (and the sum is
 * within the engine's limits).
 * @param[out] out  appended to; what was appended stays on failure
 * @param[out] rep  the allow entries left out (may be NULL); release with _report_release
 * @return 0; WP_EINVAL naming "<label>:<line>" of a level that does not parse; WP_ELIMIT;
 *         WP_ENOMEM.
 * Caller owns out and rep. */
int wp_scan_union(wp_buf *out, wp_scan_union_report *rep, const wp_scan_level *levels, size_t n);

#endif
