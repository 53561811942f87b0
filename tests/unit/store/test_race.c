/* SPDX-License-Identifier: MIT */
/* Concurrent business writes on several store handles (issue 17): parallel claims against the
 * daily limit, parallel handovers of one employee, assigns racing a handover, a departure
 * racing new events from the leaver's phone. Each case runs 6 rounds (WORKPHONE_TEST_RACE_ROUNDS),
 * its threads started together on handles of their own, in orders drawn from a seed
 * (WORKPHONE_TEST_SEED, else the time; printed: the interleaving itself is the scheduler's). After
 * each round: one owner per customer, whose timeline's moves chain from the first owner to it, one
 * event per move made and none for a refused one, limits held. On SQLite the writers take turns
 * (BEGIN IMMEDIATE): the cases stand there as guards. */
#include "archive_fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/customers.h"
#include "store/db.h"
#include "store/devices.h"
#include "store/events.h"
#include "store/handovers.h"
#include "store/people.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/id.h"

#define T0 1795831200000000LL /* 2026-11-28T10:00:00+08:00 */
#define DAY 86400000000LL
#define ROUNDS_DEFAULT 6
#define THREADS 6
#define CUSTOMERS 10

static unsigned seed;
static int rounds = ROUNDS_DEFAULT; /* WORKPHONE_TEST_RACE_ROUNDS: more for a long hunt */

/* --- threads ---------------------------------------------------------------------------------- */

struct worker;
typedef void (*work_fn)(struct worker *w, wp_store *st);

struct worker {
    struct tfx *f;
    pthread_barrier_t *go;
    work_fn fn;
    int index;
    unsigned rnd;
    void *arg;
    /* out */
    int successes, refusals;
    char failure[256]; /* "" unless an unexpected error: fails the test */
};

static void worker_fail(struct worker *w, const char *what, int err)
{
    if (!w->failure[0])
        snprintf(w->failure, sizeof w->failure, "thread %d: %s -> %d (%s)", w->index, what, err,
                 wp_error_last());
}

static void *worker_main(void *p)
{
    struct worker *w = p;
    wp_store *st = NULL;
    int err = wp_store_open(&st, w->f->dir, w->f->url);
    pthread_barrier_wait(w->go);
    if (err < 0)
        worker_fail(w, "wp_store_open", err);
    else
        w->fn(w, st);
    wp_store_free(st);
    return NULL;
}

/* Run fn on n threads at once (n <= THREADS), each with its own handle; fails the test when
 * one of them met an error it did not expect. */
static void race(struct tfx *f, struct worker *ws, int n, work_fn fn, void *arg)
{
    pthread_t t[THREADS];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)n);
    for (int i = 0; i < n; i++) {
        memset(&ws[i], 0, sizeof ws[i]);
        ws[i].f = f;
        ws[i].go = &go;
        ws[i].fn = fn;
        ws[i].index = i;
        ws[i].rnd = (unsigned)rand();
        ws[i].arg = arg;
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &ws[i]), 0);
    }
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
    int failed = 0;
    for (int i = 0; i < n; i++)
        if (ws[i].failure[0]) {
            print_error("seed %u: %s\n", seed, ws[i].failure);
            failed++;
        }
    if (failed)
        fail_msg("seed %u: %d thread(s) failed", seed, failed);
}

/* --- fixtures --------------------------------------------------------------------------------- */

static int setup(void **state)
{
    struct tfx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    tfx_seed(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct tfx *f = *state;
    tfx_release(f);
    free(f);
    return 0;
}

static void employee(struct tfx *f, char out[WP_ID_LEN + 1], const char *label)
{
    char user[64];
    wp_employee e;
    snprintf(user, sizeof user, "%s%d", label, rand());
    OK(wp_store_employee_create(f->st, &e, f->tenant, f->unit, user, user, WP_ROLE_SALES, NULL));
    memcpy(out, e.id, WP_ID_LEN + 1);
}

static void customers(struct tfx *f, char (*ids)[WP_ID_LEN + 1], int n, const char *owner)
{
    char sql[512];
    for (int i = 0; i < n; i++) {
        wp_id_new(ids[i]);
        snprintf(sql, sizeof sql,
                 "INSERT INTO customers (tenant_id, id, name, owner_employee_id, created_us,"
                 " last_contact_us) VALUES ('%s', '%s', 'customer %d', '%s', %lld, %lld)",
                 f->tenant, ids[i], i, owner, (long long)(T0 - 10 * DAY + i), (long long)T0);
        tfx_exec(f, sql);
    }
}

static void shuffle(int *v, int n, unsigned *rnd)
{
    for (int i = 0; i < n; i++)
        v[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int k = (int)(rand_r(rnd) % (unsigned)(i + 1)), t = v[i];
        v[i] = v[k];
        v[k] = t;
    }
}

/* Some rounds the threads start a little apart, so every interleaving gets its turn. */
static void jitter(struct worker *w)
{
    unsigned us = rand_r(&w->rnd) % 4;
    if (us)
        usleep(us * 500);
}

static char *str_field(const char *json, const char *key, char out[WP_ID_LEN + 1])
{
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(json, pat);
    out[0] = '\0';
    if (p) {
        p += strlen(pat);
        size_t n = strcspn(p, "\"");
        if (n <= WP_ID_LEN) {
            memcpy(out, p, n);
            out[n] = '\0';
        }
    }
    return out;
}

/* The customer's owner, and whether its moves (events of the kinds given, details from/to)
 * chain from first to it: each move starts from the owner the one before left. The events
 * are few (at most THREADS): every order is tried. Returns the number of moves. */
static int check_chain(struct tfx *f, const char *cust, const char *first, const char *kinds)
{
    char from[8][WP_ID_LEN + 1], to[8][WP_ID_LEN + 1], owner[WP_ID_LEN + 1], sql[256];
    struct wp_stmt *s = NULL;
    int n = 0, err;
    wp_customer c;
    OK(wp_store_customer_get(f->st, &c, f->tenant, cust));
    memcpy(owner, c.owner_employee_id, sizeof owner);
    snprintf(sql, sizeof sql,
             "SELECT details FROM customer_events WHERE tenant_id = ? AND customer_id = ?"
             " AND kind IN (%s)",
             kinds);
    OK(wp_db_prepare(f->st, &s, sql));
    wp_db_bind_text(s, 1, f->tenant);
    wp_db_bind_text(s, 2, cust);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (n == 8)
            fail_msg("seed %u: customer %s moved more than 8 times", seed, cust);
        const char *d = wp_db_col_text(s, 0);
        str_field(d, "from", from[n]);
        str_field(d, "to", to[n]);
        n++;
    }
    wp_db_done(s);
    assert_true(err == WP_DB_DONE);
    /* find a chain using every move once: depth first over the few events */
    int used[8] = {0}, stack[9], depth = 0;
    const char *at = first;
    stack[0] = -1;
    for (;;) {
        if (depth == n && !strcmp(at, owner))
            return n;
        int k = stack[depth] + 1;
        while (k < n && (used[k] || strcmp(from[k], at)))
            k++;
        if (k < n && depth < n) {
            stack[depth] = k;
            used[k] = 1;
            at = to[k];
            stack[++depth] = -1;
            continue;
        }
        if (depth == 0)
            break;
        depth--;
        used[stack[depth]] = 0;
        at = depth ? to[stack[depth - 1]] : first;
    }
    fail_msg("seed %u: customer %s is %s's, but its %d moves do not lead there from %s", seed, cust,
             owner, n, first);
    return -1;
}

__attribute__((format(printf, 2, 3))) static int64_t count_sql(struct tfx *f, const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return tfx_raw1(f, sql);
}

/* --- parallel claims ---------------------------------------------------------------------------
 */

struct claims {
    char (*cust)[WP_ID_LEN + 1];
    char claimer[2][WP_ID_LEN + 1];
    int64_t now_us;
};

/* Threads 0..3 claim for the first claimer, 4..5 for the second, every pool customer in an
 * order of their own. */
static void claim_all(struct worker *w, wp_store *st)
{
    struct claims *c = w->arg;
    int order[CUSTOMERS];
    const char *me = c->claimer[w->index < 4 ? 0 : 1];
    char actor[WP_ID_LEN + 16];
    snprintf(actor, sizeof actor, "employee:%s", me);
    shuffle(order, CUSTOMERS, &w->rnd);
    jitter(w);
    for (int i = 0; i < CUSTOMERS; i++) {
        wp_pool_move m = {.tenant_id = w->f->tenant,
                          .customer_id = c->cust[order[i]],
                          .employee_id = me,
                          .claim = 1,
                          .who = {.actor = actor, .employee_id = me},
                          .now_us = c->now_us};
        int err = wp_store_pool_take(st, &m);
        if (err == 0)
            w->successes++;
        else if ((err == WP_EBUSY && m.refused == WP_POOL_NOT_IN_POOL) ||
                 (err == WP_ELIMIT && m.refused == WP_POOL_DAILY_LIMIT))
            w->refusals++;
        else {
            worker_fail(w, "wp_store_pool_take", err);
            return;
        }
    }
}

static void test_race__claims(void **state)
{
    struct tfx *f = *state;
    struct worker ws[THREADS];
    struct claims c;
    char cust[CUSTOMERS][WP_ID_LEN + 1], last[WP_ID_LEN + 1];
    wp_crm_settings set;
    OK(wp_store_crm_settings_get(f->st, &set, f->tenant));
    set.claim_daily_max = 3;
    set.cooldown_days = 0;
    OK(wp_store_crm_settings_put(f->st, f->tenant, &set, T0));
    c.cust = cust;
    employee(f, c.claimer[0], "a");
    employee(f, c.claimer[1], "b");
    employee(f, last, "last");
    for (int round = 0; round < rounds; round++) {
        c.now_us = T0 + round * 2 * DAY; /* a new day's limit each round */
        customers(f, cust, CUSTOMERS, last);
        for (int i = 0; i < CUSTOMERS; i++) {
            wp_pool_move m = {.tenant_id = f->tenant,
                              .customer_id = cust[i],
                              .reason = "manual",
                              .who = {.actor = "system"},
                              .now_us = c.now_us - 1};
            OK(wp_store_pool_release(f->st, &m));
        }
        race(f, ws, THREADS, claim_all, &c);
        int won[2] = {0, 0};
        for (int i = 0; i < THREADS; i++)
            won[i < 4 ? 0 : 1] += ws[i].successes;
        /* the limit held, and was reached: there were customers enough for both */
        assert_int_equal(won[0], 3);
        assert_int_equal(won[1], 3);
        for (int i = 0; i < CUSTOMERS; i++) {
            /* one claim event per won claim, none for a refused one */
            int moves = check_chain(f, cust[i], last, "'claimed'");
            assert_true(moves == 0 || moves == 1);
        }
        for (int k = 0; k < 2; k++) {
            char ts[32];
            snprintf(ts, sizeof ts, "%lld", (long long)c.now_us);
            assert_int_equal(count_sql(f,
                                       "SELECT count(*) FROM customer_events WHERE kind ="
                                       " 'claimed' AND actor_employee_id = '%s' AND ts_us = %s",
                                       c.claimer[k], ts),
                             3);
            assert_int_equal(count_sql(f,
                                       "SELECT count(*) FROM customers WHERE in_pool = 0 AND"
                                       " owner_employee_id = '%s' AND owner_since_us = %s",
                                       c.claimer[k], ts),
                             3);
        }
    }
}

/* --- parallel handovers of one employee ------------------------------------------------------- */

struct handovers {
    char leaver[WP_ID_LEN + 1], to[2][WP_ID_LEN + 1];
    int departure;
    wp_handover h[THREADS];
};

static void hand_over(struct worker *w, wp_store *st)
{
    struct handovers *c = w->arg;
    const char *to[1] = {c->to[w->index % 2]};
    int replayed = 0;
    wp_handover_request r = {.tenant_id = w->f->tenant,
                             .from_employee_id = c->leaver,
                             .to_employee_ids = to,
                             .n_to = 1,
                             .departure = c->departure,
                             .who = {.actor = "system"},
                             .now_us = T0};
    jitter(w);
    int err = wp_store_handover_run(st, &c->h[w->index], &replayed, &r);
    if (err < 0) {
        worker_fail(w, "wp_store_handover_run", err);
        return;
    }
    if (replayed)
        w->refusals++;
    else
        w->successes++;
}

static void test_race__handovers(void **state)
{
    struct tfx *f = *state;
    struct worker ws[THREADS];
    struct handovers c;
    char cust[CUSTOMERS][WP_ID_LEN + 1];
    memset(&c, 0, sizeof c);
    employee(f, c.to[0], "s");
    employee(f, c.to[1], "t");
    for (int round = 0; round < rounds; round++) {
        employee(f, c.leaver, "l");
        customers(f, cust, CUSTOMERS, c.leaver);
        c.departure = round % 2 == 0;
        race(f, ws, 4, hand_over, &c);
        int done = 0;
        for (int i = 0; i < 4; i++)
            done += ws[i].successes;
        /* one handover did the work, the others repeat it */
        assert_int_equal(done, 1);
        assert_int_equal(count_sql(f,
                                   "SELECT count(*) FROM handovers WHERE from_employee_id ="
                                   " '%s'%s",
                                   c.leaver, ""),
                         1);
        for (int i = 0; i < 4; i++) {
            assert_string_equal(c.h[i].id, c.h[0].id);
            assert_int_equal(c.h[i].customers_moved, CUSTOMERS);
        }
        assert_int_equal(count_sql(f,
                                   "SELECT count(*) FROM customers WHERE owner_employee_id"
                                   " = '%s'%s",
                                   c.leaver, ""),
                         0);
        for (int i = 0; i < CUSTOMERS; i++)
            assert_int_equal(check_chain(f, cust[i], c.leaver, "'owner_changed'"), 1);
    }
}

/* --- assigns racing a handover ------------------------------------------------------------------
 */

struct assigns {
    char leaver[WP_ID_LEN + 1], succ[WP_ID_LEN + 1], other[2][WP_ID_LEN + 1];
    char (*cust)[WP_ID_LEN + 1];
    wp_handover h;
};

/* Thread 0 hands the leaver's customers to succ (a transfer); the others assign them, one by
 * one in an order of their own, to other[0] or other[1]. */
static void assign_or_hand_over(struct worker *w, wp_store *st)
{
    struct assigns *c = w->arg;
    if (w->index == 0) {
        const char *to[1] = {c->succ};
        int replayed = 0;
        wp_handover_request r = {.tenant_id = w->f->tenant,
                                 .from_employee_id = c->leaver,
                                 .to_employee_ids = to,
                                 .n_to = 1,
                                 .who = {.actor = "system"},
                                 .now_us = T0};
        jitter(w);
        int err = wp_store_handover_run(st, &c->h, &replayed, &r);
        if (err < 0) {
            worker_fail(w, "wp_store_handover_run", err);
            return;
        }
        w->successes = (int)c->h.customers_moved;
        return;
    }
    int order[CUSTOMERS];
    const char *to = c->other[w->index % 2];
    wp_crm_actor who = {.actor = "system"};
    shuffle(order, CUSTOMERS, &w->rnd);
    jitter(w);
    for (int i = 0; i < CUSTOMERS; i++) {
        int changed = 0;
        int err = wp_store_customer_assign(st, &changed, NULL, w->f->tenant, c->cust[order[i]], to,
                                           &who, T0);
        if (err < 0) {
            worker_fail(w, "wp_store_customer_assign", err);
            return;
        }
        w->successes += changed;
    }
}

static void test_race__assign_and_handover(void **state)
{
    struct tfx *f = *state;
    struct worker ws[THREADS];
    struct assigns c;
    char cust[CUSTOMERS][WP_ID_LEN + 1];
    memset(&c, 0, sizeof c);
    c.cust = cust;
    employee(f, c.succ, "s");
    employee(f, c.other[0], "o");
    employee(f, c.other[1], "p");
    for (int round = 0; round < rounds; round++) {
        employee(f, c.leaver, "l");
        customers(f, cust, CUSTOMERS, c.leaver);
        race(f, ws, 5, assign_or_hand_over, &c);
        int moves = 0, events = 0;
        for (int i = 0; i < 5; i++)
            moves += ws[i].successes;
        for (int i = 0; i < CUSTOMERS; i++)
            events += check_chain(f, cust[i], c.leaver, "'owner_changed'");
        /* one event per move reported, none for a move not made */
        assert_int_equal(events, moves);
        assert_int_equal(count_sql(f,
                                   "SELECT count(*) FROM handover_items WHERE handover_id ="
                                   " '%s'%s",
                                   c.h.id, ""),
                         c.h.customers_moved);
        assert_int_equal(count_sql(f,
                                   "SELECT count(*) FROM customers WHERE owner_employee_id"
                                   " = '%s'%s",
                                   c.leaver, ""),
                         0);
    }
}

/* --- a departure racing new events from the leaver's phone ---------------------------------------
 */

struct arrivals {
    char leaver[WP_ID_LEN + 1], succ[WP_ID_LEN + 1], device[WP_ID_LEN + 1];
    int round;
    int64_t acked;
    int left; /* the departure committed (atomic) */
};

/* Thread 0 stores batches from the leaver's phone, each with a new peer (a new customer of
 * the leaver), until the device is revoked; thread 1 runs the departure. */
static void arrive_or_leave(struct worker *w, wp_store *st)
{
    struct arrivals *c = w->arg;
    if (w->index == 1) {
        const char *to[1] = {c->succ};
        int replayed = 0;
        wp_handover h;
        wp_handover_request r = {.tenant_id = w->f->tenant,
                                 .from_employee_id = c->leaver,
                                 .to_employee_ids = to,
                                 .n_to = 1,
                                 .departure = 1,
                                 .who = {.actor = "system"},
                                 .now_us = T0};
        usleep(rand_r(&w->rnd) % 3000);
        int err = wp_store_handover_run(st, &h, &replayed, &r);
        __atomic_store_n(&c->left, 1, __ATOMIC_SEQ_CST);
        if (err < 0) {
            worker_fail(w, "wp_store_handover_run", err);
            return;
        }
        return;
    }
    for (int64_t seq = 1; seq <= 100000; seq++) {
        int after = __atomic_load_n(&c->left, __ATOMIC_SEQ_CST);
        char phone[32];
        snprintf(phone, sizeof phone, "1390%03d%05d", c->round, (int)seq);
        wp_event e;
        memset(&e, 0, sizeof e);
        e.type = WP_EVENT_CALL;
        e.seq = seq;
        e.raw = "{}";
        e.ts_us = T0 + seq;
        e.channel = "phone";
        e.direction = WP_DIR_IN;
        e.peer.phone = phone;
        e.size = e.amount_fen = e.accuracy_cm = -1;
        e.duration_s = 5;
        wp_event_batch b;
        memset(&b, 0, sizeof b);
        b.tenant_id = w->f->tenant;
        b.device_id = c->device;
        b.employee_id = c->leaver;
        b.events = &e;
        b.n = 1;
        b.now_us = T0 + seq;
        int err = wp_store_begin(st);
        if (err == 0 && (err = wp_store_events_apply(st, &b)) == 0)
            err = wp_store_commit(st);
        else
            wp_store_rollback(st);
        if (err == WP_EAUTH)
            return; /* revoked: the batch was refused, not acknowledged */
        if (err < 0) {
            worker_fail(w, "wp_store_events_apply", err);
            return;
        }
        if (after) {
            worker_fail(w, "a batch was stored after the departure", 0);
            return;
        }
        c->acked = b.acked_seq;
        w->successes++;
        usleep(200); /* a phone's pace: SQLite's busy waits are not first come, first served */
    }
    worker_fail(w, "the device was never revoked", 0);
}

static void test_race__departure_and_events(void **state)
{
    struct tfx *f = *state;
    struct worker ws[THREADS];
    struct arrivals c;
    memset(&c, 0, sizeof c);
    employee(f, c.succ, "s");
    for (int round = 0; round < rounds; round++) {
        char code[65], token[65], raw[80];
        wp_device d;
        employee(f, c.leaver, "l");
        snprintf(raw, sizeof raw, "code-%d-%d", round, rand());
        wp_token_hash(code, raw);
        snprintf(raw, sizeof raw, "token-%d-%d", round, rand());
        wp_token_hash(token, raw);
        OK(wp_store_enrollment_code_create(f->st, f->tenant, c.leaver, code,
                                           wp_time_now_us() + 60000000));
        OK(wp_store_device_enroll(f->st, &d, code, raw, "Pixel", token, wp_time_now_us()));
        memcpy(c.device, d.id, sizeof c.device);
        c.round = round;
        c.acked = 0;
        c.left = 0;
        race(f, ws, 2, arrive_or_leave, &c);
        /* every acknowledged call is stored, and its new customer went to the successor */
        assert_int_equal(
            count_sql(f, "SELECT count(*) FROM calls WHERE device_id = '%s'%s", c.device, ""),
            c.acked);
        assert_int_equal(ws[0].successes, c.acked);
        assert_int_equal(count_sql(f,
                                   "SELECT count(*) FROM customers WHERE owner_employee_id"
                                   " = '%s' AND in_pool = 0%s",
                                   c.leaver, ""),
                         0);
        char like[16];
        snprintf(like, sizeof like, "1390%03d", round);
        assert_int_equal(count_sql(f,
                                   "SELECT count(*) FROM customers WHERE owner_employee_id"
                                   " = '%s' AND phone LIKE '%s%%'",
                                   c.succ, like),
                         c.acked);
    }
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

static const struct CMUnitTest suite[] = {
    T(test_race__claims),
    T(test_race__handovers),
    T(test_race__assign_and_handover),
    T(test_race__departure_and_events),
};

int main(void)
{
    const char *s = getenv("WORKPHONE_TEST_SEED");
    seed = s && *s ? (unsigned)strtoul(s, NULL, 10) : (unsigned)time(NULL);
    if ((s = getenv("WORKPHONE_TEST_RACE_ROUNDS")) && *s) {
        long n = strtol(s, NULL, 10);
        if (n > 0 && n <= 100000)
            rounds = (int)n;
    }
    fprintf(stderr, "store_race: WORKPHONE_TEST_SEED=%u\n", seed);
    srand(seed);
    return tfx_run("store_race", suite, sizeof suite / sizeof suite[0]) ? 1 : 0;
}
