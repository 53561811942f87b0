/* SPDX-License-Identifier: MIT */
/* The writer's operation: store one device's batch of validated events (CONTRACT §4). */
#include "store/archive.h"
#include "store/db.h"
#include "store/grams.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

#define GRAMS_MAX (2u * 1024 * 1024) /* bytes of grams text for one 64 KiB message */

const char *wp_direction_name(enum wp_direction d)
{
    return d == WP_DIR_IN ? "in" : d == WP_DIR_OUT ? "out" : NULL;
}

/* Phone and SMS peers are found by their number: no channel identity of their own. */
static int channel_is_phone(const char *channel)
{
    return channel && (strcmp(channel, "phone") == 0 || strcmp(channel, "sms") == 0);
}

/* Peers resolved earlier in the same batch: a chat's messages come in runs, and each run
 * then costs one lookup and one customer update instead of three statements per message. */
#define PEER_CACHE 32

struct peer_seen {
    const char *channel, *pid, *phone; /* the key, borrowed from the batch's events */
    char customer_id[WP_ID_LEN + 1];
    int64_t last_ts; /* the newest contact time seen for it in the batch */
};

struct peer_cache {
    struct peer_seen v[PEER_CACHE];
    size_t n;
};

static int same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Run a statement that returns nothing the caller needs. */
static int run(struct wp_stmt *s)
{
    int err = wp_db_step(s);
    return err < 0 ? err : 0;
}

static int find_identity(wp_store *st, char out[WP_ID_LEN + 1], const char *tenant_id,
                         const char *kind, const char *value)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT customer_id FROM customer_identities"
                             " WHERE tenant_id = ? AND kind = ? AND value = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, kind);
    wp_db_bind_text(s, 3, value);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        err = wp_db_col_copy(s, 0, out, WP_ID_LEN + 1);
    else if (err == WP_DB_DONE)
        out[0] = '\0';
    wp_db_done(s);
    return err < 0 ? err : 0;
}

/* An identity already pointing at another customer stays there: the first sighting wins, and
 * merging customers is a person's decision. */
static int add_identity(wp_store *st, const char *tenant_id, const char *kind, const char *value,
                        const char *customer_id, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO customer_identities (tenant_id, kind, value, customer_id,"
                             " created_us) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, kind);
    wp_db_bind_text(s, 3, value);
    wp_db_bind_text(s, 4, customer_id);
    wp_db_bind_int64(s, 5, now_us);
    err = run(s);
    wp_db_done(s);
    return err;
}

static int create_customer(wp_store *st, char out[WP_ID_LEN + 1], const wp_event_batch *b,
                           const wp_event *e)
{
    struct wp_stmt *s = NULL;
    const char *name = e->peer.name ? e->peer.name : e->peer.phone ? e->peer.phone : e->peer.id;
    int err;
    wp_id_new(out);
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO customers (tenant_id, id, name, phone, owner_employee_id,"
                             " created_us) VALUES (?, ?, ?, ?, ?, ?)")) < 0)
        return err;
    wp_db_bind_text(s, 1, b->tenant_id);
    wp_db_bind_text(s, 2, out);
    wp_db_bind_text(s, 3, name);
    wp_db_bind_text_or_null(s, 4, e->peer.phone);
    wp_db_bind_text(s, 5, b->employee_id);
    wp_db_bind_int64(s, 6, b->now_us);
    err = run(s);
    wp_db_done(s);
    return err;
}

static int touch_customer(wp_store *st, const wp_event_batch *b, const char *phone, int64_t ts_us,
                          const char *id)
{
    struct wp_stmt *s = NULL;
    int err;
    /* A phone learned later fills an empty one; the newest contact time wins. */
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE customers SET phone = COALESCE(phone, ?),"
                             " last_contact_us = CASE WHEN last_contact_us IS NULL"
                             " OR last_contact_us < ? THEN ? ELSE last_contact_us END"
                             " WHERE tenant_id = ? AND id = ?")) < 0)
        return err;
    wp_db_bind_text_or_null(s, 1, phone);
    wp_db_bind_int64(s, 2, ts_us);
    wp_db_bind_int64(s, 3, ts_us);
    wp_db_bind_text(s, 4, b->tenant_id);
    wp_db_bind_text(s, 5, id);
    err = run(s);
    wp_db_done(s);
    return err;
}

/* Peer → customer: by phone, else by channel id, within the tenant; created on first sight,
 * owned by the device's employee. */
static int resolve_customer(wp_store *st, const wp_event_batch *b, struct peer_cache *pc,
                            wp_event *e)
{
    const char *phone = e->peer.phone;
    const char *pid = channel_is_phone(e->channel) ? NULL : e->peer.id;
    const char *channel = pid ? e->channel : NULL;
    char id[WP_ID_LEN + 1] = "";
    int err;

    e->customer_id[0] = '\0';
    if (!phone && !pid)
        return 0;
    for (size_t i = 0; i < pc->n; i++) {
        struct peer_seen *p = &pc->v[i];
        if (same(p->channel, channel) && same(p->pid, pid) && same(p->phone, phone)) {
            if (e->ts_us > p->last_ts)
                p->last_ts = e->ts_us;
            memcpy(e->customer_id, p->customer_id, sizeof id);
            return 0;
        }
    }
    if (phone && (err = find_identity(st, id, b->tenant_id, "phone", phone)) < 0)
        return err;
    if (!id[0] && pid && (err = find_identity(st, id, b->tenant_id, e->channel, pid)) < 0)
        return err;
    if (!id[0] && (err = create_customer(st, id, b, e)) < 0)
        return err;
    if (phone && (err = add_identity(st, b->tenant_id, "phone", phone, id, b->now_us)) < 0)
        return err;
    if (pid && (err = add_identity(st, b->tenant_id, e->channel, pid, id, b->now_us)) < 0)
        return err;
    memcpy(e->customer_id, id, sizeof id);
    if (pc->n < PEER_CACHE) {
        struct peer_seen *p = &pc->v[pc->n++];
        p->channel = channel;
        p->pid = pid;
        p->phone = phone;
        p->last_ts = e->ts_us;
        memcpy(p->customer_id, id, sizeof id);
        return 0;
    }
    return touch_customer(st, b, phone, e->ts_us, id); /* not cached: touched now */
}

/* The customers of the batch's peers: last contact, and a phone learned in the batch. */
static int touch_seen(wp_store *st, const wp_event_batch *b, const struct peer_cache *pc)
{
    int err;
    for (size_t i = 0; i < pc->n; i++)
        if ((err = touch_customer(st, b, pc->v[i].phone, pc->v[i].last_ts, pc->v[i].customer_id)) <
            0)
            return err;
    return 0;
}

static const char *or_null(const char *s)
{
    return s && *s ? s : NULL;
}

static void bind_opt_int(struct wp_stmt *s, int idx, int64_t v)
{
    if (v < 0)
        wp_db_bind_null(s, idx);
    else
        wp_db_bind_int64(s, idx, v);
}

static int insert_message(wp_store *st, const wp_event_batch *b, wp_event *e)
{
    struct wp_stmt *s = NULL;
    wp_buf grams;
    int pg = wp_store_backend(st) == WP_STORE_PG;
    int64_t rid = 0;
    int err, i = 1;

    wp_buf_init(&grams, GRAMS_MAX);
    if (e->text && (err = wp_grams__make(&grams, NULL, e->text, strlen(e->text), 0,
                                         pg ? WP_GRAMS_PG_ARRAY : WP_GRAMS_SPACED)) < 0)
        goto out;
    /* The one backend difference: PostgreSQL keeps the grams on the row (GIN index), SQLite in
     * the FTS5 table keyed by rid. */
    if ((err = wp_db_prepare(
             st, &s,
             pg ? "INSERT INTO messages (tenant_id, id, device_id, employee_id, customer_id, seq,"
                  " ts_us, channel, direction, chat, group_id, group_name, peer_id, peer_name,"
                  " peer_phone, msgtype, msgid, text, media, filename, size, url, title,"
                  " amount_fen, memo, revoked_seq, revoked_msgid, raw, created_us, grams)"
                  " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                  " ?, ?, ?, ?, ?, ?, CAST(? AS text[])) RETURNING rid"
                : "INSERT INTO messages (tenant_id, id, device_id, employee_id, customer_id, seq,"
                  " ts_us, channel, direction, chat, group_id, group_name, peer_id, peer_name,"
                  " peer_phone, msgtype, msgid, text, media, filename, size, url, title,"
                  " amount_fen, memo, revoked_seq, revoked_msgid, raw, created_us)"
                  " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                  " ?, ?, ?, ?, ?, ?) RETURNING rid")) < 0)
        goto out;
    wp_db_bind_text(s, i++, b->tenant_id);
    wp_db_bind_text(s, i++, e->id);
    wp_db_bind_text(s, i++, b->device_id);
    wp_db_bind_text(s, i++, b->employee_id);
    wp_db_bind_text_or_null(s, i++, or_null(e->customer_id));
    wp_db_bind_int64(s, i++, e->seq);
    wp_db_bind_int64(s, i++, e->ts_us);
    wp_db_bind_text(s, i++, e->channel);
    wp_db_bind_text_or_null(s, i++, wp_direction_name(e->direction));
    wp_db_bind_text_or_null(s, i++, e->chat);
    wp_db_bind_text_or_null(s, i++, e->group_id);
    wp_db_bind_text_or_null(s, i++, e->group_name);
    wp_db_bind_text_or_null(s, i++, e->peer.id);
    wp_db_bind_text_or_null(s, i++, e->peer.name);
    wp_db_bind_text_or_null(s, i++, e->peer.phone);
    wp_db_bind_text(s, i++, e->msgtype);
    wp_db_bind_text_or_null(s, i++, e->msgid);
    wp_db_bind_text_or_null(s, i++, e->text);
    wp_db_bind_text_or_null(s, i++, e->media);
    wp_db_bind_text_or_null(s, i++, e->filename);
    bind_opt_int(s, i++, e->size);
    wp_db_bind_text_or_null(s, i++, e->url);
    wp_db_bind_text_or_null(s, i++, e->title);
    bind_opt_int(s, i++, e->amount_fen);
    wp_db_bind_text_or_null(s, i++, e->memo);
    if (e->revoked_seq > 0)
        wp_db_bind_int64(s, i++, e->revoked_seq);
    else
        wp_db_bind_null(s, i++);
    wp_db_bind_text_or_null(s, i++, e->revoked_msgid);
    wp_db_bind_text(s, i++, e->raw);
    wp_db_bind_int64(s, i++, b->now_us);
    if (pg)
        wp_db_bind_text(s, i++, grams.len ? grams.buf : "{}");
    if ((err = wp_db_step(s)) < 0)
        goto out;
    rid = wp_db_col_int64(s, 0);
    wp_db_done(s);
    s = NULL;
    if (!pg && grams.len) {
        if ((err = wp_db_prepare(st, &s,
                                 "INSERT INTO message_fts (rowid, tenant_id, grams)"
                                 " VALUES (?, ?, ?)")) < 0)
            goto out;
        wp_db_bind_int64(s, 1, rid);
        wp_db_bind_text(s, 2, b->tenant_id);
        wp_db_bind_text(s, 3, grams.buf);
        err = run(s);
    }
out:
    wp_db_done(s);
    wp_buf_release(&grams);
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
    err = run(s);
    wp_db_done(s);
    return err;
}

static int insert_call(wp_store *st, const wp_event_batch *b, const wp_event *e)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err =
             wp_db_prepare(st, &s,
                           "INSERT INTO calls (tenant_id, id, device_id, employee_id, customer_id,"
                           " seq, ts_us, direction, peer_id, peer_name, peer_phone, duration_s,"
                           " recording, raw, created_us)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) < 0)
        return err;
    wp_db_bind_text(s, 1, b->tenant_id);
    wp_db_bind_text(s, 2, e->id);
    wp_db_bind_text(s, 3, b->device_id);
    wp_db_bind_text(s, 4, b->employee_id);
    wp_db_bind_text_or_null(s, 5, or_null(e->customer_id));
    wp_db_bind_int64(s, 6, e->seq);
    wp_db_bind_int64(s, 7, e->ts_us);
    wp_db_bind_text_or_null(s, 8, wp_direction_name(e->direction));
    wp_db_bind_text_or_null(s, 9, e->peer.id);
    wp_db_bind_text_or_null(s, 10, e->peer.name);
    wp_db_bind_text_or_null(s, 11, e->peer.phone);
    bind_opt_int(s, 12, e->duration_s);
    wp_db_bind_text_or_null(s, 13, e->recording);
    wp_db_bind_text(s, 14, e->raw);
    wp_db_bind_int64(s, 15, b->now_us);
    err = run(s);
    wp_db_done(s);
    return err;
}

static int insert_contact(wp_store *st, const wp_event_batch *b, const wp_event *e)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO contact_events (tenant_id, id, device_id, employee_id,"
                             " customer_id, seq, ts_us, channel, action, peer_id, peer_name,"
                             " peer_phone, raw, created_us)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) < 0)
        return err;
    wp_db_bind_text(s, 1, b->tenant_id);
    wp_db_bind_text(s, 2, e->id);
    wp_db_bind_text(s, 3, b->device_id);
    wp_db_bind_text(s, 4, b->employee_id);
    wp_db_bind_text_or_null(s, 5, or_null(e->customer_id));
    wp_db_bind_int64(s, 6, e->seq);
    wp_db_bind_int64(s, 7, e->ts_us);
    wp_db_bind_text(s, 8, e->channel);
    wp_db_bind_text(s, 9, e->action);
    wp_db_bind_text_or_null(s, 10, e->peer.id);
    wp_db_bind_text_or_null(s, 11, e->peer.name);
    wp_db_bind_text_or_null(s, 12, e->peer.phone);
    wp_db_bind_text(s, 13, e->raw);
    wp_db_bind_int64(s, 14, b->now_us);
    err = run(s);
    wp_db_done(s);
    return err;
}

static int insert_location(wp_store *st, const wp_event_batch *b, const wp_event *e)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO locations (tenant_id, id, device_id, employee_id, seq,"
                             " ts_us, lat_e7, lon_e7, accuracy_cm, raw, created_us)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) < 0)
        return err;
    wp_db_bind_text(s, 1, b->tenant_id);
    wp_db_bind_text(s, 2, e->id);
    wp_db_bind_text(s, 3, b->device_id);
    wp_db_bind_text(s, 4, b->employee_id);
    wp_db_bind_int64(s, 5, e->seq);
    wp_db_bind_int64(s, 6, e->ts_us);
    wp_db_bind_int64(s, 7, e->lat_e7);
    wp_db_bind_int64(s, 8, e->lon_e7);
    bind_opt_int(s, 9, e->accuracy_cm);
    wp_db_bind_text(s, 10, e->raw);
    wp_db_bind_int64(s, 11, b->now_us);
    err = run(s);
    wp_db_done(s);
    return err;
}

static int insert_quarantine(wp_store *st, const wp_event_batch *b, wp_event *e, int with_seq)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO quarantine (tenant_id, id, device_id, seq, reason, raw,"
                             " created_us) VALUES (?, ?, ?, ?, ?, ?, ?)")) < 0)
        return err;
    wp_db_bind_text(s, 1, b->tenant_id);
    wp_db_bind_text(s, 2, e->id);
    wp_db_bind_text(s, 3, b->device_id);
    if (with_seq)
        wp_db_bind_int64(s, 4, e->seq);
    else
        wp_db_bind_null(s, 4);
    wp_db_bind_text(s, 5, e->reason ? e->reason : "invalid event");
    wp_db_bind_text(s, 6, e->raw);
    wp_db_bind_int64(s, 7, b->now_us);
    err = run(s);
    wp_db_done(s);
    return err;
}

static int insert_alert(wp_store *st, const wp_event_batch *b, const wp_event *e, wp_alert_draft *a)
{
    struct wp_stmt *s = NULL;
    char matched[1024 + 1];
    int err;
    wp_id_new(a->id);
    if (a->matched) {
        /* A match (a long regex hit, say) is kept whole up to 1 KiB, cut on a character. */
        size_t n = a->matched_len < sizeof matched - 1 ? a->matched_len : sizeof matched - 1;
        while (n > 0 && n < a->matched_len && ((unsigned char)a->matched[n] & 0xc0) == 0x80)
            n--;
        memcpy(matched, a->matched, n);
        matched[n] = '\0';
    }
    if ((err = wp_db_prepare(
             st, &s,
             "INSERT INTO alerts (tenant_id, id, ts_us, kind, category, employee_id,"
             " device_id, customer_id, message_id, seq, pattern, action, matched,"
             " match_start, match_end, status, created_us, updated_us)"
             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)")) < 0)
        return err;
    wp_db_bind_text(s, 1, b->tenant_id);
    wp_db_bind_text(s, 2, a->id);
    wp_db_bind_int64(s, 3, e->ts_us);
    wp_db_bind_text(s, 4, a->kind);
    wp_db_bind_text_or_null(s, 5, a->category);
    wp_db_bind_text(s, 6, b->employee_id);
    wp_db_bind_text(s, 7, b->device_id);
    wp_db_bind_text_or_null(s, 8, or_null(e->customer_id));
    wp_db_bind_text_or_null(s, 9, e->type == WP_EVENT_MESSAGE ? e->id : NULL);
    wp_db_bind_int64(s, 10, e->seq);
    wp_db_bind_text_or_null(s, 11, a->pattern);
    wp_db_bind_text_or_null(s, 12, a->action);
    wp_db_bind_text_or_null(s, 13, a->matched ? matched : NULL);
    bind_opt_int(s, 14, a->start);
    bind_opt_int(s, 15, a->end);
    wp_db_bind_int64(s, 16, b->now_us);
    wp_db_bind_int64(s, 17, b->now_us);
    err = run(s);
    wp_db_done(s);
    return err;
}

static int apply_one(wp_store *st, wp_event_batch *b, struct peer_cache *pc, wp_event *e)
{
    int err = 0;
    wp_id_new(e->id);
    switch (e->type) {
    case WP_EVENT_MESSAGE:
        if ((err = resolve_customer(st, b, pc, e)) < 0 || (err = insert_message(st, b, e)) < 0)
            return err;
        if (strcmp(e->msgtype, "revoke") == 0 && (err = mark_recalled(st, b, e)) < 0)
            return err;
        break;
    case WP_EVENT_CALL:
        if ((err = resolve_customer(st, b, pc, e)) < 0 || (err = insert_call(st, b, e)) < 0)
            return err;
        break;
    case WP_EVENT_CONTACT:
        if ((err = resolve_customer(st, b, pc, e)) < 0 || (err = insert_contact(st, b, e)) < 0)
            return err;
        break;
    case WP_EVENT_LOCATION:
        if ((err = insert_location(st, b, e)) < 0)
            return err;
        break;
    default:
        return wp_error_set(WP_EINVAL, "event of unknown type %d", (int)e->type);
    }
    for (size_t i = 0; i < e->n_alerts; i++)
        if ((err = insert_alert(st, b, e, &e->alerts[i])) < 0)
            return err;
    return 0;
}

int wp_store_events_apply(wp_store *st, wp_event_batch *b)
{
    struct wp_stmt *s = NULL;
    struct peer_cache pc;
    int64_t acked = 0, start;
    int err;

    pc.n = 0;
    if ((err = wp_store__check_id("tenant", b->tenant_id)) < 0 ||
        (err = wp_store__check_id("device", b->device_id)) < 0 ||
        (err = wp_store__check_id("employee", b->employee_id)) < 0)
        return err;
    for (size_t i = 0; i < b->n; i++) {
        b->events[i].applied = 0;
        b->events[i].id[0] = '\0';
        b->events[i].customer_id[0] = '\0';
    }
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    /* An UPDATE takes the device row's lock on PostgreSQL until the transaction ends (as
     * SELECT ... FOR UPDATE would, in portable SQL), so two nodes never interleave one device;
     * SQLite's writer holds the database lock already. */
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE devices SET last_seen_us = ? WHERE tenant_id = ? AND id = ?"
                             " RETURNING acked_seq, revoked, employee_id")) < 0)
        goto out;
    wp_db_bind_int64(s, 1, b->now_us);
    wp_db_bind_text(s, 2, b->tenant_id);
    wp_db_bind_text(s, 3, b->device_id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE || wp_db_col_int64(s, 1) != 0 ||
        strcmp(wp_db_col_text(s, 2), b->employee_id) != 0) {
        err = wp_error_set(WP_EAUTH, "device is revoked");
        goto out;
    }
    acked = start = wp_db_col_int64(s, 0);
    wp_db_done(s);
    s = NULL;

    for (size_t i = 0; i < b->n; i++) {
        wp_event *e = &b->events[i];
        if (e->seq > 0 && e->seq <= start)
            continue; /* sent before: stored then */
        if (e->type == WP_EVENT_REJECTED) {
            /* A rejected event with a usable seq is handled and moves acked_seq. */
            int with_seq = e->seq > acked;
            wp_id_new(e->id);
            if ((err = insert_quarantine(st, b, e, with_seq)) < 0)
                goto out;
            if (with_seq)
                acked = e->seq;
        } else if (e->seq <= acked) {
            /* the validator orders a batch's seqs, so only a caller's bug gets here */
            err = wp_error_set(WP_EINVAL, "event seq %lld is not increasing", (long long)e->seq);
            goto out;
        } else {
            if ((err = apply_one(st, b, &pc, e)) < 0)
                goto out;
            acked = e->seq;
        }
        e->applied = 1;
    }
    if ((err = touch_seen(st, b, &pc)) < 0)
        goto out;
    if (acked != start) {
        if ((err = wp_db_prepare(
                 st, &s, "UPDATE devices SET acked_seq = ? WHERE tenant_id = ? AND id = ?")) < 0)
            goto out;
        wp_db_bind_int64(s, 1, acked);
        wp_db_bind_text(s, 2, b->tenant_id);
        wp_db_bind_text(s, 3, b->device_id);
        if ((err = run(s)) < 0)
            goto out;
    }
    err = 0;
out:
    wp_db_done(s);
    if ((err = wp_store__op_end(st, err)) == 0)
        b->acked_seq = acked;
    else
        for (size_t i = 0; i < b->n; i++)
            b->events[i].applied = 0;
    return err;
}
