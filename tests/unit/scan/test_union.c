/* SPDX-License-Identifier: MIT */
/* The union of a chain of lexicons (scan/union.h): the nearer level wins, a unit's allow:
 * never lifts a block set above it. */
#include "test_scan.h"

#include "scan/union.h"

/* The union of up to four levels, labelled u1, u2, u3 below the tenant. Caller frees. */
static char *unite(wp_scan_union_report *rep, const char *t0, const char *t1, const char *t2,
                   const char *t3)
{
    const char *texts[4] = {t0, t1, t2, t3};
    static const char *const labels[4] = {NULL, "u1", "u2", "u3"};
    wp_scan_level lv[4];
    size_t n = 0;
    while (n < 4 && texts[n]) {
        lv[n].text = texts[n];
        lv[n].len = strlen(texts[n]);
        lv[n].label = labels[n];
        n++;
    }
    wp_buf b;
    wp_buf_init(&b, 1 << 20);
    int err = wp_scan_union(&b, rep, lv, n);
    if (err != 0)
        fail_msg("union failed (%d): %s", err, wp_error_last());
    size_t len;
    return wp_buf_detach(&b, &len);
}

/* The verdict of text under the union's lexicon. */
static enum wp_scan_action verdict_of(const char *lex, const char *text)
{
    wp_scanner *s = compile_ok(lex, WP_SCAN_NO_PII);
    wp_scan_result r;
    wp_scan_result_init(&r);
    scan_ok(s, text, &r);
    enum wp_scan_action a = r.action;
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
    return a;
}

static void test_scan_union__nearer_unit_wins(void **state)
{
    (void)state;
    wp_scan_union_report rep = {0};
    char *u = unite(&rep, "飞单\tprivate_deal\tblock\n私单\tprivate_deal\talert\n",
                    "飞单\tprivate_deal\talert\n私单\tprivate_deal\tblock\n", NULL, NULL);
    assert_int_equal(verdict_of(u, "这笔飞单"), WP_SCAN_ALERT);
    assert_int_equal(verdict_of(u, "这笔私单"), WP_SCAN_BLOCK);
    assert_int_equal(rep.n, 0);
    free(u);
    /* three levels: the store's word beats the region's, the region's the tenant's */
    u = unite(NULL, "看房\tcustom\talert\n", "看房\tproperty\tblock\n", "看房\tproperty\tmask\n",
              NULL);
    assert_int_equal(verdict_of(u, "周末看房"), WP_SCAN_MASK);
    free(u);
    u = unite(NULL, "看房\tcustom\talert\n", "看房\tproperty\tblock\n", "# nothing\n", NULL);
    assert_int_equal(verdict_of(u, "周末看房"), WP_SCAN_BLOCK);
    free(u);
    /* spelling variants are one pattern: 飛單 in a unit is 飞单 */
    u = unite(NULL, "飞单\tprivate_deal\tblock\n", "飛單\tprivate_deal\talert\n", NULL, NULL);
    assert_int_equal(verdict_of(u, "飞单"), WP_SCAN_ALERT);
    free(u);
}

static void test_scan_union__entries_add_up(void **state)
{
    (void)state;
    char *u = unite(NULL, "保本\tfalse_promise\talert\n", "看房\tcustom\tblock\n",
                    "re:返[0-9]个点\trebate\talert\n", NULL);
    assert_int_equal(verdict_of(u, "保本"), WP_SCAN_ALERT);
    assert_int_equal(verdict_of(u, "看房"), WP_SCAN_BLOCK);
    assert_int_equal(verdict_of(u, "返3个点"), WP_SCAN_ALERT);
    assert_int_equal(verdict_of(u, "你好"), WP_SCAN_NONE);
    free(u);
}

static void test_scan_union__allow_never_lifts_a_block_above(void **state)
{
    (void)state;
    wp_scan_union_report rep = {0};
    char *u = unite(&rep, "飞单\tprivate_deal\tblock\n私单\tprivate_deal\talert\n",
                    "# the store's exceptions\nallow:严禁飞单\nallow:隐私单独\n", NULL, NULL);
    assert_int_equal(verdict_of(u, "公司严禁飞单"), WP_SCAN_BLOCK);
    /* an exception to an alert set above holds */
    assert_int_equal(verdict_of(u, "客户隐私单独保存"), WP_SCAN_NONE);
    assert_int_equal(rep.n, 1);
    assert_int_equal(rep.items[0].level, 1);
    assert_int_equal(rep.items[0].line, 2);
    assert_string_equal(rep.items[0].allow, "allow:严禁飞单");
    assert_string_equal(rep.items[0].blocked, "飞单");
    assert_int_equal(rep.items[0].blocked_level, 0);
    assert_non_null(strstr(u, "# not applied (would lift the block of '飞单' set above): "
                              "allow:严禁飞单\n"));
    wp_scan_union_report_release(&rep);
    free(u);

    /* the tenant's own exception lifts its own block, as in one lexicon */
    u = unite(&rep, "飞单\tprivate_deal\tblock\nallow:严禁飞单\n", "私单\n", NULL, NULL);
    assert_int_equal(verdict_of(u, "公司严禁飞单"), WP_SCAN_NONE);
    assert_int_equal(rep.n, 0);
    free(u);

    /* a unit's exception to its own block holds */
    u = unite(&rep, "飞单\tprivate_deal\tblock\n", "看房\tcustom\tblock\nallow:不看房\n", NULL,
              NULL);
    assert_int_equal(verdict_of(u, "今天不看房"), WP_SCAN_NONE);
    assert_int_equal(rep.n, 0);
    free(u);

    /* a region's block holds against the store's exception; a region's exception does not lift
     * the tenant's block either */
    u = unite(&rep, "飞单\tprivate_deal\tblock\n", "allow:严禁飞单\n看房\tcustom\tblock\n",
              "allow:不准看房\n", NULL);
    assert_int_equal(verdict_of(u, "公司严禁飞单"), WP_SCAN_BLOCK);
    assert_int_equal(verdict_of(u, "今天不准看房"), WP_SCAN_BLOCK);
    assert_int_equal(rep.n, 2);
    assert_int_equal(rep.items[0].level, 1);
    assert_int_equal(rep.items[0].blocked_level, 0);
    assert_int_equal(rep.items[1].level, 2);
    assert_string_equal(rep.items[1].blocked, "看房");
    assert_int_equal(rep.items[1].blocked_level, 1);
    wp_scan_union_report_release(&rep);
    free(u);

    /* a regex block above, met inside the exception's text */
    u = unite(&rep, "re:返[0-9]个点\trebate\tblock\n", "allow:不返3个点\n", NULL, NULL);
    assert_int_equal(verdict_of(u, "我们不返3个点"), WP_SCAN_BLOCK);
    assert_int_equal(rep.n, 1);
    assert_string_equal(rep.items[0].blocked, "re:返[0-9]个点");
    wp_scan_union_report_release(&rep);
    free(u);
}

static void test_scan_union__the_nearer_action_decides_the_lift(void **state)
{
    (void)state;
    wp_scan_union_report rep = {0};
    /* the unit made 飞单 an alert: its exception lifts an alert of its own, not a block */
    char *u = unite(&rep, "飞单\tprivate_deal\tblock\n",
                    "飞单\tprivate_deal\talert\nallow:严禁飞单\n", NULL, NULL);
    assert_int_equal(verdict_of(u, "公司严禁飞单"), WP_SCAN_NONE);
    assert_int_equal(verdict_of(u, "飞单"), WP_SCAN_ALERT);
    assert_int_equal(rep.n, 0);
    free(u);
    /* an alert above made a block by the unit below the exception: the exception was set
     * above that block, and stays */
    u = unite(&rep, "飞单\tprivate_deal\talert\n", "allow:严禁飞单\n", "飞单\tprivate_deal\tblock\n",
              NULL);
    assert_int_equal(rep.n, 0);
    assert_int_equal(verdict_of(u, "公司严禁飞单"), WP_SCAN_NONE);
    free(u);
}

static void test_scan_union__text(void **state)
{
    (void)state;
    /* the tenant's text as it is, each unit after its label; a unit's BOM dropped; a missing
     * last newline added */
    char *u = unite(NULL, "# top\n飞单\tprivate_deal\tblock", "\xEF\xBB\xBF看房\r\n\n# c\n",
                    NULL, NULL);
    assert_string_equal(u, "# top\n飞单\tprivate_deal\tblock\n# ---- u1\n看房\r\n\n# c\n");
    free(u);
    u = unite(NULL, "飞单\n", NULL, NULL, NULL);
    assert_string_equal(u, "飞单\n");
    free(u);
    u = unite(NULL, "", "", NULL, NULL);
    assert_string_equal(u, "# ---- u1\n");
    free(u);

    /* a level that does not parse is named with its label and line */
    wp_scan_level lv[2] = {{"a\n", 2, NULL}, {"b\n\nc\tx\tblok\n", 12, "org unit x"}};
    wp_buf b;
    wp_buf_init(&b, 1024);
    assert_int_equal(wp_scan_union(&b, NULL, lv, 2), WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "org unit x:3:"));
    wp_buf_release(&b);
}

const struct CMUnitTest scan_union_tests[] = {
    cmocka_unit_test(test_scan_union__nearer_unit_wins),
    cmocka_unit_test(test_scan_union__entries_add_up),
    cmocka_unit_test(test_scan_union__allow_never_lifts_a_block_above),
    cmocka_unit_test(test_scan_union__the_nearer_action_decides_the_lift),
    cmocka_unit_test(test_scan_union__text),
};
const size_t scan_union_ntests = sizeof scan_union_tests / sizeof scan_union_tests[0];
