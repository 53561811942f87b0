/* SPDX-License-Identifier: MIT */
/* How the simulated people talk: a script of scripts.c expanded for one customer, its {slots}
 * filled from the customer's traits and its {a|b} alternatives picked, with the employee's own
 * habits; follow-up notes and what a deal is worth, from the same slots. */
#include "sim/sim_int.h"
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct wp_sim__violation *pick_violation(enum wp_sim_trade t, wp_sim_rng *r)
{
    unsigned total = 0;
    for (size_t i = 0; i < wp_sim__n_violations; i++)
        if (wp_sim__violations[i].trade < 0 || wp_sim__violations[i].trade == (int)t)
            total += wp_sim__violations[i].weight;
    unsigned x = wp_sim_rng_below(r, total);
    for (size_t i = 0; i < wp_sim__n_violations; i++) {
        if (wp_sim__violations[i].trade >= 0 && wp_sim__violations[i].trade != (int)t)
            continue;
        if (x < wp_sim__violations[i].weight)
            return &wp_sim__violations[i];
        x -= wp_sim__violations[i].weight;
    }
    return &wp_sim__violations[0];
}

/* --- slots --------------------------------------------------------------------------------- */

static const char *const layouts[] = {"一室一厅", "两室一厅", "两室两厅", "三室一厅", "三室两厅",
                                      "四室两厅"};
static const char *const products[] = {"安康一生重疾险", "金福年金险",   "护航百万医疗险",
                                       "小树苗少儿重疾险", "鑫享人生终身寿险", "守护定期寿险"};
static const char *const grades[] = {"幼儿园大班", "一年级", "二年级", "三年级", "四年级", "五年级",
                                     "六年级",     "初一",   "初二",   "初三",   "高一",   "高二"};
struct course {
    const char *name;
    int grade_lo, grade_hi, fee_lo, fee_hi; /* grade: index into grades; fee: yuan a term */
};
static const struct course courses[] = {
    {"少儿英语", 0, 6, 6800, 12800},   {"思维数学", 0, 5, 5800, 9800},
    {"小学语文阅读", 1, 6, 4800, 7800}, {"编程", 2, 9, 7800, 14800},
    {"初中数学", 7, 9, 8800, 15800},   {"初中物理", 8, 9, 8800, 14800},
    {"高中数学", 10, 11, 12800, 19800}, {"高中英语", 10, 11, 11800, 18800},
};
static const char *const times[] = {"明天下午两点", "明天上午十点", "周六上午十点", "周六下午三点",
                                    "周日上午十点", "今天下午四点", "后天上午十点半", "今晚七点",
                                    "这周六下午两点半", "周日下午两点"};
static const char *const days[] = {"周六", "周日", "明天", "后天", "下周一", "周三", "周五"};
static const char *const firms[] = {"恒远科技有限公司", "华信商贸有限公司", "启明建筑设计有限公司",
                                    "嘉禾食品有限公司", "蓝海物流有限公司"};

struct slot {
    const char *name;
    char val[160];
};

#define SLOTS_MAX 48

struct slots {
    struct slot s[SLOTS_MAX];
    size_t n;
};

__attribute__((format(printf, 3, 4))) static void set(struct slots *ss, const char *name,
                                                      const char *fmt, ...)
{
    if (ss->n >= SLOTS_MAX)
        return;
    struct slot *s = &ss->s[ss->n++];
    s->name = name;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->val, sizeof s->val, fmt, ap);
    va_end(ap);
}

static const char *get(const struct slots *ss, const char *name, size_t len)
{
    for (size_t i = 0; i < ss->n; i++)
        if (strlen(ss->s[i].name) == len && !memcmp(ss->s[i].name, name, len))
            return ss->s[i].val;
    return NULL;
}

/* The values of every slot for customer k, with this exchange's random picks (a time, a day,
 * a number) drawn once so a script that names {t} twice means one time. */
static void fill_slots(struct slots *ss, const wp_sim_company *c, size_t k, wp_sim_rng *r)
{
    const wp_sim_customer *cu = &c->customers[k];
    const wp_sim_person *p = &c->people[cu->owner];
    const wp_sim_unit *u = &c->units[p->unit];
    const unsigned *t = cu->traits;
    char surname[8];
    snprintf(surname, sizeof surname, "%.3s", p->name); /* every surname in names.c is one character */

    ss->n = 0;
    set(ss, "c", "%s", cu->call);
    set(ss, "me", "小%s", surname);
    set(ss, "myname", "%s", p->name);
    set(ss, "brand", "%s", wp_sim__talks[u->trade].brand);
    set(ss, "store", "%s", u->name);
    set(ss, "city", "%s", u->city ? u->city : "");
    set(ss, "myphone", "%s", p->phone);
    set(ss, "pphone", "%s", p->private_phone);
    char pw[48];
    snprintf(pw, sizeof pw, "%s", p->username);
    char *dot = strchr(pw, '.');
    if (dot)
        memmove(dot, dot + 1, strlen(dot));
    set(ss, "pwx", "%.30s%02u", pw, (unsigned)(p->private_phone[10] - '0') * 11);
    set(ss, "t", "%s", times[wp_sim_rng_below(r, N(times))]);
    set(ss, "day", "%s", days[wp_sim_rng_below(r, N(days))]);
    static const char *const family_f[] = {"我老公", "我爱人", "家里人", "我妈"};
    static const char *const family_m[] = {"我老婆", "我爱人", "家里人", "我爸"};
    set(ss, "who", "%s", (cu->female ? family_f : family_m)[wp_sim_rng_below(r, 4)]);
    set(ss, "n", "%d", wp_sim_rng_range(r, 2, 9));
    static const char *const refs[] = {"姐", "哥", "老师", "总"};
    struct wp_sim__name ref;
    wp_sim__name_new(&ref, r, (int)wp_sim_rng_below(r, 2));
    set(ss, "who2", "%s%s", ref.surname, refs[wp_sim_rng_below(r, N(refs))]);
    static const char *const packets[] = {"6.66", "8.88", "66", "88", "16.8", "52"};
    set(ss, "hb", "%s", packets[wp_sim_rng_below(r, N(packets))]);
    set(ss, "kid", "%s", wp_sim__kids[t[WP_SIM__T_KID] % wp_sim__n_kids]);
    set(ss, "age", "%d", cu->age);
    set(ss, "idno", "%s", cu->id_card);
    char m[12];
    wp_sim__mobile(m, r);
    set(ss, "phone", "%s", m);
    wp_sim__mobile(m, r);
    set(ss, "other", "%s", m);
    set(ss, "company", "%s%s", u->city ? u->city : "", firms[t[WP_SIM__T_ITEM] % N(firms)]);
    set(ss, "xq", "%s", wp_sim__places[t[WP_SIM__T_PLACE] % wp_sim__n_places]);
    unsigned p2 = t[WP_SIM__T_PLACE2] % wp_sim__n_places;
    if (p2 == t[WP_SIM__T_PLACE] % wp_sim__n_places)
        p2 = (p2 + 1) % (unsigned)wp_sim__n_places;
    set(ss, "xq2", "%s", wp_sim__places[p2]);

    switch (u->trade) {
    case WP_SIM_PROPERTY: {
        /* size and price are the customer's; the total follows from the city's price */
        int mj = 55 + (int)(t[WP_SIM__T_SIZE] % 86);
        const struct wp_sim__site *site = NULL;
        for (size_t g = 0; g < WP_SIM_REGIONS_MAX && !site; g++)
            for (size_t s = 0; s < WP_SIM_STORES_MAX && !site; s++)
                if (!strcmp(wp_sim__site(g, s)->store, u->name))
                    site = wp_sim__site(g, s);
        int lo = site ? site->price_lo : 30000, hi = site ? site->price_hi : 50000;
        int price = (lo + (int)(t[WP_SIM__T_PRICE] % (unsigned)(hi - lo))) / 100 * 100;
        int zj = mj * price / 10000;
        const char *hx = mj < 70 ? layouts[t[WP_SIM__T_LAYOUT] % 2]
                         : mj < 100 ? layouts[1 + t[WP_SIM__T_LAYOUT] % 2]
                         : mj < 130 ? layouts[3 + t[WP_SIM__T_LAYOUT] % 2]
                                    : layouts[5];
        set(ss, "mj", "%d", mj);
        set(ss, "mj2", "%d", mj + (int)(t[WP_SIM__T_LAYOUT] % 13) - 6);
        set(ss, "hx", "%s", hx);
        set(ss, "zj", "%d", zj);
        set(ss, "ys", "%d", (zj + 49) / 50 * 50); /* a buyer's budget is a round number */
        set(ss, "zj2", "%d", zj * 97 / 100);
        set(ss, "zj3", "%d", zj * 92 / 100);
        set(ss, "dj", "%.1f万", price / 10000.0);
        set(ss, "dk", "%d", zj * 65 / 100);
        set(ss, "yg", "%d", zj * 65 / 100 * 45);
        set(ss, "yj", "%d", zj * 50);
        set(ss, "sf", "%d", zj * 30 / 100);
        break;
    }
    case WP_SIM_INSURANCE: {
        static const int sums[] = {30, 50, 80, 100};
        int be = sums[t[WP_SIM__T_SIZE] % 4];
        set(ss, "prod", "%s", products[t[WP_SIM__T_ITEM] % N(products)]);
        set(ss, "be", "%d", be);
        set(ss, "be2", "%d", be * 6 / 10);
        set(ss, "bf", "%d", be * (150 + (cu->age - 25) * 8) / 10 * 10);
        set(ss, "kidage", "%u", 2 + t[WP_SIM__T_GRADE] % 12);
        break;
    }
    case WP_SIM_EDUCATION: {
        const struct course *co = &courses[t[WP_SIM__T_ITEM] % N(courses)];
        int g = co->grade_lo + (int)(t[WP_SIM__T_GRADE] % (unsigned)(co->grade_hi - co->grade_lo + 1));
        static const int lessons[] = {12, 16, 20, 24};
        set(ss, "kc", "%s", co->name);
        set(ss, "nj", "%s", grades[g]);
        set(ss, "kf", "%d",
            (co->fee_lo + (int)(t[WP_SIM__T_PRICE] % (unsigned)(co->fee_hi - co->fee_lo))) / 100 *
                100);
        set(ss, "ks", "%d", lessons[t[WP_SIM__T_SIZE] % 4]);
        set(ss, "yd", "%d", 260 + 20 * (int)(t[WP_SIM__T_PRICE] % 12));
        break;
    }
    }
}

/* The closing '}' of the group opening at p (nested groups skipped), or NULL. */
static const char *group_end(const char *p, const char *end)
{
    int depth = 0;
    for (; p < end; p++) {
        if (*p == '{')
            depth++;
        else if (*p == '}' && --depth == 0)
            return p;
    }
    return NULL;
}

/* Append tmpl with its {slots} filled and one of each {a|b|c} picked (alternatives may hold
 * slots and further alternatives). An unknown slot is kept as written (a bug a test sees). */
static int expand(wp_buf *b, const char *tmpl, size_t len, const struct slots *ss, wp_sim_rng *r)
{
    const char *p = tmpl, *end = tmpl + len;
    int err = 0;
    while (p < end && err == 0) {
        const char *open = memchr(p, '{', (size_t)(end - p));
        if (!open)
            return wp_buf_add(b, p, (size_t)(end - p));
        const char *close = group_end(open, end);
        if (!close)
            return wp_buf_add(b, p, (size_t)(end - p));
        if ((err = wp_buf_add(b, p, (size_t)(open - p))) < 0)
            break;
        /* the top-level bars split the alternatives */
        const char *alt[16];
        size_t n = 0;
        int depth = 0;
        alt[n++] = open + 1;
        for (const char *q = open + 1; q < close && n < N(alt); q++) {
            depth += *q == '{' ? 1 : *q == '}' ? -1 : 0;
            if (*q == '|' && depth == 0)
                alt[n++] = q + 1;
        }
        if (n > 1) {
            size_t i = wp_sim_rng_below(r, (uint32_t)n);
            const char *to = i + 1 < n ? alt[i + 1] - 1 : close;
            err = expand(b, alt[i], (size_t)(to - alt[i]), ss, r);
        } else {
            const char *v = get(ss, open + 1, (size_t)(close - open - 1));
            err = v ? wp_buf_adds(b, v) : wp_buf_add(b, open, (size_t)(close - open + 1));
        }
        p = close + 1;
    }
    return err;
}

/* What a violating line is marked with. */
struct violation_ref {
    const char *category;
    int must_alert;
};

/* Where a line's strings are in x->text while it still grows: offsets, (size_t)-1 for none. */
struct pending {
    size_t text, url, title, filename;
};

#define NONE ((size_t)-1)

/* "A|B" at s (in the buffer at offset at): A stays at at + skip, B at the returned offset
 * (NONE without a bar). */
static size_t split_bar(char *s, size_t at, size_t skip)
{
    char *bar = strchr(s + skip, '|');
    if (!bar)
        return NONE;
    *bar = '\0';
    return at + (size_t)(bar + 1 - s);
}

static int parse_line(struct wp_sim__exchange *x, struct pending *pd, const char *line,
                      size_t len, const struct slots *ss, const struct violation_ref *v,
                      const wp_sim_company *c, wp_sim_rng *r)
{
    struct wp_sim__line *l = &x->lines[x->n];
    int err;
    memset(l, 0, sizeof *l);
    pd->text = pd->url = pd->title = pd->filename = NONE;
    l->out = line[0] == '>';
    l->channel = "wechat";
    l->msgtype = "text";
    l->media = -1;
    line++, len--;
    if (len && line[0] == '!') {
        l->violation = v ? v->category : "unknown";
        l->must_alert = v ? v->must_alert : 1;
        line++, len--;
    }
    /* expand first: amounts, titles and directives hold slots and alternatives too */
    size_t at = x->text.len;
    if ((err = expand(&x->text, line, len, ss, r)) < 0 || (err = wp_buf_addc(&x->text, '\0')) < 0)
        return err;
    char *s = x->text.buf + at;
    if (strncmp(s, "@sms ", 5) == 0) {
        l->channel = "sms";
        pd->text = at + 5;
    } else if (strncmp(s, "@link ", 6) == 0) {
        size_t kind = split_bar(s, at, 6);
        l->msgtype = "link";
        pd->text = at + 6;
        if (kind != NONE) {
            char url[128];
            snprintf(url, sizeof url, "https://m.dingsheng.example/%s/%06u", x->text.buf + kind,
                     (unsigned)wp_sim_rng_below(r, 1000000));
            pd->url = x->text.len;
            if ((err = wp_buf_add(&x->text, url, strlen(url) + 1)) < 0)
                return err;
        }
    } else if (strncmp(s, "@transfer ", 10) == 0 || strncmp(s, "@redpacket ", 11) == 0) {
        int transfer = s[1] == 't';
        size_t skip = transfer ? 10 : 11;
        l->msgtype = transfer ? "transfer" : "redpacket";
        l->amount_fen = (int64_t)(strtod(s + skip, NULL) * 100 + 0.5);
        pd->text = split_bar(s, at, skip);
    } else if (strncmp(s, "@image ", 7) == 0) {
        l->msgtype = "image";
        l->media = wp_sim__media_pick(c, "image", s + 7, r);
    } else if (strncmp(s, "@voice", 6) == 0) {
        l->msgtype = "voice";
        l->media = wp_sim__media_pick(c, "voice", NULL, r);
    } else if (strncmp(s, "@file ", 6) == 0) {
        size_t what = split_bar(s, at, 6);
        l->msgtype = "file";
        pd->filename = at + 6;
        l->media = wp_sim__media_pick(c, "file", what != NONE ? x->text.buf + what : NULL, r);
    } else if (strncmp(s, "@location ", 10) == 0) {
        l->msgtype = "location";
        pd->title = at + 10;
        pd->text = split_bar(s, at, 10);
    } else if (strncmp(s, "@card ", 6) == 0) {
        l->msgtype = "card";
        pd->title = at + 6;
        pd->text = split_bar(s, at, 6);
    } else {
        pd->text = at;
    }
    x->n++;
    return 0;
}

static int was_used(const struct wp_sim__exchange *x, const char *script)
{
    size_t n = x->n_used < N(x->used) ? x->n_used : N(x->used);
    for (size_t i = 0; i < n; i++)
        if (x->used[i] == script)
            return 1;
    return 0;
}

/* The employee's habit: some end many lines with "~", "哈", an emoji or a WeChat sticker. */
static int add_ending(struct wp_sim__exchange *x, struct pending *pd, const struct wp_sim__style *st,
                      wp_sim_rng *r)
{
    const char *e = st->endings[wp_sim_rng_below(r, 3)];
    char text[2048]; /* a copy: the buffer may move as it grows */
    size_t len = strlen(x->text.buf + pd->text);
    int err;
    if (len >= sizeof text)
        return 0;
    memcpy(text, x->text.buf + pd->text, len + 1);
    if (!e || !len || !wp_sim_rng_permille(r, st->ending_permille))
        return 0;
    /* not after a question or a full stop of its own */
    if ((len >= 3 && (!strcmp(text + len - 3, "？") || !strcmp(text + len - 3, "。") ||
                      !strcmp(text + len - 3, "！"))) ||
        text[len - 1] == '?')
        return 0;
    size_t at = x->text.len;
    if ((err = wp_buf_adds(&x->text, text)) < 0 || (err = wp_buf_adds(&x->text, e)) < 0 ||
        (err = wp_buf_addc(&x->text, '\0')) < 0)
        return err;
    pd->text = at;
    return 0;
}

int wp_sim__talk(struct wp_sim__exchange *x, const wp_sim_company *c, size_t k,
                 enum wp_sim__script kind, unsigned stage, wp_sim_rng *r)
{
    const wp_sim_customer *cu = &c->customers[k];
    enum wp_sim_trade trade = c->units[c->people[cu->owner].unit].trade;
    const struct wp_sim__trade_talk *tt = &wp_sim__talks[trade];
    const struct wp_sim__violation *v = NULL;
    struct violation_ref vr;
    struct wp_sim__style st;
    const char *script;
    struct slots ss;
    struct pending pd[WP_SIM__LINES_MAX];
    int err = 0;

    const char *const *list;
    size_t n_list;
    switch (kind) {
    case WP_SIM__OPENING:
        list = tt->stages[0].v, n_list = tt->stages[0].n;
        break;
    case WP_SIM__STAGE:
        stage = stage < 1 ? 1 : stage >= WP_SIM__STAGES ? WP_SIM__STAGES - 1 : stage;
        list = tt->stages[stage].v, n_list = tt->stages[stage].n;
        break;
    case WP_SIM__CHECKIN:
        list = tt->checkin.v, n_list = tt->checkin.n;
        break;
    case WP_SIM__OBJECTION:
        list = tt->objection.v, n_list = tt->objection.n;
        break;
    case WP_SIM__LOST:
        list = tt->lost.v, n_list = tt->lost.n;
        break;
    case WP_SIM__VIOLATION:
    default:
        v = pick_violation(trade, r);
        list = &v->script, n_list = 1;
        break;
    }
    vr.category = v ? v->category : NULL;
    vr.must_alert = v ? v->must_alert : 1;
    /* a few draws to find something this customer has not heard lately */
    script = list[wp_sim_rng_below(r, (uint32_t)n_list)];
    for (int tries = 0; tries < 6 && was_used(x, script); tries++)
        script = list[wp_sim_rng_below(r, (uint32_t)n_list)];
    x->used[x->n_used++ % N(x->used)] = script;
    fill_slots(&ss, c, k, r);
    wp_sim__style(&st, c, cu->owner);
    wp_buf_reset(&x->text);
    x->n = 0;
    for (const char *p = script; *p && x->n < WP_SIM__LINES_MAX;) {
        size_t len = strcspn(p, "\n");
        if (len > 1 && (p[0] == '>' || p[0] == '<')) {
            size_t i = x->n;
            if ((err = parse_line(x, &pd[i], p, len, &ss, v ? &vr : NULL, c, r)) < 0)
                return err;
            const struct wp_sim__line *l = &x->lines[i];
            if (l->out && !l->violation && !strcmp(l->msgtype, "text") &&
                !strcmp(l->channel, "wechat") && (err = add_ending(x, &pd[i], &st, r)) < 0)
                return err;
        }
        p += len + (p[len] == '\n');
    }
    for (size_t i = 0; i < x->n; i++) {
        struct wp_sim__line *l = &x->lines[i];
        l->text = pd[i].text == NONE ? NULL : x->text.buf + pd[i].text;
        l->url = pd[i].url == NONE ? NULL : x->text.buf + pd[i].url;
        l->title = pd[i].title == NONE ? NULL : x->text.buf + pd[i].title;
        l->filename = pd[i].filename == NONE ? NULL : x->text.buf + pd[i].filename;
    }
    return 0;
}

int wp_sim__note(wp_buf *out, const wp_sim_company *c, size_t k, enum wp_sim__note kind,
                 wp_sim_rng *r)
{
    const wp_sim_customer *cu = &c->customers[k];
    enum wp_sim_trade trade = c->units[c->people[cu->owner].unit].trade;
    const struct wp_sim__list *l = &wp_sim__notes[trade][kind];
    struct slots ss;
    const char *t = l->v[wp_sim_rng_below(r, (uint32_t)l->n)];
    fill_slots(&ss, c, k, r);
    wp_buf_reset(out);
    return expand(out, t, strlen(t), &ss, r);
}

/* The number a slot holds (0 when it is not a number). */
static int64_t slot_num(const struct slots *ss, const char *name)
{
    const char *v = get(ss, name, strlen(name));
    return v ? strtoll(v, NULL, 10) : 0;
}

int64_t wp_sim__deal_fen(const wp_sim_company *c, size_t k)
{
    const wp_sim_customer *cu = &c->customers[k];
    enum wp_sim_trade trade = c->units[c->people[cu->owner].unit].trade;
    struct slots ss;
    wp_sim_rng r; /* the slots' random picks do not enter the amount */
    wp_sim_rng_seed(&r, c->cfg.seed, 0x40000000u + (uint64_t)k);
    fill_slots(&ss, c, k, &r);
    switch (trade) {
    case WP_SIM_PROPERTY: /* 2% of the price, a tenth off for half of them: 万 → fen */
        return slot_num(&ss, "zj") * 10000 * 100 * 2 / 100 * (cu->traits[WP_SIM__T_LAYOUT] % 2 ? 9 : 10) /
               10;
    case WP_SIM_INSURANCE: /* the first year's premium */
        return slot_num(&ss, "bf") * 100;
    case WP_SIM_EDUCATION: /* one term, or two for a third of them */
    default:
        return slot_num(&ss, "kf") * 100 * (cu->traits[WP_SIM__T_SIZE] % 3 ? 1 : 2);
    }
}

double wp_sim__talk_mean_lines(enum wp_sim_trade t)
{
    const struct wp_sim__trade_talk *tt = &wp_sim__talks[t];
    size_t lines = 0, scripts = 0;
    for (unsigned s = 1; s < WP_SIM__STAGES; s++)
        for (size_t i = 0; i < tt->stages[s].n; i++, scripts++)
            for (const char *p = tt->stages[s].v[i]; p; p = strchr(p + 1, '\n'))
                lines++;
    return scripts ? (double)lines / (double)scripts : 1;
}

void wp_sim__style(struct wp_sim__style *out, const wp_sim_company *c, size_t person)
{
    wp_sim_rng r;
    wp_sim_rng_seed(&r, c->cfg.seed, 0x60000000u + (uint64_t)person);
    memset(out, 0, sizeof *out);
    /* a third write plainly; the others have two or three habits of their own */
    static const unsigned endings[] = {0, 0, 80, 150, 250, 350};
    out->ending_permille = endings[wp_sim_rng_below(&r, N(endings))];
    for (int i = 0; i < 3; i++)
        out->endings[i] = wp_sim__endings.v[wp_sim_rng_below(&r, (uint32_t)wp_sim__endings.n)];
    /* half keep good notes, some a few, a fifth almost none */
    unsigned d = wp_sim_rng_below(&r, 100);
    out->notes_permille = d < 50 ? 700 : d < 80 ? 450 : 150;
}
