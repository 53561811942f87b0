/* SPDX-License-Identifier: MIT */
/* `workphone demo`: a new data dir filled with a simulated company (src/sim), then served. */
#include "cli/cli.h"
#include "ingest/ingest.h"
#include "sim/local.h"
#include "sim/sim.h"
#include "store/audit.h"
#include "store/customers.h"
#include "store/pool.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/password.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEMO_TENANT "鼎盛集团"
#define DEMO_ADMIN "admin"
#define DEMO_MARK "demo.conf"
#define PASSWORD_LEN 19 /* xxxx-xxxx-xxxx-xxxx: 16 characters of 55, about 92 bits */

static const char help[] =
    "usage: workphone demo [--data DIR] [--listen HOST:PORT] [--seed N]\n"
    "\n"
    "The first command to try. When DIR is new (missing or empty), it creates a store there\n"
    "with the demo tenant 鼎盛集团 and its admin account 'admin' (a random password, printed\n"
    "once), fills it with a simulated company -- 2 regions, 4 stores, 27 employees, 24 enrolled\n"
    "phones, about 300 customers and three weeks of their chats (text, photos, voice, files,\n"
    "links, locations, red packets), calls, contact changes and locations, a few percent of the\n"
    "messages breaking the default lexicon's rules; field staff driving to their customers,\n"
    "clocking in and out and checking in at visits, a geofence around each of their stores and\n"
    "now and then one of them leaving it during working hours; in the CRM, customers moving\n"
    "from lead to deal (with amounts) or lost, tags, grades, follow-up notes, the public pool,\n"
    "reminders and a leaver's handover -- and then serves it as 'workphone serve' does. Every\n"
    "employee logs in with one more random password, printed once with a manager, a\n"
    "salesperson and an auditor to try. When DIR is a workphone data dir already, it only\n"
    "serves it. The events go through the same path as a phone's (src/ingest, in process) at\n"
    "the time the phone would have sent them, so customers and alerts are made as they would\n"
    "be for real, and the jobs a server runs (reclaim to the pool, reminders, grading) run at\n"
    "the end of each simulated day; 'workphone simulate' sends a company to a running server\n"
    "over HTTP instead.\n"
    "\n"
    "  --data DIR          the data directory (default demo-data)\n"
    "  --listen HOST:PORT  where to listen (default 127.0.0.1:8080; port 0 picks a free port)\n"
    "  --seed N            the simulation's seed (default 1): one seed, one company\n";

/* The staff accounts the demo shows, one per role: sign in as them to see what each role sees. */
struct demo_login {
    const char *role, *title;
    char username[40], name[16], unit[64];
};
#define DEMO_LOGINS 4

struct demo {
    const char *data;
    uint64_t seed;
    char password[PASSWORD_LEN + 1]; /* "" unless made by this run */
    char staff_password[PASSWORD_LEN + 1]; /* every simulated employee's; "" as above */
    struct demo_login logins[DEMO_LOGINS];
    size_t n_logins;
    int64_t started_us;
    wp_sim_stats stats;
    size_t customers;
};

/* --- the data dir ---------------------------------------------------------------------------- */

static int has_file(const char *dir, const char *name)
{
    char p[4096];
    if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, name) >= sizeof p)
        return 0;
    return access(p, F_OK) == 0;
}

/* 1 when the directory has no entries, 0 when it has some, -1 when it cannot be read. */
static int dir_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)))
        empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    closedir(d);
    return empty;
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

/* Remove a directory this run made, with what is in it (never follows symlinks). */
static void remove_tree(const char *dir)
{
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void fsync_parent(const char *path)
{
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash == parent)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(parent, sizeof parent, ".");
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static int write_mark(const char *dir, const struct demo *d)
{
    char p[4096], ts[40];
    if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, DEMO_MARK) >= sizeof p)
        return wp_error_set(WP_EINVAL, "data dir path is too long");
    FILE *f = fopen(p, "wx");
    if (!f)
        return wp_error_set(WP_EIO, "cannot write '%s': %s", p, strerror(errno));
    wp_time_format(ts, wp_time_now_us() / 1000000 * 1000000, WP_SIM_TZ_MIN);
    fprintf(f,
            "# written by workphone demo: this data dir holds a simulated company\n"
            "seed=%llu\ncreated=%s\nmessages=%zu\ncalls=%zu\nlocations=%zu\n",
            (unsigned long long)d->seed, ts, d->stats.messages, d->stats.calls,
            d->stats.locations);
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    return bad ? wp_error_set(WP_EIO, "cannot write '%s'", p) : 0;
}

/* The created= line of the demo mark, or "" when there is none (or it cannot be read). */
static void read_mark(const char *dir, char *created, size_t cap)
{
    char p[4096];
    wp_conf *c = NULL;
    created[0] = '\0';
    if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, DEMO_MARK) >= sizeof p ||
        wp_conf_read(&c, p) < 0)
        return;
    const char *v = wp_conf_get(c, "created");
    if (v && (size_t)snprintf(created, cap, "%s", v) >= cap)
        created[0] = '\0';
    wp_conf_free(c);
}

/* --- filling ---------------------------------------------------------------------------------- */

static void make_password(char out[PASSWORD_LEN + 1])
{
    /* no 0/O, 1/l/I: it is read off a terminal and typed into a login form */
    static const char alphabet[] = "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    for (int i = 0; i < PASSWORD_LEN; i++)
        out[i] = i % 5 == 4 ? '-' : alphabet[randombytes_uniform(sizeof alphabet - 1)];
    out[PASSWORD_LEN] = '\0';
}

/* A SIGINT or SIGTERM pending (they are blocked while filling) stops the fill. */
static int stop_asked(void)
{
    sigset_t pending;
    if (sigpending(&pending) != 0)
        return 0;
    return sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double seconds_since(int64_t us)
{
    return (double)(mono_us() - us) / 1e6;
}

static int progress(void *ctx, const wp_sim_stats *st, unsigned day, unsigned days)
{
    struct demo *d = ctx;
    if (stop_asked())
        return wp_error_set(WP_EIO, "interrupted");
    if (day > 0 && (day % 7 == 0 || day == days))
        printf("  week %u of %u: %zu events sent, %zu alerts raised (%.1f s)\n", (day + 6) / 7,
               (days + 6) / 7, st->events, st->alerts, seconds_since(d->started_us));
    return 0;
}

static int count_customers(wp_store_connpool *pool, const char *tenant_id, size_t *out)
{
    wp_store *st = NULL;
    wp_customer_page page;
    char cursor[WP_ARCHIVE_CURSOR_MAX] = "";
    int err;
    *out = 0;
    if ((err = wp_store_connpool_acquire(pool, &st)) < 0)
        return err;
    do {
        wp_customer_filter f = {.tenant_id = tenant_id, .cursor = cursor, .limit = WP_PAGE_MAX};
        if ((err = wp_store_customers_list(st, &page, &f)) < 0)
            break;
        *out += page.n;
        snprintf(cursor, sizeof cursor, "%s", page.next_cursor);
        wp_customer_page_release(&page);
    } while (cursor[0]);
    wp_store_connpool_release(pool, st);
    return err;
}

/* Remember an auditor, a region manager, a store manager and one of that store's sales. */
static void pick_logins(struct demo *d, const wp_sim_company *c)
{
    static const char *const want[DEMO_LOGINS][2] = {
        {"manager", "区域经理"}, {"manager", "店长"}, {"sales", NULL}, {"auditor", NULL}};
    int store = -1;
    d->n_logins = 0;
    for (size_t w = 0; w < DEMO_LOGINS; w++)
        for (size_t i = 0; i < c->n_people; i++) {
            const wp_sim_person *p = &c->people[i];
            if (strcmp(p->role, want[w][0]) || (want[w][1] && strcmp(p->title, want[w][1])) ||
                (w == 2 && p->unit != store) || (long)i == c->leaver) /* the leaver is gone */
                continue;
            if (w == 1)
                store = p->unit;
            struct demo_login *l = &d->logins[d->n_logins++];
            l->role = p->role;
            l->title = p->title;
            snprintf(l->username, sizeof l->username, "%s", p->username);
            snprintf(l->name, sizeof l->name, "%s", p->name);
            snprintf(l->unit, sizeof l->unit, "%s", c->units[p->unit].name);
            break;
        }
}

static void print_logins(const struct demo *d)
{
    printf("  staff accounts, all with the password %s, for instance:\n", d->staff_password);
    for (size_t i = 0; i < d->n_logins; i++) {
        const struct demo_login *l = &d->logins[i];
        printf("    %-8s %-20s %s, %s %s\n", l->role, l->username, l->name, l->unit, l->title);
    }
}

/* Init dir, then run the simulation into it through ingest. */
static int fill(struct demo *d, const char *dir)
{
    char staff_hash[WP_PASSWORD_HASH_MAX];
    unsigned char audit_key[WP_AUDIT_KEY_LEN];
    cli_init_ids ids;
    wp_store_connpool *pool = NULL;
    wp_ingest *ing = NULL;
    wp_sim_company *c = NULL;
    int err;

    if ((err = cli_init_create(&ids, dir, NULL, DEMO_TENANT, DEMO_ADMIN, d->password)) < 0)
        goto out;
    printf("  store, tenant %s and its admin account created\n", DEMO_TENANT);
    wp_ingest_config ic = WP_INGEST_CONFIG_INIT;
    ic.data_dir = dir;
    wp_sim_config cfg = WP_SIM_CONFIG_INIT;
    cfg.seed = d->seed;
    cfg.end_us = wp_time_now_us();
    if ((err = wp_store_connpool_new(&pool, dir, NULL, 0)) < 0)
        goto out;
    ic.pool = pool;
    if ((err = wp_ingest_new(&ing, &ic)) < 0 || (err = wp_sim_company_new(&c, &cfg)) < 0)
        goto out;
    size_t stores = 0;
    for (size_t i = 0; i < c->n_units; i++)
        stores += !strcmp(c->units[i].kind, "store");
    printf("  %s: %u regions, %zu stores, %zu employees, three weeks of their phones...\n",
           c->name, cfg.regions, stores, c->n_people);

    /* one hash for everyone: argon2id per employee would cost a second for nothing */
    if ((err = wp_password_hash(staff_hash, d->staff_password)) < 0)
        goto out;
    pick_logins(d, c);
    /* the jobs at each simulated day's end sign their audit rows as serve's would */
    if ((err = wp_audit_key_load(audit_key, dir, 0)) < 0)
        goto out;
    wp_sim_local local = {
        .ing = ing, .pool = pool, .password_hash = staff_hash, .audit_key = audit_key};
    memcpy(local.tenant_id, ids.tenant_id, sizeof local.tenant_id);
    wp_sim_sink sink;
    wp_sim_local_sink(&sink, &local);
    wp_sim_run_options ro = WP_SIM_RUN_OPTIONS_INIT;
    ro.progress = progress;
    ro.progress_ctx = d;
    err = wp_sim_run(&d->stats, c, ids.hq_id, &sink, &ro);
    wp_sim_local_release(&local);
    explicit_bzero(audit_key, sizeof audit_key);
    if (err < 0 || (err = count_customers(pool, ids.tenant_id, &d->customers)) < 0)
        goto out;
    const wp_sim_stats *s = &d->stats;
    printf("  done in %.1f s: %zu phones enrolled; %zu messages, %zu calls, %zu contact changes,"
           " %zu locations; %zu customers\n",
           seconds_since(d->started_us), s->devices, s->messages, s->calls, s->contacts,
           s->locations, d->customers);
    printf("  %zu alerts: %zu sensitive words, %zu customers deleted, %zu blocked, %zu money "
           "transfers, %zu geofence exits\n",
           s->alerts, s->alerts_sensitive, s->alerts_deleted, s->alerts_blocked, s->alerts_money,
           s->alerts_geofence);
    printf("  field staff: %zu geofences around their stores; %zu check-ins (%zu clock-ins, %zu "
           "clock-outs, %zu customer visits)\n",
           s->geofences, s->checkins, s->checkins_in, s->checkins_out, s->visits);
    printf("  in the CRM: %zu stage changes, %zu deals worth ¥%.0f, %zu grades, %zu tag changes, "
           "%zu follow-up notes, %zu released to the pool, %zu claimed, %zu handover\n",
           s->stages, s->deals, (double)s->deal_amount_fen / 100, s->grades, s->tagged, s->notes,
           s->released, s->claimed, s->handovers);
    if (s->rejected)
        printf("  warning: the server rejected %zu simulated events\n", s->rejected);
out:
    wp_sim_company_free(c);
    wp_ingest_free(ing);
    wp_store_connpool_free(pool);
    if (err == 0)
        err = write_mark(dir, d);
    return err;
}

/* Make the demo in a fresh directory beside DIR and move it in place when complete, so DIR is
 * either absent (or left empty) or a complete demo: a failure or ^C leaves nothing half-made. */
static int create(struct demo *d)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", d->data) >= sizeof tmp)
        return cli_usage_error("demo", "data dir path is too long");
    if (!mkdtemp(tmp))
        return cli_usage_error("demo", "cannot create a directory beside '%s': %s", d->data,
                               strerror(errno));
    make_password(d->password);
    make_password(d->staff_password);
    d->started_us = mono_us();
    printf("workphone demo: making a demo company in %s (seed %llu)\n", d->data,
           (unsigned long long)d->seed);
    int err = fill(d, tmp);
    if (err == 0 && rename(tmp, d->data) != 0)
        err = wp_error_set(WP_EIO, "cannot move '%s' to '%s': %s", tmp, d->data,
                           strerror(errno));
    if (err < 0) {
        remove_tree(tmp);
        explicit_bzero(d->password, sizeof d->password);
        explicit_bzero(d->staff_password, sizeof d->staff_password);
        return cli_fail("demo", "%s; nothing was kept", wp_error_last());
    }
    fsync_parent(d->data);
    printf("  admin account: %s / %s   (shown only this once: note it now)\n", DEMO_ADMIN,
           d->password);
    print_logins(d);
    return WP_EXIT_OK;
}

/* --- serving ---------------------------------------------------------------------------------- */

static void on_listen(void *ctx, const char *url)
{
    struct demo *d = ctx;
    printf("\nworkphone demo is running: %s\n", url);
    if (d->password[0]) {
        printf("  log in as   %s / %s\n", DEMO_ADMIN, d->password);
        for (size_t i = 0; i < d->n_logins; i++)
            printf("           or %s / %s (%s)\n", d->logins[i].username, d->staff_password,
                   d->logins[i].role);
    } else {
        printf("  log in as   %s, or as an employee, with the passwords printed when %s was "
               "made\n",
               DEMO_ADMIN, d->data);
    }
    printf("  try         curl -s %sapi/v1/health\n"
           "              curl -s %sapi/v1/auth/login -H 'Content-Type: application/json'"
           " -d '{\"username\": \"%s\", \"password\": \"...\"}'\n"
           "              then GET %sapi/v1/alerts, /messages?q=, /customers with "
           "'Authorization: Bearer <token>'\n"
           "  stop        Ctrl-C; 'workphone demo --data %s' serves the same data again\n",
           url, url, DEMO_ADMIN, url, d->data);
    fflush(stdout);
    explicit_bzero(d->password, sizeof d->password);
    explicit_bzero(d->staff_password, sizeof d->staff_password);
}

int cmd_demo(int argc, char **argv)
{
    const char *data = "demo-data", *listen = "127.0.0.1:8080", *seed_s = NULL, *why;
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return WP_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_opt(argc, argv, &i, "demo", "data", &data)) ||
            (r = cli_opt(argc, argv, &i, "demo", "listen", &listen)) ||
            (r = cli_opt(argc, argv, &i, "demo", "seed", &seed_s))) {
            if (r < 0)
                return WP_EXIT_USAGE;
            continue;
        }
        return cli_usage_error("demo", "unknown argument '%s'; see 'workphone demo --help'",
                               argv[i]);
    }
    struct demo d = {.seed = 1};
    char path[4096];
    size_t n = strlen(data);
    while (n > 1 && data[n - 1] == '/') /* "demo-data/" names the same dir; mkdtemp needs no slash */
        n--;
    if (n == 0 || n >= sizeof path - 32)
        return cli_usage_error("demo", "--data must name a directory");
    memcpy(path, data, n);
    path[n] = '\0';
    d.data = path;
    if (seed_s) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(seed_s, &end, 10);
        if (!*seed_s || *end || errno || seed_s[0] == '-')
            return cli_usage_error("demo", "--seed must be a whole number");
        d.seed = v;
    }
    if (cli_listen_check(listen, &why) < 0)
        return cli_usage_error("demo", "--listen '%s': %s", listen, why);
    if (sodium_init() < 0)
        return cli_fail("demo", "libsodium cannot start");
    /* line by line: a script waits for the URL line, a person watches the progress */
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct stat sb;
    int fresh = 0;
    if (stat(path, &sb) != 0) {
        if (errno != ENOENT)
            return cli_usage_error("demo", "data dir '%s': %s", path, strerror(errno));
        fresh = 1;
    } else if (!S_ISDIR(sb.st_mode)) {
        return cli_usage_error("demo", "data dir '%s' is not a directory", path);
    } else if (!has_file(path, "workphone.conf")) {
        if (dir_empty(path) != 1)
            return cli_usage_error("demo",
                                   "'%s' is neither empty nor a workphone data dir; pick "
                                   "another --data",
                                   path);
        fresh = 1;
    }

    /* SIGINT and SIGTERM wait, blocked in every thread, until the fill asks (stop_asked) or
     * serve takes them with sigwait() */
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);

    if (fresh) {
        int code = create(&d);
        if (code != WP_EXIT_OK)
            return code;
    } else {
        char created[64];
        read_mark(path, created, sizeof created);
        if (created[0])
            printf("workphone demo: %s holds the demo company made %s; serving it (nothing "
                   "is added)\n",
                   path, created);
        else
            printf("workphone demo: %s was not made by workphone demo; serving it as it is\n",
                   path);
    }
    cli_serve_options so = {
        .cmd = "demo", .data = path, .listen = listen, .on_listen = on_listen, .ctx = &d};
    return cli_serve_run(&so);
}
