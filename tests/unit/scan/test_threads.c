/* SPDX-License-Identifier: MIT */
/* Sharing: scanners and a tenant slot used by several threads while lexicons are swapped. */
#include "test_scan.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

static const char lex_a[] = "飞单\tA\tblock\n保本\tA\talert\nre:私.\tA\tmask\n";
static const char lex_b[] = "飞单\tB\talert\n私单\tB\tmask\nallow:保本\n";
static const char text[] = "飞单私单保本 13800138000";

static wp_scan_slot *slot;
static atomic_bool done;
static atomic_size_t scans, bad;

/* A result must come wholly from one of the two lexicons. */
static bool consistent(const wp_scan_result *r)
{
    static const struct want {
        size_t start, end;
        const char *category;
        enum wp_scan_action action;
    } a[] = {{0, 6, "A", WP_SCAN_BLOCK},
             {6, 12, "A", WP_SCAN_MASK},
             {12, 18, "A", WP_SCAN_ALERT},
             {19, 30, "pii.mobile", WP_SCAN_MASK}},
      b[] = {{0, 6, "B", WP_SCAN_ALERT}, /* 保本 is allowed in B */
             {6, 12, "B", WP_SCAN_MASK},
             {19, 30, "pii.mobile", WP_SCAN_MASK}};
    const struct want *w = r->n == 4 ? a : r->n == 3 ? b : NULL;
    if (!w || r->action != (w == a ? WP_SCAN_BLOCK : WP_SCAN_ALERT))
        return false;
    for (size_t i = 0; i < r->n; i++) {
        const wp_scan_match *m = &r->matches[i];
        if (m->start != w[i].start || m->end != w[i].end || strcmp(m->category, w[i].category) ||
            m->action != w[i].action)
            return false;
    }
    return true;
}

static void *reader(void *arg)
{
    (void)arg;
    wp_scan_result r;
    wp_scan_result_init(&r);
    while (!atomic_load(&done)) {
        wp_scanner *s = wp_scan_slot_get(slot);
        if (!s)
            continue;
        if (wp_scan_run(s, text, sizeof text - 1, &r) != 0 || !consistent(&r))
            atomic_fetch_add(&bad, 1);
        wp_scanner_unref(s);
        atomic_fetch_add(&scans, 1);
    }
    wp_scan_result_release(&r);
    return NULL;
}

static void test_scan_threads__slot_swapped_while_scanning(void **state)
{
    (void)state;
    assert_int_equal(wp_scan_slot_new(&slot), 0);
    assert_null(wp_scan_slot_get(slot));
    atomic_store(&done, false);
    atomic_store(&scans, 0);
    atomic_store(&bad, 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reader, NULL), 0);
    for (int i = 0; i < 300; i++) {
        const char *lex = i % 2 ? lex_b : lex_a;
        wp_scanner *s = NULL;
        assert_int_equal(wp_scan_compile(&s, lex, strlen(lex), NULL), 0);
        wp_scan_slot_set(slot, s);
        wp_scanner_unref(s); /* the slot holds its own reference */
        /* let the readers scan with this one before the next swap */
        size_t seen = atomic_load(&scans);
        while (atomic_load(&scans) < seen + 4)
            sched_yield();
    }
    atomic_store(&done, true);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(atomic_load(&bad), 0);
    assert_true(atomic_load(&scans) >= 1200);
    wp_scan_slot_set(slot, NULL);
    assert_null(wp_scan_slot_get(slot));
    wp_scan_slot_free(slot);
    wp_scan_slot_free(NULL);
}

static wp_scanner *shared;

static void *scan_shared(void *arg)
{
    (void)arg;
    wp_scan_result r;
    wp_scan_result_init(&r);
    for (int i = 0; i < 2000; i++) {
        wp_scanner *s = wp_scanner_ref(shared);
        if (wp_scan_run(s, text, sizeof text - 1, &r) != 0 || !consistent(&r))
            atomic_fetch_add(&bad, 1);
        wp_scanner_unref(s);
    }
    wp_scan_result_release(&r);
    return NULL;
}

static void test_scan_threads__one_scanner_many_threads(void **state)
{
    (void)state;
    shared = compile_ok(lex_a, 0);
    atomic_store(&bad, 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, scan_shared, NULL), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(atomic_load(&bad), 0);
    wp_scanner_unref(shared);
}

const struct CMUnitTest scan_threads_tests[] = {
    cmocka_unit_test(test_scan_threads__slot_swapped_while_scanning),
    cmocka_unit_test(test_scan_threads__one_scanner_many_threads),
};
const size_t scan_threads_ntests = sizeof scan_threads_tests / sizeof scan_threads_tests[0];
