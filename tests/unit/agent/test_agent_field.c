/* SPDX-License-Identifier: MIT */
/* libwpagent's field staff part against a fake transport (no server): the policy's geofences,
 * working hours and off-duty rule kept with the policy, off-duty points refused under "drop"
 * and recorded under "keep", the inside/outside state with the server's hysteresis band, and
 * all of it surviving a restart without the network. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/clock.h"
#include "workphone/agent.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- a fake server: enroll, the policy it is given, events acknowledged -------------------- */

struct fake {
    char policy[8192];
    int version;
    int down;          /* every request fails as the network would */
    int events_posts;  /* POST /device/events seen */
    int64_t acked;     /* the last seq acknowledged */
    int location_events;
};

static int fake_send(void *ctx, const wp_agent_request *req, wp_agent_response *resp)
{
    struct fake *f = ctx;
    char buf[256];
    if (f->down)
        return wp_agent_response_error(resp, WP_AGENT_ENET, "injected: no network");
    if (strstr(req->url, "/device/enroll")) {
        static const char ok[] = "{\"device_id\":\"dev-field\",\"token\":\"tok-field\"}";
        wp_agent_response_status(resp, 201);
        return wp_agent_response_body(resp, ok, sizeof ok - 1);
    }
    if (strstr(req->url, "/device/policy")) {
        snprintf(buf, sizeof buf, "\"%d\"", f->version);
        for (size_t i = 0; i < req->n_headers; i++)
            if (!strncmp(req->headers[i], "If-None-Match: ", 15) &&
                !strcmp(req->headers[i] + 15, buf)) {
                wp_agent_response_status(resp, 304);
                return 0;
            }
        wp_agent_response_status(resp, 200);
        wp_agent_response_header(resp, "ETag", buf);
        return wp_agent_response_body(resp, f->policy, strlen(f->policy));
    }
    if (strstr(req->url, "/device/events")) {
        json_t *j = json_loadb(req->body, req->body_len, 0, NULL);
        json_t *evs = json_object_get(j, "events"), *e;
        size_t i;
        f->events_posts++;
        json_array_foreach(evs, i, e) {
            f->acked = json_integer_value(json_object_get(e, "seq"));
            f->location_events +=
                !strcmp(json_string_value(json_object_get(e, "type")), "location");
        }
        json_decref(j);
        snprintf(buf, sizeof buf, "{\"acked_seq\":%lld,\"rejected\":[]}", (long long)f->acked);
        wp_agent_response_status(resp, 200);
        return wp_agent_response_body(resp, buf, strlen(buf));
    }
    wp_agent_response_status(resp, 404);
    return 0;
}

/* The policy as GET /api/v1/device/policy writes it: fences, hours and zone, the rule. */
static void set_policy(struct fake *f, const char *off_duty, const char *hours,
                       const char *fence_schedule)
{
    f->version++;
    snprintf(f->policy, sizeof f->policy,
             "{\"version\":%d,\"lexicon\":\"# field\\n\",\"geofences\":[{\"id\":"
             "\"fence0000000000000000001\",\"name\":\"Shop A\",\"org_unit_id\":\"u1\","
             "\"shape\":{\"type\":\"circle\",\"center\":[121.47,31.23],\"radius_m\":200},"
             "\"schedule\":%s,\"created_at\":\"2026-12-01T00:00:00Z\",\"updated_at\":"
             "\"2026-12-01T00:00:00Z\"}],\"settings\":{\"money_alert_fen\":100000,"
             "\"locations_off_duty\":\"%s\",\"time_zone\":\"Asia/Shanghai\","
             "\"working_hours\":%s},\"scripts\":[]}",
             f->version, fence_schedule, off_duty, hours);
}

#define ALL_DAY "{\"days\":[1,2,3,4,5,6,7],\"from\":\"00:00\",\"to\":\"24:00\"}"
#define OFFICE "{\"days\":[1,2,3,4,5],\"from\":\"09:00\",\"to\":\"18:00\"}"

struct fx {
    char dir[128];
    struct fake f;
    wp_agent *a;
};

static wp_agent *open_agent(struct fx *x)
{
    wp_agent_options o = WP_AGENT_OPTIONS_INIT;
    wp_agent_transport t = {fake_send, NULL, &x->f};
    wp_agent *a = NULL;
    o.dir = x->dir;
    o.transport = &t;
    o.max_attempts = 1;
    assert_int_equal(wp_agent_new(&a, &o), 0);
    return a;
}

static void fx_init(struct fx *x)
{
    memset(x, 0, sizeof *x);
    snprintf(x->dir, sizeof x->dir, "/tmp/wp-agent-field-XXXXXX");
    assert_non_null(mkdtemp(x->dir));
    x->a = open_agent(x);
}

static void fx_done(struct fx *x)
{
    char cmd[256];
    wp_agent_free(x->a);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", x->dir);
    assert_int_equal(system(cmd), 0);
}

static int64_t at(const char *rfc3339)
{
    int64_t us = 0;
    assert_int_equal(wp_time_parse(&us, rfc3339), 0);
    return us;
}

/* A point m metres north of the fence's centre (m < 0: south). */
static double north(double m)
{
    return 31.23 + m / (6371008.8 * 3.14159265358979323846 / 180.0);
}

static wp_agent_status status(wp_agent *a)
{
    wp_agent_status st;
    assert_int_equal(wp_agent_status_get(a, &st), 0);
    return st;
}

/* --- tests --------------------------------------------------------------------------------- */

/* Before any policy: "drop" is what the employee is told, nothing is known of hours and
 * fences, and every point is recorded (the server decides). */
static void test_agent_field__before_policy(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x);
    wp_agent_status st = status(x.a);
    assert_string_equal(st.locations_off_duty, "drop");
    assert_int_equal(st.on_duty, -1);
    assert_string_equal(st.time_zone, "");
    assert_int_equal(st.fences, 0);
    assert_int_equal(st.fence_state, WP_AGENT_FENCE_UNKNOWN);
    int64_t seq = -1;
    assert_int_equal(wp_agent_record_location(x.a, &seq, at("2026-12-05T23:00:00+08:00"),
                                              north(5000), 121.47, 10),
                     WP_AGENT_LOCATION_RECORDED);
    assert_int_equal(seq, 1);
    assert_int_equal(status(x.a).fence_state, WP_AGENT_FENCE_UNKNOWN);
    fx_done(&x);
}

/* Leaving and re-entering, within and beyond the band of max(accuracy, 30 m), as the server
 * decides; a late point changes nothing. */
static void test_agent_field__route(void **state)
{
    (void)state;
    struct fx x;
    int64_t seq = 0;
    fx_init(&x);
    set_policy(&x.f, "drop", ALL_DAY, "null");
    assert_int_equal(wp_agent_enroll(x.a, "http://fake", "CODE", NULL, NULL), 0);
    wp_agent_status st = status(x.a);
    assert_int_equal(st.fences, 1);
    assert_int_equal(st.on_duty, 1);
    assert_string_equal(st.time_zone, "Asia/Shanghai");
    assert_string_equal(st.locations_off_duty, "drop");

    struct {
        const char *ts;
        double m, acc;
        int want, state;
    } route[] = {
        /* the first decision is neither a leaving nor a return */
        {"2026-12-07T10:00:00+08:00", 0, 10, WP_AGENT_LOCATION_RECORDED, WP_AGENT_FENCE_INSIDE},
        /* 15 m beyond the edge: within the band, still inside */
        {"2026-12-07T10:01:00+08:00", 215, 10, WP_AGENT_LOCATION_RECORDED, WP_AGENT_FENCE_INSIDE},
        /* 90 m beyond with 100 m accuracy: within that band */
        {"2026-12-07T10:02:00+08:00", 290, 100, WP_AGENT_LOCATION_RECORDED,
         WP_AGENT_FENCE_INSIDE},
        /* 60 m beyond: out, once */
        {"2026-12-07T10:03:00+08:00", 260, 10, WP_AGENT_LOCATION_LEFT, WP_AGENT_FENCE_OUTSIDE},
        {"2026-12-07T10:04:00+08:00", 900, 10, WP_AGENT_LOCATION_RECORDED,
         WP_AGENT_FENCE_OUTSIDE},
        /* 10 m within: the band, still outside */
        {"2026-12-07T10:05:00+08:00", -190, 10, WP_AGENT_LOCATION_RECORDED,
         WP_AGENT_FENCE_OUTSIDE},
        /* a late point from before the leaving, well inside: decided already */
        {"2026-12-07T10:02:30+08:00", 0, 10, WP_AGENT_LOCATION_RECORDED, WP_AGENT_FENCE_OUTSIDE},
        /* 50 m within: back */
        {"2026-12-07T10:06:00+08:00", -150, 10, WP_AGENT_LOCATION_RETURNED,
         WP_AGENT_FENCE_INSIDE},
        /* and out again: a second leaving */
        {"2026-12-07T10:07:00+08:00", 400, 10, WP_AGENT_LOCATION_LEFT, WP_AGENT_FENCE_OUTSIDE},
    };
    for (size_t i = 0; i < sizeof route / sizeof route[0]; i++) {
        int r = wp_agent_record_location(x.a, &seq, at(route[i].ts), north(route[i].m), 121.47,
                                         route[i].acc);
        if (r != route[i].want || status(x.a).fence_state != route[i].state)
            fail_msg("point %zu: result %d state %d, want %d %d", i, r,
                     status(x.a).fence_state, route[i].want, route[i].state);
        assert_int_equal(seq, (int64_t)i + 1);
    }
    st = status(x.a);
    assert_int_equal(st.fence_since_us, at("2026-12-07T10:07:00+08:00"));
    assert_string_equal(st.fence_id, "fence0000000000000000001");
    assert_string_equal(st.fence_name, "Shop A");
    /* every point leaves the phone */
    assert_int_equal(wp_agent_sync(x.a), 0);
    assert_int_equal(x.f.location_events, 9);
    fx_done(&x);
}

/* Under "drop" a point outside working hours is not recorded and spends no seq; under "keep"
 * it is. A fence on the working hours is not in force after hours: nothing is decided. */
static void test_agent_field__off_duty(void **state)
{
    (void)state;
    struct fx x;
    int64_t seq = -1;
    fx_init(&x);
    set_policy(&x.f, "drop", OFFICE, "null");
    assert_int_equal(wp_agent_enroll(x.a, "http://fake", "CODE", NULL, NULL), 0);
    uint64_t before = status(x.a).outbox_events;
    int64_t next = status(x.a).next_seq;
    /* Saturday, and Monday evening: refused */
    assert_int_equal(wp_agent_record_location(x.a, &seq, at("2026-12-05T10:00:00+08:00"), 31.23,
                                              121.47, 10),
                     WP_AGENT_LOCATION_OFF_DUTY);
    assert_int_equal(seq, 0);
    assert_int_equal(wp_agent_record_location(x.a, &seq, at("2026-12-07T18:00:00+08:00"),
                                              north(5000), 121.47, 10),
                     WP_AGENT_LOCATION_OFF_DUTY);
    assert_int_equal(status(x.a).outbox_events, before);
    assert_int_equal(status(x.a).next_seq, next);
    assert_int_equal(status(x.a).fence_state, WP_AGENT_FENCE_UNKNOWN);
    /* Monday 17:59 +08:00 (09:59 UTC): recorded */
    assert_int_equal(wp_agent_record_location(x.a, &seq, at("2026-12-07T09:59:00Z"), 31.23,
                                              121.47, 10),
                     WP_AGENT_LOCATION_RECORDED);
    assert_int_equal(seq, next);
    assert_int_equal(status(x.a).fence_state, WP_AGENT_FENCE_INSIDE);
    assert_int_equal(wp_agent_sync(x.a), 0);
    assert_int_equal(x.f.location_events, 1);

    /* the tenant keeps them: recorded, and the employee is told */
    set_policy(&x.f, "keep", OFFICE, "null");
    assert_int_equal(wp_agent_sync(x.a), 0);
    assert_string_equal(status(x.a).locations_off_duty, "keep");
    assert_int_equal(wp_agent_record_location(x.a, &seq, at("2026-12-12T10:00:00+08:00"),
                                              north(5000), 121.47, 10),
                     WP_AGENT_LOCATION_RECORDED);
    assert_int_equal(seq, next + 1);
    /* 5 km out, but the fence is on the working hours: not in force, nothing decided */
    assert_int_equal(status(x.a).fence_state, WP_AGENT_FENCE_INSIDE);
    /* a fence with its own schedule is in force on Saturday: leaving it counts */
    set_policy(&x.f, "keep", OFFICE, ALL_DAY);
    assert_int_equal(wp_agent_sync(x.a), 0);
    assert_int_equal(wp_agent_record_location(x.a, &seq, at("2026-12-12T11:00:00+08:00"),
                                              north(5000), 121.47, 10),
                     WP_AGENT_LOCATION_LEFT);
    assert_int_equal(wp_agent_sync(x.a), 0);
    assert_int_equal(x.f.location_events, 3);
    fx_done(&x);
}

/* The policy's field part and the state survive a restart with no network. */
static void test_agent_field__restart_offline(void **state)
{
    (void)state;
    struct fx x;
    int64_t seq = 0;
    fx_init(&x);
    set_policy(&x.f, "drop", OFFICE, "null");
    assert_int_equal(wp_agent_enroll(x.a, "http://fake", "CODE", NULL, NULL), 0);
    assert_int_equal(wp_agent_record_location(x.a, &seq, at("2026-12-07T10:00:00+08:00"), 31.23,
                                              121.47, 10),
                     WP_AGENT_LOCATION_RECORDED);
    assert_int_equal(wp_agent_record_location(x.a, &seq, at("2026-12-07T10:10:00+08:00"),
                                              north(800), 121.47, 10),
                     WP_AGENT_LOCATION_LEFT);
    wp_agent_free(x.a);
    x.f.down = 1;
    x.a = open_agent(&x);
    wp_agent_status st = status(x.a);
    assert_string_equal(st.locations_off_duty, "drop");
    assert_string_equal(st.time_zone, "Asia/Shanghai");
    assert_int_equal(st.fences, 1);
    assert_int_equal(st.fence_state, WP_AGENT_FENCE_OUTSIDE);
    assert_int_equal(st.fence_since_us, at("2026-12-07T10:10:00+08:00"));
    assert_string_equal(st.fence_name, "Shop A");
    /* still outside: no second leaving; off duty refused; back inside */
    assert_int_equal(wp_agent_record_location(x.a, &seq, at("2026-12-07T10:20:00+08:00"),
                                              north(900), 121.47, 10),
                     WP_AGENT_LOCATION_RECORDED);
    assert_int_equal(wp_agent_record_location(x.a, &seq, at("2026-12-07T19:00:00+08:00"), 31.23,
                                              121.47, 10),
                     WP_AGENT_LOCATION_OFF_DUTY);
    assert_int_equal(wp_agent_record_location(x.a, &seq, at("2026-12-07T10:30:00+08:00"), 31.23,
                                              121.47, 10),
                     WP_AGENT_LOCATION_RETURNED);
    assert_int_equal(seq, 4);
    assert_int_equal(wp_agent_sync(x.a), WP_AGENT_ENET);
    /* the network is back: the four points leave, the state stays */
    x.f.down = 0;
    assert_int_equal(wp_agent_sync(x.a), 0);
    assert_int_equal(x.f.location_events, 4);
    assert_int_equal(status(x.a).fence_state, WP_AGENT_FENCE_INSIDE);
    fx_done(&x);
}

/* A policy whose zone this device does not know records everything and decides nothing. */
static void test_agent_field__unknown_zone(void **state)
{
    (void)state;
    struct fx x;
    int64_t seq = 0;
    fx_init(&x);
    set_policy(&x.f, "drop", OFFICE, "null");
    char *z = strstr(x.f.policy, "Asia/Shanghai");
    assert_non_null(z);
    memcpy(z, "Mars/Olympus_", 13);
    assert_int_equal(wp_agent_enroll(x.a, "http://fake", "CODE", NULL, NULL), 0);
    wp_agent_status st = status(x.a);
    assert_int_equal(st.on_duty, -1);
    assert_string_equal(st.time_zone, "");
    assert_int_equal(wp_agent_record_location(x.a, &seq, at("2026-12-05T10:00:00+08:00"),
                                              north(5000), 121.47, 10),
                     WP_AGENT_LOCATION_RECORDED);
    assert_int_equal(status(x.a).fence_state, WP_AGENT_FENCE_UNKNOWN);
    fx_done(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_field__before_policy),
        cmocka_unit_test(test_agent_field__route),
        cmocka_unit_test(test_agent_field__off_duty),
        cmocka_unit_test(test_agent_field__restart_offline),
        cmocka_unit_test(test_agent_field__unknown_zone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
