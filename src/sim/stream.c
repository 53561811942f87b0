/* SPDX-License-Identifier: MIT */
/* One phone's events over the period: its chats, calls and contact changes with each customer,
 * and where it was through each working day; what its owner (and, for its customers, a
 * colleague or a successor) does about them in the CRM; then as device-protocol JSON batches. */
#include "sim/sim_int.h"
#include "util/clock.h"
#include "util/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_US (60 * WP_SIM__MIN_US)
#define SEC_US 1000000ll
#define DAY_END_US (22 * HOUR_US) /* field staff are home by then */

struct raw {
    wp_sim_event e;
    size_t uid;        /* creation order: ties in ts keep it, revokes name their target by it */
    size_t revoke_uid; /* revoke: the target's uid + 1; 0 otherwise */
};

struct gen {
    const wp_sim_company *c;
    size_t person;
    struct raw *ev;
    size_t n, cap;
    wp_sim_act *acts;
    size_t n_acts, cap_acts;
    struct wp_sim__style style;
    wp_buf note;
    int err;
    /* the running mean length of a clean exchange, to turn the wanted share of violating
     * messages into a chance per exchange */
    size_t clean_lines, clean_exchanges;
    struct wp_sim__exchange x;
    /* per customer of the phone (from its first): when it was deleted or blocked, 0: never;
     * no one visits a customer after that */
    int64_t gone_us[WP_SIM_CUSTOMERS_MAX * 2];
};

static struct raw *push(struct gen *g, int64_t ts, enum wp_sim_event_type type, long customer)
{
    if (g->err)
        return NULL;
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 1024;
        struct raw *ev = realloc(g->ev, cap * sizeof *ev);
        if (!ev) {
            g->err = wp_error_set(WP_ENOMEM, "out of memory");
            return NULL;
        }
        g->ev = ev;
        g->cap = cap;
    }
    struct raw *r = &g->ev[g->n];
    memset(r, 0, sizeof *r);
    r->uid = g->n++;
    r->e.ts_us = ts / SEC_US * SEC_US; /* phones report whole seconds */
    r->e.type = type;
    r->e.customer = customer;
    return r;
}

/* A CRM act at ts on customer k, by its owner at the time unless set otherwise. */
static wp_sim_act *act(struct gen *g, int64_t ts, enum wp_sim_act_kind kind, long k)
{
    if (g->err)
        return NULL;
    if (g->n_acts == g->cap_acts) {
        size_t cap = g->cap_acts ? g->cap_acts * 2 : 256;
        wp_sim_act *a = realloc(g->acts, cap * sizeof *a);
        if (!a) {
            g->err = wp_error_set(WP_ENOMEM, "out of memory");
            return NULL;
        }
        g->acts = a;
        g->cap_acts = cap;
    }
    wp_sim_act *a = &g->acts[g->n_acts++];
    memset(a, 0, sizeof *a);
    a->ts_us = ts / SEC_US * SEC_US;
    a->kind = kind;
    a->customer = k;
    a->by = -1;
    return a;
}

static char *dup_or_fail(struct gen *g, const char *s)
{
    if (!s || g->err)
        return NULL;
    char *d = strdup(s);
    if (!d)
        g->err = wp_error_set(WP_ENOMEM, "out of memory");
    return d;
}

/* A note's text on a (a NOTE, RELEASE or CLAIM act). */
static void note_text(struct gen *g, wp_sim_act *a, long k, enum wp_sim__note kind, wp_sim_rng *r)
{
    int err;
    if (!a)
        return;
    if ((err = wp_sim__note(&g->note, g->c, (size_t)k, kind, r)) < 0) {
        g->err = err;
        return;
    }
    a->text = dup_or_fail(g, g->note.buf);
}

static void tag(wp_sim_act *a, const char *name)
{
    if (a && name && a->n_tags < WP_SIM_ACT_TAGS_MAX)
        a->tags[a->n_tags++] = name;
}

static const char *pick(const struct wp_sim__list *l, wp_sim_rng *r)
{
    return l->v[wp_sim_rng_below(r, (uint32_t)l->n)];
}

/* Hours weighted as people chat: the employee in working hours, customers more at night. */
static int pick_hour(wp_sim_rng *r, int employee)
{
    static const unsigned emp_w[24] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 6, 10, 10,
                                       4, 5, 9, 10, 10, 8, 5, 6, 5, 2, 0, 0};
    static const unsigned cust_w[24] = {0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 6, 6,
                                        8, 6, 5, 5, 5, 5, 6, 9, 10, 8, 4, 1};
    const unsigned *w = employee ? emp_w : cust_w;
    unsigned total = 0;
    for (int h = 0; h < 24; h++)
        total += w[h];
    unsigned x = wp_sim_rng_below(r, total);
    for (int h = 0; h < 24; h++) {
        if (x < w[h])
            return h;
        x -= w[h];
    }
    return 10;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static void call(struct gen *g, wp_sim_rng *r, long k, int64_t ts)
{
    struct raw *e = push(g, ts, WP_SIM_CALL, k);
    if (!e)
        return;
    e->e.out = wp_sim_rng_permille(r, 700);
    e->e.channel = "phone";
    if (wp_sim_rng_permille(r, 150)) {
        e->e.duration_s = 0;
    } else {
        double u = wp_sim_rng_unit(r);
        e->e.duration_s = 15 + (int64_t)(u * u * 900);
    }
    /* the phone records some calls; a recording is one of the company's files */
    e->e.media = e->e.duration_s >= 60 && wp_sim_rng_permille(r, 400)
                     ? wp_sim__media_pick(g->c, "recording", NULL, r)
                     : -1;
}

static void contact(struct gen *g, long k, int64_t ts, const char *action)
{
    struct raw *e = push(g, ts, WP_SIM_CONTACT, k);
    if (!e)
        return;
    e->e.channel = "wechat";
    e->e.action = action;
    e->e.out = 1;
    e->e.media = -1;
}

/* A reply that would come in the small hours comes the next morning instead. */
static int64_t not_at_night(wp_sim_rng *r, int64_t t)
{
    int64_t tz = (int64_t)WP_SIM_TZ_MIN * WP_SIM__MIN_US;
    int64_t local = t + tz, tod = local % WP_SIM__DAY_US;
    if (tod < 7 * HOUR_US + 30 * WP_SIM__MIN_US)
        return local - tod - tz + 8 * HOUR_US + wp_sim_rng_range(r, 0, 90) * WP_SIM__MIN_US;
    if (tod >= 23 * HOUR_US + 30 * WP_SIM__MIN_US)
        return local - tod - tz + WP_SIM__DAY_US + 8 * HOUR_US +
               wp_sim_rng_range(r, 0, 90) * WP_SIM__MIN_US;
    return t;
}

/* Put an exchange on the timeline from t; returns when its last message was sent, and sets
 * *leak when the employee's side broke a rule that moves the customer off the archive. */
static int64_t emit(struct gen *g, wp_sim_rng *r, long k, int64_t t, int *leak)
{
    int prev_out = -1;
    for (size_t i = 0; i < g->x.n && !g->err; i++) {
        const struct wp_sim__line *l = &g->x.lines[i];
        int64_t gap;
        if (prev_out < 0)
            gap = 0;
        else if (l->out == prev_out)
            gap = wp_sim_rng_range(r, 4, 40) * SEC_US;
        else if (!l->out && wp_sim_rng_permille(r, 250))
            gap = wp_sim_rng_range(r, 10, 120) * WP_SIM__MIN_US; /* the customer was busy */
        else if (l->out && wp_sim_rng_permille(r, 120))
            gap = wp_sim_rng_range(r, 5, 40) * WP_SIM__MIN_US;
        else
            gap = wp_sim_rng_range(r, 10, 240) * SEC_US;
        t += gap + (int64_t)(utf8_chars(l->text) * 6 / 10) * SEC_US; /* typing */
        t = not_at_night(r, t);
        prev_out = l->out;
        struct raw *e = push(g, t, WP_SIM_MESSAGE, k);
        if (!e)
            break;
        e->e.out = l->out;
        e->e.channel = l->channel;
        e->e.msgtype = l->msgtype;
        e->e.amount_fen = l->amount_fen;
        e->e.violation = l->violation;
        e->e.must_alert = l->must_alert;
        e->e.media = l->media;
        e->e.text = dup_or_fail(g, l->text);
        e->e.url = dup_or_fail(g, l->url);
        e->e.title = dup_or_fail(g, l->title);
        e->e.filename = dup_or_fail(g, l->filename);
        if (l->violation && l->out) {
            if (!strcmp(l->violation, "contact_leak") || !strcmp(l->violation, "private_deal"))
                *leak = 1;
            /* some think better of it and recall the message: it stays in the archive */
            if (wp_sim_rng_permille(r, 250)) {
                size_t target = e->uid;
                t += wp_sim_rng_range(r, 20, 110) * SEC_US;
                struct raw *rv = push(g, t, WP_SIM_MESSAGE, k);
                if (!rv)
                    break;
                rv->e.out = 1;
                rv->e.channel = l->channel;
                rv->e.msgtype = "revoke";
                rv->e.media = -1;
                rv->revoke_uid = target + 1;
            }
        }
    }
    return t;
}

static int exchange(struct gen *g, wp_sim_rng *r, long k, enum wp_sim__script kind,
                    unsigned stage)
{
    int err = wp_sim__talk(&g->x, g->c, (size_t)k, kind, stage, r);
    if (err < 0)
        g->err = err;
    else if (kind != WP_SIM__VIOLATION)
        g->clean_lines += g->x.n, g->clean_exchanges++;
    return err;
}

/* The chance in a million that an exchange is a violation, so that about violation_permille of
 * all messages carry one: a violation exchange holds one violating message among ~2.2. */
static uint32_t violation_ppm(const struct gen *g, enum wp_sim_trade t)
{
    double s = g->c->cfg.violation_permille / 1000.0;
    double len = g->clean_exchanges >= 20 ? (double)g->clean_lines / (double)g->clean_exchanges
                                          : wp_sim__talk_mean_lines(t);
    double q = s * len / (1 - s * 2.2 + s * len);
    /* a few people take most of the risks: this one's share of them (the mean is 1) */
    q *= g->c->people[g->person].risk * 1.15; /* 1.15: openings, refusals and recalls carry none */
    return (uint32_t)((q > 0.9 ? 0.9 : q) * 1e6);
}

/* --- the CRM: what is recorded about a customer ------------------------------------------------ */

/* The CRM's stage for the talk's stage of a sale (1 first talks, 2-3 viewings and terms, 4 won). */
static const char *crm_stage(unsigned talk)
{
    return talk >= 4 ? "deal" : talk >= 2 ? "intent" : "contacted";
}

/* Some time after ts on a working hour of a later day (days after ts's day). */
static int64_t later_day(const wp_sim_company *c, wp_sim_rng *m, int64_t ts, int days)
{
    int64_t day = (ts - c->start_us) / WP_SIM__DAY_US + days;
    return c->start_us + day * WP_SIM__DAY_US + 9 * HOUR_US + 30 * WP_SIM__MIN_US +
           wp_sim_rng_below(m, 9 * 3600) * SEC_US;
}

/* A salesperson of the same store to take a customer from the pool; -1 when there is none. */
static long colleague(const wp_sim_company *c, size_t owner, wp_sim_rng *m)
{
    long v[WP_SIM_STAFF_MAX];
    size_t n = 0;
    for (size_t i = 0; i < c->n_people && n < WP_SIM_STAFF_MAX; i++)
        if (c->people[i].unit == c->people[owner].unit && i != owner && (long)i != c->leaver &&
            !strcmp(c->people[i].role, "sales"))
            v[n++] = (long)i;
    return n ? v[wp_sim_rng_below(m, (uint32_t)n)] : -1;
}

struct crm {
    long k;
    unsigned interest;
    int64_t stop_us; /* the owner leaves: nothing recorded by it after */
    const char *grade;
    int contacted;
};

/* What the owner records after a session s that moved the talk from stage before to stage. */
static void crm_session(struct gen *g, wp_sim_rng *m, struct crm *x, unsigned s, unsigned before,
                        unsigned stage, int lost, int objection, int64_t t)
{
    const wp_sim_company *c = g->c;
    const wp_sim_customer *cu = &c->customers[x->k];
    enum wp_sim_trade trade = c->units[c->people[cu->owner].unit].trade;
    int64_t at = t + wp_sim_rng_range(m, 3, 40) * WP_SIM__MIN_US;
    wp_sim_act *a;
    static const char *const by_interest[3] = {"C", "B", "A"};
    if (at >= x->stop_us)
        return;
    if (s == 0) { /* a new lead, or one the CRM had before the period */
        /* a new lead is marked contacted at once by the careful, later or never by others */
        if (cu->known_before || wp_sim_rng_permille(m, g->style.notes_permille + 200)) {
            x->contacted = 1;
            if ((a = act(g, at, WP_SIM_ACT_STAGE, x->k))) {
                a->stage = crm_stage(stage);
                a->amount_fen = stage >= 4 ? wp_sim__deal_fen(c, (size_t)x->k) : 0;
            }
        }
        a = act(g, at + SEC_US, WP_SIM_ACT_TAGS, x->k);
        if (wp_sim_rng_permille(m, cu->known_before ? 800 : 700))
            tag(a, pick(&wp_sim__tag_source, m));
        if (wp_sim_rng_permille(m, cu->known_before ? 800 : 600))
            tag(a, pick(&wp_sim__tag_need[trade], m));
        if (a && !a->n_tags)
            g->n_acts--; /* nothing to tag after all */
        if (cu->known_before && wp_sim_rng_permille(m, 300) &&
            (a = act(g, at + 2 * SEC_US, WP_SIM_ACT_GRADE, x->k)))
            a->grade = x->grade = by_interest[x->interest];
        if (wp_sim_rng_permille(m, g->style.notes_permille))
            note_text(g, act(g, at + 3 * SEC_US, WP_SIM_ACT_NOTE, x->k), x->k,
                      cu->known_before ? WP_SIM__NOTE_STAGE1 + (stage > 4 ? 3 : stage - 1)
                                       : WP_SIM__NOTE_OPENING,
                      m);
        return;
    }
    if (lost) { /* the customer said no */
        if ((a = act(g, at, WP_SIM_ACT_STAGE, x->k)))
            a->stage = "lost";
        if (wp_sim_rng_permille(m, g->style.notes_permille + 150))
            note_text(g, act(g, at + SEC_US, WP_SIM_ACT_NOTE, x->k), x->k, WP_SIM__NOTE_LOST, m);
        if (wp_sim_rng_permille(m, 300) && (a = act(g, at + 2 * SEC_US, WP_SIM_ACT_GRADE, x->k)))
            a->grade = x->grade = "D";
        return;
    }
    if (s == 1 && !cu->known_before && stage < 2 && !x->contacted &&
        wp_sim_rng_permille(m, 800) && (a = act(g, at - SEC_US, WP_SIM_ACT_STAGE, x->k))) {
        a->stage = "contacted"; /* late, but marked */
        x->contacted = 1;
    }
    if (stage != before && strcmp(crm_stage(stage), crm_stage(before))) {
        if ((a = act(g, at, WP_SIM_ACT_STAGE, x->k))) {
            a->stage = crm_stage(stage);
            a->amount_fen = stage >= 4 ? wp_sim__deal_fen(c, (size_t)x->k) : 0;
        }
        if (stage >= 4 && wp_sim_rng_permille(m, 400) &&
            (a = act(g, at + SEC_US, WP_SIM_ACT_TAGS, x->k)))
            tag(a, cu->known_before ? "老客户复购" : wp_sim_rng_permille(m, 500) ? "决策快" : "高净值");
        if (stage == 2 && x->interest > 0 && !x->grade && wp_sim_rng_permille(m, 250) &&
            (a = act(g, at + 2 * SEC_US, WP_SIM_ACT_GRADE, x->k)))
            a->grade = x->grade = by_interest[x->interest];
    }
    if (objection && wp_sim_rng_permille(m, 500) &&
        (a = act(g, at + 3 * SEC_US, WP_SIM_ACT_TAGS, x->k)))
        tag(a, wp_sim_rng_permille(m, 500) ? "价格敏感" : "需家人商量");
    if (x->interest == 0 && !x->grade && wp_sim_rng_permille(m, 100) &&
        (a = act(g, at + 4 * SEC_US, WP_SIM_ACT_GRADE, x->k)))
        a->grade = x->grade = "C";
    if (wp_sim_rng_permille(m, g->style.notes_permille))
        note_text(g, act(g, at + 5 * SEC_US, WP_SIM_ACT_NOTE, x->k), x->k,
                  objection ? WP_SIM__NOTE_OBJECTION
                  : stage == before && wp_sim_rng_permille(m, 300)
                      ? WP_SIM__NOTE_CHECKIN
                      : WP_SIM__NOTE_STAGE1 + (stage > 4 ? 3 : stage < 1 ? 0 : stage - 1),
                  m);
}

/* After the last talk: the pool for some that went cold or said no, a colleague claiming some
 * of those; and a leaver's customers followed up (or not) by whoever received them. */
static void crm_after(struct gen *g, wp_sim_rng *m, struct crm *x, int64_t last_t, unsigned stage,
                      int lost)
{
    const wp_sim_company *c = g->c;
    const wp_sim_customer *cu = &c->customers[x->k];
    wp_sim_act *a;
    if (!last_t)
        return;
    if ((long)cu->owner == c->leaver) {
        /* more than half are called by their new owner within days; the rest wait, and the
         * follow-up rules remind (and then warn) */
        if (!lost && wp_sim_rng_permille(m, 550))
            note_text(g, act(g, later_day(c, m, c->leave_us, wp_sim_rng_range(m, 1, 3)),
                             WP_SIM_ACT_NOTE, x->k),
                      x->k, WP_SIM__NOTE_HANDOVER, m);
        return;
    }
    int64_t at = 0;
    if (lost && wp_sim_rng_permille(m, 600))
        at = later_day(c, m, last_t, wp_sim_rng_range(m, 0, 2));
    else if (!lost && stage < 4 && x->interest == 0 && wp_sim_rng_permille(m, 350))
        at = later_day(c, m, last_t, wp_sim_rng_range(m, 4, 8)); /* no answer for days */
    if (!at || at >= x->stop_us || !(a = act(g, at, WP_SIM_ACT_RELEASE, x->k)))
        return;
    note_text(g, a, x->k, WP_SIM__NOTE_RELEASE, m);
    long by = colleague(c, cu->owner, m);
    if (by >= 0 && wp_sim_rng_permille(m, 450) &&
        (a = act(g, later_day(c, m, at, wp_sim_rng_range(m, 1, 3)), WP_SIM_ACT_CLAIM, x->k))) {
        a->by = by;
        note_text(g, a, x->k, WP_SIM__NOTE_CLAIM, m);
    }
}

static void customer(struct gen *g, long k)
{
    const wp_sim_company *c = g->c;
    const wp_sim_customer *cu = &c->customers[k];
    enum wp_sim_trade trade = c->units[c->people[cu->owner].unit].trade;
    wp_sim_rng r;
    wp_sim_rng_seed(&r, c->cfg.seed, 0x10000000u + (uint64_t)k);

    static const unsigned sessions_lo[3] = {2, 6, 12}, sessions_hi[3] = {4, 12, 20};
    static const unsigned gap_lo[3] = {3, 1, 1}, gap_hi[3] = {7, 3, 2};
    static const unsigned advance[3] = {110, 200, 380};
    unsigned in = cu->interest % 3;
    unsigned sessions = (unsigned)wp_sim_rng_range(&r, (int)sessions_lo[in], (int)sessions_hi[in]);
    static const unsigned known_stage[4] = {1, 1, 2, 3}; /* most were still early on */
    unsigned stage = cu->known_before ? known_stage[wp_sim_rng_below(&r, 4)] : 0;
    unsigned day = cu->known_before ? wp_sim_rng_below(&r, c->days < 4 ? c->days : 4)
                                    : cu->first_day;
    int64_t delete_at = 0;
    const char *delete_action = "deleted";
    g->x.n_used = 0;

    /* a few are dropped, or blocked, for no reason an archive can see, on some day after they
     * first talked (their own stream: the talk above stays what it was) */
    wp_sim_rng d;
    wp_sim_rng_seed(&d, c->cfg.seed, 0x30000000u + (uint64_t)k);
    if (wp_sim_rng_permille(&d, 40)) {
        unsigned from = cu->known_before ? 0 : cu->first_day;
        unsigned dday = from + 1 + wp_sim_rng_below(&d, c->days > from ? c->days - from : 1);
        delete_at = c->start_us + (int64_t)dday * WP_SIM__DAY_US + 9 * HOUR_US +
                    wp_sim_rng_below(&d, 13 * 3600) * SEC_US;
        if (wp_sim_rng_permille(&d, 250))
            delete_action = "blocked";
    }

    /* what the CRM will show: some say no (the cold ones most), on their own stream */
    wp_sim_rng m;
    wp_sim_rng_seed(&m, c->cfg.seed, 0x38000000u + (uint64_t)k);
    static const unsigned lose[3] = {520, 220, 60};
    struct crm x = {k, in, (long)cu->owner == c->leaver ? c->leave_us : INT64_MAX, NULL, 0};
    int last = sessions > 4 ? 4 : sessions > 2 ? (int)sessions - 1 : 1; /* early on, mostly */
    unsigned lose_at = !cu->quick && wp_sim_rng_permille(&m, lose[in])
                           ? (unsigned)wp_sim_rng_range(&m, 1, in == 0 ? last : (int)sessions - 1)
                           : UINT32_MAX;
    int64_t last_t = 0;
    int lost = 0;

    for (unsigned s = 0; s < sessions && day < c->days && !g->err; s++) {
        int first = s == 0 && !cu->known_before;
        int by_employee = first ? 1 : wp_sim_rng_permille(&r, 600);
        int64_t t = c->start_us + (int64_t)day * WP_SIM__DAY_US +
                    pick_hour(&r, by_employee) * HOUR_US +
                    wp_sim_rng_below(&r, 3600) * SEC_US;
        if ((delete_at && t > delete_at) || t >= x.stop_us)
            break;
        int leak = 0, objection = 0;
        unsigned before = stage;
        if (first) {
            contact(g, k, t - wp_sim_rng_range(&r, 1, 20) * WP_SIM__MIN_US, "added");
            if (exchange(g, &r, k, WP_SIM__OPENING, 0) == 0)
                t = emit(g, &r, k, t, &leak);
            /* some come ready to buy: a referral, a buyer who has seen homes elsewhere, a
             * parent set on a course */
            static const unsigned ready[3] = {0, 150, 600};
            stage = cu->quick ? 3
                    : wp_sim_rng_permille(&r, ready[in]) ? 2 + (in == 2 && wp_sim_rng_permille(&r, 500))
                                                         : 1;
        } else if (s == lose_at && stage < 4) {
            if (exchange(g, &r, k, WP_SIM__LOST, stage) == 0)
                t = emit(g, &r, k, t, &leak);
            lost = 1;
        } else {
            if (wp_sim_rng_permille(&r, 180))
                call(g, &r, k, t - wp_sim_rng_range(&r, 5, 60) * WP_SIM__MIN_US);
            unsigned n = 1 + wp_sim_rng_permille(&r, 500) + wp_sim_rng_permille(&r, 150);
            for (unsigned i = 0; i < n && !g->err; i++) {
                enum wp_sim__script kind = WP_SIM__STAGE;
                if (wp_sim_rng_below(&r, 1000000) < violation_ppm(g, trade))
                    kind = WP_SIM__VIOLATION;
                else if (wp_sim_rng_permille(&r, 250))
                    kind = WP_SIM__CHECKIN;
                else if (stage < 4 && wp_sim_rng_permille(&r, 160))
                    kind = WP_SIM__OBJECTION, objection = 1;
                if (exchange(g, &r, k, kind, stage) == 0)
                    t = emit(g, &r, k, t, &leak) + wp_sim_rng_range(&r, 1, 20) * WP_SIM__MIN_US;
            }
            /* a course is sold in days, a policy in a week or two, a home in weeks */
            static const unsigned pace[3] = {100, 120, 170}; /* percent */
            if (stage < WP_SIM__STAGES - 1 &&
                (cu->quick || wp_sim_rng_permille(&r, advance[in] * pace[trade] / 100)))
                stage++;
        }
        crm_session(g, &m, &x, s, before, stage, lost, objection, t);
        last_t = t;
        /* a drop planned for during this talk waits for its end */
        if (delete_at && t >= delete_at)
            delete_at = t + wp_sim_rng_range(&d, 10, 120) * WP_SIM__MIN_US;
        /* a customer moved to a private channel is often deleted from the work phone after */
        if (!delete_at && leak && wp_sim_rng_permille(&r, 200))
            delete_at = t + wp_sim_rng_range(&r, 60, 3 * 24 * 60) * WP_SIM__MIN_US;
        if (lost)
            break;
        day += (unsigned)wp_sim_rng_range(&r, (int)gap_lo[in], (int)gap_hi[in]);
    }
    if (delete_at) {
        contact(g, k, delete_at, delete_action);
        g->gone_us[(size_t)k - c->people[cu->owner].first_customer] = delete_at;
    }
    crm_after(g, &m, &x, last_t, stage, lost);
}

/* --- where the phone was ------------------------------------------------------------------ */

static void point(struct gen *g, wp_sim_rng *r, int64_t t, double lat, double lon, double noise_m,
                  int acc_lo, int acc_hi)
{
    struct raw *e = push(g, t, WP_SIM_LOCATION, -1);
    if (!e)
        return;
    e->e.media = -1;
    double a = wp_sim_rng_unit(r) * 2 * M_PI, d = wp_sim_rng_unit(r) * noise_m;
    wp_sim__offset(&lat, &lon, d * cos(a), d * sin(a));
    e->e.lat = round(lat * 1e6) / 1e6;
    e->e.lon = round(lon * 1e6) / 1e6;
    e->e.accuracy_m = wp_sim_rng_range(r, acc_lo, acc_hi);
}

static double distance_m(double lat1, double lon1, double lat2, double lon2)
{
    double dy = (lat2 - lat1) * 111320.0;
    double dx = (lon2 - lon1) * 111320.0 * cos((lat1 + lat2) / 2 * M_PI / 180.0);
    return sqrt(dx * dx + dy * dy);
}

/* How long the way from a to b takes (metro or car, ~22 km/h door to door, along d metres of
 * streets). */
static int64_t travel_us(double d)
{
    return (int64_t)(d / 22000.0 * 60) * WP_SIM__MIN_US + 6 * WP_SIM__MIN_US;
}

/* Travel from a to b along the streets: a city's main roads run roughly north-south and
 * east-west, so the way turns once at a corner (lat_first < 0: either, at random). A point
 * every ~5 minutes. */
static int64_t travel_via(struct gen *g, wp_sim_rng *r, int64_t t, double alat, double alon,
                          double blat, double blon, int lat_first)
{
    if (lat_first < 0)
        lat_first = wp_sim_rng_permille(r, 500);
    double clat = lat_first ? blat : alat, clon = lat_first ? alon : blon;
    double d1 = distance_m(alat, alon, clat, clon), d2 = distance_m(clat, clon, blat, blon);
    double d = d1 + d2;
    int64_t dur = travel_us(d);
    int steps = (int)(dur / (5 * WP_SIM__MIN_US));
    for (int i = 1; i <= steps; i++) {
        double at = d * i / (steps + 1), lat, lon;
        if (at < d1 && d1 > 0) {
            lat = alat + (clat - alat) * at / d1;
            lon = alon + (clon - alon) * at / d1;
        } else {
            double f = d2 > 0 ? (at - d1) / d2 : 1;
            lat = clat + (blat - clat) * f;
            lon = clon + (blon - clon) * f;
        }
        point(g, r, t + dur * i / (steps + 1), lat, lon, 40, 10, 50);
    }
    return t + dur;
}

static int64_t travel(struct gen *g, wp_sim_rng *r, int64_t t, double alat, double alon,
                      double blat, double blon)
{
    return travel_via(g, r, t, alat, alon, blat, blon, -1);
}

/* Field staff turn at the corner nearer their store: the way between two places within the
 * store's fence stays within it (the nearer corner is never farther than the farther end). */
static int64_t drive(struct gen *g, wp_sim_rng *r, int64_t t, const wp_sim_unit *u, double alat,
                     double alon, double blat, double blon)
{
    int lat_first =
        distance_m(u->lat, u->lon, blat, alon) <= distance_m(u->lat, u->lon, alat, blon);
    return travel_via(g, r, t, alat, alon, blat, blon, lat_first);
}

/* A check-in (CONTRACT §4) of kind "in", "out" or "visit" (customer k, else -1) at a place,
 * with a photo. */
static void checkin(struct gen *g, wp_sim_rng *r, int64_t t, const char *kind, long k, double lat,
                    double lon, int photo)
{
    struct raw *e = push(g, t, WP_SIM_CHECKIN, k);
    if (!e)
        return;
    e->e.action = kind;
    e->e.media = photo;
    double a = wp_sim_rng_unit(r) * 2 * M_PI, d = wp_sim_rng_unit(r) * 15;
    wp_sim__offset(&lat, &lon, d * cos(a), d * sin(a));
    e->e.lat = round(lat * 1e6) / 1e6;
    e->e.lon = round(lon * 1e6) / 1e6;
    e->e.accuracy_m = wp_sim_rng_range(r, 5, 20);
}

/* Points at one place from t until end, every 10-15 minutes; returns end. */
static int64_t stay(struct gen *g, wp_sim_rng *r, int64_t t, int64_t end, double lat, double lon)
{
    for (; t < end; t += wp_sim_rng_range(r, 10, 15) * WP_SIM__MIN_US)
        point(g, r, t, lat, lon, 25, 8, 30);
    return end;
}

/* A field salesperson's days: the commute to the store, a clock-in on arrival (a few days
 * late), visits to its own customers between the store and their places (20-60 minutes each,
 * a check-in with a photo naming the customer), about one day in ten a trip well outside the
 * store's fence and back, a clock-out when it leaves (a few days early), home. Its own random
 * stream: the other people's days are what they were. */
static void field_days(struct gen *g)
{
    const wp_sim_company *c = g->c;
    const wp_sim_person *p = &c->people[g->person];
    const wp_sim_unit *u = &c->units[p->unit];
    wp_sim_rng r;
    wp_sim_rng_seed(&r, c->cfg.seed, 0x24000000u + (uint64_t)g->person);
    static const int off_lo[3] = {2, 0, 1}, off_hi[3] = {4, 0, 2};
    int off = wp_sim_rng_range(&r, off_lo[u->trade], off_hi[u->trade]);
    static const int visits_hi[3] = {3, 2, 1};
    int64_t tz = (int64_t)WP_SIM_TZ_MIN * WP_SIM__MIN_US;
    int64_t first_local_day = (c->start_us + tz) / WP_SIM__DAY_US;
    int clock_photo = wp_sim__media_pick(c, "image", "photo", &r);
    int visit_photo =
        wp_sim__media_pick(c, "image", u->trade == WP_SIM_PROPERTY ? "house" : "doc", &r);
    long known[WP_SIM_CUSTOMERS_MAX * 2];

    for (unsigned day = 0; day < c->days && !g->err; day++) {
        int weekday = (int)((first_local_day + day + 4) % 7); /* 1970-01-01 was a Thursday */
        if (weekday == off)
            continue;
        int64_t d0 = c->start_us + (int64_t)day * WP_SIM__DAY_US;
        int late = wp_sim_rng_permille(&r, 40), early = wp_sim_rng_permille(&r, 40);
        int64_t arrive = late ? d0 + 9 * HOUR_US + wp_sim_rng_range(&r, 10, 50) * WP_SIM__MIN_US
                              : d0 + 8 * HOUR_US + wp_sim_rng_range(&r, 25, 52) * WP_SIM__MIN_US;
        int64_t leave = early ? d0 + 16 * HOUR_US + wp_sim_rng_range(&r, 30, 80) * WP_SIM__MIN_US
                              : d0 + 18 * HOUR_US + wp_sim_rng_range(&r, 2, 75) * WP_SIM__MIN_US;
        double commute = distance_m(p->home_lat, p->home_lon, u->lat, p->home_lon) +
                         distance_m(u->lat, p->home_lon, u->lat, u->lon);
        int64_t t = arrive - travel_us(commute);
        point(g, &r, t, p->home_lat, p->home_lon, 15, 8, 25);
        t = drive(g, &r, t, u, p->home_lat, p->home_lon, u->lat, u->lon);
        checkin(g, &r, t + wp_sim_rng_range(&r, 0, 120) * SEC_US, "in", -1, u->lat, u->lon,
                clock_photo);

        /* the customers it can visit today: those it knew before today */
        size_t n_known = 0;
        for (size_t k = p->first_customer; k < p->first_customer + p->n_customers; k++) {
            const wp_sim_customer *cu = &c->customers[k];
            int64_t gone = g->gone_us[k - p->first_customer];
            if ((cu->known_before || cu->first_day < day) && (!gone || gone > d0 + DAY_END_US) &&
                n_known < sizeof known / sizeof *known)
                known[n_known++] = (long)k;
        }
        int n_visits = n_known ? wp_sim_rng_range(&r, 1, visits_hi[u->trade]) : 0;
        int trip = wp_sim_rng_permille(&r, 100);
        int trip_at = trip ? wp_sim_rng_range(&r, 0, n_visits) : -1;
        double lat = u->lat, lon = u->lon;
        int64_t next = d0 + 9 * HOUR_US + 30 * WP_SIM__MIN_US +
                       wp_sim_rng_range(&r, 0, 60) * WP_SIM__MIN_US;
        t = stay(g, &r, t, next, lat, lon);
        for (int i = 0; i <= n_visits && !g->err; i++) {
            if (i == trip_at) { /* off the area, during working hours, and back */
                double flat = u->lat, flon = u->lon, a = wp_sim_rng_unit(&r) * 2 * M_PI;
                double d = u->fence_radius_m + wp_sim_rng_range(&r, 2000, 6000);
                wp_sim__offset(&flat, &flon, d * cos(a), d * sin(a));
                t = drive(g, &r, t, u, lat, lon, flat, flon);
                t = stay(g, &r, t, t + wp_sim_rng_range(&r, 30, 90) * WP_SIM__MIN_US, flat, flon);
                t = drive(g, &r, t, u, flat, flon, u->lat, u->lon);
                lat = u->lat, lon = u->lon;
            }
            if (i == n_visits || t > leave - 90 * WP_SIM__MIN_US)
                break;
            long k = known[wp_sim_rng_below(&r, (uint32_t)n_known)];
            double klat, klon;
            wp_sim__customer_point(&klat, &klon, c, (size_t)k);
            t = drive(g, &r, t, u, lat, lon, klat, klon);
            int64_t end = t + wp_sim_rng_range(&r, 20, 60) * WP_SIM__MIN_US;
            checkin(g, &r, t + wp_sim_rng_range(&r, 1, 5) * WP_SIM__MIN_US, "visit", k, klat,
                    klon, visit_photo);
            t = stay(g, &r, t, end, klat, klon);
            lat = klat, lon = klon;
            /* on to the next customer, or back to the store first */
            if (wp_sim_rng_permille(&r, 500) || i + 1 == n_visits) {
                t = drive(g, &r, t, u, lat, lon, u->lat, u->lon);
                lat = u->lat, lon = u->lon;
                t = stay(g, &r, t, t + wp_sim_rng_range(&r, 20, 70) * WP_SIM__MIN_US, lat, lon);
            }
        }
        if (lat != u->lat || lon != u->lon)
            t = drive(g, &r, t, u, lat, lon, u->lat, u->lon);
        for (; t < leave; t += wp_sim_rng_range(&r, 35, 55) * WP_SIM__MIN_US)
            point(g, &r, t, u->lat, u->lon, 20, 5, 35);
        checkin(g, &r, t, "out", -1, u->lat, u->lon, clock_photo);
        t = drive(g, &r, t + wp_sim_rng_range(&r, 1, 5) * WP_SIM__MIN_US, u, u->lat, u->lon,
                  p->home_lat, p->home_lon);
        point(g, &r, t, p->home_lat, p->home_lon, 15, 8, 25);
    }
}

static void locations(struct gen *g)
{
    const wp_sim_company *c = g->c;
    const wp_sim_person *p = &c->people[g->person];
    const wp_sim_unit *u = &c->units[p->unit];
    wp_sim_rng r;
    if (p->field) {
        field_days(g);
        return;
    }
    wp_sim_rng_seed(&r, c->cfg.seed, 0x20000000u + (uint64_t)g->person);
    /* one day off a week: agents on a weekday, insurance on Sunday, schools early in the week */
    static const int off_lo[3] = {2, 0, 1}, off_hi[3] = {4, 0, 2};
    int off = wp_sim_rng_range(&r, off_lo[u->trade], off_hi[u->trade]);
    static const int outings_hi[3] = {3, 2, 1};
    int64_t tz = (int64_t)WP_SIM_TZ_MIN * WP_SIM__MIN_US;
    int64_t first_local_day = (c->start_us + tz) / WP_SIM__DAY_US;

    for (unsigned day = 0; day < c->days && !g->err; day++) {
        int weekday = (int)((first_local_day + day + 4) % 7); /* 1970-01-01 was a Thursday */
        if (weekday == off)
            continue;
        int64_t d0 = c->start_us + (int64_t)day * WP_SIM__DAY_US;
        int64_t t = d0 + 8 * HOUR_US + wp_sim_rng_range(&r, 0, 40) * WP_SIM__MIN_US;
        point(g, &r, t, p->home_lat, p->home_lon, 15, 8, 25);
        t = travel(g, &r, t, p->home_lat, p->home_lon, u->lat, u->lon);
        int64_t leave = d0 + 18 * HOUR_US + wp_sim_rng_range(&r, 0, 90) * WP_SIM__MIN_US;
        int n_out = wp_sim_rng_range(&r, 0, outings_hi[u->trade]);
        int64_t next_out = n_out ? d0 + 10 * HOUR_US + wp_sim_rng_range(&r, 0, 120) * WP_SIM__MIN_US
                                 : leave;
        while (t < leave && !g->err) {
            if (t >= next_out && n_out > 0) {
                double plat, plon;
                wp_sim__place_point(&plat, &plon, c, p->unit,
                                    wp_sim_rng_below(&r, (uint32_t)wp_sim__n_places));
                t = travel(g, &r, t, u->lat, u->lon, plat, plon);
                int64_t back = t + wp_sim_rng_range(&r, 30, 80) * WP_SIM__MIN_US;
                for (; t < back; t += wp_sim_rng_range(&r, 10, 15) * WP_SIM__MIN_US)
                    point(g, &r, t, plat, plon, 25, 8, 30);
                t = travel(g, &r, t, plat, plon, u->lat, u->lon);
                n_out--;
                next_out = t + wp_sim_rng_range(&r, 40, 150) * WP_SIM__MIN_US;
                continue;
            }
            point(g, &r, t, u->lat, u->lon, 20, 5, 35);
            t += wp_sim_rng_range(&r, 35, 55) * WP_SIM__MIN_US;
        }
        t = travel(g, &r, t, u->lat, u->lon, p->home_lat, p->home_lon);
        point(g, &r, t, p->home_lat, p->home_lon, 15, 8, 25);
    }
}

/* --- the stream ----------------------------------------------------------------------------- */

static int by_time(const void *a, const void *b)
{
    const struct raw *x = a, *y = b;
    if (x->e.ts_us != y->e.ts_us)
        return x->e.ts_us < y->e.ts_us ? -1 : 1;
    return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static void raw_free(struct raw *r)
{
    free(r->e.text);
    free(r->e.url);
    free(r->e.title);
    free(r->e.filename);
}

/* Acts by time, then in the order they were planned (a stage before the note about it). */
struct act_order {
    int64_t ts;
    size_t i;
};

static int by_act_time(const void *a, const void *b)
{
    const struct act_order *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* The acts in time order, those of the period only, into s. */
static int acts_finish(struct gen *g, wp_sim_stream *s)
{
    const wp_sim_company *c = g->c;
    struct act_order *o = g->n_acts ? calloc(g->n_acts, sizeof *o) : NULL;
    if (g->n_acts && (!o || !(s->acts = calloc(g->n_acts, sizeof *s->acts)))) {
        free(o);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < g->n_acts; i++)
        o[i] = (struct act_order){g->acts[i].ts_us, i};
    if (g->n_acts)
        qsort(o, g->n_acts, sizeof *o, by_act_time);
    for (size_t j = 0; j < g->n_acts; j++) {
        wp_sim_act *a = &g->acts[o[j].i];
        if (a->ts_us < c->start_us || a->ts_us >= c->cfg.end_us) {
            free(a->text);
            a->text = NULL;
            continue;
        }
        a->day = (unsigned)((a->ts_us - c->start_us) / WP_SIM__DAY_US);
        s->acts[s->n_acts++] = *a;
    }
    g->n_acts = 0; /* the texts moved to s */
    free(o);
    return 0;
}

int wp_sim_stream_new(wp_sim_stream **out, const wp_sim_company *c, size_t person)
{
    struct gen g = {.c = c, .person = person};
    wp_sim_stream *s = NULL;
    int64_t *seq_of = NULL;
    int err = 0;
    if (person >= c->n_people || !c->people[person].has_device)
        return wp_error_set(WP_EINVAL, "person %zu has no phone", person);
    wp_buf_init(&g.x.text, 64 * 1024);
    wp_buf_init(&g.note, 16 * 1024);
    wp_sim__style(&g.style, c, person);
    const wp_sim_person *p = &c->people[person];
    for (size_t k = p->first_customer; k < p->first_customer + p->n_customers && !g.err; k++)
        customer(&g, (long)k);
    if (!g.err)
        locations(&g);
    if ((err = g.err) < 0)
        goto out;

    /* seq follows ts; what would lie past the end of the period has not happened yet, and a
     * leaver's phone reports nothing after it left */
    int64_t stop_us = (long)person == c->leaver ? c->leave_us : c->cfg.end_us;
    size_t n_uid = g.n;
    if (g.n) /* ev is NULL when nothing happened */
        qsort(g.ev, g.n, sizeof *g.ev, by_time);
    if (!(s = calloc(1, sizeof *s)) || !(seq_of = calloc(n_uid + 1, sizeof *seq_of)) ||
        (g.n && !(s->events = calloc(g.n, sizeof *s->events)))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < g.n; i++) {
        struct raw *r = &g.ev[i];
        int keep = r->e.ts_us >= c->start_us && r->e.ts_us < c->cfg.end_us &&
                   r->e.ts_us < stop_us;
        if (keep && r->revoke_uid) {
            r->e.revoked_seq = seq_of[r->revoke_uid - 1];
            keep = r->e.revoked_seq > 0;
        }
        if (!keep) {
            raw_free(r);
            continue;
        }
        wp_sim_event *e = &s->events[s->n];
        *e = r->e;
        e->seq = (int64_t)s->n + 1;
        e->day = (unsigned)((e->ts_us - c->start_us) / WP_SIM__DAY_US);
        seq_of[r->uid] = e->seq;
        s->n++;
    }
    g.n = 0; /* the texts moved to s */
    if ((err = acts_finish(&g, s)) < 0)
        goto out;
    s->company = c;
    s->person = person;
    *out = s;
    s = NULL;
out:
    for (size_t i = 0; i < g.n; i++)
        raw_free(&g.ev[i]);
    for (size_t i = 0; i < g.n_acts; i++)
        free(g.acts[i].text);
    free(g.ev);
    free(g.acts);
    free(seq_of);
    wp_buf_release(&g.x.text);
    wp_buf_release(&g.note);
    wp_sim_stream_free(s);
    return err;
}

void wp_sim_stream_free(wp_sim_stream *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->events[i].text);
        free(s->events[i].url);
        free(s->events[i].title);
        free(s->events[i].filename);
    }
    for (size_t i = 0; i < s->n_acts; i++)
        free(s->acts[i].text);
    free(s->events);
    free(s->acts);
    free(s);
}

/* --- JSON ------------------------------------------------------------------------------------ */

static int put(json_t *o, const char *key, json_t *v)
{
    return v ? json_object_set_new(o, key, v) : -1;
}

static json_t *peer(const wp_sim_customer *cu, int with_id)
{
    json_t *p = json_object();
    if (!p)
        return NULL;
    if ((with_id && put(p, "id", json_string(cu->wxid)) < 0) ||
        put(p, "name", json_string(cu->name)) < 0 || put(p, "phone", json_string(cu->phone)) < 0) {
        json_decref(p);
        return NULL;
    }
    return p;
}

static json_t *event_json(const wp_sim_stream *s, const wp_sim_event *e)
{
    static const char *const types[] = {"", "message", "call", "contact", "location", "checkin"};
    char ts[40];
    wp_time_format(ts, e->ts_us, WP_SIM_TZ_MIN);
    json_t *o = json_object();
    int bad = !o || put(o, "seq", json_integer(e->seq)) < 0 ||
              put(o, "type", json_string(types[e->type])) < 0 ||
              put(o, "ts", json_string(ts)) < 0;
    const wp_sim_customer *cu = e->customer >= 0 ? &s->company->customers[e->customer] : NULL;
    if (!bad && e->type == WP_SIM_LOCATION) {
        bad = put(o, "lat", json_real(e->lat)) < 0 || put(o, "lon", json_real(e->lon)) < 0 ||
              put(o, "accuracy_m", json_real(e->accuracy_m)) < 0;
    } else if (!bad && e->type == WP_SIM_CHECKIN) {
        bad = put(o, "kind", json_string(e->action)) < 0 ||
              put(o, "lat", json_real(e->lat)) < 0 || put(o, "lon", json_real(e->lon)) < 0 ||
              put(o, "accuracy_m", json_real(e->accuracy_m)) < 0 ||
              (e->media >= 0 &&
               put(o, "photo", json_string(s->company->media[e->media].ref)) < 0) ||
              (cu && put(o, "peer", peer(cu, 0)) < 0);
    } else if (!bad && e->type == WP_SIM_CALL) {
        bad = put(o, "direction", json_string(e->out ? "out" : "in")) < 0 ||
              put(o, "peer", peer(cu, 0)) < 0 ||
              put(o, "duration_s", json_integer(e->duration_s)) < 0 ||
              (e->media >= 0 &&
               put(o, "recording", json_string(s->company->media[e->media].ref)) < 0);
    } else if (!bad && e->type == WP_SIM_CONTACT) {
        bad = put(o, "channel", json_string(e->channel)) < 0 ||
              put(o, "action", json_string(e->action)) < 0 || put(o, "peer", peer(cu, 1)) < 0;
    } else if (!bad) {
        int sms = !strcmp(e->channel, "sms");
        bad = put(o, "channel", json_string(e->channel)) < 0 ||
              put(o, "direction", json_string(e->out ? "out" : "in")) < 0 ||
              put(o, "peer", peer(cu, !sms)) < 0 ||
              put(o, "chat", json_string(sms ? cu->phone : cu->wxid)) < 0 ||
              put(o, "msgtype", json_string(e->msgtype)) < 0;
        const wp_sim_media *m = e->media >= 0 ? &s->company->media[e->media] : NULL;
        if (!bad && m) /* image, voice, file: the file the phone uploads, as the protocol names it */
            bad = put(o, "media", json_string(m->ref)) < 0 ||
                  put(o, "size", json_integer((json_int_t)m->len)) < 0 ||
                  (e->filename && put(o, "filename", json_string(e->filename)) < 0);
        if (!bad && !strcmp(e->msgtype, "link"))
            bad = put(o, "url", json_string(e->url ? e->url : "")) < 0 ||
                  put(o, "title", json_string(e->text ? e->text : "")) < 0;
        else if (!bad && (!strcmp(e->msgtype, "location") || !strcmp(e->msgtype, "card")))
            bad = (e->title && put(o, "title", json_string(e->title)) < 0) ||
                  (e->text && put(o, "text", json_string(e->text)) < 0);
        else if (!bad && (!strcmp(e->msgtype, "transfer") || !strcmp(e->msgtype, "redpacket")))
            bad = put(o, "amount_fen", json_integer(e->amount_fen)) < 0 ||
                  (e->text && put(o, "memo", json_string(e->text)) < 0);
        else if (!bad && !strcmp(e->msgtype, "revoke"))
            bad = put(o, "revoked_seq", json_integer(e->revoked_seq)) < 0;
        else if (!bad && !strcmp(e->msgtype, "text"))
            bad = put(o, "text", json_string(e->text ? e->text : "")) < 0;
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int wp_sim_stream_batch(json_t **out, const wp_sim_stream *s, size_t from, size_t n)
{
    json_t *events = json_array(), *body = NULL;
    if (!events)
        return wp_error_set(WP_ENOMEM, "out of memory");
    for (size_t i = from; i < from + n && i < s->n; i++)
        if (json_array_append_new(events, event_json(s, &s->events[i])) < 0) {
            json_decref(events);
            return wp_error_set(WP_ENOMEM, "out of memory");
        }
    if (!(body = json_object())) {
        json_decref(events);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    if (json_object_set_new(body, "events", events) < 0) { /* it took events either way */
        json_decref(body);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    *out = body;
    return 0;
}
