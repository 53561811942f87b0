/* SPDX-License-Identifier: MIT */
/* The union of a chain of lexicons (tenant, then org units): nearer levels win, and an allow:
 * entry of a unit never lifts a block set above it. */
#include "scan/union.h"
#include "scan/scan_int.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

void wp_scan_union_report_release(wp_scan_union_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->items[i].allow);
        free(r->items[i].blocked);
        free(r->items[i].blocked_label);
    }
    free(r->items);
    r->items = NULL;
    r->n = 0;
}

struct parsed {
    wp_lex_line *lines;
    size_t n;
    const char *text; /* without a BOM, for levels after the first */
    size_t len;
    uint32_t *dropped; /* line numbers of allow entries left out, ascending */
    size_t ndropped;
};

static char *dup_n(const char *s, size_t n)
{
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = '\0';
    }
    return c;
}

/* Every entry but the allow: ones, each with its level as its category, in chain order: the
 * entry in force for a pattern (the last) tells which level set it. */
static int tagged_lexicon(wp_buf *b, const struct parsed *p, size_t n)
{
    int err = 0;
    for (size_t i = 0; i < n && err == 0; i++)
        for (size_t k = 0; k < p[i].n && err == 0; k++) {
            const wp_lex_line *l = &p[i].lines[k];
            if (l->kind == WP_ENTRY_ALLOW)
                continue;
            if ((err = wp_buf_add(b, l->pattern, l->pattern_len)) == 0)
                err = wp_buf_addf(b, "\t%zu\t%s\n", i,
                                  wp_scan_action_name((enum wp_scan_action)l->action));
        }
    return err;
}

static int has_unit_allow(const struct parsed *p, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t k = 0; k < p[i].n; k++)
            if (p[i].lines[k].kind == WP_ENTRY_ALLOW)
                return 1;
    return 0;
}

static int add_lifted(wp_scan_union_report *rep, size_t level, const wp_lex_line *l,
                      const wp_scan_match *m, size_t blocked_level, const char *blocked_label)
{
    wp_scan_lifted *v = realloc(rep->items, (rep->n + 1) * sizeof *v);
    if (!v)
        return wp_error_set(WP_ENOMEM, "out of memory");
    rep->items = v;
    wp_scan_lifted *x = &v[rep->n];
    x->level = level;
    x->line = l->line;
    x->allow = dup_n(l->pattern, l->pattern_len);
    x->blocked = dup_n(m->pattern, strlen(m->pattern));
    x->blocked_level = blocked_level;
    x->blocked_label = blocked_label ? dup_n(blocked_label, strlen(blocked_label)) : NULL;
    rep->n++;
    if (!x->allow || !x->blocked || (blocked_label && !x->blocked_label))
        return wp_error_set(WP_ENOMEM, "out of memory");
    return 0;
}

/* Mark the allow entries of units that would lift a block set above them. */
static int find_lifted(struct parsed *p, const wp_scan_level *lv, size_t n,
                       wp_scan_union_report *rep)
{
    wp_buf tagged;
    wp_scanner *checker = NULL;
    wp_scan_result r;
    int err;

    wp_buf_init(&tagged, WP_SCAN_MAX_LEXICON_BYTES);
    wp_scan_result_init(&r);
    if ((err = tagged_lexicon(&tagged, p, n)) < 0)
        goto out;
    wp_scan_options opts = WP_SCAN_OPTIONS_INIT;
    opts.flags = WP_SCAN_NO_PII;
    opts.source_name = "lexicon union";
    if ((err = wp_scan_compile(&checker, tagged.buf, tagged.len, &opts)) < 0)
        goto out;
    for (size_t i = 1; i < n; i++) {
        for (size_t k = 0; k < p[i].n; k++) {
            const wp_lex_line *l = &p[i].lines[k];
            if (l->kind != WP_ENTRY_ALLOW)
                continue;
            if ((err = wp_scan_run(checker, l->body, l->body_len, &r)) < 0)
                goto out;
            for (size_t j = 0; j < r.n; j++) {
                const wp_scan_match *m = &r.matches[j];
                size_t set_by = strtoul(m->category, NULL, 10);
                if (m->action != WP_SCAN_BLOCK || set_by >= i)
                    continue;
                if (rep && (err = add_lifted(rep, i, l, m, set_by, lv[set_by].label)) < 0)
                    goto out;
                p[i].dropped[p[i].ndropped++] = l->line;
                break;
            }
        }
    }
out:
    wp_scan_result_release(&r);
    wp_scanner_unref(checker);
    wp_buf_release(&tagged);
    return err;
}

static int is_dropped(const struct parsed *p, uint32_t no)
{
    for (size_t i = 0; i < p->ndropped; i++)
        if (p->dropped[i] == no)
            return 1;
    return 0;
}

/* The level's text with its dropped lines turned into comments. */
static int emit(wp_buf *out, const struct parsed *p, const wp_scan_union_report *rep,
                size_t level)
{
    const char *s = p->text, *end = p->text + p->len;
    int err = 0;
    for (uint32_t no = 1; s < end && err == 0; no++) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *le = nl ? nl : end;
        if (p->ndropped && is_dropped(p, no)) {
            const char *blocked = "";
            for (size_t i = 0; rep && i < rep->n; i++)
                if (rep->items[i].level == level && rep->items[i].line == no)
                    blocked = rep->items[i].blocked;
            const char *e = le;
            while (e > s && e[-1] == '\r')
                e--;
            if ((err = wp_buf_addf(out, "# not applied (would lift the block of '%s' set above): ",
                                   blocked)) == 0)
                err = wp_buf_add(out, s, (size_t)(e - s));
        } else {
            err = wp_buf_add(out, s, (size_t)(le - s));
        }
        if (err == 0)
            err = wp_buf_addc(out, '\n');
        s = nl ? nl + 1 : end;
    }
    return err;
}

int wp_scan_union(wp_buf *out, wp_scan_union_report *rep, const wp_scan_level *levels, size_t n)
{
    struct parsed *p = calloc(n ? n : 1, sizeof *p);
    wp_scan_union_report mine = {NULL, 0};
    int err = 0;

    if (!p)
        return wp_error_set(WP_ENOMEM, "out of memory");
    if (!rep)
        rep = &mine;
    for (size_t i = 0; i < n && err == 0; i++) {
        p[i].text = levels[i].text;
        p[i].len = levels[i].len;
        if (i > 0 && p[i].len >= 3 && !memcmp(p[i].text, "\xEF\xBB\xBF", 3)) {
            p[i].text += 3;
            p[i].len -= 3;
        }
        const char *src = levels[i].label ? levels[i].label : "lexicon";
        if ((err = wp_scan__lex_parse(&p[i].lines, &p[i].n, p[i].text, p[i].len, src)) < 0)
            break;
        if (p[i].n && !(p[i].dropped = malloc(p[i].n * sizeof *p[i].dropped)))
            err = wp_error_set(WP_ENOMEM, "out of memory");
    }
    if (err == 0 && has_unit_allow(p, n))
        err = find_lifted(p, levels, n, rep);
    for (size_t i = 0; i < n && err == 0; i++) {
        if (i > 0 && levels[i].label)
            err = wp_buf_addf(out, "# ---- %s\n", levels[i].label);
        if (err == 0)
            err = emit(out, &p[i], rep, i);
    }
    for (size_t i = 0; i < n; i++) {
        free(p[i].lines);
        free(p[i].dropped);
    }
    free(p);
    wp_scan_union_report_release(&mine);
    return err;
}
