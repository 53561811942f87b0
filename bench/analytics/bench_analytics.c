/* SPDX-License-Identifier: MIT */
/* The analytics benchmark's loader and timer (bench/analytics/run drives it): a company of
 * 500 employees writes N messages over 30 days through wp_store_events_apply, the rollup job
 * folds them in, and each dashboard query is timed from the rollups and from the raw rows. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/analytics.h"
#include "store/db.h"
#include "store/devices.h"
#include "store/events.h"
#include "store/org.h"
#include "store/people.h"
#include "store/scope.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/id.h"

#define DAY_US 86400000000LL
#define DAY0_US 1793318400000000LL /* 2026-10-30T00:00:00Z: events from 09:00Z (17:00 +08:00) */
#define DAYS 30
#define EMPLOYEES 500
#define TEAMS 50 /* 10 stores of 5 teams, under 5 regions */
#define CHATS 40 /* customers per employee */
#define TX_BATCHES 50

static const char usage[] =
    "usage: bench_analytics load  --data DIR [--db URL] --messages N [--backlog B]\n"
    "       bench_analytics query --data DIR [--db URL] [--repeat R] [--raw-repeat R2]\n"
    "load: a tenant with 5 regions, 10 stores, 50 teams and 500 salespeople (one phone\n"
    "each, 40 customers each) gets N messages (~5%% calls, ~1%% alerts) over 30 days, then\n"
    "the rollup job runs (timed), then B more messages of the last day arrive unfolded (the\n"
    "job's backlog between two runs).\n"
    "query: each dashboard query over the 30 days, as admin and as one region's manager,\n"
    "R times (20) from the rollups and R2 times (3) from the raw rows; prints p50/p95 ms.\n";

static void ok(int err, const char *what)
{
    if (err < 0) {
        fprintf(stderr, "bench_analytics: %s: %s\n", what, wp_error_last());
        exit(1);
    }
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252ULL;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static void fake_hash(char out[65], unsigned i, int kind)
{
    char id[WP_ID_LEN + 1];
    wp_id_new(id);
    snprintf(out, 65, "%s%08x%08x%024d", id, i, (unsigned)kind, 0);
}

struct world {
    wp_store *st;
    char tenant[WP_ID_LEN + 1];
    wp_employee emp[EMPLOYEES];
    wp_device dev[EMPLOYEES];
    int64_t seq[EMPLOYEES], ts[EMPLOYEES];
    int open[EMPLOYEES][CHATS]; /* a customer turn waits for a reply */
};

static const char *texts[] = {"在吗", "这个多少钱", "好的，谢谢", "明天可以看房吗", "您好，我是小王",
                              "已经发您了", "考虑一下", "有优惠吗", "收到", "我们周末见"};
static const char *cats[] = {"promise", "private_deal", "bribery", "insult"};

/* Messages (and calls) of one employee for one day: a batch. */
static size_t day_events(struct world *w, unsigned e, int64_t day_us, size_t n, wp_event *ev,
                         wp_buf *raw, char (*names)[48], wp_alert_draft *alerts)
{
    int64_t t = day_us + 9 * 3600000000LL; /* the working day starts at 09:00 */
    int64_t step = n ? (12 * 3600000000LL) / (int64_t)n : 0;
    for (size_t i = 0; i < n; i++) {
        wp_event *x = &ev[i];
        unsigned c = rnd(CHATS);
        memset(x, 0, sizeof *x);
        t += 1 + (int64_t)rnd((unsigned)(2 * step > 0 ? 2 * step : 1));
        if (t <= w->ts[e])
            t = w->ts[e] + 1;
        w->ts[e] = t;
        x->seq = ++w->seq[e];
        x->ts_us = t;
        snprintf(names[i], 48, "wxid_%u_%u", e, c);
        x->peer.id = names[i];
        x->size = x->amount_fen = x->duration_s = x->accuracy_cm = -1;
        if (rnd(100) < 5) {
            x->type = WP_EVENT_CALL;
            x->channel = "phone";
            x->direction = rnd(2) ? WP_DIR_IN : WP_DIR_OUT;
            x->duration_s = rnd(600);
        } else {
            x->type = WP_EVENT_MESSAGE;
            x->channel = "wechat";
            /* a waiting customer is answered two times in three; otherwise either side */
            x->direction = w->open[e][c] ? (rnd(3) ? WP_DIR_OUT : WP_DIR_IN)
                                         : (rnd(2) ? WP_DIR_IN : WP_DIR_OUT);
            w->open[e][c] = x->direction == WP_DIR_IN;
            x->chat = names[i];
            x->msgtype = "text";
            x->text = texts[rnd(sizeof texts / sizeof texts[0])];
            if (rnd(100) == 0) {
                wp_alert_draft *a = &alerts[i];
                memset(a, 0, sizeof *a);
                a->kind = "sensitive_word";
                a->category = cats[rnd(4)];
                a->pattern = "保本";
                a->action = "alert";
                a->matched = "保本";
                a->matched_len = strlen(a->matched);
                a->start = 0;
                a->end = (int64_t)a->matched_len;
                x->alerts = a;
                x->n_alerts = 1;
            }
        }
        wp_buf_reset(&raw[i]);
        if (wp_buf_addf(&raw[i], "{\"seq\":%" PRId64 ",\"type\":\"%s\",\"ts_us\":%" PRId64 "}",
                        x->seq, x->type == WP_EVENT_CALL ? "call" : "message", x->ts_us) < 0)
            ok(WP_ENOMEM, "raw");
        x->raw = raw[i].buf;
    }
    return n;
}

static void setup(struct world *w, const char *dir, const char *db)
{
    wp_org_unit hq, region[5], store[10], team[TEAMS];
    ok(wp_store_open(&w->st, dir, db), "open the store");
    ok(wp_store_tenant_create(w->st, w->tenant, "Bench"), "tenant");
    ok(wp_store_org_unit_create(w->st, &hq, w->tenant, NULL, "HQ", WP_ORG_HQ), "hq");
    for (unsigned i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "Region %u", i);
        ok(wp_store_org_unit_create(w->st, &region[i], w->tenant, hq.id, name, WP_ORG_REGION),
           "region");
    }
    for (unsigned i = 0; i < 10; i++) {
        char name[32];
        snprintf(name, sizeof name, "Store %u", i);
        ok(wp_store_org_unit_create(w->st, &store[i], w->tenant, region[i / 2].id, name,
                                    WP_ORG_STORE),
           "store");
    }
    for (unsigned i = 0; i < TEAMS; i++) {
        char name[32];
        snprintf(name, sizeof name, "Team %u", i);
        ok(wp_store_org_unit_create(w->st, &team[i], w->tenant, store[i / 5].id, name,
                                    WP_ORG_TEAM),
           "team");
    }
    for (unsigned e = 0; e < EMPLOYEES; e++) {
        char name[32], user[32], code[65], tok[65], serial[32];
        snprintf(name, sizeof name, "Sales %u", e);
        snprintf(user, sizeof user, "s%u", e);
        ok(wp_store_employee_create(w->st, &w->emp[e], w->tenant, team[e % TEAMS].id, name, user,
                                    WP_ROLE_SALES, NULL),
           "employee");
        fake_hash(code, e, 1);
        fake_hash(tok, e, 2);
        snprintf(serial, sizeof serial, "SN-%u", e);
        ok(wp_store_enrollment_code_create(w->st, w->tenant, w->emp[e].id, code, INT64_MAX / 2),
           "code");
        ok(wp_store_device_enroll(w->st, &w->dev[e], code, serial, "bench", tok, DAY0_US),
           "enroll");
    }
}

/* n events spread over employees for days [d0, d1). */
static void load_days(struct world *w, int d0, int d1, size_t n)
{
    size_t per = n / (size_t)((d1 - d0) * EMPLOYEES), batches = 0, done = 0, cap = per + 1;
    wp_event *ev = calloc(cap, sizeof *ev);
    wp_buf *raw = calloc(cap, sizeof *raw);
    char(*names)[48] = calloc(cap, sizeof *names);
    wp_alert_draft *alerts = calloc(cap, sizeof *alerts);
    if (!ev || !raw || !names || !alerts)
        ok(WP_ENOMEM, "memory");
    for (size_t i = 0; i < cap; i++)
        wp_buf_init(&raw[i], 4096);
    for (int d = d0; d < d1; d++)
        for (unsigned e = 0; e < EMPLOYEES; e++) {
            size_t k = per + (e < n % (size_t)EMPLOYEES && d == d1 - 1 ? 1 : 0);
            if (!k)
                continue;
            day_events(w, e, DAY0_US + d * DAY_US, k, ev, raw, names, alerts);
            wp_event_batch b = {.tenant_id = w->tenant,
                                .device_id = w->dev[e].id,
                                .employee_id = w->emp[e].id,
                                .events = ev,
                                .n = k,
                                .now_us = DAY0_US + d * DAY_US + 22 * 3600000000LL};
            if (batches % TX_BATCHES == 0)
                ok(wp_store_begin(w->st), "begin");
            ok(wp_store_events_apply(w->st, &b), "apply");
            if (++batches % TX_BATCHES == 0)
                ok(wp_store_commit(w->st), "commit");
            done += k;
            if (batches % 500 == 0)
                fprintf(stderr, "\rbench_analytics: %zu events", done);
        }
    if (batches % TX_BATCHES)
        ok(wp_store_commit(w->st), "commit");
    fprintf(stderr, "\n");
    for (size_t i = 0; i < cap; i++)
        wp_buf_release(&raw[i]);
    free(ev);
    free(raw);
    free(names);
    free(alerts);
}

static int cmd_load(const char *dir, const char *db, size_t n, size_t backlog)
{
    static struct world w;
    setup(&w, dir, db);
    double t0 = now_s();
    load_days(&w, 0, DAYS, n);
    double t1 = now_s();
    printf("load events=%zu seconds=%.1f per_s=%.0f\n", n, t1 - t0, (double)n / (t1 - t0));
    fflush(stdout);
    wp_analytics_rollup_result r;
    /* the job's clock: the day after, so calls and alerts are past the lag */
    ok(wp_store_analytics_rollup(w.st, &r, DAY0_US + (DAYS + 1) * DAY_US, 0), "rollup");
    double t2 = now_s();
    printf("rollup messages=%" PRId64 " calls=%" PRId64 " alerts=%" PRId64 " seconds=%.1f"
           " per_s=%.0f\n",
           r.messages, r.calls, r.alerts, t2 - t1, (double)r.messages / (t2 - t1));
    if (backlog) {
        load_days(&w, DAYS - 1, DAYS, backlog);
        printf("backlog events=%zu\n", backlog);
    }
    wp_store_free(w.st);
    return 0;
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef int (*qfn)(wp_store *, wp_analytics_result *, const wp_analytics_filter *);

static void timeit(wp_store *st, const char *name, const char *who, qfn fn,
                   wp_analytics_filter f, int repeat, int raw_repeat)
{
    double t[2][64];
    size_t rows[2] = {0, 0};
    int reps[2] = {repeat, raw_repeat};
    for (int mode = 0; mode < 2; mode++) {
        f.raw = mode;
        for (int i = 0; i < reps[mode]; i++) {
            wp_analytics_result r;
            double t0 = now_s();
            ok(fn(st, &r, &f), name);
            t[mode][i] = (now_s() - t0) * 1000;
            rows[mode] = r.n;
            wp_analytics_result_release(&r);
        }
        qsort(t[mode], (size_t)reps[mode], sizeof t[mode][0], dcmp);
    }
    int p95 = (repeat * 95 + 99) / 100 - 1;
    printf("query name=%s who=%s rows=%zu p50_ms=%.1f p95_ms=%.1f raw_rows=%zu raw_p50_ms=%.1f"
           " same_rows=%d\n",
           name, who, rows[0], t[0][(repeat - 1) / 2], t[0][p95], rows[1],
           t[1][(raw_repeat - 1) / 2], rows[0] == rows[1]);
    fflush(stdout);
}

static int cmd_query(const char *dir, const char *db, int repeat, int raw_repeat)
{
    wp_store *st = NULL;
    struct wp_stmt *s = NULL;
    char tenant[WP_ID_LEN + 1], path[1024] = "";
    ok(wp_store_open(&st, dir, db), "open the store");
    ok(wp_store_tenant_find(st, tenant, "Bench"), "tenant");
    ok(wp_db_prepare(st, &s, "SELECT path FROM org_units WHERE name = 'Region 0'"), "region");
    if (wp_db_step(s) == WP_DB_ROW)
        snprintf(path, sizeof path, "%s", wp_db_col_text(s, 0));
    wp_db_done(s);
    /* the 31 local days (+08:00) that hold them all, as the dashboard asks */
    wp_analytics_span span = {DAY0_US - 8 * 3600000000LL,
                              DAY0_US - 8 * 3600000000LL + (DAYS + 1) * DAY_US, 8 * 3600};
    struct {
        const char *name;
        qfn fn;
        enum wp_analytics_by by;
    } q[] = {
        {"activity", wp_store_analytics_activity, WP_ANALYTICS_ALL},
        {"activity_by_employee", wp_store_analytics_activity, WP_ANALYTICS_EMPLOYEE},
        {"response_times_by_employee", wp_store_analytics_replies, WP_ANALYTICS_EMPLOYEE},
        {"alerts", wp_store_analytics_alerts, WP_ANALYTICS_ALL},
        {"alerts_by_employee", wp_store_analytics_alerts, WP_ANALYTICS_EMPLOYEE},
        {"funnel", wp_store_analytics_funnel, WP_ANALYTICS_ALL},
        {"conversion_by_unit", wp_store_analytics_conversion, WP_ANALYTICS_UNIT},
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++)
        for (int who = 0; who < 2; who++) {
            wp_scope manager = {.org_path = path};
            wp_analytics_filter f = {.tenant_id = tenant,
                                     .spans = &span,
                                     .n_spans = 1,
                                     .by = q[i].by,
                                     .scope = who ? &manager : NULL};
            timeit(st, q[i].name, who ? "manager" : "admin", q[i].fn, f, repeat, raw_repeat);
        }
    wp_store_free(st);
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *db = NULL;
    size_t n = 0, backlog = 0;
    int repeat = 20, raw_repeat = 3;
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--data"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--db"))
            db = argv[i + 1];
        else if (!strcmp(argv[i], "--messages"))
            n = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--backlog"))
            backlog = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--repeat"))
            repeat = (int)strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--raw-repeat"))
            raw_repeat = (int)strtol(argv[i + 1], NULL, 10);
    }
    if (!dir || repeat < 1 || repeat > 64 || raw_repeat < 1 || raw_repeat > 64) {
        fputs(usage, stderr);
        return 2;
    }
    if (!strcmp(argv[1], "load") && n)
        return cmd_load(dir, db, n, backlog);
    if (!strcmp(argv[1], "query"))
        return cmd_query(dir, db, repeat, raw_repeat);
    fputs(usage, stderr);
    return 2;
}
