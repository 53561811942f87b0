/* SPDX-License-Identifier: MIT */
/* `workphone agent`: libwpagent from the command line (for tests, operators and demos). */
#include "cli/cli.h"
#include "util/clock.h"
#include "util/error.h"
#include "workphone/agent.h"
#include "util/json.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT (256u << 20) /* bytes of events `send` reads in one go */

static const char help[] =
    "usage: workphone agent <subcommand> --dir DIR [options]\n"
    "\n"
    "The device agent library (libwpagent) driven from the command line. DIR holds the agent's\n"
    "state: its outbox of events, its credentials (mode 0600), media and the offline policy.\n"
    "\n"
    "  enroll --dir D --server URL --code C [--serial S --model M]\n"
    "                           enroll with a one-time code; fetches the policy\n"
    "  send --dir D             record events, one JSON object a line on standard input\n"
    "                           (CONTRACT section 4 without \"seq\"); all or none\n"
    "  sync --dir D [--server URL] [--attempts N]\n"
    "                           upload media and events, refresh the policy\n"
    "  status --dir D           the agent's state as JSON\n"
    "  check --dir D            one verdict per line of standard input, offline\n"
    "  locate --dir D           record locations, one JSON object a line, deciding\n"
    "                           off duty and geofences offline\n"
    "\n"
    "'workphone agent <subcommand> --help' tells more. Exit 0 on success, 1 on a runtime\n"
    "failure (network, server, disk), 2 on a usage or input error.\n";

static const char help_enroll[] =
    "usage: workphone agent enroll --dir DIR --server URL --code CODE [--serial S] [--model M]\n"
    "\n"
    "Enrolls this agent with a one-time code made in the console (POST\n"
    "/api/v1/employees/{id}/enrollment-codes), keeps the device id and token in DIR, and\n"
    "fetches the policy so that `check` works offline. Prints {\"device_id\": \"...\"}.\n";

static const char help_send[] =
    "usage: workphone agent send --dir DIR < events.jsonl\n"
    "\n"
    "Records the events on standard input, one JSON object a line (blank lines are skipped),\n"
    "into DIR's outbox, each with the next seq, in one transaction: when a line is bad, the\n"
    "message names it, nothing is recorded, and the exit code is 2. Prints\n"
    "{\"recorded\": N, \"first_seq\": A, \"last_seq\": B}. Nothing is sent: run `sync`.\n";

static const char help_sync[] =
    "usage: workphone agent sync --dir DIR [--server URL] [--attempts N]\n"
    "\n"
    "Uploads waiting media and events in batches, then refreshes the policy. A failed attempt\n"
    "is retried up to N times (default 5) with exponential backoff and jitter. --server\n"
    "points the agent at another base URL from now on. Prints the status (see `status`).\n"
    "Exit 1 when events are still waiting at the end.\n";

static const char help_status[] =
    "usage: workphone agent status --dir DIR\n"
    "\n"
    "Prints {\"enrolled\", \"device_id\", \"server\", \"next_seq\", \"acked_seq\", \"outbox_events\",\n"
    "\"outbox_bytes\", \"media_pending\", \"rejected\", \"policy_version\", \"failures\",\n"
    "\"retry_after_ms\", \"last_error\", \"locations_off_duty\", \"on_duty\", \"time_zone\",\n"
    "\"fences\", \"fence\", \"notes_pending\", \"notes_refused\"}; retry_after_ms is the wait before the next attempt: the backoff,\n"
    "and at least the server's Retry-After. locations_off_duty is the policy's rule the\n"
    "employee is told: \"drop\" (locations outside working hours are not recorded) or \"keep\";\n"
    "on_duty is whether now is within the working hours (null: not known yet). fence is\n"
    "{\"state\": \"unknown|inside|outside\", \"since\", \"id\", \"name\"}: inside, the fence;\n"
    "outside, the fence left. notes_pending counts what the phone must still tell the server\n"
    "besides events (a notice acknowledged, an automatic first message sent while offline);\n"
    "notes_refused those the server refused when they were sent. Needs no network.\n";

static const char help_locate[] =
    "usage: workphone agent locate --dir DIR < points.jsonl\n"
    "\n"
    "Records each line {\"lat\": .., \"lon\": .., \"accuracy_m\": .., \"ts\": \"RFC 3339\"}\n"
    "(accuracy_m and ts optional) as wp_agent_record_location does, with the policy kept in\n"
    "DIR and no network, and answers each with {\"result\": \"recorded|off_duty|left|returned\",\n"
    "\"seq\": N or null, \"fence\": {...}}: off_duty is not recorded (locations_off_duty\n"
    "\"drop\" outside working hours); left means the employee has just left its geofences, for\n"
    "which the server raises one alert. A bad line is answered with an \"error\" object and\n"
    "the exit code is 2.\n";

static const char help_check[] =
    "usage: workphone agent check --dir DIR < texts.txt\n"
    "\n"
    "Answers each line of standard input with the verdict POST /api/v1/device/check would\n"
    "give, from the policy kept in DIR, without the network:\n"
    "  {\"action\":\"allow|alert|block|mask\",\"matches\":[...],\"masked\":\"...\"}\n"
    "A line over 64 KiB is answered with an \"error\" object; the exit code is then 1.\n";

static int fail(const char *sub, wp_agent *a, int code)
{
    char msg[256] = "";
    if (a)
        wp_agent_last_error(a, msg, sizeof msg);
    fprintf(stderr, "workphone agent %s: %s%s%s\n", sub, wp_agent_strerror(code),
            msg[0] ? ": " : "", msg);
    return code == WP_AGENT_EINVAL ? WP_EXIT_USAGE : WP_EXIT_FAIL;
}

static int print_json(json_t *j)
{
    char *s = j ? wp_json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s)
        return cli_fail("agent", "out of memory");
    puts(s);
    free(s);
    return fflush(stdout) == 0 ? WP_EXIT_OK : WP_EXIT_FAIL;
}

static const char *const fence_states[] = {"unknown", "inside", "outside"};

/* {"state", "since", "id", "name"} of a status. */
static json_t *fence_json(const wp_agent_status *st)
{
    char since[40];
    int k = st->fence_state >= 0 && st->fence_state <= 2 ? st->fence_state : 0;
    if (st->fence_since_us)
        wp_time_format(since, st->fence_since_us, 0);
    return json_pack("{s:s,s:s?,s:s?,s:s?}", "state", fence_states[k], "since",
                     st->fence_since_us ? since : NULL, "id",
                     st->fence_id[0] ? st->fence_id : NULL, "name",
                     st->fence_name[0] ? st->fence_name : NULL);
}

static int print_status(wp_agent *a)
{
    wp_agent_status st;
    wp_agent_status_get(a, &st);
    json_t *j = json_pack(
        "{s:b,s:s?,s:s?,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:I,s:s?}", "enrolled", st.enrolled,
        "device_id", st.device_id[0] ? st.device_id : NULL, "server",
        st.server[0] ? st.server : NULL, "next_seq", (json_int_t)st.next_seq, "acked_seq",
        (json_int_t)st.acked_seq, "outbox_events", (json_int_t)st.outbox_events, "outbox_bytes",
        (json_int_t)st.outbox_bytes, "media_pending", (json_int_t)st.media_pending, "rejected",
        (json_int_t)st.rejected, "policy_version", (json_int_t)st.policy_version, "failures",
        (int)st.failures, "retry_after_ms", (json_int_t)st.retry_after_ms, "last_error",
        st.last_error[0] ? st.last_error : NULL);
    if (j && (json_object_set_new(j, "locations_off_duty", json_string(st.locations_off_duty)) < 0 ||
              json_object_set_new(j, "on_duty", st.on_duty < 0 ? json_null()
                                                               : json_boolean(st.on_duty)) < 0 ||
              json_object_set_new(j, "time_zone", st.time_zone[0] ? json_string(st.time_zone)
                                                                  : json_null()) < 0 ||
              json_object_set_new(j, "fences", json_integer(st.fences)) < 0 ||
              json_object_set_new(j, "notes_pending", json_integer((json_int_t)st.notes_pending)) < 0 ||
              json_object_set_new(j, "notes_refused", json_integer((json_int_t)st.notes_refused)) < 0 ||
              json_object_set_new(j, "fence", fence_json(&st)) < 0)) {
        json_decref(j);
        j = NULL;
    }
    return print_json(j);
}

/* --- subcommands ---------------------------------------------------------------------------- */

static int sub_enroll(wp_agent *a)
{
    wp_agent_status st;
    wp_agent_status_get(a, &st);
    return print_json(json_pack("{s:s}", "device_id", st.device_id));
}

/* Read all of standard input. */
static char *read_all(size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            if (cap >= MAX_INPUT) {
                free(buf);
                errno = EFBIG;
                return NULL;
            }
            char *b = realloc(buf, 2 * cap + 1);
            if (!b)
                break;
            buf = b;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, stdin);
        n += r;
        if (r == 0) {
            if (ferror(stdin))
                break;
            buf[n] = '\0';
            *len = n;
            return buf;
        }
    }
    free(buf);
    return NULL;
}

static int sub_send(wp_agent *a)
{
    size_t len = 0, n = 0, cap = 0;
    const char **lines = NULL;
    size_t *lens = NULL, *lineno = NULL;
    int rc = WP_EXIT_FAIL;
    char *in = read_all(&len);
    if (!in)
        return cli_fail("agent send", "cannot read standard input: %s",
                        errno == EFBIG ? "more than 256 MiB" : strerror(errno));
    size_t no = 0;
    for (char *p = in, *end = in + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        no++;
        size_t t = l;
        while (t && (p[t - 1] == '\r' || p[t - 1] == ' ' || p[t - 1] == '\t'))
            t--;
        size_t s = 0;
        while (s < t && (p[s] == ' ' || p[s] == '\t'))
            s++;
        if (s < t) {
            if (n == cap) {
                size_t c = cap ? 2 * cap : 64;
                const char **l2 = realloc(lines, c * sizeof *l2);
                if (l2)
                    lines = l2;
                size_t *n2 = l2 ? realloc(lens, c * sizeof *n2) : NULL;
                if (n2)
                    lens = n2;
                size_t *o2 = n2 ? realloc(lineno, c * sizeof *o2) : NULL;
                if (!o2) {
                    rc = cli_fail("agent send", "out of memory");
                    goto out;
                }
                lineno = o2;
                cap = c;
            }
            lines[n] = p + s;
            lens[n] = t - s;
            lineno[n++] = no;
        }
        p += l + (nl != NULL);
    }
    if (n == 0) {
        rc = print_json(json_pack("{s:i,s:n,s:n}", "recorded", 0, "first_seq", "last_seq"));
        goto out;
    }
    int64_t first = 0;
    int err = wp_agent_record_many(a, &first, lines, lens, n);
    if (err == WP_AGENT_EINVAL) {
        /* the library names the bad event "event K: ...": the user wants the line number */
        char msg[256];
        wp_agent_last_error(a, msg, sizeof msg);
        unsigned long k = 0;
        int used = 0;
        if (sscanf(msg, "event %lu: %n", &k, &used) == 1 && used > 0 && k >= 1 && k <= n)
            fprintf(stderr, "workphone agent send: line %zu: %s; nothing recorded\n",
                    lineno[k - 1], msg + used);
        else
            fprintf(stderr, "workphone agent send: line %zu: %s; nothing recorded\n", lineno[0],
                    msg);
        rc = WP_EXIT_USAGE;
        goto out;
    }
    if (err < 0) {
        rc = fail("send", a, err);
        goto out;
    }
    rc = print_json(json_pack("{s:I,s:I,s:I}", "recorded", (json_int_t)n, "first_seq",
                              (json_int_t)first, "last_seq", (json_int_t)(first + (int64_t)n - 1)));
out:
    free(lines);
    free(lens);
    free(lineno);
    free(in);
    return rc;
}

static int sub_check(wp_agent *a)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = WP_EXIT_OK;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        size_t l = (size_t)n;
        if (l && line[l - 1] == '\n')
            l--;
        if (l && line[l - 1] == '\r')
            l--;
        char *verdict = NULL;
        int err = wp_agent_check(a, NULL, &verdict, line, l);
        if (err == WP_AGENT_EINVAL) {
            char msg[256];
            wp_agent_last_error(a, msg, sizeof msg);
            json_t *e = json_pack("{s:{s:s,s:s}}", "error", "code", "invalid_request", "message",
                                  msg);
            char *s = e ? wp_json_dumps(e, JSON_COMPACT) : NULL;
            json_decref(e);
            if (s)
                puts(s);
            free(s);
            rc = WP_EXIT_FAIL;
            continue;
        }
        if (err < 0) {
            free(line);
            return fail("check", a, err);
        }
        puts(verdict);
        wp_agent_string_free(verdict);
    }
    free(line);
    if (fflush(stdout) != 0)
        return cli_fail("agent check", "cannot write output: %s", strerror(errno));
    return rc;
}

/* One answer line of locate: an error object for a bad line. */
static void locate_error(const char *msg)
{
    json_t *e = json_pack("{s:{s:s,s:s}}", "error", "code", "invalid_request", "message", msg);
    char *s = e ? wp_json_dumps(e, JSON_COMPACT) : NULL;
    json_decref(e);
    if (s)
        puts(s);
    free(s);
}

static int sub_locate(wp_agent *a)
{
    static const char *const results[] = {"recorded", "off_duty", "left", "returned"};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = WP_EXIT_OK;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        json_t *p = json_loadb(line, (size_t)n, 0, NULL);
        json_t *lat = json_object_get(p, "lat"), *lon = json_object_get(p, "lon");
        json_t *acc = json_object_get(p, "accuracy_m"), *ts = json_object_get(p, "ts");
        int64_t ts_us = 0;
        if (!p && strspn(line, " \t\r\n") == (size_t)n)
            continue; /* a blank line */
        if (!json_is_number(lat) || !json_is_number(lon) || (acc && !json_is_number(acc)) ||
            (ts && (!json_is_string(ts) || wp_time_parse(&ts_us, json_string_value(ts)) < 0))) {
            locate_error("a line must be {\"lat\", \"lon\", \"accuracy_m\", \"ts\"} with numbers and"
                         " an rfc 3339 time");
            json_decref(p);
            rc = WP_EXIT_USAGE;
            continue;
        }
        int64_t seq = 0;
        int r = wp_agent_record_location(a, &seq, ts_us, json_number_value(lat),
                                         json_number_value(lon), acc ? json_number_value(acc) : 0);
        json_decref(p);
        if (r == WP_AGENT_EINVAL) {
            char msg[256];
            wp_agent_last_error(a, msg, sizeof msg);
            locate_error(msg);
            rc = WP_EXIT_USAGE;
            continue;
        }
        if (r < 0) {
            free(line);
            return fail("locate", a, r);
        }
        wp_agent_status st;
        wp_agent_status_get(a, &st);
        json_t *o = json_pack("{s:s,s:o,s:o}", "result", results[r], "seq",
                              seq ? json_integer(seq) : json_null(), "fence", fence_json(&st));
        char *s = o ? wp_json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (!s) {
            free(line);
            return cli_fail("agent locate", "out of memory");
        }
        puts(s);
        free(s);
    }
    free(line);
    if (fflush(stdout) != 0)
        return cli_fail("agent locate", "cannot write output: %s", strerror(errno));
    return rc;
}

int cmd_agent(int argc, char **argv)
{
    static const struct {
        const char *name, *help;
    } subs[] = {{"enroll", help_enroll}, {"send", help_send}, {"sync", help_sync},
                {"status", help_status}, {"check", help_check}, {"locate", help_locate}};
    const char *dir = NULL, *server = NULL, *code = NULL, *serial = NULL, *model = NULL,
               *attempts = NULL;
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(help, argc < 2 ? stderr : stdout);
        return argc < 2 ? WP_EXIT_USAGE : WP_EXIT_OK;
    }
    const char *sub = argv[1];
    size_t k = 0;
    while (k < sizeof subs / sizeof subs[0] && strcmp(subs[k].name, sub))
        k++;
    if (k == sizeof subs / sizeof subs[0])
        return cli_usage_error("agent", "unknown subcommand '%s' (see --help)", sub);
    if (cli_wants_help(argc - 1, argv + 1)) {
        fputs(subs[k].help, stdout);
        return WP_EXIT_OK;
    }
    char cmdname[32];
    snprintf(cmdname, sizeof cmdname, "agent %s", sub);
    for (int i = 2; i < argc; i++) {
        int r;
        if ((r = cli_opt(argc, argv, &i, cmdname, "dir", &dir)) ||
            (r = cli_opt(argc, argv, &i, cmdname, "server", &server)) ||
            (r = cli_opt(argc, argv, &i, cmdname, "code", &code)) ||
            (r = cli_opt(argc, argv, &i, cmdname, "serial", &serial)) ||
            (r = cli_opt(argc, argv, &i, cmdname, "model", &model)) ||
            (r = cli_opt(argc, argv, &i, cmdname, "attempts", &attempts))) {
            if (r < 0)
                return WP_EXIT_USAGE;
            continue;
        }
        return cli_usage_error(cmdname, "unexpected argument '%s'", argv[i]);
    }
    int is_enroll = !strcmp(sub, "enroll"), is_sync = !strcmp(sub, "sync");
    if (!dir)
        return cli_usage_error(cmdname, "--dir is required");
    if (is_enroll && (!server || !code))
        return cli_usage_error(cmdname, "--server and --code are required");
    if (!is_enroll && (code || serial || model))
        return cli_usage_error(cmdname, "--code, --serial and --model go with enroll only");
    if (server && !is_enroll && !is_sync)
        return cli_usage_error(cmdname, "--server goes with enroll and sync only");
    if (attempts && !is_sync)
        return cli_usage_error(cmdname, "--attempts goes with sync only");

    wp_agent_options o = WP_AGENT_OPTIONS_INIT;
    o.dir = dir;
    if (attempts) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(attempts, &end, 10);
        if (!*attempts || *end || errno || v == 0 || v > 100)
            return cli_usage_error(cmdname, "--attempts must be a number from 1 to 100");
        o.max_attempts = (unsigned)v;
    }
    wp_agent *a = NULL;
    wp_error_clear();
    int err = wp_agent_new(&a, &o);
    if (err < 0) {
        /* the outbox's durability check says which file and why (the handle is gone) */
        fprintf(stderr, "workphone %s: cannot open '%s': %s\n", cmdname, dir,
                *wp_error_last() ? wp_error_last() : wp_agent_strerror(err));
        return WP_EXIT_FAIL;
    }
    int rc;
    if (is_enroll) {
        err = wp_agent_enroll(a, server, code, serial, model);
        rc = err < 0 ? fail(sub, a, err) : sub_enroll(a);
    } else if (is_sync) {
        err = server ? wp_agent_set_server(a, server) : 0;
        if (err == 0)
            err = wp_agent_sync(a);
        if (err < 0) {
            rc = fail(sub, a, err);
            if (rc == WP_EXIT_USAGE && err != WP_AGENT_EINVAL)
                rc = WP_EXIT_FAIL;
        } else {
            rc = print_status(a);
        }
    } else if (!strcmp(sub, "send")) {
        rc = sub_send(a);
    } else if (!strcmp(sub, "status")) {
        rc = print_status(a);
    } else if (!strcmp(sub, "locate")) {
        rc = sub_locate(a);
    } else {
        rc = sub_check(a);
    }
    wp_agent_free(a);
    return rc;
}
