/* SPDX-License-Identifier: MIT */
/* The rows sealed by their text id (customers, calls, contact events, check-ins, alerts): which of
 * their columns are sealed, and `keys seal-data`'s batch and `keys status`'s count of any of
 * them (seal.h; docs/internals/encryption.md, "Sealing what was there"). */
#include "store/db.h"
#include "store/internal.h"
#include "store/seal.h"
#include "util/buf.h"
#include "util/error.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define OPENED_MAX (64u * 1024 * 1024) /* bytes of an opened value, at most */
#define COLS_MAX 4

static const char *const msg_cols[] = {"text",     "raw", "peer_name", "peer_phone", "group_name",
                                       "filename", "url", "title",     "memo"};
static const char *const cust_cols[] = {"name", "phone", "company", "notes"};
static const char *const call_cols[] = {"peer_name", "peer_phone", "raw"};
static const char *const checkin_cols[] = {"raw"};
static const char *const alert_cols[] = {"matched"};

/* a table's statements, whole at compile time: its batch's read (SQLite, PostgreSQL), its
 * write and its count's read, the columns in the order of cols */
#define BATCH(table, cols) "SELECT id, " cols " FROM " table " WHERE tenant_id = ? AND id > ?"
/* clang-format off */
#define STATEMENTS(table, cols, sets)                                                              \
    BATCH(table, cols) " ORDER BY id LIMIT ?",                                                     \
    BATCH(table, cols) " ORDER BY id LIMIT ? FOR UPDATE",                                          \
    "UPDATE " table " SET " sets " WHERE tenant_id = ? AND id = ?",                                \
    "SELECT " cols " FROM " table " WHERE tenant_id = ?", NULL
/* clang-format on */

const struct wp_seal_table wp_seal__customers = {
    "customers", "customer", cust_cols, 4,
    STATEMENTS("customers", "name, phone, company, notes",
               "name = ?, phone = ?, company = ?, notes = ?")};
const struct wp_seal_table wp_seal__calls = {
    "calls", "call", call_cols, 3,
    STATEMENTS("calls", "peer_name, peer_phone, raw", "peer_name = ?, peer_phone = ?, raw = ?")};
const struct wp_seal_table wp_seal__contact_events = {
    "contact_events", "contact event", call_cols, 3,
    STATEMENTS("contact_events", "peer_name, peer_phone, raw",
               "peer_name = ?, peer_phone = ?, raw = ?")};
const struct wp_seal_table wp_seal__checkins = {"checkins", "check-in", checkin_cols, 1,
                                                STATEMENTS("checkins", "raw", "raw = ?")};
/* an alert's matched words only when it is a rule's match in a message (sensitive_word): the
 * other kinds name a fence or count operations, and media_corrupt's is unique per file */
#define ALERTS_BATCH                                                                               \
    "SELECT id, matched FROM alerts WHERE tenant_id = ? AND id > ? AND kind = 'sensitive_word'"
const struct wp_seal_table wp_seal__alerts = {
    "alerts",
    "alert",
    alert_cols,
    1,
    ALERTS_BATCH " ORDER BY id LIMIT ?",
    ALERTS_BATCH " ORDER BY id LIMIT ? FOR UPDATE",
    "UPDATE alerts SET matched = ? WHERE tenant_id = ? AND id = ?",
    "SELECT matched FROM alerts WHERE tenant_id = ? AND kind = 'sensitive_word'",
    "sensitive_word"};
/* messages have their own batch (ops_seal_data.c: the search index): their columns only */
static const struct wp_seal_table messages = {
    .table = "messages", .what = "message", .cols = msg_cols, .n = 9};

const struct wp_seal_table *wp_seal__table(const char *table)
{
    static const struct wp_seal_table *const all[] = {
        &messages, &wp_seal__customers, &wp_seal__calls, &wp_seal__contact_events,
        &wp_seal__checkins, &wp_seal__alerts};
    for (size_t i = 0; table && i < sizeof all / sizeof *all; i++)
        if (!strcmp(all[i]->table, table))
            return all[i];
    return NULL;
}

int wp_seal__row_sealed(const struct wp_seal_table *t, const char *column, const char *kind)
{
    if (t && t->kind && (!kind || strcmp(kind, t->kind)))
        return 0;
    return wp_seal__col_sealed(t, column);
}

int wp_seal__col_sealed(const struct wp_seal_table *t, const char *column)
{
    for (int c = 0; t && c < t->n; c++)
        if (!strcmp(t->cols[c], column))
            return 1;
    return 0;
}

struct srow {
    char id[WP_ID_LEN + 1];
    char *col[COLS_MAX];
};

static void srows_free(struct srow *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        wp_seal__vals_free(v[i].col, COLS_MAX);
    free(v);
}

int wp_store_rows_seal_batch(wp_store *st, const struct wp_seal_table *t, const char *tenant_id,
                             int64_t newest, char after_id[WP_ID_LEN + 1], size_t limit, int *done,
                             int64_t *sealed, int64_t *resealed, int64_t *problems,
                             wp_seal_bad_fn bad, void *ctx)
{
    int pg = wp_store_backend(st) == WP_STORE_PG;
    struct wp_stmt *s = NULL;
    struct srow *v = NULL;
    size_t n = 0, cap = 0;
    wp_buf ob[COLS_MAX], sb[COLS_MAX];
    int err;
    *done = 0;
    assert(t->n > 0 && t->n <= COLS_MAX && t->update);
    for (int c = 0; c < COLS_MAX; c++) {
        wp_buf_init(&ob[c], OPENED_MAX);
        wp_buf_init(&sb[c], OPENED_MAX);
    }
    if ((err = wp_store__op_begin(st, 1)) < 0)
        goto release;
    if (!wp_seal_keyring_on()) {
        err = wp_error_set(WP_EINVAL, "no master key is set: there is nothing to seal with");
        goto out;
    }
    /* the rows are locked while they are rewritten (SQLite: BEGIN IMMEDIATE holds the write
     * lock already) */
    if ((err = wp_db_prepare(st, &s, pg ? t->batch_pg : t->batch_lite)) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, after_id);
    wp_db_bind_int64(s, 3, (int64_t)limit);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (n == cap && (err = wp_array__grow((void **)&v, &cap, n, sizeof *v)) < 0)
            break;
        struct srow *r = &v[n++];
        memset(r, 0, sizeof *r);
        wp_db_col_copy(s, 0, r->id, sizeof r->id);
        for (int c = 0; c < t->n && err >= 0; c++)
            err = wp_seal__dup_col(&r->col[c], s, 1 + c);
        if (err < 0)
            break;
    }
    wp_db_done(s);
    s = NULL;
    if (err < 0)
        goto out;
    err = 0;
    for (size_t i = 0; i < n && err == 0; i++) {
        struct srow *r = &v[i];
        memcpy(after_id, r->id, WP_ID_LEN + 1);
        enum wp_seal_need need[COLS_MAX];
        const char *res[COLS_MAX];
        struct wp_seal_row row = {tenant_id, t->what, t->table, t->cols, t->n, r->id};
        int act = 0;
        if ((err = wp_seal__row(st, &act, &row, r->col, newest, ob, sb, res, need, problems, bad,
                                ctx)) < 0)
            break;
        if (act == 0)
            continue;
        if ((err = wp_db_prepare(st, &s, t->update)) < 0)
            break;
        for (int c = 0; c < t->n; c++)
            if (res[c])
                wp_db_bind_text(s, 1 + c, res[c]);
            else
                wp_db_bind_null(s, 1 + c);
        wp_db_bind_text(s, t->n + 1, tenant_id);
        wp_db_bind_text(s, t->n + 2, r->id);
        err = wp_db_step(s);
        wp_db_done(s);
        s = NULL;
        if (err < 0)
            break;
        err = 0;
        if (act == 1)
            (*sealed)++;
        else
            (*resealed)++;
    }
    if (err == 0 && n < limit)
        *done = 1;
out:
    err = wp_store__op_end(st, err);
release:
    srows_free(v, n);
    for (int c = 0; c < COLS_MAX; c++) {
        wp_buf_release(&ob[c]);
        wp_buf_release(&sb[c]);
    }
    return err;
}

int wp_store_rows_seal_count(wp_store *st, const struct wp_seal_table *t, const char *tenant_id,
                             int64_t newest, int64_t *plain, int64_t *older)
{
    struct wp_stmt *s = NULL;
    int err;
    *plain = *older = 0;
    if ((err = wp_db_prepare(st, &s, t->count)) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        int p = 0, o = 0;
        for (int c = 0; c < t->n; c++) {
            enum wp_seal_need need =
                wp_seal__need(wp_db_col_isnull(s, c) ? NULL : wp_db_col_text(s, c), newest);
            p |= need == WP_SEAL_NEED_PLAIN;
            o |= need == WP_SEAL_NEED_OLDER;
        }
        *plain += p;
        *older += !p && o;
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}
