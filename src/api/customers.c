/* SPDX-License-Identifier: MIT */
/* GET /api/v1/customers and /api/v1/customers/{id} (CONTRACT §5), phones masked by role. */
#include "api/api.h"
#include "store/customers.h"
#include "store/history.h"
#include "store/merge.h"
#include "store/org.h"
#include "store/people.h"
#include "store/privacy.h"
#include "store/rules.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* tags: the customer's tags (src/api/tags.c), read through st, which must still be held */
static json_t *customer_json(wp_store *st, const wp_customer *c, const api_scope *scope)
{
    const char *phone = c->phone; /* masked at the reply boundary (src/api/view.c) */
    json_t *tags;
    (void)scope;
    if (!(tags = api_customer_tags_json(st, c->tenant_id, c->id)))
        return NULL;
    /* erased_at: null, or when its personal data was erased (a tombstone, pipl.md) */
    return json_pack("{s:s,s:o,s:o,s:s,s:o,s:o,s:o,s:o,s:o,s:o}", "id", c->id, "name",
                     api_jstr(c->name, 0), "phone", api_jstr(phone, 1), "owner_employee_id",
                     c->owner_employee_id, "grade", api_jstr(c->grade, 1), "stage",
                     api_jstr(c->stage, 1), "tags", tags, "created_at", api_jtime(c->created_us),
                     "last_contact_at", api_jtime(c->last_contact_us), "erased_at",
                     api_jtime(c->erased_us));
}

/* Digits in a search could find a customer by a phone the caller may not see, one probe at a
 * time; such a caller searches names without digits only. */
static int has_digit(const char *s)
{
    return s && strpbrk(s, "0123456789") != NULL;
}

int api_customers_list(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_customer_page page;
    api_scope scope;
    wp_customer_filter f = {.tenant_id = c->tenant_id};
    json_t *items = NULL;
    int err;

    memset(&page, 0, sizeof page);
    const char *unit = NULL, *sort = wp_http_query(ctx, "sort");
    if ((err = api_query_limit(ctx, &f.limit)) < 0 ||
        (err = api_query_id(ctx, "owner", &f.owner_employee_id)) < 0 ||
        (err = api_query_id(ctx, "unit", &unit)) < 0 ||
        (err = api_query_id(ctx, "tag", &f.tag_id)) < 0 ||
        (err = api_query_time(ctx, "contact_before", &f.contact_before_us)) < 0 ||
        (err = api_query_time(ctx, "contact_after", &f.contact_after_us)) < 0)
        return err;
    f.q = wp_http_query(ctx, "q");
    f.cursor = wp_http_query(ctx, "cursor");
    f.grade = wp_http_query(ctx, "grade");
    f.stage = wp_http_query(ctx, "stage");
    const char *consent = wp_http_query(ctx, "consent");
    if (consent && *consent) {
        if (strcmp(consent, "none") && strcmp(consent, "recorded"))
            return wp_error_set(WP_EINVAL, "'consent' must be none or recorded");
        f.consent = !strcmp(consent, "none") ? 1 : 2;
    }
    if (f.grade && strlen(f.grade) > WP_ARCHIVE_WORD_MAX)
        return wp_error_set(WP_EINVAL, "'grade' is too long");
    if (f.stage && strlen(f.stage) > WP_ARCHIVE_WORD_MAX)
        return wp_error_set(WP_EINVAL, "'stage' is too long");
    if (sort && *sort && strcmp(sort, "created") && strcmp(sort, "last_contact"))
        return wp_error_set(WP_EINVAL, "'sort' must be created or last_contact");
    if (sort && !strcmp(sort, "last_contact"))
        f.sort = WP_CUSTOMER_SORT_LAST_CONTACT;
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0)
        goto out;
    if (unit) {
        /* a unit outside the caller's scope is a bad filter, like one that does not exist */
        wp_org_unit u;
        if ((err = wp_store_org_unit_get(st, &u, c->tenant_id, unit)) < 0 ||
            (err = api_scope_allows_org_unit(&scope, &u)) < 0) {
            err = api_field_error(err, "unit");
            goto out;
        }
        if (!(f.unit_path = wp_arena_strdup(ctx->arena, u.path))) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (!scope.see_phone && has_digit(f.q)) {
        err = wp_error_set(WP_EINVAL, "searching customers by digits needs the right to see "
                                      "phone numbers");
        goto out;
    }
    f.scope = &scope.store;
    /* q meets the names and notes as the caller sees them */
    if ((err = api_view_for_store(ctx, &f.view)) < 0)
        goto out;
    if ((err = wp_store_customers_list(st, &page, &f)) < 0)
        goto out;
    if (!(items = json_array())) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < page.n; i++)
        if (json_array_append_new(items, customer_json(st, &page.items[i], &scope)) < 0) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
    err = api_reply_page(ctx, items, page.next_cursor);
    items = NULL;
out:
    json_decref(items);
    wp_customer_page_release(&page);
    api_store_release(ctx, st);
    return err;
}

/* What the deal is worth in fen, or null (no amount given). */
static json_t *deal_amount_json(const wp_customer_crm *crm)
{
    return crm->deal_amount_fen < 0 ? json_null() : json_integer(crm->deal_amount_fen);
}

int api_customers_get(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id");
    wp_store *st = NULL;
    wp_customer cu;
    api_scope scope;
    char **ids = NULL, merged[WP_ID_LEN + 1] = "";
    size_t n_ids = 0;
    json_t *o = NULL, *arr = NULL, *met = NULL;
    wp_customer_crm crm;
    wp_customer_contact *contacts = NULL;
    size_t n_contacts = 0;
    enum api_access access;
    wp_consent *consents = NULL; /* notice and consent (issue 20): newest first */
    size_t n_consents = 0;
    int err;

    memset(&crm, 0, sizeof crm);

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = wp_store_customer_get(st, &cu, c->tenant_id, id)) < 0 ||
        (err = api_scope_customer_access(ctx, st, &scope, &cu, &access)) < 0 ||
        (err = wp_store_customer_identities(st, &ids, &n_ids, c->tenant_id, id)) < 0 ||
        (err = wp_store_customer_merged_into(st, merged, c->tenant_id, id)) < 0 ||
        (err = wp_store_customer_crm_get(st, &crm, c->tenant_id, id)) < 0 ||
        (err = wp_store_customer_contacts(st, &contacts, &n_contacts, c->tenant_id, id)) < 0 ||
        (err = wp_store_consents_list(st, &consents, &n_consents, c->tenant_id, id)) < 0)
        goto out;
    o = customer_json(st, &cu, &scope);
    api_store_release(ctx, st);
    st = NULL;
    /* every employee whose device met the customer: two or more is a collision (撞单) */
    if (!(met = json_array())) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_contacts; i++)
        if (json_array_append_new(met,
                                  json_pack("{s:s,s:o,s:o}", "employee_id", contacts[i].employee_id,
                                            "employee_name", api_jstr(contacts[i].employee_name, 0),
                                            "first_met_at", api_jtime(contacts[i].first_us))) < 0) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
    /* the record's CRM side: what the console shows and edits. A reader that only met the
     * customer sees who owns it, not the owner's notes. */
    if (!o) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    err = json_object_set_new(o, "met_by", met); /* takes met, even when it fails */
    met = NULL;
    if (err < 0) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    if (o && (json_object_set_new(o, "access",
                                  json_string(access == API_ACCESS_MET ? "met" : "record")) < 0 ||
              json_object_set_new(o, "company", api_jstr(crm.company, 1)) < 0 ||
              json_object_set_new(o, "notes",
                                  api_jstr(access == API_ACCESS_MET ? NULL : crm.notes, 1)) < 0 ||
              json_object_set_new(o, "in_pool", json_boolean(crm.in_pool)) < 0 ||
              json_object_set_new(o, "pool_reason", api_jstr(crm.pool_reason, 1)) < 0 ||
              json_object_set_new(o, "pooled_at", api_jtime(crm.pooled_us)) < 0 ||
              json_object_set_new(o, "previous_owner_employee_id",
                                  api_jstr(crm.in_pool ? cu.owner_employee_id : NULL, 1)) < 0 ||
              (crm.in_pool && json_object_set_new(o, "owner_employee_id", json_null()) < 0) ||
              json_object_set_new(o, "stage_at", api_jtime(crm.stage_us)) < 0 ||
              json_object_set_new(o, "deal_amount_fen", deal_amount_json(&crm)) < 0 ||
              json_object_set_new(o, "last_follow_up_at", api_jtime(crm.last_follow_up_us)) < 0 ||
              json_object_set_new(
                  o, "consent",
                  n_consents ? json_pack("{s:b,s:s,s:o}", "told", 1, "method", consents[0].method,
                                         "at", api_jtime(consents[0].at_us))
                             : json_pack("{s:b,s:n,s:n}", "told", 0, "method", "at")) < 0)) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    /* a record merged into another stays, pointing at the one that holds its history now */
    if (!o || !(arr = json_array()) ||
        json_object_set_new(o, "merged_into", api_jstr(merged, 1)) < 0) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    /* "kind:value"; the reply boundary masks a phone identity like the phone */
    for (size_t i = 0; i < n_ids; i++) {
        if (json_array_append_new(arr, api_jstr(ids[i], 0)) < 0) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (json_object_set_new(o, "identities", arr) < 0) {
        arr = NULL;
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    arr = NULL;
    err = wp_http_reply_json(ctx, 200, o);
    o = NULL;
out:
    json_decref(o);
    json_decref(arr);
    json_decref(met);
    wp_customer_crm_release(&crm);
    wp_strings_free(ids, n_ids);
    free(contacts);
    wp_consents_free(consents, n_consents);
    api_store_release(ctx, st);
    return err;
}

/* One customer's personal data, unmasked, for a role allowed to ask (the route's unmask
 * right): its phone, identities, name, company and notes. The audit row commits before anything is
 * answered: no unmasking goes unrecorded. */
int api_customers_unmask(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id");
    wp_store *st = NULL;
    wp_customer cu;
    wp_customer_crm crm;
    api_scope scope;
    char **ids = NULL, target[WP_ID_LEN + 16];
    size_t n_ids = 0;
    json_t *arr = NULL;
    int err;

    memset(&crm, 0, sizeof crm);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = wp_store_customer_get(st, &cu, c->tenant_id, id)) < 0 ||
        (err = api_scope_reads_customer(ctx, st, &scope, &cu)) < 0 ||
        (err = wp_store_customer_identities(st, &ids, &n_ids, c->tenant_id, id)) < 0 ||
        (err = wp_store_customer_crm_get(st, &crm, c->tenant_id, id)) < 0 ||
        (err = wp_store_begin(st)) < 0)
        goto out;
    snprintf(target, sizeof target, "customer:%s", cu.id);
    json_t *d =
        json_pack("{s:[s,s,s,s,s]}", "fields", "phone", "identities", "name", "company", "notes");
    err = d ? api_audit(ctx, st, "customer.unmask", target, d)
            : wp_error_set(WP_ENOMEM, "out of memory"); /* not a row without its details */
    json_decref(d);
    if (err < 0 || (err = wp_store_commit(st)) < 0)
        goto out;
    api_store_release(ctx, st);
    st = NULL;
    if (!(arr = json_array())) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_ids; i++)
        if (json_array_append_new(arr, api_jstr(ids[i], 0)) < 0) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
    err = api_reply_revealed(ctx, 200,
                             json_pack("{s:s,s:o,s:o,s:o,s:o,s:o}", "id", cu.id, "phone",
                                       api_jstr(cu.phone, 1), "identities", arr, "name",
                                       api_jstr(cu.name, 0), "company", api_jstr(crm.company, 1),
                                       "notes", api_jstr(crm.notes, 1)));
    arr = NULL;
out:
    if (err < 0 && st)
        wp_store_rollback(st);
    api_store_release(ctx, st);
    json_decref(arr);
    wp_customer_crm_release(&crm);
    wp_strings_free(ids, n_ids);
    return err;
}

/* --- edits and follow-ups (issue 7; store: ops_customer.c) -------------------------------- */

/* Change one customer and record it, in one transaction: each changed field a timeline event,
 * the whole change one audit row. 404 outside the caller's scope or in the pool for sales. */
static int customer_change(wp_http_ctx *ctx, const wp_customer_edit *e, const char *text)
{
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id");
    wp_store *st = NULL;
    wp_customer_crm cu;
    api_scope scope;
    wp_crm_actor who;
    char actor[64], target[WP_ID_LEN + 16], event_id[WP_ID_LEN + 1] = "";
    int err, changed = 0;

    memset(&cu, 0, sizeof cu);
    api_crm_actor(ctx, &who, actor);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = wp_store_customer_crm_get(st, &cu, c->tenant_id, id)) < 0)
        goto out;
    if (cu.in_pool && scope.store.employee_id) {
        err = wp_error_set(WP_ENOTFOUND, "customer '%s' not found", id);
        goto out;
    }
    wp_customer_edit seen = e ? *e : (wp_customer_edit){0};
    if ((err = api_scope_allows_customer(ctx, st, &scope, &cu.base)) < 0 ||
        (err = api_customer_not_erased(&cu.base)) < 0 ||
        (err = api_view_edit(ctx, "name", cu.base.name, &seen.name)) < 0 ||
        (err = api_view_edit(ctx, "company", cu.company, &seen.company)) < 0 ||
        (err = api_view_edit(ctx, "notes", cu.notes, &seen.notes)) < 0 ||
        (err = wp_store_begin(st)) < 0)
        goto out;
    e = e ? &seen : NULL;
    int64_t now = wp_time_now_us();
    if (text)
        err = wp_store_customer_follow_up(st, event_id, c->tenant_id, id, text, &who, now);
    else if ((err = wp_store_customer_edit(st, &changed, c->tenant_id, id, e, &who, now)) == 0)
        /* the grading rules see the new facts at once (a manual grade pins the customer) */
        err = wp_store_grade_rules_apply(st, NULL, ((const wp_app *)ctx->app)->audit_key,
                                         c->tenant_id, id, now);
    if (err == 0) {
        json_t *d =
            text ? json_pack("{s:s}", "event_id", event_id)
                 : json_pack("{s:o,s:o,s:o,s:o,s:b,s:i}", "name", api_jstr(e->name, 0), "company",
                             api_jstr(e->company, 0), "stage", api_jstr(e->stage, 0), "grade",
                             api_jstr(e->grade, 0), "notes", e->notes != NULL, "changed", changed);
        if (d && e && e->deal_amount_set)
            json_object_set_new(d, "deal_amount_fen",
                                e->deal_amount_fen < 0 ? json_null()
                                                       : json_integer(e->deal_amount_fen));
        snprintf(target, sizeof target, "customer:%s", id);
        err = d ? api_audit(ctx, st, text ? "customer.follow_up" : "customer.update", target, d)
                : wp_error_set(WP_ENOMEM, "out of memory"); /* not a row without its details */
        json_decref(d);
    }
    /* the reply is read before the commit: a read that failed after it would answer an
     * error for a change that was made */
    wp_customer_crm_release(&cu);
    if (err == 0)
        err = wp_store_customer_crm_get(st, &cu, c->tenant_id, id);
    /* and built before it: out of memory there stores nothing, rather than a reply short of
     * its event_id or notes */
    json_t *o = err == 0 ? api_crm_customer_json(&cu, &scope) : NULL;
    if (err == 0 &&
        (!o || (text && json_object_set_new(o, "event_id", json_string(event_id)) < 0) ||
         (cu.notes && json_object_set_new(o, "notes", api_jstr(cu.notes, 0)) < 0)))
        err = wp_error_set(WP_ENOMEM, "out of memory");
    if (err == 0)
        err = wp_http_ready_json(ctx, text ? 201 : 200, o);
    else
        json_decref(o);
    if (err == 0)
        err = wp_store_commit(st);
    else
        wp_store_rollback(st);
    if (err < 0)
        goto out;
    api_store_release(ctx, st);
    st = NULL;
    err = wp_http_ready_send(ctx);
out:
    wp_customer_crm_release(&cu);
    api_store_release(ctx, st);
    return err;
}

int api_customers_update(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"name",  "company",         "notes", "stage",
                                         "grade", "deal_amount_fen", NULL};
    wp_customer_edit e = {0};
    json_t *body, *amount;
    int err;
    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0 ||
        (err = api_body_str(body, "name", 0, &e.name)) < 0 ||
        (err = api_body_str(body, "company", 0, &e.company)) < 0 ||
        (err = api_body_str(body, "notes", 0, &e.notes)) < 0 ||
        (err = api_body_str(body, "stage", 0, &e.stage)) < 0 ||
        (err = api_body_str(body, "grade", 0, &e.grade)) < 0)
        return err;
    /* the deal's amount in fen (分); null clears it */
    if ((amount = json_object_get(body, "deal_amount_fen"))) {
        if (!json_is_null(amount) &&
            (!json_is_integer(amount) || json_integer_value(amount) < 0 ||
             json_integer_value(amount) > WP_CRM_DEAL_AMOUNT_MAX))
            return wp_error_set(WP_EINVAL, "'deal_amount_fen' must be a whole number of fen, "
                                           "0-%lld, or null",
                                (long long)WP_CRM_DEAL_AMOUNT_MAX);
        e.deal_amount_set = 1;
        e.deal_amount_fen = json_is_null(amount) ? -1 : json_integer_value(amount);
    }
    return customer_change(ctx, &e, NULL);
}

int api_customers_follow_up(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"text", NULL};
    const char *text = NULL;
    json_t *body;
    int err;
    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0 ||
        (err = api_body_str(body, "text", API_FIELD_REQUIRED, &text)) < 0)
        return err;
    if (!*text)
        return wp_error_set(WP_EINVAL, "'text' is required");
    return customer_change(ctx, NULL, text);
}

/* POST /api/v1/customers/{id}/assign {"employee_id"}: an owned customer to another employee,
 * by an admin or a manager (the route's manage right), both ends in its scope (the console's
 * reassign and bulk assign; customers in the pool go through /pool/{id}/assign). */
int api_customers_assign(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id");
    static const char *const fields[] = {"employee_id", NULL};
    wp_store *st = NULL;
    wp_customer cu;
    wp_employee to;
    wp_customer_crm crm;
    api_scope scope;
    wp_crm_actor who;
    json_t *body;
    char actor[64];
    const char *to_id;
    int err, changed = 0;

    memset(&crm, 0, sizeof crm);
    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0 ||
        (err = api_body_str(body, "employee_id", API_FIELD_REQUIRED, &to_id)) < 0)
        return err;
    api_crm_actor(ctx, &who, actor);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = wp_store_customer_get(st, &cu, c->tenant_id, id)) < 0 ||
        (err = api_scope_allows_customer(ctx, st, &scope, &cu)) < 0 ||
        (err = api_customer_not_erased(&cu)) < 0)
        goto out;
    if ((err = wp_store_employee_get(st, &to, c->tenant_id, to_id)) < 0 ||
        (err = api_scope_allows_employee(ctx, st, &scope, &to)) < 0) {
        err = api_field_error(err, "employee_id");
        goto out;
    }
    if ((err = wp_store_begin(st)) < 0)
        goto out;
    char from[WP_ID_LEN + 1];
    memcpy(from, cu.owner_employee_id, sizeof from); /* what the row lock read replaces */
    err = wp_store_customer_assign(st, &changed, from, c->tenant_id, id, to.id, &who,
                                   wp_time_now_us());
    json_t *d = json_pack("{s:s,s:s,s:b}", "from", from, "to", to.id, "changed", changed);
    if (err == 0) /* the reply, read before the commit (see customer_change) */
        err = wp_store_customer_crm_get(st, &crm, c->tenant_id, id);
    err = api_audit_reply(ctx, st, err, "customer.assign", "customer", id, d,
                          err == 0 ? api_crm_customer_json(&crm, &scope) : NULL, 200);
    st = NULL;
    json_decref(d);
out:
    wp_customer_crm_release(&crm);
    api_store_release(ctx, st);
    return err;
}

/* --- POST /api/v1/customers (issue 15) ----------------------------------------------------- */

/* A refused create: 409 conflict naming the field, and the customer's id only when the
 * caller may read that customer. The refusal is audited (customer.conflict), so that
 * probing numbers one by one shows in the log (docs/internals/importexport.md). */
static int create_conflict(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                           const char *field, const char *existing)
{
    const api_caller *c = api_caller_of(ctx);
    wp_customer cu;
    int visible = 0, err;
    if (existing[0] && wp_store_customer_get(st, &cu, c->tenant_id, existing) == 0)
        visible = api_scope_reads_customer(ctx, st, scope, &cu) == 0;
    if ((err = wp_store_begin(st)) < 0)
        return err;
    json_t *d = json_pack("{s:s,s:b}", "field", field, "visible", visible);
    err = d ? api_audit(ctx, st, "customer.conflict", NULL, d)
            : wp_error_set(WP_ENOMEM, "out of memory");
    json_decref(d);
    if (err == 0)
        err = wp_store_commit(st);
    else
        wp_store_rollback(st);
    if (err < 0)
        return err;
    json_t *details = visible ? json_pack("{s:s,s:s}", "field", field, "customer_id", existing)
                              : json_pack("{s:s}", "field", field);
    return wp_http_reply_fail(ctx, 409, "conflict", details,
                              "a customer has this %s already",
                              !strcmp(field, "phone") ? "phone number" : "channel id");
}

/* POST {"name", "phone", "channel", "channel_id", "owner_employee_id", "company", "notes",
 * "grade", "stage", "tags": [ids]}: one customer with at least a phone or a channel id. The
 * owner is the caller unless it says otherwise; giving a customer to someone else is deciding
 * for others (admins and managers, within their scope). */
int api_customers_create(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"name",  "phone", "channel", "channel_id",
                                         "owner_employee_id", "company", "notes", "grade",
                                         "stage", "tags",  NULL};
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    api_scope scope;
    wp_customer_new n = {.via = "api"};
    wp_customer_crm crm;
    wp_crm_actor who;
    char actor[64], phone[WP_ARCHIVE_PHONE_MAX + 1], id[WP_ID_LEN + 1], existing[WP_ID_LEN + 1];
    const char *raw_phone = NULL, *field = NULL, *tag_ids[WP_CUSTOMER_TAGS_MAX];
    size_t n_tags = 0;
    json_t *body, *tags;
    int err;

    memset(&crm, 0, sizeof crm);
    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0 ||
        (err = api_body_str(body, "name", 0, &n.name)) < 0 ||
        (err = api_body_str(body, "phone", 0, &raw_phone)) < 0 ||
        (err = api_body_str(body, "channel", 0, &n.channel)) < 0 ||
        (err = api_body_str(body, "channel_id", 0, &n.channel_id)) < 0 ||
        (err = api_body_str(body, "owner_employee_id", 0, &n.owner_employee_id)) < 0 ||
        (err = api_body_str(body, "company", 0, &n.company)) < 0 ||
        (err = api_body_str(body, "notes", 0, &n.notes)) < 0 ||
        (err = api_body_str(body, "grade", 0, &n.grade)) < 0 ||
        (err = api_body_str(body, "stage", 0, &n.stage)) < 0)
        return err;
    if (raw_phone && *raw_phone) {
        if (wp_ingest_phone_normalize(phone, raw_phone) < 0)
            return api_field_error(WP_EINVAL, "phone");
        n.phone = phone;
    }
    if ((tags = json_object_get(body, "tags")) && !json_is_null(tags)) {
        size_t i;
        json_t *v;
        if (!json_is_array(tags) || json_array_size(tags) > WP_CUSTOMER_TAGS_MAX)
            return wp_error_set(WP_EINVAL, "'tags' must be a list of at most %d tag ids",
                                WP_CUSTOMER_TAGS_MAX);
        json_array_foreach(tags, i, v)
        {
            if (!api_is_id(json_string_value(v)))
                return wp_error_set(WP_EINVAL, "'tags' item %zu is not an id", i);
            tag_ids[n_tags++] = json_string_value(v);
        }
    }
    const char *self = api_caller_employee_id(c);
    int owner_defaulted = 0;
    if (!n.owner_employee_id || !*n.owner_employee_id) {
        if (!self || !*self)
            return wp_error_set(WP_EINVAL, "'owner_employee_id' is required: an API key of no "
                                           "known creator owns no customers");
        n.owner_employee_id = self;
        owner_defaulted = 1;
    } else if (!api_is_id(n.owner_employee_id)) {
        return wp_error_set(WP_EINVAL, "'owner_employee_id' is not an id");
    }
    /* a customer for someone else is a decision for others: the manage right */
    if ((!self || strcmp(self, n.owner_employee_id)) &&
        !api_role_allows(c->kind == API_CALLER_KEY ? c->key.role : c->employee.role, &c->rs,
                         WP_RIGHT_MANAGE))
        return wp_http_reply_fail(ctx, 403, "forbidden", NULL,
                                  "only admins and managers create customers for others");
    api_crm_actor(ctx, &who, actor);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0)
        goto out;
    wp_employee owner;
    if ((err = wp_store_employee_get(st, &owner, c->tenant_id, n.owner_employee_id)) < 0 ||
        (err = api_scope_allows_employee(ctx, st, &scope, &owner)) < 0) {
        /* a key made by someone outside its scope (a manager key an admin made) */
        if (owner_defaulted && err == WP_ENOTFOUND)
            err = wp_error_set(WP_EINVAL, "'owner_employee_id' is required: the key's creator "
                                          "is outside its scope");
        else
            err = api_field_error(err, "owner_employee_id");
        goto out;
    }
    /* the identities first, so that a taken one is a 409 before anything is checked further */
    const char *kinds[2] = {"phone", n.channel}, *values[2] = {n.phone, n.channel_id};
    for (int i = 0; i < 2; i++) {
        if (!kinds[i] || !values[i] || !*values[i])
            continue;
        if ((err = wp_store_customer_find(st, existing, c->tenant_id, kinds[i], values[i])) == 0) {
            err = create_conflict(ctx, st, &scope, i ? "channel_id" : "phone", existing);
            goto out;
        }
        if (err != WP_ENOTFOUND)
            goto out;
    }
    int64_t now = wp_time_now_us();
    if ((err = wp_store_begin(st)) < 0)
        goto out;
    err = wp_store_customer_create(st, id, existing, &field, c->tenant_id, &n, &who, now);
    if (err == 0 && n_tags)
        err = wp_store_customer_tags_change(st, NULL, c->tenant_id, id, 1, tag_ids, n_tags, NULL,
                                            0, NULL, 0, &who, now);
    if (err == 0)
        err = wp_store_grade_rules_apply(st, NULL, ((const wp_app *)ctx->app)->audit_key,
                                         c->tenant_id, id, now);
    json_t *d = err ? NULL
                    : json_pack("{s:s,s:s,s:o,s:o,s:o,s:I}", "via", "api", "owner",
                                n.owner_employee_id, "grade", api_jstr(n.grade, 1), "stage",
                                api_jstr(n.stage, 1), "company", api_jstr(n.company, 1), "tags",
                                (json_int_t)n_tags);
    if (err == WP_EEXISTS) { /* a writer beat us to the identity */
        wp_store_rollback(st);
        err = create_conflict(ctx, st, &scope, field ? field : "phone", existing);
        goto out;
    }
    /* what the reply shows is read before the commit: a read that fails after it would
     * answer an error for a customer that was made */
    wp_tag *read_tags = NULL;
    size_t n_read = 0;
    if (err == 0 && (err = wp_store_customer_crm_get(st, &crm, c->tenant_id, id)) == 0)
        err = wp_store_customer_tags(st, &read_tags, &n_read, c->tenant_id, id);
    /* and built before it too: a reply that cannot be made (out of memory) stores nothing,
     * rather than a 201 without its tags */
    json_t *o = err == 0 ? api_crm_customer_json(&crm, &scope) : NULL;
    if (err == 0 && (!o || json_object_set_new(o, "notes", api_jstr(crm.notes, 1)) < 0 ||
                     json_object_set_new(o, "tags", api_tags_json(read_tags, n_read)) < 0 ||
                     json_object_set_new(o, "created_at", api_jtime(crm.base.created_us)) < 0))
        err = wp_error_set(WP_ENOMEM, "out of memory");
    free(read_tags);
    err = api_audit_reply(ctx, st, err, "customer.create", "customer", id, d, o, 201);
    st = NULL;
    json_decref(d);
out:
    wp_customer_crm_release(&crm);
    api_store_release(ctx, st);
    return err;
}
