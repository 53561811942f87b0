/* SPDX-License-Identifier: MIT */
/* The agent benchmark (bench/agent/run drives it): outbox record rate beside raw SQLite with
 * the same settings, the RSS of a loaded agent, and the offline check's latency beside the
 * server's check over HTTP. Prints one JSON object a measurement. */
#include "agent/agent_int.h"
#include "workphone/agent.h"

#include <curl/curl.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

static void die(const char *what)
{
    fprintf(stderr, "bench_agent: %s\n", what);
    exit(1);
}

static const char event_fmt[] =
    "{\"type\":\"message\",\"ts\":\"2026-11-22T10:00:00+08:00\",\"channel\":\"wechat\","
    "\"direction\":\"out\",\"peer\":{\"id\":\"wxid_bench%d\",\"name\":\"王女士\"},"
    "\"chat\":\"wxid_bench%d\",\"msgtype\":\"text\",\"text\":\"明天上午十点到店里看车，价格可以再谈 %d\"}";

/* --- record rate --------------------------------------------------------------------------- */

static double agent_rate(const char *dir, int n, int batch)
{
    wp_agent_options o = WP_AGENT_OPTIONS_INIT;
    wp_agent *a;
    o.dir = dir;
    o.max_outbox_bytes = 1ull << 32;
    if (wp_agent_new(&a, &o) < 0)
        die("cannot open the agent");
    char (*ev)[400] = malloc((size_t)batch * sizeof *ev);
    const char **evs = malloc((size_t)batch * sizeof *evs);
    size_t *lens = malloc((size_t)batch * sizeof *lens);
    if (!ev || !evs || !lens)
        die("out of memory");
    double t0 = now_s();
    for (int i = 0; i < n; i += batch) {
        for (int k = 0; k < batch; k++) {
            int len = snprintf(ev[k], sizeof ev[k], event_fmt, (i + k) % 50, (i + k) % 50, i + k);
            evs[k] = ev[k];
            lens[k] = (size_t)len;
        }
        if (wp_agent_record_many(a, NULL, evs, lens, (size_t)batch) < 0)
            die("record failed");
    }
    double dt = now_s() - t0;
    wp_agent_free(a);
    free(ev);
    free(evs);
    free(lens);
    return n / dt;
}

/* The reference: the same rows straight into SQLite, WAL and synchronous=FULL, one transaction
 * per batch, no JSON parsing, no seq bookkeeping. */
static double sqlite_rate(const char *dir, int n, int batch)
{
    char path[1024], ev[400];
    sqlite3 *db;
    sqlite3_stmt *s;
    snprintf(path, sizeof path, "%s/raw-%d.db", dir, batch);
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     " CREATE TABLE IF NOT EXISTS t (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO t (body) VALUES (?)", -1, &s, NULL) != SQLITE_OK)
        die("sqlite setup");
    double t0 = now_s();
    for (int i = 0; i < n; i += batch) {
        sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        for (int k = 0; k < batch; k++) {
            int len = snprintf(ev, sizeof ev, event_fmt, (i + k) % 50, (i + k) % 50, i + k);
            sqlite3_reset(s);
            sqlite3_bind_text(s, 1, ev, len, SQLITE_STATIC);
            if (sqlite3_step(s) != SQLITE_DONE)
                die("sqlite insert");
        }
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            die("sqlite commit");
    }
    double dt = now_s() - t0;
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n / dt;
}

static int cmd_record(const char *dir, int n)
{
    char d1[1024], d2[1024];
    snprintf(d1, sizeof d1, "%s/rec1", dir);
    snprintf(d2, sizeof d2, "%s/rec100", dir);
    double a1 = agent_rate(d1, n, 1), s1 = sqlite_rate(dir, n, 1);
    double a100 = agent_rate(d2, n * 20, 100), s100 = sqlite_rate(dir, n * 20, 100);
    printf("{\"what\":\"record\",\"events\":%d,\"agent_1\":%.0f,\"sqlite_1\":%.0f,"
           "\"agent_100\":%.0f,\"sqlite_100\":%.0f}\n",
           n, a1, s1, a100, s100);
    return 0;
}

/* --- RSS ----------------------------------------------------------------------------------- */

static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':')
            v = strtol(line + kl + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

/* Pss of the whole process (shared pages divided among the processes that map them). */
static long pss_kb(void)
{
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Pss: %ld kB", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

/* An app's own HTTP stack (OkHttp, URLSession) stands in for libcurl: never called here. */
static int app_send(void *ctx, const wp_agent_request *req, wp_agent_response *resp)
{
    (void)ctx, (void)req;
    return wp_agent_response_error(resp, WP_AGENT_ENET, "offline");
}

static int cmd_rss(const char *dir, int with_curl)
{
    long rss0 = status_kb("VmRSS"), anon0 = status_kb("RssAnon");
    wp_agent_options o = WP_AGENT_OPTIONS_INIT;
    wp_agent_transport app = {app_send, NULL, NULL};
    wp_agent *a;
    o.dir = dir;
    if (!with_curl)
        o.transport = &app;
    if (wp_agent_new(&a, &o) < 0)
        die("cannot open the agent");
    enum wp_agent_action act;
    char *v = NULL;
    if (wp_agent_check(a, &act, &v, "这笔可以飞*单给你", strlen("这笔可以飞*单给你")) < 0)
        die("check failed: enroll the agent first (it needs a policy)");
    wp_agent_string_free(v);
    size_t scanner = wp_scanner_memory(a->scanner), patterns = wp_scanner_pattern_count(a->scanner);
    printf("{\"what\":\"rss\",\"transport\":\"%s\",\"pss_kb\":%ld,\"rss_before_kb\":%ld,\"rss_kb\":%ld,\"hwm_kb\":%ld,"
           "\"anon_before_kb\":%ld,\"anon_kb\":%ld,\"file_kb\":%ld,\"scanner_kb\":%zu,"
           "\"patterns\":%zu}\n",
           with_curl ? "curl" : "app", pss_kb(), rss0, status_kb("VmRSS"), status_kb("VmHWM"), anon0, status_kb("RssAnon"),
           status_kb("RssFile"), scanner / 1024, patterns);
    /* what the resident pages are, by mapping: on stderr, for the report's prose */
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512], name[256] = "";
    struct {
        char name[256];
        long kb;
    } top[64];
    size_t nt = 0;
    while (f && fgets(line, sizeof line, f)) {
        long kb;
        char path[256];
        const char *sp = strchr(line, ' '), *dash = strchr(line, '-');
        if (dash && sp && dash < sp && strchr("0123456789abcdef", line[0])) {
            if (sscanf(line, "%*s %*s %*s %*s %*s %255s", path) == 1)
                snprintf(name, sizeof name, "%s", path);
            else
                snprintf(name, sizeof name, "[anon]");
            continue;
        }
        if (sscanf(line, "Rss: %ld kB", &kb) == 1 && kb > 0) {
            size_t i = 0;
            while (i < nt && strcmp(top[i].name, name))
                i++;
            if (i == nt && nt < 64)
                snprintf(top[nt++].name, sizeof top[0].name, "%s", name);
            if (i < 64)
                top[i].kb += kb;
        }
    }
    if (f)
        fclose(f);
    for (size_t i = 0; getenv("BENCH_SMAPS") && i < nt; i++)
        fprintf(stderr, "rss %6ld kB %s\n", top[i].kb, top[i].name);
    wp_agent_free(a);
    return 0;
}

/* --- check latency ------------------------------------------------------------------------- */

static char **read_lines(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot read the texts");
    char **v = NULL, *line = NULL;
    size_t cap = 0, lc = 0;
    ssize_t l;
    *n = 0;
    while ((l = getline(&line, &lc, f)) >= 0) {
        if (l && line[l - 1] == '\n')
            line[--l] = '\0';
        if (*n == cap) {
            cap = cap ? 2 * cap : 1024;
            if (!(v = realloc(v, cap * sizeof *v)))
                die("out of memory");
        }
        if (!(v[(*n)++] = strdup(line)))
            die("out of memory");
    }
    free(line);
    fclose(f);
    return v;
}

static size_t sink(char *p, size_t s, size_t n, void *arg)
{
    (void)p, (void)arg;
    return s * n;
}

static int cmd_check(const char *dir, const char *texts, const char *server, const char *token,
                     size_t n_local, size_t n_http)
{
    size_t n;
    char **t = read_lines(texts, &n);
    if (!n)
        die("no texts");
    wp_agent_options o = WP_AGENT_OPTIONS_INIT;
    wp_agent *a;
    o.dir = dir;
    if (wp_agent_new(&a, &o) < 0)
        die("cannot open the agent");
    double *lat = malloc(n_local * sizeof *lat);
    if (!lat)
        die("out of memory");
    size_t blocked = 0;
    for (int json = 0; json < 2; json++) {
        for (size_t i = 0; i < n_local; i++) {
            const char *s = t[i % n];
            enum wp_agent_action act;
            char *v = NULL;
            double t0 = now_s();
            if (wp_agent_check(a, &act, json ? &v : NULL, s, strlen(s)) < 0)
                die("check failed");
            lat[i] = (now_s() - t0) * 1e6;
            wp_agent_string_free(v);
            blocked += act == WP_AGENT_BLOCK;
        }
        qsort(lat, n_local, sizeof *lat, cmp_double);
        printf("{\"what\":\"check_local\",\"json\":%s,\"n\":%zu,\"p50_us\":%.2f,\"p99_us\":%.2f,"
               "\"p999_us\":%.2f,\"max_us\":%.2f,\"blocked\":%zu}\n",
               json ? "true" : "false", n_local, pct(lat, n_local, 0.5), pct(lat, n_local, 0.99),
               pct(lat, n_local, 0.999), lat[n_local - 1], blocked);
        blocked = 0;
    }
    wp_agent_free(a);
    free(lat);

    if (server && token) {
        CURL *h = curl_easy_init();
        char url[512], auth[256];
        struct curl_slist *hd = NULL;
        snprintf(url, sizeof url, "%s/api/v1/device/check", server);
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hd = curl_slist_append(hd, auth);
        hd = curl_slist_append(hd, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
        lat = malloc(n_http * sizeof *lat);
        if (!lat)
            die("out of memory");
        for (size_t i = 0; i < n_http; i++) {
            json_t *j = json_pack("{s:s,s:s}", "channel", "wechat", "text", t[i % n]);
            char *body = json_dumps(j, JSON_COMPACT);
            json_decref(j);
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
            double t0 = now_s();
            long st = 0;
            if (curl_easy_perform(h) != CURLE_OK)
                die("http check failed");
            lat[i] = (now_s() - t0) * 1e6;
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
            if (st != 200)
                die("http check: not 200");
            free(body);
        }
        qsort(lat, n_http, sizeof *lat, cmp_double);
        printf("{\"what\":\"check_http\",\"n\":%zu,\"p50_us\":%.2f,\"p99_us\":%.2f,"
               "\"max_us\":%.2f}\n",
               n_http, pct(lat, n_http, 0.5), pct(lat, n_http, 0.99), lat[n_http - 1]);
        free(lat);
        curl_slist_free_all(hd);
        curl_easy_cleanup(h);
    }
    for (size_t i = 0; i < n; i++)
        free(t[i]);
    free(t);
    return 0;
}

int main(int argc, char **argv)
{
    static const char usage[] =
        "usage: bench_agent record DIR N | rss DIR curl|app | check DIR TEXTS N_LOCAL [URL TOKEN N_HTTP]\n";
    if (argc >= 4 && !strcmp(argv[1], "record"))
        return cmd_record(argv[2], (int)strtol(argv[3], NULL, 10));
    if (argc == 4 && !strcmp(argv[1], "rss"))
        return cmd_rss(argv[2], !strcmp(argv[3], "curl"));
    if (argc == 5 && !strcmp(argv[1], "check"))
        return cmd_check(argv[2], argv[3], NULL, NULL, strtoul(argv[4], NULL, 10), 0);
    if (argc == 8 && !strcmp(argv[1], "check"))
        return cmd_check(argv[2], argv[3], argv[5], argv[6], strtoul(argv[4], NULL, 10),
                         strtoul(argv[7], NULL, 10));
    fputs(usage, stderr);
    return 2;
}
