/* SPDX-License-Identifier: MIT */
/* The test hooks' switch and values: read from the environment once, by main(). */
#include "util/testhooks.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/json.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

static wp_test_hooks hooks;

/* A whole number lo..hi from the variable name; *out untouched when it is unset or empty. */
static int number(const char *name, unsigned lo, unsigned hi, unsigned *out)
{
    const char *v = getenv(name);
    char *end = NULL;
    if (!v || !*v)
        return 0;
    unsigned long n = strtoul(v, &end, 10);
    if (*end || *v == '-' || *v == '+' || *v == ' ' || n < lo || n > hi)
        return wp_error_set(WP_EINVAL, "%s must be %u..%u", name, lo, hi);
    *out = (unsigned)n;
    return 0;
}

int wp_test_hooks_load(void)
{
    const char *sw = getenv("WORKPHONE_TEST_HOOKS"), *v;
    wp_test_hooks h = {.on = 1};
    int64_t us = 0;
    int err;
    memset(&hooks, 0, sizeof hooks);
    if (!sw || !*sw || !strcmp(sw, "0"))
        return 0;
    if (strcmp(sw, "1"))
        return wp_error_set(WP_EINVAL, "WORKPHONE_TEST_HOOKS must be 1 (or 0, or unset)");
    if ((err = number("WORKPHONE_TEST_HANDOVER_FAIL_AFTER", 1, 1000000,
                      &h.handover_fail_after)) < 0 ||
        (err = number("WORKPHONE_JOBS_INTERVAL_S", 1, 86400, &h.jobs_interval_s)) < 0 ||
        (err = number("WORKPHONE_AUDIT_CHECKPOINT_S", 1, 86400, &h.audit_checkpoint_s)) < 0 ||
        (err = number("WORKPHONE_WECOM_INTERVAL_S", 1, 86400, &h.wecom_interval_s)) < 0 ||
        (err = number("WORKPHONE_TEST_JOBS_KILL_AFTER", 1, 1000000, &h.jobs_kill_after)) < 0 ||
        (err = number("WORKPHONE_TEST_MIGRATE_TO", 1, 100000, &h.migrate_to)) < 0 ||
        (err = number("WORKPHONE_TEST_MIGRATION_EXTRA", 1, 1, &h.migration_extra)) < 0 ||
        (err = number("WORKPHONE_TEST_AUDIT_FAIL_BATCHES", 1, 1000000, &h.audit_fail_batches)) < 0 ||
        (err = number("WORKPHONE_TEST_SQLITE_BUSY_MS", 1, 60000, &h.sqlite_busy_ms)) < 0)
        return err;
    if ((v = getenv("WORKPHONE_TEST_SQLITE_NOT_FULL")) && *v) {
        if (strcmp(v, "1") && strcmp(v, "0"))
            return wp_error_set(WP_EINVAL, "WORKPHONE_TEST_SQLITE_NOT_FULL must be 1 or 0");
        h.sqlite_not_full = !strcmp(v, "1");
    }
    if ((v = getenv("WORKPHONE_FAKE_NOW")) && *v && wp_time_parse(&us, v) < 0)
        return wp_error_set(WP_EINVAL, "WORKPHONE_FAKE_NOW: '%.40s' is not an RFC 3339 time", v);
    if ((v = getenv("WORKPHONE_TEST_CLOCK")) && *v && (err = wp_time__follow(v)) < 0)
        return err;
    if ((v = getenv("WORKPHONE_FAKE_NOW")) && *v)
        wp_time_set_fake(us);
    if ((v = getenv("WORKPHONE_TEST_WRITER_HOLD")) && *v)
        h.writer_hold_file = v;
    hooks = h;
    return 0;
}

const wp_test_hooks *wp_test_hooks_get(void)
{
    return &hooks;
}

void wp_test_hooks_job_step(void)
{
    static unsigned steps;
    if (hooks.jobs_kill_after &&
        __atomic_add_fetch(&steps, 1, __ATOMIC_SEQ_CST) == hooks.jobs_kill_after)
        raise(SIGKILL);
}

static _Thread_local unsigned store_countdown;
static _Thread_local int store_fired;

void wp_test_hooks_store_arm(unsigned n)
{
    store_countdown = hooks.on ? n : 0;
    store_fired = 0;
}

int wp_test_hooks_store_op(const char *script)
{
    if (!store_countdown || (script && !strncmp(script, "ROLLBACK", 8)))
        return 0;
    if (--store_countdown)
        return 0;
    store_fired = 1;
    return wp_error_set(WP_EIO, "store: injected failure (X-Workphone-Test-Fail)");
}

int wp_test_hooks_store_fired(void)
{
    return store_fired;
}

static _Thread_local unsigned alloc_countdown;
static _Thread_local int alloc_fired;

void wp_test_hooks_alloc_arm(unsigned n)
{
    alloc_countdown = hooks.on ? n : 0;
    alloc_fired = 0;
}

int wp_test_hooks_alloc_fails(void)
{
    if (!alloc_countdown || --alloc_countdown)
        return 0;
    alloc_fired = 1;
    return 1;
}

void *wp_test_hooks_malloc(size_t n)
{
    return !wp_json_parsing() && wp_test_hooks_alloc_fails() ? NULL : malloc(n);
}

int wp_test_hooks_alloc_fired(void)
{
    return alloc_fired;
}
