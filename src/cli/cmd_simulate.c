/* SPDX-License-Identifier: MIT */
/* `workphone simulate`: a simulated company sent to a running server over HTTP (src/sim's
 * remote sink: the console API, one libwpagent per phone); also the end-to-end load generator. */
#include "cli/cli.h"
#include "sim/remote.h"
#include "sim/sim.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/password.h"
#include "util/json.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DAY_US (86400ll * 1000000)
#define PASSWORD_LEN 19 /* xxxx-xxxx-xxxx-xxxx, as demo's */

static const char help[] =
    "usage: workphone simulate --server URL [options]\n"
    "\n"
    "Builds a simulated company on a running server through its API -- regions, stores and\n"
    "employees with Chinese names under the tenant's top unit, one enrolled phone per store\n"
    "employee -- then drives the phones: each is a real device agent (libwpagent) with its own\n"
    "outbox, which records the phone's chats with customers (property, insurance, education\n"
    "talk, a share of it breaking the rules: 飞单, 保本保息, leaked numbers), calls, contact\n"
    "deletions and blocks and locations, and for field staff (the salespeople of the property\n"
    "and insurance stores) their drives to customers, clock-ins, clock-outs and visits with a\n"
    "photo, now and then a trip out of their store's geofence (made first, one per store with\n"
    "field staff), day by day, and syncs them in batches as a phone does.\n"
    "After each day the admin records in the CRM what the staff did about their customers:\n"
    "stages from lead to deal (with amounts) or lost, grades, tags, follow-up notes, releases to\n"
    "the pool and claims from it, and a leaver's handover (the tenant gets the tags and rules\n"
    "these use, unless it has rules of its own). The same seed and options give the same company\n"
    "and the same events. At the end it prints what was sent, the events per second from the\n"
    "first event to the last acknowledgement (the CRM's calls timed apart), and what the server\n"
    "raised (alerts by kind, customers), read back through the API.\n"
    "\n"
    "The admin's password is read from WORKPHONE_ADMIN_PASSWORD. Every simulated employee gets\n"
    "the password in WORKPHONE_STAFF_PASSWORD, or a random one printed at the end.\n"
    "\n"
    "  --server URL        the server's base URL, e.g. http://127.0.0.1:8080 (required)\n"
    "  --admin USER        the admin account to build with (default admin)\n"
    "  --tenant NAME       the tenant, when the server has more than one\n"
    "  --employees N       head count, 20-500 (default 27): 2-4 regions of 2-4 stores\n"
    "  --days N            days of activity, 1-84 (default 21)\n"
    "  --end TIME          when the period ends, RFC 3339 (default: today's midnight in\n"
    "                      Asia/Shanghai, so the period is the N days before today)\n"
    "  --seed N            the seed (default 1): one seed, one company, one set of events\n"
    "  --customers N       customers per salesperson on average, 1-60 (default 15)\n"
    "  --violations N      per mille of messages that break a rule, 0-300 (default 25)\n"
    "  --threads N         phones syncing at once, 1-64 (default 4)\n"
    "  --batch N           events per POST /device/events, 1-1000 (default 100, a phone's)\n"
    "  --dir DIR           keep the phones' agent dirs in DIR (missing or empty), one per\n"
    "                      serial number; default: a temporary dir, removed at the end\n"
    "  --quiet             no progress; one JSON line of results on standard output\n"
    "\n"
    "Exit 0 when every event was stored, 1 on a runtime failure (server unreachable, a refused\n"
    "login, an event rejected), 2 on a usage error.\n";

struct sim {
    int quiet;
    /* monotonic: the start, when the phones were ready, when the last day was acknowledged
     * (closing the agents after it is not the server's time) */
    int64_t t0_us, events_us, end_us;
};

struct tally {
    size_t total, sensitive, deleted, blocked, money, geofence, other;
    json_t *categories; /* sensitive_word alerts by category */
    size_t customers;
};

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A whole number in [lo, hi] or -1. */
static int parse_num(unsigned long long *out, const char *s, unsigned long long lo,
                     unsigned long long hi)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int stop_asked(void)
{
    sigset_t pending;
    if (sigpending(&pending) != 0)
        return 0;
    return sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1;
}

static int progress(void *ctx, const wp_sim_stats *st, unsigned day, unsigned days)
{
    struct sim *s = ctx;
    if (stop_asked())
        return wp_error_set(WP_EIO, "interrupted");
    int64_t now = mono_us();
    if (day == 0) {
        s->events_us = now;
        if (!s->quiet)
            printf("  %zu org units, %zu employees and %zu phones ready in %.1f s; now %u days "
                   "of their phones\n",
                   st->units, st->employees, st->devices, (double)(now - s->t0_us) / 1e6, days);
        return 0;
    }
    s->end_us = now;
    if (!s->quiet && (days <= 14 || day % 7 == 0 || day == days)) {
        double secs = (double)(now - s->events_us) / 1e6;
        printf("  day %u of %u: %zu events sent (%.0f events/s)\n", day, days, st->events,
               secs > 0 ? (double)st->events / secs : 0.0);
    }
    return 0;
}

static int count_alert(void *ctx, const json_t *a)
{
    struct tally *t = ctx;
    const char *kind = json_string_value(json_object_get(a, "kind"));
    const char *cat = json_string_value(json_object_get(a, "category"));
    t->total++;
    if (!kind)
        t->other++;
    else if (!strcmp(kind, "sensitive_word")) {
        t->sensitive++;
        if (cat) {
            json_t *n = json_object_get(t->categories, cat);
            json_object_set_new(t->categories, cat, json_integer(json_integer_value(n) + 1));
        }
    } else if (!strcmp(kind, "customer_deleted"))
        t->deleted++;
    else if (!strcmp(kind, "customer_blocked"))
        t->blocked++;
    else if (!strcmp(kind, "money"))
        t->money++;
    else if (!strcmp(kind, "geofence"))
        t->geofence++;
    else
        t->other++;
    return 0;
}

static int count_customer(void *ctx, const json_t *c)
{
    ((struct tally *)ctx)->customers++;
    return 0;
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

static void make_password(char out[PASSWORD_LEN + 1])
{
    static const char alphabet[] = "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    for (int i = 0; i < PASSWORD_LEN; i++)
        out[i] = i % 5 == 4 ? '-' : alphabet[randombytes_uniform(sizeof alphabet - 1)];
    out[PASSWORD_LEN] = '\0';
}

/* --dir: missing (made here, 0700) or an empty directory. 0 or an exit code. */
static int agents_dir(const char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (errno == ENOENT && mkdir(dir, 0700) == 0)
            return 0;
        return cli_usage_error("simulate", "--dir '%s': %s", dir, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode))
        return cli_usage_error("simulate", "--dir '%s' is not a directory", dir);
    DIR *d = opendir(dir);
    if (!d)
        return cli_usage_error("simulate", "--dir '%s': %s", dir, strerror(errno));
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)))
        empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    closedir(d);
    if (!empty)
        return cli_usage_error("simulate", "--dir '%s' is not empty: the phones need new agent "
                                           "dirs", dir);
    return 0;
}

static void summary_human(const wp_sim_stats *st, const struct tally *t,
                          double secs, const char *staff_password, int password_shown,
                          const char *kept_dir)
{
    printf("done: %zu events in %.1f s, %.0f events/s end to end (%zu messages, %zu calls, "
           "%zu contact changes, %zu locations, %zu check-ins; %zu planted violations; %zu "
           "files)\n",
           st->events, secs, secs > 0 ? (double)st->events / secs : 0.0, st->messages, st->calls,
           st->contacts, st->locations, st->checkins, st->violations, st->media);
    printf("  field staff: %zu geofences; %zu clock-ins, %zu clock-outs, %zu customer visits\n",
           st->geofences, st->checkins_in, st->checkins_out, st->visits);
    printf("  %zu CRM calls in %.1f s: %zu stage changes (%zu deals worth %.0f yuan), %zu grades, "
           "%zu tag changes, %zu notes, %zu releases to the pool, %zu claims, %zu handover; "
           "%zu skipped\n",
           st->acts, (double)st->acts_us / 1e6, st->stages, st->deals,
           (double)st->deal_amount_fen / 100, st->grades, st->tagged, st->notes, st->released,
           st->claimed, st->handovers, st->acts_skipped);
    printf("  the server has %zu customers and %zu alerts: sensitive_word %zu, customer_deleted "
           "%zu, customer_blocked %zu, money %zu, geofence %zu, other %zu\n",
           t->customers, t->total, t->sensitive, t->deleted, t->blocked, t->money, t->geofence,
           t->other);
    if (password_shown)
        printf("  every simulated employee logs in with the password %s\n", staff_password);
    if (kept_dir)
        printf("  the phones' agents are in %s ('workphone agent status --dir %s/SERIAL')\n",
               kept_dir, kept_dir);
}

static int summary_json(const wp_sim_company *c, const wp_sim_stats *st, const struct tally *t,
                        double setup, double secs)
{
    json_t *alerts = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:O}", "total",
                               (json_int_t)t->total, "sensitive_word", (json_int_t)t->sensitive,
                               "customer_deleted", (json_int_t)t->deleted, "customer_blocked",
                               (json_int_t)t->blocked, "money", (json_int_t)t->money, "geofence",
                               (json_int_t)t->geofence, "other", (json_int_t)t->other,
                               "categories", t->categories);
    json_t *field = json_pack("{s:I, s:I, s:I, s:I, s:I}", "geofences", (json_int_t)st->geofences,
                              "checkins", (json_int_t)st->checkins, "in",
                              (json_int_t)st->checkins_in, "out", (json_int_t)st->checkins_out,
                              "visits", (json_int_t)st->visits);
    json_t *crm = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "acts",
        (json_int_t)st->acts, "stages", (json_int_t)st->stages, "deals", (json_int_t)st->deals,
        "deal_amount_fen", (json_int_t)st->deal_amount_fen, "grades", (json_int_t)st->grades,
        "tagged", (json_int_t)st->tagged, "notes", (json_int_t)st->notes, "released",
        (json_int_t)st->released, "claimed", (json_int_t)st->claimed, "handovers",
        (json_int_t)st->handovers, "skipped", (json_int_t)st->acts_skipped, "seconds",
        (double)st->acts_us / 1e6);
    json_t *o = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f,"
        " s:o, s:o, s:o}",
        "seed", (json_int_t)c->cfg.seed, "org_units", (json_int_t)st->units, "employees",
        (json_int_t)st->employees, "devices", (json_int_t)st->devices, "days", (json_int_t)c->days,
        "events", (json_int_t)st->events, "messages", (json_int_t)st->messages, "calls",
        (json_int_t)st->calls, "contacts", (json_int_t)st->contacts, "locations",
        (json_int_t)st->locations, "checkins", (json_int_t)st->checkins, "violations",
        (json_int_t)st->violations, "media",
        (json_int_t)st->media, "rejected", (json_int_t)st->rejected, "customers",
        (json_int_t)t->customers, "setup_s", setup, "seconds", secs, "events_per_s",
        secs > 0 ? (double)st->events / secs : 0.0, "alerts", alerts, "crm", crm, "field",
        field);
    char *text = o ? wp_json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(o);
    if (!text)
        return wp_error_set(WP_ENOMEM, "out of memory");
    printf("%s\n", text);
    free(text);
    return 0;
}

int cmd_simulate(int argc, char **argv)
{
    const char *server = NULL, *admin = "admin", *tenant = NULL, *employees_s = NULL;
    const char *days_s = NULL, *end_s = NULL, *seed_s = NULL, *customers_s = NULL;
    const char *violations_s = NULL, *threads_s = NULL, *batch_s = NULL, *dir = NULL;
    int quiet = 0;
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return WP_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--quiet")) {
            quiet = 1;
            continue;
        }
        if ((r = cli_opt(argc, argv, &i, "simulate", "server", &server)) ||
            (r = cli_opt(argc, argv, &i, "simulate", "admin", &admin)) ||
            (r = cli_opt(argc, argv, &i, "simulate", "tenant", &tenant)) ||
            (r = cli_opt(argc, argv, &i, "simulate", "employees", &employees_s)) ||
            (r = cli_opt(argc, argv, &i, "simulate", "days", &days_s)) ||
            (r = cli_opt(argc, argv, &i, "simulate", "end", &end_s)) ||
            (r = cli_opt(argc, argv, &i, "simulate", "seed", &seed_s)) ||
            (r = cli_opt(argc, argv, &i, "simulate", "customers", &customers_s)) ||
            (r = cli_opt(argc, argv, &i, "simulate", "violations", &violations_s)) ||
            (r = cli_opt(argc, argv, &i, "simulate", "threads", &threads_s)) ||
            (r = cli_opt(argc, argv, &i, "simulate", "batch", &batch_s)) ||
            (r = cli_opt(argc, argv, &i, "simulate", "dir", &dir))) {
            if (r < 0)
                return WP_EXIT_USAGE;
            continue;
        }
        return cli_usage_error("simulate", "unknown argument '%s'; see 'workphone simulate "
                                           "--help'", argv[i]);
    }

    unsigned long long employees = 27, days = 21, seed = 1, customers = 15, violations = 25;
    unsigned long long threads = 4, batch = 100;
    if (!server)
        return cli_usage_error("simulate", "--server is required, e.g. --server "
                                           "http://127.0.0.1:8080");
    if (strncmp(server, "http://", 7) && strncmp(server, "https://", 8))
        return cli_usage_error("simulate", "--server '%s' must be an http:// or https:// URL",
                               server);
    if (!admin[0])
        return cli_usage_error("simulate", "--admin must name an account");
    if (employees_s && parse_num(&employees, employees_s, WP_SIM_EMPLOYEES_MIN,
                                 WP_SIM_EMPLOYEES_MAX) < 0)
        return cli_usage_error("simulate", "--employees must be %d-%d", WP_SIM_EMPLOYEES_MIN,
                               WP_SIM_EMPLOYEES_MAX);
    if (days_s && parse_num(&days, days_s, 1, WP_SIM_WEEKS_MAX * 7) < 0)
        return cli_usage_error("simulate", "--days must be 1-%d", WP_SIM_WEEKS_MAX * 7);
    if (seed_s && parse_num(&seed, seed_s, 0, UINT64_MAX) < 0)
        return cli_usage_error("simulate", "--seed must be a whole number");
    if (customers_s && parse_num(&customers, customers_s, 1, WP_SIM_CUSTOMERS_MAX) < 0)
        return cli_usage_error("simulate", "--customers must be 1-%d", WP_SIM_CUSTOMERS_MAX);
    if (violations_s && parse_num(&violations, violations_s, 0, 300) < 0)
        return cli_usage_error("simulate", "--violations must be 0-300 (per mille)");
    if (threads_s && parse_num(&threads, threads_s, 1, 64) < 0)
        return cli_usage_error("simulate", "--threads must be 1-64");
    if (batch_s && parse_num(&batch, batch_s, 1, 1000) < 0)
        return cli_usage_error("simulate", "--batch must be 1-1000");
    int64_t end_us;
    if (end_s) {
        if (wp_time_parse(&end_us, end_s) < 0)
            return cli_usage_error("simulate", "--end '%s' is not an RFC 3339 time", end_s);
    } else {
        /* today's midnight in Asia/Shanghai: the same period all day, so reruns compare */
        int64_t tz = (int64_t)WP_SIM_TZ_MIN * 60 * 1000000;
        end_us = (wp_time_now_us() + tz) / DAY_US * DAY_US - tz - 1;
    }
    const char *admin_password = getenv("WORKPHONE_ADMIN_PASSWORD");
    if (!admin_password || !admin_password[0])
        return cli_usage_error("simulate", "set WORKPHONE_ADMIN_PASSWORD to the password of "
                                           "'%s'", admin);
    char staff_password[WP_PASSWORD_MAX + 1];
    const char *staff_env = getenv("WORKPHONE_STAFF_PASSWORD");
    if (sodium_init() < 0)
        return cli_fail("simulate", "libsodium cannot start");
    if (staff_env) {
        if (wp_password_check(staff_env) < 0)
            return cli_usage_error("simulate", "WORKPHONE_STAFF_PASSWORD: %s", wp_error_last());
        snprintf(staff_password, sizeof staff_password, "%s", staff_env);
    } else {
        make_password(staff_password);
    }

    wp_sim_config cfg = WP_SIM_CONFIG_INIT;
    cfg.seed = seed;
    cfg.end_us = end_us;
    cfg.days = (unsigned)days;
    cfg.customers_per_sales = (unsigned)customers;
    cfg.violation_permille = (unsigned)violations;
    wp_sim_company *c = NULL;
    if (wp_sim_config_shape(&cfg, (unsigned)employees) < 0 || wp_sim_company_new(&c, &cfg) < 0)
        return cli_usage_error("simulate", "%s", wp_error_last());

    char tmp[4096];
    const char *agents = dir;
    if (dir) {
        int code = agents_dir(dir);
        if (code != WP_EXIT_OK) {
            wp_sim_company_free(c);
            return code;
        }
    } else {
        const char *t = getenv("TMPDIR");
        snprintf(tmp, sizeof tmp, "%s/workphone-simulate-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmp)) {
            wp_sim_company_free(c);
            return cli_fail("simulate", "cannot make a temporary dir '%s': %s", tmp,
                            strerror(errno));
        }
        agents = tmp;
    }
    if (!quiet)
        setvbuf(stdout, NULL, _IOLBF, 0);
    /* SIGINT and SIGTERM wait, blocked in every thread, until progress notices them: the run
     * stops between two days and the temporary dir is removed */
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);

    struct sim s = {.quiet = quiet, .t0_us = mono_us()};
    struct tally t = {.categories = json_object()};
    wp_sim_remote *r = NULL;
    wp_sim_stats st;
    char top[WP_SIM_ID_MAX];
    int code = WP_EXIT_OK, err;
    wp_sim_remote_options ro = WP_SIM_REMOTE_OPTIONS_INIT;
    ro.server = server;
    ro.tenant = tenant;
    ro.admin = admin;
    ro.admin_password = admin_password;
    ro.agents_dir = agents;
    ro.staff_password = staff_password;
    ro.batch_max = (unsigned)batch;
    if (!t.categories) {
        code = cli_fail("simulate", "out of memory");
        goto out;
    }
    if ((err = wp_sim_remote_new(&r, &ro)) < 0 || (err = wp_sim_remote_top_unit(r, top)) < 0) {
        code = cli_fail("simulate", "%s", wp_error_last());
        goto out;
    }
    if (!quiet) {
        size_t stores = 0;
        for (size_t i = 0; i < c->n_units; i++)
            stores += !strcmp(c->units[i].kind, "store");
        printf("workphone simulate: %s on %s: %u regions, %zu stores, %zu employees, %u days "
               "(seed %llu, %llu threads)\n",
               c->name, server, cfg.regions, stores, c->n_people, c->days, seed, threads);
    }
    wp_sim_sink sink;
    wp_sim_remote_sink(&sink, r);
    wp_sim_run_options opts = WP_SIM_RUN_OPTIONS_INIT;
    opts.progress = progress;
    opts.progress_ctx = &s;
    opts.threads = (unsigned)threads;
    if ((err = wp_sim_run(&st, c, top, &sink, &opts)) < 0) {
        code = cli_fail("simulate", "%s", wp_error_last());
        goto out;
    }
    /* the phones' time: the CRM's calls between the days are timed apart */
    double secs = (double)(s.end_us - s.events_us - st.acts_us) / 1e6;
    double setup = (double)(s.events_us - s.t0_us) / 1e6;
    if ((err = wp_sim_remote_each(r, "/alerts", count_alert, &t)) < 0 ||
        (err = wp_sim_remote_each(r, "/customers", count_customer, &t)) < 0) {
        code = cli_fail("simulate", "%s", wp_error_last());
        goto out;
    }
    if (quiet) {
        if (summary_json(c, &st, &t, setup, secs) < 0)
            code = cli_fail("simulate", "%s", wp_error_last());
    } else {
        summary_human(&st, &t, secs, staff_password, !staff_env, dir);
    }
    if (code == WP_EXIT_OK && st.rejected)
        code = cli_fail("simulate", "the server rejected %zu of the %zu events", st.rejected,
                        st.events);
out:
    explicit_bzero(staff_password, sizeof staff_password);
    wp_sim_remote_free(r);
    wp_sim_company_free(c);
    json_decref(t.categories);
    if (!dir)
        nftw(tmp, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    return code;
}
