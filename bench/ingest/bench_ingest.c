/* SPDX-License-Identifier: MIT */
/* The ingest benchmark's load generator and raw ceiling (bench/ingest/run drives it). */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "ingest/ingest_int.h"
#include "scan/scan.h"
#include "store/db.h"
#include "store/devices.h"
#include "store/events.h"
#include "store/grams.h"
#include "store/org.h"
#include "store/people.h"
#include "store/policy.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/id.h"

#define TS_BASE_US 1795831200000000LL /* 2026-11-22T02:00:00Z */
#define CHATS 20                      /* conversations per device */
#define RESP_MAX (1 << 20)

static const char usage[] =
    "usage: bench_ingest load    --port P --tokens FILE --texts FILE --batches N [--batch B]\n"
    "       bench_ingest ceiling --data DIR [--db URL] --texts FILE --devices D --batches N\n"
    "                            [--batch B] [--rounds 1]\n"
    "       bench_ingest check   --port P --tokens FILE --texts FILE [--rate R] [--seconds S]\n"
    "                            [--conns C]\n"
    "       bench_ingest bare    --data DIR --texts FILE --devices D --batches N [--batch B]\n"
    "load: every device of FILE (lines \"<device id> <token> [<port>]\", the port of its node,\n"
    "else P) posts N batches of B (100) text messages on its own keep-alive connection, in\n"
    "parallel; prints events/s.\n"
    "ceiling: the same batches, stored into a fresh store (DIR, or the database URL) through\n"
    "wp_store_events_apply in one transaction; prints events/s. --rounds 1: as the server's\n"
    "writer stores them instead, a round of one batch per device through\n"
    "wp_store_events_apply_many, each round its own transaction.\n"
    "check: POST /api/v1/device/check at a fixed rate R (1000/s) for S (10) seconds over C (4)\n"
    "connections, open loop (latency counts from the scheduled send time); prints p50/p99.\n"
    "bare: the ceiling's message texts, in its order, inserted with bare SQLite (WAL,\n"
    "synchronous=FULL, one transaction, one prepared statement) into a table with an FTS5\n"
    "trigram index, then into one with the store's grams FTS5 (grams made inside the clock);\n"
    "prints rows/s of each.\n"
    "Output: one line of key=value pairs on standard output. BENCH_PRAGMA (ceiling): a\n"
    "statement run first on the store's connection, for experiments (PRAGMA cache_size=...);\n"
    "BENCH_UNTUNED (ceiling): the connection without wp_store_writer_tune().\n";

/* --- the messages ------------------------------------------------------------------------ */

static char **texts;
static size_t n_texts;

static void die(const char *what)
{
    fprintf(stderr, "bench_ingest: %s\n", what);
    exit(1);
}

static void read_texts(const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, n = 0;
    ssize_t len;
    if (!f)
        die("cannot open the texts file");
    while ((len = getline(&line, &cap, f)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (n == n_texts) {
            n_texts = n_texts ? 2 * n_texts : 1024;
            if (!(texts = realloc(texts, n_texts * sizeof *texts)))
                die("out of memory");
        }
        if (!(texts[n++] = strdup(line)))
            die("out of memory");
    }
    free(line);
    fclose(f);
    n_texts = n;
    if (!n)
        die("the texts file is empty");
}

static void add(wp_buf *b, const char *s)
{
    if (wp_buf_add(b, s, strlen(s)) < 0)
        die("body too big");
}

static void add_json_string(wp_buf *b, const char *s)
{
    add(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            esc[2] = '\0';
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
        } else {
            esc[0] = (char)*p;
            esc[1] = '\0';
        }
        add(b, esc);
    }
    add(b, "\"");
}

static uint64_t event_hash(unsigned d, uint64_t seq)
{
    return (seq * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)d * 0xc2b2ae3d27d4eb4fULL);
}

/* Device d's batch i: seqs i*per+1 .. (i+1)*per, text messages in CHATS conversations (one in
 * four peers with a phone number), texts picked deterministically from the texts file. */
static void make_body(wp_buf *b, unsigned d, unsigned i, unsigned per)
{
    char tmp[256];
    wp_buf_reset(b);
    add(b, "{\"events\":[");
    for (unsigned k = 0; k < per; k++) {
        uint64_t seq = (uint64_t)i * per + k + 1;
        uint64_t h = event_hash(d, seq);
        unsigned chat = (unsigned)(h >> 40) % CHATS;
        int64_t ts = TS_BASE_US + (int64_t)seq * 7000000;
        time_t sec = (time_t)(ts / 1000000);
        struct tm tm;
        gmtime_r(&sec, &tm);
        snprintf(tmp, sizeof tmp,
                 "%s{\"seq\":%" PRIu64 ",\"type\":\"message\",\"ts\":\"%04d-%02d-%02dT%02d:%02d:"
                 "%02dZ\",\"channel\":\"wechat\",\"direction\":\"%s\",\"chat\":\"wxid_%u_%u\","
                 "\"msgtype\":\"text\",\"peer\":{\"id\":\"wxid_%u_%u\",\"name\":\"客户%u\"",
                 k ? "," : "", seq, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (h & 1) ? "in" : "out", d, chat, d, chat, chat);
        add(b, tmp);
        if (chat % 4 == 0) {
            snprintf(tmp, sizeof tmp, ",\"phone\":\"1380%03u%04u\"", d % 1000, chat);
            add(b, tmp);
        }
        add(b, "},\"text\":");
        add_json_string(b, texts[(h >> 8) % n_texts]);
        add(b, "}");
    }
    add(b, "]}");
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The process's CPU time (all threads, user + system): on a shared, loaded machine the
 * steadier measure of work than wall time. */
static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* --- a minimal HTTP/1.1 keep-alive client ------------------------------------------------- */

struct conn {
    int fd;
    int port;
    char *buf; /* RESP_MAX */
    size_t len;
};

static void conn_open(struct conn *c, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->port = port;
    c->len = 0;
    if (!c->buf && !(c->buf = malloc(RESP_MAX)))
        die("out of memory");
    if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
        connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("cannot connect to the server");
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* POST body; returns the status; the reply's body is c->buf (NUL-terminated). */
static int post(struct conn *c, const char *path, const char *token, const char *body, size_t len)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     path, c->port, token, len);
    struct iovec iov[2] = {{head, (size_t)n}, {(void *)body, len}};
    size_t left = (size_t)n + len;
    while (left) {
        ssize_t w = writev(c->fd, iov, 2);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("write to the server failed");
        left -= (size_t)w;
        for (int i = 0; i < 2 && w; i++) {
            size_t k = (size_t)w < iov[i].iov_len ? (size_t)w : iov[i].iov_len;
            iov[i].iov_base = (char *)iov[i].iov_base + k;
            iov[i].iov_len -= k;
            w -= (ssize_t)k;
        }
    }
    c->len = 0;
    char *end = NULL;
    size_t want = 0;
    for (;;) {
        if (c->len + 1 >= RESP_MAX)
            die("reply too big");
        ssize_t r = read(c->fd, c->buf + c->len, RESP_MAX - 1 - c->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            die("the server closed the connection");
        c->len += (size_t)r;
        c->buf[c->len] = '\0';
        if (!end && (end = strstr(c->buf, "\r\n\r\n"))) {
            const char *cl = strcasestr(c->buf, "\r\nContent-Length:");
            if (!cl || cl > end)
                die("reply without Content-Length");
            want = (size_t)(end + 4 - c->buf) + strtoul(cl + 17, NULL, 10);
        }
        if (end && c->len >= want)
            break;
    }
    int status = (int)strtol(c->buf + 9, NULL, 10);
    size_t hl = (size_t)(end + 4 - c->buf);
    memmove(c->buf, c->buf + hl, c->len - hl + 1);
    c->len -= hl;
    return status;
}

struct device {
    char id[64], token[128];
    int port; /* the node it posts to; 0: the --port given */
};

/* Lines "<device id> <token> [<port>]". */
static struct device *read_tokens(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    struct device *v = NULL;
    size_t k = 0, cap = 0;
    char line[512], id[64], tok[128];
    int port;
    if (!f)
        die("cannot open the tokens file");
    while (fgets(line, sizeof line, f)) {
        port = 0;
        if (sscanf(line, "%63s %127s %d", id, tok, &port) < 2)
            continue;
        if (k == cap && !(v = realloc(v, (cap = cap ? 2 * cap : 16) * sizeof *v)))
            die("out of memory");
        snprintf(v[k].id, sizeof v[k].id, "%s", id);
        snprintf(v[k].token, sizeof v[k].token, "%s", tok);
        v[k].port = port;
        k++;
    }
    fclose(f);
    if (!k)
        die("no devices in the tokens file");
    *n = k;
    return v;
}

/* --- load: devices posting batches ---------------------------------------------------------- */

struct loader {
    pthread_t t;
    int port;
    unsigned d, batches, per;
    const struct device *dev;
    double lat_sum, lat_max;
};

static void *load_main(void *arg)
{
    struct loader *l = arg;
    struct conn c = {0};
    wp_buf b;
    char want[64];
    wp_buf_init(&b, 64u << 20);
    conn_open(&c, l->port);
    for (unsigned i = 0; i < l->batches; i++) {
        make_body(&b, l->d, i, l->per);
        double t0 = now_s();
        int status = post(&c, "/api/v1/device/events", l->dev->token, b.buf, b.len);
        double dt = now_s() - t0;
        snprintf(want, sizeof want, "\"acked_seq\":%u", (i + 1) * l->per);
        if (status != 200 || !strstr(c.buf, want)) {
            fprintf(stderr, "bench_ingest: HTTP %d: %.300s\n", status, c.buf);
            exit(1);
        }
        l->lat_sum += dt;
        if (dt > l->lat_max)
            l->lat_max = dt;
    }
    close(c.fd);
    free(c.buf);
    wp_buf_release(&b);
    return NULL;
}

static int cmd_load(int port, const char *tokens, unsigned batches, unsigned per)
{
    size_t n;
    struct device *devs = read_tokens(tokens, &n);
    struct loader *ls = calloc(n, sizeof *ls);
    if (!ls)
        die("out of memory");
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        ls[i] = (struct loader){.port = devs[i].port ? devs[i].port : port,
                                .d = (unsigned)i,
                                .batches = batches,
                                .per = per,
                                .dev = &devs[i]};
        if (pthread_create(&ls[i].t, NULL, load_main, &ls[i]) != 0)
            die("cannot start a thread");
    }
    double lat = 0, lat_max = 0;
    for (size_t i = 0; i < n; i++) {
        pthread_join(ls[i].t, NULL);
        lat += ls[i].lat_sum;
        if (ls[i].lat_max > lat_max)
            lat_max = ls[i].lat_max;
    }
    double dt = now_s() - t0;
    double events = (double)n * batches * per;
    printf("devices=%zu batches=%u batch=%u events=%.0f seconds=%.3f events_per_s=%.0f "
           "batch_ms_mean=%.2f batch_ms_max=%.2f\n",
           n, batches, per, events, dt, events / dt, 1000 * lat / ((double)n * batches),
           1000 * lat_max);
    free(ls);
    free(devs);
    return 0;
}

/* --- ceiling: the same rows straight into the store, one transaction ------------------------- */

static void ok(int err, const char *what)
{
    if (err < 0) {
        fprintf(stderr, "bench_ingest: %s: %s\n", what, wp_error_last());
        exit(1);
    }
}

static void fake_hash(char out[65], const char *what, unsigned i)
{
    char id[WP_ID_LEN + 1];
    wp_id_new(id);
    snprintf(out, 65, "%s%08x%016x%s", id, i, (unsigned)strlen(what), "0000000000000000");
    out[64] = '\0';
    for (int k = 0; k < 64; k++)
        if (!((out[k] >= '0' && out[k] <= '9') || (out[k] >= 'a' && out[k] <= 'f')))
            out[k] = 'a';
}

static int cmd_ceiling(const char *dir, const char *db, unsigned n_dev, unsigned batches,
                       unsigned per, int merged)
{
    wp_store *st = NULL;
    wp_scanner *scanner = NULL;
    wp_scan_options so = WP_SCAN_OPTIONS_INIT;
    char tenant[WP_ID_LEN + 1];
    wp_org_unit unit;
    wp_employee emp;
    size_t nb = (size_t)n_dev * batches;
    wp_ingest_batch *vb = calloc(nb, sizeof *vb);
    json_t **bodies = calloc(nb, sizeof *bodies);
    wp_device *devs = calloc(n_dev, sizeof *devs);
    wp_buf b;
    if (!vb || !bodies || !devs)
        die("out of memory");
    wp_buf_init(&b, 64u << 20);

    ok(wp_store_open(&st, dir, db), "open the store");
    if (!getenv("BENCH_UNTUNED")) /* the writer's connection is tuned so (store.h) */
        ok(wp_store_writer_tune(st), "tune the connection");
    if (getenv("BENCH_PRAGMA"))
        ok(wp_db_exec(st, getenv("BENCH_PRAGMA")), "pragma");
    ok(wp_store_tenant_create(st, tenant, "Bench"), "tenant");
    ok(wp_store_org_unit_create(st, &unit, tenant, NULL, "HQ", WP_ORG_HQ), "org unit");
    ok(wp_store_employee_create(st, &emp, tenant, unit.id, "Bench", "bench", WP_ROLE_SALES, NULL),
       "employee");
    for (unsigned d = 0; d < n_dev; d++) {
        char code[65], tok[65], serial[32];
        fake_hash(code, "code", d);
        fake_hash(tok, "token", d);
        snprintf(serial, sizeof serial, "SN-%u", d);
        ok(wp_store_enrollment_code_create(st, tenant, emp.id, code, INT64_MAX / 2), "code");
        ok(wp_store_device_enroll(st, &devs[d], code, serial, "bench", tok, TS_BASE_US), "enroll");
    }
    ok(wp_scan_compile(&scanner, wp_ingest__default_lexicon, wp_ingest__default_lexicon_len, &so),
       "compile the default lexicon");
    /* Everything the server does before its writer (parse, validate, scan) is done here,
     * untimed, in the order the load's devices send. */
    size_t alerts = 0;
    for (unsigned i = 0; i < batches; i++)
        for (unsigned d = 0; d < n_dev; d++) {
            size_t k = (size_t)i * n_dev + d;
            json_error_t je;
            make_body(&b, d, i, per);
            if (!(bodies[k] = json_loadb(b.buf, b.len, 0, &je)))
                die("a generated body is not json");
            ok(wp_ingest__validate(&vb[k], bodies[k], NULL), "validate");
            ok(wp_ingest__alerts(&vb[k], scanner, WP_MONEY_ALERT_DEFAULT_FEN), "scan");
            vb[k].b.tenant_id = tenant;
            vb[k].b.device_id = devs[d].id;
            vb[k].b.employee_id = emp.id;
            vb[k].b.now_us = TS_BASE_US;
            for (size_t e = 0; e < vb[k].b.n; e++) {
                alerts += vb[k].b.events[e].n_alerts;
                if (vb[k].b.events[e].type != WP_EVENT_MESSAGE)
                    die("a generated event was rejected");
            }
        }
    wp_event_batch **round = calloc(n_dev, sizeof *round);
    if (!round)
        die("out of memory");
    double t0 = now_s(), c0 = cpu_s();
    if (merged) {
        /* the server's writer: a round of one batch per device, one transaction each */
        for (size_t k = 0; k < nb; k += n_dev) {
            size_t failed;
            for (unsigned d = 0; d < n_dev; d++)
                round[d] = &vb[k + d].b;
            ok(wp_store_events_apply_many(st, round, n_dev, &failed), "apply a round");
        }
    } else {
        ok(wp_store_begin(st), "begin");
        for (size_t k = 0; k < nb; k++)
            ok(wp_store_events_apply(st, &vb[k].b), "apply");
        ok(wp_store_commit(st), "commit");
    }
    double dt = now_s() - t0, cpu = cpu_s() - c0;
    double events = (double)nb * per;
    printf("mode=%s devices=%u batches=%u batch=%u events=%.0f alerts=%zu seconds=%.3f "
           "events_per_s=%.0f cpu_s=%.3f cpu_us_per_event=%.2f\n",
           merged ? "rounds" : "one", n_dev, batches, per, events, alerts, dt, events / dt, cpu,
           1e6 * cpu / events);
    free(round);
    for (size_t k = 0; k < nb; k++) {
        wp_ingest__batch_release(&vb[k]);
        json_decref(bodies[k]);
    }
    wp_scanner_unref(scanner);
    wp_store_free(st);
    wp_buf_release(&b);
    free(vb);
    free(bodies);
    free(devs);
    return 0;
}

/* --- bare: the same texts through bare SQLite, for the ceiling's ratio ------------------------ */

static void lite_ok(sqlite3 *db, int rc, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "bench_ingest: %s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

/* One database DIR/NAME.db with schema, then every message text of the ceiling, in its order
 * (batch by batch, device by device), inserted by `insert` (?1 the row id, ?2 the text) in one
 * transaction. With fts (?1 the row id, ?2 the grams), each batch's grams are then made (as the
 * store makes them, inside the clock) and inserted after its rows, in key order, as the store
 * does. Returns the seconds from BEGIN to the end of COMMIT. */
static double bare_run(const char *dir, const char *name, const char *schema, const char *insert,
                       const char *fts, unsigned n_dev, unsigned batches, unsigned per, double *cpu)
{
    char path[4096];
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL, *f = NULL;
    wp_buf g;
    snprintf(path, sizeof path, "%s/%s.db", dir, name);
    lite_ok(db, sqlite3_open(path, &db), "open");
    lite_ok(
        db,
        sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL", NULL, NULL, NULL),
        "pragmas");
    lite_ok(db, sqlite3_exec(db, schema, NULL, NULL, NULL), "schema");
    lite_ok(db, sqlite3_prepare_v3(db, insert, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL), "prepare");
    if (fts)
        lite_ok(db, sqlite3_prepare_v3(db, fts, -1, SQLITE_PREPARE_PERSISTENT, &f, NULL),
                "prepare");
    wp_buf_init(&g, 1u << 20);
    int64_t id = 0;
    double t0 = now_s(), c0 = cpu_s();
    lite_ok(db, sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), "begin");
    for (unsigned i = 0; i < batches; i++)
        for (unsigned d = 0; d < n_dev; d++) {
            int64_t first = id + 1;
            for (unsigned k = 0; k < per; k++) {
                const char *t = texts[(event_hash(d, (uint64_t)i * per + k + 1) >> 8) % n_texts];
                sqlite3_bind_int64(s, 1, ++id);
                sqlite3_bind_text(s, 2, t, -1, SQLITE_STATIC);
                lite_ok(db, sqlite3_step(s), "insert");
                sqlite3_reset(s);
            }
            for (unsigned k = 0; f && k < per; k++) {
                const char *t = texts[(event_hash(d, (uint64_t)i * per + k + 1) >> 8) % n_texts];
                wp_buf_reset(&g);
                ok(wp_grams__make(&g, NULL, t, strlen(t), 0, WP_GRAMS_SPACED), "grams");
                if (!g.len)
                    continue;
                sqlite3_bind_int64(f, 1, first + k);
                sqlite3_bind_text(f, 2, g.buf, (int)g.len, SQLITE_STATIC);
                lite_ok(db, sqlite3_step(f), "insert grams");
                sqlite3_reset(f);
            }
        }
    lite_ok(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
    double dt = now_s() - t0;
    *cpu = cpu_s() - c0;
    sqlite3_finalize(s);
    sqlite3_finalize(f);
    sqlite3_close(db);
    wp_buf_release(&g);
    return dt;
}

static int cmd_bare(const char *dir, unsigned n_dev, unsigned batches, unsigned per)
{
    double rows = (double)n_dev * batches * per, tri_cpu, gr_cpu;
    /* the reference the issue names: a rowid table of the texts and an FTS5 trigram index over
     * it (external content, kept by a trigger) */
    double tri =
        bare_run(dir, "trigram",
                 "CREATE TABLE t (id INTEGER PRIMARY KEY, text TEXT NOT NULL);"
                 "CREATE VIRTUAL TABLE t_fts USING fts5 (text, content = 't',"
                 " content_rowid = 'id', tokenize = 'trigram');"
                 "CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN"
                 " INSERT INTO t_fts (rowid, text) VALUES (new.id, new.text); END",
                 "INSERT INTO t (id, text) VALUES (?1, ?2)", NULL, n_dev, batches, per, &tri_cpu);
    /* the store's search index (migrations 0002, 0004): contentless, the ascii tokenizer over
     * the grams, detail none, automerge 16; the texts in a rowid table beside it */
    double gr =
        bare_run(dir, "grams",
                 "CREATE TABLE t (id INTEGER PRIMARY KEY, text TEXT NOT NULL);"
                 "CREATE VIRTUAL TABLE t_fts USING fts5 (grams, content = '',"
                 " tokenize = 'ascii', detail = 'none', columnsize = 0);"
                 "INSERT INTO t_fts (t_fts, rank) VALUES ('automerge', 16)",
                 "INSERT INTO t (id, text) VALUES (?1, ?2)",
                 "INSERT INTO t_fts (rowid, grams) VALUES (?1, ?2)", n_dev, batches, per, &gr_cpu);
    printf("rows=%.0f trigram_seconds=%.3f trigram_rows_per_s=%.0f trigram_cpu_s=%.3f "
           "trigram_cpu_us_per_row=%.2f grams_seconds=%.3f grams_rows_per_s=%.0f "
           "grams_cpu_s=%.3f grams_cpu_us_per_row=%.2f\n",
           rows, tri, rows / tri, tri_cpu, 1e6 * tri_cpu / rows, gr, rows / gr, gr_cpu,
           1e6 * gr_cpu / rows);
    return 0;
}

/* --- check: the verdict's latency at a fixed rate ------------------------------------------ */

struct checker {
    pthread_t t;
    int port;
    const char *token;
    unsigned k, conns;
    double t0, period, seconds;
    double *lat;
    size_t n, cap;
};

static void *check_main(void *arg)
{
    struct checker *ck = arg;
    struct conn c = {0};
    wp_buf b;
    wp_buf_init(&b, 1u << 20);
    conn_open(&c, ck->port);
    for (uint64_t i = 0;; i++) {
        double at = ck->t0 + (double)(i * ck->conns + ck->k) * ck->period;
        if (at >= ck->t0 + ck->seconds)
            break;
        double now = now_s();
        if (at > now) {
            struct timespec ts = {(time_t)(at - now),
                                  (long)((at - now - (double)(time_t)(at - now)) * 1e9)};
            while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
        }
        wp_buf_reset(&b);
        add(&b, "{\"channel\":\"wechat\",\"peer\":{\"id\":\"wxid_check\"},\"text\":");
        add_json_string(&b, texts[(i * 7919 + ck->k) % n_texts]);
        add(&b, "}");
        int status = post(&c, "/api/v1/device/check", ck->token, b.buf, b.len);
        if (status != 200) {
            fprintf(stderr, "bench_ingest: check: HTTP %d: %.300s\n", status, c.buf);
            exit(1);
        }
        if (ck->n == ck->cap &&
            !(ck->lat =
                  realloc(ck->lat, (ck->cap = ck->cap ? 2 * ck->cap : 4096) * sizeof *ck->lat)))
            die("out of memory");
        ck->lat[ck->n++] = now_s() - at;
    }
    close(c.fd);
    free(c.buf);
    wp_buf_release(&b);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmd_check(int port, const char *tokens, double rate, double seconds, unsigned conns)
{
    size_t n_dev;
    struct device *devs = read_tokens(tokens, &n_dev);
    struct checker *cs = calloc(conns, sizeof *cs);
    if (!cs)
        die("out of memory");
    double t0 = now_s() + 0.05;
    for (unsigned k = 0; k < conns; k++) {
        cs[k] = (struct checker){.port = port,
                                 .token = devs[k % n_dev].token,
                                 .k = k,
                                 .conns = conns,
                                 .t0 = t0,
                                 .period = 1.0 / rate,
                                 .seconds = seconds};
        if (pthread_create(&cs[k].t, NULL, check_main, &cs[k]) != 0)
            die("cannot start a thread");
    }
    size_t total = 0;
    for (unsigned k = 0; k < conns; k++) {
        pthread_join(cs[k].t, NULL);
        total += cs[k].n;
    }
    double dt = now_s() - t0;
    double *all = malloc((total ? total : 1) * sizeof *all);
    size_t m = 0;
    if (!all)
        die("out of memory");
    for (unsigned k = 0; k < conns; k++) {
        memcpy(all + m, cs[k].lat, cs[k].n * sizeof *all);
        m += cs[k].n;
        free(cs[k].lat);
    }
    qsort(all, total, sizeof *all, cmp_double);
    printf("checks=%zu seconds=%.3f rate=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f "
           "p999_ms=%.3f max_ms=%.3f\n",
           total, dt, (double)total / dt, 1000 * all[total / 2], 1000 * all[total * 9 / 10],
           1000 * all[total * 99 / 100], 1000 * all[total * 999 / 1000],
           1000 * all[total ? total - 1 : 0]);
    free(all);
    free(cs);
    free(devs);
    return 0;
}

/* --- main ------------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    const char *tokens = NULL, *texts_path = NULL, *dir = NULL, *db = NULL;
    unsigned batches = 0, per = 100, devices = 0, conns = 4;
    int rounds = 0;
    int port = 0;
    double rate = 1000, seconds = 10;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            die(usage);
        i++;
        if (strcmp(a, "--port") == 0)
            port = (int)strtol(v, NULL, 10);
        else if (strcmp(a, "--tokens") == 0)
            tokens = v;
        else if (strcmp(a, "--texts") == 0)
            texts_path = v;
        else if (strcmp(a, "--data") == 0)
            dir = v;
        else if (strcmp(a, "--db") == 0)
            db = *v ? v : NULL;
        else if (strcmp(a, "--batches") == 0)
            batches = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--batch") == 0)
            per = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--devices") == 0)
            devices = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--rate") == 0)
            rate = strtod(v, NULL);
        else if (strcmp(a, "--seconds") == 0)
            seconds = strtod(v, NULL);
        else if (strcmp(a, "--rounds") == 0)
            rounds = strcmp(v, "0") != 0;
        else if (strcmp(a, "--conns") == 0)
            conns = (unsigned)strtoul(v, NULL, 10);
        else
            die(usage);
    }
    if (!texts_path || per == 0 || per > 1000 || conns == 0 || rate <= 0)
        die(usage);
    read_texts(texts_path);
    if (strcmp(cmd, "load") == 0 && port && tokens && batches)
        return cmd_load(port, tokens, batches, per);
    if (strcmp(cmd, "ceiling") == 0 && dir && devices && batches)
        return cmd_ceiling(dir, db, devices, batches, per, rounds);
    if (strcmp(cmd, "bare") == 0 && dir && devices && batches)
        return cmd_bare(dir, devices, batches, per);
    if (strcmp(cmd, "check") == 0 && port && tokens)
        return cmd_check(port, tokens, rate, seconds, conns);
    die(usage);
    return 2;
}
