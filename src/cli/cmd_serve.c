/* SPDX-License-Identifier: MIT */
/* `workphone serve`: open the store, serve the API until SIGTERM or SIGINT, then stop cleanly. */
#include "api/api.h"
#include "cli/cli.h"
#include "http/http.h"
#include "ingest/ingest.h"
#include "jobs/jobs.h"
#include "webhooks/webhooks.h"
#include "wecom/archive.h"
#include "wecom/wecom.h"
#include "store/audit.h"
#include "store/cluster.h"
#include "store/geofence.h"
#include "store/pool.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/conf_int.h"
#include "util/error.h"
#include "util/log.h"
#include "util/memory.h"
#include "util/testhooks.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef WP_VERSION
#define WP_VERSION "unknown"
#endif
#ifndef WP_SYSCONF_PATH
#define WP_SYSCONF_PATH "/etc/workphone/workphone.conf"
#endif

#define STOP_WAIT_MS 10000

static const char help[] =
    "usage: workphone serve --data DIR [--listen HOST:PORT] [--db URL] [--max-body BYTES]\n"
    "                       [--threads N] [--web DIR] [--metrics-token-file FILE]\n"
    "                       [--config FILE]\n"
    "                       [--max-connections N] [--device-threads N]\n"
    "                       [--queue-batches N] [--queue-bytes BYTES]\n"
    "                       [--tls-cert FILE --tls-key FILE] [--master-key-file FILE]\n"
    "                       [--media-dir DIR]\n"
    "\n"
    "Runs the server: the API under /api/v1/ and /metrics, the web console at /. On SIGTERM\n"
    "or SIGINT it stops taking connections, lets requests in flight finish (for up to 10\n"
    "seconds), closes the store and exits 0. One key=value line per request goes to\n"
    "standard error.\n"
    "\n"
    "  --data DIR          a data directory made by 'workphone init'\n"
    "  --listen HOST:PORT  where to listen (default 127.0.0.1:8080; [::1]:8080 for IPv6;\n"
    "                      port 0 picks a free port, which the start line shows)\n"
    "  --db URL            postgresql://... to use PostgreSQL instead of the SQLite file in DIR\n"
    "  --max-body BYTES    the largest request body accepted (default 8388608)\n"
    "  --threads N         request handler threads, 1-256 (default 4 per online core, at\n"
    "                      least 16: a device's upload waits for the shared commit)\n"
    "  --max-connections N open connections at most, 1-100000 (default 1024); past it a\n"
    "                      new connection is closed at once\n"
    "  --device-threads N  device uploads handled at once, 1-256 (default: as many as\n"
    "                      --threads), on threads of their own so the console never waits\n"
    "                      behind them; one more gets 503 overloaded with Retry-After\n"
    "  --queue-batches N   device batches waiting for the writer at most, 1-1000000\n"
    "                      (default 1024); past it 503 overloaded with Retry-After\n"
    "  --queue-bytes BYTES and the bytes they hold at most, 1-68719476736 (default\n"
    "                      268435456); each of these four may also be set in\n"
    "                      DIR/workphone.conf (max_connections=, device_threads=,\n"
    "                      queue_batches=, queue_bytes=); a flag wins over the file\n"
    "  --web DIR           the built web console (default: $WORKPHONE_WEB_DIR, else the one\n"
    "                      installed with the binary, else the web/dist of the source\n"
    "                      tree this binary was built from)\n"
    "  --metrics-token-file FILE\n"
    "                      GET /metrics then needs 'Authorization: Bearer <the file's first\n"
    "                      line>' from every client (default: metrics_token_file= in\n"
    "                      DIR/workphone.conf, a path relative to DIR; without either,\n"
    "                      only loopback clients may read /metrics)\n"
    "  --tls-cert FILE     serve HTTPS with this PEM certificate (chain), TLS 1.2 and later;\n"
    "  --tls-key FILE      and its unencrypted PEM private key, not readable by others (both\n"
    "                      or neither; default: tls_cert= and tls_key= in DIR/workphone.conf,\n"
    "                      paths relative to DIR). Cookies are then Secure and every answer\n"
    "                      has Strict-Transport-Security. Read at start: restart to load a\n"
    "                      renewed certificate (SIGHUP only logs that)\n";
/* the rest of it: one string would pass the 4095 bytes C99 compilers must accept */
static const char help_tail[] =
    "  --master-key-file FILE\n"
    "                      the master key that unwraps the keys in the store (default:\n"
    "                      master_key_file= or master_key_command= in DIR/workphone.conf;\n"
    "                      without either the keys are the files in DIR/keys). serve refuses\n"
    "                      to start when it is missing or is not the one the store's keys\n"
    "                      are wrapped by (docs/internals/keys.md)\n"
    "  --media-dir DIR     keep media (recordings, attachments) in DIR, an existing\n"
    "                      directory, instead of DIR/media: the one every node behind a\n"
    "                      load balancer mounts (default: media_dir= in DIR/workphone.conf,\n"
    "                      a path relative to DIR). At start, files left in DIR/media are\n"
    "                      moved there, each hash checked\n"
    "  --config FILE       the system config (default: " WP_SYSCONF_PATH ",\n"
    "                      read when it exists and neither --data nor --config is given):\n"
    "                      key=value lines data_dir=, listen=, db= (a URL without a\n"
    "                      password), db_passfile= (a PostgreSQL password file, mode 0600),\n"
    "                      web=, max_body=, threads=, metrics_token_file=,\n"
    "                      max_connections=, device_threads=, queue_batches=, queue_bytes=,\n"
    "                      tls_cert=, tls_key=, master_key_file=, media_dir= (absolute\n"
    "                      paths);\n"
    "                      a flag wins over it, and it over DIR/workphone.conf\n"
    "\n"
    "Under systemd (Type=notify) it sends READY=1 to $NOTIFY_SOCKET once it serves and\n"
    "STOPPING=1 when a signal stops it.\n";

/* --threads; 0: the default (serve_threads_default()). A file-scope value rather than a field
 * of cli_serve_options because that header belongs to the demo too, which keeps the default. */
static unsigned serve_threads;

/* The overload bounds (docs/internals/overload.md), file-scope for the same reason: the
 * flags; 0: workphone.conf says, else the defaults. */
struct serve_limit {
    const char *flag, *key; /* --flag, and its workphone.conf key */
    unsigned long long lo, hi, value;
};
enum { LIM_CONNECTIONS, LIM_DEVICE_THREADS, LIM_QUEUE_BATCHES, LIM_QUEUE_BYTES, LIM_N };
static struct serve_limit serve_limits[LIM_N] = {
    {"max-connections", "max_connections", 1, 100000, 0},
    {"device-threads", "device_threads", 1, 256, 0},
    {"queue-batches", "queue_batches", 1, 1000000, 0},
    {"queue-bytes", "queue_bytes", 1, 1ull << 36, 0},
};

/* A limit's value s into *out: 0, or -1 when it is not a whole number in its range. */
static int limit_parse(const struct serve_limit *l, const char *s, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || *s == '-' || *s == '+' || *s == ' ' || v < l->lo || v > l->hi)
        return -1;
    *out = v;
    return 0;
}

/* --web, file-scope for the same reason; NULL: WORKPHONE_WEB_DIR, else the compiled-in dir. */
static const char *serve_web;

/* --metrics-token-file, file-scope for the same reason; NULL: the data dir's
 * workphone.conf says, else none. */
static const char *serve_metrics_token_file;

#define METRICS_TOKEN_MAX 512 /* bytes of a metrics token */

static const char *web_dir(void)
{
    const char *env = getenv("WORKPHONE_WEB_DIR");
    if (serve_web)
        return serve_web;
    return env && *env ? env : wp_http_web_dir_default();
}

/* Handlers of POST /device/events block while the writer commits their batch: with one
 * thread per core the writer could merge at most that many batches per commit and idled
 * while they parsed. More threads than cores keeps batches queued for the next round. */
static unsigned serve_threads_default(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    if (cores > 64)
        cores = 64;
    return cores * 4 > 16 ? (unsigned)cores * 4 : 16;
}

/* HOST:PORT or [V6]:PORT into *out, and the address as text into shown.
 * 0, or -1 with *why saying what is wrong. */
static int parse_listen(const char *s, struct sockaddr_storage *out, char *shown, size_t cap,
                        const char **why)
{
    char host[256];
    const char *port_s;
    *why = "it is not HOST:PORT or [IPV6]:PORT";
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof host)
            return -1;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        port_s = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon || colon == s || (size_t)(colon - s) >= sizeof host ||
            memchr(s, ':', (size_t)(colon - s)))
            return -1;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        port_s = colon + 1;
    }
    char *end;
    errno = 0;
    long port = strtol(port_s, &end, 10);
    if (!*port_s || *end || errno || port < 0 || port > 65535) {
        *why = "the port must be 0-65535";
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        *why = gai_strerror(rc);
        return -1;
    }
    memset(out, 0, sizeof *out);
    memcpy(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    char addr[INET6_ADDRSTRLEN];
    if (out->ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)out;
        in->sin_port = htons((uint16_t)port);
        inet_ntop(AF_INET, &in->sin_addr, addr, sizeof addr);
        snprintf(shown, cap, "%s", addr);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
        in6->sin6_port = htons((uint16_t)port);
        inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof addr);
        snprintf(shown, cap, "[%s]", addr);
    }
    return 0;
}

/* The metrics token: the first line of path, without its line end. 0, or -1 with *why
 * saying what is wrong (never the token). */
static int read_token(char out[METRICS_TOKEN_MAX + 1], const char *path, const char **why)
{
    static _Thread_local char msg[160];
    char buf[METRICS_TOKEN_MAX + 2];
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(msg, sizeof msg, "cannot read it: %s", strerror(errno));
        *why = msg;
        return -1;
    }
    int err = 0;
    if (!fgets(buf, sizeof buf, f))
        buf[0] = '\0';
    if (ferror(f)) {
        *why = "cannot read it";
        err = -1;
    }
    fclose(f);
    size_t n = strcspn(buf, "\r\n");
    if (!err && n > METRICS_TOKEN_MAX) {
        *why = "the token is longer than 512 bytes";
        err = -1;
    }
    buf[n] = '\0';
    for (size_t i = 0; !err && i < n; i++)
        if ((unsigned char)buf[i] <= ' ' || (unsigned char)buf[i] >= 0x7f) {
            *why = "the token holds a blank, a control or a non-ASCII character";
            err = -1;
        }
    if (!err && !n) {
        *why = "it is empty";
        err = -1;
    }
    if (!err)
        memcpy(out, buf, n + 1);
    sodium_memzero(buf, sizeof buf);
    return err;
}

/* The background work of serve: five schedulers of src/jobs, each one thread with a store
 * connection of its own (docs/internals/jobs.md). "audit" runs the flush of api's buffered
 * reads every second, and at once when a handler waits for it, and the signed checkpoints;
 * "jobs" runs the periodic work on the store; "hooks" sends events out every second
 * (docs/internals/webhooks.md); "wecom" pulls the WeCom chat archive and "contact" calls
 * WeCom's customer-contact API (docs/internals/wecom.md). Apart: requests wait for the flush
 * (GET /api/v1/audit, a full buffer), and neither a long reclaim, a slow receiver nor WeCom's
 * servers must hold up the others. */
struct background {
    wp_jobs *audit, *jobs, *hooks;
    wp_webhooks *webhooks;
    wp_jobs *wecom;            /* the WeCom chat archive's connector: pulls over the network */
    wp_wecom_archiver *archive;
    wp_jobs *contact;          /* WeCom customer contact's jobs: calls to WeCom's API */
    wp_wecom *wc;
    api_audit_worker *reads;
    wp_jobs_checkpoints *cps;
    wp_jobs_work work;
    wp_store_listener *changes; /* PostgreSQL: other nodes' changes drop this one's caches */
    wp_ingest *ing;
    const char *db_url; /* NULL or "": SQLite, no listener */
};

/* A notice from another node (or this one): drop what it names; NULL drops all. */
static void changes_seen(void *arg, const char *tenant_id, const char *what)
{
    struct background *b = arg;
    if (!what || !strcmp(what, WP_CLUSTER_POLICY) || !strcmp(what, WP_CLUSTER_LEXICON))
        wp_ingest_forget(b->ing, tenant_id);
    if (!what || !strcmp(what, WP_CLUSTER_GEOFENCES))
        wp_store_geofences_forget(tenant_id);
    /* WP_CLUSTER_HOURS: nothing kept in memory; read per batch */
    /* the keys this node unwrapped at start are unchanged and stay in use; only their
     * wrapping moved to a new master key, which this node needs before it restarts */
    if (what && !strcmp(what, WP_CLUSTER_KEYS))
        wp_log_line(2, "warn", "keys_rewrapped", "note",
                    "the store's keys are wrapped by a new master key: point this node's "
                    "master_key_file= or master_key_command= at it before it restarts",
                    NULL);
}

/* Every minute, on every node: what the allocator holds free goes back to the kernel. */
static int memory_trim(wp_store *st, void *arg, int64_t now_us, wp_buf *note)
{
    (void)st, (void)arg, (void)now_us, (void)note;
    wp_memory_trim();
    return 0;
}

static int jobs_leading(void *ctx)
{
    return wp_jobs_leading(ctx);
}

static int changes_listening(void *ctx, uint64_t *notices)
{
    *notices = wp_store_listener_notices(ctx);
    return wp_store_listener_up(ctx);
}

/* WeCom's jobs: a transfer to send (a handover), the console's "sync now". */
static void wecom_kick(void *ctx, const char *task)
{
    wp_jobs_kick(ctx, task);
}

/* The WeCom jobs (src/wecom) on a scheduler of their own: their calls to WeCom wait on the
 * network (seconds, with their retries) and must not hold up the store's periodic work. */
static int background_wecom(struct background *b, const char *data, const char *db,
                            const unsigned char *audit_key, wp_ingest *ing,
                            wp_store_connpool *pool)
{
    const wp_test_hooks *h = wp_test_hooks_get();
    wp_jobs_options jo = WP_JOBS_OPTIONS_INIT;
    wp_wecom_options wo = {.ingest = ing, .pool = pool, .kick = wecom_kick,
                          .audit_key = audit_key};
    unsigned every = h->wecom_interval_s ? h->wecom_interval_s : h->jobs_interval_s;
    int err;
    jo.data_dir = data;
    jo.db_url = db;
    jo.log_fd = 2;
    wo.poll_s = every; /* tests: waiting transfers asked about as often (0: the default) */
    if ((err = wp_jobs_new(&b->contact, &jo)) < 0)
        return err;
    wo.kick_ctx = b->contact;
    if ((err = wp_wecom_new(&b->wc, &wo)) < 0 ||
        (err = wp_jobs_add(b->contact, "wecom_transfers",
                           (every ? every : 60) * 1000, 0,
                           wp_wecom_transfers_run, b->wc)) < 0 ||
        (err = wp_jobs_add(b->contact, "wecom_contacts",
                           (every ? every : 3600) * 1000, 0,
                           wp_wecom_contacts_run, b->wc)) < 0)
        return err;
    return 0;
}

/* A handler waits for its reads, or a batch of them waits: flush now. */
static void audit_wake(void *ctx)
{
    wp_jobs_kick(ctx, "audit_flush");
}

/* A test event or a redelivery waits: send now. */
static void webhooks_wake(void *ctx)
{
    wp_jobs_kick(ctx, "webhooks");
}

/* The webhooks' robot messages are masked with the tenant's scanner, as the console's are. */
static int webhooks_scanner(void *arg, wp_store *st, const char *tenant_id, wp_scanner **out)
{
    return wp_ingest_scanner(arg, st, out, tenant_id);
}

/* The archive left a backlog: its next run at once. */
static void archive_wake(void *ctx)
{
    wp_jobs_kick(ctx, "wecom_archive");
}

/* What workphone.conf says of WeCom's SDK (docs/internals/wecom_archive.md). */
struct wecom_conf {
    char *sdk_dirs, *sdk_path;
};

/* Make the schedulers and register their tasks; nothing runs before background_start(). */
static int background_new(struct background *b, const char *data, const char *db,
                          const unsigned char *audit_key, const unsigned char *sign_seed,
                          wp_ingest *ing, const struct wecom_conf *wc)
{
    const wp_test_hooks *h = wp_test_hooks_get();
    unsigned jobs_s = h->jobs_interval_s ? h->jobs_interval_s : WP_JOBS_INTERVAL_S;
    unsigned cp_s = h->audit_checkpoint_s ? h->audit_checkpoint_s : WP_JOBS_CHECKPOINT_S;
    wp_jobs_options jo = WP_JOBS_OPTIONS_INIT;
    int err;
    memset(b, 0, sizeof *b);
    b->ing = ing;
    b->db_url = db;
    memcpy(b->work.audit_key, audit_key, sizeof b->work.audit_key);
    jo.data_dir = data;
    jo.db_url = db;
    jo.log_fd = 2;
    /* PostgreSQL: drop the caches another node's changes made stale (the caches also check
     * the store's versions on each use: the notices keep a node from holding dead copies) */
    if ((err = wp_jobs_new(&b->audit, &jo)) < 0 ||
        (err = wp_store_listener_new(&b->changes, b->db_url, 2, changes_seen, b)) < 0)
        return err;
    api_audit_worker_config ac = {.audit_key = audit_key, .wake = audit_wake,
                                  .wake_ctx = b->audit};
    if ((err = api_audit_worker_new(&b->reads, &ac)) < 0 ||
        (err = wp_jobs_checkpoints_new(&b->cps, audit_key, sign_seed, 2)) < 0 ||
        (err = wp_jobs_add(b->audit, "audit_flush", API_AUDIT_FLUSH_MS, WP_JOBS_AT_STOP,
                           api_audit_worker_flush, b->reads)) < 0 ||
        (err = wp_jobs_add(b->audit, "audit_checkpoint", cp_s * 1000,
                           WP_JOBS_AT_START | WP_JOBS_AT_STOP, wp_jobs_checkpoint, b->cps)) < 0 ||
        (err = wp_jobs_add(b->audit, "memory_trim", 60000, 0, memory_trim, NULL)) < 0 ||
        (err = (jo.leader_key = WP_CLUSTER_JOBS_LOCK, wp_jobs_new(&b->jobs, &jo))) < 0 ||
        (err = wp_jobs_add_work(b->jobs, &b->work, jobs_s * 1000)) < 0)
        return err;
    jo.leader_key = 0; /* the periodic work runs on one node of a group; the rest per node */
    wp_webhooks_options wo = WP_WEBHOOKS_OPTIONS_INIT;
    wo.scanner = webhooks_scanner;
    wo.scanner_arg = ing;
    if ((err = wp_webhooks_new(&b->webhooks, &wo)) < 0 || (err = wp_jobs_new(&b->hooks, &jo)) < 0 ||
        (err = wp_jobs_add(b->hooks, "webhooks", 1000, WP_JOBS_AT_START, wp_webhooks_run,
                           b->webhooks)) < 0)
        return err;
    /* the WeCom chat archive: a third scheduler, as its pulls wait on WeCom's servers and must
     * hold up neither the audit flush nor the periodic work; it looks for due tenants every
     * second */
    wp_wecom_archiver_config wa = {.ingest = ing, .audit_key = audit_key,
                                   .sdk_dirs = wc->sdk_dirs, .sdk_default = wc->sdk_path,
                                   .wake = archive_wake};
    if ((err = wp_jobs_new(&b->wecom, &jo)) < 0)
        return err;
    wa.wake_ctx = b->wecom;
    if ((err = wp_wecom_archiver_new(&b->archive, &wa)) < 0 ||
        (err = wp_jobs_add(b->wecom, "wecom_archive", 1000, WP_JOBS_AT_START,
                           wp_wecom_archive_task, b->archive)) < 0)
        return err;
    return 0;
}

static int background_start(struct background *b)
{
    int err;
    if ((err = wp_jobs_start(b->audit)) < 0 || (err = wp_jobs_start(b->jobs)) < 0 ||
        (err = wp_jobs_start(b->hooks)) < 0 || (err = wp_jobs_start(b->wecom)) < 0 ||
        (err = wp_jobs_start(b->contact)) < 0)
        return err;
    return 0;
}

/* Stop and free, once no handler runs any more: a job in progress finishes, then the last
 * flush of the reads and the last checkpoints run. What could not be written is lost: say how
 * much. */
static void background_stop(struct background *b)
{
    wp_jobs_free(b->hooks);
    wp_webhooks_free(b->webhooks);
    wp_wecom_archiver_stop(b->archive); /* a run in progress ends after its current pull */
    wp_jobs_free(b->wecom);
    wp_wecom_archiver_free(b->archive);
    wp_jobs_free(b->contact);
    wp_wecom_free(b->wc);
    wp_jobs_free(b->jobs);
    wp_jobs_free(b->audit);
    wp_store_listener_free(b->changes);
    size_t lost = b->reads ? api_audit_worker_waiting(b->reads) : 0;
    if (lost) {
        wp_buf line;
        wp_log_start(&line, "error", "audit_reads_lost");
        wp_log_addf(&line, "rows", "%zu", lost);
        wp_log_end(&line, 2);
    }
    api_audit_worker_free(b->reads);
    wp_jobs_checkpoints_free(b->cps);
    sodium_memzero(&b->work, sizeof b->work);
}

int cli_listen_check(const char *listen, const char **why)
{
    struct sockaddr_storage addr;
    char host[INET6_ADDRSTRLEN + 2];
    return parse_listen(listen, &addr, host, sizeof host, why);
}

static void move_bad(void *ctx, const char *path, const char *why)
{
    wp_buf line;
    (void)ctx;
    wp_log_start(&line, "warn", "media_not_moved");
    wp_log_add(&line, "file", path);
    wp_log_add(&line, "why", why);
    wp_log_end(&line, 2);
}

/* Files a node kept in DIR/media before it was pointed at a shared media root go there now
 * (docs/internals/cluster.md): the files of an upgraded node, or of a restored backup. */
static int move_media(const char *cmd, const char *data, const char *media)
{
    char own[4096];
    size_t files = 0;
    int64_t bytes = 0, t0 = wp_time_now_us();
    wp_buf line;
    snprintf(own, sizeof own, "%s/media", data);
    if (access(own, F_OK) != 0)
        return 0;
    if (wp_ingest_media_adopt(own, media, &files, &bytes, move_bad, NULL) < 0) {
        cli_fail(cmd, "cannot move the media of '%s' into '%s': %s", own, media,
                 wp_error_last());
        return -1;
    }
    if (files) {
        wp_log_start(&line, "info", "media_moved");
        wp_log_add(&line, "from", own);
        wp_log_add(&line, "to", media);
        wp_log_addf(&line, "files", "%zu", files);
        wp_log_addf(&line, "bytes", "%lld", (long long)bytes);
        wp_log_addf(&line, "ms", "%lld", (long long)((wp_time_now_us() - t0) / 1000));
        wp_log_end(&line, 2);
    }
    return 0;
}

int cli_serve_run(const cli_serve_options *so)
{
    const char *cmd = so->cmd, *data = so->data, *db = so->db, *listen = so->listen;
    char conf_tfile[4096 + 32] = "";
    wp_conf *conf = NULL;
    int code = cli_data_dir_check(cmd, data, db, &conf);
    if (code)
        return code;
    /* metrics_token_file=: a path relative to the data dir */
    const char *ct = wp_conf_get(conf, "metrics_token_file");
    if (ct && *ct)
        snprintf(conf_tfile, sizeof conf_tfile, "%s%s%s", *ct == '/' ? "" : data,
                 *ct == '/' ? "" : "/", ct);
    /* wecom_sdk_dirs=: where a tenant's sdk_path may point; wecom_sdk_path=: the library of
     * tenants that name none. Only the operator writes this file: a tenant's admin cannot make
     * the server load a library from anywhere else. */
    /* tls_cert= and tls_key=: paths relative to the data dir, when no flag names them */
    char conf_cert[4096 + 32] = "", conf_key[4096 + 32] = "";
    const char *cc = wp_conf_get(conf, "tls_cert"), *ck = wp_conf_get(conf, "tls_key");
    if (cc && *cc)
        snprintf(conf_cert, sizeof conf_cert, "%s%s%s", *cc == '/' ? "" : data,
                 *cc == '/' ? "" : "/", cc);
    if (ck && *ck)
        snprintf(conf_key, sizeof conf_key, "%s%s%s", *ck == '/' ? "" : data,
                 *ck == '/' ? "" : "/", ck);
    const char *wd = wp_conf_get(conf, "wecom_sdk_dirs"), *wl = wp_conf_get(conf, "wecom_sdk_path");
    struct wecom_conf wc = {wd && *wd ? strdup(wd) : NULL, wl && *wl ? strdup(wl) : NULL};
    /* the overload bounds: a flag wins over the file */
    unsigned long long lim[LIM_N] = {0};
    for (int k = 0; k < LIM_N; k++) {
        const char *v = wp_conf_get(conf, serve_limits[k].key);
        lim[k] = serve_limits[k].value;
        if (!lim[k] && v && *v && limit_parse(&serve_limits[k], v, &lim[k]) < 0) {
            wp_conf_free(conf);
            free(wc.sdk_dirs);
            free(wc.sdk_path);
            return cli_usage_error(cmd, "%s/workphone.conf: %s= must be %llu-%llu", data,
                                   serve_limits[k].key, serve_limits[k].lo,
                                   serve_limits[k].hi);
        }
    }
    /* media_dir=: the shared media root, checked before anything starts */
    char media[4096];
    int shared = 0;
    code = cli_media_dir(media, sizeof media, &shared, cmd, data, so->media_dir, conf);
    wp_conf_free(conf);
    if (code) {
        free(wc.sdk_dirs);
        free(wc.sdk_path);
        return code;
    }
    struct sockaddr_storage addr;
    char host[INET6_ADDRSTRLEN + 2];
    const char *why;
    int err;
    if (parse_listen(listen, &addr, host, sizeof host, &why) < 0)
        return cli_usage_error(cmd, "--listen '%s': %s", listen, why);
    /* read before anything starts, and never printed */
    char metrics_token[METRICS_TOKEN_MAX + 1] = "";
    const char *tfile = serve_metrics_token_file ? serve_metrics_token_file : conf_tfile;
    if (*tfile && read_token(metrics_token, tfile, &why) < 0)
        return cli_usage_error(cmd, "metrics token file '%s': %s", tfile, why);
    /* the certificate and key: read and checked before anything starts */
    wp_http_tls tls = {0};
    const char *cert = so->tls_cert, *key = so->tls_key;
    if (!cert && !key) {
        cert = *conf_cert ? conf_cert : NULL;
        key = *conf_key ? conf_key : NULL;
        if (!cert != !key) {
            sodium_memzero(metrics_token, sizeof metrics_token);
            return cli_usage_error(cmd, "%s/workphone.conf: %s= without %s=: give both or "
                                        "neither", data, cert ? "tls_cert" : "tls_key",
                                   cert ? "tls_key" : "tls_cert");
        }
    }
    if (cert && (err = wp_http_tls_load(&tls, cert, key)) < 0) {
        sodium_memzero(metrics_token, sizeof metrics_token);
        if (err == WP_EINVAL)
            return cli_usage_error(cmd, "%s", wp_error_last());
        cli_fail(cmd, "%s", wp_error_last());
        return WP_EXIT_FAIL;
    }
    const char *scheme = tls.cert_pem ? "https" : "http";

    wp_memory_limit_arenas(); /* before any thread: see util/memory.h */
    /* Signals are taken by sigwait() in this thread: block them before any thread exists so
     * that every thread inherits the mask and no handler runs anywhere. */
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGHUP); /* no reload: logged, then serving goes on */
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    signal(SIGPIPE, SIG_IGN);

    wp_store *st = NULL;
    wp_store_connpool *pool = NULL;
    wp_ingest *ing = NULL;
    wp_http_server *srv = NULL;
    struct background bg = {0};
    unsigned char audit_key[WP_AUDIT_KEY_LEN], sign_seed[WP_AUDIT_SIGN_SEED_LEN];
    cli_keyring kr;
    memset(&kr, 0, sizeof kr);
    /* a damaged SQLite store is refused before anything reads it (docs/internals/integrity.md) */
    if (!db && (code = cli_store_precheck(cmd, data)) != 0)
        goto out;
    code = WP_EXIT_FAIL;
    if ((err = wp_store_open(&st, data, db)) < 0) {
        cli_fail(cmd, "cannot open the store: %s", wp_error_last());
        goto out;
    }
    /* With a master key, the keys are unwrapped from the store: a missing or another master
     * key refuses to start, naming the fingerprints (docs/internals/keys.md). Without one,
     * init made the key files; the audit key is created here only for a store without audit
     * rows (made before the audit log). A key missing beside a log would make every row look
     * altered: refuse. Every node of a PostgreSQL deployment needs the same one
     * (docs/internals/audit.md). */
    int any = 0;
    if ((err = cli_keyring_open(&kr, data, db, so->master_key_file, NULL)) < 0) {
        cli_fail(cmd, "cannot load the master key: %s", wp_error_last());
        goto out;
    }
    if ((err = cli_keyring_get(&kr, audit_key, 0, 0)) == WP_ENOTFOUND && !kr.have &&
        (err = wp_store_audit_any(st, &any)) == 0) {
        if (any) {
            cli_fail(cmd, "%s/keys/audit.key is missing but the store has an audit log: "
                          "restore the key from your backup (without it the log cannot be "
                          "verified)", data);
            goto out;
        }
        err = cli_keyring_get(&kr, audit_key, 0, 1);
    }
    if (err < 0) {
        cli_fail(cmd, "cannot load the audit key: %s", wp_error_last());
        goto out;
    }
    /* the checkpoints' signing key: made here for a data dir from before checkpoints (a new
     * one signs new checkpoints; the old ones need the old public key) */
    if ((err = cli_keyring_get(&kr, sign_seed, 1, !kr.have)) < 0) {
        cli_fail(cmd, "cannot load the checkpoint key: %s", wp_error_last());
        goto out;
    }
    if (kr.have) {
        wp_buf line;
        wp_log_start(&line, "info", "keys");
        wp_log_add(&line, "master", kr.mk.fp);
        wp_log_add(&line, "source", kr.command ? "command" : "file");
        wp_log_end(&line, 2);
    }
    /* the keys serve needs are in memory now; ingest keeps a copy of the master key for the
     * tenants' data keys (media at rest, docs/internals/keys.md) */
    wp_store_free(kr.st);
    kr.st = NULL;
    /* the pool of connections every handler and ingest borrow; ingest owns the writer thread */
    if ((err = wp_store_connpool_new(&pool, data, db, 0)) < 0) {
        cli_fail(cmd, "cannot make the store pool: %s", wp_error_last());
        goto out;
    }
    if (shared && (err = move_media(cmd, data, media)) < 0)
        goto out;
    wp_ingest_config ic = WP_INGEST_CONFIG_INIT;
    ic.data_dir = data;
    ic.media_dir = media;
    ic.db_url = db;
    ic.master_key = kr.have ? &kr.mk : NULL;
    ic.pool = pool;
    ic.audit_key = audit_key; /* grading rules re-grade each batch's customers */
    ic.queue_batches = (size_t)lim[LIM_QUEUE_BATCHES];
    ic.queue_bytes = (size_t)lim[LIM_QUEUE_BYTES];
    if ((err = wp_ingest_new(&ing, &ic)) < 0) {
        cli_fail(cmd, "cannot start ingest: %s", wp_error_last());
        goto out;
    }
    cli_keyring_close(&kr); /* ingest holds the one copy of the master key from here on */
    wp_app app = {.version = WP_VERSION,
                  .data_dir = data,
                  .db_url = db,
                  .backend = wp_store_backend(st),
                  .ingest = ing,
                  .pool = pool};
    memcpy(app.audit_key, audit_key, sizeof app.audit_key);
    /* reads are audited through a buffer that the audit scheduler appends every second */
    if ((err = background_new(&bg, data, db, audit_key, sign_seed, ing, &wc)) < 0) {
        cli_fail(cmd, "cannot start the background jobs: %s", wp_error_last());
        goto out;
    }
    bg.work.media_dir = media; /* the retention purge unlinks files there */
    app.audit_worker = bg.reads;
    app.webhooks_wake = webhooks_wake;
    app.webhooks_wake_ctx = bg.hooks;
    app.wecom_archive = bg.archive;
    app.jobs_leading = jobs_leading;
    app.jobs_leading_ctx = bg.jobs;
    app.changes_listening = changes_listening;
    app.changes_listening_ctx = bg.changes;
    if ((err = background_wecom(&bg, data, db, audit_key, ing, pool)) < 0) {
        cli_fail(cmd, "cannot start the WeCom jobs: %s", wp_error_last());
        goto out;
    }
    app.wecom = bg.wc;
    wp_buf line;
    size_t n_routes;
    wp_http_options o = WP_HTTP_OPTIONS_INIT;
    o.addr = (const struct sockaddr *)&addr;
    o.routes = api_routes(&n_routes);
    o.n_routes = n_routes;
    o.app = &app;
    o.max_body_bytes = so->max_body;
    o.threads = serve_threads ? serve_threads : serve_threads_default();
    o.max_connections = (unsigned)lim[LIM_CONNECTIONS];
    o.device_threads = (unsigned)lim[LIM_DEVICE_THREADS];
    o.authorize = api_authorize;
    o.reply_filter = api_view_reply;
    o.release = api_view_release;
    o.metrics = api_metrics;
    o.metrics_token = metrics_token[0] ? metrics_token : NULL;
    o.web_dir = web_dir();
    o.tls = &tls;
    if (tls.key_group_readable) {
        wp_log_start(&line, "warn", "tls_key_mode");
        wp_log_add(&line, "file", key);
        wp_log_add(&line, "msg", "the private key's group may read it: keep that group to "
                                 "the server's own account, or chmod 600 the file");
        wp_log_end(&line, 2);
    }
    if ((err = wp_http_server_new(&srv, &o)) < 0) {
        cli_fail(cmd, "%s", wp_error_last());
        goto out;
    }
    if ((err = background_start(&bg)) < 0) {
        cli_fail(cmd, "cannot start the background jobs: %s", wp_error_last());
        goto out;
    }
    char unsafe[64];
    if ((err = wp_store_durability_off(st, unsafe, sizeof unsafe)) < 0) {
        cli_fail(cmd, "cannot read the store's durability settings: %s", wp_error_last());
        goto out;
    }
    if (unsafe[0]) {
        /* loud, not fatal: a test or a throwaway deployment may run so on purpose */
        wp_log_start(&line, "warn", "unsafe_durability");
        wp_log_add(&line, "settings", unsafe);
        wp_log_add(&line, "msg", "postgresql does not wait for commits to reach the disk: "
                                 "acknowledged events can be lost if its host crashes");
        wp_log_end(&line, 2);
    }
    int ahead = 0;
    if ((err = wp_store_schema_ahead(st, &ahead)) < 0) {
        cli_fail(cmd, "cannot read the store's schema version: %s", wp_error_last());
        goto out;
    }
    if (ahead) {
        /* a rolling upgrade's older node: it serves the newer, additive schema (docs/deploy.md) */
        wp_log_start(&line, "warn", "schema_newer");
        wp_log_addf(&line, "store", "%d", wp_store_schema_latest() + ahead);
        wp_log_addf(&line, "knows", "%d", wp_store_schema_latest());
        wp_log_add(&line, "msg",
                   "the store was migrated by a newer workphone: serving it, "
                   "upgrade this node");
        wp_log_end(&line, 2);
    }
    wp_log_start(&line, "info", "start");
    wp_log_add(&line, "version", WP_VERSION);
    wp_log_addf(&line, "listen", "%s:%u", host, wp_http_server_port(srv));
    wp_log_addf(&line, "url", "%s://%s:%u/", scheme, host, wp_http_server_port(srv));
    wp_log_add(&line, "store", app.backend == WP_STORE_PG ? "postgresql" : "sqlite");
    wp_log_addf(&line, "pid", "%ld", (long)getpid());
    wp_log_addn(&line, "web", o.web_dir, 300);
    wp_log_end(&line, 2);
    /* the key that checks the checkpoints this server logs: keep it apart from the data dir */
    unsigned char pub[WP_AUDIT_SIGN_PUB_LEN];
    char hex[2 * WP_AUDIT_SIGN_PUB_LEN + 1];
    wp_audit_sign_public(pub, sign_seed);
    sodium_bin2hex(hex, sizeof hex, pub, sizeof pub);
    wp_log_start(&line, "info", "audit_checkpoint_key");
    wp_log_addf(&line, "key", "%.16s", hex);
    wp_log_add(&line, "public_key", hex);
    wp_log_end(&line, 2);
    /* a Type=notify unit is started once this is sent; the datagram is best effort */
    char ready[INET6_ADDRSTRLEN + 96];
    snprintf(ready, sizeof ready, "READY=1\nSTATUS=serving on %s:%u\nMAINPID=%ld", host,
             wp_http_server_port(srv), (long)getpid());
    if (cli_sd_notify(ready) < 0) {
        wp_log_start(&line, "warn", "notify_failed");
        wp_log_add(&line, "msg", strerror(errno));
        wp_log_end(&line, 2);
    }
    if (so->on_listen) {
        char url[INET6_ADDRSTRLEN + 32];
        snprintf(url, sizeof url, "%s://%s:%u/", scheme, host, wp_http_server_port(srv));
        so->on_listen(so->ctx, url);
    }

    int sig = 0;
    while (sigwait(&stop_set, &sig) != 0 || sig == SIGHUP) {
        if (sig != SIGHUP)
            continue;
        wp_log_start(&line, "warn", "sighup");
        wp_log_add(&line, "msg", "nothing is reloaded on SIGHUP: restart serve to load a new "
                                 "certificate or configuration");
        wp_log_end(&line, 2);
        sig = 0;
    }
    (void)cli_sd_notify("STOPPING=1");
    wp_log_start(&line, "info", "stopping");
    wp_log_add(&line, "signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
    wp_log_addf(&line, "wait_ms", "%d", STOP_WAIT_MS);
    wp_log_end(&line, 2);
    int cut = wp_http_server_stop(srv, STOP_WAIT_MS);
    wp_log_start(&line, cut ? "warn" : "info", "stopped");
    wp_log_addf(&line, "requests_cut", "%d", cut);
    wp_log_end(&line, 2);
    code = WP_EXIT_OK;
out:
    wp_http_server_free(srv);
    background_stop(&bg); /* after the server: writes the last reads, checkpoints */
    wp_ingest_free(ing); /* after the server: no handler may be running */
    wp_store_connpool_free(pool); /* after ingest, which borrows from it */
    wp_store_free(st);
    cli_keyring_close(&kr);
    sodium_memzero(audit_key, sizeof audit_key);
    sodium_memzero(metrics_token, sizeof metrics_token);
    sodium_memzero(sign_seed, sizeof sign_seed);
    free(wc.sdk_dirs);
    free(wc.sdk_path);
    wp_http_tls_release(&tls);
    return code;
}

/* The keys of the system config, each standing for the flag of the same name ('_' for '-';
 * data_dir for --data); db_passfile has no flag, as a password never goes on a command line. */
static const char *const sysconf_keys[] = {
    "data_dir",
    "listen",
    "db",
    "db_passfile",
    "web",
    "max_body",
    "threads",
    "metrics_token_file",
    "max_connections",
    "device_threads",
    "queue_batches",
    "queue_bytes",
    "tls_cert",
    "tls_key",
    "master_key_file",
    "media_dir",
};

/* Does a postgresql:// URL carry a password (user:password@host, or ?password=)? */
static int url_has_password(const char *url)
{
    const char *auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    size_t alen = strcspn(auth, "/?#");
    const char *at = memchr(auth, '@', alen);
    if (at && memchr(auth, ':', (size_t)(at - auth)))
        return 1;
    const char *q = strchr(url, '?');
    for (; q; q = strchr(q + 1, '&'))
        if (!strncmp(q + 1, "password=", 9))
            return 1;
    return 0;
}

/* The system config at path into *out (kept: the flags it fills point into it), checked: every
 * key known, db= without a password, db_passfile= a file only its owner may read.
 * required: --config named it, so a missing file is an error. 0 (*out NULL when an optional
 * file is absent), or WP_EXIT_USAGE after saying why. */
static int sysconf_load(wp_conf **out, const char *path, int required)
{
    wp_conf *c = NULL;
    int err = wp_conf_read(&c, path);
    *out = NULL;
    if (err == WP_ENOTFOUND && !required)
        return 0;
    if (err == WP_ENOTFOUND)
        return cli_usage_error("serve", "config file '%s' does not exist", path);
    if (err < 0)
        return cli_usage_error("serve", "%s", wp_error_last());
    for (size_t i = 0; i < wp_conf__count(c); i++) {
        const char *k, *v;
        size_t j, n = sizeof sysconf_keys / sizeof sysconf_keys[0];
        wp_conf__at(c, i, &k, &v);
        for (j = 0; j < n && strcmp(k, sysconf_keys[j]); j++) {
        }
        if (j == n) {
            cli_usage_error("serve", "'%s': unknown key '%s'; see 'workphone serve --help'",
                            path, k);
            goto bad;
        }
    }
    const char *db = wp_conf_get(c, "db"), *pf = wp_conf_get(c, "db_passfile");
    if (db && url_has_password(db)) {
        cli_usage_error("serve", "'%s': db= holds a password; put it in a PostgreSQL password "
                                 "file named by db_passfile=", path);
        goto bad;
    }
    if (pf && *pf) {
        struct stat sb;
        if (stat(pf, &sb) < 0 || access(pf, R_OK) < 0) {
            cli_usage_error("serve", "'%s': db_passfile '%s': %s", path, pf, strerror(errno));
            goto bad;
        }
        if (!S_ISREG(sb.st_mode) || (sb.st_mode & 077)) {
            /* libpq ignores such a file, and the password would then be asked for nowhere */
            cli_usage_error("serve", "'%s': db_passfile '%s' must be a regular file only its "
                                     "owner may read (chmod 600)", path, pf);
            goto bad;
        }
    }
    *out = c;
    return 0;
bad:
    wp_conf_free(c);
    return WP_EXIT_USAGE;
}

int cmd_serve(int argc, char **argv)
{
    cli_serve_options so = {.cmd = "serve"};
    const char *max_body_s = NULL, *threads_s = NULL, *lim_s[LIM_N] = {0}, *config = NULL;
    wp_conf *sys = NULL;
    int code;
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        fputs(help_tail, stdout);
        return WP_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_opt(argc, argv, &i, "serve", "data", &so.data)) ||
            (r = cli_opt(argc, argv, &i, "serve", "listen", &so.listen)) ||
            (r = cli_opt(argc, argv, &i, "serve", "db", &so.db)) ||
            (r = cli_opt(argc, argv, &i, "serve", "max-body", &max_body_s)) ||
            (r = cli_opt(argc, argv, &i, "serve", "threads", &threads_s)) ||
            (r = cli_opt(argc, argv, &i, "serve", "web", &serve_web)) ||
            (r = cli_opt(argc, argv, &i, "serve", "metrics-token-file",
                         &serve_metrics_token_file)) ||
            (r = cli_opt(argc, argv, &i, "serve", "max-connections", &lim_s[0])) ||
            (r = cli_opt(argc, argv, &i, "serve", "device-threads", &lim_s[1])) ||
            (r = cli_opt(argc, argv, &i, "serve", "queue-batches", &lim_s[2])) ||
            (r = cli_opt(argc, argv, &i, "serve", "queue-bytes", &lim_s[3])) ||
            (r = cli_opt(argc, argv, &i, "serve", "tls-cert", &so.tls_cert)) ||
            (r = cli_opt(argc, argv, &i, "serve", "tls-key", &so.tls_key)) ||
            (r = cli_opt(argc, argv, &i, "serve", "config", &config)) ||
            (r = cli_opt(argc, argv, &i, "serve", "media-dir", &so.media_dir)) ||
            (r = cli_opt(argc, argv, &i, "serve", "master-key-file", &so.master_key_file))) {
            if (r < 0)
                return WP_EXIT_USAGE;
            continue;
        }
        return cli_usage_error("serve", "unknown argument '%s'; see 'workphone serve --help'",
                               argv[i]);
    }
    if (config && !*config)
        return cli_usage_error("serve", "--config needs a file");
    /* a command line naming its data dir is an instance of its own: the default system config
     * is for the service, which names none */
    if ((config || !so.data) &&
        (code = sysconf_load(&sys, config ? config : WP_SYSCONF_PATH, config != NULL)) != 0)
        return code;
    /* flags win over the system config (which wins over DIR/workphone.conf in cli_serve_run) */
    const char *cpath = config ? config : WP_SYSCONF_PATH, *v;
#define FROM_SYS(var, key)                                                                    \
    if (sys && !(var) && (v = wp_conf_get(sys, key)) && *v)                                   \
    (var) = v
    FROM_SYS(so.data, "data_dir");
    FROM_SYS(so.listen, "listen");
    FROM_SYS(so.db, "db");
    FROM_SYS(serve_web, "web");
    FROM_SYS(serve_metrics_token_file, "metrics_token_file");
    FROM_SYS(so.master_key_file, "master_key_file");
    FROM_SYS(so.media_dir, "media_dir");
    if (sys && !so.tls_cert && !so.tls_key) { /* the pair comes from one place */
        FROM_SYS(so.tls_cert, "tls_cert");
        FROM_SYS(so.tls_key, "tls_key");
    }
    const char *sys_max_body = NULL, *sys_threads = NULL, *sys_lim[LIM_N] = {0};
    FROM_SYS(sys_max_body, "max_body");
    FROM_SYS(sys_threads, "threads");
    for (int k = 0; k < LIM_N; k++)
        FROM_SYS(sys_lim[k], serve_limits[k].key);
#undef FROM_SYS
    if (!so.listen)
        so.listen = "127.0.0.1:8080";
    code = WP_EXIT_USAGE;
    if (!so.data || !*so.data) {
        cli_usage_error("serve", "missing --data DIR");
        goto out;
    }
    if (!so.tls_cert != !so.tls_key) {
        cli_usage_error("serve", "--%s without --%s: give both or neither",
                        so.tls_cert ? "tls-cert" : "tls-key", so.tls_cert ? "tls-key" : "tls-cert");
        goto out;
    }
    if (so.db && strncmp(so.db, "postgresql://", 13) && strncmp(so.db, "postgres://", 11)) {
        cli_usage_error("serve", "--db must be a postgresql:// URL");
        goto out;
    }
    const char *pf = sys ? wp_conf_get(sys, "db_passfile") : NULL;
    if (pf && *pf) {
        if (!so.db) {
            cli_usage_error("serve", "'%s': db_passfile= is only for a db= URL", cpath);
            goto out;
        }
        /* libpq reads the password from there (PGPASSFILE), before any thread exists */
        if (setenv("PGPASSFILE", pf, 1) < 0) {
            code = cli_fail("serve", "cannot set PGPASSFILE: %s", strerror(errno));
            goto out;
        }
    }
    if (max_body_s || sys_max_body) {
        const char *s = max_body_s ? max_body_s : sys_max_body;
        char *end;
        errno = 0;
        unsigned long long n = strtoull(s, &end, 10);
        if (!*s || *end || errno || n == 0 || n > (1ull << 32) || *s == '-') {
            if (max_body_s)
                cli_usage_error("serve", "--max-body must be 1-4294967296 bytes");
            else
                cli_usage_error("serve", "'%s': max_body= must be 1-4294967296 bytes", cpath);
            goto out;
        }
        so.max_body = (size_t)n;
    }
    if (threads_s || sys_threads) {
        const char *s = threads_s ? threads_s : sys_threads;
        char *end;
        errno = 0;
        unsigned long n = strtoul(s, &end, 10);
        if (!*s || *end || errno || n < 1 || n > 256 || *s == '-') {
            if (threads_s)
                cli_usage_error("serve", "--threads must be 1-256");
            else
                cli_usage_error("serve", "'%s': threads= must be 1-256", cpath);
            goto out;
        }
        serve_threads = (unsigned)n;
    }
    for (int k = 0; k < LIM_N; k++) {
        const char *s = lim_s[k] ? lim_s[k] : sys_lim[k];
        if (s && limit_parse(&serve_limits[k], s, &serve_limits[k].value) < 0) {
            if (lim_s[k])
                cli_usage_error("serve", "--%s must be %llu-%llu", serve_limits[k].flag,
                                serve_limits[k].lo, serve_limits[k].hi);
            else
                cli_usage_error("serve", "'%s': %s= must be %llu-%llu", cpath,
                                serve_limits[k].key, serve_limits[k].lo, serve_limits[k].hi);
            goto out;
        }
    }
    code = cli_serve_run(&so);
out:
    wp_conf_free(sys);
    return code;
}
