/* SPDX-License-Identifier: MIT */
/* The lexicon format (CONTRACT §2): fields, defaults, comments, and every error with its
 * file and line. */
#include "test_scan.h"

#define ERR(lex, src) compile_err((lex), sizeof(lex) - 1, (src))

static void assert_msg(const char *want)
{
    if (strcmp(wp_error_last(), want) != 0)
        fail_msg("message '%s', want '%s'", wp_error_last(), want);
}

static void assert_msg_prefix(const char *want)
{
    if (strncmp(wp_error_last(), want, strlen(want)) != 0)
        fail_msg("message '%s', want it to begin '%s'", wp_error_last(), want);
}

static void test_scan_lexicon__fields_and_defaults(void **state)
{
    (void)state;
    wp_scanner *s = compile_ok("# comment\n"
                               "\n"
                               "飞单\tprivate_deal\tblock\n"
                               "私单\tprivate_deal\n"
                               "加我私人微信\n"
                               "返佣\t\tmask\n"
                               "   \n"
                               "好处费\tbribe\tBLOCK\n",
                               0);
    assert_int_equal(wp_scanner_pattern_count(s), 5);
    assert_true(wp_scanner_memory(s) > 0);
    wp_scan_result r;
    wp_scan_result_init(&r);
    const char *t = "飞单私单加我私人微信返佣好处费";
    scan_ok(s, t, &r);
    assert_int_equal(r.n, 5);
    assert_string_equal(r.matches[0].category, "private_deal");
    assert_int_equal(r.matches[0].action, WP_SCAN_BLOCK);
    assert_string_equal(r.matches[1].category, "private_deal");
    assert_int_equal(r.matches[1].action, WP_SCAN_ALERT);
    assert_string_equal(r.matches[2].category, "custom");
    assert_int_equal(r.matches[2].action, WP_SCAN_ALERT);
    assert_string_equal(r.matches[3].category, "custom");
    assert_int_equal(r.matches[3].action, WP_SCAN_MASK);
    assert_string_equal(r.matches[4].pattern, "好处费");
    assert_int_equal(r.matches[4].action, WP_SCAN_BLOCK);
    assert_int_equal(r.action, WP_SCAN_BLOCK);
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
}

static void test_scan_lexicon__crlf_bom_trailing_blanks(void **state)
{
    (void)state;
    wp_scanner *s = compile_ok("\xEF\xBB\xBF飞单\tdeal\tblock\r\n"
                               "私单\tdeal2 \t alert \r\n"
                               "保本\tpromise\tmask\t \r\n",
                               0);
    wp_scan_result r;
    wp_scan_result_init(&r);
    scan_ok(s, "飞单", &r);
    assert_one("飞单", &r, "飞单", 0, 6);
    assert_string_equal(r.matches[0].category, "deal");
    assert_int_equal(r.matches[0].action, WP_SCAN_BLOCK);
    scan_ok(s, "保本", &r);
    assert_one("保本", &r, "保本", 0, 6);
    assert_string_equal(r.matches[0].category, "promise");
    assert_int_equal(r.matches[0].action, WP_SCAN_MASK);
    /* spaces around a category or an action are not part of it */
    scan_ok(s, "私单", &r);
    assert_one("私单", &r, "私单", 0, 6);
    assert_string_equal(r.matches[0].category, "deal2");
    assert_int_equal(r.matches[0].action, WP_SCAN_ALERT);
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
}

static void test_scan_lexicon__unknown_action(void **state)
{
    (void)state;
    assert_int_equal(ERR("# rules\n\n飞单\tdeal\tblock\r\n私单\tdeal\tblok\n", "rules.txt"),
                     WP_EINVAL);
    assert_msg("rules.txt:4: unknown action 'blok' (alert, block or mask)");
    assert_int_equal(ERR("飞单\tdeal\tblok", NULL), WP_EINVAL);
    assert_msg_prefix("lexicon:1: unknown action 'blok'");
}

static void test_scan_lexicon__errors_name_the_line(void **state)
{
    (void)state;
    assert_int_equal(ERR("ok\n\tcat\n", "f"), WP_EINVAL);
    assert_msg("f:2: empty pattern");
    assert_int_equal(ERR("ok\n***\tcat\n", "f"), WP_EINVAL);
    assert_msg("f:2: pattern '***' has no letters or digits");
    assert_int_equal(ERR("ok\n\xff\xfe\n", "f"), WP_EINVAL);
    assert_msg("f:2: invalid utf-8 in pattern");
    assert_int_equal(ERR("a\tb\tblock\textra\n", "f"), WP_EINVAL);
    assert_msg("f:1: too many fields (pattern, category, action at most)");
    assert_int_equal(ERR("ok\nre:\n", "f"), WP_EINVAL);
    assert_msg("f:2: empty regex");
    assert_int_equal(ERR("ok\nallow:\tx\n", "f"), WP_EINVAL);
    assert_msg("f:2: empty allow pattern");
    assert_int_equal(ERR("allow:。。。\n", "f"), WP_EINVAL);
    assert_msg_prefix("f:1: pattern '");
    assert_int_equal(ERR("ok\nbad\0nul\n", "f"), WP_EINVAL);
    assert_msg("f:2: nul byte in line");
    assert_int_equal(ERR("ok\tcat\xff\n", "f"), WP_EINVAL);
    assert_msg("f:1: invalid utf-8 or control character in category");
}

static void test_scan_lexicon__bad_regex(void **state)
{
    (void)state;
    assert_int_equal(ERR("飞单\nre:返(\\d+个点\n", "rules.txt"), WP_EINVAL);
    assert_msg("rules.txt:2: bad regex: missing closing parenthesis at offset 13");
    /* offsets are in the regex as written, even where folding changed its length */
    assert_int_equal(ERR("re:ＶＸa{2,1}\n", "r"), WP_EINVAL);
    assert_msg("r:1: bad regex: numbers out of order in {} quantifier at offset 11");
}

static void test_scan_lexicon__limits(void **state)
{
    (void)state;
    char big[WP_SCAN_MAX_PATTERN_BYTES + 8];
    memset(big, 'a', sizeof big);
    big[WP_SCAN_MAX_PATTERN_BYTES + 1] = '\n';
    assert_int_equal(compile_err(big, WP_SCAN_MAX_PATTERN_BYTES + 2, "f"), WP_ELIMIT);
    assert_msg("f:1: pattern longer than 1024 bytes");
    /* exactly at the limit is fine */
    wp_scanner *s = NULL;
    assert_int_equal(wp_scan_compile(&s, big, WP_SCAN_MAX_PATTERN_BYTES, NULL), 0);
    wp_scanner_unref(s);

    size_t n = (size_t)WP_SCAN_MAX_LEXICON_BYTES + 1;
    char *huge = malloc(n);
    assert_non_null(huge);
    memset(huge, '\n', n);
    assert_int_equal(compile_err(huge, n, "f"), WP_ELIMIT);
    assert_msg_prefix("f: lexicon larger than");
    free(huge);
}

static void test_scan_lexicon__duplicates_last_wins(void **state)
{
    (void)state;
    wp_scanner *s = compile_ok("飞单\tfirst\talert\n"
                               "飛單\tsecond\tblock\n"
                               "re:a+b\tre1\talert\n"
                               "re:a+b\tre2\tmask\n"
                               "私单\tx\n",
                               0);
    assert_int_equal(wp_scanner_pattern_count(s), 3);
    wp_scan_result r;
    wp_scan_result_init(&r);
    scan_ok(s, "飞单 aab", &r);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.matches[0].pattern, "飛單");
    assert_string_equal(r.matches[0].category, "second");
    assert_int_equal(r.matches[0].action, WP_SCAN_BLOCK);
    assert_string_equal(r.matches[1].category, "re2");
    assert_int_equal(r.matches[1].action, WP_SCAN_MASK);
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
}

static void test_scan_lexicon__empty_lexicon(void **state)
{
    (void)state;
    wp_scanner *s = compile_ok("# nothing\n\n", 0);
    assert_int_equal(wp_scanner_pattern_count(s), 0);
    wp_scan_result r;
    wp_scan_result_init(&r);
    scan_ok(s, "飞单 13800138000", &r); /* the PII detectors still work */
    assert_int_equal(r.n, 1);
    assert_string_equal(r.matches[0].category, "pii.mobile");
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
    assert_int_equal(wp_scan_compile(&s, "", 0, NULL), 0);
    wp_scanner_unref(s);
}

static void test_scan_lexicon__default_lexicon_compiles(void **state)
{
    (void)state;
    const char *root = getenv("WORKPHONE_SOURCE_ROOT");
    if (!root)
        skip();
    char path[4096];
    snprintf(path, sizeof path, "%s/data/lexicon/default.txt", root);
    FILE *f = fopen(path, "rb");
    if (!f)
        skip();
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    wp_scan_options o = WP_SCAN_OPTIONS_INIT;
    o.source_name = "default.txt";
    wp_scanner *s = NULL;
    if (wp_scan_compile(&s, buf, n, &o) != 0)
        fail_msg("%s", wp_error_last());
    assert_true(wp_scanner_pattern_count(s) > 0);
    wp_scanner_unref(s);
}

const struct CMUnitTest scan_lexicon_tests[] = {
    cmocka_unit_test(test_scan_lexicon__fields_and_defaults),
    cmocka_unit_test(test_scan_lexicon__crlf_bom_trailing_blanks),
    cmocka_unit_test(test_scan_lexicon__unknown_action),
    cmocka_unit_test(test_scan_lexicon__errors_name_the_line),
    cmocka_unit_test(test_scan_lexicon__bad_regex),
    cmocka_unit_test(test_scan_lexicon__limits),
    cmocka_unit_test(test_scan_lexicon__duplicates_last_wins),
    cmocka_unit_test(test_scan_lexicon__empty_lexicon),
    cmocka_unit_test(test_scan_lexicon__default_lexicon_compiles),
};
const size_t scan_lexicon_ntests = sizeof scan_lexicon_tests / sizeof scan_lexicon_tests[0];
