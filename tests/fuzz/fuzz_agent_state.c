/* SPDX-License-Identifier: MIT */
/* libFuzzer target: libwpagent's own state as it reads it back from agent.db (src/agent):
 * the meta table (counters, enrollment, the cached policy) and the outbox, which a crash, a
 * full disk, a restore from backup or an older version may have left in any shape. The input
 * is lines of the rows to store before opening:
 *   m<TAB>key<TAB>text      a meta row with a text value
 *   i<TAB>key<TAB>integer   a meta row with an integer value
 *   o<TAB>seq<TAB>body      an outbox row
 * Whatever they hold, opening either works or fails cleanly; a batch the agent sends is valid
 * JSON whose events carry ascending seqs of stored rows; and a new event can be recorded,
 * under a seq after every stored one, without touching the rows that were there. */
#include "workphone/agent.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_assert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ROWS 64

struct row {
    int64_t seq;
    char *body;
};

struct state {
    struct row rows[MAX_ROWS];
    size_t n;
    int64_t max_seq; /* of the stored rows, 0 when none */
    int batches;
};

static int capture_send(void *ctx, const wp_agent_request *req, wp_agent_response *resp)
{
    struct state *s = ctx;
    if (strcmp(req->method, "POST") != 0 || !strstr(req->url, "/device/events"))
        return wp_agent_response_error(resp, WP_AGENT_ENET, "fuzz: only the events batch");
    s->batches++;
    FUZZ_ASSERT(req->body != NULL, "a batch without a body");
    json_error_t je;
    json_t *j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    FUZZ_ASSERT(j != NULL, "the batch is not JSON (%s): %.*s", je.text, (int)req->body_len,
                (const char *)req->body);
    json_t *events = json_object_get(j, "events");
    FUZZ_ASSERT(json_is_array(events) && json_array_size(events) >= 1, "no events array");
    int64_t prev = INT64_MIN;
    for (size_t i = 0; i < json_array_size(events); i++) {
        json_t *e = json_array_get(events, i);
        json_t *seq = json_object_get(e, "seq");
        FUZZ_ASSERT(json_is_object(e) && json_is_integer(seq), "event %zu", i);
        int64_t v = json_integer_value(seq);
        FUZZ_ASSERT(v > prev, "seq %lld after %lld", (long long)v, (long long)prev);
        prev = v;
        int stored = 0;
        for (size_t k = 0; k < s->n; k++)
            stored |= s->rows[k].seq == v;
        FUZZ_ASSERT(stored, "seq %lld was never stored", (long long)v);
    }
    json_decref(j);
    return wp_agent_response_error(resp, WP_AGENT_ENET, "fuzz: connection reset");
}

static void no_sleep(void *ctx, unsigned ms)
{
    (void)ctx, (void)ms;
}

static void rm_dir(const char *dir)
{
    static const char *const files[] = {"agent.db", "agent.db-wal", "agent.db-shm"};
    char path[512];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/media", dir);
    rmdir(path);
    rmdir(dir);
}

/* Store the input's rows in dir/agent.db, made with the agent's schema. */
static void write_state(const char *dir, char *text, struct state *s)
{
    char path[512];
    snprintf(path, sizeof path, "%s/agent.db", dir);
    sqlite3 *db = NULL;
    FUZZ_ASSERT(sqlite3_open(path, &db) == SQLITE_OK, "open");
    FUZZ_ASSERT(sqlite3_exec(db,
                             "PRAGMA journal_mode=WAL;"
                             "CREATE TABLE meta (k TEXT PRIMARY KEY, v) WITHOUT ROWID;"
                             "CREATE TABLE outbox (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);"
                             "CREATE TABLE media (hex TEXT PRIMARY KEY, size INTEGER NOT NULL,"
                             " uploaded INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
                             "CREATE TABLE event_media (seq INTEGER NOT NULL, hex TEXT NOT NULL,"
                             " PRIMARY KEY (seq, hex)) WITHOUT ROWID;",
                             NULL, NULL, NULL) == SQLITE_OK,
                "schema: %s", sqlite3_errmsg(db));
    sqlite3_stmt *meta = NULL, *out = NULL;
    FUZZ_ASSERT(sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", -1,
                                   &meta, NULL) == SQLITE_OK &&
                    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO outbox (seq, body) VALUES (?, ?)",
                                       -1, &out, NULL) == SQLITE_OK,
                "prepare");
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *k = strchr(line, '\t'), *v = k ? strchr(k + 1, '\t') : NULL;
        if (!v || k != line + 1)
            continue;
        *v++ = '\0';
        k++;
        if (line[0] == 'm' || line[0] == 'i') {
            sqlite3_reset(meta);
            sqlite3_bind_text(meta, 1, k, -1, SQLITE_STATIC);
            if (line[0] == 'm')
                sqlite3_bind_text(meta, 2, v, -1, SQLITE_STATIC);
            else
                sqlite3_bind_int64(meta, 2, strtoll(v, NULL, 10));
            sqlite3_step(meta);
        } else if (line[0] == 'o' && s->n < MAX_ROWS) {
            int64_t seq = strtoll(k, NULL, 10);
            sqlite3_reset(out);
            sqlite3_bind_int64(out, 1, seq);
            sqlite3_bind_text(out, 2, v, -1, SQLITE_STATIC);
            if (sqlite3_step(out) == SQLITE_DONE && sqlite3_changes(db) == 1) {
                s->rows[s->n].seq = seq;
                s->rows[s->n].body = strdup(v);
                FUZZ_ASSERT(s->rows[s->n].body, "out of memory");
                if (seq > s->max_seq)
                    s->max_seq = seq;
                s->n++;
            }
        }
    }
    sqlite3_finalize(meta);
    sqlite3_finalize(out);
    FUZZ_ASSERT(sqlite3_close(db) == SQLITE_OK, "close");
}

/* Every stored row is still there, unchanged, unless acknowledged. */
static void check_rows(const char *dir, const struct state *s, int64_t acked)
{
    char path[512];
    snprintf(path, sizeof path, "%s/agent.db", dir);
    sqlite3 *db = NULL;
    FUZZ_ASSERT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK, "reopen");
    sqlite3_stmt *q = NULL;
    FUZZ_ASSERT(sqlite3_prepare_v2(db, "SELECT body FROM outbox WHERE seq = ?", -1, &q, NULL) ==
                    SQLITE_OK,
                "prepare");
    for (size_t i = 0; i < s->n; i++) {
        if (s->rows[i].seq <= acked)
            continue;
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, s->rows[i].seq);
        FUZZ_ASSERT(sqlite3_step(q) == SQLITE_ROW, "row %lld is gone", (long long)s->rows[i].seq);
        const char *b = (const char *)sqlite3_column_text(q, 0);
        FUZZ_ASSERT(b && !strcmp(b, s->rows[i].body), "row %lld changed",
                    (long long)s->rows[i].seq);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[64];
    snprintf(dir, sizeof dir, "%s/wp-fuzz-state.XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    FUZZ_ASSERT(mkdtemp(dir) != NULL, "mkdtemp");
    char *text = malloc(size + 1);
    FUZZ_ASSERT(text != NULL, "out of memory");
    memcpy(text, data, size);
    text[size] = '\0';
    struct state s;
    memset(&s, 0, sizeof s);
    write_state(dir, text, &s);

    wp_agent_transport t = {capture_send, NULL, &s};
    wp_agent_options o = WP_AGENT_OPTIONS_INIT;
    o.dir = dir;
    o.transport = &t;
    o.batch_max = 4;
    o.max_attempts = 1;
    o.sleep_ms = no_sleep;
    wp_agent *a = NULL;
    int err = wp_agent_new(&a, &o);
    if (err < 0) {
        FUZZ_ASSERT(err == WP_AGENT_EIO || err == WP_AGENT_EINVAL, "open: %d", err);
        goto out;
    }
    wp_agent_status st;
    FUZZ_ASSERT(wp_agent_status_get(a, &st) == 0, "status");
    FUZZ_ASSERT(st.acked_seq >= 0 && st.next_seq > st.acked_seq && st.next_seq > s.max_seq,
                "next_seq %lld, acked_seq %lld, a stored seq %lld", (long long)st.next_seq,
                (long long)st.acked_seq, (long long)s.max_seq);
    if (st.enrolled)
        (void)wp_agent_sync(a);

    static const char ev[] = "{\"type\":\"message\",\"ts\":\"2026-11-22T10:00:00+08:00\","
                             "\"channel\":\"wechat\",\"direction\":\"out\",\"peer\":{\"id\":\"w\"},"
                             "\"chat\":\"w\",\"msgtype\":\"text\",\"text\":\"hello\"}";
    int64_t seq = 0;
    err = wp_agent_record(a, &seq, ev, sizeof ev - 1);
    FUZZ_ASSERT(err == 0, "recording after reopening: %d", err);
    FUZZ_ASSERT(seq > s.max_seq && seq > st.acked_seq, "new seq %lld, a stored one %lld",
                (long long)seq, (long long)s.max_seq);
    FUZZ_ASSERT(wp_agent_status_get(a, &st) == 0, "status");
    int64_t acked = st.acked_seq;
    wp_agent_free(a);
    check_rows(dir, &s, acked);
out:
    for (size_t i = 0; i < s.n; i++)
        free(s.rows[i].body);
    free(text);
    rm_dir(dir);
    return 0;
}
