/* SPDX-License-Identifier: MIT */
/* Build-time generator of the folding table (fold.h): runs utf8proc (NFKC, case folding,
 * mark stripping, lumping) and OpenCC t2s on every codepoint once and writes fold_table.c,
 * so the engine never calls either library on its hot path.
 * Usage: fold_gen OUT.c [T2S_CONFIG] */
#include <opencc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "fold.h"

#define NCP 0x110000
#define MAXSEQ 16 /* working length while folding; longer results stay unfolded */

typedef struct {
    int n;
    int32_t cp[MAXSEQ];
} seq;

static seq *folds;          /* the folded sequence of every codepoint, noise removed */
static unsigned char *klass; /* enum wp_fold_class of every codepoint */
static unsigned char *noise;
static opencc_t t2s;

static int is_noise_cat(int32_t cp)
{
    const utf8proc_property_t *p = utf8proc_get_property(cp);
    if (p->ignorable)
        return 1;
    switch (p->category) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return 0;
    default:
        return 1;
    }
}

static int is_space(int32_t cp)
{
    int c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP ||
           (cp >= 9 && cp <= 13) || cp == 0x85;
}

/* Letters that look exactly like Latin ones, used to dodge "vx", "qq", ... */
static int32_t confusable(int32_t cp)
{
    static const int32_t map[][2] = {
        {0x0430, 'a'}, {0x0435, 'e'}, {0x043E, 'o'}, {0x0440, 'p'}, {0x0441, 'c'},
        {0x0443, 'y'}, {0x0445, 'x'}, {0x0455, 's'}, {0x0456, 'i'}, {0x0458, 'j'},
        {0x04BB, 'h'}, {0x04CF, 'l'}, {0x0501, 'd'}, {0x051B, 'q'}, {0x051D, 'w'},
        {0x0475, 'v'}, {0x03BF, 'o'}, {0x03BD, 'v'},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i][0] == cp)
            return map[i][1];
    return cp;
}

/* Styled numbers and letters that have no compatibility decomposition in Unicode. */
static int styled(int32_t cp, seq *out)
{
    int v = -1, letter = -1;
    if (cp >= 0x2776 && cp <= 0x277F)
        v = (int)(cp - 0x2776 + 1);
    else if (cp >= 0x2780 && cp <= 0x2789)
        v = (int)(cp - 0x2780 + 1);
    else if (cp >= 0x278A && cp <= 0x2793)
        v = (int)(cp - 0x278A + 1);
    else if (cp >= 0x24EB && cp <= 0x24F4)
        v = (int)(cp - 0x24EB + 11);
    else if (cp >= 0x24F5 && cp <= 0x24FE)
        v = (int)(cp - 0x24F5 + 1);
    else if (cp == 0x24FF || cp == 0x1F10B || cp == 0x1F10C)
        v = 0;
    else if (cp >= 0x3248 && cp <= 0x324F)
        v = (int)(cp - 0x3248 + 1) * 10;
    else if (cp >= 0x1F150 && cp <= 0x1F169)
        letter = (int)(cp - 0x1F150);
    else if (cp >= 0x1F170 && cp <= 0x1F189)
        letter = (int)(cp - 0x1F170);
    if (letter >= 0) {
        out->n = 1;
        out->cp[0] = 'a' + letter;
        return 1;
    }
    if (v < 0)
        return 0;
    out->n = 0;
    if (v >= 10)
        out->cp[out->n++] = '0' + v / 10;
    out->cp[out->n++] = '0' + v % 10;
    return 1;
}

static int32_t decode1(const unsigned char *s, utf8proc_ssize_t len, utf8proc_ssize_t *used)
{
    utf8proc_int32_t cp;
    *used = utf8proc_iterate(s, len, &cp);
    return *used > 0 ? cp : -1;
}

static int32_t to_simplified(int32_t cp)
{
    unsigned char buf[8];
    utf8proc_ssize_t n = utf8proc_encode_char(cp, buf), used;
    char *o = opencc_convert_utf8(t2s, (const char *)buf, (size_t)n);
    if (!o)
        return cp;
    int32_t r = decode1((const unsigned char *)o, (utf8proc_ssize_t)strlen(o), &used);
    if (r < 0 || o[used] != '\0')
        r = cp;
    opencc_convert_utf8_free(o);
    return r;
}

/* One round of folding of one codepoint, noise kept (it is needed to class the noise). */
static void fold1(int32_t cp, seq *out)
{
    out->n = 0;
    if (cp >= 0xD800 && cp <= 0xDFFF) {
        out->cp[out->n++] = cp;
        return;
    }
    if (styled(cp, out))
        return;
    unsigned char buf[8];
    utf8proc_ssize_t n = utf8proc_encode_char(cp, buf);
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t m = utf8proc_map(buf, n, &dst,
                                      UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
                                          UTF8PROC_STRIPMARK | UTF8PROC_LUMP);
    if (m < 0) {
        out->cp[out->n++] = cp;
        return;
    }
    for (utf8proc_ssize_t i = 0; i < m;) {
        utf8proc_ssize_t used;
        int32_t c = decode1(dst + i, m - i, &used);
        if (c < 0)
            break;
        i += used;
        c = confusable(c);
        if (utf8proc_category(c) == UTF8PROC_CATEGORY_LO && c >= 0x2E80)
            c = to_simplified(c);
        if (out->n < MAXSEQ)
            out->cp[out->n++] = c;
    }
    free(dst);
}

static int digit_value[NCP];

static void fold_digits(seq *s)
{
    for (int i = 0; i < s->n; i++)
        if (s->cp[i] >= 0 && s->cp[i] < NCP && digit_value[s->cp[i]] >= 0)
            s->cp[i] = '0' + digit_value[s->cp[i]];
}

static unsigned char class_of_folded(int32_t c)
{
    if (c >= '0' && c <= '9')
        return (unsigned char)(WP_FC_DIGIT0 + (c - '0'));
    if (c == 'x')
        return WP_FC_X;
    if (c >= 'a' && c <= 'z')
        return WP_FC_LETTER;
    return WP_FC_OTHER;
}

static unsigned char class_of_noise(int32_t cp, const seq *raw)
{
    if (raw->n == 1) {
        int32_t c = raw->cp[0];
        if (c == '@')
            return WP_FC_AT;
        if (c == '.' || c == 0x3002)
            return WP_FC_DOT;
        if (c == '-')
            return WP_FC_HYPHEN;
        if (c == '_' || c == '%' || c == '+')
            return WP_FC_EMAILSYM;
    }
    if (is_space(cp) || (raw->n == 1 && raw->cp[0] == ' '))
        return WP_FC_SPACE;
    int cat = utf8proc_category(cp);
    if (raw->n == 0 || utf8proc_get_property(cp)->ignorable || cat == UTF8PROC_CATEGORY_CF ||
        cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC || cat == UTF8PROC_CATEGORY_ME)
        return WP_FC_INVIS;
    return WP_FC_BREAK;
}

static void compute(void)
{
    /* Decimal digits of every script come in runs of ten, zero first. */
    int prev = -2;
    for (int32_t cp = 0; cp < NCP; cp++) {
        digit_value[cp] = -1;
        if (utf8proc_category(cp) == UTF8PROC_CATEGORY_ND) {
            digit_value[cp] = (prev >= 0 && digit_value[cp - 1] >= 0) ? (digit_value[cp - 1] + 1) % 10
                                                                      : 0;
            prev = cp;
        }
    }
    seq raw;
    for (int32_t cp = 0; cp < NCP; cp++) {
        fold1(cp, &raw);
        fold_digits(&raw);
        seq *f = &folds[cp];
        f->n = 0;
        for (int i = 0; i < raw.n; i++)
            if (!is_noise_cat(raw.cp[i]))
                f->cp[f->n++] = raw.cp[i];
        /* A letter or digit is never noise, even when its fold would drop it. */
        if (f->n == 0 && !is_noise_cat(cp)) {
            f->n = 1;
            f->cp[0] = cp;
        }
        noise[cp] = f->n == 0 || (cp >= 0xD800 && cp <= 0xDFFF);
        klass[cp] = noise[cp] ? class_of_noise(cp, &raw) : 0;
    }
    /* Make the fold idempotent: fold what the fold produced until nothing changes. */
    for (int round = 0; round < 6; round++) {
        int changed = 0;
        for (int32_t cp = 0; cp < NCP; cp++) {
            if (noise[cp])
                continue;
            seq *f = &folds[cp], next = {0, {0}};
            int same = 1;
            for (int i = 0; i < f->n; i++) {
                const seq *g = &folds[f->cp[i]];
                if (noise[f->cp[i]]) {
                    same = 0;
                    continue;
                }
                if (!(g->n == 1 && g->cp[0] == f->cp[i]))
                    same = 0;
                for (int j = 0; j < g->n && next.n < MAXSEQ; j++)
                    next.cp[next.n++] = g->cp[j];
            }
            if (!same && next.n > 0) {
                *f = next;
                changed = 1;
            }
        }
        if (!changed)
            break;
    }
}

static uint32_t *entries;
static uint32_t *exp_tab;
static size_t exp_len, exp_cap;

static uint32_t add_exp(const seq *f)
{
    if (exp_len + (size_t)f->n + 1 > exp_cap) {
        exp_cap = exp_cap ? exp_cap * 2 : 4096;
        exp_tab = realloc(exp_tab, exp_cap * sizeof *exp_tab);
        if (!exp_tab)
            abort();
    }
    uint32_t at = (uint32_t)exp_len;
    exp_tab[exp_len++] = (uint32_t)f->n;
    for (int i = 0; i < f->n; i++)
        exp_tab[exp_len++] = (uint32_t)f->cp[i];
    return at;
}

static int encode(void)
{
    size_t nexp = 0, ntoolong = 0;
    for (int32_t cp = 0; cp < NCP; cp++) {
        const seq *f = &folds[cp];
        if (noise[cp]) {
            entries[cp] = WP_FOLD_MAKE(WP_FOLD_NOISE, klass[cp], 0);
        } else if (f->n == 1 && f->cp[0] == cp) {
            entries[cp] = WP_FOLD_MAKE(WP_FOLD_IDENT, class_of_folded(cp), 0);
        } else if (f->n == 1) {
            entries[cp] = WP_FOLD_MAKE(WP_FOLD_MAPPED, class_of_folded(f->cp[0]), f->cp[0]);
        } else if (f->n <= WP_FOLD_MAX_EXPAND) {
            entries[cp] = WP_FOLD_MAKE(WP_FOLD_EXPAND, WP_FC_OTHER, add_exp(f));
            nexp++;
        } else {
            entries[cp] = WP_FOLD_MAKE(WP_FOLD_IDENT, WP_FC_OTHER, 0);
            ntoolong++;
        }
    }
    /* Check idempotence: everything a fold produces folds to itself. */
    for (int32_t cp = 0; cp < NCP; cp++) {
        uint32_t e = entries[cp];
        const seq *f = &folds[cp];
        if (WP_FOLD_KIND(e) != WP_FOLD_MAPPED && WP_FOLD_KIND(e) != WP_FOLD_EXPAND)
            continue;
        for (int i = 0; i < f->n; i++) {
            if (WP_FOLD_KIND(entries[f->cp[i]]) != WP_FOLD_IDENT) {
                fprintf(stderr, "fold_gen: U+%04X folds to U+%04X which is not a fixed point\n",
                        (unsigned)cp, (unsigned)f->cp[i]);
                return -1;
            }
        }
    }
    fprintf(stderr, "fold_gen: %zu expansions, %zu left unfolded (longer than %d)\n", nexp,
            ntoolong, WP_FOLD_MAX_EXPAND);
    return 0;
}

static int write_out(const char *path)
{
    uint16_t index[WP_FOLD_NPAGES];
    unsigned npages = 0;
    static uint32_t pagehash[WP_FOLD_NPAGES];
    static unsigned pageof[WP_FOLD_NPAGES]; /* distinct page number -> first source page */
    for (unsigned p = 0; p < WP_FOLD_NPAGES; p++) {
        const uint32_t *pg = entries + (size_t)p * WP_FOLD_PAGE_SIZE;
        uint32_t h = 2166136261u;
        for (unsigned i = 0; i < WP_FOLD_PAGE_SIZE; i++)
            h = (h ^ pg[i]) * 16777619u;
        unsigned found = npages;
        for (unsigned d = 0; d < npages; d++) {
            if (pagehash[d] == h &&
                !memcmp(entries + (size_t)pageof[d] * WP_FOLD_PAGE_SIZE, pg,
                        WP_FOLD_PAGE_SIZE * sizeof *pg)) {
                found = d;
                break;
            }
        }
        if (found == npages) {
            pagehash[npages] = h;
            pageof[npages++] = p;
        }
        index[p] = (uint16_t)found;
    }
    FILE *o = fopen(path, "w");
    if (!o) {
        perror(path);
        return -1;
    }
    fprintf(o, "/* SPDX-License-Identifier: MIT */\n/* Generated by fold_gen.c: do not edit. */\n"
               "#include \"fold.h\"\n\n");
    fprintf(o, "const unsigned wp_scan__fold_npages = %u;\n\n", npages);
    fprintf(o, "const uint16_t wp_scan__fold_index[WP_FOLD_NPAGES] = {");
    for (unsigned p = 0; p < WP_FOLD_NPAGES; p++)
        fprintf(o, "%s%u,", p % 16 ? "" : "\n", index[p]);
    fprintf(o, "\n};\n\nconst uint32_t wp_scan__fold_pages[][WP_FOLD_PAGE_SIZE] = {\n");
    for (unsigned d = 0; d < npages; d++) {
        const uint32_t *pg = entries + (size_t)pageof[d] * WP_FOLD_PAGE_SIZE;
        fprintf(o, "{");
        for (unsigned i = 0; i < WP_FOLD_PAGE_SIZE; i++)
            fprintf(o, "%s0x%x,", i % 12 ? "" : "\n", pg[i]);
        fprintf(o, "\n},\n");
    }
    fprintf(o, "};\n\nconst uint32_t wp_scan__fold_exp[] = {");
    for (size_t i = 0; i < exp_len; i++)
        fprintf(o, "%s%u,", i % 16 ? "" : "\n", exp_tab[i]);
    fprintf(o, "0\n};\n");
    if (fclose(o) != 0) {
        perror(path);
        return -1;
    }
    fprintf(stderr, "fold_gen: %u distinct pages, %zu expansion words\n", npages, exp_len);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: fold_gen OUT.c [T2S_CONFIG]\n");
        return 2;
    }
    t2s = opencc_open(argc > 2 ? argv[2] : OPENCC_DEFAULT_CONFIG_TRAD_TO_SIMP);
    if (t2s == (opencc_t)-1) {
        fprintf(stderr, "fold_gen: cannot open OpenCC config: %s\n", opencc_error());
        return 1;
    }
    folds = calloc(NCP, sizeof *folds);
    klass = calloc(NCP, 1);
    noise = calloc(NCP, 1);
    entries = calloc(NCP, sizeof *entries);
    if (!folds || !klass || !noise || !entries)
        return 1;
    compute();
    int rc = encode() < 0 || write_out(argv[1]) < 0;
    opencc_close(t2s);
    free(folds);
    free(klass);
    free(noise);
    free(entries);
    free(exp_tab);
    return rc;
}
