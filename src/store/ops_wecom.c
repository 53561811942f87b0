/* SPDX-License-Identifier: MIT */
/* WeCom customer contact (migration 0023): settings, members, the replay cache, transfers. */
#include "store/db.h"
#include "store/seal.h"
#include "store/internal.h"
#include "store/store.h"
#include "store/wecom.h"
#include "util/error.h"
#include "util/id.h"

#include <stdlib.h>
#include <string.h>

#define TRANSFERS_OF_MAX 10000

static const char *const state_names[] = {"pending", "waiting", "accepted",
                                          "refused", "failed",  "skipped"};

const char *wp_wecom_state_name(enum wp_wecom_transfer_state s)
{
    return (unsigned)s < sizeof state_names / sizeof *state_names ? state_names[s] : NULL;
}

static int state_of(const char *name)
{
    for (size_t i = 0; name && i < sizeof state_names / sizeof *state_names; i++)
        if (!strcmp(state_names[i], name))
            return (int)i;
    return wp_error_set(WP_EIO, "damaged store: transfer state '%s'", name ? name : "(null)");
}

/* --- settings ------------------------------------------------------------------------------- */

static const char *or_null(const char *s)
{
    return s && *s ? s : NULL;
}

int wp_store_wecom_tenants(wp_store *st, char (**out)[WP_ID_LEN + 1], size_t *n)
{
    struct wp_stmt *s = NULL;
    char(*v)[WP_ID_LEN + 1] = NULL;
    size_t k = 0, cap = 0;
    int err;

    if ((err = wp_db_prepare(st, &s, "SELECT tenant_id FROM wecom_config ORDER BY tenant_id")) < 0)
        return err;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_array__grow((void **)&v, &cap, k, sizeof *v)) < 0 ||
            (err = wp_db_col_copy(s, 0, v[k], sizeof *v)) < 0)
            break;
        k++;
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

/* --- members -------------------------------------------------------------------------------- */

int wp_store_wecom_employee(wp_store *st, char out[WP_ID_LEN + 1], int *active,
                            const char *tenant_id, const char *userid)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_db_prepare(st, &s,
                             "SELECT id, active FROM employees WHERE tenant_id = ? AND"
                             " wecom_userid = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, userid);
    if ((err = wp_db_step(s)) == WP_DB_DONE)
        err = wp_error_set(WP_ENOTFOUND, "no employee has the WeCom UserID '%s'", userid);
    if (err == WP_DB_ROW && (err = wp_db_col_copy(s, 0, out, WP_ID_LEN + 1)) == 0)
        *active = wp_db_col_int64(s, 1) != 0;
    wp_db_done(s);
    return err < 0 ? err : 0;
}

int wp_store_wecom_members(wp_store *st, wp_wecom_member **out, size_t *n, const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    wp_wecom_member *v = NULL;
    size_t k = 0, cap = 0;
    int err;

    if ((err = wp_db_prepare(st, &s,
                             "SELECT id, wecom_userid FROM employees WHERE tenant_id = ? AND"
                             " active = 1 AND wecom_userid IS NOT NULL ORDER BY wecom_userid")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_array__grow((void **)&v, &cap, k, sizeof *v)) < 0 ||
            (err = wp_db_col_copy(s, 0, v[k].employee_id, sizeof v[k].employee_id)) < 0 ||
            (err = wp_db_col_copy(s, 1, v[k].userid, sizeof v[k].userid)) < 0)
            break;
        k++;
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

int wp_store_wecom_linked(wp_store *st, wp_wecom_linked **out, size_t *n, const char *tenant_id,
                          const char *employee_id)
{
    struct wp_stmt *s = NULL;
    wp_wecom_linked *v = NULL;
    size_t k = 0, cap = 0;
    int err;

    if ((err = wp_db_prepare(st, &s,
                             "SELECT ci.value, c.id, c.name FROM customer_identities ci JOIN"
                             " customer_contacts cc ON cc.tenant_id = ci.tenant_id AND"
                             " cc.customer_id = ci.customer_id JOIN customers c ON c.tenant_id ="
                             " ci.tenant_id AND c.id = ci.customer_id WHERE ci.tenant_id = ? AND"
                             " ci.kind = 'wecom' AND cc.employee_id = ? ORDER BY ci.value")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, employee_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        const char *ext = wp_db_col_text(s, 0);
        if (!ext || strlen(ext) > WP_WECOM_ID_MAX)
            continue; /* not an external userid WeCom would send */
        if ((err = wp_array__grow((void **)&v, &cap, k, sizeof *v)) < 0)
            break;
        memcpy(v[k].external_userid, ext, strlen(ext) + 1);
        if ((err = wp_db_col_copy(s, 1, v[k].customer_id, sizeof v[k].customer_id)) < 0 ||
            (err = wp_seal__col_copy_opt(
                 st, s, 2, v[k].name, sizeof v[k].name,
                 &(wp_seal_at){tenant_id, "customers", "name", v[k].customer_id})) < 0)
            break;
        k++;
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

/* --- the replay cache ----------------------------------------------------------------------- */

int wp_store_wecom_seen(wp_store *st, const char *tenant_id, const char *key, int64_t expires_us,
                        int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err;

    if (strlen(key) > 200)
        return wp_error_set(WP_EINVAL, "replay key too long");
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_db_run(st, "DELETE FROM wecom_replay WHERE tenant_id = ? AND expires_us < ?",
                         "ti", tenant_id, now_us)) < 0)
        goto out;
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO wecom_replay (tenant_id, key, expires_us) VALUES (?, ?,"
                             " ?) ON CONFLICT DO NOTHING RETURNING key")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, key);
    wp_db_bind_int64(s, 3, expires_us);
    if ((err = wp_db_step(s)) == WP_DB_DONE)
        err = wp_error_set(WP_EEXISTS, "seen before");
    else if (err == WP_DB_ROW)
        err = 0;
    wp_db_done(s);
out:
    /* a key seen before is an answer, not a failure: keep the clean-up */
    if (err == WP_EEXISTS) {
        if ((err = wp_store__op_end(st, 0)) == 0)
            err = wp_error_set(WP_EEXISTS, "seen before");
        return err;
    }
    return wp_store__op_end(st, err);
}

int wp_store_wecom_unsee(wp_store *st, const char *tenant_id, const char *key)
{
    return wp_db_run(st, "DELETE FROM wecom_replay WHERE tenant_id = ? AND key = ?", "tt",
                     tenant_id, key);
}

/* --- transfers ------------------------------------------------------------------------------ */

int wp_store_wecom_transfers_plan(wp_store *st, int64_t *planned, const char *tenant_id,
                                  const char *handover_id, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_db_run(
             st,
             "INSERT INTO wecom_transfers (tenant_id, handover_id, customer_id, external_userid,"
             " handover_userid, takeover_userid, kind, state, reason, next_us, created_us,"
             " updated_us) SELECT hi.tenant_id, hi.handover_id, hi.customer_id, ci.value,"
             " fe.wecom_userid, te.wecom_userid, CASE WHEN h.reason = 'departure' THEN"
             " 'resigned' ELSE 'transfer' END, CASE WHEN fe.wecom_userid IS NULL OR"
             " te.wecom_userid IS NULL THEN 'skipped' ELSE 'pending' END, CASE WHEN"
             " fe.wecom_userid IS NULL THEN 'the leaver has no wecom_userid' WHEN"
             " te.wecom_userid IS NULL THEN 'the successor has no wecom_userid' END, CASE WHEN"
             " fe.wecom_userid IS NULL OR te.wecom_userid IS NULL THEN NULL ELSE"
             " CAST(? AS BIGINT) END, CAST(? AS BIGINT), CAST(? AS BIGINT) FROM handover_items hi"
             " JOIN handovers h ON h.tenant_id = hi.tenant_id AND h.id = hi.handover_id JOIN"
             " customer_identities ci ON ci.tenant_id = hi.tenant_id AND ci.customer_id ="
             " hi.customer_id AND ci.kind = 'wecom' JOIN employees fe ON fe.tenant_id ="
             " h.tenant_id AND fe.id = h.from_employee_id JOIN employees te ON te.tenant_id ="
             " hi.tenant_id AND te.id = hi.to_employee_id WHERE hi.tenant_id = ? AND"
             " hi.handover_id = ? AND EXISTS (SELECT 1 FROM wecom_config wc WHERE wc.tenant_id ="
             " hi.tenant_id) ON CONFLICT DO NOTHING",
             "iiitt", now_us, now_us, now_us, tenant_id, handover_id)) < 0)
        return err;
    if (!planned)
        return 0;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT COUNT(*) FROM wecom_transfers WHERE tenant_id = ? AND"
                             " handover_id = ? AND state = 'pending'")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, handover_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        *planned = wp_db_col_int64(s, 0);
    wp_db_done(s);
    return err < 0 ? err : 0;
}

#define TRANSFER_COLS                                                                              \
    "tenant_id, handover_id, customer_id, external_userid, handover_userid, takeover_userid,"     \
    " kind, state, reason, errcode, attempts, next_us, created_us, updated_us"

static int read_transfer(struct wp_stmt *s, wp_wecom_transfer *t)
{
    const char *kind = wp_db_col_text(s, 6);
    int err, state;
    memset(t, 0, sizeof *t);
    if ((err = wp_db_col_copy(s, 0, t->tenant_id, sizeof t->tenant_id)) < 0 ||
        (err = wp_db_col_copy(s, 1, t->handover_id, sizeof t->handover_id)) < 0 ||
        (err = wp_db_col_copy(s, 2, t->customer_id, sizeof t->customer_id)) < 0 ||
        (err = wp_db_col_copy(s, 3, t->external_userid, sizeof t->external_userid)) < 0 ||
        (err = wp_db_col_copy_opt(s, 4, t->handover_userid, sizeof t->handover_userid)) < 0 ||
        (err = wp_db_col_copy_opt(s, 5, t->takeover_userid, sizeof t->takeover_userid)) < 0 ||
        (err = wp_db_col_copy_opt(s, 8, t->reason, sizeof t->reason)) < 0)
        return err;
    if ((state = state_of(wp_db_col_text(s, 7))) < 0)
        return state;
    t->state = (enum wp_wecom_transfer_state)state;
    t->resigned = kind && !strcmp(kind, "resigned");
    t->errcode = wp_db_col_isnull(s, 9) ? -1 : wp_db_col_int64(s, 9);
    t->attempts = wp_db_col_int64(s, 10);
    t->next_us = wp_db_col_isnull(s, 11) ? 0 : wp_db_col_int64(s, 11);
    t->created_us = wp_db_col_int64(s, 12);
    t->updated_us = wp_db_col_int64(s, 13);
    return 0;
}

static int read_transfers(struct wp_stmt *s, wp_wecom_transfer **out, size_t *n)
{
    wp_wecom_transfer *v = NULL;
    size_t k = 0, cap = 0;
    int err;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_array__grow((void **)&v, &cap, k, sizeof *v)) < 0 ||
            (err = read_transfer(s, &v[k])) < 0)
            break;
        k++;
    }
    if (err < 0) {
        free(v);
        return err;
    }
    *out = v;
    *n = k;
    return 0;
}

int wp_store_wecom_transfers_due(wp_store *st, wp_wecom_transfer **out, size_t *n,
                                 int64_t now_us, unsigned limit)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " TRANSFER_COLS " FROM wecom_transfers WHERE next_us IS NOT"
                             " NULL AND next_us <= ? ORDER BY next_us, tenant_id, handover_id,"
                             " customer_id LIMIT ?")) < 0)
        return err;
    wp_db_bind_int64(s, 1, now_us);
    wp_db_bind_int64(s, 2, limit);
    err = read_transfers(s, out, n);
    wp_db_done(s);
    return err;
}

int wp_store_wecom_transfers_of(wp_store *st, wp_wecom_transfer **out, size_t *n,
                                const char *tenant_id, const char *handover_id,
                                const char *const *customer_ids, size_t n_ids)
{
    struct wp_stmt *s = NULL;
    wp_wecom_transfer *all = NULL;
    size_t n_all = 0, k = 0;
    int err;

    *out = NULL;
    *n = 0;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " TRANSFER_COLS " FROM wecom_transfers WHERE tenant_id = ?"
                             " AND handover_id = ? ORDER BY customer_id LIMIT ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, handover_id);
    wp_db_bind_int64(s, 3, TRANSFERS_OF_MAX);
    err = read_transfers(s, &all, &n_all);
    wp_db_done(s);
    if (err < 0 || !customer_ids) {
        *out = all;
        *n = n_all;
        return err;
    }
    /* keep the asked ones (a page of the report: a handful among at most TRANSFERS_OF_MAX) */
    for (size_t i = 0; i < n_all; i++) {
        int want = 0;
        for (size_t j = 0; j < n_ids && !want; j++)
            want = !strcmp(all[i].customer_id, customer_ids[j]);
        if (want)
            all[k++] = all[i];
    }
    *out = all;
    *n = k;
    return 0;
}

int wp_store_wecom_transfer_set(wp_store *st, const wp_wecom_transfer *t, int attempted,
                                int64_t now_us)
{
    struct wp_stmt *s = NULL;
    const char *state = wp_wecom_state_name(t->state);
    int err;

    if (!state)
        return wp_error_set(WP_EINVAL, "transfer state %d", (int)t->state);
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE wecom_transfers SET state = ?, reason = ?, errcode = ?,"
                             " next_us = ?, attempts = attempts + ?, updated_us = ? WHERE"
                             " tenant_id = ? AND handover_id = ? AND customer_id = ? AND next_us IS"
                             " NOT NULL RETURNING state")) < 0)
        return err;
    wp_db_bind_text(s, 1, state);
    wp_db_bind_text_or_null(s, 2, or_null(t->reason));
    if (t->errcode >= 0)
        wp_db_bind_int64(s, 3, t->errcode);
    else
        wp_db_bind_null(s, 3);
    if (t->next_us > 0)
        wp_db_bind_int64(s, 4, t->next_us);
    else
        wp_db_bind_null(s, 4);
    wp_db_bind_int64(s, 5, attempted ? 1 : 0);
    wp_db_bind_int64(s, 6, now_us);
    wp_db_bind_text(s, 7, t->tenant_id);
    wp_db_bind_text(s, 8, t->handover_id);
    wp_db_bind_text(s, 9, t->customer_id);
    if ((err = wp_db_step(s)) == WP_DB_DONE)
        err = wp_error_set(WP_ENOTFOUND, "transfer of customer '%s' is final or unknown",
                           t->customer_id);
    wp_db_done(s);
    return err < 0 ? err : 0;
}

int wp_store_wecom_transfer_refused(wp_store *st, int64_t *n, const char *tenant_id,
                                    const char *takeover_userid, const char *external_userid,
                                    const char *reason, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int64_t k = 0;
    int err;

    if ((err = wp_db_prepare(st, &s,
                             "UPDATE wecom_transfers SET state = 'refused', reason = ?, next_us ="
                             " NULL, updated_us = ? WHERE tenant_id = ? AND takeover_userid = ? AND"
                             " external_userid = ? AND state IN ('pending', 'waiting') RETURNING"
                             " customer_id")) < 0)
        return err;
    wp_db_bind_text(s, 1, reason);
    wp_db_bind_int64(s, 2, now_us);
    wp_db_bind_text(s, 3, tenant_id);
    wp_db_bind_text(s, 4, takeover_userid);
    wp_db_bind_text(s, 5, external_userid);
    while ((err = wp_db_step(s)) == WP_DB_ROW)
        k++;
    wp_db_done(s);
    if (err < 0)
        return err;
    if (n)
        *n = k;
    return 0;
}
