/* SPDX-License-Identifier: MIT */
/* The company simulator: one seed gives one company; the plan and the streams look real (names,
 * mobile numbers, ids, working hours, replies both ways); violations come at the configured
 * share and are exactly what the default lexicon flags; the in-process sink fills a store; the
 * remote sink (console API + libwpagent) gives two fresh servers the same archive. */
#include "archive_fixture.h"
#include "store/customers.h"
#include "store/events.h"
#include "store/messages.h"
#include "store/org.h"
#include "store/pool.h"
#include "store/store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "ingest/ingest_int.h"
#include "scan/scan.h"
#include "server.h" /* tests/unit/agent: a real `workphone serve` */
#include "sim/local.h"
#include "sim/remote.h"
#include "sim/sim.h"
#include "sim/sim_int.h"
#include "util/clock.h"
#include "util/utf8.h"
#include "workphone/agent.h"

#define END_US 1795766400000000LL /* 2026-11-27T13:20:00+08:00: a Friday afternoon */
#define DAY_US (86400LL * 1000000)
#define TZ_US (8LL * 3600 * 1000000)

static wp_sim_config config(uint64_t seed)
{
    wp_sim_config cfg = WP_SIM_CONFIG_INIT;
    cfg.seed = seed;
    cfg.end_us = END_US;
    return cfg;
}

static wp_sim_company *company(const wp_sim_config *cfg)
{
    wp_sim_company *c = NULL;
    OK(wp_sim_company_new(&c, cfg));
    return c;
}

/* Every event of every phone as one JSON text per phone, joined. */
static char *everything(const wp_sim_company *c)
{
    size_t len = 0;
    char *all = calloc(1, 1);
    assert_non_null(all);
    for (size_t p = 0; p < c->n_people; p++) {
        if (!c->people[p].has_device)
            continue;
        wp_sim_stream *s = NULL;
        json_t *body = NULL;
        OK(wp_sim_stream_new(&s, c, p));
        OK(wp_sim_stream_batch(&body, s, 0, s->n));
        char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
        assert_non_null(text);
        size_t n = strlen(text);
        all = realloc(all, len + n + 1);
        assert_non_null(all);
        memcpy(all + len, text, n + 1);
        len += n;
        free(text);
        json_decref(body);
        wp_sim_stream_free(s);
    }
    return all;
}

static void test_sim_rng__streams(void **state)
{
    wp_sim_rng a, b, c;
    wp_sim_rng_seed(&a, 7, 1);
    wp_sim_rng_seed(&b, 7, 1);
    wp_sim_rng_seed(&c, 7, 2);
    int same_ac = 1;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = wp_sim_rng_next(&a), y = wp_sim_rng_next(&b), z = wp_sim_rng_next(&c);
        assert_true(x == y);
        same_ac &= x == z;
    }
    assert_false(same_ac);
    unsigned hist[10] = {0};
    for (int i = 0; i < 100000; i++) {
        uint32_t v = wp_sim_rng_below(&a, 10);
        assert_true(v < 10);
        hist[v]++;
        int r = wp_sim_rng_range(&a, -3, 3);
        assert_true(r >= -3 && r <= 3);
        double u = wp_sim_rng_unit(&a);
        assert_true(u >= 0 && u < 1);
    }
    for (int i = 0; i < 10; i++) /* 10,000 expected each; 5 sigma is 475 */
        assert_true(hist[i] > 9500 && hist[i] < 10500);
}

static void test_sim__same_seed_same_company(void **state)
{
    wp_sim_config cfg = config(42);
    wp_sim_company *a = company(&cfg), *b = company(&cfg);
    cfg.seed = 43;
    wp_sim_company *other = company(&cfg);
    assert_int_equal(a->n_customers, b->n_customers);
    for (size_t i = 0; i < a->n_people; i++)
        assert_string_equal(a->people[i].name, b->people[i].name);
    for (size_t i = 0; i < a->n_customers; i++) {
        assert_string_equal(a->customers[i].name, b->customers[i].name);
        assert_string_equal(a->customers[i].phone, b->customers[i].phone);
    }
    char *ea = everything(a), *eb = everything(b), *eo = everything(other);
    assert_true(strlen(ea) > 100000);
    assert_string_equal(ea, eb);
    assert_string_not_equal(ea, eo);
    free(ea);
    free(eb);
    free(eo);
    wp_sim_company_free(a);
    wp_sim_company_free(b);
    wp_sim_company_free(other);
}

static int is_mobile(const char *p)
{
    if (strlen(p) != 11 || p[0] != '1' || p[1] < '3' || p[1] > '9')
        return 0;
    return strspn(p, "0123456789") == 11;
}

static int id_card_ok(const char *id)
{
    static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    if (strlen(id) != 18 || strspn(id, "0123456789") < 17)
        return 0;
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (id[i] - '0') * w[i];
    return id[17] == "10X98765432"[sum % 11];
}

/* lo-hi CJK characters, nothing else */
static int cjk(const char *s, size_t lo, size_t hi)
{
    size_t n = strlen(s);
    if (!wp_utf8_valid(s, n) || n % 3 || n < lo * 3 || n > hi * 3)
        return 0;
    for (size_t i = 0; i < n; i += 3)
        if ((unsigned char)s[i] < 0xe4 || (unsigned char)s[i] > 0xe9)
            return 0;
    return 1;
}

static void test_sim__plan_shapes(void **state)
{
    wp_sim_config cfg = config(1);
    wp_sim_company *c = company(&cfg);
    /* 1 hq, 2 regions, 4 stores; an auditor, 2 region managers, 4 x 6 store staff */
    assert_int_equal(c->n_units, 7);
    assert_string_equal(c->units[0].kind, "hq");
    assert_int_equal(c->units[0].parent, -1);
    size_t stores = 0, devices = 0;
    for (size_t i = 1; i < c->n_units; i++) {
        const wp_sim_unit *u = &c->units[i];
        assert_true(u->parent >= 0 && (size_t)u->parent < i);
        assert_true(cjk(u->name, 3, 6)); /* 华东区, 上海徐汇店 */
        if (!strcmp(u->kind, "store")) {
            stores++;
            assert_string_equal(c->units[u->parent].kind, "region");
            assert_true(u->lat > 18 && u->lat < 54 && u->lon > 73 && u->lon < 135); /* China */
        }
    }
    assert_int_equal(stores, 4);
    assert_int_equal(c->n_people, 27);
    for (size_t i = 0; i < c->n_people; i++) {
        const wp_sim_person *p = &c->people[i];
        assert_true(cjk(p->name, 2, 3)); /* surname + given name */
        assert_true(strspn(p->username, "abcdefghijklmnopqrstuvwxyz.0123456789") ==
                    strlen(p->username));
        assert_true(is_mobile(p->phone) && is_mobile(p->private_phone));
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(p->username, c->people[j].username);
            assert_string_not_equal(p->name, c->people[j].name);
        }
        devices += p->has_device;
        if (p->has_device)
            assert_true(strlen(p->serial) == 16 && p->model);
    }
    assert_int_equal(devices, 24);
    assert_true(c->n_customers >= 24 * 10 && c->n_customers <= 24 * 20);
    size_t female = 0, short_call = 0;
    for (size_t i = 0; i < c->n_customers; i++) {
        const wp_sim_customer *k = &c->customers[i];
        assert_true(is_mobile(k->phone));
        assert_true(id_card_ok(k->id_card));
        assert_true(strlen(k->wxid) >= 6 && strlen(k->wxid) <= 20);
        assert_true(wp_utf8_valid(k->name, strlen(k->name)) && strlen(k->name) >= 6);
        assert_true(c->people[k->owner].has_device);
        female += k->female;
        short_call += strstr(k->call, "女士") || strstr(k->call, "先生");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(k->phone, c->customers[j].phone);
    }
    assert_true(female > c->n_customers / 4 && female < c->n_customers * 3 / 4);
    assert_true(short_call > c->n_customers / 5); /* 王女士, 李先生 */
    wp_sim_company_free(c);
}

static int local_hour(int64_t us)
{
    return (int)(((us + TZ_US) % DAY_US) / 3600000000LL);
}

static void test_sim__stream_shapes(void **state)
{
    wp_sim_config cfg = config(3);
    wp_sim_company *c = company(&cfg);
    size_t msgs = 0, in = 0, out = 0, odd_hours = 0, locations = 0, calls = 0, revokes = 0;
    size_t deleted = 0, links = 0, sms = 0, files = 0, places = 0, checkins = 0;
    for (size_t p = 0; p < c->n_people; p++) {
        if (!c->people[p].has_device) {
            wp_sim_stream *none = NULL;
            assert_int_equal(wp_sim_stream_new(&none, c, p), WP_EINVAL);
            continue;
        }
        wp_sim_stream *s = NULL;
        OK(wp_sim_stream_new(&s, c, p));
        const wp_sim_person *pe = &c->people[p];
        int64_t *first_msg = calloc(c->n_customers, sizeof *first_msg);
        int64_t *added = calloc(c->n_customers, sizeof *added);
        int64_t *gone = calloc(c->n_customers, sizeof *gone);
        assert_true(first_msg && added && gone);
        for (size_t i = 0; i < s->n; i++) {
            const wp_sim_event *e = &s->events[i];
            assert_int_equal(e->seq, (int64_t)i + 1);
            assert_true(e->ts_us >= c->start_us && e->ts_us < END_US);
            assert_true(e->ts_us >= c->cfg.end_us - 21 * DAY_US);
            if (i)
                assert_true(e->ts_us >= s->events[i - 1].ts_us);
            int h = local_hour(e->ts_us);
            if (e->type == WP_SIM_LOCATION) {
                locations++;
                assert_true(h >= 7 && h <= 22);
                continue;
            }
            if (e->type == WP_SIM_CHECKIN) { /* field staff only, in the day, with a photo */
                checkins++;
                assert_true(pe->field && h >= 7 && h <= 21);
                assert_true(e->media >= 0 && (size_t)e->media < c->n_media);
                assert_string_equal(c->media[e->media].kind, "image");
                if (!strcmp(e->action, "visit")) {
                    size_t k = (size_t)e->customer;
                    assert_true(k >= pe->first_customer &&
                                k < pe->first_customer + pe->n_customers);
                    assert_int_equal(gone[k], 0); /* no one visits a deleted customer */
                } else {
                    assert_true(!strcmp(e->action, "in") || !strcmp(e->action, "out"));
                    assert_int_equal(e->customer, -1);
                }
                continue;
            }
            size_t k = (size_t)e->customer;
            assert_true(k >= pe->first_customer && k < pe->first_customer + pe->n_customers);
            assert_int_equal(gone[k], 0); /* nothing after a delete or block */
            if (e->type == WP_SIM_CONTACT) {
                if (!strcmp(e->action, "added")) {
                    assert_int_equal(first_msg[k], 0);
                    added[k] = e->ts_us;
                } else {
                    deleted++;
                    gone[k] = e->ts_us;
                }
                continue;
            }
            if (e->type == WP_SIM_CALL) {
                calls++;
                continue;
            }
            msgs++;
            if (!first_msg[k])
                first_msg[k] = e->ts_us;
            *(e->out ? &out : &in) += 1;
            odd_hours += h < 8;
            assert_false(h >= 2 && h < 7);
            if (!strcmp(e->msgtype, "revoke")) {
                revokes++;
                assert_true(e->revoked_seq > 0 && e->revoked_seq < e->seq);
                const wp_sim_event *t = &s->events[e->revoked_seq - 1];
                assert_int_equal(t->customer, e->customer);
                assert_true(t->out && t->violation);
            } else if (!strcmp(e->msgtype, "link")) {
                links++;
                assert_true(e->url && !strncmp(e->url, "https://", 8) && e->text);
            } else if (!strcmp(e->msgtype, "image") || !strcmp(e->msgtype, "voice") ||
                       !strcmp(e->msgtype, "file")) {
                files++;
                assert_true(e->media >= 0 && (size_t)e->media < c->n_media);
                assert_true(strcmp(e->msgtype, "file") || (e->filename && e->filename[0]));
            } else if (!strcmp(e->msgtype, "location") || !strcmp(e->msgtype, "card")) {
                places++;
                assert_true(e->title && e->title[0] && wp_utf8_valid(e->title, strlen(e->title)));
            } else {
                assert_non_null(e->text);
                assert_true(wp_utf8_valid(e->text, strlen(e->text)));
                assert_null(strchr(e->text, '{')); /* every slot was filled */
            }
            sms += !strcmp(e->channel, "sms");
        }
        free(first_msg);
        free(added);
        free(gone);
        wp_sim_stream_free(s);
    }
    assert_true(msgs > 5000);
    assert_true(in > msgs * 3 / 10 && out > msgs * 3 / 10); /* both sides talk */
    assert_true(odd_hours < msgs / 50);
    assert_true(locations > 5000 && calls > 50 && revokes > 5 && deleted > 3 && checkins > 300);
    assert_true(links > 50 && sms > 10);
    assert_true(files > 50 && places > 10); /* photos, voice notes, files; places, cards */
    wp_sim_company_free(c);
}

static double metres(double lat1, double lon1, double lat2, double lon2)
{
    double dy = (lat2 - lat1) * 111320.0;
    double dx = (lon2 - lon1) * 111320.0 * cos((lat1 + lat2) / 2 * M_PI / 180.0);
    return sqrt(dx * dx + dy * dy);
}

/* The salespeople of property and insurance stores are field staff, and their stores have a
 * fence holding every customer's place; each working day they clock in at the store in the
 * morning (a few late) and out in the evening (a few early), visit their own customers inside
 * the fence, and about one day in ten go well beyond it between the two. */
static void test_sim__field_days(void **state)
{
    wp_sim_config cfg = config(3);
    wp_sim_company *c = company(&cfg);
    size_t field = 0, days = 0, late = 0, early = 0, trips = 0, visits = 0;
    for (size_t p = 0; p < c->n_people; p++) {
        const wp_sim_person *pe = &c->people[p];
        const wp_sim_unit *u = &c->units[pe->unit];
        int want = pe->has_device && !strcmp(pe->role, "sales") && u->trade != WP_SIM_EDUCATION;
        assert_int_equal(pe->field, want);
        if (!strcmp(u->kind, "store"))
            assert_true(u->trade == WP_SIM_EDUCATION ? u->fence_radius_m == 0
                                                     : u->fence_radius_m >= 1000 &&
                                                           u->fence_radius_m <= 6000);
        if (!pe->field)
            continue;
        field++;
        for (size_t k = pe->first_customer; k < pe->first_customer + pe->n_customers; k++) {
            double lat, lon;
            wp_sim__customer_point(&lat, &lon, c, k);
            assert_true(metres(lat, lon, u->lat, u->lon) + 600 <= u->fence_radius_m);
        }
        wp_sim_stream *s = NULL;
        OK(wp_sim_stream_new(&s, c, p));
        int64_t in_us = 0;
        int far = 0;
        for (size_t i = 0; i < s->n; i++) {
            const wp_sim_event *e = &s->events[i];
            int64_t tod = (e->ts_us + TZ_US) % DAY_US / 60000000; /* local minutes */
            double d = metres(e->lat, e->lon, u->lat, u->lon);
            if (e->type == WP_SIM_CHECKIN && !strcmp(e->action, "in")) {
                assert_true(d < 100);
                in_us = e->ts_us;
                far = 0;
                days++;
                late += tod > 9 * 60 + 5;
            } else if (e->type == WP_SIM_CHECKIN && !strcmp(e->action, "out")) {
                assert_true(d < 100 && in_us && e->ts_us > in_us);
                assert_true(e->ts_us - in_us < 12 * 3600 * 1000000LL);
                early += tod < 18 * 60;
                trips += far;
                in_us = 0;
            } else if (e->type == WP_SIM_CHECKIN) {
                visits++;
                assert_true(in_us && d + 500 < u->fence_radius_m);
            } else if (e->type == WP_SIM_LOCATION && in_us && d > u->fence_radius_m + 1500) {
                far = 1; /* between in and out, well beyond the fence */
            }
        }
        wp_sim_stream_free(s);
    }
    assert_true(field >= 8);
    assert_true(days > field * 15); /* three weeks, a day off a week */
    assert_true(late > 0 && late * 10 < days && early > 0 && early * 10 < days);
    assert_true(visits > days && visits < days * 3);
    assert_true(trips > days / 25 && trips < days / 5);
    wp_sim_company_free(c);
}

static int is_tag(const char *name)
{
    const wp_sim_crm *v = wp_sim_crm_vocabulary();
    for (size_t i = 0; i < v->n_tags; i++)
        if (v->tags[i].group && !strcmp(v->tags[i].name, name))
            return 1;
    return 0;
}

static int same_act(const wp_sim_act *a, const wp_sim_act *b)
{
    return a->ts_us == b->ts_us && a->kind == b->kind && a->customer == b->customer &&
           a->by == b->by && a->amount_fen == b->amount_fen && a->n_tags == b->n_tags &&
           !strcmp(a->stage ? a->stage : "", b->stage ? b->stage : "") &&
           !strcmp(a->grade ? a->grade : "", b->grade ? b->grade : "") &&
           !strcmp(a->text ? a->text : "", b->text ? b->text : "");
}

/* How many of v[0..n) are different strings (v is sorted in place). */
static int by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static size_t distinct(const char **v, size_t n, size_t *most)
{
    size_t d = 0, run = 0;
    *most = 0;
    qsort(v, n, sizeof *v, by_str);
    for (size_t i = 0; i < n; i++) {
        run = i && !strcmp(v[i], v[i - 1]) ? run + 1 : 1;
        d += run == 1;
        if (run > *most)
            *most = run;
    }
    return d;
}

/* What the staff record in the CRM: customers move through the funnel to deals with amounts or
 * are lost, get tags and grades, notes in many words; some go to the pool and colleagues claim
 * some; a leaver hands over. Deterministic for a seed. */
static void test_sim__crm_acts(void **state)
{
    wp_sim_config cfg = config(1);
    wp_sim_company *c = company(&cfg);
    size_t n_stage[4] = {0}, n_grade[4] = {0}, tagged = 0, notes = 0, released = 0, claimed = 0;
    size_t n_notes = 0, n_deal_amounts = 0, cap = 4096;
    const char **note_v = calloc(cap, sizeof *note_v);
    int64_t *amounts = calloc(cap, sizeof *amounts);
    wp_sim_stream **streams = calloc(c->n_people, sizeof *streams); /* the notes point in */
    assert_true(note_v && amounts && streams);
    static const char *const stages[4] = {"contacted", "intent", "deal", "lost"};
    for (size_t p = 0; p < c->n_people; p++) {
        if (!c->people[p].has_device)
            continue;
        wp_sim_stream *s = NULL, *again = NULL;
        OK(wp_sim_stream_new(&streams[p], c, p));
        s = streams[p];
        OK(wp_sim_stream_new(&again, c, p));
        assert_int_equal(again->n_acts, s->n_acts);
        for (size_t i = 0; i < s->n_acts; i++) {
            const wp_sim_act *a = &s->acts[i];
            assert_true(same_act(a, &again->acts[i]));
            assert_true(a->ts_us >= c->start_us && a->ts_us < END_US);
            assert_int_equal(a->day, (unsigned)((a->ts_us - c->start_us) / DAY_US));
            if (i)
                assert_true(a->ts_us >= s->acts[i - 1].ts_us);
            assert_int_equal(c->customers[a->customer].owner, p);
            if (a->text) {
                assert_true(wp_utf8_valid(a->text, strlen(a->text)) && strlen(a->text) > 6);
                assert_null(strchr(a->text, '{'));
                if (n_notes < cap)
                    note_v[n_notes++] = a->text;
            }
            switch (a->kind) {
            case WP_SIM_ACT_STAGE: {
                size_t k = 0;
                while (k < 4 && strcmp(a->stage, stages[k]))
                    k++;
                assert_true(k < 4);
                n_stage[k]++;
                if (k == 2) {
                    /* a deal is worth between ¥1,000 and ¥1,000,000 */
                    assert_true(a->amount_fen >= 100000 && a->amount_fen <= 100000000);
                    if (n_deal_amounts < cap)
                        amounts[n_deal_amounts++] = a->amount_fen;
                } else {
                    assert_int_equal(a->amount_fen, 0);
                }
                break;
            }
            case WP_SIM_ACT_GRADE:
                assert_true(a->grade && strlen(a->grade) == 1 && a->grade[0] >= 'A' &&
                            a->grade[0] <= 'D');
                n_grade[a->grade[0] - 'A']++;
                break;
            case WP_SIM_ACT_TAGS:
                assert_true(a->n_tags >= 1 && a->n_tags <= WP_SIM_ACT_TAGS_MAX);
                for (size_t t = 0; t < a->n_tags; t++)
                    assert_true(is_tag(a->tags[t]));
                tagged++;
                break;
            case WP_SIM_ACT_NOTE:
                assert_non_null(a->text);
                notes++;
                break;
            case WP_SIM_ACT_RELEASE:
                assert_non_null(a->text);
                released++;
                break;
            case WP_SIM_ACT_CLAIM: {
                /* a salesperson of the same store, not the owner, not the leaver */
                const wp_sim_person *by = &c->people[a->by];
                assert_true(a->by >= 0 && (size_t)a->by != p && a->by != c->leaver);
                assert_string_equal(by->role, "sales");
                assert_int_equal(by->unit, c->people[p].unit);
                claimed++;
                break;
            }
            default:
                fail();
            }
        }
        wp_sim_stream_free(again);
    }
    /* the default company's funnel has every stage, deals of many sizes */
    assert_true(n_stage[0] > 50 && n_stage[1] > 50 && n_stage[2] > 40 && n_stage[3] > 10);
    size_t most;
    const char **amount_v = calloc(n_deal_amounts, sizeof *amount_v);
    char(*amount_s)[24] = calloc(n_deal_amounts, sizeof *amount_s);
    assert_true(amount_v && amount_s);
    for (size_t i = 0; i < n_deal_amounts; i++) {
        snprintf(amount_s[i], sizeof amount_s[i], "%lld", (long long)amounts[i]);
        amount_v[i] = amount_s[i];
    }
    assert_true(distinct(amount_v, n_deal_amounts, &most) > n_deal_amounts / 2);
    free(amount_v);
    free(amount_s);
    for (size_t g = 0; g < 4; g++)
        assert_true(n_grade[g] > 0);
    assert_true(tagged > 100 && notes > 200 && released > 5 && claimed > 0);
    /* notes say many things: routine ones repeat ("多次联系无回应，释放到公海"), no one dominates */
    assert_true(distinct(note_v, n_notes, &most) > n_notes * 35 / 100);
    assert_true(most < n_notes / 15);
    /* a salesperson leaves and a colleague or two of the store take over */
    assert_true(c->leaver >= 0 && c->leave_day < c->days);
    assert_true(c->n_successors >= 1 && c->n_successors <= 2);
    for (size_t i = 0; i < c->n_successors; i++) {
        assert_true(c->successors[i] != c->leaver);
        assert_int_equal(c->people[c->successors[i]].unit, c->people[c->leaver].unit);
    }
    for (size_t p = 0; p < c->n_people; p++)
        wp_sim_stream_free(streams[p]);
    free(streams);
    free(note_v);
    free(amounts);
    wp_sim_company_free(c);
}

/* What people say varies: a planted violation is worded many ways, by the script's alternatives
 * and its speaker's habits, so no sentence is repeated across the company. */
static void test_sim__talk_varies(void **state)
{
    wp_sim_config cfg = config(1);
    wp_sim_company *c = company(&cfg);
    size_t n = 0, n_fd = 0, n_clean = 0, cap = 1 << 16;
    const char **v = calloc(cap, sizeof *v), **fd = calloc(cap, sizeof *fd);
    const char **clean = calloc(cap, sizeof *clean);
    wp_sim_stream **streams = calloc(c->n_people, sizeof *streams);
    assert_true(v && fd && clean && streams);
    for (size_t p = 0; p < c->n_people; p++) {
        if (!c->people[p].has_device)
            continue;
        OK(wp_sim_stream_new(&streams[p], c, p));
        const wp_sim_stream *s = streams[p];
        for (size_t i = 0; i < s->n; i++) {
            const wp_sim_event *e = &s->events[i];
            if (e->type != WP_SIM_MESSAGE || !e->text || strcmp(e->msgtype, "text"))
                continue;
            if (e->violation && n < cap) {
                v[n++] = e->text;
                if (strstr(e->text, "飞单") && n_fd < cap)
                    fd[n_fd++] = e->text;
            } else if (!e->violation && e->out && n_clean < cap) {
                clean[n_clean++] = e->text;
            }
        }
    }
    size_t most;
    assert_true(n > 150 && n_fd >= 5);
    assert_true(distinct(v, n, &most) > n * 6 / 10);
    assert_true(most <= n / 30); /* no one violation makes the alert list look copied */
    assert_true(distinct(fd, n_fd, &most) >= n_fd / 2);
    assert_true(distinct(clean, n_clean, &most) > n_clean / 2);
    for (size_t p = 0; p < c->n_people; p++)
        wp_sim_stream_free(streams[p]);
    free(streams);
    free(v);
    free(fd);
    free(clean);
    wp_sim_company_free(c);
}

/* Messages and planted violations over the whole company. */
static void share(const wp_sim_company *c, size_t *msgs, size_t *viol)
{
    *msgs = *viol = 0;
    for (size_t p = 0; p < c->n_people; p++) {
        if (!c->people[p].has_device)
            continue;
        wp_sim_stream *s = NULL;
        OK(wp_sim_stream_new(&s, c, p));
        for (size_t i = 0; i < s->n; i++)
            if (s->events[i].type == WP_SIM_MESSAGE) {
                (*msgs)++;
                *viol += s->events[i].violation != NULL;
            }
        wp_sim_stream_free(s);
    }
}

static void test_sim__violation_share(void **state)
{
    static const unsigned permille[] = {0, 25, 100};
    for (size_t i = 0; i < 3; i++) {
        wp_sim_config cfg = config(5);
        cfg.violation_permille = permille[i];
        wp_sim_company *c = company(&cfg);
        size_t msgs, viol;
        share(c, &msgs, &viol);
        double got = 1000.0 * (double)viol / (double)msgs;
        if (permille[i] == 0)
            assert_int_equal(viol, 0);
        else if (got < permille[i] * 0.7 || got > permille[i] * 1.3)
            fail_msg("violation share %.1f permille, configured %u", got, permille[i]);
        wp_sim_company_free(c);
    }
    wp_sim_config bad = config(1);
    wp_sim_company *c = NULL;
    bad.violation_permille = 301;
    assert_int_equal(wp_sim_company_new(&c, &bad), WP_EINVAL);
    bad = config(1);
    bad.weeks = 0;
    assert_int_equal(wp_sim_company_new(&c, &bad), WP_EINVAL);
    bad = config(1);
    bad.end_us = 0;
    assert_int_equal(wp_sim_company_new(&c, &bad), WP_EINVAL);
    assert_null(c);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* What the default lexicon says of every text: violations flagged, clean talk left alone. */
static void test_sim__default_lexicon_agrees(void **state)
{
    const char *root = getenv("WORKPHONE_SOURCE_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/data/lexicon/default.txt", root ? root : ".");
    size_t len;
    char *lex = read_all(path, &len);
    wp_scanner *sc = NULL;
    OK(wp_scan_compile(&sc, lex, len, NULL));
    wp_scan_result r;
    wp_scan_result_init(&r);
    size_t checked = 0, flagged = 0;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        wp_sim_config cfg = config(seed);
        cfg.violation_permille = 150; /* many violations, to meet every script */
        wp_sim_company *c = company(&cfg);
        for (size_t p = 0; p < c->n_people; p++) {
            if (!c->people[p].has_device)
                continue;
            wp_sim_stream *s = NULL;
            OK(wp_sim_stream_new(&s, c, p));
            for (size_t i = 0; i < s->n; i++) {
                const wp_sim_event *e = &s->events[i];
                if (e->type != WP_SIM_MESSAGE || !e->text)
                    continue;
                OK(wp_scan_run(sc, e->text, strlen(e->text), &r));
                checked++;
                if (e->violation && e->must_alert && r.action < WP_SCAN_ALERT)
                    fail_msg("a %s violation is not flagged: %s", e->violation, e->text);
                if (e->violation && !e->must_alert && r.action < WP_SCAN_MASK)
                    fail_msg("a leaked number is not masked: %s", e->text);
                if (!e->violation && r.action >= WP_SCAN_ALERT)
                    fail_msg("clean talk is flagged (%s): %s", r.matches[0].pattern, e->text);
                flagged += r.action >= WP_SCAN_ALERT;
            }
            wp_sim_stream_free(s);
        }
        wp_sim_company_free(c);
    }
    assert_true(checked > 20000 && flagged > 1000);
    wp_scan_result_release(&r);
    wp_scanner_unref(sc);
    free(lex);
}

/* Every generated event passes the device protocol's validation. */
static void test_sim__batches_are_valid_events(void **state)
{
    wp_sim_config cfg = config(9);
    wp_sim_company *c = company(&cfg);
    size_t n = 0;
    for (size_t p = 0; p < c->n_people; p++) {
        if (!c->people[p].has_device)
            continue;
        wp_sim_stream *s = NULL;
        OK(wp_sim_stream_new(&s, c, p));
        for (size_t from = 0; from < s->n; from += WP_INGEST_MAX_EVENTS) {
            json_t *body = NULL;
            OK(wp_sim_stream_batch(&body, s, from, WP_INGEST_MAX_EVENTS));
            wp_ingest_batch b;
            OK(wp_ingest__validate(&b, body, NULL));
            for (size_t i = 0; i < b.b.n; i++) {
                const wp_event *e = &b.b.events[i];
                if (e->type == WP_EVENT_REJECTED)
                    fail_msg("event %lld rejected: %s", (long long)e->seq, e->reason);
                const wp_sim_event *se = &s->events[from + i];
                assert_int_equal(e->seq, se->seq);
                assert_true(e->ts_us == se->ts_us);
                if (se->customer >= 0) /* the customer's number travels with every event */
                    assert_string_equal(e->peer.phone, c->customers[se->customer].phone);
                n++;
            }
            const char *ts = json_string_value(
                json_object_get(json_array_get(json_object_get(body, "events"), 0), "ts"));
            assert_non_null(strstr(ts, "+08:00"));
            wp_ingest__batch_release(&b);
            json_decref(body);
        }
        wp_sim_stream_free(s);
    }
    assert_true(n > 10000);
    wp_sim_company_free(c);
}

/* --- the in-process sink, on SQLite and PostgreSQL -------------------------------------------- */

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
    tfx_release(*state);
    free(*state);
    return 0;
}

static int stop_at_day;

static int progress(void *ctx, const wp_sim_stats *st, unsigned day, unsigned days)
{
    unsigned *calls = ctx;
    (*calls)++;
    if (stop_at_day && (int)day == stop_at_day)
        return wp_error_set(WP_EIO, "stopped at day %u", day);
    return 0;
}

static size_t count_messages(struct tfx *f)
{
    wp_message_page page;
    char cursor[WP_ARCHIVE_CURSOR_MAX] = "";
    size_t n = 0;
    do {
        wp_message_filter mf = {.tenant_id = f->tenant, .cursor = cursor, .limit = WP_PAGE_MAX};
        OK(wp_store_messages_search(f->st, &page, &mf));
        n += page.n;
        snprintf(cursor, sizeof cursor, "%s", page.next_cursor);
        wp_message_page_release(&page);
    } while (cursor[0]);
    return n;
}

static void test_sim_local__fills_a_store(void **state)
{
    struct tfx *f = *state;
    wp_store_connpool *pool = NULL;
    wp_ingest *ing = NULL;
    OK(wp_store_connpool_new(&pool, f->dir, f->url, 0));
    wp_ingest_config ic = WP_INGEST_CONFIG_INIT;
    ic.data_dir = f->dir;
    ic.db_url = f->url;
    ic.pool = pool;
    OK(wp_ingest_new(&ing, &ic));
    wp_sim_config cfg = config(11);
    cfg.regions = 1;
    cfg.stores_per_region = 2;
    cfg.staff_per_store = 3;
    cfg.weeks = 1;
    cfg.customers_per_sales = 6;
    cfg.violation_permille = 80;
    wp_sim_company *c = company(&cfg);
    static const unsigned char audit_key[32] = {7}; /* the day's end jobs sign with it */
    wp_sim_local local = {.ing = ing, .pool = pool, .audit_key = audit_key};
    memcpy(local.tenant_id, f->tenant, sizeof local.tenant_id);
    wp_sim_sink sink;
    wp_sim_local_sink(&sink, &local);

    wp_sim_stats st;
    unsigned calls = 0;
    stop_at_day = 0;
    wp_sim_run_options ro = WP_SIM_RUN_OPTIONS_INIT;
    ro.progress = progress;
    ro.progress_ctx = &calls;
    OK(wp_sim_run(&st, c, f->unit, &sink, &ro));
    assert_int_equal(calls, 8); /* day 0 (enrolled), then 7 days */
    assert_int_equal(st.units, 3);     /* a region and two stores under the hq */
    assert_int_equal(st.employees, 8); /* an auditor, a region manager, 2 x 3 store staff */
    assert_int_equal(st.devices, 6);
    assert_int_equal(st.rejected, 0);
    assert_true(st.messages > 200 && st.locations > 100);
    assert_int_equal(st.events,
                     st.messages + st.calls + st.contacts + st.locations + st.checkins);
    /* the property and the insurance store have field staff: a fence around each */
    assert_int_equal(st.geofences, 2);
    assert_true(st.checkins_in > 0 && st.checkins_out > 0 && st.visits > 0);
    assert_int_equal(st.checkins, st.checkins_in + st.checkins_out + st.visits);
    assert_true(st.alerts_sensitive > 0);
    assert_true(st.alerts_sensitive <= st.violations);
    assert_int_equal(count_messages(f), st.messages);
    /* the staff recorded their work in the CRM, and almost all of it applied */
    assert_true(st.stages > 10 && st.deals > 0 && st.deal_amount_fen > 0 && st.tagged > 0);
    assert_true(st.notes > 0 && st.acts == st.stages + st.grades + st.tagged + st.notes +
                                                 st.released + st.claimed);
    assert_true(st.acts_skipped * 10 < st.acts);

    /* every customer the phones met is one customer of its employee */
    wp_customer_page page;
    wp_customer_filter cf = {.tenant_id = f->tenant, .limit = WP_PAGE_MAX};
    OK(wp_store_customers_list(f->st, &page, &cf));
    assert_int_equal(page.next_cursor[0], '\0');
    assert_true(page.n > 0 && page.n <= c->n_customers);
    for (size_t i = 0; i < page.n; i++) {
        size_t k = 0;
        while (k < c->n_customers && strcmp(c->customers[k].phone, page.items[i].phone))
            k++;
        assert_true(k < c->n_customers);
        assert_string_equal(page.items[i].name, c->customers[k].name);
    }
    wp_customer_page_release(&page);
    cf.stage = "deal";
    OK(wp_store_customers_list(f->st, &page, &cf));
    assert_true(page.n > 0); /* deals are in the funnel */
    wp_customer_page_release(&page);

    /* a progress callback that says stop stops the run with its error */
    wp_sim_company_free(c);
    cfg.seed = 12;
    c = company(&cfg);
    wp_store *st2 = NULL;
    OK(wp_store_open(&st2, f->dir, f->url));
    char tenant2[WP_ID_LEN + 1];
    wp_org_unit hq;
    OK(wp_store_tenant_create(st2, tenant2, "Other"));
    OK(wp_store_org_unit_create(st2, &hq, tenant2, NULL, "HQ", WP_ORG_HQ));
    wp_store_free(st2);
    memcpy(local.tenant_id, tenant2, sizeof local.tenant_id);
    stop_at_day = 2;
    calls = 0;
    assert_int_equal(wp_sim_run(&st, c, hq.id, &sink, &ro), WP_EIO);
    assert_int_equal(calls, 3);
    wp_sim_company_free(c);
    wp_sim_local_release(&local);
    wp_ingest_free(ing);
    wp_store_connpool_free(pool);
}


static void test_sim__shape_for_a_head_count(void **state)
{
    static const unsigned counts[] = {20, 27, 59, 60, 100, 159, 160, 333, 500};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        wp_sim_config cfg = config(2);
        cfg.days = 2;
        OK(wp_sim_config_shape(&cfg, counts[i]));
        wp_sim_company *c = company(&cfg);
        assert_int_equal(c->n_people, counts[i]);
        assert_int_equal(c->days, 2);
        size_t stores = 0, managers = 0, min_staff = SIZE_MAX, max_staff = 0;
        for (size_t u = 0; u < c->n_units; u++) {
            if (strcmp(c->units[u].kind, "store"))
                continue;
            size_t staff = 0;
            stores++;
            for (size_t p = 0; p < c->n_people; p++)
                if (c->people[p].unit == (int)u) {
                    staff++;
                    managers += !strcmp(c->people[p].title, "店长");
                }
            min_staff = staff < min_staff ? staff : min_staff;
            max_staff = staff > max_staff ? staff : max_staff;
        }
        assert_int_equal(managers, stores); /* a manager in every store */
        assert_true(max_staff - min_staff <= 1 && min_staff >= 4 && max_staff <= 32);
        assert_true(stores >= 4 && stores <= 16);
        wp_sim_company_free(c);
    }
    wp_sim_config cfg = config(2);
    assert_int_equal(wp_sim_config_shape(&cfg, 19), WP_EINVAL);
    assert_int_equal(wp_sim_config_shape(&cfg, 501), WP_EINVAL);
    /* the default company is the shape of 27 */
    wp_sim_config a = config(4), b = config(4);
    OK(wp_sim_config_shape(&b, 27));
    wp_sim_company *ca = company(&a), *cb = company(&b);
    char *ea = everything(ca), *eb = everything(cb);
    assert_string_equal(ea, eb);
    free(ea);
    free(eb);
    wp_sim_company_free(ca);
    wp_sim_company_free(cb);
    a.days = 0;
    a.weeks = 0;
    assert_int_equal(wp_sim_company_new(&ca, &a), WP_EINVAL);
    a.days = WP_SIM_WEEKS_MAX * 7 + 1;
    assert_int_equal(wp_sim_company_new(&ca, &a), WP_EINVAL);
    b.employees = 6; /* fewer than a manager per store */
    assert_int_equal(wp_sim_company_new(&ca, &b), WP_EINVAL);
}

/* --- the remote sink: two fresh servers, one seed, one archive --------------------------------- */

struct rows {
    char **v;
    size_t n;
};

static int add_row(void *ctx, const json_t *m)
{
    struct rows *r = ctx;
    const char *text = json_string_value(json_object_get(m, "text"));
    char *row = NULL;
    assert_true(asprintf(&row, "%s\t%s\t%s\t%s",
                         json_string_value(json_object_get(m, "ts")),
                         json_string_value(json_object_get(m, "direction")),
                         json_string_value(json_object_get(m, "channel")),
                         text ? text : "") > 0);
    r->v = realloc(r->v, (r->n + 1) * sizeof *r->v);
    assert_non_null(r->v);
    r->v[r->n++] = row;
    return 0;
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int count_item(void *ctx, const json_t *item)
{
    (*(size_t *)ctx)++;
    return 0;
}

/* Simulate cfg into a fresh server through agents; its archive as sorted rows. */
static void simulate_remote(struct rows *out, wp_sim_stats *st, const wp_sim_config *cfg,
                            unsigned threads, unsigned batch)
{
    test_server srv;
    char agents[64];
    server_start(&srv);
    make_tmpdir(agents, "agents");
    wp_sim_remote *r = NULL;
    wp_sim_remote_options o = WP_SIM_REMOTE_OPTIONS_INIT;
    o.server = srv.base;
    o.admin = "admin";
    o.admin_password = "wrong-password";
    o.agents_dir = agents;
    o.staff_password = "staff-pass-1";
    o.batch_max = batch;
    assert_int_equal(wp_sim_remote_new(&r, &o), WP_EAUTH);
    o.admin_password = "s3cret-pass";
    OK(wp_sim_remote_new(&r, &o));
    char top[WP_SIM_ID_MAX];
    OK(wp_sim_remote_top_unit(r, top));
    wp_sim_company *c = company(cfg);
    wp_sim_sink sink;
    wp_sim_remote_sink(&sink, r);
    wp_sim_run_options ro = WP_SIM_RUN_OPTIONS_INIT;
    ro.threads = threads;
    OK(wp_sim_run(st, c, top, &sink, &ro));
    assert_int_equal(st->rejected, 0);
    assert_int_equal(st->devices, 5);
    memset(out, 0, sizeof *out);
    OK(wp_sim_remote_each(r, "/messages", add_row, out));
    qsort(out->v, out->n, sizeof *out->v, by_string);
    size_t n_emp = 0, n_dev = 0;
    OK(wp_sim_remote_each(r, "/employees", count_item, &n_emp));
    OK(wp_sim_remote_each(r, "/devices", count_item, &n_dev));
    assert_int_equal(n_emp, c->n_people + 1); /* and the admin */
    assert_int_equal(n_dev, 5);
    /* every agent sent everything: its outbox is empty, its acked_seq its stream's end */
    for (size_t p = 0; p < c->n_people; p++) {
        if (!c->people[p].has_device)
            continue;
        char dir[128];
        wp_agent *a = NULL;
        wp_agent_options ao = WP_AGENT_OPTIONS_INIT;
        wp_agent_status as;
        wp_sim_stream *s = NULL;
        snprintf(dir, sizeof dir, "%s/%s", agents, c->people[p].serial);
        ao.dir = dir;
        assert_int_equal(wp_agent_new(&a, &ao), 0);
        assert_int_equal(wp_agent_status_get(a, &as), 0);
        OK(wp_sim_stream_new(&s, c, p));
        assert_int_equal(as.outbox_events, 0);
        assert_int_equal(as.acked_seq, (int64_t)s->n);
        wp_sim_stream_free(s);
        wp_agent_free(a);
    }
    wp_sim_company_free(c);
    wp_sim_remote_free(r);
    server_destroy(&srv);
    rm_rf(agents);
}

static void rows_free(struct rows *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i]);
    free(r->v);
}

static void test_sim_remote__same_seed_same_archive(void **state)
{
    wp_sim_config cfg = config(21);
    cfg.regions = 1;
    cfg.stores_per_region = 2;
    cfg.days = 3;
    cfg.employees = 7; /* an auditor, a region manager, 2 stores of 3 and 2 */
    cfg.customers_per_sales = 8;
    cfg.violation_permille = 100;
    struct rows a, b;
    wp_sim_stats sa, sb;
    simulate_remote(&a, &sa, &cfg, 1, 0);
    simulate_remote(&b, &sb, &cfg, 3, 7); /* other threads and batches: the same data */
    assert_true(sa.messages > 100);
    assert_int_equal(a.n, sa.messages);
    assert_int_equal(sa.events, sb.events);
    assert_int_equal(a.n, b.n);
    for (size_t i = 0; i < a.n; i++)
        assert_string_equal(a.v[i], b.v[i]);
    size_t chinese = 0;
    for (size_t i = 0; i < a.n; i++)
        chinese += strstr(a.v[i], "您") || strstr(a.v[i], "的");
    assert_true(chinese > a.n / 3);
    rows_free(&a);
    rows_free(&b);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_sim_rng__streams),
        cmocka_unit_test(test_sim__same_seed_same_company),
        cmocka_unit_test(test_sim__plan_shapes),
        cmocka_unit_test(test_sim__stream_shapes),
        cmocka_unit_test(test_sim__field_days),
        cmocka_unit_test(test_sim__crm_acts),
        cmocka_unit_test(test_sim__talk_varies),
        cmocka_unit_test(test_sim__violation_share),
        cmocka_unit_test(test_sim__default_lexicon_agrees),
        cmocka_unit_test(test_sim__batches_are_valid_events),
        cmocka_unit_test(test_sim__shape_for_a_head_count),
        cmocka_unit_test(test_sim_remote__same_seed_same_archive),
    };
    const struct CMUnitTest stored[] = {
        cmocka_unit_test_setup_teardown(test_sim_local__fills_a_store, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("sim", pure, NULL, NULL);
    return failed + tfx_run("sim_local", stored, sizeof stored / sizeof stored[0]);
}
