/* SPDX-License-Identifier: MIT */
/* The writer's operation: store one device's batch of validated events (CONTRACT §4). */
#include "store/customers.h"
#include "store/db.h"
#include "store/events.h"
#include "store/geofence.h"
#include "store/grams.h"
#include "store/internal.h"
#include "store/seal.h"
#include "store/store.h"
#include "store/usage.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/id.h"
#include "util/json.h"

#include <assert.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRAMS_MAX (2u * 1024 * 1024) /* bytes of grams text for one 64 KiB message */
#define SEALED_MAX (64u * 1024 * 1024) /* bytes of a sealed field (base64: 4/3 of the plain) */
#define SINK_COLS_MAX 32
#define SINK_ROWS_MAX 1000         /* PostgreSQL: rows per statement */
#define SINK_COL_BYTES (64u << 20) /* one column's array literal; a body is at most 8 MiB */

const char *wp_direction_name(enum wp_direction d)
{
    return d == WP_DIR_IN ? "in" : d == WP_DIR_OUT ? "out" : NULL;
}

/* Phone and SMS peers are found by their number: no channel identity of their own. */
static int channel_is_phone(const char *channel)
{
    return channel && (strcmp(channel, "phone") == 0 || strcmp(channel, "sms") == 0);
}

static int same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static const char *or_null(const char *s)
{
    return s && *s ? s : NULL;
}

/* --- the row sink: one code path for the rows of both backends ---------------------------------
 *
 * A batch's rows go through a sink per statement. On SQLite a row is one execution of a
 * prepared single-row statement (a statement costs microseconds there, and the writer holds
 * the database's write lock anyway). On PostgreSQL every statement is a network round trip,
 * so rows are buffered column by column into array literals and sent as one
 * INSERT ... SELECT FROM unnest(...) per table and batch: a fixed statement whose values all
 * travel as bound parameters, whatever the number of rows. */

struct sink;
typedef int (*sink_row_fn)(struct sink *k, struct wp_stmt *s);

struct sink {
    wp_store *st;
    int pg;
    const char *sql; /* the backend's statement */
    int ncols, col;
    size_t rows;
    sink_row_fn on_row; /* each row the statement returns; NULL: none wanted */
    void *arg;
    struct wp_stmt *s;          /* SQLite: the row being bound */
    wp_buf cols[SINK_COLS_MAX]; /* PostgreSQL: "{v1,v2,...", one array literal per column */
};

static void sink_init(struct sink *k, wp_store *st, int ncols, const char *lite_sql,
                      const char *pg_sql, sink_row_fn on_row, void *arg)
{
    assert(ncols <= SINK_COLS_MAX);
    memset(k, 0, sizeof *k);
    k->st = st;
    k->pg = wp_store_backend(st) == WP_STORE_PG;
    k->sql = k->pg ? pg_sql : lite_sql;
    k->ncols = ncols;
    k->on_row = on_row;
    k->arg = arg;
    for (int i = 0; i < ncols; i++)
        wp_buf_init(&k->cols[i], SINK_COL_BYTES);
}

static void sink_release(struct sink *k)
{
    wp_db_done(k->s);
    k->s = NULL;
    for (int i = 0; i < k->ncols; i++)
        wp_buf_release(&k->cols[i]);
}

/* Start a row: on SQLite, take the statement (held from the sink's first row to its release,
 * reset between rows). */
static int sink_row(struct sink *k)
{
    k->col = 0;
    if (k->pg || k->s)
        return 0;
    return wp_db_prepare(k->st, &k->s, k->sql);
}

/* Append one element to the current column's array literal. */
static int pg_elem(struct sink *k, const char *v, int quote)
{
    wp_buf *b = &k->cols[k->col++];
    int err = wp_buf_addc(b, k->rows ? ',' : '{');
    if (err == 0 && !v)
        return wp_buf_add(b, "NULL", 4);
    if (err == 0 && !quote)
        return wp_buf_adds(b, v);
    if (err == 0)
        err = wp_buf_addc(b, '"');
    for (const char *p = v; err == 0 && *p; p++) {
        size_t run = strcspn(p, "\"\\");
        if (run) {
            err = wp_buf_add(b, p, run);
            p += run - 1;
            continue;
        }
        if ((err = wp_buf_addc(b, '\\')) == 0)
            err = wp_buf_addc(b, *p);
    }
    if (err == 0)
        err = wp_buf_addc(b, '"');
    return err;
}

/* Text (borrowed until the row ends) or NULL. */
static int sink_text(struct sink *k, const char *v)
{
    assert(k->col < k->ncols);
    if (k->pg)
        return pg_elem(k, v, 1);
    wp_db_bind_text_or_null(k->s, ++k->col, v);
    return 0;
}

static int sink_int(struct sink *k, int64_t v)
{
    assert(k->col < k->ncols);
    if (k->pg) {
        char num[24];
        snprintf(num, sizeof num, "%" PRId64, v);
        return pg_elem(k, num, 0);
    }
    wp_db_bind_int64(k->s, ++k->col, v);
    return 0;
}

/* An integer that is absent when negative. */
static int sink_opt_int(struct sink *k, int64_t v)
{
    if (v >= 0)
        return sink_int(k, v);
    return sink_text(k, NULL);
}

static int run_rows(struct sink *k, struct wp_stmt *s)
{
    int err;
    while ((err = wp_db_step(s)) == WP_DB_ROW)
        if (k->on_row && (err = k->on_row(k, s)) < 0)
            break;
    return err < 0 ? err : 0;
}

static int sink_flush(struct sink *k)
{
    struct wp_stmt *s = NULL;
    int err;
    if (!k->pg || k->rows == 0)
        return 0;
    for (int i = 0; i < k->ncols; i++)
        if ((err = wp_buf_addc(&k->cols[i], '}')) < 0)
            return err;
    if ((err = wp_db_prepare(k->st, &s, k->sql)) < 0)
        return err;
    for (int i = 0; i < k->ncols; i++)
        wp_db_bind_text(s, i + 1, k->cols[i].buf);
    err = run_rows(k, s);
    wp_db_done(s);
    k->rows = 0;
    for (int i = 0; i < k->ncols; i++)
        wp_buf_reset(&k->cols[i]);
    return err;
}

/* End the row: SQLite runs it, PostgreSQL counts it (and sends a full buffer). */
static int sink_end(struct sink *k, int err)
{
    assert(err < 0 || k->col == k->ncols);
    if (k->pg) {
        if (err < 0)
            return err;
        return ++k->rows >= SINK_ROWS_MAX ? sink_flush(k) : 0;
    }
    if (err == 0)
        err = run_rows(k, k->s);
    if (err < 0 || !k->s) {
        wp_db_done(k->s);
        k->s = NULL;
    } else {
        wp_db_reset(k->s);
    }
    return err;
}

/* --- the statements ------------------------------------------------------------------------- */

#define MESSAGE_COLS                                                                               \
    "tenant_id, id, device_id, employee_id, customer_id, seq, ts_us, channel, direction, chat,"    \
    " group_id, group_name, peer_id, peer_name, peer_phone, msgtype, msgid, text, media,"          \
    " filename, size, url, title, amount_fen, memo, revoked_seq, revoked_msgid, raw, created_us"

/* PostgreSQL keeps the grams on the row (GIN index); SQLite in the FTS5 table keyed by skey,
 * the message's time key (grams.h, migration 0007). SQLite's rid and skey are given, not
 * returned: RETURNING makes SQLite journal every page the statement touches (it runs as a
 * trigger), which cost more than the insert itself. The writer holds the database's write
 * lock, so max(rid) + 1 is what SQLite would pick anyway, and the next free number of a
 * millisecond stays free until the commit. rid counts up, so the wide rows are appended;
 * only the narrow skey index takes rows out of order. */
static const char message_lite[] =
    "INSERT INTO messages (rid, skey, " MESSAGE_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
    " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char message_pg[] =
    "INSERT INTO messages (" MESSAGE_COLS ", grams) SELECT " MESSAGE_COLS ", CAST(grams AS text[])"
    " FROM unnest(CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),"
    " CAST(? AS text[]), CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS text[]),"
    " CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),"
    " CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),"
    " CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),"
    " CAST(? AS bigint[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS bigint[]),"
    " CAST(? AS text[]), CAST(? AS bigint[]), CAST(? AS text[]), CAST(? AS text[]),"
    " CAST(? AS bigint[]), CAST(? AS text[])) AS u (" MESSAGE_COLS ", grams)";

#define CALL_COLS                                                                                  \
    "tenant_id, id, device_id, employee_id, customer_id, seq, ts_us, direction, peer_id,"          \
    " peer_name, peer_phone, duration_s, recording, raw, created_us"
static const char call_lite[] =
    "INSERT INTO calls (" CALL_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char call_pg[] =
    "INSERT INTO calls (" CALL_COLS ") SELECT * FROM unnest(CAST(? AS text[]),"
    " CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),"
    " CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS text[]), CAST(? AS text[]),"
    " CAST(? AS text[]), CAST(? AS text[]), CAST(? AS bigint[]), CAST(? AS text[]),"
    " CAST(? AS text[]), CAST(? AS bigint[]))";

#define CONTACT_COLS                                                                               \
    "tenant_id, id, device_id, employee_id, customer_id, seq, ts_us, channel, action, peer_id,"    \
    " peer_name, peer_phone, raw, created_us"
static const char contact_lite[] =
    "INSERT INTO contact_events (" CONTACT_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
    " ?)";
static const char contact_pg[] =
    "INSERT INTO contact_events (" CONTACT_COLS ") SELECT * FROM unnest(CAST(? AS text[]),"
    " CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),"
    " CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS text[]), CAST(? AS text[]),"
    " CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),"
    " CAST(? AS bigint[]))";

#define LOCATION_COLS                                                                              \
    "tenant_id, id, device_id, employee_id, seq, ts_us, lat_e7, lon_e7, accuracy_cm, raw,"         \
    " created_us"
static const char location_lite[] =
    "INSERT INTO locations (" LOCATION_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char location_pg[] =
    "INSERT INTO locations (" LOCATION_COLS ") SELECT * FROM unnest(CAST(? AS text[]),"
    " CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS bigint[]),"
    " CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS bigint[]),"
    " CAST(? AS text[]), CAST(? AS bigint[]))";

#define CHECKIN_COLS                                                                               \
    "tenant_id, id, device_id, employee_id, seq, ts_us, kind, lat_e7, lon_e7, accuracy_cm,"       \
    " photo, note, customer_id, inside_geofence, fence_id, raw, created_us"
static const char checkin_lite[] =
    "INSERT INTO checkins (" CHECKIN_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
    " ?, ?)";
static const char checkin_pg[] =
    "INSERT INTO checkins (" CHECKIN_COLS ") SELECT * FROM unnest(CAST(? AS text[]),"
    " CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS bigint[]),"
    " CAST(? AS bigint[]), CAST(? AS text[]), CAST(? AS bigint[]), CAST(? AS bigint[]),"
    " CAST(? AS bigint[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),"
    " CAST(? AS smallint[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS bigint[]))";

#define QUARANTINE_COLS                                                                            \
    "tenant_id, id, device_id, seq, reason, raw, raw_len, raw_sha256, created_us"
static const char quarantine_lite[] =
    "INSERT INTO quarantine (" QUARANTINE_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char quarantine_pg[] =
    "INSERT INTO quarantine (" QUARANTINE_COLS ") SELECT * FROM unnest(CAST(? AS text[]),"
    " CAST(? AS text[]), CAST(? AS text[]), CAST(? AS bigint[]), CAST(? AS text[]),"
    " CAST(? AS text[]), CAST(? AS bigint[]), CAST(? AS text[]), CAST(? AS bigint[]))";

#define ALERT_COLS                                                                                 \
    "tenant_id, id, ts_us, kind, category, employee_id, device_id, customer_id, message_id, seq,"  \
    " pattern, action, matched, match_start, match_end, created_us, updated_us"
static const char alert_lite[] =
    "INSERT INTO alerts (" ALERT_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
    " ?)";
static const char alert_pg[] =
    "INSERT INTO alerts (" ALERT_COLS ") SELECT * FROM unnest(CAST(? AS text[]),"
    " CAST(? AS text[]), CAST(? AS bigint[]), CAST(? AS text[]), CAST(? AS text[]),"
    " CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),"
    " CAST(? AS bigint[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),"
    " CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS bigint[]))";

static const char customer_lite[] =
    "INSERT INTO customers (tenant_id, id, name, phone, owner_employee_id, created_us)"
    " VALUES (?, ?, ?, ?, ?, ?)";
static const char customer_pg[] =
    "INSERT INTO customers (tenant_id, id, name, phone, owner_employee_id, created_us)"
    " SELECT * FROM unnest(CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),"
    " CAST(? AS text[]), CAST(? AS text[]), CAST(? AS bigint[]))";

/* An identity already pointing at another customer stays there: the first sighting wins, and
 * merging customers is a person's decision. */
static const char identity_lite[] =
    "INSERT INTO customer_identities (tenant_id, kind, value, customer_id, created_us, sealed)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING";
static const char identity_pg[] =
    "INSERT INTO customer_identities (tenant_id, kind, value, customer_id, created_us, sealed)"
    " SELECT * FROM unnest(CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),"
    " CAST(? AS text[]), CAST(? AS bigint[]), CAST(? AS text[])) ON CONFLICT DO NOTHING";

static const char find_lite[] = "SELECT kind, value, customer_id FROM customer_identities"
                                " WHERE tenant_id = ? AND kind = ? AND value = ?";
static const char find_pg[] =
    "SELECT i.kind, i.value, i.customer_id FROM unnest(CAST(? AS text[]), CAST(? AS text[]),"
    " CAST(? AS text[])) AS u (tenant_id, kind, value) JOIN customer_identities i"
    " ON i.tenant_id = u.tenant_id AND i.kind = u.kind AND i.value = u.value";

/* A phone learned later fills an empty one; the newest contact time wins. */
static const char touch_lite[] =
    "UPDATE customers SET phone = COALESCE(phone, ?3), last_contact_us = CASE WHEN"
    " last_contact_us IS NULL OR last_contact_us < ?4 THEN ?4 ELSE last_contact_us END"
    " WHERE tenant_id = ?1 AND id = ?2";
static const char touch_pg[] =
    "UPDATE customers AS c SET phone = COALESCE(c.phone, u.phone), last_contact_us = CASE WHEN"
    " c.last_contact_us IS NULL OR c.last_contact_us < u.ts_us THEN u.ts_us"
    " ELSE c.last_contact_us END FROM unnest(CAST(? AS text[]), CAST(? AS text[]),"
    " CAST(? AS text[]), CAST(? AS bigint[])) AS u (tenant_id, id, phone, ts_us)"
    " WHERE c.tenant_id = u.tenant_id AND c.id = u.id";

/* --- peers → customers ------------------------------------------------------------------------ */

/* An identity the batch needs: where the store has it, and where the batch puts it. */
struct ident {
    const char *kind, *value; /* borrowed from the batch's events, or blind */
    const char *plain;        /* a phone whose value is its blind index; else NULL */
    char blind[WP_SEAL_BLIND_LEN + 1];
    uint64_t hash;
    char stored[WP_ID_LEN + 1];   /* its customer in the store ("" when none) */
    char assigned[WP_ID_LEN + 1]; /* its customer after this batch ("" when none yet) */
};

/* A distinct peer of the batch (channel id and phone), in order of first appearance. */
struct peer {
    const char *channel, *pid, *phone;
    uint64_t hash;
    struct ident *by_phone, *by_pid;
    const wp_event *first;
    char customer_id[WP_ID_LEN + 1];
    int64_t last_ts;
    int created;   /* its customer was created by this batch */
    int first_met; /* the batch's employee met its customer for the first time */
};

/* Everything one batch's write needs, sized by its events. */
struct applier {
    wp_store *st;
    wp_event_batch *b;
    int pg;
    struct peer *peers; /* n_peers used, b->n slots */
    size_t n_peers;
    size_t *peer_of;   /* event → its peer's index + 1; 0: none */
    struct ident *ids; /* n_ids used, 2 * b->n slots */
    size_t n_ids;
    size_t *table; /* open addressing over peers and ids: index + 1; 0: empty */
    size_t table_cap;
    int64_t *skey;           /* SQLite: each message's search key (grams.h); 0: none */
    int64_t next_rid;        /* SQLite: the last row id given */
    unsigned char *no_seq;   /* rejected events whose seq cannot move acked_seq */
    struct gram_list *grams; /* SQLite: where to leave the grams; NULL: write them now */
    size_t cur;              /* the event whose row is being written */
    int64_t stored_us;       /* calls' and alerts' created_us (wp_store__stored_us) */
};

static uint64_t hash_add(uint64_t h, const char *s)
{
    if (!s)
        return (h ^ 0xff) * 0x100000001b3ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return (h ^ 0xfe) * 0x100000001b3ULL;
}

/* The slot of an identity (kind 1) or a peer (kind 2) in the table: its index + 1, or the
 * empty slot where it would go (*found 0). Identities and peers share one table; the kind tag
 * in the hash keeps them apart. */
static size_t *slot_of(struct applier *a, uint64_t h, int kind, const char *x, const char *y,
                       const char *z, int *found)
{
    size_t mask = a->table_cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        size_t v = a->table[i];
        *found = 0;
        if (v == 0)
            return &a->table[i];
        v -= 1;
        if (kind == 1 && v < 2 * a->b->n) {
            struct ident *d = &a->ids[v];
            if (d->hash == h && strcmp(d->kind, x) == 0 && strcmp(d->value, y) == 0) {
                *found = 1;
                return &a->table[i];
            }
        } else if (kind == 2 && v >= 2 * a->b->n) {
            struct peer *p = &a->peers[v - 2 * a->b->n];
            if (p->hash == h && same(p->channel, x) && same(p->pid, y) && same(p->phone, z)) {
                *found = 1;
                return &a->table[i];
            }
        }
    }
}

/* value is the lookup (wp_seal__lookup()): when it is not plain itself it is copied. */
static struct ident *ident_get(struct applier *a, const char *kind, const char *value,
                               const char *plain)
{
    uint64_t h = hash_add(hash_add(0xcbf29ce484222325ULL ^ 1, kind), value);
    int found;
    size_t *slot = slot_of(a, h, 1, kind, value, NULL, &found);
    if (found)
        return &a->ids[*slot - 1];
    struct ident *d = &a->ids[a->n_ids];
    memset(d, 0, sizeof *d);
    d->kind = kind;
    d->value = value;
    if (value != plain) {
        snprintf(d->blind, sizeof d->blind, "%s", value);
        d->value = d->blind;
        d->plain = plain;
    }
    d->hash = h;
    *slot = ++a->n_ids;
    return d;
}

/* The batch's distinct peers and the identities they need. */
static int collect_peers(struct applier *a)
{
    wp_event_batch *b = a->b;
    for (size_t i = 0; i < b->n; i++) {
        wp_event *e = &b->events[i];
        a->peer_of[i] = 0;
        if (!e->applied || e->duplicate ||
            (e->type != WP_EVENT_MESSAGE && e->type != WP_EVENT_CALL &&
             e->type != WP_EVENT_CONTACT && e->type != WP_EVENT_CHECKIN))
            continue;
        const char *phone = e->peer.phone;
        const char *pid = channel_is_phone(e->channel) ? NULL : e->peer.id;
        const char *channel = pid ? e->channel : NULL;
        if (!phone && !pid)
            continue;
        uint64_t h = hash_add(hash_add(hash_add(0xcbf29ce484222325ULL ^ 2, channel), pid), phone);
        int found;
        size_t *slot = slot_of(a, h, 2, channel, pid, phone, &found);
        if (found) {
            struct peer *p = &a->peers[*slot - 1 - 2 * b->n];
            if (e->ts_us > p->last_ts)
                p->last_ts = e->ts_us;
            a->peer_of[i] = *slot - 2 * b->n;
            continue;
        }
        struct peer *p = &a->peers[a->n_peers];
        memset(p, 0, sizeof *p);
        p->channel = channel;
        p->pid = pid;
        p->phone = phone;
        p->hash = h;
        p->first = e;
        p->last_ts = e->ts_us;
        *slot = ++a->n_peers + 2 * b->n;
        a->peer_of[i] = a->n_peers;
        if (phone) {
            /* with a master key a phone is found by its blind index */
            char blind[WP_SEAL_BLIND_LEN + 1];
            const char *look;
            int err = wp_seal__lookup(a->st, blind, &look, b->tenant_id, "phone", phone);
            if (err < 0)
                return err;
            p->by_phone = ident_get(a, "phone", look, phone);
        }
        p->by_pid = pid ? ident_get(a, channel, pid, pid) : NULL;
    }
    return 0;
}

static int found_row(struct sink *k, struct wp_stmt *s)
{
    struct applier *a = k->arg;
    const char *kind = wp_db_col_text(s, 0), *value = wp_db_col_text(s, 1);
    int found;
    if (!kind || !value)
        return wp_error_set(WP_EIO, "damaged store: an identity without kind or value");
    uint64_t h = hash_add(hash_add(0xcbf29ce484222325ULL ^ 1, kind), value);
    size_t *slot = slot_of(a, h, 1, kind, value, NULL, &found);
    if (!found)
        return 0; /* not one we asked for (cannot happen: the store compares exactly) */
    struct ident *d = &a->ids[*slot - 1];
    return wp_db_col_copy(s, 2, d->stored, sizeof d->stored);
}

/* Ask the store where the batch's identities point: one statement on PostgreSQL. */
static int lookup_identities(struct applier *a)
{
    struct sink k;
    int err = 0;
    sink_init(&k, a->st, 3, find_lite, find_pg, found_row, a);
    for (size_t i = 0; i < a->n_ids && err == 0; i++) {
        struct ident *d = &a->ids[i];
        if ((err = sink_row(&k)) == 0 && (err = sink_text(&k, a->b->tenant_id)) == 0 &&
            (err = sink_text(&k, d->kind)) == 0)
            err = sink_text(&k, d->value);
        err = sink_end(&k, err);
    }
    if (err == 0)
        err = sink_flush(&k);
    sink_release(&k);
    return err;
}

static const char *ident_customer(const struct ident *d)
{
    return !d ? "" : d->assigned[0] ? d->assigned : d->stored;
}

/* The customer an identity has in the store now ("" if none); into out. */
static int identity_owner(struct applier *a, const struct ident *d, char out[WP_ID_LEN + 1])
{
    struct wp_stmt *s = NULL;
    int err;
    out[0] = '\0';
    if ((err = wp_db_prepare(a->st, &s,
                             "SELECT customer_id FROM customer_identities WHERE tenant_id = ?"
                             " AND kind = ? AND value = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, a->b->tenant_id);
    wp_db_bind_text(s, 2, d->kind);
    wp_db_bind_text(s, 3, d->value);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        err = wp_db_col_copy(s, 0, out, WP_ID_LEN + 1);
    wp_db_done(s);
    return err < 0 ? err : 0;
}

/* PostgreSQL: two nodes meeting a new peer at once both create a customer, but only one
 * identity row can exist ((tenant, kind, value) is the key; ON CONFLICT DO NOTHING waits for
 * the other transaction, then skips). The batch whose identity lost gives way: its customer,
 * created here and without rows yet, hands its other identities to the winner and is
 * deleted, and the batch's peers use the winner. The phone identity decides, as in
 * resolve_peers(). SQLite has one writer: no race. */
static int settle_new_customers(struct applier *a)
{
    struct wp_stmt *s = NULL;
    int err = 0;
    for (size_t i = 0; i < a->n_peers && err == 0; i++) {
        struct peer *p = &a->peers[i];
        struct ident *d = p->by_phone ? p->by_phone : p->by_pid;
        char ours[WP_ID_LEN + 1], won[WP_ID_LEN + 1];
        if (!p->created || !d || strcmp(d->assigned, p->customer_id) != 0)
            continue;
        if ((err = identity_owner(a, d, won)) < 0)
            break;
        if (!won[0] || strcmp(won, p->customer_id) == 0)
            continue;
        memcpy(ours, p->customer_id, sizeof ours);
        if ((err = wp_db_prepare(a->st, &s,
                                 "UPDATE customer_identities SET customer_id = ? WHERE tenant_id"
                                 " = ? AND customer_id = ?")) < 0)
            break;
        wp_db_bind_text(s, 1, won);
        wp_db_bind_text(s, 2, a->b->tenant_id);
        wp_db_bind_text(s, 3, ours);
        err = wp_db_step(s);
        wp_db_done(s);
        if (err < 0 || (err = wp_db_prepare(
                            a->st, &s, "DELETE FROM customers WHERE tenant_id = ? AND id = ?")) < 0)
            break;
        wp_db_bind_text(s, 1, a->b->tenant_id);
        wp_db_bind_text(s, 2, ours);
        err = wp_db_step(s);
        wp_db_done(s);
        if (err < 0)
            break;
        err = 0;
        for (size_t j = 0; j < a->n_peers; j++) {
            if (strcmp(a->peers[j].customer_id, ours) == 0) {
                memcpy(a->peers[j].customer_id, won, sizeof won);
                a->peers[j].created = 0;
            }
        }
        for (size_t j = 0; j < a->n_ids; j++)
            if (strcmp(a->ids[j].assigned, ours) == 0)
                memcpy(a->ids[j].assigned, won, sizeof won);
    }
    return err;
}

/* Peer → customer: by phone, else by channel id, within the tenant; created on first sight,
 * owned by the device's employee. Peers are taken in order of first appearance and each sees
 * the identities the ones before it added, as if the events were stored one by one. */
static int resolve_peers(struct applier *a)
{
    wp_event_batch *b = a->b;
    struct sink cust, idt;
    int err;

    if (a->n_peers == 0)
        return 0;
    if ((err = lookup_identities(a)) < 0)
        return err;
    /* a phone its blind index missed may be stored by its number (before the master key, or
     * by a node without it): found that way, it is indexed now (seal.h) */
    for (size_t i = 0; i < a->n_ids; i++) {
        struct ident *d = &a->ids[i];
        if (d->plain && !d->stored[0] &&
            (err = wp_seal__identity_adopt(a->st, d->stored, b->tenant_id, d->value,
                                           d->plain)) < 0)
            return err;
    }
    wp_buf sb, nb;
    wp_buf_init(&sb, WP_SEAL_SMALL_MAX);
    wp_buf_init(&nb, WP_SEAL_SMALL_MAX);
    sink_init(&cust, a->st, 6, customer_lite, customer_pg, NULL, NULL);
    sink_init(&idt, a->st, 6, identity_lite, identity_pg, NULL, NULL);
    for (size_t i = 0; i < a->n_peers && err == 0; i++) {
        struct peer *p = &a->peers[i];
        const char *id = ident_customer(p->by_phone);
        if (!*id)
            id = ident_customer(p->by_pid);
        if (*id) {
            memcpy(p->customer_id, id, WP_ID_LEN + 1);
        } else {
            const wp_event *e = p->first;
            const char *name = e->peer.name    ? e->peer.name
                               : e->peer.phone ? e->peer.phone
                                               : e->peer.id;
            const char *phone = NULL;
            wp_id_new(p->customer_id);
            p->created = 1;
            wp_seal_at at = {b->tenant_id, "customers", "phone", p->customer_id};
            wp_seal_at at_name = {b->tenant_id, "customers", "name", p->customer_id};
            if ((err = wp_seal__text(a->st, &sb, &phone, &at, e->peer.phone)) == 0 &&
                (err = wp_seal__text(a->st, &nb, &name, &at_name, name)) == 0 &&
                (err = sink_row(&cust)) == 0 && (err = sink_text(&cust, b->tenant_id)) == 0 &&
                (err = sink_text(&cust, p->customer_id)) == 0 &&
                (err = sink_text(&cust, name)) == 0 && (err = sink_text(&cust, phone)) == 0 &&
                (err = sink_text(&cust, b->employee_id)) == 0)
                err = sink_int(&cust, b->now_us);
            if ((err = sink_end(&cust, err)) < 0)
                break;
        }
        struct ident *need[2] = {p->by_phone, p->by_pid};
        for (int j = 0; j < 2 && err == 0; j++) {
            struct ident *d = need[j];
            if (!d || *ident_customer(d))
                continue; /* known already, here or to another customer */
            memcpy(d->assigned, p->customer_id, WP_ID_LEN + 1);
            const char *sealed = NULL;
            wp_seal_at at = {b->tenant_id, "customer_identities", "value", d->value};
            if ((err = wp_seal__text(a->st, &sb, &sealed, &at, d->plain)) == 0 &&
                (err = sink_row(&idt)) == 0 && (err = sink_text(&idt, b->tenant_id)) == 0 &&
                (err = sink_text(&idt, d->kind)) == 0 && (err = sink_text(&idt, d->value)) == 0 &&
                (err = sink_text(&idt, p->customer_id)) == 0 &&
                (err = sink_int(&idt, b->now_us)) == 0)
                err = sink_text(&idt, sealed);
            err = sink_end(&idt, err);
        }
    }
    /* customers before their identities and rows (foreign keys) */
    if (err == 0 && (err = sink_flush(&cust)) == 0)
        err = sink_flush(&idt);
    sink_release(&cust);
    sink_release(&idt);
    wp_buf_release(&sb);
    wp_buf_release(&nb);
    if (err == 0 && a->pg)
        err = settle_new_customers(a);
    for (size_t i = 0; i < b->n && err == 0; i++)
        if (a->peer_of[i])
            memcpy(b->events[i].customer_id, a->peers[a->peer_of[i] - 1].customer_id,
                   WP_ID_LEN + 1);
    return err;
}

/* The customers of the batch's peers: last contact, and a phone learned in the batch. Peers
 * sharing a customer are folded first, so each customer is updated once. */
static int touch_customers(struct applier *a)
{
    struct sink k;
    wp_buf sb;
    int err = 0;
    wp_buf_init(&sb, WP_SEAL_SMALL_MAX);
    sink_init(&k, a->st, 4, touch_lite, touch_pg, NULL, NULL);
    for (size_t i = 0; i < a->n_peers && err == 0; i++) {
        struct peer *p = &a->peers[i];
        const char *phone = p->phone;
        int64_t ts = p->last_ts;
        int dup = 0;
        for (size_t j = 0; j < i && !dup; j++)
            dup = strcmp(a->peers[j].customer_id, p->customer_id) == 0;
        if (dup)
            continue; /* folded into the first peer with this customer, below */
        for (size_t j = i + 1; j < a->n_peers; j++) {
            struct peer *q = &a->peers[j];
            if (strcmp(q->customer_id, p->customer_id) != 0)
                continue;
            if (!phone)
                phone = q->phone;
            if (q->last_ts > ts)
                ts = q->last_ts;
        }
        wp_seal_at at = {a->b->tenant_id, "customers", "phone", p->customer_id};
        if ((err = wp_seal__text(a->st, &sb, &phone, &at, phone)) == 0 &&
            (err = sink_row(&k)) == 0 && (err = sink_text(&k, a->b->tenant_id)) == 0 &&
            (err = sink_text(&k, p->customer_id)) == 0 && (err = sink_text(&k, phone)) == 0)
            err = sink_int(&k, ts);
        err = sink_end(&k, err);
    }
    if (err == 0)
        err = sink_flush(&k);
    sink_release(&k);
    wp_buf_release(&sb);
    return err;
}

/* --- who met whom: collisions (migration 0013) -------------------------------------------------
 *
 * Each customer of the batch is marked as met by the batch's employee; a first meeting of a
 * customer that someone else owns (not in the pool) is a collision (撞单): an alert about this
 * employee that names the owner, so that the managers over both see it. Neither gains the
 * other's conversations (history is seen through the employee who had it). */

static const char met_lite[] =
    "INSERT INTO customer_contacts (tenant_id, customer_id, employee_id, first_us)"
    " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING customer_id";
static const char met_pg[] =
    "INSERT INTO customer_contacts (tenant_id, customer_id, employee_id, first_us)"
    " SELECT * FROM unnest(CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),"
    " CAST(? AS bigint[])) ON CONFLICT DO NOTHING RETURNING customer_id";

static int met_row(struct sink *k, struct wp_stmt *s)
{
    struct applier *a = k->arg;
    const char *cid = wp_db_col_text(s, 0);
    for (size_t i = 0; cid && i < a->n_peers; i++)
        if (!strcmp(a->peers[i].customer_id, cid)) {
            a->peers[i].first_met = 1; /* the first peer of that customer: one alert */
            break;
        }
    return 0;
}

/* A first meeting of a customer owned by someone else: one alert. */
static int collision(struct applier *a, const struct peer *p)
{
    wp_event_batch *b = a->b;
    struct wp_stmt *s = NULL;
    char owner[WP_ID_LEN + 1] = "", id[WP_ID_LEN + 1];
    int err, in_pool = 0;

    if ((err = wp_db_prepare(a->st, &s,
                             "SELECT owner_employee_id, in_pool FROM customers WHERE"
                             " tenant_id = ? AND id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, b->tenant_id);
    wp_db_bind_text(s, 2, p->customer_id);
    int found = (err = wp_db_step(s)) == WP_DB_ROW;
    if (found) {
        err = wp_db_col_copy(s, 0, owner, sizeof owner);
        in_pool = wp_db_col_int64(s, 1) != 0;
    }
    wp_db_done(s);
    if (err < 0 || !found || in_pool || !strcmp(owner, b->employee_id))
        return err < 0 ? err : 0;
    wp_id_new(id);
    return wp_db_run(a->st,
                     "INSERT INTO alerts (tenant_id, id, ts_us, kind, category, employee_id,"
                     " device_id, customer_id, seq, action, other_employee_id, created_us,"
                     " updated_us) VALUES (?, ?, ?, 'customer_collision', 'collision', ?, ?, ?,"
                     " ?, 'alert', ?, ?, ?)",
                     "ttitttitii", b->tenant_id, id, p->first->ts_us, b->employee_id, b->device_id,
                     p->customer_id, p->first->seq, owner, a->stored_us, b->now_us);
}

static int note_met(struct applier *a)
{
    struct sink k;
    int err = 0;
    sink_init(&k, a->st, 4, met_lite, met_pg, met_row, a);
    for (size_t i = 0; i < a->n_peers && err == 0; i++) {
        struct peer *p = &a->peers[i];
        int dup = 0;
        for (size_t j = 0; j < i && !dup; j++)
            dup = strcmp(a->peers[j].customer_id, p->customer_id) == 0;
        if (dup || !p->customer_id[0])
            continue;
        if ((err = sink_row(&k)) == 0 && (err = sink_text(&k, a->b->tenant_id)) == 0 &&
            (err = sink_text(&k, p->customer_id)) == 0 &&
            (err = sink_text(&k, a->b->employee_id)) == 0)
            err = sink_int(&k, p->first->ts_us);
        err = sink_end(&k, err);
    }
    if (err == 0)
        err = sink_flush(&k);
    sink_release(&k);
    for (size_t i = 0; i < a->n_peers && err == 0; i++)
        if (a->peers[i].first_met && !a->peers[i].created)
            err = collision(a, &a->peers[i]);
    return err;
}

/* --- rows ------------------------------------------------------------------------------------- */

/* The sinks of one batch's rows. */
struct rows {
    struct sink message, call, contact, location, checkin, quarantine, alert;
};

/* SQLite: the last message row id, so the batch can number its rows. */
static int last_rid(struct applier *a)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(a->st, &s, "SELECT max(rid) FROM messages")) < 0)
        return err;
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        a->next_rid = wp_db_col_int64(s, 0);
    wp_db_done(s);
    return err < 0 ? err : 0;
}

/* SQLite: the search key of the message at event i (grams.h): the next number free in its
 * millisecond (rows are inserted one by one on SQLite, so the index has the batch's own). */
static int next_skey(struct applier *a, size_t i, int64_t ts_us)
{
    struct wp_stmt *s = NULL;
    int64_t g = wp_skey__group(ts_us), last = -1;
    int err;
    if ((err = wp_db_prepare(a->st, &s,
                             "SELECT max(skey) FROM messages WHERE skey >= ? AND skey <= ?")) < 0)
        return err;
    wp_db_bind_int64(s, 1, wp_skey__group_first(g));
    wp_db_bind_int64(s, 2, wp_skey__group_last(g));
    if ((err = wp_db_step(s)) == WP_DB_ROW && !wp_db_col_isnull(s, 0))
        last = wp_db_col_int64(s, 0);
    wp_db_done(s);
    if (err < 0)
        return err;
    if (last == wp_skey__group_last(g))
        return wp_error_set(WP_ELIMIT, "more than %ld messages in one millisecond",
                            1L << WP_SKEY_LOW_BITS);
    a->skey[i] = last < 0 ? wp_skey__group_first(g) : last + 1;
    if (a->skey[i] == 0) /* 0 marks "no key" in a->skey */
        a->skey[i] = 1;
    return 0;
}

static int put_message(struct applier *a, struct sink *k, const wp_event *e)
{
    const wp_event_batch *b = a->b;
    wp_buf grams, text_b, raw_b, phone_b, name_b;
    const char *text = e->text, *raw = e->raw, *phone = e->peer.phone, *name = e->peer.name;
    /* the message's other words: group name, file name, link and its title, a red packet's memo */
    static const char *const more_cols[] = {"group_name", "filename", "url", "title", "memo"};
    const char *more[5] = {e->group_name, e->filename, e->url, e->title, e->memo};
    wp_buf more_b[5];
    unsigned char gk[WP_GRAM_KEY_LEN];
    int err, keyed = 0;
    wp_buf_init(&grams, GRAMS_MAX);
    wp_buf_init(&text_b, SEALED_MAX);
    wp_buf_init(&raw_b, SEALED_MAX);
    wp_buf_init(&phone_b, WP_SEAL_SMALL_MAX);
    wp_buf_init(&name_b, WP_SEAL_SMALL_MAX);
    for (int c = 0; c < 5; c++)
        wp_buf_init(&more_b[c], SEALED_MAX);
    /* with a master key the text, the peer's phone and the event as sent are sealed to this row
     * (docs/internals/encryption.md); the scan and the grams saw the plaintext in memory */
    wp_seal_at at_text = {b->tenant_id, "messages", "text", e->id};
    wp_seal_at at_raw = {b->tenant_id, "messages", "raw", e->id};
    wp_seal_at at_phone = {b->tenant_id, "messages", "peer_phone", e->id};
    wp_seal_at at_name = {b->tenant_id, "messages", "peer_name", e->id};
    if ((err = wp_seal__text(a->st, &text_b, &text, &at_text, e->text)) == 0 &&
        (err = wp_seal__text(a->st, &phone_b, &phone, &at_phone, e->peer.phone)) == 0 &&
        (err = wp_seal__text(a->st, &name_b, &name, &at_name, e->peer.name)) == 0 &&
        (err = wp_seal__text(a->st, &raw_b, &raw, &at_raw, e->raw)) == 0)
        for (int c = 0; c < 5 && err == 0; c++) {
            wp_seal_at at = {b->tenant_id, "messages", more_cols[c], e->id};
            err = wp_seal__text(a->st, &more_b[c], &more[c], &at, more[c]);
        }
    if (err == 0 && a->pg && e->text)
        err = wp_seal__gram_key(a->st, gk, &keyed, b->tenant_id);
    if (err == 0 && (err = sink_row(k)) == 0 && !a->pg && (err = sink_int(k, ++a->next_rid)) == 0 &&
        (err = next_skey(a, a->cur, e->ts_us)) == 0)
        err = sink_int(k, a->skey[a->cur]);
    if (err == 0 && (err = sink_text(k, b->tenant_id)) == 0 && (err = sink_text(k, e->id)) == 0 &&
        (err = sink_text(k, b->device_id)) == 0 && (err = sink_text(k, b->employee_id)) == 0 &&
        (err = sink_text(k, or_null(e->customer_id))) == 0 && (err = sink_int(k, e->seq)) == 0 &&
        (err = sink_int(k, e->ts_us)) == 0 && (err = sink_text(k, e->channel)) == 0 &&
        (err = sink_text(k, wp_direction_name(e->direction))) == 0 &&
        (err = sink_text(k, e->chat)) == 0 && (err = sink_text(k, e->group_id)) == 0 &&
        (err = sink_text(k, more[0])) == 0 && (err = sink_text(k, e->peer.id)) == 0 &&
        (err = sink_text(k, name)) == 0 && (err = sink_text(k, phone)) == 0 &&
        (err = sink_text(k, e->msgtype)) == 0 && (err = sink_text(k, e->msgid)) == 0 &&
        (err = sink_text(k, text)) == 0 && (err = sink_text(k, e->media)) == 0 &&
        (err = sink_text(k, more[1])) == 0 && (err = sink_opt_int(k, e->size)) == 0 &&
        (err = sink_text(k, more[2])) == 0 && (err = sink_text(k, more[3])) == 0 &&
        (err = sink_opt_int(k, e->amount_fen)) == 0 && (err = sink_text(k, more[4])) == 0 &&
        (err = sink_opt_int(k, e->revoked_seq > 0 ? e->revoked_seq : -1)) == 0 &&
        (err = sink_text(k, e->revoked_msgid)) == 0 && (err = sink_text(k, raw)) == 0 &&
        (err = sink_int(k, b->now_us)) == 0 && a->pg) {
        if (e->text)
            err = wp_grams__make_keyed(&grams, NULL, e->text, strlen(e->text), 0,
                                       WP_GRAMS_PG_ARRAY, keyed ? gk : NULL);
        if (err == 0)
            err = sink_text(k, grams.len ? grams.buf : "{}");
    }
    err = sink_end(k, err);
    sodium_memzero(gk, sizeof gk);
    wp_buf_release(&grams);
    wp_buf_release(&text_b);
    wp_buf_release(&raw_b);
    wp_buf_release(&phone_b);
    wp_buf_release(&name_b);
    for (int c = 0; c < 5; c++)
        wp_buf_release(&more_b[c]);
    return err;
}

/* A recall marks the earlier message; its text stays (CONTRACT §4). A target that is not in
 * the archive (never sent, or not yet) is no error: the revoke row itself records it. */
static int mark_recalled(wp_store *st, const wp_event_batch *b, const wp_event *e)
{
    struct wp_stmt *s = NULL;
    int err;
    if (e->revoked_seq > 0) {
        if ((err = wp_db_prepare(st, &s,
                                 "UPDATE messages SET recalled = 1, recalled_us = ?"
                                 " WHERE tenant_id = ? AND device_id = ? AND seq = ?"
                                 " AND msgtype <> 'revoke'")) < 0)
            return err;
        wp_db_bind_int64(s, 4, e->revoked_seq);
    } else if (e->revoked_msgid && e->channel && strcmp(e->channel, "wecom") == 0) {
        /* a WeCom message is one message whichever path stored it (dedupe_wecom): its msgid
         * names it in the tenant */
        if ((err = wp_db_prepare(st, &s,
                                 "UPDATE messages SET recalled = 1, recalled_us = ?"
                                 " WHERE tenant_id = ? AND channel = 'wecom' AND msgid = ?"
                                 " AND msgtype <> 'revoke'")) < 0)
            return err;
        wp_db_bind_int64(s, 1, e->ts_us);
        wp_db_bind_text(s, 2, b->tenant_id);
        wp_db_bind_text(s, 3, e->revoked_msgid);
        err = wp_db_step(s);
        wp_db_done(s);
        return err < 0 ? err : 0;
    } else if (e->revoked_msgid) {
        if ((err = wp_db_prepare(st, &s,
                                 "UPDATE messages SET recalled = 1, recalled_us = ?"
                                 " WHERE tenant_id = ? AND device_id = ? AND msgid = ?"
                                 " AND msgtype <> 'revoke'")) < 0)
            return err;
        wp_db_bind_text(s, 4, e->revoked_msgid);
    } else {
        return 0;
    }
    wp_db_bind_int64(s, 1, e->ts_us);
    wp_db_bind_text(s, 2, b->tenant_id);
    wp_db_bind_text(s, 3, b->device_id);
    err = wp_db_step(s);
    wp_db_done(s);
    return err < 0 ? err : 0;
}

/* A call's or a contact event's peer and the event as sent, sealed to its row with a master key
 * (docs/internals/encryption.md) into name, phone and raw (each the plaintext without one). */
struct peer_sealed {
    wp_buf nb, pb, rb;
    const char *name, *phone, *raw;
};

static int peer_seal(struct applier *a, struct peer_sealed *ps, const char *table,
                     const wp_event *e)
{
    wp_seal_at at_name = {a->b->tenant_id, table, "peer_name", e->id};
    wp_seal_at at_phone = {a->b->tenant_id, table, "peer_phone", e->id};
    wp_seal_at at_raw = {a->b->tenant_id, table, "raw", e->id};
    int err;
    wp_buf_init(&ps->nb, WP_SEAL_SMALL_MAX);
    wp_buf_init(&ps->pb, WP_SEAL_SMALL_MAX);
    wp_buf_init(&ps->rb, SEALED_MAX);
    ps->name = e->peer.name;
    ps->phone = e->peer.phone;
    ps->raw = e->raw;
    if ((err = wp_seal__text(a->st, &ps->nb, &ps->name, &at_name, e->peer.name)) == 0 &&
        (err = wp_seal__text(a->st, &ps->pb, &ps->phone, &at_phone, e->peer.phone)) == 0)
        err = wp_seal__text(a->st, &ps->rb, &ps->raw, &at_raw, e->raw);
    return err;
}

static void peer_sealed_release(struct peer_sealed *ps)
{
    wp_buf_release(&ps->nb);
    wp_buf_release(&ps->pb);
    wp_buf_release(&ps->rb);
}

static int put_call(struct applier *a, struct sink *k, const wp_event *e)
{
    const wp_event_batch *b = a->b;
    struct peer_sealed ps;
    int err;
    if ((err = peer_seal(a, &ps, "calls", e)) == 0 && (err = sink_row(k)) == 0 &&
        (err = sink_text(k, b->tenant_id)) == 0 && (err = sink_text(k, e->id)) == 0 &&
        (err = sink_text(k, b->device_id)) == 0 && (err = sink_text(k, b->employee_id)) == 0 &&
        (err = sink_text(k, or_null(e->customer_id))) == 0 && (err = sink_int(k, e->seq)) == 0 &&
        (err = sink_int(k, e->ts_us)) == 0 &&
        (err = sink_text(k, wp_direction_name(e->direction))) == 0 &&
        (err = sink_text(k, e->peer.id)) == 0 && (err = sink_text(k, ps.name)) == 0 &&
        (err = sink_text(k, ps.phone)) == 0 && (err = sink_opt_int(k, e->duration_s)) == 0 &&
        (err = sink_text(k, e->recording)) == 0 && (err = sink_text(k, ps.raw)) == 0)
        err = sink_int(k, a->stored_us);
    err = sink_end(k, err);
    peer_sealed_release(&ps);
    return err;
}

static int put_contact(struct applier *a, struct sink *k, const wp_event *e)
{
    const wp_event_batch *b = a->b;
    struct peer_sealed ps;
    int err;
    if ((err = peer_seal(a, &ps, "contact_events", e)) == 0 && (err = sink_row(k)) == 0 &&
        (err = sink_text(k, b->tenant_id)) == 0 && (err = sink_text(k, e->id)) == 0 &&
        (err = sink_text(k, b->device_id)) == 0 && (err = sink_text(k, b->employee_id)) == 0 &&
        (err = sink_text(k, or_null(e->customer_id))) == 0 && (err = sink_int(k, e->seq)) == 0 &&
        (err = sink_int(k, e->ts_us)) == 0 && (err = sink_text(k, e->channel)) == 0 &&
        (err = sink_text(k, e->action)) == 0 && (err = sink_text(k, e->peer.id)) == 0 &&
        (err = sink_text(k, ps.name)) == 0 && (err = sink_text(k, ps.phone)) == 0 &&
        (err = sink_text(k, ps.raw)) == 0)
        err = sink_int(k, b->now_us);
    err = sink_end(k, err);
    peer_sealed_release(&ps);
    return err;
}

static int put_location(struct applier *a, struct sink *k, const wp_event *e)
{
    const wp_event_batch *b = a->b;
    int err;
    if ((err = sink_row(k)) == 0 && (err = sink_text(k, b->tenant_id)) == 0 &&
        (err = sink_text(k, e->id)) == 0 && (err = sink_text(k, b->device_id)) == 0 &&
        (err = sink_text(k, b->employee_id)) == 0 && (err = sink_int(k, e->seq)) == 0 &&
        (err = sink_int(k, e->ts_us)) == 0 && (err = sink_int(k, e->lat_e7)) == 0 &&
        (err = sink_int(k, e->lon_e7)) == 0 && (err = sink_opt_int(k, e->accuracy_cm)) == 0 &&
        (err = sink_text(k, e->raw)) == 0)
        err = sink_int(k, b->now_us);
    return sink_end(k, err);
}

static int put_checkin(struct applier *a, struct sink *k, const wp_event *e)
{
    const wp_event_batch *b = a->b;
    wp_buf rb;
    const char *raw = e->raw;
    int err;
    /* the event as sent quotes what the phone put in it: sealed to its row with a master key */
    wp_seal_at at_raw = {b->tenant_id, "checkins", "raw", e->id};
    wp_buf_init(&rb, SEALED_MAX);
    if ((err = wp_seal__text(a->st, &rb, &raw, &at_raw, e->raw)) == 0 &&
        (err = sink_row(k)) == 0 && (err = sink_text(k, b->tenant_id)) == 0 &&
        (err = sink_text(k, e->id)) == 0 && (err = sink_text(k, b->device_id)) == 0 &&
        (err = sink_text(k, b->employee_id)) == 0 && (err = sink_int(k, e->seq)) == 0 &&
        (err = sink_int(k, e->ts_us)) == 0 && (err = sink_text(k, e->checkin_kind)) == 0 &&
        (err = sink_int(k, e->lat_e7)) == 0 && (err = sink_int(k, e->lon_e7)) == 0 &&
        (err = sink_opt_int(k, e->accuracy_cm)) == 0 && (err = sink_text(k, e->photo)) == 0 &&
        (err = sink_text(k, e->note)) == 0 &&
        (err = sink_text(k, or_null(e->customer_id))) == 0 &&
        (err = sink_opt_int(k, e->inside_geofence)) == 0 &&
        (err = sink_text(k, or_null(e->fence_id))) == 0 && (err = sink_text(k, raw)) == 0)
        err = sink_int(k, b->now_us);
    err = sink_end(k, err);
    wp_buf_release(&rb);
    return err;
}

/* A visit that names a customer is a fact of its timeline: an event "visit" at the visit's
 * time, by the employee, naming the check-in. */
static int visit_event(struct applier *a, const wp_event *e)
{
    const wp_event_batch *b = a->b;
    char actor[16 + WP_ID_LEN];
    wp_buf d;
    int err;
    snprintf(actor, sizeof actor, "employee:%s", b->employee_id);
    wp_crm_actor who = {actor, b->employee_id};
    wp_buf_init(&d, WP_CHECKIN_NOTE_MAX * 2 + 512);
    if ((err = wp_buf_adds(&d, "{\"checkin_id\":")) == 0 &&
        (err = wp_json_str(&d, e->id, strlen(e->id))) == 0 &&
        (err = wp_buf_adds(&d, ",\"photo\":")) == 0)
        err = e->photo ? wp_json_str(&d, e->photo, strlen(e->photo)) : wp_buf_adds(&d, "null");
    if (err == 0 && (err = wp_buf_adds(&d, ",\"note\":")) == 0)
        err = e->note ? wp_json_str(&d, e->note, strlen(e->note)) : wp_buf_adds(&d, "null");
    if (err == 0)
        err = wp_buf_adds(&d, "}");
    if (err == 0)
        err = wp_store_customer_event_add(a->st, NULL, b->tenant_id, e->customer_id, "visit",
                                          &who, d.buf, e->ts_us);
    wp_buf_release(&d);
    return err;
}

/* How many bytes of a rejected event's raw JSON the quarantine keeps: all of it up to
 * WP_QUARANTINE_RAW_MAX, else the most that ends on a whole character (raw is UTF-8). */
static size_t quarantine_keep(const char *raw, size_t len)
{
    size_t n = WP_QUARANTINE_RAW_MAX;
    if (len <= n)
        return len;
    while (n > 0 && ((unsigned char)raw[n] & 0xc0) == 0x80)
        n--;
    return n;
}

/* A rejected event: its first WP_QUARANTINE_RAW_MAX bytes, and the length and SHA-256 of the
 * whole, so what a device sent can still be told apart and checked against its own copy. */
static int put_quarantine(struct applier *a, struct sink *k, const wp_event *e, int with_seq)
{
    const wp_event_batch *b = a->b;
    char slice[WP_QUARANTINE_RAW_MAX + 1], sha[65];
    size_t len = strlen(e->raw), keep = quarantine_keep(e->raw, len);
    int err;
    memcpy(slice, e->raw, keep);
    slice[keep] = '\0';
    wp_token_hash(sha, e->raw);
    if ((err = sink_row(k)) == 0 && (err = sink_text(k, b->tenant_id)) == 0 &&
        (err = sink_text(k, e->id)) == 0 && (err = sink_text(k, b->device_id)) == 0 &&
        (err = sink_opt_int(k, with_seq ? e->seq : -1)) == 0 &&
        (err = sink_text(k, e->reason ? e->reason : "invalid event")) == 0 &&
        (err = sink_text(k, slice)) == 0 && (err = sink_int(k, (int64_t)len)) == 0 &&
        (err = sink_text(k, sha)) == 0)
        err = sink_int(k, b->now_us);
    return sink_end(k, err);
}

static int put_alert(struct applier *a, struct sink *k, const wp_event *e, wp_alert_draft *d)
{
    const wp_event_batch *b = a->b;
    char matched[1024 + 1];
    int err;
    wp_id_new(d->id);
    if (d->matched) {
        /* A match (a long regex hit, say) is kept whole up to 1 KiB, cut on a character. */
        size_t n = d->matched_len < sizeof matched - 1 ? d->matched_len : sizeof matched - 1;
        while (n > 0 && n < d->matched_len && ((unsigned char)d->matched[n] & 0xc0) == 0x80)
            n--;
        memcpy(matched, d->matched, n);
        matched[n] = '\0';
    }
    /* with a master key the words a rule matched (a part of the message) are sealed to the
     * alert: a phone number a contact-leak rule caught is one */
    const char *m = d->matched ? matched : NULL;
    wp_seal_at at = {b->tenant_id, "alerts", "matched", d->id};
    wp_buf mb;
    wp_buf_init(&mb, WP_SEAL_SMALL_MAX * 4);
    if ((err = wp_seal__text(a->st, &mb, &m, &at, m)) < 0) {
        wp_buf_release(&mb);
        return err;
    }
    if ((err = sink_row(k)) == 0 && (err = sink_text(k, b->tenant_id)) == 0 &&
        (err = sink_text(k, d->id)) == 0 && (err = sink_int(k, e->ts_us)) == 0 &&
        (err = sink_text(k, d->kind)) == 0 && (err = sink_text(k, d->category)) == 0 &&
        (err = sink_text(k, b->employee_id)) == 0 && (err = sink_text(k, b->device_id)) == 0 &&
        (err = sink_text(k, or_null(e->customer_id))) == 0 &&
        (err = sink_text(k, e->type == WP_EVENT_MESSAGE ? e->id : NULL)) == 0 &&
        (err = sink_int(k, e->seq)) == 0 && (err = sink_text(k, d->pattern)) == 0 &&
        (err = sink_text(k, d->action)) == 0 &&
        (err = sink_text(k, m)) == 0 && (err = sink_opt_int(k, d->start)) == 0 &&
        (err = sink_opt_int(k, d->end)) == 0 && (err = sink_int(k, a->stored_us)) == 0)
        err = sink_int(k, b->now_us);
    err = sink_end(k, err);
    wp_buf_release(&mb);
    return err;
}

/* SQLite: messages whose search grams are still to be written. */
struct gram_row {
    int64_t key;
    const char *text, *tenant_id; /* borrowed from the batch */
};

struct gram_list {
    struct gram_row *v;
    size_t n, cap;
};

static int cmp_key(const void *x, const void *y)
{
    const struct gram_row *a = x, *b = y;
    return (a->key > b->key) - (a->key < b->key);
}

static int collect_grams(struct applier *a, struct gram_list *g)
{
    wp_event_batch *b = a->b;
    int err;
    for (size_t i = 0; i < b->n; i++) {
        wp_event *e = &b->events[i];
        if (!e->applied || e->duplicate || e->type != WP_EVENT_MESSAGE || !e->text ||
            !a->skey[i])
            continue;
        if ((err = wp_array__grow((void **)&g->v, &g->cap, g->n, sizeof *g->v)) < 0)
            return err;
        g->v[g->n].key = a->skey[i];
        g->v[g->n].text = e->text;
        g->v[g->n++].tenant_id = b->tenant_id;
    }
    return 0;
}

/* SQLite: the search grams, after every other row, in key order. FTS5 writes the grams it
 * holds to a new index segment at every statement savepoint, and whenever a rowid comes lower
 * than the one before it in the transaction: inserting them after every other statement,
 * sorted (keys follow the messages' times, which batches need not), makes that one segment
 * per batch (or per wp_store_events_apply_many() call) instead of one per message. */
static int index_grams(wp_store *st, struct gram_list *g)
{
    struct wp_stmt *s = NULL;
    wp_buf grams;
    int err = 0;
    wp_buf_init(&grams, GRAMS_MAX);
    if (g->n) /* v is NULL when nothing was added: qsort must not see it */
        qsort(g->v, g->n, sizeof *g->v, cmp_key);
    for (size_t k = 0; k < g->n && err == 0; k++) {
        unsigned char gk[WP_GRAM_KEY_LEN];
        int keyed = 0;
        wp_buf_reset(&grams);
        if ((err = wp_seal__gram_key(st, gk, &keyed, g->v[k].tenant_id)) < 0)
            break;
        err = wp_grams__make_keyed(&grams, NULL, g->v[k].text, strlen(g->v[k].text), 0,
                                   WP_GRAMS_SPACED, keyed ? gk : NULL);
        sodium_memzero(gk, sizeof gk);
        if (err < 0 || grams.len == 0)
            continue;
        if (!s && (err = wp_db_prepare(st, &s,
                                       "INSERT INTO message_fts (rowid, tenant_id, grams)"
                                       " VALUES (?, ?, ?)")) < 0)
            break;
        wp_db_bind_int64(s, 1, g->v[k].key);
        wp_db_bind_text(s, 2, g->v[k].tenant_id);
        wp_db_bind_text(s, 3, grams.buf);
        err = wp_db_step(s);
        wp_db_reset(s); /* held for the next row (the grams buffer is reused) */
        err = err < 0 ? err : 0;
    }
    wp_db_done(s);
    wp_buf_release(&grams);
    return err;
}

static void rows_init(struct rows *r, struct applier *a)
{
    sink_init(&r->message, a->st, a->pg ? 30 : 31, message_lite, message_pg, NULL, NULL);
    sink_init(&r->call, a->st, 15, call_lite, call_pg, NULL, NULL);
    sink_init(&r->contact, a->st, 14, contact_lite, contact_pg, NULL, NULL);
    sink_init(&r->location, a->st, 11, location_lite, location_pg, NULL, NULL);
    sink_init(&r->checkin, a->st, 17, checkin_lite, checkin_pg, NULL, NULL);
    sink_init(&r->quarantine, a->st, 9, quarantine_lite, quarantine_pg, NULL, NULL);
    sink_init(&r->alert, a->st, 17, alert_lite, alert_pg, NULL, NULL);
}

static void rows_release(struct rows *r)
{
    sink_release(&r->message);
    sink_release(&r->call);
    sink_release(&r->contact);
    sink_release(&r->location);
    sink_release(&r->checkin);
    sink_release(&r->quarantine);
    sink_release(&r->alert);
}

/* Every row of the batch, in order; alerts last (they name their messages). */
static int write_rows(struct applier *a)
{
    wp_event_batch *b = a->b;
    struct rows r;
    int err = 0;
    rows_init(&r, a);
    if (!a->pg)
        err = last_rid(a);
    for (size_t i = 0; i < b->n && err == 0; i++) {
        wp_event *e = &b->events[i];
        if (!e->applied || e->duplicate)
            continue;
        a->cur = i;
        switch (e->type) {
        case WP_EVENT_REJECTED:
            err = put_quarantine(a, &r.quarantine, e, e->seq > 0 && !a->no_seq[i]);
            break;
        case WP_EVENT_MESSAGE:
            if ((err = put_message(a, &r.message, e)) == 0 && strcmp(e->msgtype, "revoke") == 0 &&
                (err = sink_flush(&r.message)) == 0) /* its target may be in the batch */
                err = mark_recalled(a->st, b, e);
            break;
        case WP_EVENT_CALL:
            err = put_call(a, &r.call, e);
            break;
        case WP_EVENT_CONTACT:
            err = put_contact(a, &r.contact, e);
            break;
        case WP_EVENT_LOCATION:
            if (!e->off_duty) /* off duty under "drop": handled, not kept */
                err = put_location(a, &r.location, e);
            break;
        case WP_EVENT_CHECKIN:
            err = put_checkin(a, &r.checkin, e);
            break;
        default:
            err = wp_error_set(WP_EINVAL, "event of unknown type %d", (int)e->type);
        }
    }
    if (err == 0 && (err = sink_flush(&r.message)) == 0 && (err = sink_flush(&r.call)) == 0 &&
        (err = sink_flush(&r.contact)) == 0 && (err = sink_flush(&r.location)) == 0 &&
        (err = sink_flush(&r.checkin)) == 0)
        err = sink_flush(&r.quarantine);
    for (size_t i = 0; i < b->n && err == 0; i++) {
        const wp_event *e = &b->events[i];
        if (e->applied && !e->duplicate && e->type == WP_EVENT_CHECKIN && e->customer_id[0])
            err = visit_event(a, e);
    }
    for (size_t i = 0; i < b->n && err == 0; i++) {
        wp_event *e = &b->events[i];
        if (e->applied && !e->duplicate && e->type != WP_EVENT_REJECTED)
            for (size_t j = 0; j < e->n_alerts && err == 0; j++)
                err = put_alert(a, &r.alert, e, &e->alerts[j]);
    }
    if (err == 0)
        err = sink_flush(&r.alert);
    rows_release(&r);
    if (err == 0 && !a->pg && a->grams) {
        err = collect_grams(a, a->grams);
    } else if (err == 0 && !a->pg) {
        struct gram_list g = {0};
        if ((err = collect_grams(a, &g)) == 0)
            err = index_grams(a->st, &g);
        free(g.v);
    }
    return err;
}

/* --- one WeCom message, two paths ---------------------------------------------------------------
 *
 * A WeCom message may reach the store from the employee's phone (its agent, channel "wecom",
 * with the msgid when it has it) and from the chat archive (src/wecom, always with the msgid).
 * It is stored once: by the msgid where both have it, else by the same employee, peer (its id
 * or the chat), msgtype, direction and text (or media), at most WP_WECOM_DEDUPE_WINDOW_US
 * apart. Whichever comes second is a duplicate: handled (a device's seq still moves acked_seq)
 * but not written. An archive record that meets an agent's row without a msgid gives the row
 * its msgid, so that row is matched exactly from then on and never taken for a second record.
 * Without text or media to compare, two copies stay two: a double is better than a loss. */

/* The serial of the archive's devices (wp_store_wecom_archive_device). */
#define ARCHIVE_SERIAL "source:wecom_archive"

static int is_wecom_message(const wp_event *e)
{
    return e->applied && e->type == WP_EVENT_MESSAGE && e->channel &&
           strcmp(e->channel, "wecom") == 0;
}

/* The id of the stored row that is e's copy, into out ("" when none); *fuzzy 1 when found by
 * its contents rather than its msgid. */
static int find_copy(struct applier *a, const wp_event *e, char out[WP_ID_LEN + 1], int *fuzzy)
{
    const wp_event_batch *b = a->b;
    int archive = b->source == WP_BATCH_WECOM_ARCHIVE;
    struct wp_stmt *s = NULL;
    int err;

    out[0] = '\0';
    *fuzzy = 0;
    if (e->msgid) {
        /* the archive takes any stored copy; a device the archive's and its own (two phones
         * in one group chat each keep theirs, as before) */
        if ((err = wp_db_prepare(
                 a->st, &s,
                 archive ? "SELECT id FROM messages WHERE tenant_id = ? AND channel = 'wecom'"
                           " AND msgid = ? LIMIT 1"
                         : "SELECT m.id FROM messages m JOIN devices d ON d.tenant_id ="
                           " m.tenant_id AND d.id = m.device_id WHERE m.tenant_id = ? AND"
                           " m.channel = 'wecom' AND m.msgid = ? AND (d.serial = ? OR d.id = ?)"
                           " LIMIT 1")) < 0)
            return err;
        wp_db_bind_text(s, 1, b->tenant_id);
        wp_db_bind_text(s, 2, e->msgid);
        if (!archive) {
            wp_db_bind_text(s, 3, ARCHIVE_SERIAL);
            wp_db_bind_text(s, 4, b->device_id);
        }
        if ((err = wp_db_step(s)) == WP_DB_ROW)
            err = wp_db_col_copy(s, 0, out, WP_ID_LEN + 1);
        wp_db_done(s);
        if (err < 0 || out[0] || archive == 0)
            return err < 0 ? err : 0; /* a device's message with a msgid: that decides */
    }
    const char *text = e->text && *e->text ? e->text : NULL;
    if (!text && !e->media)
        return 0;
    /* by contents: an archive record meets a phone's row without a msgid, a phone's message
     * without a msgid meets an archive row; the nearest in time */
    /* the archive looks among a phone's rows without a msgid only: the partial index
     * messages_wecom_no_msgid (migration 0022) holds just those, so a backlog of the archive's
     * own rows in the window is never walked */
    /* With a master key the texts are sealed (random nonces): the rows with a text are
     * candidates, nearest first, and the text is compared opened. */
    int sealed = wp_seal_keyring_on();
#define COPY_SQL(NO_MSGID, TEXT_IS, LIMIT)                                                         \
    "SELECT m.id, m.text, m.media FROM messages m JOIN devices d ON d.tenant_id = m.tenant_id"    \
    " AND d.id = m.device_id WHERE m.tenant_id = ? AND m.employee_id = ? AND m.ts_us >= ? AND"   \
    " m.ts_us <= ? AND m.channel = 'wecom'" NO_MSGID " AND m.msgtype = ? AND"                     \
    " (CAST(? AS TEXT) IS NULL OR m.direction = ?) AND"                                           \
    " (m.peer_id = ? OR m.chat = ?) AND"                                                          \
    " ((CAST(? AS TEXT) IS NOT NULL AND " TEXT_IS ") OR"                                          \
    " (CAST(? AS TEXT) IS NOT NULL AND m.media = ?)) AND"                                         \
    " (CASE WHEN d.serial = ? THEN 1 ELSE 0 END) = ?"                                             \
    " ORDER BY abs(m.ts_us - ?), m.id" LIMIT
#define SEALED_TEXT "m.text IS NOT NULL AND CAST(? AS TEXT) IS NOT NULL"
    if ((err = wp_db_prepare(
             a->st, &s,
             sealed ? (archive ? COPY_SQL(" AND m.msgid IS NULL", SEALED_TEXT, "")
                               : COPY_SQL("", SEALED_TEXT, ""))
                    : (archive ? COPY_SQL(" AND m.msgid IS NULL", "m.text = ?", " LIMIT 1")
                               : COPY_SQL("", "m.text = ?", " LIMIT 1")))) < 0)
        return err;
#undef SEALED_TEXT
#undef COPY_SQL
    const char *dir = wp_direction_name(e->direction);
    int i = 1;
    wp_db_bind_text(s, i++, b->tenant_id);
    wp_db_bind_text(s, i++, b->employee_id);
    wp_db_bind_int64(s, i++, e->ts_us - WP_WECOM_DEDUPE_WINDOW_US);
    wp_db_bind_int64(s, i++, e->ts_us + WP_WECOM_DEDUPE_WINDOW_US);
    wp_db_bind_text(s, i++, e->msgtype);
    wp_db_bind_text_or_null(s, i++, dir);
    wp_db_bind_text_or_null(s, i++, dir);
    wp_db_bind_text_or_null(s, i++, e->peer.id);
    wp_db_bind_text_or_null(s, i++, e->chat);
    wp_db_bind_text_or_null(s, i++, text);
    wp_db_bind_text_or_null(s, i++, text);
    wp_db_bind_text_or_null(s, i++, e->media);
    wp_db_bind_text_or_null(s, i++, e->media);
    wp_db_bind_text(s, i++, ARCHIVE_SERIAL);
    wp_db_bind_int64(s, i++, archive ? 0 : 1); /* the other path's rows */
    wp_db_bind_int64(s, i++, e->ts_us);
    wp_buf opened;
    wp_buf_init(&opened, SEALED_MAX);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_db_col_copy(s, 0, out, WP_ID_LEN + 1)) < 0)
            break;
        const char *stored = wp_db_col_text(s, 1), *media = wp_db_col_text(s, 2), *plain = NULL;
        wp_seal_at at = {b->tenant_id, "messages", "text", out};
        if (!sealed || (e->media && media && !strcmp(e->media, media)) ||
            ((err = wp_seal__open_text(a->st, &opened, &plain, &at, stored)) == 0 && text &&
             plain && !strcmp(text, plain))) {
            *fuzzy = 1;
            break;
        }
        out[0] = '\0';
        if (err < 0)
            break;
    }
    wp_buf_release(&opened);
    wp_db_done(s);
    if (err < 0) {
        out[0] = '\0';
        *fuzzy = 0;
    }
    return err < 0 ? err : 0;
}

/* PostgreSQL: the two paths of one tenant check and write their WeCom messages in turn (an
 * advisory lock until the transaction ends), so two nodes, or the writer and the archive
 * connector, cannot both miss the other's copy. SQLite has one writer. */
static int lock_wecom(struct applier *a)
{
    uint32_t h = 2166136261u;
    for (const char *p = a->b->tenant_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return wp_db_run(a->st,
                     "SELECT pg_advisory_xact_lock(CAST(? AS INTEGER), CAST(? AS INTEGER))", "ii",
                     (int64_t)0x77700016, (int64_t)(int32_t)h);
}

static int dedupe_wecom(struct applier *a)
{
    wp_event_batch *b = a->b;
    int archive = b->source == WP_BATCH_WECOM_ARCHIVE, any = 0, err = 0;
    struct wp_stmt *s = NULL;

    for (size_t i = 0; i < b->n && !any; i++)
        any = is_wecom_message(&b->events[i]);
    if (!any)
        return 0;
    if (!archive) {
        /* a tenant without the archive has nothing to meet: one cheap query per batch */
        if ((err = wp_db_prepare(a->st, &s,
                                 "SELECT 1 FROM devices WHERE tenant_id = ? AND serial = ?"
                                 " LIMIT 1")) < 0)
            return err;
        wp_db_bind_text(s, 1, b->tenant_id);
        wp_db_bind_text(s, 2, ARCHIVE_SERIAL);
        err = wp_db_step(s);
        wp_db_done(s);
        if (err <= 0)
            return err;
        err = 0; /* WP_DB_ROW: the tenant has the archive */
    }
    if (a->pg && (err = lock_wecom(a)) < 0)
        return err;
    for (size_t i = 0; i < b->n && err == 0; i++) {
        wp_event *e = &b->events[i];
        char found[WP_ID_LEN + 1];
        int fuzzy;
        if (!is_wecom_message(e))
            continue;
        if ((err = find_copy(a, e, found, &fuzzy)) < 0 || !found[0])
            continue;
        e->duplicate = 1;
        e->n_alerts = 0;
        memcpy(e->id, found, sizeof found);
        if (archive && fuzzy && e->msgid)
            err = wp_db_run(a->st, "UPDATE messages SET msgid = ? WHERE tenant_id = ? AND id = ?",
                            "ttt", e->msgid, b->tenant_id, found);
    }
    return err;
}

/* --- the operation ------------------------------------------------------------------------------
 */

static int applier_init(struct applier *a, wp_store *st, wp_event_batch *b)
{
    size_t n = b->n ? b->n : 1;
    memset(a, 0, sizeof *a);
    a->st = st;
    a->b = b;
    a->pg = wp_store_backend(st) == WP_STORE_PG;
    for (a->table_cap = 16; a->table_cap < 6 * n; a->table_cap *= 2)
        ;
    a->peers = malloc(n * sizeof *a->peers);
    a->peer_of = malloc(n * sizeof *a->peer_of);
    a->ids = malloc(2 * n * sizeof *a->ids);
    a->table = calloc(a->table_cap, sizeof *a->table);
    a->skey = calloc(n, sizeof *a->skey);
    a->no_seq = calloc(n, 1);
    if (!a->peers || !a->peer_of || !a->ids || !a->table || !a->skey || !a->no_seq)
        return wp_error_set(WP_ENOMEM, "out of memory");
    return 0;
}

static void applier_release(struct applier *a)
{
    free(a->peers);
    free(a->peer_of);
    free(a->ids);
    free(a->table);
    free(a->skey);
    free(a->no_seq);
}

static int check_batch(wp_event_batch *b)
{
    int err;
    if ((err = wp_store__check_id("tenant", b->tenant_id)) < 0 ||
        (err = wp_store__check_id("device", b->device_id)) < 0 ||
        (err = wp_store__check_id("employee", b->employee_id)) < 0)
        return err;
    for (size_t i = 0; i < b->n; i++) {
        b->events[i].applied = 0;
        b->events[i].duplicate = 0;
        b->events[i].id[0] = '\0';
        b->events[i].customer_id[0] = '\0';
        b->events[i].fence_alert_id[0] = '\0';
    }
    b->refused = 0;
    return 0;
}

/* The bytes the batch's new events add to the tenant's usage: raw JSON and message texts to
 * the archive, the kept slices of rejected events to the quarantine. */
static void usage_of(const wp_event_batch *b, int64_t add[WP_USAGE_KINDS])
{
    for (int k = 0; k < WP_USAGE_KINDS; k++)
        add[k] = 0;
    for (size_t i = 0; i < b->n; i++) {
        const wp_event *e = &b->events[i];
        if (!e->applied || e->duplicate || (e->type == WP_EVENT_LOCATION && e->off_duty))
            continue;
        size_t len = strlen(e->raw);
        if (e->type == WP_EVENT_REJECTED)
            add[WP_USAGE_QUARANTINE] += (int64_t)quarantine_keep(e->raw, len);
        else
            add[WP_USAGE_ARCHIVE] +=
                (int64_t)(len + (e->type == WP_EVENT_MESSAGE && e->text ? strlen(e->text) : 0));
    }
}

/* What the batch adds, counted now (wp_store__usage_add): WP_EQUOTA with b->refused set when
 * it does not fit. */
static int count_usage(wp_store *st, wp_event_batch *b)
{
    int64_t add[WP_USAGE_KINDS];
    usage_of(b, add);
    int err = wp_store__usage_add(st, b->tenant_id, add, &b->refusal);
    if (err == WP_EQUOTA)
        b->refused = 1;
    return err;
}

/* On PostgreSQL an operation's batches count their usage together, once per tenant just
 * before the commit (count_round), not each before its rows: the tenant's usage row is then
 * locked only for the commit, and two nodes' writers storing for one tenant overlap instead of
 * waiting for each other's whole round (BENCHMARKS.md, two nodes). The count is still in the
 * batches' transaction, so a crash loses both or neither. When the sum does not fit, the
 * operation is rolled back and done again with each batch counted before its rows, which
 * refuses exactly the batches that do not fit, as before. */
struct usage_sum {
    const char *tenant_id;
    int64_t add[WP_USAGE_KINDS];
};

struct usage_round {
    struct usage_sum *v; /* one per tenant of the operation's batches */
    size_t n;
    int refused; /* count_round: the sum did not fit */
};

static int usage_round_init(struct usage_round *r, size_t batches)
{
    memset(r, 0, sizeof *r);
    if (!(r->v = calloc(batches ? batches : 1, sizeof *r->v)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    return 0;
}

static void usage_round_note(struct usage_round *r, const wp_event_batch *b)
{
    int64_t add[WP_USAGE_KINDS];
    size_t i = 0;
    usage_of(b, add);
    while (i < r->n && strcmp(r->v[i].tenant_id, b->tenant_id) != 0)
        i++;
    if (i == r->n)
        r->v[r->n++].tenant_id = b->tenant_id; /* at most one per batch: v has room */
    for (int k = 0; k < WP_USAGE_KINDS; k++)
        r->v[i].add[k] += add[k];
}

static int usage_sum_cmp(const void *x, const void *y)
{
    return strcmp(((const struct usage_sum *)x)->tenant_id,
                  ((const struct usage_sum *)y)->tenant_id);
}

/* The tenants' rows in the order of their ids, so that two nodes' rounds cannot deadlock on
 * them. */
static int count_round(wp_store *st, struct usage_round *r)
{
    wp_usage_refusal refusal;
    int err = 0;
    qsort(r->v, r->n, sizeof *r->v, usage_sum_cmp);
    for (size_t i = 0; i < r->n && err == 0; i++)
        err = wp_store__usage_add(st, r->v[i].tenant_id, r->v[i].add, &refusal);
    if (err == WP_EQUOTA)
        r->refused = 1;
    return err;
}

/* One batch inside an operation the caller opened; *acked_out gets the device's new acked_seq.
 * grams: see struct applier. round: its usage is noted there and counted by the caller
 * (count_round); NULL: counted here, before the rows. */
static int apply_batch(wp_store *st, wp_event_batch *b, struct gram_list *grams,
                       struct usage_round *round, int64_t *acked_out)
{
    struct wp_stmt *s = NULL;
    struct applier a;
    int64_t acked = 0, start;
    int archive = b->source == WP_BATCH_WECOM_ARCHIVE;
    int err;

    if ((err = applier_init(&a, st, b)) < 0)
        goto out;
    a.grams = grams;
    /* An UPDATE takes the device row's lock on PostgreSQL until the transaction ends (as
     * SELECT ... FOR UPDATE would, in portable SQL), so two nodes never interleave one device;
     * SQLite's writer holds the database lock already. */
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE devices SET last_seen_us = ? WHERE tenant_id = ? AND id = ?"
                             " RETURNING acked_seq, revoked, employee_id, disabled_us")) < 0)
        goto out;
    wp_db_bind_int64(s, 1, b->now_us);
    wp_db_bind_text(s, 2, b->tenant_id);
    wp_db_bind_text(s, 3, b->device_id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE || wp_db_col_int64(s, 1) != 0 || !wp_db_col_isnull(s, 3) ||
        strcmp(wp_db_col_text(s, 2), b->employee_id) != 0) {
        err = wp_error_set(WP_EAUTH, "device is revoked or disabled");
        goto out;
    }
    acked = start = wp_db_col_int64(s, 0);
    wp_db_done(s);
    s = NULL;
    if ((err = wp_store__stored_us(st, b->tenant_id, b->now_us, &a.stored_us)) < 0)
        goto out;
    for (size_t i = 0; b->assign_seq && i < b->n; i++)
        b->events[i].seq = start + 1 + (int64_t)i;

    /* Which events are new: the rows are written in bulk below. */
    for (size_t i = 0; i < b->n; i++) {
        wp_event *e = &b->events[i];
        if (archive) {
            /* the archive's seqs: stored once by the connector's cursor and the msgid */
            if (e->seq <= 0) {
                err = wp_error_set(WP_EINVAL, "archive record without a seq");
                goto out;
            }
            if (e->seq > acked)
                acked = e->seq;
            wp_id_new(e->id);
            e->applied = 1;
            continue;
        }
        if (e->seq > 0 && e->seq <= start)
            continue; /* sent before: stored then */
        if (e->type == WP_EVENT_REJECTED) {
            /* A rejected event with a usable seq is handled and moves acked_seq; one whose seq
             * does not move it is quarantined without a seq. */
            if (e->seq > acked)
                acked = e->seq;
            else
                a.no_seq[i] = 1;
        } else if (e->seq <= acked) {
            /* the validator orders a batch's seqs, so only a caller's bug gets here */
            err = wp_error_set(WP_EINVAL, "event seq %lld is not increasing", (long long)e->seq);
            goto out;
        } else {
            acked = e->seq;
        }
        wp_id_new(e->id);
        e->applied = 1;
    }
    /* A WeCom message that the other path stored already is not stored again. */
    if ((err = dedupe_wecom(&a)) < 0)
        goto out;
    /* Count what the batch stores before it is written: past a limit nothing is, and the
     * merged round goes on without a rollback (only the device's last_seen_us moved). */
    if (round)
        usage_round_note(round, b);
    else if ((err = count_usage(st, b)) == WP_EQUOTA) {
        for (size_t i = 0; i < b->n; i++) {
            b->events[i].applied = 0;
            b->events[i].duplicate = 0;
            b->events[i].id[0] = '\0';
        }
        *acked_out = start;
        err = 0;
        goto out;
    }
    if (err < 0)
        goto out;
    if ((err = collect_peers(&a)) < 0 || (err = resolve_peers(&a)) < 0 ||
        (err = write_rows(&a)) < 0 || (err = touch_customers(&a)) < 0 || (err = note_met(&a)) < 0 ||
        (err = wp_store__geofence_ingest(st, b, a.stored_us)) < 0)
        goto out;
    if (acked != start) {
        if ((err = wp_db_prepare(
                 st, &s, "UPDATE devices SET acked_seq = ? WHERE tenant_id = ? AND id = ?")) < 0)
            goto out;
        wp_db_bind_int64(s, 1, acked);
        wp_db_bind_text(s, 2, b->tenant_id);
        wp_db_bind_text(s, 3, b->device_id);
        if ((err = wp_db_step(s)) < 0)
            goto out;
    }
    err = 0;
    *acked_out = acked;
out:
    wp_db_done(s);
    applier_release(&a);
    return err;
}

static void not_applied(wp_event_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        b->events[i].applied = 0;
}

/* Whether an operation's batches count their usage together (struct usage_round). */
static int defer_usage(wp_store *st)
{
    return wp_store_backend(st) == WP_STORE_PG;
}

/* n batches in an operation the caller opened; round: see apply_batch. */
static int apply_in_op(wp_store *st, wp_event_batch **b, size_t n, size_t *failed,
                       struct usage_round *round)
{
    struct gram_list g = {0};
    int64_t *acked = calloc(n ? n : 1, sizeof *acked);
    size_t i = 0;
    int err = 0;

    *failed = 0;
    if (!acked)
        return wp_error_set(WP_ENOMEM, "out of memory");
    for (i = 0; i < n && err == 0; i++)
        if ((err = check_batch(b[i])) < 0)
            *failed = i;
    for (i = 0; i < n && err == 0; i++)
        if ((err = apply_batch(st, b[i], wp_store_backend(st) == WP_STORE_SQLITE ? &g : NULL, round,
                               &acked[i])) < 0)
            *failed = i;
    if (err == 0 && g.n)
        err = index_grams(st, &g);
    if (err == 0 && round)
        err = count_round(st, round);
    for (i = 0; i < n && err == 0; i++)
        b[i]->acked_seq = acked[i];
    free(g.v);
    free(acked);
    return err;
}

/* One operation over the batches, their usage counted together where defer_usage says so;
 * done again with each batch counted alone when the sum does not fit. */
static int apply_op(wp_store *st, wp_event_batch **b, size_t n, size_t *failed)
{
    struct usage_round r, *round = NULL;
    int err;

    if (defer_usage(st)) {
        if ((err = usage_round_init(&r, n)) < 0)
            return err;
        round = &r;
    }
    if ((err = wp_store__op_begin(st, 1)) == 0) {
        err = apply_in_op(st, b, n, failed, round);
        err = wp_store__op_end(st, err);
    }
    if (round && r.refused && (err = wp_store__op_begin(st, 1)) == 0) {
        err = apply_in_op(st, b, n, failed, NULL);
        err = wp_store__op_end(st, err);
    }
    if (round)
        free(r.v);
    if (err < 0)
        for (size_t i = 0; i < n; i++)
            not_applied(b[i]);
    return err;
}

int wp_store_events_apply(wp_store *st, wp_event_batch *b)
{
    size_t failed;
    return apply_op(st, &b, 1, &failed);
}

int wp_store__events_apply_in_op(wp_store *st, wp_event_batch **b, size_t n, size_t *failed)
{
    /* the chat archive counts its pull with the batches' rows: each counted before them */
    return apply_in_op(st, b, n, failed, NULL);
}

int wp_store_events_apply_many(wp_store *st, wp_event_batch **b, size_t n, size_t *failed)
{
    *failed = 0;
    return apply_op(st, b, n, failed);
}
