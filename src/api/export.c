/* SPDX-License-Identifier: MIT */
/* Exports (issue 15): the customer list with its filters, alerts, search results, a customer's
 * timeline and the audit log as XLSX (or CSV), each one scoped like its list, masked as the
 * caller sees it, bounded, and audited as an export that counts toward the insider alert
 * mass_export (docs/internals/importexport.md). */
#include "api/api.h"
#include "api/table.h"
#include "store/alerts.h"
#include "store/audit.h"
#include "store/customers.h"
#include "store/messages.h"
#include "store/org.h"
#include "store/people.h"
#include "store/store.h"
#include "store/tags.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- names of the people and customers rows point at, each read once --------------------- */

struct name {
    char id[WP_ID_LEN + 1];
    char *name;     /* NULL: not visible to the reader */
    char *username; /* employees: their login; NULL else */
};

struct names {
    struct name *v;
    size_t n, alloc;
};

static void names_release(struct names *ns)
{
    for (size_t i = 0; i < ns->n; i++) {
        free(ns->v[i].name);
        free(ns->v[i].username);
    }
    free(ns->v);
    memset(ns, 0, sizeof *ns);
}

static struct name *names_find(struct names *ns, const char *id)
{
    for (size_t i = 0; i < ns->n; i++)
        if (!strcmp(ns->v[i].id, id))
            return &ns->v[i];
    return NULL;
}

static int names_add(struct names *ns, const char *id, const char *name, const char *username)
{
    if (ns->n == ns->alloc) {
        size_t a = ns->alloc ? ns->alloc * 2 : 32;
        struct name *v = realloc(ns->v, a * sizeof *v);
        if (!v)
            return wp_error_set(WP_ENOMEM, "out of memory");
        ns->v = v;
        ns->alloc = a;
    }
    struct name *x = &ns->v[ns->n];
    snprintf(x->id, sizeof x->id, "%s", id);
    x->name = name ? strdup(name) : NULL;
    x->username = username ? strdup(username) : NULL;
    if ((name && !x->name) || (username && !x->username)) {
        free(x->name);
        free(x->username);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    ns->n++;
    return 0;
}

/* The name of an employee the reader sees (else NULL: the id alone is shown). */
static int employee_name(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                         struct names *ns, const char *id, const char **out)
{
    const api_caller *c = api_caller_of(ctx);
    struct name *x;
    wp_employee e;
    int err;
    *out = NULL;
    if (!id || !*id)
        return 0;
    if ((x = names_find(ns, id))) {
        *out = x->name;
        return 0;
    }
    err = wp_store_employee_get(st, &e, c->tenant_id, id);
    if (err == 0)
        err = api_scope_allows_employee(ctx, st, scope, &e);
    if (err < 0 && err != WP_ENOTFOUND)
        return err;
    if ((err = names_add(ns, id, err == 0 ? e.name : NULL, err == 0 ? e.username : NULL)) < 0)
        return err;
    *out = ns->v[ns->n - 1].name;
    return 0;
}

/* The login of an employee employee_name() read. */
static const char *employee_username(struct names *ns, const char *id)
{
    struct name *x = id && *id ? names_find(ns, id) : NULL;
    return x ? x->username : NULL;
}

/* The name of a customer whose record the reader sees (else NULL). */
static int customer_name(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                         struct names *ns, const char *id, const char **out)
{
    const api_caller *c = api_caller_of(ctx);
    struct name *x;
    wp_customer cu;
    int err;
    *out = NULL;
    if (!id || !*id)
        return 0;
    if ((x = names_find(ns, id))) {
        *out = x->name;
        return 0;
    }
    err = wp_store_customer_get(st, &cu, c->tenant_id, id);
    if (err == 0)
        err = api_scope_reads_customer(ctx, st, scope, &cu);
    if (err < 0 && err != WP_ENOTFOUND)
        return err;
    if ((err = names_add(ns, id, err == 0 ? cu.name : NULL, NULL)) < 0)
        return err;
    *out = ns->v[ns->n - 1].name;
    return 0;
}

/* The export's audit row, in a transaction of its own that commits before a byte is sent:
 * no export leaves unrecorded, and api_audit() counts it for the insider alerts. */
/* Audit an export with details (taken: released here whatever happens). */
static int audit_export(wp_http_ctx *ctx, wp_store *st, const char *action, const char *target,
                        enum api_table_format format, size_t rows, json_t *details)
{
    int err;
    if (!details)
        return wp_error_set(WP_ENOMEM, "out of memory");
    /* not a row short of what was exported, or of the filter it was exported with */
    if (json_object_set_new(details, "format",
                            json_string(format == API_TABLE_CSV ? "csv" : "xlsx")) < 0 ||
        json_object_set_new(details, "rows", json_integer((json_int_t)rows)) < 0) {
        json_decref(details);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    if ((err = wp_store_begin(st)) == 0) {
        err = api_audit(ctx, st, action, target, details); /* borrows details */
        if (err == 0)
            err = wp_store_commit(st);
        else
            wp_store_rollback(st);
    }
    json_decref(details);
    return err;
}

/* Set key to the query parameter name when it is given. When that fails (out of memory),
 * *d is released and NULL, which audit_export() answers with WP_ENOMEM: no export's row
 * leaves out the filter it was exported with. */
static void detail_query(json_t **d, const wp_http_ctx *ctx, const char *name)
{
    const char *v = wp_http_query(ctx, name);
    if (*d && v && *v && json_object_set_new(*d, name, api_jstr(v, 0)) < 0) {
        json_decref(*d);
        *d = NULL;
    }
}

/* Finish an export: on success audit it and reply, else the error (a bound passed: 422). */
static int finish(wp_http_ctx *ctx, wp_store **st, api_table *t, int err, const char *action,
                  const char *target, const char *base, json_t *details)
{
    size_t rows = t->row ? t->row - 1 : 0;
    if (err == 0)
        err = audit_export(ctx, *st, action, target, t->format, rows, details);
    else
        json_decref(details);
    api_store_release(ctx, *st);
    *st = NULL;
    if (err < 0)
        return api_table_limit_or_reply(t, err);
    return api_table_reply(t, base);
}

int api_export_finish(wp_http_ctx *ctx, wp_store **st, api_table *t, int err, const char *action,
                      const char *target, const char *base, json_t *details)
{
    return finish(ctx, st, t, err, action, target, base, details);
}

/* --- GET /api/v1/customers/export --------------------------------------------------------- */

int api_export_customers(wp_http_ctx *ctx)
{
    /* what the customer import reads back: owner is a username, the rest it leaves alone */
    static const char *const cols[] = {"id",         "name",    "phone",      "company",
                                       "owner_id",   "owner",   "owner_name", "grade",
                                       "stage",      "tags",    "notes",      "created_at",
                                       "last_contact_at", NULL};
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    api_scope scope;
    wp_customer_filter f = {.tenant_id = c->tenant_id, .limit = WP_PAGE_MAX};
    wp_customer_page page;
    enum api_table_format format;
    struct names owners = {0};
    api_table t;
    const char *unit = NULL, *sort = wp_http_query(ctx, "sort");
    char cursor[WP_ARCHIVE_CURSOR_MAX] = "";
    int err;

    memset(&page, 0, sizeof page);
    memset(&t, 0, sizeof t);
    if ((err = api_table_format_query(ctx, &format)) < 0 ||
        (err = api_query_id(ctx, "owner", &f.owner_employee_id)) < 0 ||
        (err = api_query_id(ctx, "unit", &unit)) < 0 ||
        (err = api_query_id(ctx, "tag", &f.tag_id)) < 0 ||
        (err = api_query_time(ctx, "contact_before", &f.contact_before_us)) < 0 ||
        (err = api_query_time(ctx, "contact_after", &f.contact_after_us)) < 0)
        return err;
    f.q = wp_http_query(ctx, "q");
    f.grade = wp_http_query(ctx, "grade");
    f.stage = wp_http_query(ctx, "stage");
    if ((f.grade && strlen(f.grade) > WP_ARCHIVE_WORD_MAX) ||
        (f.stage && strlen(f.stage) > WP_ARCHIVE_WORD_MAX))
        return wp_error_set(WP_EINVAL, "'grade' and 'stage' are words of at most %d bytes",
                            WP_ARCHIVE_WORD_MAX);
    if (sort && *sort && strcmp(sort, "created") && strcmp(sort, "last_contact"))
        return wp_error_set(WP_EINVAL, "'sort' must be created or last_contact");
    if (sort && !strcmp(sort, "last_contact"))
        f.sort = WP_CUSTOMER_SORT_LAST_CONTACT;
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0)
        goto out;
    if (unit) {
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
    /* the same rule as the list: digits could find a customer by a phone the caller may not
     * see */
    if (!scope.see_phone && f.q && strpbrk(f.q, "0123456789")) {
        err = wp_error_set(WP_EINVAL, "searching customers by digits needs the right to see "
                                      "phone numbers");
        goto out;
    }
    f.scope = &scope.store;
    if ((err = api_view_for_store(ctx, &f.view)) < 0 ||
        (err = api_table_begin(&t, ctx, format, "customers", cols)) < 0)
        goto out;
    do {
        f.cursor = cursor[0] ? cursor : NULL;
        if ((err = wp_store_customers_list(st, &page, &f)) < 0)
            break;
        for (size_t i = 0; i < page.n && err == 0; i++) {
            const wp_customer *cu = &page.items[i];
            wp_customer_crm crm;
            wp_tag *tags = NULL;
            size_t n_tags = 0;
            const char *owner;
            wp_buf tl;
            memset(&crm, 0, sizeof crm);
            wp_buf_init(&tl, 64 * 1024);
            if ((err = wp_store_customer_crm_get(st, &crm, c->tenant_id, cu->id)) == 0 &&
                (err = wp_store_customer_tags(st, &tags, &n_tags, c->tenant_id, cu->id)) == 0 &&
                (err = employee_name(ctx, st, &scope, &owners, cu->owner_employee_id,
                                     &owner)) == 0) {
                for (size_t k = 0; k < n_tags && err == 0; k++)
                    err = wp_buf_addf(&tl, "%s%s", k ? "," : "", tags[k].name);
            }
            if (err == 0 && (err = api_table_word(&t, cu->id)) == 0 &&
                (err = api_table_text(&t, cu->name)) == 0 &&
                (err = api_table_phone(&t, cu->phone)) == 0 &&
                (err = api_table_text(&t, crm.company)) == 0 &&
                (err = api_table_word(&t, cu->owner_employee_id)) == 0 &&
                (err = api_table_word(&t, employee_username(&owners, cu->owner_employee_id))) ==
                    0 &&
                (err = api_table_text(&t, owner)) == 0 &&
                (err = api_table_word(&t, cu->grade)) == 0 &&
                (err = api_table_word(&t, cu->stage)) == 0 &&
                (err = api_table_text(&t, tl.buf)) == 0 &&
                (err = api_table_text(&t, crm.notes)) == 0 &&
                (err = api_table_time(&t, cu->created_us)) == 0 &&
                (err = api_table_time(&t, cu->last_contact_us)) == 0)
                err = api_table_row_end(&t);
            wp_buf_release(&tl);
            free(tags);
            wp_customer_crm_release(&crm);
        }
        snprintf(cursor, sizeof cursor, "%s", page.next_cursor);
        wp_customer_page_release(&page);
    } while (err == 0 && cursor[0]);
    json_t *d = json_object();
    static const char *const q[] = {"q", "owner", "unit", "tag", "grade", "stage",
                                    "contact_before", "contact_after", "sort", NULL};
    for (const char *const *k = q; *k; k++)
        detail_query(&d, ctx, *k);
    err = finish(ctx, &st, &t, err, "customers.export", NULL, "customers", d);
out:
    wp_customer_page_release(&page);
    names_release(&owners);
    api_table_release(&t);
    api_store_release(ctx, st);
    return err;
}

/* --- GET /api/v1/alerts/export ------------------------------------------------------------ */

int api_export_alerts(wp_http_ctx *ctx)
{
    static const char *const cols[] = {"id",          "ts",       "kind",        "category",
                                       "status",      "employee_id", "employee", "customer_id",
                                       "customer",    "pattern",  "action",      "text",
                                       "comment",     "handled_by", "updated_at", NULL};
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    api_scope scope;
    wp_alert_filter f = {.tenant_id = c->tenant_id, .limit = WP_PAGE_MAX};
    wp_alert_page page;
    enum api_table_format format;
    struct names people = {0}, customers = {0};
    api_table t;
    char cursor[WP_ARCHIVE_CURSOR_MAX] = "";
    int err;

    memset(&page, 0, sizeof page);
    memset(&t, 0, sizeof t);
    if ((err = api_table_format_query(ctx, &format)) < 0 ||
        (err = api_query_id(ctx, "customer", &f.customer_id)) < 0 ||
        (err = api_query_id(ctx, "employee", &f.employee_id)) < 0 ||
        (err = api_query_time(ctx, "from", &f.from_us)) < 0 ||
        (err = api_query_time(ctx, "to", &f.to_us)) < 0)
        return err;
    const char *status = wp_http_query(ctx, "status");
    if (status && *status) {
        enum wp_alert_status s;
        if ((err = wp_alert_status_parse(&s, status)) < 0)
            return err;
        f.status = (int)s;
    }
    f.kind = wp_http_query(ctx, "kind");
    if (f.kind && !*f.kind)
        f.kind = NULL;
    if (f.kind && strlen(f.kind) > WP_ARCHIVE_WORD_MAX)
        return wp_error_set(WP_EINVAL, "'kind' is longer than %d bytes", WP_ARCHIVE_WORD_MAX);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = api_table_begin(&t, ctx, format, "alerts", cols)) < 0)
        goto out;
    f.scope = &scope.store;
    do {
        f.cursor = cursor[0] ? cursor : NULL;
        if ((err = wp_store_alerts_list(st, &page, &f)) < 0)
            break;
        for (size_t i = 0; i < page.n && err == 0; i++) {
            const wp_alert *a = &page.items[i];
            const char *emp, *cust;
            if ((err = employee_name(ctx, st, &scope, &people, a->employee_id, &emp)) == 0 &&
                (err = customer_name(ctx, st, &scope, &customers, a->customer_id, &cust)) == 0 &&
                (err = api_table_word(&t, a->id)) == 0 &&
                (err = api_table_time(&t, a->ts_us)) == 0 &&
                (err = api_table_word(&t, a->kind)) == 0 &&
                (err = api_table_word(&t, a->category)) == 0 &&
                (err = api_table_word(&t, wp_alert_status_name(a->status))) == 0 &&
                (err = api_table_word(&t, a->employee_id)) == 0 &&
                (err = api_table_text(&t, emp)) == 0 &&
                (err = api_table_word(&t, a->customer_id)) == 0 &&
                (err = api_table_text(&t, cust)) == 0 &&
                (err = api_table_text(&t, a->pattern)) == 0 &&
                (err = api_table_word(&t, a->action)) == 0 &&
                (err = api_table_text(&t, a->matched)) == 0 &&
                (err = api_table_text(&t, a->comment)) == 0 &&
                (err = api_table_word(&t, a->handled_by)) == 0 &&
                (err = api_table_time(&t, a->updated_us)) == 0)
                err = api_table_row_end(&t);
        }
        snprintf(cursor, sizeof cursor, "%s", page.next_cursor);
        wp_alert_page_release(&page);
    } while (err == 0 && cursor[0]);
    json_t *d = json_object();
    static const char *const q[] = {"customer", "employee", "from", "to", "status", "kind", NULL};
    for (const char *const *k = q; *k; k++)
        detail_query(&d, ctx, *k);
    err = finish(ctx, &st, &t, err, "alerts.export", NULL, "alerts", d);
out:
    wp_alert_page_release(&page);
    names_release(&people);
    names_release(&customers);
    api_table_release(&t);
    api_store_release(ctx, st);
    return err;
}

/* --- GET /api/v1/messages/export: search results ------------------------------------------ */

#define PII_QUERY_DIGITS 6 /* as GET /api/v1/messages refuses them (messages.c) */

static int message_row(wp_http_ctx *ctx, wp_store *st, const api_scope *scope, api_table *t,
                       struct names *people, struct names *customers, const wp_message *m)
{
    const char *emp, *cust;
    const char *text = m->text ? m->text : m->title ? m->title : m->filename;
    int err;
    if ((err = employee_name(ctx, st, scope, people, m->employee_id, &emp)) == 0 &&
        (err = customer_name(ctx, st, scope, customers, m->customer_id, &cust)) == 0 &&
        (err = api_table_word(t, m->id)) == 0 && (err = api_table_time(t, m->ts_us)) == 0 &&
        (err = api_table_word(t, m->channel)) == 0 &&
        (err = api_table_word(t, wp_direction_name(m->direction))) == 0 &&
        (err = api_table_word(t, m->employee_id)) == 0 && (err = api_table_text(t, emp)) == 0 &&
        (err = api_table_word(t, m->customer_id)) == 0 && (err = api_table_text(t, cust)) == 0 &&
        (err = api_table_text(t, m->chat)) == 0 && (err = api_table_text(t, m->peer_name)) == 0 &&
        (err = api_table_word(t, m->msgtype)) == 0 && (err = api_table_text(t, text)) == 0 &&
        (err = api_table_word(t, m->recalled ? "true" : "false")) == 0)
        err = api_table_row_end(t);
    return err;
}

int api_export_messages(wp_http_ctx *ctx)
{
    static const char *const cols[] = {"id",       "ts",          "channel",  "direction",
                                       "employee_id", "employee", "customer_id", "customer",
                                       "chat",     "peer",        "msgtype",  "text",
                                       "recalled", NULL};
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    api_scope scope;
    wp_message_filter f = {.tenant_id = c->tenant_id, .limit = WP_PAGE_MAX};
    wp_message_page page;
    enum api_table_format format;
    struct names people = {0}, customers = {0};
    api_table t;
    char cursor[WP_ARCHIVE_CURSOR_MAX] = "";
    int err, digits = 0;

    memset(&page, 0, sizeof page);
    memset(&t, 0, sizeof t);
    if ((err = api_table_format_query(ctx, &format)) < 0 ||
        (err = api_query_id(ctx, "customer", &f.customer_id)) < 0 ||
        (err = api_query_id(ctx, "employee", &f.employee_id)) < 0 ||
        (err = api_query_time(ctx, "from", &f.from_us)) < 0 ||
        (err = api_query_time(ctx, "to", &f.to_us)) < 0)
        return err;
    f.q = wp_http_query(ctx, "q");
    f.channel = wp_http_query(ctx, "channel");
    if (f.channel && !*f.channel)
        f.channel = NULL;
    for (const char *p = f.q; p && *p; p++)
        digits += *p >= '0' && *p <= '9';
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0)
        goto out;
    if (!scope.see_phone && digits >= PII_QUERY_DIGITS) {
        err = wp_error_set(WP_EINVAL, "searching for %d or more digits needs the right to see "
                                      "personal data", PII_QUERY_DIGITS);
        goto out;
    }
    f.scope = &scope.store;
    if ((err = api_view_for_store(ctx, &f.view)) < 0 ||
        (err = api_table_begin(&t, ctx, format, "messages", cols)) < 0)
        goto out;
    do {
        f.cursor = cursor[0] ? cursor : NULL;
        if ((err = wp_store_messages_search(st, &page, &f)) < 0)
            break;
        for (size_t i = 0; i < page.n && err == 0; i++)
            err = message_row(ctx, st, &scope, &t, &people, &customers, &page.items[i]);
        snprintf(cursor, sizeof cursor, "%s", page.next_cursor);
        wp_message_page_release(&page);
    } while (err == 0 && cursor[0]);
    char target[WP_ID_LEN + 16] = "";
    if (f.customer_id)
        snprintf(target, sizeof target, "customer:%s", f.customer_id);
    else if (f.employee_id)
        snprintf(target, sizeof target, "employee:%s", f.employee_id);
    json_t *d = json_object();
    static const char *const q[] = {"q", "customer", "employee", "channel", "from", "to", NULL};
    for (const char *const *k = q; *k; k++)
        detail_query(&d, ctx, *k);
    err = finish(ctx, &st, &t, err, "messages.export", target[0] ? target : NULL, "messages", d);
out:
    wp_message_page_release(&page);
    names_release(&people);
    names_release(&customers);
    api_table_release(&t);
    api_store_release(ctx, st);
    return err;
}

/* --- GET /api/v1/customers/{id}/timeline/export: a customer's history as evidence ---------- */

static int newer(int64_t t1, const char *id1, int64_t t2, const char *id2)
{
    return t1 > t2 || (t1 == t2 && strcmp(id1, id2) > 0);
}

/* One fact of the timeline other than a message: what it says, as a short text. */
static int timeline_item_row(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                             api_table *t, struct names *people, const wp_timeline_item *it)
{
    static const char *const types[] = {"", "event", "call", "contact", "alert"};
    const char *emp, *kind = it->kind, *text = NULL;
    char num[64];
    int err;
    if (it->type == WP_TL_EVENT)
        text = it->details; /* a JSON object: masked whole, like the timeline shows it */
    else if (it->type == WP_TL_CALL && it->num >= 0) {
        snprintf(num, sizeof num, "%" PRId64 " s", it->num);
        text = num;
        kind = it->recording ? it->recording : NULL;
    } else if (it->type == WP_TL_ALERT)
        text = it->category;
    if ((err = employee_name(ctx, st, scope, people, it->employee_id, &emp)) == 0 &&
        (err = api_table_word(t, it->id)) == 0 && (err = api_table_time(t, it->ts_us)) == 0 &&
        (err = api_table_word(t, types[it->type <= WP_TL_ALERT ? it->type : 0])) == 0 &&
        (err = api_table_word(t, it->channel)) == 0 &&
        (err = api_table_word(t, it->direction)) == 0 &&
        (err = api_table_word(t, it->employee_id)) == 0 && (err = api_table_text(t, emp)) == 0 &&
        (err = api_table_word(t, kind)) == 0 && (err = api_table_word(t, it->status)) == 0 &&
        (err = api_table_text(t, text)) == 0 && (err = api_table_word(t, it->actor)) == 0)
        err = api_table_row_end(t);
    return err;
}

static int timeline_message_row(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                                 api_table *t, struct names *people, const wp_message *m)
{
    const char *emp;
    const char *text = m->text ? m->text : m->title ? m->title : m->filename;
    int err;
    if ((err = employee_name(ctx, st, scope, people, m->employee_id, &emp)) == 0 &&
        (err = api_table_word(t, m->id)) == 0 && (err = api_table_time(t, m->ts_us)) == 0 &&
        (err = api_table_word(t, "message")) == 0 && (err = api_table_word(t, m->channel)) == 0 &&
        (err = api_table_word(t, wp_direction_name(m->direction))) == 0 &&
        (err = api_table_word(t, m->employee_id)) == 0 && (err = api_table_text(t, emp)) == 0 &&
        (err = api_table_word(t, m->msgtype)) == 0 &&
        (err = api_table_word(t, m->recalled ? "recalled" : NULL)) == 0 &&
        (err = api_table_text(t, text)) == 0 && (err = api_table_word(t, NULL)) == 0)
        err = api_table_row_end(t);
    return err;
}

int api_export_timeline(wp_http_ctx *ctx)
{
    static const char *const cols[] = {"id",         "ts",       "type",  "channel",
                                       "direction",  "employee_id", "employee", "kind",
                                       "status",     "text",     "actor", NULL};
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id");
    wp_store *st = NULL;
    wp_customer_crm cu;
    api_scope scope;
    wp_message_page mp;
    wp_timeline_page tp;
    enum api_table_format format;
    enum api_access access;
    struct names people = {0};
    api_table t;
    char cursor[WP_ARCHIVE_CURSOR_MAX] = "";
    int err;

    memset(&cu, 0, sizeof cu);
    memset(&mp, 0, sizeof mp);
    memset(&tp, 0, sizeof tp);
    memset(&t, 0, sizeof t);
    if ((err = api_table_format_query(ctx, &format)) < 0)
        return err;
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = wp_store_customer_crm_get(st, &cu, c->tenant_id, id)) < 0)
        goto out;
    /* the same reach as the timeline itself (timeline.c) */
    if (cu.in_pool && scope.store.employee_id) {
        err = wp_error_set(WP_ENOTFOUND, "customer '%s' not found", id);
        goto out;
    }
    if ((err = api_scope_customer_access(ctx, st, &scope, &cu.base, &access)) < 0 ||
        (err = api_table_begin(&t, ctx, format, "timeline", cols)) < 0)
        goto out;
    for (;;) {
        wp_message_filter mf = {.tenant_id = c->tenant_id, .customer_id = id,
                                .cursor = cursor[0] ? cursor : NULL, .limit = WP_PAGE_MAX,
                                .scope = &scope.store};
        wp_timeline_filter tf = {.tenant_id = c->tenant_id, .customer_id = id,
                                 .cursor = cursor[0] ? cursor : NULL, .limit = WP_PAGE_MAX,
                                 .scope = &scope.store, .no_events = access == API_ACCESS_MET};
        if ((err = api_view_for_store(ctx, &mf.view)) < 0 ||
            (err = wp_store_messages_search(st, &mp, &mf)) < 0 ||
            (err = wp_store_customer_timeline(st, &tp, &tf)) < 0)
            break;
        size_t i = 0, k = 0, n = 0;
        int64_t last_t = 0;
        const char *last_id = NULL;
        while (err == 0 && n < WP_PAGE_MAX && (i < mp.n || k < tp.n)) {
            if (k == tp.n || (i < mp.n && newer(mp.items[i].ts_us, mp.items[i].id,
                                                tp.items[k].ts_us, tp.items[k].id))) {
                last_t = mp.items[i].ts_us;
                last_id = mp.items[i].id;
                err = timeline_message_row(ctx, st, &scope, &t, &people, &mp.items[i++]);
            } else {
                last_t = tp.items[k].ts_us;
                last_id = tp.items[k].id;
                err = timeline_item_row(ctx, st, &scope, &t, &people, &tp.items[k++]);
            }
            n++;
        }
        int more = last_id && (i < mp.n || k < tp.n || mp.next_cursor[0] || tp.next_cursor[0]);
        if (more)
            snprintf(cursor, sizeof cursor, "%" PRId64 ".%s", last_t, last_id);
        wp_message_page_release(&mp);
        wp_timeline_page_release(&tp);
        if (err < 0 || !more)
            break;
    }
    char target[WP_ID_LEN + 16];
    snprintf(target, sizeof target, "customer:%s", id);
    char base[WP_ID_LEN + 16];
    snprintf(base, sizeof base, "timeline-%s", id);
    err = finish(ctx, &st, &t, err, "timeline.export", target, base, json_object());
out:
    wp_message_page_release(&mp);
    wp_timeline_page_release(&tp);
    wp_customer_crm_release(&cu);
    names_release(&people);
    api_table_release(&t);
    api_store_release(ctx, st);
    return err;
}

/* --- GET /api/v1/audit/export -------------------------------------------------------------- */

/* An audit row's details as the list shows them: the JSON object through the reply boundary
 * (its ids stay, what people wrote is masked), as compact text. */
static int details_text(wp_http_ctx *ctx, const char *details, char **out)
{
    json_t *d = NULL;
    int err = 0;
    *out = NULL;
    if (!details)
        return 0;
    if ((err = api_jparse(&d, details, JSON_DECODE_ANY)) < 0)
        return err;
    if (!json_is_object(d)) {
        json_decref(d);
        return 0; /* a damaged row: shown as its text, masked as text */
    }
    json_t *wrap = json_pack("{s:o}", "details", d);
    if (!wrap)
        return wp_error_set(WP_ENOMEM, "out of memory");
    if ((err = api_view_reply(ctx, wrap)) == 0 &&
        !(*out = wp_json_dumps(json_object_get(wrap, "details"),
                            JSON_COMPACT | JSON_SORT_KEYS)))
        err = wp_error_set(WP_ENOMEM, "out of memory");
    json_decref(wrap);
    return err;
}

int api_export_audit(wp_http_ctx *ctx)
{
    static const char *const cols[] = {"seq",    "id",     "ts",   "actor",     "action",
                                       "target", "details", "client", "hash", "prev_hash",
                                       NULL};
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    wp_audit_filter f = {.tenant_id = c->tenant_id, .limit = WP_PAGE_MAX};
    wp_audit_page page;
    enum api_table_format format;
    api_table t;
    char cursor[WP_ARCHIVE_CURSOR_MAX] = "";
    int err;

    memset(&page, 0, sizeof page);
    memset(&t, 0, sizeof t);
    if ((err = api_table_format_query(ctx, &format)) < 0 ||
        (err = api_query_id(ctx, "customer", &f.customer_id)) < 0 ||
        (err = api_query_time(ctx, "from", &f.from_us)) < 0 ||
        (err = api_query_time(ctx, "to", &f.to_us)) < 0)
        return err;
    static const char *const fields[] = {"actor", "action", "target"};
    const char **dst[] = {&f.actor, &f.action, &f.target};
    for (size_t i = 0; i < 3; i++) {
        const char *v = wp_http_query(ctx, fields[i]);
        *dst[i] = v && *v ? v : NULL;
        if (*dst[i] && strlen(*dst[i]) > WP_AUDIT_FIELD_MAX)
            return wp_error_set(WP_EINVAL, "'%s' is longer than %d bytes", fields[i],
                                WP_AUDIT_FIELD_MAX);
    }
    /* the reads this node still buffers go in first, as for the list */
    const wp_app *app = ctx->app;
    if (app && app->audit_worker)
        api_audit_worker_sync(app->audit_worker, 2000);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_table_begin(&t, ctx, format, "audit", cols)) < 0)
        goto out;
    do {
        f.cursor = cursor[0] ? cursor : NULL;
        if ((err = wp_store_audit_list(st, &page, &f)) < 0)
            break;
        for (size_t i = 0; i < page.n && err == 0; i++) {
            const wp_audit_row *r = &page.items[i];
            char *details = NULL;
            if ((err = details_text(ctx, r->details, &details)) == 0 &&
                (err = api_table_num(&t, r->seq)) == 0 && (err = api_table_word(&t, r->id)) == 0 &&
                (err = api_table_time(&t, r->ts_us)) == 0 &&
                (err = api_table_word(&t, r->actor)) == 0 &&
                (err = api_table_word(&t, r->action)) == 0 &&
                (err = api_table_word(&t, r->target)) == 0 &&
                (err = details ? api_table_word(&t, details) : api_table_text(&t, r->details)) ==
                    0 &&
                (err = api_table_text(&t, r->client)) == 0 &&
                (err = api_table_word(&t, r->hash)) == 0 &&
                (err = api_table_word(&t, r->prev_hash)) == 0)
                err = api_table_row_end(&t);
            free(details);
        }
        snprintf(cursor, sizeof cursor, "%s", page.next_cursor);
        wp_audit_page_release(&page);
    } while (err == 0 && cursor[0]);
    json_t *d = json_object();
    static const char *const q[] = {"actor", "action", "target", "customer", "from", "to", NULL};
    for (const char *const *k = q; *k; k++)
        detail_query(&d, ctx, *k);
    err = finish(ctx, &st, &t, err, "audit.export", NULL, "audit", d);
out:
    wp_audit_page_release(&page);
    api_table_release(&t);
    api_store_release(ctx, st);
    return err;
}
