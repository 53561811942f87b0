/* SPDX-License-Identifier: MIT */
/* The search benchmark's loader and query timer (bench/search/run drives it). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/db.h"
#include "store/devices.h"
#include "store/keys.h"
#include "store/seal.h"
#include "store/events.h"
#include "store/messages.h"
#include "store/org.h"
#include "store/people.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/id.h"

#define TS_BASE_US 1795831200000000LL /* 2026-11-22T02:00:00Z */
#define BATCH 1000                    /* events per wp_store_events_apply */
#define TX_BATCHES 50                 /* batches per transaction while loading */
#define DEVICES 20
#define CHATS 50 /* conversations per device */

static const char usage[] =
    "usage: bench_search load  --data DIR [--db URL] --texts FILE --messages N [--export FILE]\n"
    "       bench_search query --data DIR [--db URL] --queries FILE [--repeat R]\n"
    "load: a fresh store gets N text messages (the texts file's lines in order, wrapping),\n"
    "from 20 devices in 50 conversations each, newest last, through wp_store_events_apply;\n"
    "--export writes the same texts, one a line, for rg.\n"
    "query: each line of FILE is a query; each runs R (5) times as the console's first page\n"
    "(50 newest hits). Prints one line a query: chars, bytes, hits on the page, and the\n"
    "median milliseconds; then key=value summary lines per query length.\n"
    "BENCH_PRAGMA (load): a statement run first on the new store, for experiments.\n"
    "BENCH_MASTER_KEY (both): 64 hex digits; the store seals texts and keys grams with it\n"
    "(docs/internals/encryption.md), as serve with a master key does.\n";

static void die(const char *what)
{
    fprintf(stderr, "bench_search: %s\n", what);
    exit(1);
}

static void ok(int err, const char *what)
{
    if (err < 0) {
        fprintf(stderr, "bench_search: %s: %s\n", what, wp_error_last());
        exit(1);
    }
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char **read_lines(const char *path, size_t *n_out)
{
    FILE *f = fopen(path, "r");
    char **v = NULL, *line = NULL;
    size_t n = 0, cap = 0, lcap = 0;
    ssize_t len;
    if (!f)
        die("cannot open an input file");
    while ((len = getline(&line, &lcap, f)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (n == cap && !(v = realloc(v, (cap = cap ? 2 * cap : 1024) * sizeof *v)))
            die("out of memory");
        if (!(v[n++] = strdup(line)))
            die("out of memory");
    }
    free(line);
    fclose(f);
    if (!n)
        die("an input file is empty");
    *n_out = n;
    return v;
}

static void add(wp_buf *b, const char *s)
{
    if (wp_buf_add(b, s, strlen(s)) < 0)
        die("event too big");
}

/* The event's JSON as a device sends it: the raw column every row keeps. */
static void raw_json(wp_buf *b, const wp_event *e)
{
    char head[256];
    wp_buf_reset(b);
    snprintf(head, sizeof head,
             "{\"seq\":%" PRId64 ",\"type\":\"message\",\"ts\":\"%" PRId64 "\",\"channel\":"
             "\"wechat\",\"direction\":\"out\",\"chat\":\"%s\",\"msgtype\":\"text\",\"peer\":"
             "{\"id\":\"%s\"},\"text\":\"",
             e->seq, e->ts_us, e->chat, e->peer.id);
    add(b, head);
    for (const unsigned char *p = (const unsigned char *)e->text; *p; p++) {
        char c[8];
        if (*p == '"' || *p == '\\')
            snprintf(c, sizeof c, "\\%c", *p);
        else if (*p < 0x20)
            snprintf(c, sizeof c, "\\u%04x", *p);
        else
            snprintf(c, sizeof c, "%c", *p);
        add(b, c);
    }
    add(b, "\"}");
}

static void fake_hash(char out[65], unsigned i, int kind)
{
    char id[WP_ID_LEN + 1];
    wp_id_new(id);
    snprintf(out, 65, "%s%08x%08x%024d", id, i, (unsigned)kind, 0);
}

static int cmd_load(const char *dir, const char *db, const char *texts_path, size_t n,
                    const char *export_path)
{
    wp_store *st = NULL;
    char tenant[WP_ID_LEN + 1];
    wp_org_unit unit;
    wp_employee emp;
    wp_device devs[DEVICES];
    size_t n_texts;
    char **texts = read_lines(texts_path, &n_texts);
    wp_event *ev = calloc(BATCH, sizeof *ev);
    wp_buf *raw = calloc(BATCH, sizeof *raw);
    char(*names)[2][48] = calloc(BATCH, sizeof *names);
    FILE *exp = export_path ? fopen(export_path, "w") : NULL;
    if (!ev || !raw || !names || (export_path && !exp))
        die("out of memory, or cannot write the export file");

    ok(wp_store_open(&st, dir, db), "open the store");
    if (getenv("BENCH_PRAGMA"))
        ok(wp_db_exec(st, getenv("BENCH_PRAGMA")), "BENCH_PRAGMA");
    ok(wp_store_tenant_create(st, tenant, "Bench"), "tenant");
    ok(wp_store_org_unit_create(st, &unit, tenant, NULL, "HQ", WP_ORG_HQ), "org unit");
    ok(wp_store_employee_create(st, &emp, tenant, unit.id, "Bench", "bench", WP_ROLE_SALES, NULL),
       "employee");
    for (unsigned d = 0; d < DEVICES; d++) {
        char code[65], tok[65], serial[32];
        fake_hash(code, d, 1);
        fake_hash(tok, d, 2);
        snprintf(serial, sizeof serial, "SN-%u", d);
        ok(wp_store_enrollment_code_create(st, tenant, emp.id, code, INT64_MAX / 2), "code");
        ok(wp_store_device_enroll(st, &devs[d], code, serial, "bench", tok, TS_BASE_US), "enroll");
    }
    for (size_t i = 0; i < BATCH; i++)
        wp_buf_init(&raw[i], 1u << 20);
    int64_t seq[DEVICES] = {0};
    double t0 = now_s();
    size_t done = 0, batches = 0;
    while (done < n) {
        unsigned d = (unsigned)(batches % DEVICES);
        size_t k = n - done < BATCH ? n - done : BATCH;
        wp_event_batch b = {.tenant_id = tenant,
                            .device_id = devs[d].id,
                            .employee_id = emp.id,
                            .events = ev,
                            .n = k,
                            .now_us = TS_BASE_US};
        for (size_t i = 0; i < k; i++) {
            wp_event *e = &ev[i];
            size_t m = done + i;
            unsigned chat = (unsigned)((m * 2654435761u) >> 7) % CHATS;
            memset(e, 0, sizeof *e);
            e->seq = ++seq[d];
            e->type = WP_EVENT_MESSAGE;
            e->ts_us = TS_BASE_US + (int64_t)m * 1000000; /* one message a second */
            e->channel = "wechat";
            e->direction = (m & 1) ? WP_DIR_IN : WP_DIR_OUT;
            snprintf(names[i][0], sizeof names[i][0], "wxid_%u_%u", d, chat);
            snprintf(names[i][1], sizeof names[i][1], "客户%u", chat);
            e->peer.id = names[i][0];
            e->peer.name = names[i][1];
            e->chat = names[i][0];
            e->msgtype = "text";
            e->text = texts[m % n_texts];
            e->size = e->amount_fen = e->duration_s = e->accuracy_cm = -1;
            raw_json(&raw[i], e);
            e->raw = raw[i].buf;
            if (exp)
                fprintf(exp, "%s\n", e->text);
        }
        if (batches % TX_BATCHES == 0)
            ok(wp_store_begin(st), "begin");
        ok(wp_store_events_apply(st, &b), "apply");
        batches++;
        done += k;
        if (batches % TX_BATCHES == 0 || done == n)
            ok(wp_store_commit(st), "commit");
        if (batches % 100 == 0)
            fprintf(stderr, "\rbench_search: %zu messages", done);
    }
    double dt = now_s() - t0;
    fprintf(stderr, "\n");
    printf("messages=%zu seconds=%.1f per_s=%.0f\n", n, dt, (double)n / dt);
    if (exp && fclose(exp) != 0)
        die("cannot write the export file");
    for (size_t i = 0; i < BATCH; i++)
        wp_buf_release(&raw[i]);
    wp_store_free(st);
    for (size_t i = 0; i < n_texts; i++)
        free(texts[i]);
    free(texts);
    free(ev);
    free(raw);
    free(names);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static int cmd_query(const char *dir, const char *db, const char *queries_path, unsigned repeat)
{
    wp_store *st = NULL;
    size_t nq;
    char **qs = read_lines(queries_path, &nq);
    char tenant[WP_ID_LEN + 1];
    double *med = calloc(nq, sizeof *med), *runs = calloc(repeat, sizeof *runs);
    size_t *len = calloc(nq, sizeof *len);
    if (!med || !runs || !len)
        die("out of memory");
    ok(wp_store_open(&st, dir, db), "open the store");
    ok(wp_store_tenant_find(st, tenant, "Bench"), "find the tenant");
    for (size_t i = 0; i < nq; i++) {
        size_t hits = 0;
        int more = 0;
        for (unsigned r = 0; r < repeat; r++) {
            wp_message_filter f;
            wp_message_page p;
            memset(&f, 0, sizeof f);
            f.tenant_id = tenant;
            f.q = qs[i];
            f.limit = 50;
            double t0 = now_s();
            ok(wp_store_messages_search(st, &p, &f), "search");
            runs[r] = now_s() - t0;
            hits = p.n;
            more = p.next_cursor[0] != '\0';
            wp_message_page_release(&p);
        }
        qsort(runs, repeat, sizeof *runs, cmp_double);
        med[i] = runs[repeat / 2];
        len[i] = utf8_chars(qs[i]);
        printf("query chars=%zu hits=%zu%s ms=%.3f q=%s\n", len[i], hits, more ? "+" : "",
               1000 * med[i], qs[i]);
    }
    /* per query length: p50 and p99 over the queries' medians */
    for (size_t want = 1; want <= 8; want++) {
        double v[4096];
        size_t k = 0;
        for (size_t i = 0; i < nq && k < 4096; i++)
            if (len[i] == want)
                v[k++] = med[i];
        if (!k)
            continue;
        qsort(v, k, sizeof *v, cmp_double);
        printf("summary chars=%zu queries=%zu p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", want, k,
               1000 * v[k / 2], 1000 * v[(k * 99) / 100 < k ? (k * 99) / 100 : k - 1],
               1000 * v[k - 1]);
    }
    wp_store_free(st);
    for (size_t i = 0; i < nq; i++)
        free(qs[i]);
    free(qs);
    free(med);
    free(runs);
    free(len);
    return 0;
}

/* BENCH_MASTER_KEY: the store's keyring, as serve's master key gives it */
static void master_key(void)
{
    const char *hex = getenv("BENCH_MASTER_KEY");
    wp_master_key mk;
    if (!hex || !*hex)
        return;
    ok(wp_keys_master_parse(&mk, hex, strlen(hex), "BENCH_MASTER_KEY"), "BENCH_MASTER_KEY");
    wp_seal_keyring_set(&mk);
    wp_keys_master_wipe(&mk);
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    const char *dir = NULL, *db = NULL, *texts = NULL, *queries = NULL, *export_path = NULL;
    size_t messages = 0;
    unsigned repeat = 5;
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "--data") == 0)
            dir = v;
        else if (strcmp(a, "--db") == 0)
            db = *v ? v : NULL;
        else if (strcmp(a, "--texts") == 0)
            texts = v;
        else if (strcmp(a, "--queries") == 0)
            queries = v;
        else if (strcmp(a, "--export") == 0)
            export_path = v;
        else if (strcmp(a, "--messages") == 0)
            messages = strtoull(v, NULL, 10);
        else if (strcmp(a, "--repeat") == 0)
            repeat = (unsigned)strtoul(v, NULL, 10);
        else
            die(usage);
    }
    if (argc % 2 != 0 || !dir || repeat == 0)
        die(usage);
    master_key();
    if (strcmp(cmd, "load") == 0 && texts && messages)
        return cmd_load(dir, db, texts, messages, export_path);
    if (strcmp(cmd, "query") == 0 && queries)
        return cmd_query(dir, db, queries, repeat);
    die(usage);
    return 2;
}
