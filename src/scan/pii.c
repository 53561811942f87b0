/* SPDX-License-Identifier: MIT */
/* Built-in detectors of personal data (mobile, ID card, bank card, email), streaming over
 * the classes of folded characters that the scan loop feeds them. */
#include "scan/scan_int.h"

#include <string.h>

static const char MOBILE[] = "pii.mobile";
static const char IDCARD[] = "pii.id_card";
static const char BANK[] = "pii.bank_card";
static const char EMAIL[] = "pii.email";

enum { ST_IDLE, ST_RUN, ST_AFTER_X, ST_AFTER_SEP };
enum { K_MOBILE, K_ID, K_BANK };

/* Digit groups joined by single separators that make a known number format, longest first
 * so that a 19-digit card grouped 4-4-4-4-3 is not read as 16 digits and 3. */
static const struct format {
    uint8_t kind, n, g[5];
} formats[] = {
    {K_BANK, 5, {4, 4, 4, 4, 3}}, {K_BANK, 5, {4, 4, 4, 4, 2}}, {K_BANK, 5, {4, 4, 4, 4, 1}},
    {K_BANK, 4, {4, 4, 4, 4, 0}}, {K_ID, 3, {6, 8, 4, 0, 0}},   {K_MOBILE, 3, {3, 4, 4, 0, 0}},
};

void wp_scan__pii_reset(wp_pii *p)
{
    p->nruns = 0;
    p->in_run = p->sep = p->domain = false;
    p->lrun = 0;
}

static bool is_mobile(const uint8_t *d, unsigned n)
{
    return n == 11 && d[0] == 1 && d[1] >= 3;
}

/* GB 11643: ISO 7064 MOD 11-2 check character, and a plausible birth date. */
static bool is_id_card(const uint8_t *d, unsigned n, bool x)
{
    static const uint8_t w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char check[] = "10X98765432";
    if (n != (x ? 17u : 18u))
        return false;
    unsigned sum = 0;
    for (unsigned i = 0; i < 17; i++)
        sum += d[i] * w[i];
    char want = check[sum % 11];
    if (x ? want != 'X' : want != (char)('0' + d[17]))
        return false;
    unsigned year = d[6] * 1000u + d[7] * 100u + d[8] * 10u + d[9];
    unsigned month = d[10] * 10u + d[11], day = d[12] * 10u + d[13];
    return year >= 1800 && year <= 2099 && month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

static bool luhn(const uint8_t *d, unsigned n)
{
    if (n < 16 || n > 19)
        return false;
    unsigned sum = 0;
    for (unsigned i = 0; i < n; i++) {
        unsigned v = d[n - 1 - i];
        if (i % 2) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    return sum % 10 == 0;
}

static void emit(wp_scan_result *r, const char *what, uint32_t start, uint32_t end)
{
    wp_scan_scratch *sc = r->scratch;
    int err = wp_scan__add_match(r, what, what, WP_SCAN_MASK, start, end);
    if (err < 0 && !sc->err)
        sc->err = err;
}

/* Judge one number made of runs[0..k) (k > 1: a grouped format of that kind). */
static void judge(const struct wp_pii_run *runs, unsigned k, int kind, wp_scan_result *r)
{
    uint8_t d[24];
    unsigned n = 0;
    if (kind < 0 && runs[0].ndig < 11)
        return; /* prices, times, counts: too short to be anything */
    for (unsigned i = 0; i < k; i++) {
        if (runs[i].ndig > 20 || n + runs[i].ndig > 20)
            return;
        memcpy(d + n, runs[i].d, runs[i].ndig);
        n += runs[i].ndig;
    }
    const struct wp_pii_run *last = &runs[k - 1];
    uint32_t start = runs[0].start;
    if (kind == K_MOBILE) {
        if (is_mobile(d, n))
            emit(r, MOBILE, start, last->end);
        return;
    }
    if (kind == K_ID) {
        if (is_id_card(d, n, last->x))
            emit(r, IDCARD, start, last->x ? last->xend : last->end);
        return;
    }
    if (kind == K_BANK) {
        if (luhn(d, n))
            emit(r, BANK, start, last->end);
        return;
    }
    /* a lone run: its length says what it may be */
    if (last->x && is_id_card(d, n, true))
        emit(r, IDCARD, start, last->xend);
    else if (n == 18 && is_id_card(d, n, false))
        emit(r, IDCARD, start, last->end);
    else if (is_mobile(d, n))
        emit(r, MOBILE, start, last->end);
    else if (luhn(d, n))
        emit(r, BANK, start, last->end);
}

/* Consume the number that starts at runs[0]; the number of runs it took. */
static unsigned take_one(wp_pii *p, wp_scan_result *r)
{
    for (size_t f = 0; p->nruns >= 3 && f < sizeof formats / sizeof formats[0]; f++) {
        const struct format *fm = &formats[f];
        if (fm->n > p->nruns)
            continue;
        unsigned i = 0;
        for (; i < fm->n; i++) {
            const struct wp_pii_run *ru = &p->runs[i];
            bool x_ok = fm->kind == K_ID && i == (unsigned)fm->n - 1u;
            if (ru->x && !x_ok)
                break;
            if ((unsigned)ru->ndig + (ru->x ? 1u : 0u) != fm->g[i])
                break;
        }
        if (i == fm->n) {
            judge(p->runs, fm->n, fm->kind, r);
            return fm->n;
        }
    }
    judge(p->runs, 1, -1, r);
    return 1;
}

static void process(wp_pii *p, wp_scan_result *r, unsigned keep)
{
    while (p->nruns > keep) {
        unsigned k = take_one(p, r);
        memmove(p->runs, p->runs + k, (p->nruns - k) * sizeof p->runs[0]);
        p->nruns -= k;
    }
}

static void digits_feed(wp_pii *p, unsigned cls, uint32_t start, uint32_t end,
                        wp_scan_result *r)
{
    unsigned state = p->in_run ? ST_RUN : p->sep ? ST_AFTER_SEP : ST_IDLE;
    if (!p->in_run && !p->sep && p->nruns && p->runs[p->nruns - 1].x)
        state = ST_AFTER_X;
    if (cls >= WP_FC_DIGIT0 && cls <= WP_FC_DIGIT9) {
        uint8_t v = (uint8_t)(cls - WP_FC_DIGIT0);
        if (state == ST_RUN) {
            struct wp_pii_run *ru = &p->runs[p->nruns - 1];
            if (ru->ndig < 20)
                ru->d[ru->ndig++] = v;
            else
                ru->ndig = 21;
            ru->end = end;
            return;
        }
        if (state != ST_AFTER_SEP)
            process(p, r, 0);
        else if (p->nruns == 6)
            process(p, r, 5);
        struct wp_pii_run *ru = &p->runs[p->nruns++];
        ru->start = start;
        ru->end = end;
        ru->ndig = 1;
        ru->d[0] = v;
        ru->x = false;
        p->in_run = true;
        p->sep = false;
        return;
    }
    if (cls == WP_FC_X && state == ST_RUN) {
        struct wp_pii_run *ru = &p->runs[p->nruns - 1];
        ru->x = true;
        ru->xend = end;
        p->in_run = false;
        return;
    }
    if ((cls == WP_FC_SPACE || cls == WP_FC_HYPHEN) &&
        (state == ST_RUN || state == ST_AFTER_X)) {
        p->in_run = false;
        p->sep = true;
        return;
    }
    process(p, r, 0);
    p->in_run = p->sep = false;
}

static void end_domain(wp_pii *p, wp_scan_result *r)
{
    if (p->have_valid)
        emit(r, EMAIL, p->lstart, p->valid_end);
    p->domain = false;
    p->lrun = 0;
}

static void email_feed(wp_pii *p, unsigned cls, uint32_t start, uint32_t end, wp_scan_result *r)
{
    bool alnum = cls >= WP_FC_DIGIT0 && cls <= WP_FC_X;
    bool letter = cls == WP_FC_LETTER || cls == WP_FC_X;
    if (p->domain) {
        if (alnum) {
            p->label_len++;
            if (!letter)
                p->label_alpha = false;
            if (p->seen_dot && p->label_alpha && p->label_len >= 2) {
                p->have_valid = true;
                p->valid_end = end;
            }
            return;
        }
        if (cls == WP_FC_HYPHEN && p->label_len > 0) {
            p->label_len++;
            p->label_alpha = false;
            return;
        }
        if (cls == WP_FC_DOT && p->label_len > 0) {
            p->seen_dot = true;
            p->label_len = 0;
            p->label_alpha = true;
            return;
        }
        end_domain(p, r);
        /* the character that ended the domain may begin the next local part */
    }
    if (alnum || cls == WP_FC_DOT || cls == WP_FC_HYPHEN || cls == WP_FC_EMAILSYM) {
        if (p->lrun == 0) {
            if (!alnum)
                return; /* a local part starts with a letter or digit */
            p->lstart = start;
        }
        if (p->lrun < 1000)
            p->lrun++;
        return;
    }
    if (cls == WP_FC_AT && p->lrun > 0) {
        p->domain = true;
        p->label_len = 0;
        p->label_alpha = true;
        p->seen_dot = false;
        p->have_valid = false;
        return;
    }
    p->lrun = 0;
}

bool wp_scan__pii_feed(wp_pii *p, unsigned cls, uint32_t start, uint32_t end,
                       wp_scan_result *r)
{
    /* zero-width and format characters do not split a number or an address */
    if (cls != WP_FC_INVIS) {
        digits_feed(p, cls, start, end, r);
        email_feed(p, cls, start, end, r);
    }
    return p->nruns > 0 || p->lrun > 0 || p->domain;
}

void wp_scan__pii_finish(wp_pii *p, wp_scan_result *r)
{
    process(p, r, 0);
    if (p->domain)
        end_domain(p, r);
    wp_scan__pii_reset(p);
}
