/* SPDX-License-Identifier: MIT */
/* Importing customers and employees from a CSV or XLSX file (issue 15): a dry run that reports
 * what each row would change and why a row is bad, then an apply that makes those changes in
 * one transaction, each audited like the write it is. docs/internals/importexport.md has the
 * rules (matching, owner changes, all or nothing, limits). */
#include "api/api.h"
#include "sheet/sheet.h"
#include "store/customers.h"
#include "store/org.h"
#include "store/people.h"
#include "store/pool.h"
#include "store/rules.h"
#include "store/store.h"
#include "store/tags.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/id.h"
#include "util/utf8.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum import_kind { IMPORT_CUSTOMERS = 1, IMPORT_EMPLOYEES };

/* What the request asked for, read before the body. */
struct upload {
    enum import_kind kind;
    int apply, skip_bad;
    const char *plan; /* the dry run's plan the apply must match; NULL: none asked */
    wp_buf body;
};

/* --- the columns ----------------------------------------------------------------------------- */

enum cfield {
    C_PHONE,
    C_CHANNEL,
    C_CHANNEL_ID,
    C_WECHAT,
    C_WECOM,
    C_NAME,
    C_COMPANY,
    C_NOTES,
    C_GRADE,
    C_STAGE,
    C_TAGS,
    C_OWNER,
    C_COUNT
};
enum efield { E_USERNAME, E_NAME, E_ROLE, E_UNIT, E_COUNT };

struct alias {
    int field; /* -1: a column this import knows and leaves alone (what an export adds) */
    const char *name;
};

/* Headers compare after trimming and with ASCII letters folded: "Phone", "手机号". */
static const struct alias customer_aliases[] = {
    {C_PHONE, "phone"},        {C_PHONE, "mobile"},      {C_PHONE, "手机"},
    {C_PHONE, "手机号"},       {C_PHONE, "电话"},        {C_PHONE, "联系电话"},
    {C_CHANNEL, "channel"},    {C_CHANNEL, "渠道"},      {C_CHANNEL_ID, "channel_id"},
    {C_CHANNEL_ID, "渠道id"},  {C_CHANNEL_ID, "渠道账号"}, {C_WECHAT, "wechat"},
    {C_WECHAT, "微信"},        {C_WECHAT, "微信号"},     {C_WECOM, "wecom"},
    {C_WECOM, "企业微信"},     {C_NAME, "name"},         {C_NAME, "姓名"},
    {C_NAME, "客户"},          {C_NAME, "客户名称"},     {C_COMPANY, "company"},
    {C_COMPANY, "公司"},       {C_NOTES, "notes"},       {C_NOTES, "备注"},
    {C_GRADE, "grade"},        {C_GRADE, "等级"},        {C_GRADE, "客户等级"},
    {C_STAGE, "stage"},        {C_STAGE, "阶段"},        {C_STAGE, "销售阶段"},
    {C_TAGS, "tags"},          {C_TAGS, "标签"},         {C_OWNER, "owner"},
    {C_OWNER, "负责人"},       {C_OWNER, "归属员工"},    {-1, "id"},
    {-1, "owner_id"},          {-1, "owner_name"},       {-1, "created_at"},
    {-1, "last_contact_at"},   {0, NULL}};
static const char *const customer_fields[] = {"phone", "channel", "channel_id", "wechat",
                                              "wecom", "name",    "company",    "notes",
                                              "grade", "stage",   "tags",       "owner"};

static const struct alias employee_aliases[] = {
    {E_USERNAME, "username"}, {E_USERNAME, "用户名"}, {E_USERNAME, "账号"},
    {E_NAME, "name"},         {E_NAME, "姓名"},       {E_ROLE, "role"},
    {E_ROLE, "角色"},         {E_UNIT, "org_unit"},   {E_UNIT, "unit"},
    {E_UNIT, "部门"},         {E_UNIT, "组织"},       {-1, "id"},
    {-1, "org_unit_id"},      {-1, "active"},         {-1, "created_at"},
    {0, NULL}};
static const char *const employee_fields[] = {"username", "name", "role", "org_unit"};

/* The first row: which column holds each field (-1: none). */
static int read_header(wp_http_ctx *ctx, const wp_sheet_row *h, const struct alias *aliases,
                       const char *const *names, int n_fields, int *col)
{
    char cn[8];
    for (int f = 0; f < n_fields; f++)
        col[f] = -1;
    for (size_t i = 0; i < h->n; i++) {
        char key[128];
        const char *s = h->cells[i] ? h->cells[i] : "";
        size_t n = strlen(s), b = 0;
        while (b < n && (s[b] == ' ' || s[b] == '\t'))
            b++;
        while (n > b && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '*'))
            n--;
        wp_sheet_col_name(cn, i + 1);
        if (n == b)
            continue; /* a column without a header holds nothing we read */
        if (n - b >= sizeof key)
            return wp_error_set(WP_EINVAL, "column %s: a header longer than %zu bytes", cn,
                                sizeof key - 1);
        for (size_t k = 0; k < n - b; k++) {
            char c = s[b + k];
            key[k] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
        }
        key[n - b] = '\0';
        const struct alias *a = aliases;
        while (a->name && strcmp(a->name, key))
            a++;
        if (!a->name) {
            wp_buf known;
            wp_buf_init(&known, 512);
            for (int f = 0; f < n_fields; f++)
                if (wp_buf_addf(&known, "%s%s", f ? ", " : "", names[f]) < 0)
                    break;
            int err = wp_error_set(WP_EINVAL, "column %s '%s': not a column this import knows "
                                              "(%s)", cn, key, known.buf);
            wp_buf_release(&known);
            return err;
        }
        if (a->field < 0)
            continue;
        if (col[a->field] >= 0)
            return wp_error_set(WP_EINVAL, "column %s: '%s' is given twice", cn,
                                names[a->field]);
        col[a->field] = (int)i;
    }
    (void)ctx;
    return 0;
}

/* A cell of a row, trimmed (in place), or NULL when empty. A CSV cell that our own exports
 * defused with a leading ' (=, +, -, @) gets it back off. */
static const char *cell_of(const wp_sheet_row *r, int col, int csv)
{
    if (col < 0 || (size_t)col >= r->n || !r->cells[col])
        return NULL;
    char *s = r->cells[col];
    size_t n = strlen(s), b = 0;
    while (b < n && (s[b] == ' ' || s[b] == '\t'))
        b++;
    while (n > b && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    s[n] = '\0';
    s += b;
    if (csv && s[0] == '\'' && s[1] && strchr("=+-@", s[1]))
        s++;
    return *s ? s : NULL;
}

/* --- the report ------------------------------------------------------------------------------ */

struct report {
    json_t *items;
    size_t n_new, n_updated, n_unchanged, n_bad, n_owner;
    crypto_hash_sha256_state plan;
};

/* One bad cell: {"column": "C", "field": "grade", "message": "..."}. */
static int row_error(json_t *item, int col, const char *field, const char *msg)
{
    char cn[8] = "";
    json_t *errs = json_object_get(item, "errors");
    if (!errs) {
        errs = json_array();
        json_object_set_new(item, "errors", errs);
    }
    if (col >= 0)
        wp_sheet_col_name(cn, (size_t)col + 1);
    return json_array_append_new(errs, json_pack("{s:o,s:o,s:s}", "column",
                                                 col >= 0 ? json_string(cn) : json_null(),
                                                 "field", field ? json_string(field) : json_null(),
                                                 "message", msg)) < 0
               ? wp_error_set(WP_ENOMEM, "out of memory")
               : 0;
}

/* The last error's message as a row's error, naming its column. */
static int row_error_last(json_t *item, int col, const char *field)
{
    char msg[300];
    snprintf(msg, sizeof msg, "%s", wp_error_last());
    return row_error(item, col, field, msg);
}

static void plan_add(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void plan_add(struct report *r, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        crypto_hash_sha256_update(&r->plan, (const unsigned char *)line,
                                  (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    crypto_hash_sha256_update(&r->plan, (const unsigned char *)"\n", 1);
}

/* A change of one field: "field": [from, to]. */
static int change(json_t *changes, const char *field, const char *from, const char *to)
{
    return json_object_set_new(changes, field,
                               json_pack("[o,o]", api_jstr(from, 1), api_jstr(to, 1)));
}

/* --- customers: one row planned --------------------------------------------------------------- */

struct crow {
    size_t row;
    int bad;
    int is_new;
    char id[WP_ID_LEN + 1]; /* the customer matched */
    wp_customer_new n;      /* a new one */
    char phone[WP_ARCHIVE_PHONE_MAX + 1];
    const char *channel, *channel_id;
    wp_customer_edit e; /* an update: only what changes */
    int edits;
    const char *add_kind[2], *add_value[2]; /* identities it gains */
    int tags_given;
    const char *tags[WP_CUSTOMER_TAGS_MAX];
    size_t n_tags;
    char owner_to[WP_ID_LEN + 1], owner_from[WP_ID_LEN + 1];
    int owner_change, in_pool;
};

/* Who may own what the caller imports: people it may assign to (in its scope, active), by
 * username, read once each. */
struct owner {
    char username[65];
    wp_employee e;
    int ok; /* 0: none of the caller's, or inactive */
};

struct cplan {
    wp_http_ctx *ctx;
    wp_store *st;
    const api_scope *scope;
    const char *tenant_id;
    int col[C_COUNT];
    int csv;
    wp_tag *tags, *groups;
    size_t n_tags, n_groups;
    struct owner *owners;
    size_t n_owners, alloc_owners;
    struct crow *rows;
    size_t n_rows;
    /* identities and customers already taken by an earlier row of the file */
    char (*seen_ids)[WP_ID_LEN + 1];
    size_t *seen_rows;
    size_t n_seen;
    char **seen_keys;
    size_t *seen_key_rows;
    size_t n_seen_keys;
};

static const char *const stage_aliases[][2] = {
    {"lead", "lead"},       {"线索", "lead"},     {"contacted", "contacted"}, {"已联系", "contacted"},
    {"intent", "intent"},   {"有意向", "intent"}, {"意向", "intent"},         {"deal", "deal"},
    {"成交", "deal"},       {"已成交", "deal"},   {"lost", "lost"},           {"流失", "lost"},
    {"已流失", "lost"},     {NULL, NULL}};

static const char *stage_of(const char *s)
{
    char low[32];
    size_t n = strlen(s);
    if (n >= sizeof low)
        return s;
    for (size_t i = 0; i <= n; i++)
        low[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
    for (size_t i = 0; stage_aliases[i][0]; i++)
        if (!strcmp(low, stage_aliases[i][0]))
            return stage_aliases[i][1];
    return s;
}

static const char *grade_of(wp_http_ctx *ctx, const char *s)
{
    if (s[0] >= 'a' && s[0] <= 'd' && !s[1]) {
        char *g = wp_arena_strdup(ctx->arena, s);
        if (g)
            g[0] = (char)(s[0] - 'a' + 'A');
        return g ? g : s;
    }
    return s;
}

static int owner_find(struct cplan *p, const char *username, const struct owner **out)
{
    for (size_t i = 0; i < p->n_owners; i++)
        if (!strcmp(p->owners[i].username, username)) {
            *out = &p->owners[i];
            return 0;
        }
    if (p->n_owners == p->alloc_owners) {
        size_t a = p->alloc_owners ? p->alloc_owners * 2 : 16;
        struct owner *v = realloc(p->owners, a * sizeof *v);
        if (!v)
            return wp_error_set(WP_ENOMEM, "out of memory");
        p->owners = v;
        p->alloc_owners = a;
    }
    struct owner *o = &p->owners[p->n_owners];
    char *hash = NULL;
    memset(o, 0, sizeof *o);
    snprintf(o->username, sizeof o->username, "%s", username);
    int err = strlen(username) < sizeof o->username
                  ? wp_store_employee_find_login(p->st, &o->e, &hash, p->tenant_id, username)
                  : WP_ENOTFOUND;
    free(hash);
    if (err == 0)
        err = api_scope_allows_employee(p->ctx, p->st, p->scope, &o->e);
    if (err < 0 && err != WP_ENOTFOUND)
        return err;
    o->ok = err == 0 && o->e.active;
    p->n_owners++;
    *out = o;
    return 0;
}

/* A tag by name, or "group/name" when the name alone names several. */
static int tag_find(struct cplan *p, const char *name, const char **out_id, char *why, size_t cap)
{
    const char *slash = strchr(name, '/');
    size_t found = 0;
    *out_id = NULL;
    for (size_t i = 0; i < p->n_tags; i++) {
        const wp_tag *t = &p->tags[i];
        if (slash) {
            size_t gl = (size_t)(slash - name);
            const char *gname = NULL;
            for (size_t g = 0; g < p->n_groups; g++)
                if (!strcmp(p->groups[g].id, t->group_id))
                    gname = p->groups[g].name;
            if (!gname || strlen(gname) != gl || strncmp(gname, name, gl) ||
                strcmp(t->name, slash + 1))
                continue;
        } else if (strcmp(t->name, name)) {
            continue;
        }
        found++;
        *out_id = t->id;
    }
    if (found == 1)
        return 0;
    if (found == 0)
        snprintf(why, cap, "no tag '%s' (tags are made on the tags page first)", name);
    else
        snprintf(why, cap, "'%s' names %zu tags: write it as group/tag", name, found);
    *out_id = NULL;
    return WP_EINVAL;
}

/* Another row of the file has this identity or customer already: its row number, else 0. */
static size_t seen_key(struct cplan *p, const char *key, size_t row)
{
    for (size_t i = 0; i < p->n_seen_keys; i++)
        if (!strcmp(p->seen_keys[i], key))
            return p->seen_key_rows[i];
    char *k = wp_arena_strdup(p->ctx->arena, key);
    if (k && p->n_seen_keys < p->n_rows * 2 + 2) {
        p->seen_keys[p->n_seen_keys] = k;
        p->seen_key_rows[p->n_seen_keys++] = row;
    }
    return 0;
}

static size_t seen_customer(struct cplan *p, const char *id, size_t row)
{
    for (size_t i = 0; i < p->n_seen; i++)
        if (!strcmp(p->seen_ids[i], id))
            return p->seen_rows[i];
    memcpy(p->seen_ids[p->n_seen], id, WP_ID_LEN + 1);
    p->seen_rows[p->n_seen++] = row;
    return 0;
}

/* Plan one customer row into r and its report item. */
static int customer_plan(struct cplan *p, struct report *rep, const wp_sheet_row *sr,
                         struct crow *r, json_t *item)
{
    wp_http_ctx *ctx = p->ctx;
    const int *col = p->col;
    const char *v[C_COUNT];
    char why[300];
    int err = 0;

    for (int f = 0; f < C_COUNT; f++)
        v[f] = cell_of(sr, col[f], p->csv);
    memset(r, 0, sizeof *r);
    r->row = sr->number;

    /* the identities: a phone, and one channel id */
    if (v[C_PHONE] && wp_ingest_phone_normalize(r->phone, v[C_PHONE]) < 0) {
        r->bad = 1;
        if ((err = row_error_last(item, col[C_PHONE], "phone")) < 0)
            return err;
    }
    int chans = !!v[C_CHANNEL_ID] + !!v[C_WECHAT] + !!v[C_WECOM];
    if (chans > 1) {
        r->bad = 1;
        if ((err = row_error(item, -1, "channel_id", "one channel id per row: give one of "
                                                     "channel_id, wechat and wecom")) < 0)
            return err;
    } else if (v[C_WECHAT]) {
        r->channel = "wechat";
        r->channel_id = v[C_WECHAT];
    } else if (v[C_WECOM]) {
        r->channel = "wecom";
        r->channel_id = v[C_WECOM];
    } else if (v[C_CHANNEL_ID]) {
        r->channel = v[C_CHANNEL];
        r->channel_id = v[C_CHANNEL_ID];
        if (!r->channel) {
            r->bad = 1;
            if ((err = row_error(item, col[C_CHANNEL], "channel",
                                 "a channel id needs its channel (wechat, wecom, email, ...)")) < 0)
                return err;
        }
    }
    if (!r->phone[0] && !r->channel_id && !r->bad) {
        r->bad = 1;
        if ((err = row_error(item, col[C_PHONE], "phone",
                             "a customer is found by its phone or a channel id: give one")) < 0)
            return err;
    }
    if (r->phone[0])
        json_object_set_new(item, "phone", json_string(r->phone));
    if (r->channel_id)
        json_object_set_new(item, "identity",
                            json_pack("{s:o,s:o}", "channel", api_jstr(r->channel, 1), "id",
                                      api_jstr(r->channel_id, 0)));

    /* values */
    wp_customer_edit e = {.name = v[C_NAME], .company = v[C_COMPANY], .notes = v[C_NOTES],
                          .grade = v[C_GRADE] ? grade_of(ctx, v[C_GRADE]) : NULL,
                          .stage = v[C_STAGE] ? stage_of(v[C_STAGE]) : NULL};
    static const int edit_cols[] = {C_NAME, C_COMPANY, C_NOTES, C_GRADE, C_STAGE};
    const char *const *ev[] = {&e.name, &e.company, &e.notes, &e.grade, &e.stage};
    for (size_t i = 0; i < 5; i++) {
        wp_customer_edit one = {0};
        const char **slot[] = {&one.name, &one.company, &one.notes, &one.grade, &one.stage};
        *slot[i] = *ev[i];
        if (*ev[i] && wp_store_customer_edit_check(&one) < 0) {
            r->bad = 1;
            if ((err = row_error_last(item, col[edit_cols[i]], customer_fields[edit_cols[i]])) <
                0)
                return err;
        }
    }
    if (v[C_TAGS]) {
        /* separated by , ; | or the full-width ，and ；(EF BC 8C, EF BC 9B) */
        char *list = wp_arena_strdup(ctx->arena, v[C_TAGS]);
        size_t o = 0;
        for (size_t i = 0; list && list[i];) {
            if (!strncmp(list + i, "\xef\xbc\x8c", 3) || !strncmp(list + i, "\xef\xbc\x9b", 3)) {
                list[o++] = ',';
                i += 3;
            } else {
                list[o++] = list[i++];
            }
        }
        if (list)
            list[o] = '\0';
        r->tags_given = 1;
        char *save = NULL;
        for (char *t = list ? strtok_r(list, ",;|", &save) : NULL; t;
             t = strtok_r(NULL, ",;|", &save)) {
            while (*t == ' ')
                t++;
            for (size_t k = strlen(t); k && t[k - 1] == ' '; k--)
                t[k - 1] = '\0';
            if (!*t)
                continue;
            const char *id;
            if (tag_find(p, t, &id, why, sizeof why) < 0) {
                r->bad = 1;
                if ((err = row_error(item, col[C_TAGS], "tags", why)) < 0)
                    return err;
            } else if (r->n_tags >= WP_CUSTOMER_TAGS_MAX) {
                r->bad = 1;
                if ((err = row_error(item, col[C_TAGS], "tags", "too many tags")) < 0)
                    return err;
                break;
            } else {
                size_t k = 0;
                while (k < r->n_tags && strcmp(r->tags[k], id))
                    k++;
                if (k == r->n_tags)
                    r->tags[r->n_tags++] = id;
            }
        }
    }
    const struct owner *owner = NULL;
    if (v[C_OWNER]) {
        if ((err = owner_find(p, v[C_OWNER], &owner)) < 0)
            return err;
        if (!owner->ok) {
            r->bad = 1;
            snprintf(why, sizeof why, "'%s' is not an active employee you may give customers to",
                     v[C_OWNER]);
            if ((err = row_error(item, col[C_OWNER], "owner", why)) < 0)
                return err;
            owner = NULL;
        }
    }
    if (r->bad)
        return 0;

    /* the match: by phone, then by channel id (CONTRACT §5), within the file first */
    char key[400];
    size_t other = 0;
    if (r->phone[0]) {
        snprintf(key, sizeof key, "phone:%s", r->phone);
        other = seen_key(p, key, r->row);
    }
    if (!other && r->channel_id) {
        snprintf(key, sizeof key, "%s:%s", r->channel, r->channel_id);
        other = seen_key(p, key, r->row);
    }
    if (other) {
        r->bad = 1;
        snprintf(why, sizeof why, "the same customer as row %zu", other);
        return row_error(item, col[r->phone[0] ? C_PHONE : C_CHANNEL_ID],
                         r->phone[0] ? "phone" : "channel_id", why);
    }
    char by_phone[WP_ID_LEN + 1] = "", by_chan[WP_ID_LEN + 1] = "";
    if (r->phone[0] &&
        (err = wp_store_customer_find(p->st, by_phone, p->tenant_id, "phone", r->phone)) < 0 &&
        err != WP_ENOTFOUND)
        return err;
    if (r->channel_id && (err = wp_store_customer_find(p->st, by_chan, p->tenant_id, r->channel,
                                                       r->channel_id)) < 0 &&
        err != WP_ENOTFOUND)
        return err;
    err = 0;
    if (by_phone[0] && by_chan[0] && strcmp(by_phone, by_chan)) {
        r->bad = 1;
        return row_error(item, col[C_CHANNEL_ID] >= 0 ? col[C_CHANNEL_ID]
                                                      : col[C_WECHAT] >= 0 ? col[C_WECHAT]
                                                                           : col[C_WECOM],
                         "channel_id", "the phone and the channel id name two customers: merge "
                                       "them first");
    }
    const char *found = by_phone[0] ? by_phone : by_chan[0] ? by_chan : NULL;
    const char *self = api_caller_employee_id(api_caller_of(ctx));

    if (!found) {
        /* new: owned by the owner column, else by the importer */
        r->is_new = 1;
        if (!owner && (!self || !*self)) {
            r->bad = 1;
            return row_error(item, col[C_OWNER], "owner", "give an owner: an API key of no "
                                                          "known creator owns no customers");
        }
        r->n = (wp_customer_new){.name = e.name, .phone = r->phone[0] ? r->phone : NULL,
                                 .channel = r->channel, .channel_id = r->channel_id,
                                 .owner_employee_id = owner ? owner->e.id : self,
                                 .company = e.company, .notes = e.notes, .grade = e.grade,
                                 .stage = e.stage, .via = "import"};
        snprintf(r->owner_to, sizeof r->owner_to, "%s", r->n.owner_employee_id);
        json_object_set_new(item, "action", json_string("new"));
        json_object_set_new(item, "owner_employee_id", json_string(r->owner_to));
        json_t *ch = json_object();
        json_object_set_new(item, "changes", ch);
        const char *const names[] = {"name", "company", "notes", "grade", "stage"};
        for (size_t i = 0; i < 5; i++)
            if (*ev[i])
                change(ch, names[i], NULL, i == 2 ? "…" : *ev[i]);
        if (r->tags_given)
            json_object_set_new(ch, "tags", json_integer((json_int_t)r->n_tags));
        rep->n_new++;
        plan_add(rep, "%zu new %s %s:%s %s|%s|%s|%s|%s|%s", r->row, r->phone,
                 r->channel ? r->channel : "", r->channel_id ? r->channel_id : "",
                 r->owner_to, e.name ? e.name : "", e.company ? e.company : "",
                 e.notes ? e.notes : "", e.grade ? e.grade : "", e.stage ? e.stage : "");
        for (size_t k = 0; k < r->n_tags; k++)
            plan_add(rep, "tag %s", r->tags[k]);
        return 0;
    }

    /* an existing customer, which the caller must be able to change */
    wp_customer_crm cu;
    memset(&cu, 0, sizeof cu);
    if ((err = wp_store_customer_crm_get(p->st, &cu, p->tenant_id, found)) < 0)
        return err;
    if (api_scope_allows_customer(ctx, p->st, p->scope, &cu.base) < 0) {
        wp_customer_crm_release(&cu);
        r->bad = 1;
        /* no id, no name: that it exists is all the caller learns, as with POST /customers */
        return row_error(item, col[by_phone[0] ? C_PHONE : C_CHANNEL_ID],
                         by_phone[0] ? "phone" : "channel_id",
                         "names a customer outside your part of the company");
    }
    if ((other = seen_customer(p, cu.base.id, r->row))) {
        wp_customer_crm_release(&cu);
        r->bad = 1;
        snprintf(why, sizeof why, "the same customer as row %zu", other);
        return row_error(item, col[C_PHONE], "phone", why);
    }
    snprintf(r->id, sizeof r->id, "%s", cu.base.id);
    r->in_pool = cu.in_pool;
    json_object_set_new(item, "customer_id", json_string(r->id));
    json_object_set_new(item, "name", api_jstr(cu.base.name, 0));
    json_t *ch = json_object();
    json_object_set_new(item, "changes", ch);
    plan_add(rep, "%zu update %s", r->row, r->id);
    /* what a caller who sees masked values wrote back as shown is no change */
    const char *cur[] = {cu.base.name, cu.company, cu.notes ? cu.notes : "", cu.base.grade,
                         cu.base.stage};
    const char **dst[] = {&r->e.name, &r->e.company, &r->e.notes, &r->e.grade, &r->e.stage};
    const char *const names[] = {"name", "company", "notes", "grade", "stage"};
    for (size_t i = 0; i < 5; i++) {
        const char *nv = *ev[i];
        if (nv && i < 3 && api_view_edit(ctx, names[i], cur[i], &nv) < 0) {
            wp_customer_crm_release(&cu);
            r->bad = 1;
            return row_error_last(item, col[edit_cols[i]], names[i]);
        }
        if (!nv || !strcmp(nv, cur[i]))
            continue;
        *dst[i] = nv;
        r->edits++;
        change(ch, names[i], i == 2 ? NULL : cur[i], i == 2 ? "…" : nv);
        plan_add(rep, "%s=%s", names[i], nv);
    }
    /* identities it gains */
    if (r->phone[0] && !by_phone[0]) {
        r->add_kind[0] = "phone";
        r->add_value[0] = r->phone;
        change(ch, "phone", NULL, r->phone);
        plan_add(rep, "+phone:%s", r->phone);
    }
    if (r->channel_id && !by_chan[0]) {
        r->add_kind[1] = r->channel;
        r->add_value[1] = r->channel_id;
        json_object_set_new(ch, "identity", json_pack("[n,s++]", r->channel, ":", r->channel_id));
        plan_add(rep, "+%s:%s", r->channel, r->channel_id);
    }
    if (r->tags_given) {
        wp_tag *have = NULL;
        size_t n_have = 0;
        if ((err = wp_store_customer_tags(p->st, &have, &n_have, p->tenant_id, r->id)) < 0) {
            wp_customer_crm_release(&cu);
            return err;
        }
        int same = n_have == r->n_tags;
        for (size_t k = 0; same && k < r->n_tags; k++) {
            size_t j = 0;
            while (j < n_have && strcmp(have[j].id, r->tags[k]))
                j++;
            same = j < n_have;
        }
        if (!same) {
            json_t *from = json_array(), *to = json_array();
            for (size_t j = 0; j < n_have; j++)
                json_array_append_new(from, api_jstr(have[j].name, 0));
            for (size_t k = 0; k < r->n_tags; k++)
                for (size_t t = 0; t < p->n_tags; t++)
                    if (!strcmp(p->tags[t].id, r->tags[k]))
                        json_array_append_new(to, api_jstr(p->tags[t].name, 0));
            json_object_set_new(ch, "tags", json_pack("[o,o]", from, to));
            r->edits++;
            for (size_t k = 0; k < r->n_tags; k++)
                plan_add(rep, "tag %s", r->tags[k]);
        } else {
            r->tags_given = 0;
        }
        free(have);
    }
    /* the owner changes only through the owner column, and it says so */
    if (owner && (cu.in_pool || strcmp(owner->e.id, cu.base.owner_employee_id))) {
        r->owner_change = 1;
        snprintf(r->owner_from, sizeof r->owner_from, "%s",
                 cu.in_pool ? "" : cu.base.owner_employee_id);
        snprintf(r->owner_to, sizeof r->owner_to, "%s", owner->e.id);
        json_object_set_new(item, "owner_change",
                            json_pack("{s:o,s:s,s:b}", "from", api_jstr(r->owner_from, 1), "to",
                                      r->owner_to, "from_pool", cu.in_pool));
        plan_add(rep, "owner %s", r->owner_to);
        rep->n_owner++;
    }
    json_object_set_new(item, "owner_employee_id",
                        api_jstr(cu.in_pool ? NULL : cu.base.owner_employee_id, 1));
    wp_customer_crm_release(&cu);
    int any = r->edits || r->add_kind[0] || r->add_kind[1] || r->owner_change;
    json_object_set_new(item, "action", json_string(any ? "update" : "unchanged"));
    if (any)
        rep->n_updated++;
    else
        rep->n_unchanged++;
    return 0;
}

/* Apply one planned customer row inside the open transaction, with its audit rows. */
static int customer_apply(struct cplan *p, const struct crow *r, const char *import_id,
                          const wp_crm_actor *who, int64_t now)
{
    wp_http_ctx *ctx = p->ctx;
    const unsigned char *key = ((const wp_app *)ctx->app)->audit_key;
    char id[WP_ID_LEN + 1], existing[WP_ID_LEN + 1], target[WP_ID_LEN + 16];
    const char *field = NULL;
    int err = 0, changed = 0;
    json_t *d = NULL;

    if (r->is_new) {
        if ((err = wp_store_customer_create(p->st, id, existing, &field, p->tenant_id, &r->n, who,
                                            now)) < 0) {
            if (err == WP_EEXISTS)
                err = wp_error_set(WP_EEXISTS, "row %zu: its %s names a customer made since the "
                                               "dry run: run it again", r->row, field);
            return err;
        }
        d = json_pack("{s:s,s:s,s:I,s:s}", "via", "import", "import", import_id, "row",
                      (json_int_t)r->row, "owner", r->n.owner_employee_id);
    } else {
        snprintf(id, sizeof id, "%s", r->id);
        if (r->edits && (r->e.name || r->e.company || r->e.notes || r->e.grade || r->e.stage) &&
            (err = wp_store_customer_edit(p->st, &changed, p->tenant_id, id, &r->e, who, now)) < 0)
            return err;
        for (int i = 0; i < 2; i++)
            if (r->add_kind[i] &&
                (err = wp_store_customer_identity_add(p->st, existing, p->tenant_id, id,
                                                      r->add_kind[i], r->add_value[i], who,
                                                      now)) < 0) {
                if (err == WP_EEXISTS)
                    err = wp_error_set(WP_EEXISTS, "row %zu: its %s names a customer made since "
                                                   "the dry run: run it again", r->row,
                                       r->add_kind[i]);
                return err;
            }
        d = json_pack("{s:s,s:s,s:I,s:o,s:o,s:o,s:o,s:o,s:b}", "via", "import", "import",
                      import_id, "row", (json_int_t)r->row, "name", api_jstr(r->e.name, 0),
                      "company", api_jstr(r->e.company, 0), "stage", api_jstr(r->e.stage, 0),
                      "grade", api_jstr(r->e.grade, 0), "identity",
                      api_jstr(r->add_kind[1] ? r->add_kind[1] : r->add_kind[0], 0), "notes",
                      r->e.notes != NULL);
    }
    if (!d)
        return wp_error_set(WP_ENOMEM, "out of memory");
    if (r->tags_given &&
        (err = wp_store_customer_tags_change(p->st, NULL, p->tenant_id, id, 1, r->tags, r->n_tags,
                                             NULL, 0, NULL, 0, who, now)) < 0)
        goto out;
    snprintf(target, sizeof target, "customer:%s", id);
    if ((err = api_audit(ctx, p->st, r->is_new ? "customer.create" : "customer.update", target,
                         d)) < 0)
        goto out;
    if (r->owner_change) {
        if (r->in_pool) {
            wp_pool_move m = {.tenant_id = p->tenant_id, .customer_id = id,
                              .employee_id = r->owner_to, .who = *who, .now_us = now};
            err = wp_store_pool_take(p->st, &m);
        } else {
            err = wp_store_customer_assign(p->st, &changed, NULL, p->tenant_id, id, r->owner_to,
                                           who, now);
        }
        if (err < 0)
            goto out;
        json_decref(d);
        d = json_pack("{s:o,s:s,s:s,s:s,s:I}", "from", api_jstr(r->owner_from, 1), "to",
                      r->owner_to, "via", "import", "import", import_id, "row",
                      (json_int_t)r->row);
        if ((err = api_audit(ctx, p->st, r->in_pool ? "pool.assign" : "customer.assign", target,
                             d)) < 0)
            goto out;
    }
    /* the grading rules see the new facts at once, as after an edit */
    err = wp_store_grade_rules_apply(p->st, NULL, key, p->tenant_id, id, now);
out:
    json_decref(d);
    if (err < 0 && err != WP_ENOMEM && strncmp(wp_error_last(), "row ", 4)) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", wp_error_last());
        wp_error_set(err, "row %zu: %s", r->row, msg);
    }
    return err;
}

/* --- employees: one row planned ---------------------------------------------------------------- */

struct unit {
    char path[600]; /* names from the top, joined by '/' */
    char id[WP_ID_LEN + 1]; /* "" until made */
    int depth;
};

struct erow {
    size_t row;
    int bad, is_new;
    wp_employee before;
    const char *username, *name;
    int role;          /* 0: unchanged */
    int unit;          /* index into units; -1: unchanged */
    wp_employee_change ch;
};

struct eplan {
    wp_http_ctx *ctx;
    wp_store *st;
    const char *tenant_id;
    int col[E_COUNT];
    int csv;
    wp_org_unit top;
    struct unit *units;
    size_t n_units, alloc_units;
    struct erow *rows;
    size_t n_rows;
};

static int unit_add(struct eplan *p, const char *path, const char *id, int depth)
{
    if (p->n_units == p->alloc_units) {
        size_t a = p->alloc_units ? p->alloc_units * 2 : 64;
        struct unit *v = realloc(p->units, a * sizeof *v);
        if (!v)
            return wp_error_set(WP_ENOMEM, "out of memory");
        p->units = v;
        p->alloc_units = a;
    }
    struct unit *u = &p->units[p->n_units++];
    snprintf(u->path, sizeof u->path, "%s", path);
    snprintf(u->id, sizeof u->id, "%s", id ? id : "");
    u->depth = depth;
    return 0;
}

static int unit_index(const struct eplan *p, const char *path)
{
    for (size_t i = 0; i < p->n_units; i++)
        if (!strcmp(p->units[i].path, path))
            return (int)i;
    return -1;
}

/* The tenant's units by path of names ("" for the top). */
static int units_load(struct eplan *p, const api_scope *scope)
{
    wp_org_unit_page page;
    wp_org_unit_filter f = {.tenant_id = p->tenant_id, .scope = &scope->store,
                            .limit = WP_PAGE_MAX};
    char cursor[WP_ID_LEN + 1] = "";
    int err;
    memset(&page, 0, sizeof page);
    if ((err = wp_store_org_unit_top(p->st, &p->top, p->tenant_id)) < 0)
        return err;
    do {
        f.cursor = cursor[0] ? cursor : NULL;
        if ((err = wp_store_org_units_list(p->st, &page, &f)) < 0)
            return err;
        /* tree order: a parent comes before its children, so its path is known */
        for (size_t i = 0; i < page.n && err == 0; i++) {
            const wp_org_unit *u = &page.items[i];
            char path[600] = "";
            if (u->parent_id[0]) {
                int parent = -1;
                for (size_t k = 0; k < p->n_units; k++)
                    if (!strcmp(p->units[k].id, u->parent_id))
                        parent = (int)k;
                if (parent < 0)
                    continue;
                const char *pp = p->units[parent].path;
                if (strlen(pp) + strlen(u->name) + 2 > sizeof path)
                    continue; /* deeper than any path a file can name */
                memcpy(path, pp, strlen(pp) + 1);
                if (*pp)
                    strncat(path, "/", sizeof path - strlen(path) - 1);
                strncat(path, u->name, sizeof path - strlen(path) - 1);
            }
            err = unit_add(p, path, u->id, wp_org_unit_depth(u));
        }
        snprintf(cursor, sizeof cursor, "%s", page.next_cursor);
        wp_org_unit_page_release(&page);
    } while (err == 0 && cursor[0]);
    return err;
}

/* A unit's path as written ("华东区/上海店", "/总部/华东区", with the top's name or without) to
 * the index of a known or planned unit; planned ones (and their parents) are added. */
static int unit_resolve(struct eplan *p, const char *written, int *out, char *why, size_t cap)
{
    char path[600] = "", seg[404];
    const char *s = written;
    int depth = 1, err;
    size_t len = 0;
    while (*s == '/' || *s == ' ')
        s++;
    for (int first = 1; *s; first = 0) {
        size_t n = strcspn(s, "/");
        size_t b = 0, e = n;
        while (b < e && s[b] == ' ')
            b++;
        while (e > b && s[e - 1] == ' ')
            e--;
        if (e - b >= sizeof seg) {
            snprintf(why, cap, "a unit name longer than 100 characters");
            return WP_EINVAL;
        }
        memcpy(seg, s + b, e - b);
        seg[e - b] = '\0';
        s += n;
        while (*s == '/')
            s++;
        if (!*seg)
            continue;
        if (first && !strcmp(seg, p->top.name))
            continue; /* the top's own name may lead the path */
        if (wp_text_check("unit", seg, strlen(seg), 100, 0) < 0) {
            snprintf(why, cap, "unit '%s': %s", seg, wp_error_last());
            return WP_EINVAL;
        }
        if (len + strlen(seg) + 2 >= sizeof path) {
            snprintf(why, cap, "a unit path that is too long");
            return WP_EINVAL;
        }
        len += (size_t)snprintf(path + len, sizeof path - len, "%s%s", len ? "/" : "", seg);
        depth++;
        if (depth > 32) {
            snprintf(why, cap, "a unit path deeper than 32 levels");
            return WP_EINVAL;
        }
        if (unit_index(p, path) < 0 && (err = unit_add(p, path, NULL, depth)) < 0)
            return err;
    }
    *out = unit_index(p, path);
    return 0;
}

static const char *const role_aliases[][2] = {
    {"admin", "admin"},     {"管理员", "admin"},   {"manager", "manager"}, {"经理", "manager"},
    {"主管", "manager"},    {"店长", "manager"},   {"auditor", "auditor"}, {"审计", "auditor"},
    {"合规", "auditor"},    {"sales", "sales"},    {"销售", "sales"},      {"业务员", "sales"},
    {NULL, NULL}};

static int employee_plan(struct eplan *p, struct report *rep, const wp_sheet_row *sr,
                         struct erow *r, json_t *item)
{
    const int *col = p->col;
    const char *v[E_COUNT];
    const char *self = api_caller_employee_id(api_caller_of(p->ctx));
    char why[300];
    int err = 0;

    for (int f = 0; f < E_COUNT; f++)
        v[f] = cell_of(sr, col[f], p->csv);
    memset(r, 0, sizeof *r);
    r->row = sr->number;
    r->unit = -1;
    r->ch = (wp_employee_change)WP_EMPLOYEE_CHANGE_INIT;
    r->username = v[E_USERNAME];
    size_t ul = r->username ? strlen(r->username) : 0;
    if (!ul || ul > 64 ||
        strspn(r->username, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@") !=
            ul) {
        r->bad = 1;
        if ((err = row_error(item, col[E_USERNAME], "username",
                             "a username is 1-64 of a-z A-Z 0-9 . _ - @")) < 0)
            return err;
    } else {
        json_object_set_new(item, "username", json_string(r->username));
    }
    if (v[E_NAME] && wp_text_check("'name'", v[E_NAME], strlen(v[E_NAME]), 100, 0) < 0) {
        r->bad = 1;
        if ((err = row_error_last(item, col[E_NAME], "name")) < 0)
            return err;
    }
    r->name = v[E_NAME];
    if (v[E_ROLE]) {
        char low[32];
        size_t n = strlen(v[E_ROLE]);
        const char *role = NULL;
        for (size_t i = 0; i <= n && n < sizeof low; i++)
            low[i] = v[E_ROLE][i] >= 'A' && v[E_ROLE][i] <= 'Z' ? (char)(v[E_ROLE][i] + 32)
                                                              : v[E_ROLE][i];
        for (size_t i = 0; n < sizeof low && role_aliases[i][0]; i++)
            if (!strcmp(low, role_aliases[i][0]))
                role = role_aliases[i][1];
        enum wp_role rr;
        if (!role || wp_role_parse(&rr, role) < 0) {
            r->bad = 1;
            if ((err = row_error(item, col[E_ROLE], "role",
                                 "a role is admin, manager, auditor or sales")) < 0)
                return err;
        } else {
            r->role = (int)rr;
        }
    }
    if (v[E_UNIT] && (err = unit_resolve(p, v[E_UNIT], &r->unit, why, sizeof why)) != 0) {
        if (err != WP_EINVAL)
            return err;
        r->bad = 1;
        if ((err = row_error(item, col[E_UNIT], "org_unit", why)) < 0)
            return err;
    }
    if (r->bad)
        return 0;
    for (size_t i = 0; i < p->n_rows && p->rows[i].row < r->row; i++)
        if (p->rows[i].username && !strcmp(p->rows[i].username, r->username)) {
            r->bad = 1;
            snprintf(why, sizeof why, "the same username as row %zu", p->rows[i].row);
            return row_error(item, col[E_USERNAME], "username", why);
        }
    char *hash = NULL;
    err = wp_store_employee_find_login(p->st, &r->before, &hash, p->tenant_id, r->username);
    free(hash);
    if (err < 0 && err != WP_ENOTFOUND)
        return err;
    const char *unit_path = r->unit >= 0 ? p->units[r->unit].path : NULL;
    if (err == WP_ENOTFOUND) {
        r->is_new = 1;
        if (r->unit < 0) {
            if (col[E_UNIT] >= 0) {
                r->bad = 1;
                return row_error(item, col[E_UNIT], "org_unit", "a new employee needs its unit");
            }
            r->unit = unit_index(p, ""); /* no unit column: the top */
            if (r->unit < 0)
                return wp_error_set(WP_EIO, "the tenant has no top unit");
        }
        if (!r->role)
            r->role = WP_ROLE_SALES;
        if (!r->name)
            r->name = r->username;
        json_object_set_new(item, "action", json_string("new"));
        json_object_set_new(item, "changes",
                            json_pack("{s:[n,o],s:[n,s],s:[n,o]}", "name", api_jstr(r->name, 0),
                                      "role", wp_role_name((enum wp_role)r->role), "org_unit",
                                      api_jstr(p->units[r->unit].path, 0)));
        rep->n_new++;
        plan_add(rep, "%zu new %s %s %d %s", r->row, r->username, r->name, r->role,
                 p->units[r->unit].path);
        return 0;
    }
    /* an existing account: nobody changes its own role or unit, as PATCH /employees says */
    json_object_set_new(item, "employee_id", json_string(r->before.id));
    json_t *ch = json_object();
    json_object_set_new(item, "changes", ch);
    plan_add(rep, "%zu update %s", r->row, r->before.id);
    if (r->name && strcmp(r->name, r->before.name)) {
        r->ch.name = r->name;
        change(ch, "name", r->before.name, r->name);
        plan_add(rep, "name=%s", r->name);
    }
    if (r->role && r->role != (int)r->before.role) {
        r->ch.role = r->role;
        json_object_set_new(ch, "role", json_pack("[s,s]", wp_role_name(r->before.role),
                                                  wp_role_name((enum wp_role)r->role)));
        plan_add(rep, "role=%d", r->role);
    }
    if (r->unit >= 0 && strcmp(p->units[r->unit].id, r->before.org_unit_id)) {
        const char *from = "";
        for (size_t k = 0; k < p->n_units; k++)
            if (!strcmp(p->units[k].id, r->before.org_unit_id))
                from = p->units[k].path;
        json_object_set_new(ch, "org_unit", json_pack("[s,s]", from, unit_path));
        plan_add(rep, "unit=%s", unit_path);
    } else {
        r->unit = -1;
    }
    if (self && !strcmp(self, r->before.id) && (r->ch.role || r->unit >= 0)) {
        r->bad = 1;
        json_object_del(item, "changes");
        return row_error(item, -1, NULL, "you may not change your own role or unit");
    }
    int any = r->ch.name || r->ch.role || r->unit >= 0;
    json_object_set_new(item, "action", json_string(any ? "update" : "unchanged"));
    if (any)
        rep->n_updated++;
    else
        rep->n_unchanged++;
    return 0;
}

/* The unit at index i, made (with its parents) when it is only planned. */
static int unit_make(struct eplan *p, int i, const char *import_id)
{
    struct unit *u = &p->units[i];
    int err;
    if (u->id[0])
        return 0;
    char parent_path[600];
    snprintf(parent_path, sizeof parent_path, "%s", u->path);
    char *slash = strrchr(parent_path, '/');
    const char *name = slash ? u->path + (slash - parent_path) + 1 : u->path;
    if (slash)
        *slash = '\0';
    else
        parent_path[0] = '\0';
    int parent = unit_index(p, parent_path);
    if (parent < 0)
        return wp_error_set(WP_EIO, "unit '%s' has no parent", u->path);
    if ((err = unit_make(p, parent, import_id)) < 0)
        return err;
    wp_org_unit made;
    u = &p->units[i];
    enum wp_org_kind kind = u->depth == 2 ? WP_ORG_REGION : u->depth == 3 ? WP_ORG_STORE : WP_ORG_TEAM;
    if ((err = wp_store_org_unit_create(p->st, &made, p->tenant_id, p->units[parent].id, name,
                                        kind)) < 0)
        return err;
    snprintf(u->id, sizeof u->id, "%s", made.id);
    json_t *d = json_pack("{s:o,s:s,s:s,s:s,s:s}", "name", api_jstr(made.name, 0), "parent_id",
                          made.parent_id, "kind", wp_org_kind_name(kind), "via", "import",
                          "import", import_id);
    char target[WP_ID_LEN + 16];
    snprintf(target, sizeof target, "org_unit:%s", made.id);
    err = d ? api_audit(p->ctx, p->st, "org_unit.create", target, d)
            : wp_error_set(WP_ENOMEM, "out of memory");
    json_decref(d);
    return err;
}

static int employee_apply(struct eplan *p, struct erow *r, const char *import_id)
{
    char target[WP_ID_LEN + 16];
    json_t *d = NULL;
    int err;
    if (r->unit >= 0 && (err = unit_make(p, r->unit, import_id)) < 0)
        goto out;
    if (r->is_new) {
        wp_employee e;
        /* no password: a spreadsheet never carries one; an admin sets it (PUT .../password) */
        if ((err = wp_store_employee_create(p->st, &e, p->tenant_id, p->units[r->unit].id,
                                            r->name, r->username, (enum wp_role)r->role,
                                            NULL)) < 0)
            goto out;
        snprintf(target, sizeof target, "employee:%s", e.id);
        d = json_pack("{s:o,s:s,s:s,s:s,s:s,s:s,s:I}", "name", api_jstr(e.name, 0), "username",
                      e.username, "org_unit_id", e.org_unit_id, "role", wp_role_name(e.role),
                      "via", "import", "import", import_id, "row", (json_int_t)r->row);
        err = d ? api_audit(p->ctx, p->st, "employee.create", target, d)
                : wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    wp_employee after;
    int64_t keys = 0;
    if (r->unit >= 0)
        r->ch.org_unit_id = p->units[r->unit].id;
    if ((err = wp_store_employee_update(p->st, &after, p->tenant_id, r->before.id, &r->ch)) < 0 ||
        (err = api_keys_end_unheld(p->ctx, p->st, after.id, &keys)) < 0)
        goto out;
    snprintf(target, sizeof target, "employee:%s", after.id);
    d = json_pack("{s:s,s:s,s:I}", "via", "import", "import", import_id, "row", (json_int_t)r->row);
    if (d && strcmp(r->before.name, after.name))
        json_object_set_new(d, "name", json_pack("[o,o]", api_jstr(r->before.name, 0),
                                                 api_jstr(after.name, 0)));
    if (d && r->before.role != after.role)
        json_object_set_new(d, "role",
                            json_pack("[s,s]", wp_role_name(r->before.role), wp_role_name(after.role)));
    if (d && strcmp(r->before.org_unit_id, after.org_unit_id))
        json_object_set_new(d, "org_unit_id",
                            json_pack("[s,s]", r->before.org_unit_id, after.org_unit_id));
    if (d && keys)
        json_object_set_new(d, "api_keys_revoked", json_integer(keys));
    err = d ? api_audit(p->ctx, p->st, "employee.update", target, d)
            : wp_error_set(WP_ENOMEM, "out of memory");
out:
    json_decref(d);
    if (err < 0 && err != WP_ENOMEM) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", wp_error_last());
        wp_error_set(err, "row %zu: %s", r->row, msg);
    }
    return err;
}

/* --- the request ------------------------------------------------------------------------------ */

static int query_bool(const wp_http_ctx *ctx, const char *name, int *out)
{
    const char *s = wp_http_query(ctx, name);
    *out = 0;
    if (!s || !*s || !strcmp(s, "false"))
        return 0;
    if (!strcmp(s, "true")) {
        *out = 1;
        return 0;
    }
    return wp_error_set(WP_EINVAL, "'%s' must be true or false", name);
}

static int upload_write(void *arg, const char *data, size_t len)
{
    struct upload *u = arg;
    return wp_buf_add(&u->body, data, len);
}

static void upload_release(void *arg)
{
    struct upload *u = arg;
    wp_buf_release(&u->body);
}

static int limit_reply(wp_http_ctx *ctx, unsigned status, const char *limit, size_t max,
                       const wp_sheet_where *w)
{
    char msg[300];
    snprintf(msg, sizeof msg, "%s", wp_error_last());
    json_t *d = json_pack("{s:s,s:I}", "limit", limit, "max", (json_int_t)max);
    if (d && w && w->row)
        json_object_set_new(d, "row", json_integer((json_int_t)w->row));
    return wp_http_reply_fail(ctx, status, status == 413 ? "body_too_large" : "limit_exceeded", d,
                              "%s", msg);
}

/* The report as an answer: {"kind", "mode", "applied", "format", "rows", "columns",
 * "summary", "plan", "items", and for employees "units"}. */
static json_t *report_json(struct upload *u, struct report *rep, const char *format,
                           size_t rows, const char *const *names, const int *col, int n_fields,
                           const char *plan_hex, int applied)
{
    json_t *cols = json_object();
    char cn[8];
    for (int f = 0; cols && f < n_fields; f++)
        if (col[f] >= 0) {
            wp_sheet_col_name(cn, (size_t)col[f] + 1);
            json_object_set_new(cols, names[f], json_string(cn));
        }
    return json_pack("{s:s,s:s,s:b,s:b,s:s,s:I,s:o,s:{s:I,s:I,s:I,s:I,s:I},s:s,s:O}", "kind",
                     u->kind == IMPORT_CUSTOMERS ? "customers" : "employees", "mode",
                     u->apply ? "apply" : "dry_run", "applied", applied, "skip_bad", u->skip_bad,
                     "format", format, "rows", (json_int_t)rows, "columns", cols, "summary",
                     "new", (json_int_t)rep->n_new, "updated", (json_int_t)rep->n_updated,
                     "unchanged", (json_int_t)rep->n_unchanged, "owner_changes",
                     (json_int_t)rep->n_owner, "bad", (json_int_t)rep->n_bad, "plan", plan_hex,
                     "items", rep->items);
}

static int upload_end(wp_http_ctx *ctx, void *arg, int err)
{
    struct upload *u = arg;
    const api_caller *c = api_caller_of(ctx);
    wp_sheet sheet;
    wp_sheet_where where;
    wp_sheet_limits lim = {API_IMPORT_ROWS_MAX + 1, API_IMPORT_COLUMNS_MAX,
                           API_IMPORT_CELL_BYTES_MAX, API_IMPORT_PART_BYTES_MAX};
    wp_store *st = NULL;
    api_scope scope;
    struct report rep;
    struct cplan cp;
    struct eplan ep;
    wp_crm_actor who;
    char actor[64], import_id[WP_ID_LEN + 1], plan_hex[65], file_hex[65];
    unsigned char digest[32];
    json_t *out = NULL;
    int in_tx = 0;

    memset(&sheet, 0, sizeof sheet);
    memset(&rep, 0, sizeof rep);
    memset(&cp, 0, sizeof cp);
    memset(&ep, 0, sizeof ep);
    if (err == WP_ELIMIT) {
        wp_error_set(WP_ELIMIT, "the file is larger than %u bytes", API_IMPORT_BYTES_MAX);
        return limit_reply(ctx, 413, "bytes", API_IMPORT_BYTES_MAX, NULL);
    }
    if (err < 0)
        return err;
    enum wp_sheet_format fmt = wp_sheet_sniff(u->body.buf, u->body.len);
    if (u->body.len == 0)
        return wp_error_set(WP_EINVAL, "no file: send the CSV or XLSX file as the body");
    if ((err = wp_sheet_read(&sheet, fmt, u->body.buf, u->body.len, &lim, &where)) < 0) {
        if (err == WP_ELIMIT) {
            size_t max = !strcmp(where.limit, "rows")      ? API_IMPORT_ROWS_MAX
                         : !strcmp(where.limit, "columns") ? API_IMPORT_COLUMNS_MAX
                         : !strcmp(where.limit, "cell_bytes") ? API_IMPORT_CELL_BYTES_MAX
                                                               : API_IMPORT_PART_BYTES_MAX;
            if (!strcmp(where.limit, "rows"))
                wp_error_set(WP_ELIMIT, "more than %d rows (the header not counted)",
                             API_IMPORT_ROWS_MAX);
            return limit_reply(ctx, 422, where.limit, max, &where);
        }
        if (err == WP_EINVAL) {
            char msg[300];
            snprintf(msg, sizeof msg, "%s", wp_error_last());
            json_t *d = json_object();
            if (d && where.row)
                json_object_set_new(d, "row", json_integer((json_int_t)where.row));
            if (d && where.col) {
                char cn[8];
                wp_sheet_col_name(cn, where.col);
                json_object_set_new(d, "column", json_string(cn));
            }
            return wp_http_reply_fail(ctx, 400, "invalid_file", d, "%s", msg);
        }
        return err;
    }
    const char *format = fmt == WP_SHEET_XLSX ? "xlsx" : "csv";
    crypto_hash_sha256(digest, (const unsigned char *)u->body.buf, u->body.len);
    sodium_bin2hex(file_hex, sizeof file_hex, digest, sizeof digest);
    wp_buf_release(&u->body); /* the rows hold what is needed now */
    if (sheet.n_rows == 0) {
        err = wp_error_set(WP_EINVAL, "the file is empty: the first row names the columns");
        goto out;
    }
    size_t n_data = sheet.n_rows - 1;
    int n_fields = u->kind == IMPORT_CUSTOMERS ? C_COUNT : E_COUNT;
    int col[(int)C_COUNT > (int)E_COUNT ? (int)C_COUNT : (int)E_COUNT];
    const char *const *names = u->kind == IMPORT_CUSTOMERS ? customer_fields : employee_fields;
    if ((err = read_header(ctx, &sheet.rows[0],
                           u->kind == IMPORT_CUSTOMERS ? customer_aliases : employee_aliases,
                           names, n_fields, col)) < 0)
        goto out;
    if (u->kind == IMPORT_CUSTOMERS && col[C_PHONE] < 0 && col[C_CHANNEL_ID] < 0 &&
        col[C_WECHAT] < 0 && col[C_WECOM] < 0) {
        err = wp_error_set(WP_EINVAL, "no column finds a customer: give phone, or a channel id "
                                      "(channel and channel_id, wechat, wecom)");
        goto out;
    }
    if (u->kind == IMPORT_EMPLOYEES && col[E_USERNAME] < 0) {
        err = wp_error_set(WP_EINVAL, "no column 'username': employees are found by it");
        goto out;
    }
    if (!(rep.items = json_array())) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    crypto_hash_sha256_init(&rep.plan);
    plan_add(&rep, "%s %d", u->kind == IMPORT_CUSTOMERS ? "customers" : "employees", u->skip_bad);
    api_crm_actor(ctx, &who, actor);
    wp_id_new(import_id);

    if ((err = api_store_acquire(ctx, &st)) < 0)
        goto out;
    /* an apply plans again inside its transaction: what it applies is what it checked */
    if (u->apply) {
        if ((err = wp_store_begin(st)) < 0)
            goto out;
        in_tx = 1;
    }
    if ((err = api_scope_for(ctx, st, &scope)) < 0)
        goto out;
    if (u->kind == IMPORT_CUSTOMERS) {
        cp = (struct cplan){.ctx = ctx, .st = st, .scope = &scope, .tenant_id = c->tenant_id,
                            .csv = fmt == WP_SHEET_CSV, .n_rows = n_data};
        memcpy(cp.col, col, sizeof cp.col);
        if (!(cp.rows = calloc(n_data + 1, sizeof *cp.rows)) ||
            !(cp.seen_ids = calloc(n_data + 1, sizeof *cp.seen_ids)) ||
            !(cp.seen_rows = calloc(n_data + 1, sizeof *cp.seen_rows)) ||
            !(cp.seen_keys = calloc(n_data * 2 + 2, sizeof *cp.seen_keys)) ||
            !(cp.seen_key_rows = calloc(n_data * 2 + 2, sizeof *cp.seen_key_rows))) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
        if ((err = wp_store_tags_list(st, &cp.tags, &cp.n_tags, c->tenant_id, 0, NULL)) < 0 ||
            (err = wp_store_tags_list(st, &cp.groups, &cp.n_groups, c->tenant_id, 1, NULL)) < 0)
            goto out;
    } else {
        ep = (struct eplan){.ctx = ctx, .st = st, .tenant_id = c->tenant_id,
                            .csv = fmt == WP_SHEET_CSV, .n_rows = 0};
        memcpy(ep.col, col, sizeof ep.col);
        if (!(ep.rows = calloc(n_data + 1, sizeof *ep.rows))) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
        if ((err = units_load(&ep, &scope)) < 0)
            goto out;
    }
    size_t known_units = ep.n_units;
    for (size_t i = 1; i < sheet.n_rows; i++) {
        json_t *item = json_pack("{s:I}", "row", (json_int_t)sheet.rows[i].number);
        if (!item || json_array_append_new(rep.items, item) < 0) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
        int bad;
        if (u->kind == IMPORT_CUSTOMERS) {
            err = customer_plan(&cp, &rep, &sheet.rows[i], &cp.rows[i - 1], item);
            bad = cp.rows[i - 1].bad;
        } else {
            err = employee_plan(&ep, &rep, &sheet.rows[i], &ep.rows[i - 1], item);
            ep.n_rows = i;
            bad = ep.rows[i - 1].bad;
        }
        if (err < 0)
            goto out;
        if (bad) {
            json_object_set_new(item, "action", json_string("bad"));
            rep.n_bad++;
        }
    }
    crypto_hash_sha256_final(&rep.plan, digest);
    sodium_bin2hex(plan_hex, sizeof plan_hex, digest, sizeof digest);
    if (!(out = report_json(u, &rep, format, n_data, names, col, n_fields, plan_hex, 0))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    if (u->kind == IMPORT_EMPLOYEES) {
        json_t *units = json_array();
        for (size_t i = known_units; units && i < ep.n_units; i++)
            json_array_append_new(units,
                                  json_pack("{s:o,s:s}", "path", api_jstr(ep.units[i].path, 0),
                                            "kind", ep.units[i].depth == 2   ? "region"
                                                    : ep.units[i].depth == 3 ? "store"
                                                                             : "team"));
        json_object_set_new(out, "new_units", units ? units : json_array());
    }
    if (!u->apply)
        goto reply;

    /* --- apply: all or nothing ---------------------------------------------------------- */
    if (rep.n_bad && !u->skip_bad) {
        json_t *bad = json_array();
        for (size_t i = 0; bad && i < json_array_size(rep.items); i++) {
            json_t *it = json_array_get(rep.items, i);
            if (!strcmp(json_string_value(json_object_get(it, "action")), "bad"))
                json_array_append(bad, json_object_get(it, "row"));
        }
        wp_store_rollback(st);
        in_tx = 0;
        err = wp_http_reply_fail(ctx, 422, "invalid_rows",
                                 json_pack("{s:I,s:o}", "bad", (json_int_t)rep.n_bad, "rows",
                                           bad ? bad : json_array()),
                                 "%zu rows are bad: nothing was imported (fix them, or apply "
                                 "with skip_bad=true to import the good rows only)",
                                 rep.n_bad);
        goto out;
    }
    if (u->plan && strcmp(u->plan, plan_hex)) {
        wp_store_rollback(st);
        in_tx = 0;
        err = wp_http_reply_fail(ctx, 409, "plan_changed", json_pack("{s:s}", "plan", plan_hex),
                                 "the data changed since the dry run: nothing was imported; "
                                 "look at the new dry run and apply again");
        goto out;
    }
    int64_t now = wp_time_now_us();
    for (size_t i = 0; i < n_data && err == 0; i++) {
        if (u->kind == IMPORT_CUSTOMERS) {
            const struct crow *r = &cp.rows[i];
            if (r->bad || (!r->is_new && !r->edits && !r->add_kind[0] && !r->add_kind[1] &&
                           !r->owner_change))
                continue;
            err = customer_apply(&cp, r, import_id, &who, now);
        } else {
            struct erow *r = &ep.rows[i];
            if (r->bad || (!r->is_new && !r->ch.name && !r->ch.role && r->unit < 0))
                continue;
            err = employee_apply(&ep, r, import_id);
        }
    }
    if (err < 0)
        goto out;
    json_t *d = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:s}", "format", format,
                          "sha256", file_hex, "rows", (json_int_t)n_data, "new",
                          (json_int_t)rep.n_new, "updated", (json_int_t)rep.n_updated,
                          "unchanged", (json_int_t)rep.n_unchanged, "owner_changes",
                          (json_int_t)rep.n_owner, "bad", (json_int_t)rep.n_bad, "skip_bad",
                          u->skip_bad, "plan", plan_hex);
    in_tx = 0;
    /* the reply is made before the commit (api_audit_reply): nothing left to fail after it */
    if (json_object_set_new(out, "applied", json_true()) < 0 ||
        json_object_set_new(out, "import_id", json_string(import_id)) < 0)
        err = wp_error_set(WP_ENOMEM, "out of memory");
    err = api_audit_reply(ctx, st, err,
                          u->kind == IMPORT_CUSTOMERS ? "customers.import" : "employees.import",
                          "import", import_id, d, out, 200);
    st = NULL;
    out = NULL;
    json_decref(d);
    goto out;
reply:
    if (in_tx) {
        wp_store_rollback(st);
        in_tx = 0;
    }
    api_store_release(ctx, st);
    st = NULL;
    err = wp_http_reply_json(ctx, 200, out);
    out = NULL;
out:
    if (in_tx)
        wp_store_rollback(st);
    api_store_release(ctx, st);
    json_decref(out);
    json_decref(rep.items);
    free(cp.rows);
    free(cp.seen_ids);
    free(cp.seen_rows);
    free(cp.seen_keys);
    free(cp.seen_key_rows);
    free(cp.tags);
    free(cp.groups);
    free(cp.owners);
    free(ep.rows);
    free(ep.units);
    wp_sheet_release(&sheet);
    return err;
}

/* Both imports: the query says what to do, checked before the body; the body comes in
 * through a sink bounded by API_IMPORT_BYTES_MAX. */
static int import_begin(wp_http_ctx *ctx, enum import_kind kind)
{
    const char *mode = wp_http_query(ctx, "mode"), *plan = wp_http_query(ctx, "plan");
    int apply = 0, skip_bad, err;
    if (!mode || !*mode || !strcmp(mode, "dry_run"))
        apply = 0;
    else if (!strcmp(mode, "apply"))
        apply = 1;
    else
        return wp_error_set(WP_EINVAL, "'mode' must be dry_run or apply");
    if ((err = query_bool(ctx, "skip_bad", &skip_bad)) < 0)
        return err;
    if (plan && *plan && (strlen(plan) != 64 || strspn(plan, "0123456789abcdef") != 64))
        return wp_error_set(WP_EINVAL, "'plan' is the dry run's plan: 64 hex digits");
    const char *cl = wp_http_header(ctx, "Content-Length");
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long len = strtoull(cl, &end, 10);
        if (errno == ERANGE || len > API_IMPORT_BYTES_MAX) {
            wp_http_add_header(ctx, "Connection", "close");
            wp_error_set(WP_ELIMIT, "the file is larger than %u bytes", API_IMPORT_BYTES_MAX);
            return limit_reply(ctx, 413, "bytes", API_IMPORT_BYTES_MAX, NULL);
        }
    }
    struct upload *u = wp_arena_alloc(ctx->arena, sizeof *u);
    if (!u)
        return wp_error_set(WP_ENOMEM, "out of memory");
    memset(u, 0, sizeof *u);
    u->kind = kind;
    u->apply = apply;
    u->skip_bad = skip_bad;
    u->plan = plan && *plan ? plan : NULL;
    wp_buf_init(&u->body, API_IMPORT_BYTES_MAX);
    wp_http_body_sink sink = {upload_write, upload_end, upload_release, u};
    wp_http_body_sink_set(ctx, &sink);
    return 0;
}

/* POST /api/v1/customers/import: admins and managers (the manage right), into their scope */
int api_import_customers(wp_http_ctx *ctx)
{
    return import_begin(ctx, IMPORT_CUSTOMERS);
}

/* POST /api/v1/employees/import: admins (as POST /employees) */
int api_import_employees(wp_http_ctx *ctx)
{
    return import_begin(ctx, IMPORT_EMPLOYEES);
}
