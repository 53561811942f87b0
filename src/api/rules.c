/* SPDX-License-Identifier: MIT */
/* Follow-up discipline (issue 7): the SOP rules an admin sets, the reminders the rules job
 * makes for owners, and marking one done. */
#include "api/api.h"
#include "store/customers.h"
#include "store/rules.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static json_t *sop_json(const wp_sop_rule *r)
{
    return json_pack("{s:s,s:o,s:o,s:o,s:i,s:i,s:b,s:o,s:o}", "id", r->id, "name",
                     api_jstr(r->name, 0), "grade", api_jstr(r->grade, 1), "stage",
                     api_jstr(r->stage, 1), "interval_hours", r->interval_h, "grace_hours",
                     r->grace_h, "active", r->active, "created_at", api_jtime(r->created_us),
                     "updated_at", api_jtime(r->updated_us));
}

static json_t *sop_item(const void *r, const void *arg)
{
    return sop_json(r);
}

int api_sop_rules_list(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_sop_rule *v = NULL;
    size_t n = 0;
    int err;

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    err = wp_store_sop_rules_list(st, &v, &n, c->tenant_id);
    api_store_release(ctx, st);
    if (err < 0)
        return err;
    err = api_reply_items(ctx, v, n, sizeof *v, sop_item, NULL, NULL);
    free(v);
    return err;
}

/* An optional string field into a fixed buffer; JSON null clears it. */
static int str_into(json_t *body, const char *field, char *buf, size_t cap)
{
    const char *v;
    int err;
    json_t *j = json_object_get(body, field);
    if (!j)
        return 0;
    if ((err = api_body_str(body, field, 0, &v)) < 0)
        return err;
    if (!v)
        v = "";
    if (strlen(v) >= cap)
        return wp_error_set(WP_EINVAL, "'%s' is too long", field);
    memcpy(buf, v, strlen(v) + 1);
    return 0;
}

static int int_into(json_t *body, const char *field, int *out)
{
    json_t *j = json_object_get(body, field);
    if (!j)
        return 0;
    if (!json_is_integer(j) || json_integer_value(j) < 0 || json_integer_value(j) > WP_SOP_HOURS_MAX)
        return wp_error_set(WP_EINVAL, "'%s' must be an integer 0..%d", field, WP_SOP_HOURS_MAX);
    *out = (int)json_integer_value(j);
    return 0;
}

static int sop_write(wp_http_ctx *ctx, int create)
{
    static const char *const fields[] = {"name",        "grade",  "stage", "interval_hours",
                                         "grace_hours", "active", NULL};
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_sop_rule r;
    json_t *body, *o = NULL, *a;
    int err;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0)
        return err;
    if (create) {
        if (!json_object_get(body, "name") || !json_object_get(body, "interval_hours"))
            return wp_error_set(WP_EINVAL, "'name' and 'interval_hours' are required");
    } else if (json_object_size(body) == 0) {
        return wp_error_set(WP_EINVAL, "nothing to change");
    }
    if ((a = json_object_get(body, "active")) && !json_is_boolean(a))
        return wp_error_set(WP_EINVAL, "'active' must be true or false");
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    memset(&r, 0, sizeof r);
    r.active = 1;
    if (!create && (err = wp_store_sop_rule_get(st, &r, c->tenant_id, wp_http_param(ctx, "id"))) < 0)
        goto out;
    if ((err = str_into(body, "name", r.name, sizeof r.name)) < 0 ||
        (err = str_into(body, "grade", r.grade, sizeof r.grade)) < 0 ||
        (err = str_into(body, "stage", r.stage, sizeof r.stage)) < 0 ||
        (err = int_into(body, "interval_hours", &r.interval_h)) < 0 ||
        (err = int_into(body, "grace_hours", &r.grace_h)) < 0)
        goto out;
    if (a)
        r.active = json_is_true(a);
    if ((err = wp_store_begin(st)) < 0)
        goto out;
    err = wp_store_sop_rule_put(st, &r, c->tenant_id, create, wp_time_now_us());
    if (err == 0)
        o = sop_json(&r);
    return api_write_reply(ctx, st, err, create ? "sop_rule.create" : "sop_rule.update", "sop_rule",
                           r.id, o, create ? 201 : 200);
out:
    api_store_release(ctx, st);
    return err;
}

int api_sop_rules_create(wp_http_ctx *ctx)
{
    return sop_write(ctx, 1);
}

int api_sop_rules_update(wp_http_ctx *ctx)
{
    return sop_write(ctx, 0);
}

int api_sop_rules_delete(wp_http_ctx *ctx)
{
    return api_delete_audited(ctx, wp_store_sop_rule_delete, "sop_rule.delete", "sop_rule");
}

/* --- reminders ----------------------------------------------------------------------------- */

static json_t *reminder_json(const wp_reminder *r, int64_t now_us)
{
    const char *state = r->done_us ? "done" : now_us >= r->overdue_us ? "overdue" : "open";
    return json_pack("{s:s,s:s,s:o,s:s,s:o,s:s,s:o,s:o,s:o,s:o,s:s,s:o}", "id", r->id, "rule_id",
                     r->rule_id, "rule_name", api_jstr(r->rule_name, 0), "customer_id",
                     r->customer_id, "customer_name", api_jstr(r->customer_name, 0),
                     "employee_id", r->employee_id, "due_at", api_jtime(r->due_us), "overdue_at",
                     api_jtime(r->overdue_us), "created_at", api_jtime(r->created_us), "done_at",
                     api_jtime(r->done_us > 0 ? r->done_us : 0), "state", state, "alert_id",
                     api_jstr(r->alert_id, 1));
}

static json_t *reminder_item(const void *r, const void *now_us)
{
    return reminder_json(r, *(const int64_t *)now_us);
}

/* GET /api/v1/reminders: the caller's own (sales), its subtree's (manager), all (admin,
 * auditor); ?employee= narrows, ?state=open (default: not done), overdue, done, all. */
int api_reminders_list(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *state = wp_http_query(ctx, "state");
    wp_reminder_filter f = {.tenant_id = c->tenant_id, .now_us = wp_time_now_us()};
    wp_reminder_page page;
    wp_store *st = NULL;
    api_scope scope;
    int err;

    memset(&page, 0, sizeof page);
    if (!state || !*state || !strcmp(state, "open"))
        f.state = WP_REMINDER_OPEN;
    else if (!strcmp(state, "overdue"))
        f.state = WP_REMINDER_OVERDUE;
    else if (!strcmp(state, "done"))
        f.state = WP_REMINDER_DONE;
    else if (!strcmp(state, "all"))
        f.state = WP_REMINDER_ANY;
    else
        return wp_error_set(WP_EINVAL, "'state' must be open, overdue, done or all");
    if ((err = api_query_limit(ctx, &f.limit)) < 0 ||
        (err = api_query_id(ctx, "employee", &f.employee_id)) < 0)
        return err;
    f.cursor = wp_http_query(ctx, "cursor");
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0)
        goto out;
    f.scope = &scope.store;
    if (scope.store.employee_id) {
        if (f.employee_id && strcmp(f.employee_id, scope.store.employee_id))
            goto reply; /* someone else's: none in scope */
        f.employee_id = scope.store.employee_id;
    }
    if ((err = wp_store_reminders_list(st, &page, &f)) < 0)
        goto out;
reply:
    api_store_release(ctx, st);
    st = NULL;
    err = api_reply_items(ctx, page.items, page.n, sizeof *page.items, reminder_item, &f.now_us,
                          page.next_cursor);
out:
    free(page.items);
    api_store_release(ctx, st);
    return err;
}

/* POST /api/v1/reminders/{id}/done {"text": "..."}: with a text, a follow-up note on the
 * customer (which is what closes reminders anyway), then the reminder done; without, just
 * done. Whoever may write to the customer may do it. */
int api_reminders_done(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"text", NULL};
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id"), *text = NULL;
    char actor[64], event_id[WP_ID_LEN + 1] = "";
    wp_crm_actor who;
    wp_customer cu;
    wp_reminder r;
    wp_store *st = NULL;
    api_scope scope;
    json_t *body, *d = NULL;
    int err;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0 ||
        (err = api_body_str(body, "text", 0, &text)) < 0)
        return err;
    api_crm_actor(ctx, &who, actor);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = wp_store_reminder_get(st, &r, c->tenant_id, id)) < 0 ||
        (err = wp_store_customer_get(st, &cu, c->tenant_id, r.customer_id)) < 0)
        goto out;
    /* the reminder is the owner's: sales see their own, managers their subtree's */
    if (scope.store.employee_id && strcmp(scope.store.employee_id, r.employee_id)) {
        err = wp_error_set(WP_ENOTFOUND, "reminder '%s' not found", id);
        goto out;
    }
    if ((err = api_scope_allows_customer(ctx, st, &scope, &cu)) < 0) {
        err = wp_error_set(WP_ENOTFOUND, "reminder '%s' not found", id);
        goto out;
    }
    if ((err = wp_store_begin(st)) < 0)
        goto out;
    int64_t now = wp_time_now_us();
    if (text && *text)
        err = wp_store_customer_follow_up(st, event_id, c->tenant_id, r.customer_id, text, &who,
                                          now);
    if (err == 0)
        err = wp_store_reminder_done(st, c->tenant_id, id, now);
    if (err == 0)
        err = wp_store_reminder_get(st, &r, c->tenant_id, id);
    if (err == 0 && !(d = reminder_json(&r, now)))
        err = wp_error_set(WP_ENOMEM, "out of memory");
    /* the reply is the audit row's details too: neither goes without the follow-up */
    if (err == 0 && *event_id &&
        json_object_set_new(d, "follow_up_event_id", json_string(event_id)) < 0)
        err = wp_error_set(WP_ENOMEM, "out of memory");
    return api_write_reply(ctx, st, err, "reminder.done", "reminder", id, d, 200);
out:
    api_store_release(ctx, st);
    return err;
}

/* --- grading rules ------------------------------------------------------------------------- */

static json_t *opt_int_json(int v)
{
    return v < 0 ? json_null() : json_integer(v);
}

static json_t *grade_json(const wp_grade_rule *r)
{
    return json_pack("{s:s,s:i,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:b,s:o,s:o}", "id", r->id, "position",
                     r->position, "grade", r->grade, "stage", api_jstr(r->stage, 1),
                     "min_messages", opt_int_json(r->min_messages), "messages_days",
                     opt_int_json(r->messages_days), "contact_within_days",
                     opt_int_json(r->contact_within_days), "no_contact_days",
                     opt_int_json(r->no_contact_days), "tag_id", api_jstr(r->tag_id, 1),
                     "active", r->active, "created_at", api_jtime(r->created_us), "updated_at",
                     api_jtime(r->updated_us));
}

static json_t *grade_item(const void *r, const void *arg)
{
    return grade_json(r);
}

int api_grade_rules_list(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_grade_rule *v = NULL;
    size_t n = 0;
    int err;

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    err = wp_store_grade_rules_list(st, &v, &n, c->tenant_id);
    api_store_release(ctx, st);
    if (err < 0)
        return err;
    err = api_reply_items(ctx, v, n, sizeof *v, grade_item, NULL, NULL);
    free(v);
    return err;
}

/* An optional count field: null clears it (-1). */
static int days_into(json_t *body, const char *field, int *out)
{
    json_t *j = json_object_get(body, field);
    if (!j)
        return 0;
    if (json_is_null(j)) {
        *out = -1;
        return 0;
    }
    if (!json_is_integer(j) || json_integer_value(j) < 0 || json_integer_value(j) > 1000000)
        return wp_error_set(WP_EINVAL, "'%s' must be a non-negative integer or null", field);
    *out = (int)json_integer_value(j);
    return 0;
}

static int grade_write(wp_http_ctx *ctx, int create)
{
    static const char *const fields[] = {"position",        "grade",         "stage",
                                         "min_messages",    "messages_days", "contact_within_days",
                                         "no_contact_days", "tag_id",        "active",
                                         NULL};
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_grade_rule r;
    json_t *body, *o = NULL, *a;
    int err;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0)
        return err;
    if (create && !json_object_get(body, "grade"))
        return wp_error_set(WP_EINVAL, "'grade' is required");
    if (!create && json_object_size(body) == 0)
        return wp_error_set(WP_EINVAL, "nothing to change");
    if ((a = json_object_get(body, "active")) && !json_is_boolean(a))
        return wp_error_set(WP_EINVAL, "'active' must be true or false");
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    memset(&r, 0, sizeof r);
    r.active = 1;
    r.min_messages = r.messages_days = r.contact_within_days = r.no_contact_days = -1;
    if (!create &&
        (err = wp_store_grade_rule_get(st, &r, c->tenant_id, wp_http_param(ctx, "id"))) < 0)
        goto out;
    if ((err = str_into(body, "grade", r.grade, sizeof r.grade)) < 0 ||
        (err = str_into(body, "stage", r.stage, sizeof r.stage)) < 0 ||
        (err = str_into(body, "tag_id", r.tag_id, sizeof r.tag_id)) < 0 ||
        (err = days_into(body, "position", &r.position)) < 0 ||
        (err = days_into(body, "min_messages", &r.min_messages)) < 0 ||
        (err = days_into(body, "messages_days", &r.messages_days)) < 0 ||
        (err = days_into(body, "contact_within_days", &r.contact_within_days)) < 0 ||
        (err = days_into(body, "no_contact_days", &r.no_contact_days)) < 0)
        goto out;
    if (r.position < 0)
        r.position = 0;
    if (*r.tag_id && !api_is_id(r.tag_id)) {
        err = wp_error_set(WP_EINVAL, "'tag_id' is not an id");
        goto out;
    }
    if (a)
        r.active = json_is_true(a);
    if ((err = wp_store_begin(st)) < 0)
        goto out;
    err = wp_store_grade_rule_put(st, &r, c->tenant_id, create, wp_time_now_us());
    if (err == 0)
        o = grade_json(&r);
    return api_write_reply(ctx, st, err, create ? "grade_rule.create" : "grade_rule.update",
                           "grade_rule", r.id, o, create ? 201 : 200);
out:
    api_store_release(ctx, st);
    return err;
}

int api_grade_rules_create(wp_http_ctx *ctx)
{
    return grade_write(ctx, 1);
}

int api_grade_rules_update(wp_http_ctx *ctx)
{
    return grade_write(ctx, 0);
}

int api_grade_rules_delete(wp_http_ctx *ctx)
{
    return api_delete_audited(ctx, wp_store_grade_rule_delete, "grade_rule.delete", "grade_rule");
}
