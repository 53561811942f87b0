/* SPDX-License-Identifier: MIT */
/* The ingest object: its writer and the pool it borrows from, enrollment and device
 * authentication, and the device calls (events, check, policy) and the console's lexicon and
 * settings. */
#include "ingest/ingest_int.h"
#include "scan/verdict.h"
#include "store/audit.h"
#include "store/devices.h"
#include "store/events.h"
#include "store/geofence.h"
#include "store/policy.h"
#include "store/privacy.h"
#include "store/pool.h"
#include "store/rules.h"
#include "store/scripts.h"
#include "store/workhours.h"
#include "store/store.h"
#include "store/usage.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/id.h"
#include "util/utf8.h"
#include "util/json.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wp_writer *wp_ingest__writer(wp_ingest *ing)
{
    return ing->writer;
}

/* --- new and free ------------------------------------------------------------------------------
 */

static int read_file(char **out, size_t *len, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return wp_error_set(WP_EINVAL, "cannot read default lexicon '%s': %s", path,
                            strerror(errno));
    wp_buf b;
    wp_buf_init(&b, WP_INGEST_LEXICON_MAX);
    char chunk[8192];
    size_t n;
    int err = 0;
    while (err == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        err = wp_buf_add(&b, chunk, n);
    if (err == 0 && ferror(f))
        err = wp_error_set(WP_EINVAL, "cannot read default lexicon '%s'", path);
    fclose(f);
    if (err < 0) {
        wp_buf_release(&b);
        return err == WP_ELIMIT ? wp_error_set(WP_EINVAL, "default lexicon '%s' is too big", path)
                                : err;
    }
    *out = wp_buf_detach(&b, len);
    return 0;
}

int wp_ingest_new(wp_ingest **out, const wp_ingest_config *cfg)
{
    wp_ingest *ing = NULL;
    wp_store *st = NULL;
    int err;

    if (!cfg->data_dir || !*cfg->data_dir)
        return wp_error_set(WP_EINVAL, "ingest: no data dir");
    if (!cfg->pool)
        return wp_error_set(WP_EINVAL, "ingest: no store pool");
    if (!(ing = calloc(1, sizeof *ing)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    ing->pool = cfg->pool;
    if (cfg->audit_key) {
        memcpy(ing->audit_key, cfg->audit_key, WP_AUDIT_KEY_LEN);
        ing->regrade = 1;
    }
    if (cfg->media_dir && *cfg->media_dir)
        ing->media_dir = strdup(cfg->media_dir);
    else if ((ing->media_dir = malloc(strlen(cfg->data_dir) + sizeof "/media")))
        snprintf(ing->media_dir, strlen(cfg->data_dir) + sizeof "/media", "%s/media",
                 cfg->data_dir);
    if (!ing->media_dir || !(ing->data_dir = strdup(cfg->data_dir)) ||
        (cfg->db_url && *cfg->db_url && !(ing->db_url = strdup(cfg->db_url)))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    if (cfg->default_lexicon_path) {
        if ((err = read_file(&ing->default_lexicon, &ing->default_lexicon_len,
                             cfg->default_lexicon_path)) < 0)
            goto out;
    } else {
        if (!(ing->default_lexicon = malloc(wp_ingest__default_lexicon_len + 1))) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
        memcpy(ing->default_lexicon, wp_ingest__default_lexicon, wp_ingest__default_lexicon_len);
        ing->default_lexicon[wp_ingest__default_lexicon_len] = '\0';
        ing->default_lexicon_len = wp_ingest__default_lexicon_len;
    }
    /* The default lexicon must compile: a tenant's first events depend on it. */
    wp_scanner *probe = NULL;
    wp_scan_options opts = WP_SCAN_OPTIONS_INIT;
    opts.source_name = "default lexicon";
    if ((err = wp_scan_compile(&probe, ing->default_lexicon, ing->default_lexicon_len, &opts)) < 0)
        goto out;
    wp_scanner_unref(probe);
    if ((err = wp_policy__cache_new(&ing->policies)) < 0)
        goto out;
    /* The first connection migrates the store; it becomes the writer's. */
    if ((err = wp_store_open(&st, ing->data_dir, ing->db_url)) < 0)
        goto out;
    if ((err = wp_writer__start(&ing->writer, st, ing->data_dir, ing->db_url)) < 0)
        goto out;
    st = NULL;
    wp_writer__limits(ing->writer, cfg->queue_batches, cfg->queue_bytes);
    /* with a master key: every tenant's data keys now; a tenant made later on first use */
    if (cfg->master_key && ((err = wp_media_keys__new(&ing->keys, cfg->master_key)) < 0 ||
                            (err = wp_media_keys__preload(ing->keys, ing->pool)) < 0))
        goto out;
    *out = ing;
    ing = NULL;
out:
    wp_store_free(st);
    wp_ingest_free(ing);
    return err;
}

void wp_ingest_free(wp_ingest *ing)
{
    if (!ing)
        return;
    wp_writer__stop(ing->writer);
    wp_policy__cache_free(ing->policies);
    free(ing->default_lexicon);
    free(ing->data_dir);
    free(ing->media_dir);
    free(ing->db_url);
    wp_media_keys__free(ing->keys);
    free(ing);
}

/* --- enrollment and authentication ----------------------------------------------------------- */

/* No 0/O, 1/I: a code is read off a screen and typed on a phone. */
static const char code_alphabet[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/* Upper case without spaces and dashes, as it was made; NULL when it cannot be a code. */
static int code_hash(char out[65], const char *code)
{
    char norm[32];
    size_t n = 0;
    for (const char *p = code; p && *p; p++) {
        if (*p == ' ' || *p == '-')
            continue;
        if (n + 1 >= sizeof norm)
            return -1;
        norm[n++] = *p >= 'a' && *p <= 'z' ? (char)(*p - 32) : *p;
    }
    norm[n] = '\0';
    if (n == 0)
        return -1;
    wp_token_hash(out, norm);
    return 0;
}

int wp_ingest_enrollment_code_create(wp_ingest *ing, wp_store *tx, char out[WP_ENROLL_CODE_MAX],
                                     const char *tenant_id, const char *employee_id, int64_t ttl_s)
{
    char code[WP_ENROLL_CODE_MAX], hash[65];
    wp_store *st = tx;
    int err;

    if (ttl_s == 0)
        ttl_s = WP_ENROLL_TTL_DEFAULT_S;
    if (ttl_s < 0 || ttl_s > WP_ENROLL_TTL_MAX_S)
        return wp_error_set(WP_EINVAL, "ttl must be 1..%d seconds", WP_ENROLL_TTL_MAX_S);
    if (!tx && (err = wp_store_connpool_acquire(ing->pool, &st)) < 0)
        return err;
    /* A collision of 60 random bits is not going to happen, but costs nothing to survive. */
    for (int attempt = 0; attempt < 3; attempt++) {
        size_t k = 0;
        for (int i = 0; i < 12; i++) {
            if (i && i % 4 == 0)
                code[k++] = '-';
            code[k++] = code_alphabet[randombytes_uniform(sizeof code_alphabet - 1)];
        }
        code[k] = '\0';
        code_hash(hash, code);
        err = wp_store_enrollment_code_create(st, tenant_id, employee_id, hash,
                                              wp_time_now_us() + ttl_s * 1000000);
        if (err != WP_EEXISTS)
            break;
    }
    if (!tx)
        wp_store_connpool_release(ing->pool, st);
    if (err == 0)
        memcpy(out, code, sizeof code);
    sodium_memzero(code, sizeof code);
    return err;
}

int wp_ingest_enroll(wp_ingest *ing, wp_store *tx, wp_device *out,
                     char token[WP_DEVICE_TOKEN_MAX], const char *code, const char *serial,
                     const char *model)
{
    char chash[65], thash[65], tok[WP_DEVICE_TOKEN_MAX];
    wp_store *st = tx;
    wp_device d;
    int err;

    if (code_hash(chash, code) < 0)
        return wp_error_set(WP_EAUTH, "enrollment code is unknown, used or expired");
    if ((err = wp_token_new(tok, sizeof tok, "wpd_")) < 0)
        return err;
    wp_token_hash(thash, tok);
    if (!tx && (err = wp_store_connpool_acquire(ing->pool, &st)) < 0)
        goto out;
    err = wp_store_device_enroll(st, &d, chash, serial, model, thash, wp_time_now_us());
    if (!tx)
        wp_store_connpool_release(ing->pool, st);
    if (err < 0)
        goto out;
    *out = d;
    memcpy(token, tok, sizeof tok);
out:
    sodium_memzero(tok, sizeof tok);
    return err;
}

int wp_ingest_device_auth(wp_ingest *ing, wp_device *out, const char *bearer_token)
{
    char hash[65];
    wp_store *st = NULL;
    int err;

    if (!bearer_token || !*bearer_token || strlen(bearer_token) >= WP_DEVICE_TOKEN_MAX)
        return wp_error_set(WP_EAUTH, "device token is unknown or revoked");
    wp_token_hash(hash, bearer_token);
    if ((err = wp_store_connpool_acquire(ing->pool, &st)) < 0)
        return err;
    err = wp_store_device_auth(st, out, hash);
    wp_store_connpool_release(ing->pool, st);
    return err;
}

/* --- events --------------------------------------------------------------------------------------
 */

/* A JSON value whose construction may fail: NULL is carried to the final check. */
static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static int set(json_t *obj, const char *key, json_t *v)
{
    return json_object_set_new(obj, key, v) == 0 ? 0 : wp_error_set(WP_ENOMEM, "out of memory");
}

static json_t *alert_json(const wp_ingest_batch *vb, const wp_event *e,
                          const struct wp_ingest_extra *x, const wp_alert_draft *a)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int err = set(o, "id", json_string(a->id));
    if (err == 0)
        err = set(o, "ts", json_string(x->ts_text));
    if (err == 0)
        err = set(o, "kind", json_string(a->kind));
    if (err == 0)
        err = set(o, "category", str_or_null(a->category));
    if (err == 0)
        err = set(o, "employee_id", json_string(vb->b.employee_id));
    if (err == 0)
        err = set(o, "customer_id", str_or_null(e->customer_id));
    if (err == 0)
        err = set(o, "message_id", str_or_null(e->type == WP_EVENT_MESSAGE ? e->id : NULL));
    if (err == 0)
        err = set(o, "status", json_string("open"));
    if (err == 0)
        err = set(o, "seq", json_integer(e->seq));
    if (err == 0 && a->pattern) {
        err = set(o, "pattern", json_string(a->pattern));
        if (err == 0)
            err = set(o, "action", json_string(a->action));
        if (err == 0)
            err = set(o, "text", json_stringn(a->matched, a->matched_len));
    }
    if (err < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int events_reply(json_t **reply, const wp_ingest_batch *vb)
{
    json_t *alerts = json_array(), *rejected = json_array();
    int err = 0;
    if (!alerts || !rejected)
        err = wp_error_set(WP_ENOMEM, "out of memory");
    for (size_t i = 0; i < vb->b.n && err == 0; i++) {
        const wp_event *e = &vb->b.events[i];
        const struct wp_ingest_extra *x = &vb->x[i];
        if (!e->applied)
            continue;
        if (e->type == WP_EVENT_REJECTED) {
            json_t *o = json_pack("{s:O?,s:s}", "seq", x->seq_json, "reason", e->reason);
            if (!o || json_array_append_new(rejected, o) < 0)
                err = wp_error_set(WP_ENOMEM, "out of memory");
            continue;
        }
        for (size_t k = 0; k < e->n_alerts && err == 0; k++) {
            json_t *o = alert_json(vb, e, x, &e->alerts[k]);
            if (!o || json_array_append_new(alerts, o) < 0)
                err = wp_error_set(WP_ENOMEM, "out of memory");
        }
        if (e->fence_alert_id[0] && err == 0) {
            wp_alert_draft d = {.kind = "geofence", .category = "geofence", .start = -1,
                                .end = -1};
            memcpy(d.id, e->fence_alert_id, sizeof d.id);
            json_t *o = alert_json(vb, e, x, &d);
            if (!o || json_array_append_new(alerts, o) < 0)
                err = wp_error_set(WP_ENOMEM, "out of memory");
        }
    }
    if (err < 0) {
        json_decref(alerts);
        json_decref(rejected);
        return err;
    }
    /* "o" hands both arrays over, also when packing fails */
    json_t *r = json_pack("{s:I,s:o,s:o}", "acked_seq", (json_int_t)vb->b.acked_seq, "alerts",
                          alerts, "rejected", rejected);
    if (!r)
        return wp_error_set(WP_ENOMEM, "out of memory");
    *reply = r;
    return 0;
}

/* The grading rules see a batch's new facts at once (issue 7: "re-evaluated ... on each new
 * event"): each customer the batch touched is re-graded, after the batch is durable and
 * outside its transaction, so a failure here loses nothing (the jobs re-grade everyone
 * periodically). A tenant without rules costs one small query. */
static void regrade(wp_ingest *ing, const wp_event_batch *b)
{
    wp_grade_rule *rules = NULL;
    wp_store *st = NULL;
    size_t n_rules = 0, active = 0;

    if (!ing->regrade || wp_store_connpool_acquire(ing->pool, &st) < 0)
        goto out;
    if (wp_store_grade_rules_list(st, &rules, &n_rules, b->tenant_id) < 0)
        goto out;
    for (size_t i = 0; i < n_rules; i++)
        active += rules[i].active;
    for (size_t i = 0; active && i < b->n; i++) {
        const char *cid = b->events[i].customer_id;
        int seen = 0;
        if (!b->events[i].applied || !cid[0])
            continue;
        for (size_t j = 0; j < i && !seen; j++)
            seen = b->events[j].applied && !strcmp(b->events[j].customer_id, cid);
        if (!seen)
            (void)wp_store_grade_rules_apply(st, NULL, ing->audit_key, b->tenant_id, cid,
                                             b->now_us);
    }
out:
    wp_error_clear();
    free(rules);
    wp_store_connpool_release(ing->pool, st);
}

/* What a validated batch holds in memory, near enough for the queue's byte bound: each
 * event's raw copy and its structs. */
static size_t batch_bytes(const wp_ingest_batch *vb)
{
    size_t n = sizeof *vb;
    for (size_t i = 0; i < vb->b.n; i++)
        n += sizeof vb->b.events[i] + sizeof vb->x[i] + (vb->x[i].raw ? strlen(vb->x[i].raw) : 0);
    return n;
}

/* Is a check-in inside one of the geofences binding the employee (its unit's and those above
 * it)? A check-in is one deliberate point about a place, not a time: every binding fence counts,
 * whatever its schedule, and the point is inside when it lies within its accuracy of one (no
 * hysteresis band, which is for streams of noisy points). Sets e->inside_geofence to 1 with
 * that fence's id, or 0 with the nearest fence's id; leaves -1 and "" when no fence binds. */
static int checkin_inside(wp_store *st, wp_event *e, const char *tenant_id,
                          const char *employee_id)
{
    wp_geofence *v = NULL;
    size_t n = 0;
    e->inside_geofence = -1;
    e->fence_id[0] = '\0';
    int err = wp_store_geofences_binding(st, &v, &n, tenant_id, employee_id);
    if (err < 0)
        return err;
    double margin = e->accuracy_cm > 0 ? (double)e->accuracy_cm / 100.0 : 0, best = 0;
    for (size_t i = 0; i < n; i++) {
        wp_geo_fence g;
        wp_geofence_shape(&g, &v[i]);
        double d = wp_geo_fence_distance(&g, e->lat_e7, e->lon_e7);
        if (e->inside_geofence < 0 || d < best) {
            best = d;
            snprintf(e->fence_id, sizeof e->fence_id, "%s", v[i].id);
        }
        e->inside_geofence = best <= margin;
    }
    wp_geofences_free(v, n);
    return 0;
}

/* The batch's locations outside the employee's working hours, when the tenant drops them
 * (locations_off_duty "drop"): marked off_duty, so the store handles them without a row; and
 * where its check-ins lie. *dropped gets how many were marked. */
static int place_events(wp_store *st, wp_ingest_batch *vb, const wp_policy_row *row,
                        const char *tenant_id, const char *employee_id, uint64_t *dropped)
{
    wp_workcal *cal = NULL;
    const wp_workhours *h = NULL;
    int err = 0;
    *dropped = 0;
    for (size_t i = 0; i < vb->b.n && err == 0; i++) {
        wp_event *e = &vb->b.events[i];
        if (e->type == WP_EVENT_CHECKIN) {
            err = checkin_inside(st, e, tenant_id, employee_id);
            continue;
        }
        if (e->type != WP_EVENT_LOCATION || row->locations_keep)
            continue;
        if (!cal) {
            if ((err = wp_workcal_load(&cal, st, tenant_id)) < 0)
                break;
            h = wp_workcal_of(cal, employee_id, NULL);
        }
        if (!wp_workcal_contains(cal, h, e->ts_us)) {
            e->off_duty = 1;
            (*dropped)++;
        }
    }
    wp_workcal_free(cal);
    return err;
}

int wp_ingest_events(wp_ingest *ing, json_t **reply, const wp_device *dev, const json_t *body)
{
    return wp_ingest_events_at(ing, reply, dev, body, wp_time_now_us());
}

int wp_ingest_events_at(wp_ingest *ing, json_t **reply, const wp_device *dev, const json_t *body,
                        int64_t now_us)
{
    wp_ingest_batch vb;
    wp_policy_now now = {0};
    wp_store *st = NULL;
    uint64_t off_duty = 0;
    int err;

    wp_ingest_bounds bounds = {now_us, dev->acked_seq};
    if ((err = wp_ingest__validate(&vb, body, &bounds)) < 0)
        goto out;
    if ((err = wp_store_connpool_acquire(ing->pool, &st)) < 0)
        goto out;
    /* one statement and one look-up: the lexicons of the device's employee's unit */
    err = wp_policy__current(ing, st, &now, dev->tenant_id, dev->employee_id, NULL);
    if (err == 0)
        err = place_events(st, &vb, &now.chain.row, dev->tenant_id, dev->employee_id, &off_duty);
    wp_store_connpool_release(ing->pool, st);
    if (err < 0)
        goto out;
    /* Scanning happens here, on the request's thread, outside any transaction. */
    if ((err = wp_ingest__alerts(&vb, now.scanner, now.chain.row.money_alert_fen)) < 0)
        goto out;
    vb.b.tenant_id = dev->tenant_id;
    vb.b.device_id = dev->id;
    vb.b.employee_id = dev->employee_id;
    vb.b.now_us = bounds.now_us;
    if ((err = wp_writer__submit(ing->writer, &vb.b, batch_bytes(&vb))) < 0)
        goto out;
    if (vb.b.refused) { /* past a storage limit: nothing stored, nothing acknowledged */
        err = wp_usage_refuse(&vb.b.refusal);
        goto out;
    }
    regrade(ing, &vb.b);
    err = events_reply(reply, &vb);
    if (err == 0) {
        atomic_fetch_add_explicit(&ing->n_events, vb.b.n, memory_order_relaxed);
        atomic_fetch_add_explicit(&ing->n_rejected,
                                  json_array_size(json_object_get(*reply, "rejected")),
                                  memory_order_relaxed);
        uint64_t kept_out = 0; /* resent ones were handled before */
        for (size_t i = 0; off_duty && i < vb.b.n; i++)
            kept_out += vb.b.events[i].applied && vb.b.events[i].off_duty;
        atomic_fetch_add_explicit(&ing->n_off_duty, kept_out, memory_order_relaxed);
        atomic_fetch_add_explicit(&ing->n_alerts,
                                  json_array_size(json_object_get(*reply, "alerts")),
                                  memory_order_relaxed);
    }
out:
    wp_policy__now_release(&now); /* after the reply: the alerts borrowed its patterns */
    wp_ingest__batch_release(&vb);
    return err;
}

int wp_ingest_source_events(wp_ingest *ing, json_t **reply, const char *tenant_id,
                            const char *employee_id, const char *source, const json_t *events)
{
    wp_ingest_batch vb;
    wp_policy_now pol = {0};
    wp_store *st = NULL;
    char device_id[WP_ID_LEN + 1];
    json_t *body = NULL, *list = NULL;
    int64_t now = wp_time_now_us();
    int err;

    memset(&vb, 0, sizeof vb);
    if (!json_is_array(events))
        return wp_error_set(WP_EINVAL, "events is not an array");
    /* seqs 1..n pass the validator's order check; the store gives the real ones */
    if (!(list = json_deep_copy(events)) || !(body = json_pack("{s:o}", "events", list))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    size_t i;
    json_t *ev;
    json_array_foreach(list, i, ev)
    {
        if (json_is_object(ev) &&
            json_object_set_new(ev, "seq", json_integer((json_int_t)i + 1)) < 0) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
    }
    if ((err = wp_ingest__validate(&vb, body, NULL)) < 0)
        goto out;
    if ((err = wp_store_connpool_acquire(ing->pool, &st)) < 0)
        goto out;
    if ((err = wp_store_device_source(st, device_id, tenant_id, employee_id, source, now)) == 0)
        err = wp_policy__current(ing, st, &pol, tenant_id, employee_id, NULL);
    wp_store_connpool_release(ing->pool, st);
    if (err < 0 || (err = wp_ingest__alerts(&vb, pol.scanner, pol.chain.row.money_alert_fen)) < 0)
        goto out;
    vb.b.tenant_id = tenant_id;
    vb.b.device_id = device_id;
    vb.b.employee_id = employee_id;
    vb.b.now_us = now;
    vb.b.assign_seq = 1;
    if ((err = wp_writer__submit(ing->writer, &vb.b, batch_bytes(&vb))) < 0)
        goto out;
    if (vb.b.refused) {
        err = wp_usage_refuse(&vb.b.refusal);
        goto out;
    }
    regrade(ing, &vb.b);
    if ((err = events_reply(reply, &vb)) == 0) {
        atomic_fetch_add_explicit(&ing->n_events, vb.b.n, memory_order_relaxed);
        atomic_fetch_add_explicit(&ing->n_alerts,
                                  json_array_size(json_object_get(*reply, "alerts")),
                                  memory_order_relaxed);
    }
out:
    wp_policy__now_release(&pol);
    wp_ingest__batch_release(&vb);
    json_decref(body);
    return err;
}

/* --- check, policy, lexicon, settings ------------------------------------------------------------
 */

static int current(wp_ingest *ing, wp_policy_now *now, const char *tenant_id,
                   const char *employee_id, const char *org_unit_id)
{
    wp_store *st = NULL;
    int err = wp_store_connpool_acquire(ing->pool, &st);
    if (err < 0) {
        memset(now, 0, sizeof *now);
        return err;
    }
    err = wp_policy__current(ing, st, now, tenant_id, employee_id, org_unit_id);
    wp_store_connpool_release(ing->pool, st);
    return err;
}

int wp_ingest_check(wp_ingest *ing, json_t **reply, const char *tenant_id,
                    const char *employee_id, const char *org_unit_id, const json_t *body)
{
    wp_policy_now now = {0};
    wp_scan_result r;
    wp_buf masked;
    json_t *out = NULL;
    int err;

    wp_scan_result_init(&r);
    wp_buf_init(&masked, 4 * WP_ARCHIVE_TEXT_MAX);
    if (!json_is_object(body)) {
        err = wp_error_set(WP_EINVAL, "body is not a json object");
        goto out;
    }
    json_t *t = json_object_get(body, "text");
    json_t *ch = json_object_get(body, "channel");
    if (!json_is_string(t)) {
        err = wp_error_set(WP_EINVAL, "\"text\" is missing or not a string");
        goto out;
    }
    if (ch && !json_is_null(ch) && !json_is_string(ch)) {
        err = wp_error_set(WP_EINVAL, "\"channel\" is not a string");
        goto out;
    }
    const char *text = json_string_value(t);
    size_t len = json_string_length(t);
    if (len > WP_ARCHIVE_TEXT_MAX) {
        err = wp_error_set(WP_EINVAL, "\"text\" is longer than %d bytes", WP_ARCHIVE_TEXT_MAX);
        goto out;
    }
    if ((err = current(ing, &now, tenant_id, employee_id, org_unit_id)) < 0 ||
        (err = wp_scan_verdict(&out, now.scanner, &r, &masked, text, len)) < 0)
        goto out;
    *reply = out;
    err = 0;
out:
    wp_policy__now_release(&now);
    wp_scan_result_release(&r);
    wp_buf_release(&masked);
    return err;
}

/* The tenant's policy row, created with the default lexicon on first use. */
static int ensure_policy(wp_ingest *ing, wp_store *st, wp_policy_row *row, const char *tenant_id)
{
    int err = wp_store_policy_get(st, row, tenant_id);
    if (err != WP_ENOTFOUND)
        return err;
    if ((err = wp_store_policy_init(st, tenant_id, ing->default_lexicon,
                                    ing->default_lexicon_len)) < 0)
        return err;
    return wp_store_policy_get(st, row, tenant_id);
}

/* The approved reply templates (话术) the agent offers while typing: all of the tenant's, at
 * most WP_SCRIPTS_MAX, as policy["scripts"] = [{"id","category","title","text"}]. A change of
 * the library moves the policy version (wp_store_policy_touch), so agents fetch them again. */
static int add_scripts(wp_store *st, json_t *policy, const char *tenant_id)
{
    json_t *arr = json_array();
    wp_script_filter f = {.tenant_id = tenant_id, .limit = WP_PAGE_MAX};
    char cursor[WP_ARCHIVE_CURSOR_MAX] = "";
    int err = 0;

    if (!arr || json_object_set_new(policy, "scripts", arr) < 0)
        return wp_error_set(WP_ENOMEM, "out of memory");
    for (size_t total = 0; total < WP_SCRIPTS_MAX;) {
        wp_script_page pg;
        memset(&pg, 0, sizeof pg);
        f.cursor = cursor[0] ? cursor : NULL;
        if ((err = wp_store_scripts_list(st, &pg, &f)) < 0)
            return err;
        for (size_t i = 0; i < pg.n && err == 0; i++, total++) {
            const wp_script *sc = &pg.items[i];
            json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "id", sc->id, "category", sc->category,
                                  "title", sc->title, "text", sc->text ? sc->text : "");
            if (!o || json_array_append_new(arr, o) < 0)
                err = wp_error_set(WP_ENOMEM, "out of memory");
        }
        snprintf(cursor, sizeof cursor, "%s", pg.next_cursor);
        wp_script_page_release(&pg);
        if (err < 0 || !cursor[0])
            break;
    }
    return err;
}

/* {"days": [..], "from": "HH:MM", "to": "HH:MM"} as the console API writes it */
static json_t *jtime(int64_t us)
{
    char buf[40];
    wp_time_format(buf, us, 0);
    return json_string(buf);
}

static json_t *hours_json(const wp_workhours *h)
{
    char a[8], b[8];
    json_t *days = json_array();
    for (int d = 1; days && d <= 7; d++)
        if (h->days & (1u << (d - 1)) && json_array_append_new(days, json_integer(d)) < 0) {
            json_decref(days);
            return NULL;
        }
    snprintf(a, sizeof a, "%02d:%02d", h->from_min / 60 % 100, h->from_min % 60);
    snprintf(b, sizeof b, "%02d:%02d", h->to_min / 60 % 100, h->to_min % 60);
    return days ? json_pack("{s:o,s:s,s:s}", "days", days, "from", a, "to", b) : NULL;
}

json_t *wp_ingest_geofence_json(const wp_geofence *f)
{
    json_t *shape;
    if (f->polygon) {
        json_t *pts = json_array();
        for (size_t i = 0; pts && i < f->n; i++)
            if (json_array_append_new(pts, json_pack("[f,f]", (double)f->pts[i][0] / 1e7,
                                                     (double)f->pts[i][1] / 1e7)) < 0) {
                json_decref(pts);
                pts = NULL;
            }
        shape = pts ? json_pack("{s:s,s:o}", "type", "polygon", "points", pts) : NULL;
    } else {
        shape = json_pack("{s:s,s:[f,f],s:I}", "type", "circle", "center", (double)f->lon_e7 / 1e7,
                          (double)f->lat_e7 / 1e7, "radius_m", (json_int_t)f->radius_m);
    }
    return shape ? json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:o}", "id", f->id, "name", f->name,
                             "org_unit_id", f->org_unit_id, "shape", shape, "schedule",
                             f->has_schedule ? hours_json(&f->schedule) : json_null(),
                             "created_at", jtime(f->created_us), "updated_at",
                             jtime(f->updated_us))
                 : NULL;
}

/* The geofences binding the employee: their list (fences may be NULL) and "-g<16 hex>" for
 * the ETag (FNV-1a of their ids and update times; "" when none). */
static int policy_fences(wp_store *st, json_t **fences, char tag[24], const char *tenant_id,
                         const char *employee_id)
{
    wp_geofence *v = NULL;
    size_t n = 0;
    int err;
    tag[0] = '\0';
    if (fences && !(*fences = json_array()))
        return wp_error_set(WP_ENOMEM, "out of memory");
    if (!employee_id || !*employee_id)
        return 0;
    if ((err = wp_store_geofences_binding(st, &v, &n, tenant_id, employee_id)) < 0)
        return err;
    /* FNV-1a of what the phones get (a change within one microsecond moves it too) */
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n && err == 0; i++) {
        json_t *o = wp_ingest_geofence_json(&v[i]);
        char *text = o ? wp_json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        for (const char *p = text; p && *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        h = (h ^ ';') * 1099511628211ULL;
        if (!text)
            err = wp_error_set(WP_ENOMEM, "out of memory");
        free(text);
        if (err == 0 && fences && json_array_append_new(*fences, o) < 0)
            err = wp_error_set(WP_ENOMEM, "out of memory");
        else if (!fences || err < 0)
            json_decref(o);
    }
    if (n)
        snprintf(tag, 24, "-g%016llx", (unsigned long long)h);
    wp_geofences_free(v, n);
    return err;
}

/* The employee's working hours and the tenant's zone, which the agent needs offline (off-duty
 * locations under "drop", fences whose schedule is the working hours): into settings when it
 * is non-NULL, and "-h<16 hex>" for the ETag (FNV-1a of the two) when either is not the
 * default, so that an ETag of a tenant that set neither stays what it was. */
static int policy_hours(wp_store *st, json_t *settings, char tag[24], const char *tenant_id,
                        const char *employee_id)
{
    wp_workcal *cal = NULL;
    const wp_workhours *h = NULL;
    int err;
    tag[0] = '\0';
    if ((err = wp_workcal_load_employee(&cal, &h, st, tenant_id, employee_id)) < 0)
        return err;
    const char *zone = wp_workcal_zone(cal);
    json_t *hj = hours_json(h);
    if (!hj) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    if (h->days != WP_WORKHOURS_DAYS_DEFAULT || h->from_min != WP_WORKHOURS_FROM_DEFAULT ||
        h->to_min != WP_WORKHOURS_TO_DEFAULT || strcmp(zone, WP_WORKHOURS_ZONE_DEFAULT) != 0) {
        char *text = wp_json_dumps(hj, JSON_COMPACT | JSON_SORT_KEYS);
        uint64_t x = 14695981039346656037ULL;
        for (const char *p = zone; *p; p++)
            x = (x ^ (unsigned char)*p) * 1099511628211ULL;
        x = (x ^ ';') * 1099511628211ULL;
        for (const char *p = text; p && *p; p++)
            x = (x ^ (unsigned char)*p) * 1099511628211ULL;
        if (!text)
            err = wp_error_set(WP_ENOMEM, "out of memory");
        free(text);
        snprintf(tag, 24, "-h%016llx", (unsigned long long)x);
    }
    if (err == 0 && settings &&
        (json_object_set_new(settings, "time_zone", json_string(zone)) < 0 ||
         json_object_set(settings, "working_hours", hj) < 0))
        err = wp_error_set(WP_ENOMEM, "out of memory");
out:
    json_decref(hj);
    wp_workcal_free(cal);
    return err;
}

/* What the employee is told (issue 20): "notice" {text, version}, and the automatic first
 * message the agent proposes to customers in settings.auto_message (null: none). A change of
 * either moves the policy version (wp_store_notice_put), so the ETag moves with it. */
static int add_notice(wp_store *st, json_t *p, const char *tenant_id)
{
    wp_notice n;
    int err;
    if ((err = wp_store_notice_get(st, &n, tenant_id)) < 0)
        return err;
    if (json_object_set_new(p, "notice", json_pack("{s:s,s:I}", "text", n.text, "version",
                                                   (json_int_t)n.version)) < 0 ||
        json_object_set_new(json_object_get(p, "settings"), "auto_message",
                            n.auto_message ? json_string(n.auto_message) : json_null()) < 0)
        err = wp_error_set(WP_ENOMEM, "out of memory");
    wp_notice_release(&n);
    return err;
}

int wp_ingest_policy(wp_ingest *ing, int64_t *version, char etag[WP_INGEST_ETAG_MAX],
                     json_t **policy, const char *tenant_id, const char *employee_id)
{
    char htag[24] = "";
    wp_store *st = NULL;
    wp_policy_now now = {0};
    json_t *fences = NULL;
    char tag[24] = "";
    int err;

    if ((err = wp_store_connpool_acquire(ing->pool, &st)) < 0)
        return err;
    if (!policy) { /* the version only: one statement, and one for the geofences */
        if ((err = wp_policy__chain(ing, st, &now.chain, tenant_id, employee_id, NULL)) == 0 &&
            (err = policy_fences(st, NULL, tag, tenant_id, employee_id)) == 0)
            err = policy_hours(st, NULL, htag, tenant_id, employee_id);
        goto out;
    }
    if ((err = policy_fences(st, &fences, tag, tenant_id, employee_id)) < 0)
        goto out;
    /* The text comes from the cache, at least as new as the chain read: a put in between
     * gives a newer text under the older version, which the phone fetches again next time. */
    if ((err = wp_policy__current(ing, st, &now, tenant_id, employee_id, NULL)) < 0)
        goto out;
    json_t *p = json_pack("{s:I,s:s%,s:o,s:{s:I}}", "version", (json_int_t)now.chain.version,
                          "lexicon", now.text->text, now.text->len, "geofences", fences,
                          "settings",
                          "money_alert_fen", (json_int_t)now.chain.row.money_alert_fen);
    fences = NULL; /* p holds it, or it was freed with p's failure */
    if (p && json_object_set_new(json_object_get(p, "settings"), "locations_off_duty",
                                 json_string(now.chain.row.locations_keep ? "keep" : "drop")) < 0) {
        json_decref(p);
        p = NULL;
    }
    if (!p) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    if ((err = policy_hours(st, json_object_get(p, "settings"), htag, tenant_id, employee_id)) < 0 ||
        (err = add_scripts(st, p, tenant_id)) < 0 || (err = add_notice(st, p, tenant_id)) < 0) {
        json_decref(p);
        goto out;
    }
    *policy = p;
out:
    if (err == 0) {
        *version = now.chain.version;
        if (etag) {
            wp_policy__etag(etag, &now.chain);
            size_t l = strlen(etag);
            if ((tag[0] || htag[0]) && l >= 2) /* inside the quotes */
                snprintf(etag + l - 1, WP_INGEST_ETAG_MAX - (l - 1), "%s%s\"", tag, htag);
        }
    } else {
        json_decref(fences);
    }
    wp_policy__now_release(&now);
    wp_store_connpool_release(ing->pool, st);
    return err;
}

int wp_ingest_lexicon_get(wp_ingest *ing, int64_t *version, char **text, size_t *len,
                          const char *tenant_id)
{
    wp_store *st = NULL;
    wp_policy_row row;
    int err;
    if ((err = wp_store_connpool_acquire(ing->pool, &st)) < 0)
        return err;
    if ((err = ensure_policy(ing, st, &row, tenant_id)) == 0)
        err = wp_store_lexicon_get(st, version, text, len, tenant_id);
    wp_store_connpool_release(ing->pool, st);
    return err;
}

int wp_ingest_lexicon_put(wp_ingest *ing, wp_store *tx, int64_t *version, const char *tenant_id,
                          const char *text, size_t len)
{
    wp_scanner *s = NULL;
    wp_store *st = tx;
    int64_t v = 0;
    int err;

    if (len > WP_INGEST_LEXICON_MAX)
        return wp_error_set(WP_ELIMIT, "lexicon is larger than %u bytes", WP_INGEST_LEXICON_MAX);
    if (!wp_utf8_valid(text, len))
        return wp_error_set(WP_EINVAL, "lexicon is not valid utf-8 (or contains a nul byte)");
    wp_scan_options opts = WP_SCAN_OPTIONS_INIT;
    opts.source_name = "lexicon";
    if ((err = wp_scan_compile(&s, text, len, &opts)) < 0)
        return err;
    if (!tx && (err = wp_store_connpool_acquire(ing->pool, &st)) < 0)
        goto out;
    err = wp_store_lexicon_put(st, &v, tenant_id, text, len);
    if (!tx)
        wp_store_connpool_release(ing->pool, st);
    if (err < 0)
        goto out;
    /* live at once on this node; other nodes see the version move on their next request. In
     * a caller's transaction, which may still roll back, nothing is installed: the next
     * request of the tenant sees the committed version move and loads it. */
    if (!tx && (err = wp_policy__install(ing, tenant_id, s, text, len, v)) < 0)
        goto out;
    *version = v;
out:
    wp_scanner_unref(s);
    return err;
}

int wp_ingest_unit_lexicon_get(wp_ingest *ing, int64_t *version, char **text, size_t *len,
                               const char *tenant_id, const char *org_unit_id)
{
    wp_store *st = NULL;
    int err;
    if ((err = wp_store_connpool_acquire(ing->pool, &st)) < 0)
        return err;
    err = wp_store_unit_lexicon_get(st, version, text, len, tenant_id, org_unit_id);
    wp_store_connpool_release(ing->pool, st);
    if (err == WP_ENOTFOUND) { /* none of its own (the caller has checked that it exists) */
        wp_error_clear();
        if (!(*text = strdup("")))
            return wp_error_set(WP_ENOMEM, "out of memory");
        *version = 0;
        *len = 0;
        err = 0;
    }
    return err;
}

/* The union of the unit's chain with draft as its own lexicon; on st. */
static int unit_union(wp_ingest *ing, wp_store *st, wp_buf *out, wp_scan_union_report *rep,
                      char etag[WP_INGEST_ETAG_MAX], const char *tenant_id,
                      const char *org_unit_id, const char *draft, size_t draft_len)
{
    wp_policy_chain c;
    int err;
    if ((err = wp_policy__chain(ing, st, &c, tenant_id, NULL, org_unit_id)) < 0)
        return err;
    if (etag)
        wp_policy__etag(etag, &c);
    return wp_policy__union(st, out, rep, NULL, tenant_id, &c, draft ? org_unit_id : NULL, draft,
                            draft_len);
}

int wp_ingest_unit_lexicon_put(wp_ingest *ing, wp_store *tx, int64_t *version,
                               wp_scan_union_report *rep, const char *tenant_id,
                               const char *org_unit_id, const char *text, size_t len)
{
    wp_scanner *s = NULL, *u = NULL;
    wp_store *st = tx;
    wp_buf b;
    int64_t v = 0;
    int err;

    if (len > WP_INGEST_UNIT_LEXICON_MAX)
        return wp_error_set(WP_ELIMIT, "an org unit's lexicon is larger than %u bytes",
                            WP_INGEST_UNIT_LEXICON_MAX);
    if (!wp_utf8_valid(text, len))
        return wp_error_set(WP_EINVAL, "lexicon is not valid utf-8 (or contains a nul byte)");
    wp_scan_options opts = WP_SCAN_OPTIONS_INIT;
    opts.source_name = "lexicon";
    if ((err = wp_scan_compile(&s, text, len, &opts)) < 0)
        return err;
    wp_buf_init(&b, WP_SCAN_MAX_LEXICON_BYTES);
    if (!tx && (err = wp_store_connpool_acquire(ing->pool, &st)) < 0)
        goto out;
    /* what the unit's phones will get must compile too (the engine's limits) */
    opts.source_name = "lexicon union";
    if ((err = unit_union(ing, st, &b, rep, NULL, tenant_id, org_unit_id, text, len)) == 0 &&
        (err = wp_scan_compile(&u, b.buf, b.len, &opts)) == 0)
        err = wp_store_unit_lexicon_put(st, &v, tenant_id, org_unit_id, text, len,
                                        (int64_t)wp_scanner_pattern_count(s));
    if (!tx)
        wp_store_connpool_release(ing->pool, st);
    if (err == 0)
        *version = v;
out:
    wp_buf_release(&b);
    wp_scanner_unref(s);
    wp_scanner_unref(u);
    return err;
}

int wp_ingest_unit_lexicon_union(wp_ingest *ing, wp_buf *out, wp_scan_union_report *rep,
                                 char etag[WP_INGEST_ETAG_MAX], const char *tenant_id,
                                 const char *org_unit_id, const char *draft, size_t draft_len)
{
    wp_store *st = NULL;
    int err;
    if ((err = wp_store_connpool_acquire(ing->pool, &st)) < 0)
        return err;
    err = unit_union(ing, st, out, rep, etag, tenant_id, org_unit_id, draft, draft_len);
    wp_store_connpool_release(ing->pool, st);
    return err;
}

int wp_ingest_unit_lexicons_list(wp_ingest *ing, wp_unit_lexicon_info **out, size_t *n,
                                 const char *tenant_id)
{
    wp_store *st = NULL;
    int err;
    if ((err = wp_store_connpool_acquire(ing->pool, &st)) < 0)
        return err;
    err = wp_store_unit_lexicons_list(st, out, n, tenant_id);
    wp_store_connpool_release(ing->pool, st);
    return err;
}

int wp_ingest_money_alert_set(wp_ingest *ing, wp_store *tx, int64_t *version,
                              const char *tenant_id, int64_t fen)
{
    wp_store *st = tx;
    wp_policy_row row;
    int err;
    if (fen < 0)
        return wp_error_set(WP_EINVAL, "money_alert_fen must be 0 or more");
    if (!tx && (err = wp_store_connpool_acquire(ing->pool, &st)) < 0)
        return err;
    if ((err = ensure_policy(ing, st, &row, tenant_id)) == 0)
        err = wp_store_policy_set_money_alert(st, version, tenant_id, fen);
    if (!tx)
        wp_store_connpool_release(ing->pool, st);
    return err;
}

int wp_ingest_settings_get(wp_ingest *ing, wp_store *st, int64_t *version, json_t **settings,
                           const char *tenant_id)
{
    wp_policy_row row;
    int err;
    if ((err = ensure_policy(ing, st, &row, tenant_id)) < 0)
        return err;
    json_t *o = json_pack("{s:I,s:s}", "money_alert_fen", (json_int_t)row.money_alert_fen,
                          "locations_off_duty", row.locations_keep ? "keep" : "drop");
    if (!o)
        return wp_error_set(WP_ENOMEM, "out of memory");
    *version = row.version;
    *settings = o;
    return 0;
}

int wp_ingest_locations_off_duty_set(wp_ingest *ing, wp_store *tx, int64_t *version,
                                     const char *tenant_id, int keep)
{
    wp_store *st = tx;
    wp_policy_row row;
    int err;
    if (!tx && (err = wp_store_connpool_acquire(ing->pool, &st)) < 0)
        return err;
    if ((err = ensure_policy(ing, st, &row, tenant_id)) == 0)
        err = wp_store_policy_set_locations_off_duty(st, version, tenant_id, keep);
    if (!tx)
        wp_store_connpool_release(ing->pool, st);
    return err;
}

int wp_ingest_writer_running(wp_ingest *ing)
{
    return ing && ing->writer && wp_writer__running(ing->writer);
}

void wp_ingest_stats_get(wp_ingest *ing, wp_ingest_stats *out)
{
    memset(out, 0, sizeof *out);
    out->events = atomic_load_explicit(&ing->n_events, memory_order_relaxed);
    out->rejected = atomic_load_explicit(&ing->n_rejected, memory_order_relaxed);
    out->off_duty_dropped = atomic_load_explicit(&ing->n_off_duty, memory_order_relaxed);
    out->alerts = atomic_load_explicit(&ing->n_alerts, memory_order_relaxed);
    wp_writer__stats_fill(ing->writer, out);
}

const char *wp_ingest_media_dir(const wp_ingest *ing)
{
    return ing->media_dir;
}
