/* SPDX-License-Identifier: MIT */
/* The webhooks task: the outbox's alerts and handovers made into frozen events (as an admin
 * key and as a manager would see them) and queued to the webhooks they match; then the queue
 * sent (send.c); the test event. */
#include "webhooks/webhooks.h"
#include "webhooks/webhooks_int.h"
#include "scan/view.h"
#include "store/access.h"
#include "store/customers.h"
#include "store/handovers.h"
#include "store/org.h"
#include "store/people.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "util/json.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

int wp_webhooks_new(wp_webhooks **out, const wp_webhooks_options *o)
{
    static const wp_webhooks_options none = WP_WEBHOOKS_OPTIONS_INIT;
    wp_webhooks *w;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return wp_error_set(WP_EIO, "cannot start libcurl");
    if (!(w = calloc(1, sizeof *w))) {
        curl_global_cleanup();
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    w->o = o ? *o : none;
    if (!w->o.parallel)
        w->o.parallel = 8;
    if (!w->o.timeout_ms)
        w->o.timeout_ms = 10000;
    if (!w->o.batch)
        w->o.batch = 64;
    *out = w;
    return 0;
}

void wp_webhooks_free(wp_webhooks *w)
{
    if (w) {
        free(w);
        curl_global_cleanup();
    }
}

int64_t wp_webhooks_backoff_s(int64_t n)
{
    int64_t d = WP_WEBHOOKS_BACKOFF_FIRST_S;
    for (int64_t i = 1; i < n && d < WP_WEBHOOKS_BACKOFF_MAX_S; i++)
        d *= 2;
    return d < WP_WEBHOOKS_BACKOFF_MAX_S ? d : WP_WEBHOOKS_BACKOFF_MAX_S;
}

/* --- an event's data ---------------------------------------------------------------------- */

static json_t *jstr(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static json_t *jtime(int64_t us)
{
    char t[40];
    wp_time_format(t, us, 0);
    return json_string(t);
}

/* {"id", "name", "org_unit_id", "org_unit"} of an employee; *path its unit's path. */
static int person(wp_store *st, json_t **out, char path[1024], const char *tenant_id,
                  const char *employee_id)
{
    wp_employee e;
    wp_org_unit u;
    int err;
    *out = NULL;
    if (path)
        path[0] = '\0';
    if ((err = wp_store_employee_get(st, &e, tenant_id, employee_id)) < 0)
        return err == WP_ENOTFOUND ? 0 : err;
    if ((err = wp_store_org_unit_get(st, &u, tenant_id, e.org_unit_id)) < 0) {
        if (err != WP_ENOTFOUND)
            return err;
        memset(&u, 0, sizeof u);
    }
    if (path)
        memcpy(path, u.path, sizeof u.path);
    *out = json_pack("{s:s,s:o,s:o,s:o}", "id", e.id, "name", jstr(e.name), "org_unit_id",
                     jstr(e.org_unit_id), "org_unit", jstr(u.name));
    return *out ? 0 : wp_error_set(WP_ENOMEM, "out of memory");
}

static int alert_data(wp_store *st, struct wp_webhooks_fact *f, const char *tenant_id,
                      const char *id)
{
    wp_webhook_alert wa;
    json_t *emp = NULL, *other = NULL, *cust = NULL;
    int err;

    if ((err = wp_store_webhook_alert(st, &wa, tenant_id, id)) < 0)
        return err;
    const wp_alert *a = &wa.a;
    if ((err = person(st, &emp, f->path, tenant_id, a->employee_id)) < 0 ||
        (a->other_employee_id[0] &&
         (err = person(st, &other, NULL, tenant_id, a->other_employee_id)) < 0))
        goto out;
    if (a->customer_id[0]) {
        wp_customer c;
        if ((err = wp_store_customer_get(st, &c, tenant_id, a->customer_id)) == 0)
            cust = json_pack("{s:s,s:o,s:o}", "id", c.id, "name", jstr(c.name), "phone",
                             jstr(c.phone));
        else if (err != WP_ENOTFOUND)
            goto out;
        err = 0;
    }
    char path[WP_ID_LEN + 32];
    if (a->customer_id[0])
        snprintf(path, sizeof path, "/customers/%s", a->customer_id);
    else
        snprintf(path, sizeof path, "/alerts");
    json_t *alert = json_pack("{s:s,s:o,s:s,s:o,s:o,s:o,s:o,s:s,s:o,s:o}", "id", a->id, "ts",
                              jtime(a->ts_us), "kind", a->kind, "category", jstr(a->category),
                              "pattern", jstr(a->pattern), "action", jstr(a->action), "matched",
                              jstr(a->matched), "status", wp_alert_status_name(a->status),
                              "message_id", jstr(a->message_id), "customer_id",
                              jstr(a->customer_id));
    f->data = json_pack("{s:o,s:o,s:o,s:s}", "alert", alert, "employee", emp ? emp : json_null(),
                        "customer", cust ? cust : json_null(), "console_path", path);
    emp = cust = NULL;
    if (f->data && other) {
        json_object_set_new(f->data, "other_employee", other);
        other = NULL;
    }
    if (!f->data) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(f->kind, sizeof f->kind, "%s", a->kind);
    snprintf(f->employee_id, sizeof f->employee_id, "%s", a->employee_id);
    f->ts_us = a->ts_us;
    f->events[f->n_events++] = "alert.raised";
    if (!strcmp(a->kind, "customer_deleted"))
        f->events[f->n_events++] = "customer.deleted";
    else if (!strcmp(a->kind, "customer_blocked"))
        f->events[f->n_events++] = "customer.blocked";
    else if (!strcmp(a->kind, "customer_collision"))
        f->events[f->n_events++] = "customer.collision";
out:
    json_decref(emp);
    json_decref(other);
    json_decref(cust);
    wp_webhook_alert_release(&wa);
    return err;
}

static int handover_data(wp_store *st, struct wp_webhooks_fact *f, const char *tenant_id,
                         const char *id)
{
    wp_handover h;
    json_t *emp = NULL, *to = NULL, *ids = NULL;
    json_error_t je;
    int err;

    if ((err = wp_store_handover_get(st, &h, tenant_id, id)) < 0)
        return err;
    if ((err = person(st, &emp, f->path, tenant_id, h.from_employee_id)) < 0)
        return err;
    if (!(to = json_array()) || !(ids = json_loads(h.to_employees, 0, &je))) {
        err = wp_error_set(WP_ENOMEM, "handover '%s': cannot read its successors", id);
        goto out;
    }
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        json_t *p = NULL;
        if (!json_is_string(v))
            continue;
        if ((err = person(st, &p, NULL, tenant_id, json_string_value(v))) < 0)
            goto out;
        if (p && json_array_append_new(to, p) < 0) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
    }
    f->data = json_pack("{s:{s:s,s:s,s:I,s:o},s:o,s:O,s:s}", "handover", "id", h.id, "reason",
                        h.departure ? "departure" : "transfer", "customers_moved",
                        (json_int_t)h.customers_moved, "created_at", jtime(h.created_us),
                        "employee", emp ? emp : json_null(), "to_employees", to, "console_path",
                        "/employees");
    emp = NULL;
    if (!f->data) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(f->employee_id, sizeof f->employee_id, "%s", h.from_employee_id);
    f->ts_us = h.created_us;
    f->events[f->n_events++] = "handover.completed";
out:
    json_decref(emp);
    json_decref(to);
    json_decref(ids);
    return err;
}

/* --- routing --------------------------------------------------------------------------------- */

static int list_has(const char *json_list, const char *word)
{
    json_error_t je;
    json_t *l = json_loads(json_list, 0, &je), *v;
    size_t i;
    int found = 0;
    json_array_foreach(l, i, v) found |= json_is_string(v) && !strcmp(json_string_value(v), word);
    json_decref(l);
    return found;
}

int wp_webhooks__routes(const wp_webhook *hook, const char *event, const char *alert_kind,
                        const char *employee_path)
{
    if (!hook->active || !list_has(hook->events, event))
        return 0;
    if (!strcmp(event, "alert.raised") && alert_kind && hook->alert_kinds[0] &&
        !list_has(hook->alert_kinds, alert_kind))
        return 0;
    if (!wp_webhooks_may_carry(hook, alert_kind))
        return 0;
    if (hook->org_unit_id[0]) { /* a unit's webhook: events about employees of its subtree */
        size_t n = strlen(hook->org_unit_path);
        if (!n || !employee_path || strncmp(employee_path, hook->org_unit_path, n) != 0)
            return 0;
    }
    return 1;
}

/* --- views ----------------------------------------------------------------------------------- */

/* data as a reader of role sees it: a copy, masked unless the role's view_pii is on. */
static int view_as(json_t **out, wp_store *st, const wp_scanner *s, const char *tenant_id,
                   enum wp_role role, const json_t *data)
{
    wp_role_setting rs;
    int err;
    *out = NULL;
    if ((err = wp_store_role_setting_get(st, &rs, tenant_id, role)) < 0)
        return err;
    if (!(*out = json_deep_copy(data)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    if (!rs.view_pii && (err = wp_scan_view_json(s, *out)) < 0) {
        json_decref(*out);
        *out = NULL;
    }
    return err;
}

static char *payload_of(const char *id, const char *event, int64_t ts_us, const char *tenant_id,
                        json_t *data)
{
    json_t *p = json_pack("{s:s,s:s,s:o,s:s,s:O}", "id", id, "event", event, "ts", jtime(ts_us),
                          "tenant", tenant_id, "data", data);
    char *s = p ? wp_json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    return s;
}

/* --- the outbox, one row a transaction ------------------------------------------------------ */

static int fan_out_row(wp_webhooks *w, wp_store *st, const wp_webhook_outbox_row *r,
                       int64_t now_us, int64_t *made_events, int64_t *made_deliveries)
{
    struct wp_webhooks_fact f;
    wp_webhook *hooks = NULL;
    wp_scanner *scanner = NULL;
    json_t *admin = NULL, *manager = NULL;
    size_t n_hooks = 0;
    int err, taken = 0;

    memset(&f, 0, sizeof f);
    if ((err = wp_store_begin(st)) < 0)
        return err;
    /* taken first: a row two runs (two nodes) read is made into events once */
    if ((err = wp_store_webhook_outbox_take(st, &taken, r->seq)) < 0 || !taken)
        goto out;
    if (!strcmp(r->source, "alert"))
        err = alert_data(st, &f, r->tenant_id, r->subject_id);
    else
        err = handover_data(st, &f, r->tenant_id, r->subject_id);
    if (err == WP_ENOTFOUND) { /* gone since (a merge moved nothing away; a tenant wiped) */
        err = 0;
        goto out;
    }
    if (err < 0 || (err = wp_store_webhooks_list(st, &hooks, &n_hooks, r->tenant_id, 1)) < 0)
        goto out;
    if (w->o.scanner && (err = w->o.scanner(w->o.scanner_arg, st, r->tenant_id, &scanner)) < 0)
        goto out;
    const wp_scanner *s = scanner ? scanner : wp_scan_view_pii();
    if ((err = view_as(&admin, st, s, r->tenant_id, WP_ROLE_ADMIN, f.data)) < 0 ||
        (err = view_as(&manager, st, s, r->tenant_id, WP_ROLE_MANAGER, f.data)) < 0)
        goto out;
    const char *kind = f.kind[0] ? f.kind : NULL;
    for (size_t e = 0; e < f.n_events && err == 0; e++) {
        size_t matched = 0;
        for (size_t i = 0; i < n_hooks; i++)
            matched += wp_webhooks__routes(&hooks[i], f.events[e], kind, f.path);
        if (!matched)
            continue;
        char id[WP_ID_LEN + 1], did[WP_ID_LEN + 1];
        wp_id_new(id);
        char *payload = payload_of(id, f.events[e], f.ts_us, r->tenant_id, admin);
        char *view = wp_json_dumps(manager, JSON_COMPACT);
        int made = 0;
        wp_webhook_event ev = {.tenant_id = r->tenant_id, .id = id, .event = f.events[e],
                               .subject_id = r->subject_id, .alert_kind = kind,
                               .employee_id = f.employee_id[0] ? f.employee_id : NULL,
                               .ts_us = f.ts_us, .payload = payload, .view = view};
        if (!payload || !view)
            err = wp_error_set(WP_ENOMEM, "out of memory");
        else
            err = wp_store_webhook_event_add(st, &made, &ev, now_us);
        free(payload);
        free(view);
        if (err < 0 || !made)
            continue; /* made before: its deliveries were queued then */
        (*made_events)++;
        for (size_t i = 0; i < n_hooks && err == 0; i++)
            if (wp_webhooks__routes(&hooks[i], f.events[e], kind, f.path) &&
                (err = wp_store_webhook_delivery_add(st, did, r->tenant_id, hooks[i].id, id,
                                                     now_us)) == 0)
                (*made_deliveries)++;
    }
out:
    if (err == 0)
        err = wp_store_commit(st);
    if (err < 0)
        wp_store_rollback(st);
    wp_scanner_unref(scanner);
    json_decref(f.data);
    json_decref(admin);
    json_decref(manager);
    free(hooks);
    return err;
}

#define OUTBOX_BATCH 100
#define OUTBOX_ROUNDS 10

static int fan_out(wp_webhooks *w, wp_store *st, int64_t now_us, int64_t *events,
                   int64_t *deliveries)
{
    wp_webhook_outbox_row rows[OUTBOX_BATCH];
    size_t n;
    int err = 0;
    for (int round = 0; round < OUTBOX_ROUNDS; round++) {
        if ((err = wp_store_webhook_outbox_next(st, rows, OUTBOX_BATCH, &n)) < 0 || !n)
            return err;
        for (size_t i = 0; i < n; i++)
            if ((err = fan_out_row(w, st, &rows[i], now_us, events, deliveries)) < 0)
                return err; /* the row stays: the next run tries again */
        if (n < OUTBOX_BATCH)
            return 0;
    }
    return 0;
}

int wp_webhooks_run(wp_store *st, void *arg, int64_t now_us, wp_buf *note)
{
    wp_webhooks *w = arg;
    struct wp_webhooks_sent sent = {0};
    int64_t events = 0, deliveries = 0, pruned = 0;
    int err = fan_out(w, st, now_us, &events, &deliveries);
    int err2 = wp_webhooks__send(w, st, &sent);
    if (now_us - w->pruned_us >= INT64_C(3600) * 1000000) {
        if (wp_store_webhooks_prune(st, &pruned, now_us - (int64_t)WP_WEBHOOKS_KEEP_S * 1000000) ==
            0)
            w->pruned_us = now_us;
    }
    if (events || sent.sent || sent.failed || sent.dead || pruned) {
        wp_log_addf(note, "events", "%lld", (long long)events);
        wp_log_addf(note, "deliveries", "%lld", (long long)deliveries);
        wp_log_addf(note, "sent", "%lld", (long long)sent.sent);
        wp_log_addf(note, "failed", "%lld", (long long)sent.failed);
        wp_log_addf(note, "dead", "%lld", (long long)sent.dead);
        if (pruned)
            wp_log_addf(note, "pruned", "%lld", (long long)pruned);
    }
    return err < 0 ? err : err2;
}

int wp_webhooks_test_event(wp_store *st, char event_id[WP_ID_LEN + 1],
                           char delivery_id[WP_ID_LEN + 1], const char *tenant_id,
                           const wp_webhook *hook, int64_t now_us)
{
    json_t *data = json_pack("{s:s,s:s,s:s}", "webhook_id", hook->id, "message",
                             "这是一条测试消息：Webhook 配置正确。", "console_path", "/webhooks");
    char *payload = NULL, *view = NULL;
    int made = 0, err;

    wp_id_new(event_id);
    if (!data || !(payload = payload_of(event_id, "webhook.test", now_us, tenant_id, data)) ||
        !(view = wp_json_dumps(data, JSON_COMPACT))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    wp_webhook_event ev = {.tenant_id = tenant_id, .id = event_id, .event = "webhook.test",
                           .subject_id = event_id, .ts_us = now_us, .payload = payload,
                           .view = view};
    if ((err = wp_store_webhook_event_add(st, &made, &ev, now_us)) == 0)
        err = wp_store_webhook_delivery_add(st, delivery_id, tenant_id, hook->id, event_id,
                                            now_us);
out:
    json_decref(data);
    free(payload);
    free(view);
    return err;
}
