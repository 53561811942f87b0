/* SPDX-License-Identifier: MIT */
/* The lexicon file format (CONTRACT §2): PATTERN [TAB CATEGORY [TAB ACTION]] per line. */
#include "scan/scan_int.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_CATEGORY_BYTES 256u

static bool valid_utf8(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = wp_utf8_decode(p + i, len - i, &cp);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

static bool has_control(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            return true;
    return false;
}

static int parse_action(const char *s, size_t len, uint8_t *out)
{
    static const struct {
        const char *name;
        enum wp_scan_action a;
    } names[] = {{"alert", WP_SCAN_ALERT}, {"block", WP_SCAN_BLOCK}, {"mask", WP_SCAN_MASK}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (len == strlen(names[i].name) && !strncasecmp(s, names[i].name, len)) {
            *out = (uint8_t)names[i].a;
            return 0;
        }
    }
    return -1;
}

/* Parse one non-comment line into *l; WP_EINVAL/WP_ELIMIT with the message set. */
static int parse_line(wp_lex_line *l, const char *s, size_t len, const char *src, uint32_t no)
{
    const char *f[3];
    size_t flen[3], nf = 0;
    const char *p = s, *end = s + len;
    if (memchr(s, '\0', len))
        return wp_error_set(WP_EINVAL, "%s:%u: nul byte in line", src, no);
    for (;;) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        const char *fe = tab ? tab : end;
        if (nf == 3)
            return wp_error_set(WP_EINVAL,
                                "%s:%u: too many fields (pattern, category, action at most)",
                                src, no);
        f[nf] = p;
        flen[nf++] = (size_t)(fe - p);
        if (!tab)
            break;
        p = tab + 1;
    }
    /* spaces around a category or an action are layout, not content */
    for (size_t i = 1; i < nf; i++) {
        while (flen[i] > 0 && f[i][0] == ' ')
            f[i]++, flen[i]--;
        while (flen[i] > 0 && f[i][flen[i] - 1] == ' ')
            flen[i]--;
    }
    memset(l, 0, sizeof *l);
    l->line = no;
    l->action = WP_SCAN_ALERT;
    l->pattern = f[0];
    l->pattern_len = flen[0];
    if (flen[0] == 0)
        return wp_error_set(WP_EINVAL, "%s:%u: empty pattern", src, no);
    if (!valid_utf8(f[0], flen[0]))
        return wp_error_set(WP_EINVAL, "%s:%u: invalid utf-8 in pattern", src, no);
    if (nf > 1 && flen[1] > 0) {
        if (!valid_utf8(f[1], flen[1]) || has_control(f[1], flen[1]))
            return wp_error_set(WP_EINVAL, "%s:%u: invalid utf-8 or control character in category",
                                src, no);
        if (flen[1] > MAX_CATEGORY_BYTES)
            return wp_error_set(WP_EINVAL, "%s:%u: category longer than %u bytes", src, no,
                                MAX_CATEGORY_BYTES);
        l->category = f[1];
        l->category_len = flen[1];
    }
    if (nf > 2 && parse_action(f[2], flen[2], &l->action) < 0) {
        int shown = flen[2] > 40 ? 40 : (int)flen[2];
        if (!valid_utf8(f[2], flen[2]) || has_control(f[2], flen[2]))
            return wp_error_set(WP_EINVAL, "%s:%u: unknown action (alert, block or mask)", src,
                                no);
        return wp_error_set(WP_EINVAL, "%s:%u: unknown action '%.*s' (alert, block or mask)",
                            src, no, shown, f[2]);
    }
    l->body = f[0];
    l->body_len = flen[0];
    l->kind = WP_ENTRY_LITERAL;
    if (flen[0] >= 3 && !memcmp(f[0], "re:", 3)) {
        l->kind = WP_ENTRY_REGEX;
        l->body += 3;
        l->body_len -= 3;
    } else if (flen[0] >= 6 && !memcmp(f[0], "allow:", 6)) {
        l->kind = WP_ENTRY_ALLOW;
        l->body += 6;
        l->body_len -= 6;
    }
    if (l->body_len == 0)
        return wp_error_set(WP_EINVAL, "%s:%u: empty %s", src, no,
                            l->kind == WP_ENTRY_REGEX ? "regex" : "allow pattern");
    if (l->body_len > WP_SCAN_MAX_PATTERN_BYTES)
        return wp_error_set(WP_ELIMIT, "%s:%u: pattern longer than %u bytes", src, no,
                            WP_SCAN_MAX_PATTERN_BYTES);
    return 0;
}

int wp_scan__lex_parse(wp_lex_line **out, size_t *n, const char *lex, size_t len,
                       const char *src)
{
    if (len > WP_SCAN_MAX_LEXICON_BYTES)
        return wp_error_set(WP_ELIMIT, "%s: lexicon larger than %u bytes", src,
                            WP_SCAN_MAX_LEXICON_BYTES);
    wp_lex_line *lines = NULL;
    size_t nl = 0, cap = 0;
    int err = 0;
    const char *p = lex, *end = lex + len;
    if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
        p += 3;
    for (uint32_t no = 1; p < end; no++) {
        const char *nlp = memchr(p, '\n', (size_t)(end - p));
        const char *le = nlp ? nlp : end;
        const char *next = nlp ? nlp + 1 : end;
        /* CRLF, and trailing blanks that editors leave, are not part of the last field */
        while (le > p && (le[-1] == '\r' || le[-1] == ' ' || le[-1] == '\t'))
            le--;
        if (le == p || *p == '#') {
            p = next;
            continue;
        }
        if (nl == WP_SCAN_MAX_PATTERNS) {
            err = wp_error_set(WP_ELIMIT, "%s:%u: more than %u patterns", src, no,
                               WP_SCAN_MAX_PATTERNS);
            goto out;
        }
        if (nl == cap) {
            size_t nc = cap ? cap * 2 : 64;
            wp_lex_line *t = realloc(lines, nc * sizeof *t);
            if (!t) {
                err = wp_error_set(WP_ENOMEM, "out of memory");
                goto out;
            }
            lines = t;
            cap = nc;
        }
        if ((err = parse_line(&lines[nl], p, (size_t)(le - p), src, no)) < 0)
            goto out;
        nl++;
        p = next;
    }
out:
    if (err < 0) {
        free(lines);
        return err;
    }
    *out = lines;
    *n = nl;
    return 0;
}
