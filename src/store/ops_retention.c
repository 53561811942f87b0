/* SPDX-License-Identifier: MIT */
/* Retention rules, legal holds and the purge (migration 0034; retention.h). */
#include "store/retention.h"
#include "store/db.h"
#include "store/grams.h"
#include "store/internal.h"
#include "store/seal.h"
#include "store/usage.h"
#include "util/error.h"
#include "util/id.h"
#include "util/testhooks.h"
#include "util/utf8.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAY_US INT64_C(86400000000)
#define GRAMS_MAX (2u * 1024 * 1024) /* as ops_events.c: the grams of one message */
#define OPENED_MAX (64u * 1024 * 1024) /* bytes of an opened field, at most */
#define STR_(x) #x
#define STR(x) STR_(x)

/* --- the rules ----------------------------------------------------------------------------- */

static const char *kind_name(enum wp_retention_kind k)
{
    return k == WP_RETENTION_CATEGORY ? "category" : "channel";
}

int wp_store_retention_get(wp_store *st, wp_retention_rule **out, size_t *n,
                           const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    wp_retention_rule *v = NULL;
    size_t cap = 0, k = 0;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT kind, name, days, updated_us FROM retention_rules"
                             " WHERE tenant_id = ? ORDER BY kind DESC, name")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_array__grow((void **)&v, &cap, k, sizeof *v)) < 0)
            break;
        wp_retention_rule *r = &v[k++];
        r->kind = strcmp(wp_db_col_text(s, 0), "category") ? WP_RETENTION_CHANNEL
                                                            : WP_RETENTION_CATEGORY;
        if ((err = wp_db_col_copy(s, 1, r->name, sizeof r->name)) < 0)
            break;
        r->days = (int)wp_db_col_int64(s, 2);
        r->updated_us = wp_db_col_int64(s, 3);
    }
    wp_db_done(s);
    if (err < 0) {
        free(v);
        return err;
    }
    *out = v;
    *n = k;
    return 0;
}

/* A channel or category name: 1..WP_RETENTION_NAME_MAX of a-z 0-9 _ - (the words devices and
 * the lexicon use). */
static int check_rule(const wp_retention_rule *r, size_t i)
{
    size_t len = strlen(r->name);
    if (r->kind != WP_RETENTION_CHANNEL && r->kind != WP_RETENTION_CATEGORY)
        return wp_error_set(WP_EINVAL, "rules[%zu].kind must be 'channel' or 'category'", i);
    if (len == 0 || len > WP_RETENTION_NAME_MAX)
        return wp_error_set(WP_EINVAL, "rules[%zu].name must be 1-%d characters", i,
                            WP_RETENTION_NAME_MAX);
    for (size_t j = 0; j < len; j++) {
        char c = r->name[j];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return wp_error_set(WP_EINVAL,
                                "rules[%zu].name must be lowercase letters, digits, '_' or '-'",
                                i);
    }
    if (r->days < WP_RETENTION_DAYS_MIN || r->days > WP_RETENTION_DAYS_MAX)
        return wp_error_set(WP_EINVAL, "rules[%zu].days must be a whole number %d-%d", i,
                            WP_RETENTION_DAYS_MIN, WP_RETENTION_DAYS_MAX);
    return 0;
}

int wp_store_retention_put(wp_store *st, const char *tenant_id, const wp_retention_rule *v,
                           size_t n, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if (n > WP_RETENTION_RULES_MAX)
        return wp_error_set(WP_EINVAL, "'rules' has more than %d rules", WP_RETENTION_RULES_MAX);
    for (size_t i = 0; i < n; i++) {
        if ((err = check_rule(&v[i], i)) < 0)
            return err;
        for (size_t j = 0; j < i; j++)
            if (v[j].kind == v[i].kind && !strcmp(v[j].name, v[i].name))
                return wp_error_set(WP_EINVAL, "rules[%zu]: %s '%s' is listed twice", i,
                                    kind_name(v[i].kind), v[i].name);
    }
    wp_retention_rule *old = NULL;
    size_t n_old = 0;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    /* rules no longer listed go; the others are upserted (unchanged ones keep their time) */
    if ((err = wp_store_retention_get(st, &old, &n_old, tenant_id)) < 0)
        goto out;
    for (size_t i = 0; i < n_old && err == 0; i++) {
        size_t j = 0;
        while (j < n && (v[j].kind != old[i].kind || strcmp(v[j].name, old[i].name)))
            j++;
        if (j == n)
            err = wp_db_run(st,
                            "DELETE FROM retention_rules WHERE tenant_id = ? AND kind = ?"
                            " AND name = ?",
                            "ttt", tenant_id, kind_name(old[i].kind), old[i].name);
    }
    for (size_t i = 0; i < n && err == 0; i++) {
        if ((err = wp_db_prepare(st, &s,
                                 "INSERT INTO retention_rules (tenant_id, kind, name, days,"
                                 " updated_us) VALUES (?, ?, ?, ?, ?)"
                                 " ON CONFLICT (tenant_id, kind, name) DO UPDATE SET"
                                 " updated_us = CASE WHEN retention_rules.days = excluded.days"
                                 " THEN retention_rules.updated_us ELSE excluded.updated_us END,"
                                 " days = excluded.days")) < 0)
            goto out;
        wp_db_bind_text(s, 1, tenant_id);
        wp_db_bind_text(s, 2, kind_name(v[i].kind));
        wp_db_bind_text(s, 3, v[i].name);
        wp_db_bind_int64(s, 4, v[i].days);
        wp_db_bind_int64(s, 5, now_us);
        err = wp_db_step(s);
        wp_db_done(s);
        s = NULL;
        err = err < 0 ? err : 0;
    }
out:
    free(old);
    return wp_store__op_end(st, err);
}

/* --- legal holds --------------------------------------------------------------------------- */

void wp_legal_hold_release(wp_legal_hold *h)
{
    free(h->name);
    free(h->reason);
    free(h->created_by);
    free(h->lifted_by);
    free(h->lift_reason);
    free(h->customers);
    free(h->employees);
    memset(h, 0, sizeof *h);
}

void wp_legal_holds_free(wp_legal_hold *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        wp_legal_hold_release(&v[i]);
    free(v);
}

static int dup_col(struct wp_stmt *s, int col, char **out)
{
    *out = NULL;
    if (wp_db_col_isnull(s, col))
        return 0;
    if (!(*out = strdup(wp_db_col_text(s, col))))
        return wp_error_set(WP_ENOMEM, "out of memory");
    return 0;
}

static int hold_row(struct wp_stmt *s, wp_legal_hold *h)
{
    int err;
    memset(h, 0, sizeof *h);
    if ((err = wp_db_col_copy(s, 0, h->id, sizeof h->id)) < 0 ||
        (err = dup_col(s, 1, &h->name)) < 0 || (err = dup_col(s, 2, &h->reason)) < 0 ||
        (err = dup_col(s, 3, &h->created_by)) < 0 || (err = dup_col(s, 5, &h->lifted_by)) < 0 ||
        (err = dup_col(s, 7, &h->lift_reason)) < 0)
        return err;
    h->created_us = wp_db_col_int64(s, 4);
    h->lifted_us = wp_db_col_isnull(s, 6) ? 0 : wp_db_col_int64(s, 6);
    return 0;
}

#define HOLD_COLS "id, name, reason, created_by, created_us, lifted_by, lifted_us, lift_reason"

/* The customers and employees of the n holds at v. */
static int hold_subjects(wp_store *st, wp_legal_hold *v, size_t n, const char *tenant_id,
                         const char *one_id)
{
    struct wp_stmt *s = NULL;
    size_t cap_c = 0, cap_e = 0, at = 0;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT hold_id, kind, subject_id FROM legal_hold_subjects"
                             " WHERE tenant_id = ? AND (? = '' OR hold_id = ?)"
                             " ORDER BY hold_id, kind, subject_id")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, one_id ? one_id : "");
    wp_db_bind_text(s, 3, one_id ? one_id : "");
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        const char *hid = wp_db_col_text(s, 0);
        if (at >= n || strcmp(v[at].id, hid)) { /* holds are few: look it up */
            for (at = 0; at < n && strcmp(v[at].id, hid); at++)
                ;
            if (at == n)
                continue;
            cap_c = v[at].n_customers; /* rows come hold by hold: this is the first */
            cap_e = v[at].n_employees;
        }
        wp_legal_hold *h = &v[at];
        int cust = !strcmp(wp_db_col_text(s, 1), "customer");
        char(**arr)[WP_ID_LEN + 1] = cust ? &h->customers : &h->employees;
        size_t *cnt = cust ? &h->n_customers : &h->n_employees, *cap = cust ? &cap_c : &cap_e;
        if ((err = wp_array__grow((void **)arr, cap, *cnt, sizeof **arr)) < 0 ||
            (err = wp_db_col_copy(s, 2, (*arr)[*cnt], WP_ID_LEN + 1)) < 0)
            break;
        (*cnt)++;
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}

int wp_store_legal_holds_list(wp_store *st, wp_legal_hold **out, size_t *n,
                              const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    wp_legal_hold *v = NULL;
    size_t cap = 0, k = 0;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " HOLD_COLS " FROM legal_holds WHERE tenant_id = ?"
                             " ORDER BY lifted_us IS NOT NULL, created_us DESC, id DESC")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_array__grow((void **)&v, &cap, k, sizeof *v)) < 0)
            break;
        if ((err = hold_row(s, &v[k++])) < 0)
            break;
    }
    wp_db_done(s);
    if (err >= 0)
        err = hold_subjects(st, v, k, tenant_id, NULL);
    if (err < 0) {
        wp_legal_holds_free(v, k);
        return err;
    }
    *out = v;
    *n = k;
    return 0;
}

int wp_store_legal_hold_get(wp_store *st, wp_legal_hold *out, const char *tenant_id,
                            const char *id)
{
    struct wp_stmt *s = NULL;
    wp_legal_hold h;
    int err;

    memset(&h, 0, sizeof h);
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("legal hold", id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " HOLD_COLS " FROM legal_holds WHERE tenant_id = ?"
                             " AND id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        err = hold_row(s, &h);
    else if (err == WP_DB_DONE)
        err = wp_error_set(WP_ENOTFOUND, "legal hold '%s' not found", id);
    wp_db_done(s);
    if (err >= 0)
        err = hold_subjects(st, &h, 1, tenant_id, id);
    if (err < 0) {
        wp_legal_hold_release(&h);
        return err;
    }
    *out = h;
    return 0;
}

static int exists(wp_store *st, int *found, const char *sql, const char *tenant_id,
                  const char *id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s, sql)) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    err = wp_db_step(s);
    *found = err == WP_DB_ROW;
    wp_db_done(s);
    return err < 0 ? err : 0;
}

static int add_subjects(wp_store *st, const char *tenant_id, const char *hold_id,
                        const char *kind, const char (*ids)[WP_ID_LEN + 1], size_t n)
{
    int cust = !strcmp(kind, "customer"), err = 0, found;
    const char *field = cust ? "customer_ids" : "employee_ids";
    for (size_t i = 0; i < n && err == 0; i++) {
        if (wp_store__check_id(kind, ids[i]) < 0)
            return wp_error_set(WP_EINVAL, "'%s'[%zu] is not an id", field, i);
        if ((err = exists(st, &found,
                          cust ? "SELECT 1 FROM customers WHERE tenant_id = ? AND id = ?"
                               : "SELECT 1 FROM employees WHERE tenant_id = ? AND id = ?",
                          tenant_id, ids[i])) < 0)
            return err;
        if (!found)
            return wp_error_set(WP_EINVAL, "'%s': %s '%s' not found", field, kind, ids[i]);
        err = wp_db_run(st,
                        "INSERT INTO legal_hold_subjects (tenant_id, hold_id, kind, subject_id)"
                        " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        "tttt", tenant_id, hold_id, kind, ids[i]);
    }
    return err;
}

int wp_store_legal_hold_create(wp_store *st, char out_id[WP_ID_LEN + 1], const char *tenant_id,
                               const char *name, const char *reason,
                               const char (*customers)[WP_ID_LEN + 1], size_t n_customers,
                               const char (*employees)[WP_ID_LEN + 1], size_t n_employees,
                               const char *actor, int64_t now_us)
{
    char id[WP_ID_LEN + 1];
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_name("name", name, WP_HOLD_TEXT_MAX)) < 0 ||
        (err = wp_store__check_name("reason", reason, WP_HOLD_TEXT_MAX)) < 0)
        return err;
    if (n_customers + n_employees == 0)
        return wp_error_set(WP_EINVAL,
                            "'customer_ids' or 'employee_ids' must name someone to hold");
    if (n_customers + n_employees > WP_HOLD_SUBJECTS_MAX)
        return wp_error_set(WP_EINVAL, "a hold names at most %d customers and employees",
                            WP_HOLD_SUBJECTS_MAX);
    if ((err = wp_store__tenant_cap(st, "SELECT COUNT(*) FROM legal_holds WHERE tenant_id = ?",
                                    tenant_id, WP_HOLDS_MAX, "legal holds")) < 0)
        return err;
    wp_id_new(id);
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_db_run(st,
                         "INSERT INTO legal_holds (tenant_id, id, name, reason, created_by,"
                         " created_us) VALUES (?, ?, ?, ?, ?, ?)",
                         "ttttti", tenant_id, id, name, reason, actor,
                         now_us)) < 0 ||
        (err = add_subjects(st, tenant_id, id, "customer", customers, n_customers)) < 0 ||
        (err = add_subjects(st, tenant_id, id, "employee", employees, n_employees)) < 0)
        goto out;
    memcpy(out_id, id, sizeof id);
out:
    return wp_store__op_end(st, err);
}

int wp_store_legal_hold_lift(wp_store *st, const char *tenant_id, const char *id,
                             const char *reason, const char *actor, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err, found;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("legal hold", id)) < 0 ||
        (err = wp_store__check_name("reason", reason, WP_HOLD_TEXT_MAX)) < 0)
        return err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE legal_holds SET lifted_us = ?, lifted_by = ?, lift_reason = ?"
                             " WHERE tenant_id = ? AND id = ? AND lifted_us IS NULL"
                             " RETURNING id")) < 0)
        goto out;
    wp_db_bind_int64(s, 1, now_us);
    wp_db_bind_text(s, 2, actor);
    wp_db_bind_text(s, 3, reason);
    wp_db_bind_text(s, 4, tenant_id);
    wp_db_bind_text(s, 5, id);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err == WP_DB_DONE) {
        if ((err = exists(st, &found, "SELECT 1 FROM legal_holds WHERE tenant_id = ? AND id = ?",
                          tenant_id, id)) == 0)
            err = found ? wp_error_set(WP_EBUSY, "legal hold '%s' was lifted already", id)
                        : wp_error_set(WP_ENOTFOUND, "legal hold '%s' not found", id);
    }
    err = err < 0 ? err : 0;
out:
    return wp_store__op_end(st, err);
}

/* --- the purge ----------------------------------------------------------------------------- */

/* A row a batch deletes. */
struct victim {
    char id[WP_ID_LEN + 1];
    int64_t ts_us, skey, bytes;
    char *text, *media; /* owned; NULL: none */
    int sealed;         /* text was stored sealed, so indexed with keyed grams */
};

struct batch {
    struct victim *v;
    size_t n, cap;
    int64_t rows, alerts, media, bytes, media_bytes, from_us, to_us;
};

static void batch_reset(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->v[i].text);
        free(b->v[i].media);
    }
    b->n = 0;
    b->rows = b->alerts = b->media = b->bytes = b->media_bytes = 0;
    b->from_us = INT64_MAX;
    b->to_us = INT64_MIN;
}

/* A message or call is held while a hold in force names its customer or its employee. */
#define NOT_HELD(t)                                                                               \
    " AND NOT EXISTS (SELECT 1 FROM legal_hold_subjects s JOIN legal_holds h"                    \
    " ON h.tenant_id = s.tenant_id AND h.id = s.hold_id WHERE s.tenant_id = " t ".tenant_id"      \
    " AND h.lifted_us IS NULL AND ((s.kind = 'customer' AND s.subject_id = " t ".customer_id)"    \
    " OR (s.kind = 'employee' AND s.subject_id = " t ".employee_id)))"

#define PICK_MESSAGES(skey)                                                                       \
    "SELECT m.id, m.ts_us, " skey ", m.text, m.media, m.raw FROM messages m"                      \
    " WHERE m.tenant_id = ? AND m.channel = ? AND m.ts_us < ?" NOT_HELD("m")                      \
    " AND NOT EXISTS (SELECT 1 FROM alerts a JOIN retention_rules r ON r.tenant_id = a.tenant_id" \
    " AND r.kind = 'category' AND r.name = a.category WHERE a.tenant_id = m.tenant_id"            \
    " AND a.message_id = m.id AND m.ts_us >= CAST(? AS BIGINT) - r.days * 86400000000)"           \
    " ORDER BY m.ts_us LIMIT " STR(WP_RETENTION_BATCH)

/* SQLite's search key (the message's row in the index), PostgreSQL's none */
static const char pick_messages_sqlite[] = PICK_MESSAGES("m.skey");
static const char pick_messages_pg[] = PICK_MESSAGES("0");

static const char pick_calls_sql[] =
    "SELECT c.id, c.ts_us, 0, NULL, c.recording, c.raw FROM calls c"
    " WHERE c.tenant_id = ? AND c.ts_us < ?" NOT_HELD("c") " ORDER BY c.ts_us LIMIT " STR(WP_RETENTION_BATCH);

/* The rows of a prepared pick (id, ts_us, skey, text, media, raw) into b; finishes s. */
static int read_victims(wp_store *st, struct wp_stmt *s, struct batch *b, const char *tenant_id,
                        const char *table)
{
    wp_buf text_b, raw_b;
    const char *raw;
    int err;
    wp_buf_init(&text_b, OPENED_MAX);
    wp_buf_init(&raw_b, OPENED_MAX);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_array__grow((void **)&b->v, &b->cap, b->n, sizeof *b->v)) < 0)
            break;
        struct victim *v = &b->v[b->n++];
        memset(v, 0, sizeof *v);
        if ((err = wp_db_col_copy(s, 0, v->id, sizeof v->id)) < 0 ||
            (err = dup_col(s, 3, &v->text)) < 0 || (err = dup_col(s, 4, &v->media)) < 0)
            break;
        v->ts_us = wp_db_col_int64(s, 1);
        v->skey = wp_db_col_isnull(s, 2) ? 0 : wp_db_col_int64(s, 2);
        /* sealed fields open for their row (docs/internals/encryption.md): the grams to take
         * out of the index and the bytes counted are the plaintext's */
        v->sealed = wp_seal__is_sealed(v->text);
        if (v->sealed) {
            const char *plain = NULL;
            wp_seal_at at = {tenant_id, table, "text", v->id};
            if ((err = wp_seal__open_text(st, &text_b, &plain, &at, v->text)) < 0)
                break;
            char *t = strdup(plain);
            if (!t) {
                err = wp_error_set(WP_ENOMEM, "out of memory");
                break;
            }
            free(v->text);
            v->text = t;
        }
        wp_seal_at at_raw = {tenant_id, table, "raw", v->id};
        if ((err = wp_seal__open_text(st, &raw_b, &raw, &at_raw, wp_db_col_text(s, 5))) < 0)
            break;
        /* the bytes the archive counted (ops_events.c): the raw event and the text */
        v->bytes = (raw ? (int64_t)strlen(raw) : 0) + (v->text ? (int64_t)strlen(v->text) : 0);
    }
    wp_db_done(s);
    wp_buf_release(&text_b);
    wp_buf_release(&raw_b);
    return err < 0 ? err : 0;
}

static int pick(wp_store *st, struct batch *b, const char *tenant_id, const char *channel,
                int64_t cutoff, int64_t now_us)
{
    int calls = !strcmp(channel, "call"), err;
    struct wp_stmt *s = NULL;
    if ((err = wp_db_prepare(st, &s, calls ? pick_calls_sql
                                    : wp_store_backend(st) == WP_STORE_PG ? pick_messages_pg
                                                                          : pick_messages_sqlite)) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    if (calls) {
        wp_db_bind_int64(s, 2, cutoff);
    } else {
        wp_db_bind_text(s, 2, channel);
        wp_db_bind_int64(s, 3, cutoff);
        wp_db_bind_int64(s, 4, now_us);
    }
    return read_victims(st, s, b, tenant_id, calls ? "calls" : "messages");
}

static int count_of(wp_store *st, int64_t *out, const char *sql, const char *tenant_id,
                    const char *a)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s, sql)) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, a);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        *out = wp_db_col_int64(s, 0);
    wp_db_done(s);
    return err < 0 ? err : 0;
}

/* SQLite: take the message's grams out of the contentless search index, given as they were
 * put in (ops_events.c, index_grams). PostgreSQL keeps them on the row. */
static int unindex(wp_store *st, wp_buf *grams, const char *tenant_id, const struct victim *v)
{
    int err;
    if (wp_store_backend(st) == WP_STORE_PG || !v->text || !v->skey)
        return 0;
    wp_buf_reset(grams);
    unsigned char gk[WP_GRAM_KEY_LEN];
    int keyed = 0;
    if ((err = wp_seal__gram_key(st, gk, &keyed, tenant_id)) < 0)
        return err;
    /* a text stored before the master key (not sealed yet: keys seal-data) has plain grams */
    err = wp_grams__make_keyed(grams, NULL, v->text, strlen(v->text), 0, WP_GRAMS_SPACED,
                               keyed && v->sealed ? gk : NULL);
    sodium_memzero(gk, sizeof gk);
    if (err < 0 || grams->len == 0)
        return err;
    return wp_db_run(st,
                     "INSERT INTO message_fts (message_fts, rowid, tenant_id, grams)"
                     " VALUES ('delete', ?, ?, ?)",
                     "itt", v->skey, tenant_id, grams->buf);
}

/* The media file named by ref, once no message, call or check-in of the tenant names it: its
 * rows go and the file is queued for unlinking after the commit. */
static int drop_media(wp_store *st, struct batch *b, const char *tenant_id, const char *ref)
{
    struct wp_stmt *s = NULL;
    int64_t n = 0, size = -1;
    int err;
    if (strncmp(ref, "sha256:", 7) || !wp_store__is_hash(ref + 7))
        return 0;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT (SELECT COUNT(*) FROM messages WHERE tenant_id = ? AND"
                             " media = ?) + (SELECT COUNT(*) FROM calls WHERE tenant_id = ? AND"
                             " recording = ?) + (SELECT COUNT(*) FROM checkins WHERE"
                             " tenant_id = ? AND photo = ?)")) < 0)
        return err;
    for (int k = 0; k < 3; k++) {
        wp_db_bind_text(s, 2 * k + 1, tenant_id);
        wp_db_bind_text(s, 2 * k + 2, ref);
    }
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        n = wp_db_col_int64(s, 0);
    wp_db_done(s);
    s = NULL;
    if (err < 0 || n > 0)
        return err < 0 ? err : 0;
    if ((err = wp_db_prepare(st, &s, "SELECT size FROM media WHERE tenant_id = ? AND sha256 = ?")) <
        0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, ref + 7);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        size = wp_db_col_int64(s, 0);
    wp_db_done(s);
    if (err < 0 || size < 0) /* never uploaded: nothing to drop */
        return err < 0 ? err : 0;
    /* queued with its name on disk (a keyed name when encrypted: migration 0036) */
    if ((err = wp_db_run(st,
                         "INSERT INTO retention_files (tenant_id, sha256, path)"
                         " SELECT tenant_id, sha256, path FROM media"
                         " WHERE tenant_id = ? AND sha256 = ? ON CONFLICT DO NOTHING",
                         "tt", tenant_id, ref + 7)) < 0 ||
        (err = wp_db_run(st, "DELETE FROM media_uploads WHERE tenant_id = ? AND sha256 = ?", "tt",
                         tenant_id, ref + 7)) < 0 ||
        (err = wp_db_run(st, "DELETE FROM media WHERE tenant_id = ? AND sha256 = ?", "tt",
                         tenant_id, ref + 7)) < 0)
        return err;
    b->media++;
    b->media_bytes += size;
    return 0;
}

/* Delete the picked rows, in the open transaction. */
static int delete_batch(wp_store *st, struct batch *b, const char *tenant_id, int calls)
{
    wp_buf grams;
    int err = 0;
    wp_buf_init(&grams, GRAMS_MAX);
    for (size_t i = 0; i < b->n && err == 0; i++) {
        struct victim *v = &b->v[i];
        int64_t alerts = 0;
        if (!calls &&
            ((err = unindex(st, &grams, tenant_id, v)) < 0 ||
             (err = count_of(st, &alerts,
                             "SELECT COUNT(*) FROM alerts WHERE tenant_id = ? AND message_id = ?",
                             tenant_id, v->id)) < 0 ||
             (alerts && (err = wp_db_run(st,
                                         "DELETE FROM alerts WHERE tenant_id = ? AND"
                                         " message_id = ?",
                                         "tt", tenant_id, v->id)) < 0)))
            break;
        err = wp_db_run(st,
                        calls ? "DELETE FROM calls WHERE tenant_id = ? AND id = ?"
                              : "DELETE FROM messages WHERE tenant_id = ? AND id = ?",
                        "tt", tenant_id, v->id);
        b->alerts += alerts;
        b->rows++;
        b->bytes += v->bytes;
        if (v->ts_us < b->from_us)
            b->from_us = v->ts_us;
        if (v->ts_us > b->to_us)
            b->to_us = v->ts_us;
    }
    wp_buf_release(&grams);
    /* the media, once every row of the batch is gone (two rows may name one file) */
    for (size_t i = 0; i < b->n && err == 0; i++)
        if (b->v[i].media)
            err = drop_media(st, b, tenant_id, b->v[i].media);
    return err;
}

/* One batch of a channel: pick, delete, count, in one transaction. *done: nothing left. */
static int purge_batch(wp_store *st, struct batch *b, const char *tenant_id, const char *channel,
                       int64_t cutoff, int64_t now_us, int64_t *rows)
{
    int calls = !strcmp(channel, "call"), err;
    batch_reset(b);
    if ((err = wp_store_begin(st)) < 0)
        return err;
    if ((err = pick(st, b, tenant_id, channel, cutoff, now_us)) < 0 || b->n == 0 ||
        (err = delete_batch(st, b, tenant_id, calls)) < 0)
        goto out;
    int64_t add[WP_USAGE_KINDS] = {0};
    wp_usage_refusal r;
    add[WP_USAGE_ARCHIVE] = -b->bytes;
    add[WP_USAGE_MEDIA] = -b->media_bytes;
    if ((err = wp_store__usage_add(st, tenant_id, add, &r)) < 0 ||
        (err = wp_db_run(st,
                         "INSERT INTO retention_progress (tenant_id, channel, rows, alerts, media,"
                         " from_us, to_us) VALUES (?, ?, ?, ?, ?, ?, ?)"
                         " ON CONFLICT (tenant_id, channel) DO UPDATE SET"
                         " rows = retention_progress.rows + excluded.rows,"
                         " alerts = retention_progress.alerts + excluded.alerts,"
                         " media = retention_progress.media + excluded.media,"
                         " from_us = CASE WHEN excluded.from_us < retention_progress.from_us"
                         " THEN excluded.from_us ELSE retention_progress.from_us END,"
                         " to_us = CASE WHEN excluded.to_us > retention_progress.to_us"
                         " THEN excluded.to_us ELSE retention_progress.to_us END",
                         "ttiiiii", tenant_id, channel, b->rows, b->alerts, b->media, b->from_us,
                         b->to_us)) < 0)
        goto out;
    wp_test_hooks_job_step(); /* a test may kill the process here: nothing is committed */
out:
    if (err < 0) {
        wp_store_rollback(st);
        return err;
    }
    if ((err = wp_store_commit(st)) < 0)
        return err;
    *rows = (int64_t)b->rows;
    return 0;
}

/* --- a customer's erasure (ops_pipl.c, docs/internals/pipl.md) ----------------------------- */

static const char pick_customer_messages_sqlite[] =
    "SELECT m.id, m.ts_us, m.skey, m.text, m.media, m.raw FROM messages m"
    " WHERE m.tenant_id = ? AND m.customer_id = ? ORDER BY m.ts_us LIMIT " STR(WP_RETENTION_BATCH);
static const char pick_customer_messages_pg[] =
    "SELECT m.id, m.ts_us, 0, m.text, m.media, m.raw FROM messages m"
    " WHERE m.tenant_id = ? AND m.customer_id = ? ORDER BY m.ts_us LIMIT " STR(WP_RETENTION_BATCH);
static const char pick_customer_calls[] =
    "SELECT c.id, c.ts_us, 0, NULL, c.recording, c.raw FROM calls c"
    " WHERE c.tenant_id = ? AND c.customer_id = ? ORDER BY c.ts_us LIMIT " STR(WP_RETENTION_BATCH);

static int pick_customer(wp_store *st, struct batch *b, const char *tenant_id,
                         const char *customer_id, int calls)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s, calls ? pick_customer_calls
                                    : wp_store_backend(st) == WP_STORE_PG ? pick_customer_messages_pg
                                                                          : pick_customer_messages_sqlite)) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, customer_id);
    return read_victims(st, s, b, tenant_id, calls ? "calls" : "messages");
}

int wp_store__retention_erase_customer(wp_store *st, wp_retention_result *out,
                                       const char *tenant_id, const char *customer_id)
{
    struct batch b = {0};
    int err = 0;
    for (int calls = 0; calls <= 1 && err == 0; calls++) {
        do {
            batch_reset(&b);
            if ((err = pick_customer(st, &b, tenant_id, customer_id, calls)) < 0 || b.n == 0 ||
                (err = delete_batch(st, &b, tenant_id, calls)) < 0)
                break;
            int64_t add[WP_USAGE_KINDS] = {0};
            wp_usage_refusal r;
            add[WP_USAGE_ARCHIVE] = -b.bytes;
            add[WP_USAGE_MEDIA] = -b.media_bytes;
            if ((err = wp_store__usage_add(st, tenant_id, add, &r)) < 0)
                break;
            *(calls ? &out->calls : &out->messages) += b.rows;
            out->alerts += b.alerts;
            out->media += b.media;
        } while (b.n == WP_RETENTION_BATCH);
    }
    batch_reset(&b);
    free(b.v);
    return err;
}

/* Unlink the queued files no media row names any more (by their name on disk: a plain file
 * may be another tenant's too, an encrypted one is this tenant's own), and forget them. */
int wp_store__retention_drain_files(wp_store *st, const char *media_dir)
{
    struct wp_stmt *s = NULL;
    char tenant[16][WP_ID_LEN + 1], sha[16][65], rel[16][80], path[4096];
    int err;
    for (;;) {
        size_t n = 0;
        if ((err = wp_db_prepare(st, &s,
                                 "SELECT tenant_id, sha256, path FROM retention_files"
                                 " ORDER BY sha256, tenant_id LIMIT 16")) < 0)
            return err;
        while (n < 16 && (err = wp_db_step(s)) == WP_DB_ROW) {
            const char *p = wp_db_col_text(s, 2);
            if ((err = wp_db_col_copy(s, 0, tenant[n], sizeof tenant[0])) < 0 ||
                (err = wp_db_col_copy(s, 1, sha[n], sizeof sha[0])) < 0)
                break;
            if (p && *p)
                snprintf(rel[n], sizeof rel[0], "%.79s", p);
            else /* queued before migration 0036: a plain file */
                snprintf(rel[n], sizeof rel[0], "%.2s/%.2s/%.64s", sha[n], sha[n] + 2, sha[n]);
            n++;
        }
        wp_db_done(s);
        if (err < 0)
            return err;
        if (n == 0)
            return 0;
        for (size_t i = 0; i < n; i++) {
            int64_t rows = 0;
            if ((err = wp_db_prepare(st, &s, "SELECT COUNT(*) FROM media WHERE path = ?")) < 0)
                return err;
            wp_db_bind_text(s, 1, rel[i]);
            if ((err = wp_db_step(s)) == WP_DB_ROW)
                rows = wp_db_col_int64(s, 0);
            wp_db_done(s);
            if (err < 0)
                return err;
            snprintf(path, sizeof path, "%s/%s", media_dir, rel[i]);
            if (rows == 0 && unlink(path) < 0 && errno != ENOENT)
                return wp_error_set(WP_EIO, "retention: cannot remove '%s': %s", path,
                                    strerror(errno));
            if ((err = wp_db_run(st,
                                 "DELETE FROM retention_files WHERE tenant_id = ? AND sha256 = ?",
                                 "tt", tenant[i], sha[i])) < 0)
                return err;
        }
    }
}

/* End a tenant's run: its counts so far become one audit row, in the transaction that
 * deletes them. Nothing purged: no row. */
static int finish(wp_store *st, int *audited, const unsigned char *key, const char *tenant_id,
                  int64_t now_us)
{
    struct wp_stmt *s = NULL;
    wp_buf d;
    int err, any = 0;
    int64_t total = 0, from = INT64_MAX, to = INT64_MIN;
    wp_buf_init(&d, 64 * 1024);
    if ((err = wp_store_begin(st)) < 0)
        goto done;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT channel, rows, alerts, media, from_us, to_us"
                             " FROM retention_progress WHERE tenant_id = ? ORDER BY channel")) <
        0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    err = wp_buf_adds(&d, "{\"channels\":{");
    while (err >= 0 && (err = wp_db_step(s)) == WP_DB_ROW) {
        int64_t rows = wp_db_col_int64(s, 1), f = wp_db_col_int64(s, 4),
                t = wp_db_col_int64(s, 5);
        /* channel names are a-z 0-9 _ - (check_rule): no escaping needed */
        err = wp_buf_addf(&d,
                          "%s\"%s\":{\"rows\":%lld,\"alerts\":%lld,\"media\":%lld,"
                          "\"from_us\":%lld,\"to_us\":%lld}",
                          any ? "," : "", wp_db_col_text(s, 0), (long long)rows,
                          (long long)wp_db_col_int64(s, 2), (long long)wp_db_col_int64(s, 3),
                          (long long)f, (long long)t);
        any = 1;
        total += rows;
        from = f < from ? f : from;
        to = t > to ? t : to;
    }
    wp_db_done(s);
    if (err < 0 || !any)
        goto out;
    if ((err = wp_buf_addf(&d, "},\"rows\":%lld,\"from_us\":%lld,\"to_us\":%lld}",
                           (long long)total, (long long)from, (long long)to)) < 0)
        goto out;
    wp_audit_entry a = {.tenant_id = tenant_id,
                        .ts_us = now_us,
                        .actor = "system",
                        .action = "retention.purge",
                        .target = "retention",
                        .details = d.buf};
    if ((err = wp_store_audit_append(st, key, &a, NULL)) < 0 ||
        (err = wp_db_run(st, "DELETE FROM retention_progress WHERE tenant_id = ?", "t",
                         tenant_id)) < 0)
        goto out;
    *audited = 1;
out:
    if (err < 0)
        wp_store_rollback(st);
    else
        err = wp_store_commit(st);
done:
    wp_buf_release(&d);
    return err < 0 ? err : 0;
}

static int purge_tenant(wp_store *st, wp_retention_result *out, const unsigned char *key,
                        const char *media_dir, const char *tenant_id, int64_t now_us)
{
    wp_retention_rule *rules = NULL;
    struct batch b = {0};
    size_t n = 0;
    int err, audited = 0;
    if ((err = wp_store_retention_get(st, &rules, &n, tenant_id)) < 0)
        return err;
    for (size_t i = 0; i < n && err == 0; i++) {
        if (rules[i].kind != WP_RETENTION_CHANNEL)
            continue;
        int64_t cutoff = now_us - rules[i].days * DAY_US, rows;
        do {
            rows = 0;
            if ((err = purge_batch(st, &b, tenant_id, rules[i].name, cutoff, now_us, &rows)) <
                0)
                break;
            if (!strcmp(rules[i].name, "call"))
                out->calls += rows;
            else
                out->messages += rows;
            out->alerts += b.alerts;
            out->media += b.media;
            if (b.media && (err = wp_store__retention_drain_files(st, media_dir)) < 0)
                break;
        } while (rows == WP_RETENTION_BATCH);
    }
    batch_reset(&b);
    free(b.v);
    free(rules);
    /* a run killed before its end left counts behind: they are audited now, with this run's */
    if (err == 0 && (err = finish(st, &audited, key, tenant_id, now_us)) == 0)
        out->tenants += audited;
    return err;
}

int wp_store_retention_purge(wp_store *st, wp_retention_result *out,
                             const unsigned char key[WP_AUDIT_KEY_LEN], const char *media_dir,
                             int64_t now_us)
{
    char(*tenants)[WP_ID_LEN + 1] = NULL;
    size_t n = 0;
    int err;

    if (!media_dir)
        return wp_error_set(WP_EINVAL, "retention: no media directory for the files");
    if ((err = wp_store__retention_drain_files(st, media_dir)) < 0 || /* a crash may have left some */
        (err = wp_store__tenant_ids(st, &tenants, &n)) < 0)
        return err;
    for (size_t i = 0; i < n && err == 0; i++)
        err = purge_tenant(st, out, key, media_dir, tenants[i], now_us);
    free(tenants);
    return err;
}
