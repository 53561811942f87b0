/* SPDX-License-Identifier: MIT */
/* Recording: events into the durable outbox with the next seq, and media files into <dir>/media. */
#include "agent/agent_int.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/json.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_REFS 4 /* media refs one event may name ("media", "recording") */

/* One event made ready outside the lock: its stored text (the object without seq; sync puts
 * the seq in front) and the media it names. */
struct prepared {
    char *body;
    size_t len;
    char refs[MAX_REFS][65];
    size_t n_refs;
};

/* "sha256:<64 lowercase hex>" → hex; 0 when s is not such a ref. */
static int ref_hex(char out[65], const char *s)
{
    if (!s || strlen(s) != 71 || strncmp(s, "sha256:", 7) != 0)
        return 0;
    for (size_t i = 7; i < 71; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    memcpy(out, s + 7, 65);
    return 1;
}

/* The local time now as RFC 3339 with the device's offset. */
static void now_text(char out[40], int64_t us)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    int off = 0;
    if (localtime_r(&t, &tm))
        off = (int)(tm.tm_gmtoff / 60);
    wp_time_format(out, us, off);
}

static int prepare(wp_agent *a, struct prepared *p, const char *json, size_t len, size_t index)
{
    json_error_t jerr;
    json_t *ev = NULL;
    int err = 0;
    char where[32] = "";
    if (index)
        snprintf(where, sizeof where, "event %zu: ", index);

    memset(p, 0, sizeof *p);
    if (!json || len > WP_AGENT_EVENT_MAX)
        return wp_agent__fail(a, WP_AGENT_EINVAL, "%san event may not be larger than %u bytes",
                              where, WP_AGENT_EVENT_MAX);
    if (!(ev = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr)))
        return wp_agent__fail(a, WP_AGENT_EINVAL, "%sevent is not json: %s (column %d)", where,
                              jerr.text, jerr.column);
    if (!json_is_object(ev)) {
        err = wp_agent__fail(a, WP_AGENT_EINVAL, "%sevent is not a json object", where);
        goto out;
    }
    if (json_object_get(ev, "seq")) {
        err = wp_agent__fail(a, WP_AGENT_EINVAL, "%sevent has a \"seq\": the agent assigns it",
                             where);
        goto out;
    }
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (!type || !*type) {
        err = wp_agent__fail(a, WP_AGENT_EINVAL, "%sevent has no \"type\"", where);
        goto out;
    }
    json_t *ts = json_object_get(ev, "ts");
    int64_t us;
    if (ts && (!json_is_string(ts) || wp_time_parse(&us, json_string_value(ts)) < 0)) {
        err = wp_agent__fail(a, WP_AGENT_EINVAL, "%s\"ts\" is not an rfc 3339 time", where);
        goto out;
    }
    if (!ts) {
        char now[40];
        now_text(now, wp_time_now_us());
        if (json_object_set_new(ev, "ts", json_string(now)) < 0) {
            err = wp_agent__fail(a, WP_AGENT_ENOMEM, "out of memory");
            goto out;
        }
    }
    static const char *const ref_keys[] = {"media", "recording"};
    for (size_t k = 0; k < sizeof ref_keys / sizeof ref_keys[0]; k++)
        if (ref_hex(p->refs[p->n_refs], json_string_value(json_object_get(ev, ref_keys[k]))))
            p->n_refs++;
    if (!(p->body = wp_json_dumps(ev, JSON_COMPACT))) {
        err = wp_agent__fail(a, WP_AGENT_ENOMEM, "out of memory");
        goto out;
    }
    p->len = strlen(p->body);
    if (p->len > WP_AGENT_EVENT_MAX)
        err = wp_agent__fail(a, WP_AGENT_EINVAL, "%san event may not be larger than %u bytes",
                             where, WP_AGENT_EVENT_MAX);
out:
    json_decref(ev);
    return err;
}

/* Insert the prepared events with consecutive seqs in one transaction. Under mu. */
static int insert_all(wp_agent *a, int64_t *first, struct prepared *p, size_t n)
{
    sqlite3_stmt *ins = NULL, *link = NULL;
    uint64_t bytes = 0;
    int err;
    for (size_t i = 0; i < n; i++)
        bytes += p[i].len;
    if (a->outbox_bytes + bytes > a->o.max_outbox_bytes)
        return wp_agent__fail(a, WP_AGENT_EFULL,
                              "outbox is full: %llu bytes waiting, %llu more would pass the limit"
                              " of %llu; sync first",
                              (unsigned long long)a->outbox_bytes, (unsigned long long)bytes,
                              (unsigned long long)a->o.max_outbox_bytes);
    if ((err = wp_agent__begin(a)) < 0)
        return err;
    if (sqlite3_prepare_v2(a->db, "INSERT INTO outbox (seq, body) VALUES (?, ?)", -1, &ins,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(a->db,
                           "INSERT OR IGNORE INTO event_media (seq, hex)"
                           " SELECT ?, hex FROM media WHERE hex = ?",
                           -1, &link, NULL) != SQLITE_OK) {
        err = wp_agent__db_fail(a, "cannot record the event");
        goto out;
    }
    int64_t seq = a->next_seq;
    if (seq > WP_AGENT_SEQ_MAX - (int64_t)n + 1) {
        err = wp_agent__fail(a, WP_AGENT_EIO, "no seq left: %zu events after %lld would pass %lld",
                             n, (long long)seq - 1, (long long)WP_AGENT_SEQ_MAX);
        goto out;
    }
    for (size_t i = 0; i < n; i++, seq++) {
        sqlite3_reset(ins);
        sqlite3_bind_int64(ins, 1, seq);
        sqlite3_bind_text(ins, 2, p[i].body, (int)p[i].len, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            err = wp_agent__db_fail(a, "cannot record the event");
            goto out;
        }
        for (size_t k = 0; k < p[i].n_refs; k++) {
            sqlite3_reset(link);
            sqlite3_bind_int64(link, 1, seq);
            sqlite3_bind_text(link, 2, p[i].refs[k], -1, SQLITE_STATIC);
            if (sqlite3_step(link) != SQLITE_DONE) {
                err = wp_agent__db_fail(a, "cannot record the event");
                goto out;
            }
        }
    }
    if ((err = wp_agent__meta_set_int(a, "next_seq", seq)) < 0)
        goto out;
    sqlite3_finalize(ins);
    sqlite3_finalize(link);
    ins = link = NULL;
    if ((err = wp_agent__commit(a)) < 0)
        goto out;
    *first = a->next_seq;
    a->next_seq = seq;
    a->outbox_events += n;
    a->outbox_bytes += bytes;
out:
    sqlite3_finalize(ins);
    sqlite3_finalize(link);
    if (err < 0)
        wp_agent__rollback(a);
    return err;
}

int wp_agent_record_many(wp_agent *a, int64_t *out_first_seq, const char *const *jsons,
                         const size_t *lens, size_t n)
{
    struct prepared one, *p = &one;
    int64_t first = 0;
    int err = 0;
    size_t done = 0;
    if (n == 0)
        return wp_agent__fail(a, WP_AGENT_EINVAL, "no events to record");
    if (n > 1 && !(p = calloc(n, sizeof *p)))
        return wp_agent__fail(a, WP_AGENT_ENOMEM, "out of memory");
    for (; done < n && err == 0; done++)
        err = prepare(a, &p[done], jsons[done], lens[done], n > 1 ? done + 1 : 0);
    if (err == 0) {
        pthread_mutex_lock(&a->mu);
        err = insert_all(a, &first, p, n);
        pthread_mutex_unlock(&a->mu);
    }
    for (size_t i = 0; i < done; i++)
        free(p[i].body);
    if (p != &one)
        free(p);
    if (err == 0 && out_first_seq)
        *out_first_seq = first;
    return err;
}

int wp_agent_record(wp_agent *a, int64_t *out_seq, const char *json, size_t len)
{
    return wp_agent_record_many(a, out_seq, &json, &len, 1);
}

/* --- typed helpers ------------------------------------------------------------------------- */

static int record_obj(wp_agent *a, int64_t *out_seq, json_t *ev, int64_t ts_us)
{
    char ts[40];
    int err;
    if (!ev)
        return wp_agent__fail(a, WP_AGENT_ENOMEM, "out of memory");
    now_text(ts, ts_us ? ts_us : wp_time_now_us());
    if (json_object_set_new(ev, "ts", json_string(ts)) < 0) {
        json_decref(ev);
        return wp_agent__fail(a, WP_AGENT_ENOMEM, "out of memory");
    }
    char *text = wp_json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    if (!text)
        return wp_agent__fail(a, WP_AGENT_ENOMEM, "out of memory");
    err = wp_agent_record(a, out_seq, text, strlen(text));
    free(text);
    return err;
}

static json_t *peer_json(const wp_agent_peer *p)
{
    json_t *o = json_object();
    if (o && p) {
        if (p->id)
            json_object_set_new(o, "id", json_string(p->id));
        if (p->name)
            json_object_set_new(o, "name", json_string(p->name));
        if (p->phone)
            json_object_set_new(o, "phone", json_string(p->phone));
    }
    return o;
}

int wp_agent_record_text(wp_agent *a, int64_t *out_seq, int64_t ts_us, const char *channel,
                         const char *direction, const wp_agent_peer *peer, const char *chat,
                         const char *text)
{
    if (!channel || !direction || !peer || !text)
        return wp_agent__fail(a, WP_AGENT_EINVAL, "channel, direction, peer and text are needed");
    return record_obj(a, out_seq,
                      json_pack("{s:s,s:s,s:s,s:o,s:s?,s:s,s:s}", "type", "message", "channel",
                                channel, "direction", direction, "peer", peer_json(peer), "chat",
                                chat ? chat : peer->id, "msgtype", "text", "text", text),
                      ts_us);
}

int wp_agent_record_call(wp_agent *a, int64_t *out_seq, int64_t ts_us, const char *direction,
                         const wp_agent_peer *peer, int64_t duration_s, const char *recording_ref)
{
    if (!direction || !peer)
        return wp_agent__fail(a, WP_AGENT_EINVAL, "direction and peer are needed");
    return record_obj(a, out_seq,
                      json_pack("{s:s,s:s,s:o,s:I,s:s?}", "type", "call", "direction", direction,
                                "peer", peer_json(peer), "duration_s", (json_int_t)duration_s,
                                "recording", recording_ref),
                      ts_us);
}

int wp_agent_record_contact(wp_agent *a, int64_t *out_seq, int64_t ts_us, const char *channel,
                            const char *action, const wp_agent_peer *peer)
{
    if (!channel || !action || !peer)
        return wp_agent__fail(a, WP_AGENT_EINVAL, "channel, action and peer are needed");
    return record_obj(a, out_seq,
                      json_pack("{s:s,s:s,s:s,s:o}", "type", "contact", "channel", channel,
                                "action", action, "peer", peer_json(peer)),
                      ts_us);
}

/* The point's event, its off-duty check, its seq and its fence decision under one hold of mu,
 * so that two threads recording locations see the state in the order of their seqs. */
int wp_agent_record_location(wp_agent *a, int64_t *out_seq, int64_t ts_us, double lat,
                             double lon, double accuracy_m)
{
    struct prepared p;
    struct wp_agent_fence_step step;
    char ts[40];
    int64_t seq = 0;
    int err;

    if (out_seq)
        *out_seq = 0;
    if (!(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180) || !isfinite(accuracy_m))
        return wp_agent__fail(a, WP_AGENT_EINVAL, "lat must be from -90 to 90, lon from -180"
                                                  " to 180, accuracy_m a number");
    if (!ts_us)
        ts_us = wp_time_now_us();
    /* The server's numbers: e7 degrees and centimetres, rounded as it parses them. */
    int64_t lat_e7 = llround(lat * 1e7), lon_e7 = llround(lon * 1e7);
    int64_t acc_cm = llround(accuracy_m * 100);
    json_t *ev = json_pack("{s:s,s:f,s:f,s:f}", "type", "location", "lat", lat, "lon", lon,
                           "accuracy_m", accuracy_m);
    now_text(ts, ts_us);
    char *text = NULL;
    if (ev && json_object_set_new(ev, "ts", json_string(ts)) == 0)
        text = wp_json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    if (!text)
        return wp_agent__fail(a, WP_AGENT_ENOMEM, "out of memory");
    err = prepare(a, &p, text, strlen(text), 0);
    free(text);
    if (err < 0)
        return err;
    pthread_mutex_lock(&a->mu);
    const struct wp_agent_field *f = &a->field;
    if (!f->keep && f->have_hours && !wp_agent__field_on_duty(f, ts_us)) {
        err = WP_AGENT_LOCATION_OFF_DUTY;
        goto unlock;
    }
    wp_agent__field_decide(f, &step, ts_us, lat_e7, lon_e7, acc_cm);
    if ((err = insert_all(a, &seq, &p, 1)) < 0)
        goto unlock;
    /* The point is recorded; a state that cannot be kept (the disk) is decided again from the
     * next point, as the server would from the same points. */
    (void)wp_agent__field_apply(a, &step);
    err = step.left ? WP_AGENT_LOCATION_LEFT
        : step.returned ? WP_AGENT_LOCATION_RETURNED
                        : WP_AGENT_LOCATION_RECORDED;
    if (out_seq)
        *out_seq = seq;
unlock:
    pthread_mutex_unlock(&a->mu);
    free(p.body);
    return err;
}

/* --- media --------------------------------------------------------------------------------- */

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Copy src to a temp file in media/, hashing it; fsynced. */
static int copy_hashed(wp_agent *a, int src, char *tmp, char hex[65], uint64_t *size)
{
    crypto_hash_sha256_state sha;
    unsigned char digest[crypto_hash_sha256_BYTES];
    char chunk[65536];
    int err = 0;
    int dst = mkstemp(tmp);
    if (dst < 0)
        return wp_agent__fail(a, WP_AGENT_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    crypto_hash_sha256_init(&sha);
    *size = 0;
    for (;;) {
        ssize_t n = read(src, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = wp_agent__fail(a, WP_AGENT_EINVAL, "cannot read the media file: %s",
                                 strerror(errno));
            break;
        }
        if (n == 0)
            break;
        *size += (uint64_t)n;
        if (*size > WP_AGENT_MEDIA_MAX) {
            err = wp_agent__fail(a, WP_AGENT_EINVAL, "a media file may not be larger than %u bytes",
                                 WP_AGENT_MEDIA_MAX);
            break;
        }
        crypto_hash_sha256_update(&sha, (const unsigned char *)chunk, (size_t)n);
        for (ssize_t off = 0; off < n && err == 0;) {
            ssize_t w = write(dst, chunk + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                err = wp_agent__fail(a, errno == ENOSPC ? WP_AGENT_EFULL : WP_AGENT_EIO,
                                     "cannot copy the media file: %s", strerror(errno));
            else
                off += w;
        }
        if (err < 0)
            break;
    }
    if (err == 0 && fsync(dst) < 0)
        err = wp_agent__fail(a, WP_AGENT_EIO, "cannot sync the media file: %s", strerror(errno));
    close(dst);
    if (err < 0) {
        unlink(tmp);
        return err;
    }
    crypto_hash_sha256_final(&sha, digest);
    sodium_bin2hex(hex, 65, digest, sizeof digest);
    return 0;
}

int wp_agent_media_add(wp_agent *a, char out_ref[72], const char *path)
{
    char tmp[4096], final[4096], hex[65], mdir[4096];
    struct stat st;
    uint64_t size = 0;
    int err;

    if (!path)
        return wp_agent__fail(a, WP_AGENT_EINVAL, "no media file named");
    int src = open(path, O_RDONLY | O_CLOEXEC);
    if (src < 0)
        return wp_agent__fail(a, WP_AGENT_EINVAL, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(src, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(src);
        return wp_agent__fail(a, WP_AGENT_EINVAL, "'%s' is not a regular file", path);
    }
    if ((uint64_t)st.st_size > WP_AGENT_MEDIA_MAX) {
        close(src);
        return wp_agent__fail(a, WP_AGENT_EINVAL, "'%s' is larger than %u bytes", path,
                              WP_AGENT_MEDIA_MAX);
    }
    pthread_mutex_lock(&a->mu);
    uint64_t used = a->outbox_bytes;
    pthread_mutex_unlock(&a->mu);
    if (used + (uint64_t)st.st_size > a->o.max_outbox_bytes) {
        close(src);
        return wp_agent__fail(a, WP_AGENT_EFULL,
                              "outbox is full: %llu bytes waiting, '%s' would pass the limit of"
                              " %llu; sync first",
                              (unsigned long long)used, path,
                              (unsigned long long)a->o.max_outbox_bytes);
    }
    int n = snprintf(tmp, sizeof tmp, "%s/media/.tmp-XXXXXX", a->dir);
    snprintf(mdir, sizeof mdir, "%s/media", a->dir);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        close(src);
        return wp_agent__fail(a, WP_AGENT_EINVAL, "directory name '%s' is too long", a->dir);
    }
    err = copy_hashed(a, src, tmp, hex, &size);
    close(src);
    if (err < 0)
        return err;
    if ((err = wp_agent__media_path(a, final, sizeof final, hex)) < 0) {
        unlink(tmp);
        return err;
    }
    pthread_mutex_lock(&a->mu);
    /* Under the lock: a sync deleting an uploaded copy of the same content must not interleave
     * with this file's arrival. */
    sqlite3_stmt *s = NULL;
    int have = 0;
    if (sqlite3_prepare_v2(a->db, "SELECT 1 FROM media WHERE hex = ?", -1, &s, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(s, 1, hex, -1, SQLITE_STATIC);
        have = sqlite3_step(s) == SQLITE_ROW;
    }
    sqlite3_finalize(s);
    s = NULL;
    if (have) { /* the same content is waiting already: one copy is enough */
        unlink(tmp);
        goto out;
    }
    if (a->outbox_bytes + size > a->o.max_outbox_bytes) {
        unlink(tmp);
        err = wp_agent__fail(a, WP_AGENT_EFULL, "outbox is full: sync first");
        goto out;
    }
    if (rename(tmp, final) < 0 || fsync_dir(mdir) < 0) {
        err = wp_agent__fail(a, WP_AGENT_EIO, "cannot store the media file: %s", strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (sqlite3_prepare_v2(a->db, "INSERT INTO media (hex, size) VALUES (?, ?)", -1, &s, NULL) !=
        SQLITE_OK) {
        err = wp_agent__db_fail(a, "cannot register the media file");
        goto out;
    }
    sqlite3_bind_text(s, 1, hex, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)size);
    if (sqlite3_step(s) != SQLITE_DONE) {
        err = wp_agent__db_fail(a, "cannot register the media file");
    } else {
        a->outbox_bytes += size;
        a->media_pending++;
    }
    sqlite3_finalize(s);
out:
    pthread_mutex_unlock(&a->mu);
    if (err == 0)
        snprintf(out_ref, 72, "sha256:%s", hex);
    return err;
}
