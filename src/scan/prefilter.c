/* SPDX-License-Identifier: MIT */
/* The literal prefilter of regexes: from a regex as PCRE2 compiled it, a set of literals one
 * of which every match must contain, so that the regex runs only on texts where the
 * automaton saw one. Anything not understood gives no requirement: the regex always runs. */
#include "scan/scan_int.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

/* Limits of the analysis: sets of at most this many strings of at most this many
 * codepoints, and this much memory per regex; past them a set is unknown. */
#define RQ_MAX_STRINGS 64u
#define RQ_MAX_LEN 32u
#define RQ_MAX_ARENA ((size_t)4 << 20)
#define RQ_MAX_DEPTH 200
/* Worse than this (an estimated chance of appearing in a message), a requirement is not
 * worth its automaton entries. */
#define RQ_MAX_COST 0.25
#define RQ_NONE 1e300
/* What one more string costs: its automaton states and table pages. Without it, sets of
 * dozens of long strings win over a few short ones for little gain. With the default
 * lexicon: no charge, 1,055 hidden literals and 107 KB more per scanner; this charge, 623 and
 * 63 KB for the same speed; 10^-5, 271 and 40 KB but 8% slower (more regexes run). */
#define RQ_STRING_COST 1e-6

/* Frequent characters of Chinese chat: a requirement made of them is a weak one. */
static const uint16_t common_cjk[] = {
    0x4E00, 0x4E09, 0x4E0A, 0x4E0B, 0x4E0D, 0x4E0E, 0x4E1A, 0x4E24, 0x4E2A, 0x4E2D, 0x4E3A,
    0x4E3B, 0x4E48, 0x4E4B, 0x4E5F, 0x4E86, 0x4E8B, 0x4E8E, 0x4E9B, 0x4EBA, 0x4ECA, 0x4ECE,
    0x4ED6, 0x4EE5, 0x4EEC, 0x4F1A, 0x4F46, 0x4F53, 0x4F5C, 0x4F60, 0x4F7F, 0x5168, 0x516C,
    0x5173, 0x5176, 0x518D, 0x51FA, 0x5206, 0x5230, 0x524D, 0x529B, 0x52A8, 0x5341, 0x53BB,
    0x53C8, 0x53D1, 0x53EA, 0x53EF, 0x540C, 0x540E, 0x5411, 0x5417, 0x5427, 0x5462, 0x548C,
    0x54E6, 0x554A, 0x55EF, 0x56E0, 0x56FD, 0x5728, 0x5730, 0x5916, 0x591A, 0x5927, 0x5929,
    0x592A, 0x5934, 0x5979, 0x597D, 0x5982, 0x5B50, 0x5B66, 0x5B83, 0x5B9A, 0x5B9E, 0x5BB6,
    0x5BF9, 0x5C06, 0x5C0F, 0x5C31, 0x5DE5, 0x5DF2, 0x5E74, 0x5E76, 0x5E94, 0x5F00, 0x5F53,
    0x5F88, 0x5F97, 0x5FC3, 0x6027, 0x60A8, 0x60C5, 0x60F3, 0x610F, 0x6210, 0x6211, 0x6240,
    0x624B, 0x628A, 0x6587, 0x65B9, 0x65E0, 0x65E5, 0x65F6, 0x660E, 0x662F, 0x6700, 0x6709,
    0x672C, 0x673A, 0x6765, 0x6837, 0x6B63, 0x6B64, 0x6C11, 0x6CA1, 0x6CD5, 0x70B9, 0x7136,
    0x7269, 0x73B0, 0x7406, 0x751F, 0x7528, 0x7531, 0x7684, 0x770B, 0x7740, 0x77E5, 0x79CD,
    0x7B2C, 0x7ECF, 0x7ED9, 0x8005, 0x800C, 0x80FD, 0x81EA, 0x884C, 0x88AB, 0x8981, 0x8BA9,
    0x8BF4, 0x8D77, 0x8FC7, 0x8FD8, 0x8FD9, 0x8FDB, 0x9053, 0x90A3, 0x90E8, 0x90FD, 0x91CC,
    0x91CD, 0x957F, 0x95EE, 0x95F4, 0x9762, 0x9AD8,
};

/* A rough chance that a character appears at a given place of a message: the cost of a
 * requirement is the sum over its strings of the product over their characters, and the
 * cheapest requirement is taken (longer and rarer literals, fewer alternatives). */
static double char_cost(uint32_t c)
{
    if (c < 0x80)
        return c - '0' < 10 ? 0.1 : ((c | 0x20) - 'a' < 26 ? 0.04 : 0.5);
    size_t lo = 0, hi = sizeof common_cjk / sizeof common_cjk[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (common_cjk[mid] == c)
            return 0.02;
        if (common_cjk[mid] < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0.003;
}

/* ---- sets of strings, in an arena freed at once ---- */

typedef struct chunk {
    struct chunk *next;
    size_t size, used;
    max_align_t data[];
} chunk;

typedef struct sset {
    uint32_t n;
    uint32_t *off; /* n + 1 offsets into cp */
    uint32_t *cp;
} sset;

typedef struct rxp {
    const unsigned char *s;
    size_t n, i;
    bool raw;  /* case-sensitive raw codepoints, not folded text */
    bool fail; /* a construct not understood (or a limit): no requirement */
    bool oom;
    int depth;
    chunk *arena;
    size_t arena_total;
} rxp;

static void *arena_alloc(rxp *p, size_t size)
{
    size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    chunk *c = p->arena;
    if (!c || c->size - c->used < size) {
        size_t sz = size > 65536 ? size : 65536;
        if (p->arena_total + sz > RQ_MAX_ARENA) {
            p->fail = true;
            return NULL;
        }
        c = malloc(sizeof *c + sz);
        if (!c) {
            p->fail = p->oom = true;
            return NULL;
        }
        c->next = p->arena;
        c->size = sz;
        c->used = 0;
        p->arena = c;
        p->arena_total += sz;
    }
    void *r = (char *)c->data + c->used;
    c->used += size;
    return r;
}

/* Everything allocated since a mark is dropped by rewinding to it. */
typedef struct amark {
    chunk *c;
    size_t used, total;
} amark;

static amark arena_mark(const rxp *p)
{
    return (amark){p->arena, p->arena ? p->arena->used : 0, p->arena_total};
}

static void arena_rewind(rxp *p, amark m)
{
    while (p->arena != m.c) {
        chunk *c = p->arena;
        p->arena = c->next;
        free(c);
    }
    if (p->arena)
        p->arena->used = m.used;
    p->arena_total = m.total;
}

static void arena_free(rxp *p)
{
    while (p->arena) {
        chunk *c = p->arena;
        p->arena = c->next;
        free(c);
    }
}

static sset *ss_new(rxp *p, uint32_t n, uint32_t ncp)
{
    sset *s = arena_alloc(p, sizeof *s + (n + 1 + ncp) * sizeof(uint32_t));
    if (!s)
        return NULL;
    s->n = n;
    s->off = (uint32_t *)(s + 1);
    s->cp = s->off + n + 1;
    s->off[0] = 0;
    return s;
}

static inline uint32_t ss_len(const sset *s, uint32_t k)
{
    return s->off[k + 1] - s->off[k];
}

static bool ss_contains(const sset *s, uint32_t upto, const uint32_t *cp, uint32_t len)
{
    for (uint32_t k = 0; k < upto; k++)
        if (ss_len(s, k) == len && !memcmp(s->cp + s->off[k], cp, len * sizeof *cp))
            return true;
    return false;
}

/* The set holding only the empty string: says nothing of a text. */
static const sset *ss_empty(rxp *p)
{
    sset *s = ss_new(p, 1, 0);
    if (s)
        s->off[1] = 0;
    return s;
}

/* Union, without duplicates; NULL when either is unknown or it grows too large. */
static const sset *ss_union(rxp *p, const sset *a, const sset *b)
{
    if (!a || !b || a->n + b->n > RQ_MAX_STRINGS)
        return NULL;
    sset *r = ss_new(p, a->n + b->n, a->off[a->n] + b->off[b->n]);
    if (!r)
        return NULL;
    uint32_t n = 0, o = 0;
    for (int w = 0; w < 2; w++) {
        const sset *x = w ? b : a;
        for (uint32_t k = 0; k < x->n; k++) {
            uint32_t len = ss_len(x, k);
            if (ss_contains(r, n, x->cp + x->off[k], len))
                continue;
            memcpy(r->cp + o, x->cp + x->off[k], len * sizeof *r->cp);
            o += len;
            r->off[++n] = o;
        }
    }
    r->n = n;
    return r;
}

/* Every string of a followed by every string of b; NULL when unknown or too large. */
static const sset *ss_product(rxp *p, const sset *a, const sset *b)
{
    if (!a || !b || (uint64_t)a->n * b->n > RQ_MAX_STRINGS)
        return NULL;
    uint32_t ncp = 0;
    for (uint32_t i = 0; i < a->n; i++)
        for (uint32_t j = 0; j < b->n; j++) {
            uint32_t len = ss_len(a, i) + ss_len(b, j);
            if (len > RQ_MAX_LEN)
                return NULL;
            ncp += len;
        }
    sset *r = ss_new(p, a->n * b->n, ncp);
    if (!r)
        return NULL;
    uint32_t n = 0, o = 0;
    for (uint32_t i = 0; i < a->n; i++)
        for (uint32_t j = 0; j < b->n; j++) {
            uint32_t la = ss_len(a, i), lb = ss_len(b, j);
            memcpy(r->cp + o, a->cp + a->off[i], la * sizeof *r->cp);
            memcpy(r->cp + o + la, b->cp + b->off[j], lb * sizeof *r->cp);
            if (ss_contains(r, n, r->cp + o, la + lb))
                continue;
            o += la + lb;
            r->off[++n] = o;
        }
    r->n = n;
    return r;
}

static double ss_cost(const sset *s)
{
    if (!s || s->n == 0)
        return RQ_NONE;
    double sum = 0;
    for (uint32_t k = 0; k < s->n; k++) {
        if (ss_len(s, k) == 0)
            return RQ_NONE; /* the empty string is in every text */
        double c = 1;
        for (uint32_t i = s->off[k]; i < s->off[k + 1]; i++)
            c *= char_cost(s->cp[i]);
        sum += c + RQ_STRING_COST;
    }
    return sum;
}

/* ---- the analysis ---- */

/* What is known of a piece of regex. exact: it matches only strings of this set (NULL:
 * unknown). pre / suf: every match starts / ends with a string of the set (never NULL; the
 * set {""} says nothing). req: every match contains a string of the set (NULL: none), of
 * estimated cost `cost`. */
typedef struct node {
    const sset *exact, *pre, *suf, *req;
    double cost;
} node;

static void consider(node *x, const sset *s)
{
    double c = ss_cost(s);
    if (c < x->cost) {
        x->cost = c;
        x->req = s;
    }
}

/* The best requirement among what is known. */
static node finish(node x)
{
    x.cost = ss_cost(x.req);
    if (x.cost >= RQ_NONE)
        x.req = NULL;
    consider(&x, x.exact);
    consider(&x, x.pre);
    consider(&x, x.suf);
    return x;
}

static node node_exact(rxp *p, const sset *e)
{
    if (!e) {
        p->fail = true;
        return (node){NULL, NULL, NULL, NULL, RQ_NONE};
    }
    return finish((node){e, e, e, NULL, RQ_NONE});
}

/* A piece that matches something unknown (any character, a class, ...). */
static node node_unknown(rxp *p)
{
    const sset *e = ss_empty(p);
    if (!e)
        p->fail = true;
    return (node){NULL, e, e, NULL, RQ_NONE};
}

static node node_char(rxp *p, uint32_t c)
{
    sset *s = ss_new(p, 1, 1);
    if (!s) {
        p->fail = true;
        return (node){NULL, NULL, NULL, NULL, RQ_NONE};
    }
    s->cp[0] = c;
    s->off[1] = 1;
    return node_exact(p, s);
}

/* Scripts without case, where a caseless literal matches only itself. */
static bool caseless_safe(uint32_t c)
{
    return (c >= 0x3040 && c <= 0x312F) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xAC00 && c <= 0xD7A3) ||
           (c >= 0x20000 && c <= 0x3134F);
}

/* The codepoint the automaton sees where the regex matches literal c, or UINT32_MAX when
 * c is not used as a literal. Normalized text is case folded and the regex caseless: only
 * ASCII letters and digits (lower-cased; the Kelvin sign and long s that also match k and s
 * are folded away in the text) and characters of scripts without case that folding leaves
 * unchanged are taken. Raw: case-sensitive codepoints, all of them. */
static uint32_t literal(const rxp *p, uint32_t c)
{
    if (p->raw)
        return c;
    if (c < 0x80) {
        if (c - '0' < 10 || c - 'a' < 26)
            return c;
        if (c - 'A' < 26)
            return c | 0x20;
        return UINT32_MAX;
    }
    uint32_t f[WP_FOLD_MAX_EXPAND];
    if (!caseless_safe(c) || wp_fold_cp(c, f) != 1 || f[0] != c)
        return UINT32_MAX;
    return c;
}

static bool at_end(const rxp *p)
{
    return p->i >= p->n;
}

static int peek(const rxp *p)
{
    return p->i < p->n ? p->s[p->i] : -1;
}

/* The next codepoint (the pattern is valid UTF-8: the lexicon parser checked it). */
static uint32_t next_cp(rxp *p)
{
    uint32_t cp;
    size_t k = wp_utf8_decode(p->s + p->i, p->n - p->i, &cp);
    if (k == 0) {
        p->fail = true;
        p->i = p->n;
        return 0;
    }
    p->i += k;
    return cp;
}

static bool is_alnum(int c)
{
    return (unsigned)c - '0' < 10 || ((unsigned)c | 0x20) - 'a' < 26;
}

static bool is_hex(int c)
{
    return (unsigned)c - '0' < 10 || ((unsigned)c | 0x20) - 'a' < 6;
}

/* Skip "{...}" after \x, \p, \P, or the short form (\xhh, \pL). */
static void skip_braced(rxp *p, bool hex)
{
    if (peek(p) == '{') {
        while (!at_end(p) && p->s[p->i] != '}')
            p->i++;
        if (at_end(p))
            p->fail = true;
        else
            p->i++;
        return;
    }
    if (hex) {
        for (int k = 0; k < 2 && is_hex(peek(p)); k++)
            p->i++;
        return;
    }
    if (at_end(p))
        p->fail = true;
    else
        (void)next_cp(p);
}

/* After a backslash, outside a class: whether it is zero-width (*zw) or one unknown
 * character. Escapes not listed (back references, \Q..\E, \g, \k, \c, octal, ...) fail. */
static void escape(rxp *p, bool *zw, bool in_class)
{
    *zw = false;
    if (at_end(p)) {
        p->fail = true;
        return;
    }
    int c = peek(p);
    if (c >= 0x80) {
        (void)next_cp(p);
        return;
    }
    p->i++;
    if (!is_alnum(c))
        return; /* an escaped punctuation character: itself */
    switch (c) {
    case 'd': case 'D': case 'w': case 'W': case 's': case 'S': case 'h': case 'H':
    case 'v': case 'V': case 'a': case 'e': case 'f': case 'n': case 'r': case 't':
        return;
    case 'R': case 'X': case 'N':
        if (in_class || peek(p) == '{')
            p->fail = true;
        return;
    case 'b':
        *zw = !in_class; /* in a class, \b is a backspace */
        return;
    case 'B': case 'A': case 'z': case 'Z': case 'G': case 'K':
        if (in_class)
            p->fail = true;
        *zw = true;
        return;
    case 'x':
        skip_braced(p, true);
        return;
    case 'p': case 'P':
        skip_braced(p, false);
        return;
    default:
        p->fail = true;
    }
}

/* After '[': a class of at most RQ_MAX_STRINGS plain literals is an exact set of single
 * characters; anything else in it (ranges, negation, escapes, POSIX names) makes it one
 * unknown character. */
static node char_class(rxp *p)
{
    bool simple = true, first = true;
    if (peek(p) == '^') {
        simple = false;
        p->i++;
    }
    uint32_t mem[RQ_MAX_STRINGS];
    uint32_t nm = 0;
    for (;;) {
        if (at_end(p) || p->fail) {
            p->fail = true;
            return node_unknown(p);
        }
        int b = peek(p);
        if (b == ']' && !first) {
            p->i++;
            break;
        }
        first = false;
        if (b == '\\') {
            bool zw;
            p->i++;
            escape(p, &zw, true);
            simple = false;
            continue;
        }
        if (b == '[' && p->i + 1 < p->n &&
            (p->s[p->i + 1] == ':' || p->s[p->i + 1] == '.' || p->s[p->i + 1] == '=')) {
            /* a POSIX name "[:alpha:]"; where PCRE2 would take the '[' as a plain
             * character instead (a ']' or another "[:" comes first), give up */
            unsigned char kind = p->s[p->i + 1];
            size_t j = p->i + 2;
            for (; j + 1 < p->n; j++) {
                if (p->s[j] == '\\' || p->s[j] == ']' || (p->s[j] == '[' && p->s[j + 1] == kind))
                    break;
                if (p->s[j] == kind && p->s[j + 1] == ']')
                    break;
            }
            if (j + 1 >= p->n || p->s[j] != kind) {
                p->fail = true;
                return node_unknown(p);
            }
            p->i = j + 2;
            simple = false;
            continue;
        }
        uint32_t c = next_cp(p);
        if (c == '-') {
            simple = false;
            continue;
        }
        uint32_t l = literal(p, c);
        if (l == UINT32_MAX || nm == RQ_MAX_STRINGS) {
            simple = false;
            continue;
        }
        bool seen = false;
        for (uint32_t k = 0; k < nm; k++)
            seen |= mem[k] == l;
        if (!seen)
            mem[nm++] = l;
    }
    if (!simple || nm == 0)
        return node_unknown(p);
    sset *s = ss_new(p, nm, nm);
    if (!s) {
        p->fail = true;
        return node_unknown(p);
    }
    for (uint32_t k = 0; k < nm; k++) {
        s->cp[k] = mem[k];
        s->off[k + 1] = k + 1;
    }
    return node_exact(p, s);
}

static node alternation(rxp *p);

/* After '(': a group, or a lookaround (zero-width: its content is checked, then ignored).
 * Option settings, callouts, conditions, recursion, verbs and branch resets fail. */
static node group(rxp *p)
{
    bool look = false;
    if (peek(p) == '*') {
        p->fail = true;
        return node_unknown(p);
    }
    if (peek(p) == '?') {
        p->i++;
        int c = peek(p);
        p->i++;
        if (c == ':' || c == '>') {
        } else if (c == '=' || c == '!') {
            look = true;
        } else if (c == '<' && (peek(p) == '=' || peek(p) == '!')) {
            p->i++;
            look = true;
        } else if (c == '<' || (c == 'P' && peek(p) == '<')) {
            if (c == 'P')
                p->i++;
            size_t start = p->i;
            while (!at_end(p) && (is_alnum(peek(p)) || peek(p) == '_'))
                p->i++;
            if (p->i == start || peek(p) != '>') {
                p->fail = true;
                return node_unknown(p);
            }
            p->i++;
        } else {
            p->fail = true;
            return node_unknown(p);
        }
    }
    if (++p->depth > RQ_MAX_DEPTH) {
        p->fail = true;
        return node_unknown(p);
    }
    node x = alternation(p);
    p->depth--;
    if (peek(p) != ')') {
        p->fail = true;
        return node_unknown(p);
    }
    p->i++;
    if (look)
        return node_exact(p, ss_empty(p));
    return x;
}

/* One piece without its quantifier. */
static node atom(rxp *p)
{
    int b = peek(p);
    switch (b) {
    case '(':
        p->i++;
        return group(p);
    case '[':
        p->i++;
        return char_class(p);
    case '\\': {
        bool zw;
        p->i++;
        escape(p, &zw, false);
        return zw ? node_exact(p, ss_empty(p)) : node_unknown(p);
    }
    case '.':
        p->i++;
        return node_unknown(p);
    case '^':
    case '$':
        p->i++;
        return node_exact(p, ss_empty(p));
    case '*':
    case '+':
    case '?':
    case '{':
        p->fail = true; /* a quantifier with nothing to repeat, or a literal brace */
        p->i = p->n;
        return node_unknown(p);
    default: {
        uint32_t c = literal(p, next_cp(p));
        return c == UINT32_MAX ? node_unknown(p) : node_char(p, c);
    }
    }
}

static bool parse_uint(rxp *p, uint32_t *v)
{
    size_t start = p->i;
    uint32_t x = 0;
    while (!at_end(p) && (unsigned)peek(p) - '0' < 10) {
        x = x * 10 + (uint32_t)(peek(p) - '0');
        if (x > 65535)
            return false;
        p->i++;
    }
    *v = x;
    return p->i > start;
}

/* A quantifier at p->i, if any: {min, max}, max UINT32_MAX for no bound. A brace that is
 * not exactly {n}, {n,} or {n,m} fails (PCRE2 versions differ on what else it means). */
static bool quantifier(rxp *p, uint32_t *min, uint32_t *max)
{
    int c = peek(p);
    if (c == '?' || c == '*' || c == '+') {
        p->i++;
        *min = c == '+';
        *max = c == '?' ? 1 : UINT32_MAX;
    } else if (c == '{') {
        p->i++;
        if (!parse_uint(p, min)) {
            p->fail = true;
            return false;
        }
        *max = *min;
        if (peek(p) == ',') {
            p->i++;
            *max = UINT32_MAX;
            if (peek(p) != '}' && !parse_uint(p, max)) {
                p->fail = true;
                return false;
            }
        }
        if (peek(p) != '}') {
            p->fail = true;
            return false;
        }
        p->i++;
    } else {
        return false;
    }
    if (peek(p) == '?' || peek(p) == '+')
        p->i++; /* lazy or possessive: the same strings can match */
    return true;
}

static node quantify(rxp *p, node x, uint32_t min, uint32_t max)
{
    const sset *e = ss_empty(p);
    if (!e) {
        p->fail = true;
        return x;
    }
    if (max == 0)
        return node_exact(p, e);
    if (min == 0) {
        node r = {NULL, e, e, NULL, RQ_NONE};
        if (max == 1) {
            r.exact = ss_union(p, x.exact, e);
            const sset *pre = ss_union(p, x.pre, e), *suf = ss_union(p, x.suf, e);
            r.pre = pre ? pre : e;
            r.suf = suf ? suf : e;
        }
        return finish(r);
    }
    node r = x;
    if (!(min == 1 && max == 1)) {
        r.exact = NULL;
        if (min == max && min <= 4 && x.exact) {
            const sset *pw = x.exact;
            for (uint32_t k = 1; k < min && pw; k++)
                pw = ss_product(p, pw, x.exact);
            if (pw) {
                r.exact = pw;
                r.pre = r.suf = pw;
            }
        }
    }
    return finish(r);
}

/* A sequence of pieces, up to '|', ')' or the end. */
static node sequence(rxp *p)
{
    node *el = NULL;
    size_t n = 0, cap = 0;
    node r = {NULL, NULL, NULL, NULL, RQ_NONE};
    while (!at_end(p) && !p->fail && peek(p) != '|' && peek(p) != ')') {
        node x = atom(p);
        uint32_t min, max;
        while (!p->fail && quantifier(p, &min, &max))
            x = quantify(p, x, min, max);
        if (p->fail)
            break;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            node *t = realloc(el, nc * sizeof *t);
            if (!t) {
                p->fail = p->oom = true;
                break;
            }
            el = t;
            cap = nc;
        }
        el[n++] = x;
    }
    if (p->fail)
        goto out;
    const sset *e = ss_empty(p);
    if (!e) {
        p->fail = true;
        goto out;
    }
    /* exact: the product of all; pre: of the longest head that stays small */
    r.exact = e;
    for (size_t k = 0; k < n && r.exact; k++)
        r.exact = ss_product(p, r.exact, el[k].exact);
    r.pre = e;
    for (size_t k = 0; k < n; k++) {
        const sset *t = ss_product(p, r.pre, el[k].exact ? el[k].exact : el[k].pre);
        if (t)
            r.pre = t;
        if (!t || !el[k].exact)
            break;
    }
    r.suf = e;
    for (size_t k = n; k-- > 0;) {
        const sset *t = ss_product(p, el[k].exact ? el[k].exact : el[k].suf, r.suf);
        if (t)
            r.suf = t;
        if (!t || !el[k].exact)
            break;
    }
    /* req: the best of the pieces' own and of every window of adjacent pieces: the end of
     * one, then exact pieces, then the start of the next. Each window's sets are dropped
     * unless one is the best so far, which is then copied out of the window's memory. */
    for (size_t k = 0; k < n; k++)
        if (el[k].cost < r.cost) {
            r.cost = el[k].cost;
            r.req = el[k].req;
        }
    for (size_t i = 0; i < n && !p->fail; i++) {
        if (el[i].exact && el[i].exact->n == 1 && ss_len(el[i].exact, 0) == 0)
            continue; /* zero-width: every window through it starts elsewhere too */
        amark m = arena_mark(p);
        node best = {NULL, NULL, NULL, NULL, RQ_NONE};
        const sset *s = el[i].suf;
        consider(&best, s);
        for (size_t j = i + 1; j < n && s; j++) {
            if (!el[j].exact) {
                consider(&best, ss_product(p, s, el[j].pre));
                break;
            }
            s = ss_product(p, s, el[j].exact);
            consider(&best, s);
        }
        if (best.req && best.cost < r.cost) {
            /* copy the winner below the mark, then drop the window's sets */
            uint32_t bn = best.req->n, bc = best.req->off[bn];
            uint32_t *tmp = malloc((bn + 1 + bc) * sizeof *tmp);
            if (!tmp) {
                p->fail = p->oom = true;
                break;
            }
            memcpy(tmp, best.req->off, (bn + 1) * sizeof *tmp);
            memcpy(tmp + bn + 1, best.req->cp, bc * sizeof *tmp);
            arena_rewind(p, m);
            sset *c = ss_new(p, bn, bc);
            if (c) {
                memcpy(c->off, tmp, (bn + 1) * sizeof *tmp);
                memcpy(c->cp, tmp + bn + 1, bc * sizeof *tmp);
                r.req = c;
                r.cost = best.cost;
            }
            free(tmp);
        } else {
            arena_rewind(p, m);
        }
    }
    r = finish(r);
out:
    free(el);
    return r;
}

static node alternation(rxp *p)
{
    node x = sequence(p);
    while (!p->fail && peek(p) == '|') {
        p->i++;
        node y = sequence(p);
        if (p->fail)
            break;
        const sset *e = ss_empty(p);
        const sset *pre = ss_union(p, x.pre, y.pre), *suf = ss_union(p, x.suf, y.suf);
        if (!e) {
            p->fail = true;
            break;
        }
        node r = {ss_union(p, x.exact, y.exact), pre ? pre : e, suf ? suf : e,
                  x.req && y.req ? ss_union(p, x.req, y.req) : NULL, RQ_NONE};
        x = finish(r);
    }
    return x;
}

int wp_scan__regex_requirement(const char *pat, size_t len, bool raw, wp_rx_req *out)
{
    rxp p = {.s = (const unsigned char *)pat, .n = len, .raw = raw};
    memset(out, 0, sizeof *out);
    node x = alternation(&p);
    int err = 0;
    if (p.oom) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    if (p.fail || !at_end(&p) || !x.req || x.cost > RQ_MAX_COST)
        goto out; /* no requirement: the regex always runs */
    const sset *r = x.req;
    out->off = malloc((r->n + 1) * sizeof *out->off);
    out->cps = malloc((r->off[r->n] + 1) * sizeof *out->cps);
    if (!out->off || !out->cps) {
        wp_scan__rx_req_release(out);
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(out->off, r->off, (r->n + 1) * sizeof *out->off);
    memcpy(out->cps, r->cp, r->off[r->n] * sizeof *out->cps);
    out->n = r->n;
out:
    arena_free(&p);
    return err;
}

void wp_scan__rx_req_release(wp_rx_req *r)
{
    free(r->off);
    free(r->cps);
    memset(r, 0, sizeof *r);
}
