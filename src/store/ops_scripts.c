/* SPDX-License-Identifier: MIT */
/* The scripts library (话术, migration 0010): approved reply templates, and counting the
 * outgoing messages that use them. */
#include "store/analytics.h"
#include "store/db.h"
#include "store/internal.h"
#include "store/policy.h"
#include "store/scripts.h"
#include "store/seal.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/id.h"

#define OPENED_MAX (64u * 1024 * 1024) /* bytes of an opened text, at most */
#include "util/testhooks.h"
#include "util/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define COUNT_BATCH 2000

void wp_script_release(wp_script *s)
{
    if (s) {
        free(s->text);
        s->text = NULL;
    }
}

int wp_script_normalize(char **out, const char *text)
{
    size_t len = strlen(text), i = 0;
    wp_buf b;
    wp_buf_init(&b, len * 2 + 16);
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)text + i,
                                              (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0) { /* invalid UTF-8: the byte is dropped */
            i++;
            continue;
        }
        i += (size_t)n;
        utf8proc_category_t c = utf8proc_category(cp);
        if ((c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO) || /* punctuation */
            (c >= UTF8PROC_CATEGORY_SM && c <= UTF8PROC_CATEGORY_SO) || /* symbols, emoji */
            (c >= UTF8PROC_CATEGORY_ZS && c <= UTF8PROC_CATEGORY_ZP) || /* spaces */
            c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF)
            continue;
        utf8proc_uint8_t enc[4];
        utf8proc_ssize_t m = utf8proc_encode_char(utf8proc_tolower(cp), enc);
        if (wp_buf_add(&b, enc, (size_t)m) < 0) {
            wp_buf_release(&b);
            return wp_error_set(WP_ENOMEM, "out of memory");
        }
    }
    *out = wp_buf_detach(&b, NULL);
    return *out ? 0 : wp_error_set(WP_ENOMEM, "out of memory");
}

static int check_field(const char *field, const char *s, size_t max, int multiline)
{
    char name[32];
    snprintf(name, sizeof name, "'%s'", field);
    if (!*s)
        return wp_error_set(WP_EINVAL, "%s is required", name);
    return wp_text_check(name, s, strlen(s), max, multiline ? WP_TEXT_MULTILINE : 0);
}

#define SCRIPT_COLS "id, category, title, text, usage_count, created_us, updated_us"

static int read_script(struct wp_stmt *s, wp_script *out)
{
    int err;
    memset(out, 0, sizeof *out);
    if ((err = wp_db_col_copy(s, 0, out->id, sizeof out->id)) < 0 ||
        (err = wp_db_col_copy(s, 1, out->category, sizeof out->category)) < 0 ||
        (err = wp_db_col_copy(s, 2, out->title, sizeof out->title)) < 0)
        return err;
    if (!(out->text = strdup(wp_db_col_text(s, 3) ? wp_db_col_text(s, 3) : "")))
        return wp_error_set(WP_ENOMEM, "out of memory");
    out->usage_count = wp_db_col_int64(s, 4);
    out->created_us = wp_db_col_int64(s, 5);
    out->updated_us = wp_db_col_int64(s, 6);
    return 0;
}

void wp_script_page_release(wp_script_page *p)
{
    for (size_t i = 0; p && i < p->n; i++)
        wp_script_release(&p->items[i]);
    if (p) {
        free(p->items);
        p->items = NULL;
        p->n = 0;
    }
}

/* "%q%" for LIKE with '!' as the escape character, ASCII lowercased. */
static int like_pattern(wp_buf *b, const char *q)
{
    int err = wp_buf_addc(b, '%');
    for (const char *p = q; err == 0 && *p; p++) {
        char c = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
        if (c == '%' || c == '_' || c == '!')
            err = wp_buf_addc(b, '!');
        if (err == 0)
            err = wp_buf_addc(b, c);
    }
    return err == 0 ? wp_buf_addc(b, '%') : err;
}

int wp_store_scripts_list(wp_store *st, wp_script_page *out, const wp_script_filter *f)
{
    struct wp_stmt *s = NULL;
    wp_script_page p;
    char cid[WP_ID_LEN + 1] = "";
    int64_t ct = 0;
    int has = 0, err;
    unsigned limit;
    size_t cap = 0;
    wp_buf q;

    memset(&p, 0, sizeof p);
    wp_buf_init(&q, 1024);
    if ((err = wp_store__check_id("tenant", f->tenant_id)) < 0 ||
        (err = wp_page__limit(&limit, f->limit)) < 0 ||
        (err = wp_cursor__parse(&has, &ct, cid, f->cursor)) < 0)
        return err;
    if (f->q && *f->q && like_pattern(&q, f->q) < 0)
        return wp_error_set(WP_EINVAL, "'q' is too long");
    if (f->category && strlen(f->category) > sizeof p.items->category)
        return wp_error_set(WP_EINVAL, "'category' is too long");
    /* the cursor is (created_us, id) within the category order: categories are few, so the
     * page key is the triple, the category carried in the id's row */
    if ((err = wp_db_prepare(
             st, &s,
             "SELECT " SCRIPT_COLS " FROM scripts WHERE tenant_id = ?"
             " AND (CAST(? AS TEXT) IS NULL OR category = ?)"
             " AND (CAST(? AS TEXT) IS NULL OR lower(title) LIKE ? ESCAPE '!'"
             " OR lower(text) LIKE ? ESCAPE '!')"
             " AND (CAST(? AS BIGINT) = 0 OR created_us > ? OR (created_us = ? AND id > ?))"
             " ORDER BY created_us, id LIMIT ?")) < 0)
        goto out;
    int k = 1;
    wp_db_bind_text(s, k++, f->tenant_id);
    wp_db_bind_text_or_null(s, k++, f->category);
    wp_db_bind_text(s, k++, f->category ? f->category : "");
    wp_db_bind_text_or_null(s, k++, q.len ? q.buf : NULL);
    wp_db_bind_text(s, k++, q.buf);
    wp_db_bind_text(s, k++, q.buf);
    wp_db_bind_int64(s, k++, has);
    wp_db_bind_int64(s, k++, ct);
    wp_db_bind_int64(s, k++, ct);
    wp_db_bind_text(s, k++, cid);
    wp_db_bind_int64(s, k, (int64_t)limit + 1);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (p.n == limit) {
            wp_cursor__make(p.next_cursor, p.items[p.n - 1].created_us, p.items[p.n - 1].id);
            break;
        }
        if ((err = wp_array__grow((void **)&p.items, &cap, p.n, sizeof *p.items)) < 0)
            break;
        if ((err = read_script(s, &p.items[p.n])) < 0) {
            wp_script_release(&p.items[p.n]);
            break;
        }
        p.n++;
    }
    wp_db_done(s);
    if (err >= 0) {
        *out = p;
        memset(&p, 0, sizeof p);
        err = 0;
    }
out:
    wp_buf_release(&q);
    wp_script_page_release(&p);
    return err;
}

int wp_store_script_get(wp_store *st, wp_script *out, const char *tenant_id, const char *id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("script", id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " SCRIPT_COLS " FROM scripts WHERE tenant_id = ? AND id = ?")) <
        0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = read_script(s, out)) < 0)
            wp_script_release(out);
    } else if (err == WP_DB_DONE) {
        err = wp_error_set(WP_ENOTFOUND, "script '%s' not found", id);
    }
    wp_db_done(s);
    return err;
}

int wp_store_script_put(wp_store *st, wp_script *out, const char *tenant_id, const char *id,
                        const char *category, const char *title, const char *text,
                        int64_t now_us)
{
    struct wp_stmt *s = NULL;
    wp_script cur;
    char *norm = NULL, new_id[WP_ID_LEN + 1];
    int err, create = id == NULL;

    memset(&cur, 0, sizeof cur);
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (category && (err = check_field("category", category, WP_SCRIPT_TITLE_MAX, 0)) < 0) ||
        (title && (err = check_field("title", title, WP_SCRIPT_TITLE_MAX, 0)) < 0) ||
        (text && (err = check_field("text", text, WP_SCRIPT_TEXT_MAX, 1)) < 0))
        return err;
    if (create && (!category || !title || !text))
        return wp_error_set(WP_EINVAL, "'category', 'title' and 'text' are required");
    if (text && (err = wp_script_normalize(&norm, text)) < 0)
        return err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        goto out;
    if (create) {
        if ((err = wp_store__tenant_cap(st, "SELECT COUNT(*) FROM scripts WHERE tenant_id = ?",
                                        tenant_id, WP_SCRIPTS_MAX, "scripts")) < 0)
            goto end;
        wp_id_new(new_id);
        id = new_id;
        err = wp_db_prepare(st, &s,
                            "INSERT INTO scripts (tenant_id, id, category, title, text, norm,"
                            " usage_count, created_us, updated_us) VALUES (?, ?, ?, ?, ?, ?, 0,"
                            " ?, ?)");
        if (err < 0)
            goto end;
        wp_db_bind_text(s, 1, tenant_id);
        wp_db_bind_text(s, 2, id);
        wp_db_bind_text(s, 3, category);
        wp_db_bind_text(s, 4, title);
        wp_db_bind_text(s, 5, text);
        wp_db_bind_text(s, 6, norm);
        wp_db_bind_int64(s, 7, now_us);
        wp_db_bind_int64(s, 8, now_us);
    } else {
        if ((err = wp_store_script_get(st, &cur, tenant_id, id)) < 0)
            goto end;
        int new_text = text && strcmp(text, cur.text);
        err = wp_db_prepare(st, &s,
                            "UPDATE scripts SET category = COALESCE(?, category), title ="
                            " COALESCE(?, title), text = COALESCE(?, text), norm = COALESCE(?,"
                            " norm), usage_count = CASE WHEN CAST(? AS BIGINT) = 1 THEN 0 ELSE"
                            " usage_count END, updated_us = ? WHERE tenant_id = ? AND id = ?");
        if (err < 0)
            goto end;
        wp_db_bind_text_or_null(s, 1, category);
        wp_db_bind_text_or_null(s, 2, title);
        wp_db_bind_text_or_null(s, 3, text);
        wp_db_bind_text_or_null(s, 4, norm);
        wp_db_bind_int64(s, 5, new_text);
        wp_db_bind_int64(s, 6, now_us);
        wp_db_bind_text(s, 7, tenant_id);
        wp_db_bind_text(s, 8, id);
    }
    err = wp_db_step(s);
    wp_db_done(s);
    if (err >= 0) {
        wp_script_release(&cur);
        err = wp_store_script_get(st, &cur, tenant_id, id);
    }
    /* agents carry the library in their policy: move its version so they fetch it again */
    if (err >= 0)
        err = wp_store_policy_touch(st, NULL, tenant_id);
end:
    err = wp_store__op_end(st, err < 0 ? err : 0);
out:
    free(norm);
    if (err == 0) {
        *out = cur;
    } else {
        wp_script_release(&cur);
    }
    return err;
}

int wp_store_script_delete(wp_store *st, const char *tenant_id, const char *id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("script", id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "DELETE FROM scripts WHERE tenant_id = ? AND id = ? RETURNING id")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err == WP_DB_DONE)
        return wp_error_set(WP_ENOTFOUND, "script '%s' not found", id);
    if (err < 0)
        return err;
    return wp_store_policy_touch(st, NULL, tenant_id);
}

/* --- usage ---------------------------------------------------------------------------------- */

struct norm_script {
    char id[WP_ID_LEN + 1];
    char *norm;
    int64_t uses;
};

/* One batch of a tenant's messages after its watermark, read and counted with no lock held
 * (on SQLite the jobs must not hold the one write lock while they read: issue 17); then, in
 * a short transaction, the counts and the new watermark, only if the watermark is still the
 * one the batch was read from: when another run moved it meanwhile nothing is written, and
 * the next batch starts from the moved one. So a batch counts once, whatever runs beside it
 * or is killed between two batches. *more = 1 when there may be more. */
static int count_batch(wp_store *st, int64_t *uses, int *more, const char *tenant,
                       struct norm_script *v, size_t n, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int64_t from = 0, last = 0, rows = 0;
    int err;

    *more = 0;
    for (size_t i = 0; i < n; i++)
        v[i].uses = 0;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT last_rid FROM script_usage_state WHERE tenant_id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        from = wp_db_col_int64(s, 0);
    wp_db_done(s);
    if (err < 0)
        return err;
    last = from;
    /* by rid, not through an index on tenant_id: with one, SQLite's planner sorted the
     * tenant's every message for each batch (a full scan per 2,000 rows) */
    if ((err = wp_db_prepare(st, &s,
                             "SELECT rid, text, direction, id FROM messages WHERE"
                             " tenant_id || '' = ? AND rid > ? AND created_us <= ?"
                             " ORDER BY rid LIMIT ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant);
    wp_db_bind_int64(s, 2, from);
    wp_db_bind_int64(s, 3, now_us - WP_ANALYTICS_LAG_S * INT64_C(1000000));
    wp_db_bind_int64(s, 4, COUNT_BATCH);
    /* direction is checked here, not in SQL: the watermark moves over every row */
    wp_buf opened;
    wp_buf_init(&opened, OPENED_MAX);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        const char *text = wp_db_col_text(s, 1), *dir = wp_db_col_text(s, 2);
        last = wp_db_col_int64(s, 0);
        rows++;
        if (!text || !*text || !dir || strcmp(dir, "out"))
            continue;
        /* a sealed text opens for its row (docs/internals/encryption.md) */
        wp_seal_at at = {tenant, "messages", "text", wp_db_col_text(s, 3)};
        if ((err = wp_seal__open_text(st, &opened, &text, &at, text)) < 0)
            break;
        char *norm = NULL;
        if ((err = wp_script_normalize(&norm, text)) < 0)
            break;
        for (size_t i = 0; i < n; i++)
            if (strstr(norm, v[i].norm))
                v[i].uses++;
        free(norm);
    }
    wp_buf_release(&opened);
    wp_db_done(s);
    if (err < 0 || rows == 0)
        return err < 0 ? err : 0;
    if ((err = wp_store_begin(st)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO script_usage_state (tenant_id, last_rid) VALUES (?, 0)"
                             " ON CONFLICT (tenant_id) DO NOTHING")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant);
    err = wp_db_step(s);
    wp_db_done(s);
    /* the watermark moves from where the batch was read, or nothing is written: on
     * PostgreSQL the row's lock makes a parallel run wait here, then find it moved */
    if (err < 0 ||
        (err = wp_db_prepare(st, &s,
                             "UPDATE script_usage_state SET last_rid = ?"
                             " WHERE tenant_id = ? AND last_rid = ? RETURNING last_rid")) < 0)
        goto out;
    wp_db_bind_int64(s, 1, last);
    wp_db_bind_text(s, 2, tenant);
    wp_db_bind_int64(s, 3, from);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err == WP_DB_DONE) { /* another run counted this batch */
        wp_store_rollback(st);
        *more = 1;
        return 0;
    }
    if (err < 0)
        goto out;
    err = 0;
    *more = rows == COUNT_BATCH;
    for (size_t i = 0; i < n && err >= 0; i++) {
        if (!v[i].uses)
            continue;
        if ((err = wp_db_prepare(st, &s,
                                 "UPDATE scripts SET usage_count = usage_count + ?"
                                 " WHERE tenant_id = ? AND id = ?")) < 0)
            break;
        wp_db_bind_int64(s, 1, v[i].uses);
        wp_db_bind_text(s, 2, tenant);
        wp_db_bind_text(s, 3, v[i].id);
        err = wp_db_step(s);
        wp_db_done(s);
    }
    if (err >= 0)
        wp_test_hooks_job_step(); /* a test may kill the process before the commit */
out:
    if (err < 0) {
        wp_store_rollback(st);
        return err;
    }
    if ((err = wp_store_commit(st)) < 0)
        return err;
    for (size_t i = 0; i < n; i++)
        *uses += v[i].uses;
    return 0;
}

static int count_tenant(wp_store *st, int64_t *uses, const char *tenant, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    struct norm_script *v = NULL;
    size_t n = 0, cap = 0;
    int err, more = 1;

    if ((err = wp_db_prepare(st, &s, "SELECT id, norm FROM scripts WHERE tenant_id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        const char *norm = wp_db_col_text(s, 1);
        if (!norm || wp_utf8_count(norm, strlen(norm)) < WP_SCRIPT_MATCH_MIN)
            continue;
        if ((err = wp_array__grow((void **)&v, &cap, n, sizeof *v)) < 0)
            break;
        memset(&v[n], 0, sizeof v[n]);
        if ((err = wp_db_col_copy(s, 0, v[n].id, sizeof v[n].id)) < 0)
            break;
        if (!(v[n].norm = strdup(norm))) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            break;
        }
        n++;
    }
    wp_db_done(s);
    /* with no script the watermark still moves: a script made later counts from then on */
    while (err >= 0 && more)
        err = count_batch(st, uses, &more, tenant, v, n, now_us);
    for (size_t i = 0; i < n; i++)
        free(v[i].norm);
    free(v);
    return err < 0 ? err : 0;
}

int wp_store_scripts_count(wp_store *st, int64_t *uses, int64_t now_us)
{
    char(*tenants)[WP_ID_LEN + 1] = NULL;
    size_t n = 0;
    int err;

    if ((err = wp_store__tenant_ids(st, &tenants, &n)) < 0)
        return err;
    for (size_t i = 0; err >= 0 && i < n; i++)
        err = count_tenant(st, uses, tenants[i], now_us);
    free(tenants);
    return err < 0 ? err : 0;
}
