/* SPDX-License-Identifier: MIT */
/* Insider alerts (migration 0016): too many unmaskings or exports by one person, counted from
 * the audit log, raise one alert for the admins. */
#include "store/audit.h"
#include "store/db.h"
#include "store/insider.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/id.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* The counts read the rows of the partial index audit_log_insider: its WHERE is repeated
 * word for word in each query, which is what SQLite needs to use it. */
#define INSIDER_ACTIONS                                                                            \
    "action IN ('customer.unmask', 'message.unmask', 'handover.export', 'media.download',"         \
    " 'customers.export', 'alerts.export', 'messages.export', 'timeline.export',"                 \
    " 'audit.export', 'attendance.export')"

/* What one kind counts, over what window, with which threshold. */
struct rule {
    const char *kind;      /* the alert's kind */
    const char *count_sql; /* counts an actor's actions since a time */
    const char *what;      /* in the alert's text */
    int64_t window_s;
};

#define COUNT_SQL                                                                                  \
    "SELECT count(*) FROM audit_log WHERE tenant_id = ? AND actor = ? AND " INSIDER_ACTIONS        \
    " AND ts_us > ? AND "

static const struct rule unmask_rule = {"mass_unmask",
                                        COUNT_SQL "action IN ('customer.unmask', 'message.unmask')",
                                        "unmaskings", WP_INSIDER_UNMASK_WINDOW_S};
static const struct rule export_rule = {"mass_export",
                                        COUNT_SQL "action IN ('handover.export', 'media.download',"
                                        " 'customers.export', 'alerts.export', 'messages.export',"
                                        " 'timeline.export', 'audit.export', 'attendance.export')",
                                        "exports", WP_INSIDER_EXPORT_WINDOW_S};

static const struct rule *rule_of(const char *action)
{
    if (!strcmp(action, "customer.unmask") || !strcmp(action, "message.unmask"))
        return &unmask_rule;
    static const char *const exports[] = {"handover.export", "media.download",
                                          "customers.export", "alerts.export",
                                          "messages.export",  "timeline.export",
                                          "audit.export",     "attendance.export",
                                          NULL};
    for (const char *const *e = exports; *e; e++)
        if (!strcmp(action, *e))
            return &export_rule;
    return NULL;
}

int wp_alert_kind_is_insider(const char *kind)
{
    return kind && (!strcmp(kind, unmask_rule.kind) || !strcmp(kind, export_rule.kind));
}

int wp_store_insider_settings_get(wp_store *st, wp_insider_settings *out, const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    wp_insider_settings v = {WP_INSIDER_UNMASK_PER_HOUR_DEFAULT, WP_INSIDER_EXPORT_PER_DAY_DEFAULT,
                             0};
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT unmask_per_hour, export_per_day, updated_us"
                             " FROM insider_settings WHERE tenant_id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        v.unmask_per_hour = wp_db_col_int64(s, 0);
        v.export_per_day = wp_db_col_int64(s, 1);
        v.updated_us = wp_db_col_int64(s, 2);
    }
    wp_db_done(s);
    if (err < 0)
        return err;
    *out = v;
    return 0;
}

int wp_store_insider_settings_put(wp_store *st, const char *tenant_id, const wp_insider_settings *v)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if (v->unmask_per_hour < 0 || v->unmask_per_hour > WP_INSIDER_MAX)
        return wp_error_set(WP_EINVAL, "'insider_unmask_per_hour' must be 0-%d", WP_INSIDER_MAX);
    if (v->export_per_day < 0 || v->export_per_day > WP_INSIDER_MAX)
        return wp_error_set(WP_EINVAL, "'insider_export_per_day' must be 0-%d", WP_INSIDER_MAX);
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO insider_settings (tenant_id, unmask_per_hour,"
                             " export_per_day, updated_us) VALUES (?, ?, ?, ?)"
                             " ON CONFLICT (tenant_id) DO UPDATE SET"
                             " unmask_per_hour = excluded.unmask_per_hour,"
                             " export_per_day = excluded.export_per_day,"
                             " updated_us = excluded.updated_us")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_int64(s, 2, v->unmask_per_hour);
    wp_db_bind_int64(s, 3, v->export_per_day);
    wp_db_bind_int64(s, 4, wp_time_now_us());
    if ((err = wp_db_step(s)) == WP_ENOTFOUND)
        err = wp_error_set(WP_ENOTFOUND, "tenant '%s' not found", tenant_id);
    wp_db_done(s);
    return err < 0 ? err : 0;
}

static int count_actions(wp_store *st, int64_t *out, const struct rule *r, const char *tenant_id,
                         const char *actor, int64_t since_us)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s, r->count_sql)) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, actor);
    wp_db_bind_int64(s, 3, since_us);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        *out = wp_db_col_int64(s, 0);
    wp_db_done(s);
    return err < 0 ? err : 0;
}

/* 1 when an alert of this kind about the employee was raised since since_us. */
static int alerted_since(wp_store *st, int *out, const struct rule *r, const char *tenant_id,
                         const char *employee_id, int64_t since_us)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT 1 FROM alerts WHERE tenant_id = ? AND ts_us > ? AND kind = ?"
                             " AND employee_id = ? LIMIT 1")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_int64(s, 2, since_us);
    wp_db_bind_text(s, 3, r->kind);
    wp_db_bind_text(s, 4, employee_id);
    if ((err = wp_db_step(s)) >= 0)
        *out = err == WP_DB_ROW;
    wp_db_done(s);
    return err < 0 ? err : 0;
}

static int raise_alert(wp_store *st, char id[WP_ID_LEN + 1], const unsigned char *key,
                       const struct rule *r, const char *tenant_id, const char *actor,
                       const char *employee_id, int64_t count, int64_t limit, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    char text[160], details[512], target[WP_ID_LEN + 8];
    int err;

    int64_t stored_us;
    if ((err = wp_store__stored_us(st, tenant_id, now_us, &stored_us)) < 0)
        return err;
    wp_id_new(id);
    snprintf(text, sizeof text, "%lld %s in %lld minutes (limit %lld)", (long long)count, r->what,
             (long long)(r->window_s / 60), (long long)limit);
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO alerts (tenant_id, id, ts_us, kind, category,"
                             " employee_id, pattern, matched, status, created_us, updated_us)"
                             " VALUES (?, ?, ?, ?, 'insider', ?, ?, ?, 'open', ?, ?)")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    wp_db_bind_int64(s, 3, now_us);
    wp_db_bind_text(s, 4, r->kind);
    wp_db_bind_text(s, 5, employee_id);
    wp_db_bind_text(s, 6, actor);
    wp_db_bind_text(s, 7, text);
    wp_db_bind_int64(s, 8, stored_us);
    wp_db_bind_int64(s, 9, now_us);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err < 0)
        return err;
    /* actor and employee are checked ids and "kind:<id>" strings: nothing to escape */
    snprintf(details, sizeof details,
             "{\"actor\":\"%s\",\"count\":%lld,\"employee_id\":\"%s\",\"kind\":\"%s\","
             "\"limit\":%lld,\"window_s\":%lld}",
             actor, (long long)count, employee_id, r->kind, (long long)limit,
             (long long)r->window_s);
    snprintf(target, sizeof target, "alert:%s", id);
    wp_audit_entry e = {.tenant_id = tenant_id,
                        .ts_us = now_us,
                        .actor = "system",
                        .action = "alert.raise",
                        .target = target,
                        .details = details};
    return wp_store_audit_append(st, key, &e, NULL);
}

/* An actor as the audit log writes it: "<kind>:<id>", nothing that needs escaping in JSON. */
static int check_actor(const char *actor)
{
    const char *colon = actor ? strchr(actor, ':') : NULL;
    if (!colon || colon == actor || colon - actor > 16 ||
        strspn(actor, "abcdefghijklmnopqrstuvwxyz") != (size_t)(colon - actor) ||
        wp_store__check_id("actor", colon + 1) < 0)
        return wp_error_set(WP_EINVAL, "insider check: bad actor '%.80s'", actor ? actor : "");
    return 0;
}

int wp_store_insider_check(wp_store *st, wp_insider_result *out,
                           const unsigned char key[WP_AUDIT_KEY_LEN], const char *tenant_id,
                           const char *actor, const char *employee_id, const char *action)
{
    const struct rule *r = action ? rule_of(action) : NULL;
    wp_insider_settings set;
    wp_insider_result res;
    int64_t now = wp_time_now_us();
    int err, had = 0;

    memset(&res, 0, sizeof res);
    if (!r) {
        *out = res;
        return 0;
    }
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 || (err = check_actor(actor)) < 0 ||
        (employee_id && *employee_id && (err = wp_store__check_id("employee", employee_id)) < 0))
        return err;
    /* the caller's transaction holds the append's lock on the tenant (see audit.h) */
    assert(st->in_tx && "an insider check runs in the transaction of its audit row");
    if (!st->in_tx)
        return wp_error_set(WP_EINVAL, "insider check outside a transaction");
    if ((err = wp_store_insider_settings_get(st, &set, tenant_id)) < 0)
        goto out;
    res.limit = r == &unmask_rule ? set.unmask_per_hour : set.export_per_day;
    int64_t since = now - r->window_s * 1000000;
    if ((err = count_actions(st, &res.count, r, tenant_id, actor, since)) < 0)
        goto out;
    if (res.limit > 0 && res.count > res.limit && employee_id && *employee_id) {
        if ((err = alerted_since(st, &had, r, tenant_id, employee_id, since)) < 0)
            goto out;
        if (!had && (err = raise_alert(st, res.alert_id, key, r, tenant_id, actor, employee_id,
                                       res.count, res.limit, now)) < 0)
            goto out;
    }
out:
    if (err == 0)
        *out = res;
    return err;
}

int wp_store_alert_kind(wp_store *st, char out[WP_ARCHIVE_WORD_MAX + 1], const char *tenant_id,
                        const char *id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("alert", id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s, "SELECT kind FROM alerts WHERE tenant_id = ? AND id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        err = wp_db_col_copy(s, 0, out, WP_ARCHIVE_WORD_MAX + 1);
    else if (err == WP_DB_DONE)
        err = wp_error_set(WP_ENOTFOUND, "alert '%s' not found", id);
    wp_db_done(s);
    return err < 0 ? err : 0;
}
