/* SPDX-License-Identifier: MIT */
/* Matching: offsets in the original text, evasions, leftmost-longest, allow entries,
 * regexes, masking, raw mode, large lines and large lexicons. */
#include "test_scan.h"

/* The example lexicon of CONTRACT §2, as printed there. */
static const char contract_lexicon[] =
    "# A line is PATTERN, then optionally TAB CATEGORY, then optionally TAB ACTION.\n"
    "# ACTION is alert | block | mask (default alert); CATEGORY defaults to \"custom\".\n"
    "# Blank lines and lines starting with # are ignored.\n"
    "飞单\tprivate_deal\tblock\n"
    "私单\tprivate_deal\talert\n"
    "保本保息\tfalse_promise\tblock\n"
    "加我私人微信\tcontact_leak\n"
    "# a pattern beginning \"re:\" is a regular expression (PCRE2 syntax), matched on the "
    "normalized text\n"
    "re:返[0-9]{1,2}个点\trebate\talert\n"
    "# a pattern beginning \"allow:\" is text that must never be flagged: a match lying inside "
    "it is dropped\n"
    "allow:单飞行程\n";

static void test_scan_match__contract_example(void **state)
{
    (void)state;
    wp_scanner *s = compile_ok(contract_lexicon, 0);
    assert_int_equal(wp_scanner_pattern_count(s), 6);
    wp_scan_result r;
    wp_scan_result_init(&r);
    const char *t = "这笔可以飞*单给你";
    scan_ok(s, t, &r);
    assert_one(t, &r, "飞单", 12, 19);
    assert_string_equal(r.matches[0].category, "private_deal");
    assert_int_equal(r.matches[0].action, WP_SCAN_BLOCK);
    assert_int_equal(r.action, WP_SCAN_BLOCK);
    assert_memory_equal(t + 12, "飞*单", 7);
    assert_string_equal(masked(t, strlen(t), &r), "这笔可以***给你");
    assert_string_equal(wp_scan_action_name(r.action), "block");
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
}

static void test_scan_match__evasions(void **state)
{
    (void)state;
    wp_scanner *s = compile_ok("飞单\tdeal\tblock\n加我vx\tcontact\n", 0);
    wp_scan_result r;
    wp_scan_result_init(&r);
    static const struct {
        const char *text, *pattern;
        size_t start, end;
    } cases[] = {
        {"飞单", "飞单", 0, 6},
        {"飞 单", "飞单", 0, 7},
        {"飞*单", "飞单", 0, 7},
        {"飛單", "飞单", 0, 6},
        {"飛 单", "飞单", 0, 7},
        {"飞\u200b单", "飞单", 0, 9},
        {"飞\u200d\ufe0f单", "飞单", 0, 12},
        {"飞😀单", "飞单", 0, 10},
        {"飞，单", "飞单", 0, 9},
        {"加我ＶＸ", "加我vx", 0, 12},
        {"加我VX", "加我vx", 0, 8},
        {"加 我 Ⓥ ⓧ", "加我vx", 0, 15},
        {"加我🆅🆇", "加我vx", 0, 14},
        {"加我ѵх", "加我vx", 0, 10}, /* Cyrillic look-alikes */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        scan_ok(s, cases[i].text, &r);
        assert_one(cases[i].text, &r, cases[i].pattern, cases[i].start, cases[i].end);
    }
    scan_ok(s, "飞机单程", &r); /* a letter between breaks the word */
    assert_int_equal(r.n, 0);
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
}

static void test_scan_match__pattern_forms_fold_too(void **state)
{
    (void)state;
    wp_scanner *s = compile_ok("飛單\ta\n加 我 Ｖ Ｘ\tb\n", 0);
    wp_scan_result r;
    wp_scan_result_init(&r);
    scan_ok(s, "飞单 加我vx", &r);
    assert_int_equal(r.n, 2);
    assert_int_equal(find_match(&r, "飛單", 0, 6), 0);
    assert_int_equal(find_match(&r, "加 我 Ｖ Ｘ", 7, 15), 1);
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
}

static void test_scan_match__offsets_in_multibyte_text(void **state)
{
    (void)state;
    wp_scanner *s = compile_ok("飞单\tdeal\nvx\tc\n", WP_SCAN_NO_PII);
    wp_scan_result r;
    wp_scan_result_init(&r);
    const char *t = "ab飞单cd";
    scan_ok(s, t, &r);
    assert_one(t, &r, "飞单", 2, 8);
    t = "😀🎉飞单é";
    scan_ok(s, t, &r);
    assert_one(t, &r, "飞单", 8, 14);
    t = "é飞单";
    scan_ok(s, t, &r);
    assert_one(t, &r, "飞单", 2, 8);
    t = "中文VX中文";
    scan_ok(s, t, &r);
    assert_one(t, &r, "vx", 6, 8);
    /* matches are sorted by start and masked per character */
    t = "飞单和飞单";
    scan_ok(s, t, &r);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.matches[0].start, 0);
    assert_int_equal(r.matches[1].start, 9);
    assert_string_equal(masked(t, strlen(t), &r), "**和**");
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
}

static void test_scan_match__invalid_utf8_around_and_inside(void **state)
{
    (void)state;
    wp_scanner *s = compile_ok("飞单\tdeal\n", WP_SCAN_NO_PII);
    wp_scan_result r;
    wp_scan_result_init(&r);
    const char *t = "\xff飞\xfe单\xff";
    scan_ok(s, t, &r);
    assert_one(t, &r, "飞单", 1, 8);
    assert_string_equal(masked(t, strlen(t), &r), "\xff***\xff");
    t = "\x80飞单\xe5\x8d";
    scan_ok(s, t, &r);
    assert_one(t, &r, "飞单", 1, 7);
    t = "飞\xe5\x8d单"; /* a truncated sequence inside */
    scan_ok(s, t, &r);
    assert_one(t, &r, "飞单", 0, 8);
    assert_string_equal(masked(t, strlen(t), &r), "****");
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
}

static void test_scan_match__empty_text(void **state)
{
    (void)state;
    wp_scanner *s = compile_ok(contract_lexicon, 0);
    wp_scan_result r;
    wp_scan_result_init(&r);
    assert_int_equal(wp_scan_run(s, "", 0, &r), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.action, WP_SCAN_NONE);
    assert_string_equal(masked("", 0, &r), "");
    assert_string_equal(wp_scan_action_name(WP_SCAN_NONE), "none");
    assert_string_equal(wp_scan_action_name(WP_SCAN_MASK), "mask");
    assert_string_equal(wp_scan_action_name(WP_SCAN_ALERT), "alert");
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
}

static void test_scan_match__leftmost_longest(void **state)
{
    (void)state;
    wp_scanner *s = compile_ok("保本\ta\tmask\n保本保息\tb\tblock\n", 0);
    wp_scan_result r;
    wp_scan_result_init(&r);
    const char *t = "保本保息";
    scan_ok(s, t, &r);
    assert_one(t, &r, "保本保息", 0, 12);
    t = "保本，保息";
    scan_ok(s, t, &r);
    assert_one(t, &r, "保本保息", 0, 15);
    t = "保本保险";
    scan_ok(s, t, &r);
    assert_one(t, &r, "保本", 0, 6);
    wp_scanner_unref(s);

    /* every start is reported, the longest at each: sorted by start, then longer first */
    s = compile_ok("保本\ta\n保本保息\tb\n保息\tc\nab\td\nbc\te\nabcd\tf\n", WP_SCAN_NO_PII);
    t = "保本保息 abcd";
    scan_ok(s, t, &r);
    if (r.n != 4 || find_match(&r, "保本保息", 0, 12) != 0 || find_match(&r, "保息", 6, 12) != 1 ||
        find_match(&r, "abcd", 13, 17) != 2 || find_match(&r, "bc", 14, 16) != 3) {
        dump(t, &r);
        fail();
    }
    assert_string_equal(masked(t, strlen(t), &r), "**** ****");
    wp_scanner_unref(s);

    /* a shorter match stays when its action is stronger than every longer one's at its
     * start: the verdict never loses an action */
    s = compile_ok("保本\ta\tblock\n保本保\tb\tmask\n保本保息\tc\talert\n保本保息呀\td\tmask\n",
                   WP_SCAN_NO_PII);
    t = "保本保息呀";
    scan_ok(s, t, &r);
    if (r.n != 3 || find_match(&r, "保本保息呀", 0, 15) != 0 ||
        find_match(&r, "保本保息", 0, 12) != 1 || find_match(&r, "保本", 0, 6) != 2) {
        dump(t, &r);
        fail();
    }
    assert_int_equal(r.action, WP_SCAN_BLOCK);
    t = "保本保";
    scan_ok(s, t, &r);
    assert_int_equal(r.n, 2);
    assert_int_equal(find_match(&r, "保本", 0, 6), 1);
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
}

static void test_scan_match__allow_entries(void **state)
{
    (void)state;
    wp_scanner *s = compile_ok("飞单\tdeal\tblock\n"
                               "行程\ttrip\talert\n"
                               "allow:飞单行程表\n"
                               "re:飞.{0,2}行\tre\talert\n"
                               "allow:service@example.com\n",
                               0);
    wp_scan_result r;
    wp_scan_result_init(&r);
    const char *t = "这是飞单行程表";
    scan_ok(s, t, &r);
    assert_int_equal(r.n, 0); /* literal, regex inside the allow match: dropped */
    assert_int_equal(r.action, WP_SCAN_NONE);
    assert_string_equal(masked(t, strlen(t), &r), t);
    t = "飞单行程表，然后飞单";
    scan_ok(s, t, &r);
    assert_one(t, &r, "飞单", 24, 30);
    assert_int_equal(r.action, WP_SCAN_BLOCK);
    t = "飞单行程"; /* no allow match here: everything counts */
    scan_ok(s, t, &r);
    assert_int_equal(r.n, 3);
    /* the built-in detectors are covered by allow entries too */
    t = "写信给service@example.com或foo@example.com";
    scan_ok(s, t, &r);
    assert_one(t, &r, "pii.email", 31, 46);
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
}

static void test_scan_match__regex(void **state)
{
    (void)state;
    wp_scanner *s = compile_ok("re:返[0-9]{1,2}个点\trebate\talert\n"
                               "re:VX\\d+\tvx\tblock\n"
                               "re:返佣個人\tfolded\tmask\n",
                               WP_SCAN_NO_PII);
    wp_scan_result r;
    wp_scan_result_init(&r);
    const char *t = "给你返 12 個點吧";
    scan_ok(s, t, &r);
    assert_one(t, &r, "re:返[0-9]{1,2}个点", 6, 19);
    assert_string_equal(r.matches[0].category, "rebate");
    t = "加ＶＸ１２３";
    scan_ok(s, t, &r);
    assert_one(t, &r, "re:VX\\d+", 3, 18);
    assert_int_equal(r.action, WP_SCAN_BLOCK);
    t = "返佣个人 返佣個人";
    scan_ok(s, t, &r);
    assert_int_equal(r.n, 2);
    assert_int_equal(find_match(&r, "re:返佣個人", 0, 12), 0);
    assert_int_equal(find_match(&r, "re:返佣個人", 13, 25), 1);
    t = "返123个点"; /* three digits: no */
    scan_ok(s, t, &r);
    assert_int_equal(r.n, 0);
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
}

static void test_scan_match__regex_backtracking_is_bounded(void **state)
{
    (void)state;
    wp_scanner *s = compile_ok("re:(a+)+b\tslow\nre:c\tfast\n", WP_SCAN_NO_PII);
    wp_scan_result r;
    wp_scan_result_init(&r);
    /* After the first match, the 40 a's then x take 2^40 steps without a match limit;
     * with it, the regex gives up on the text and the other one still runs. (The text has
     * "ab" so that the prefilter lets the slow regex run, and its 'b' after the x defeats
     * PCRE2's own check for a needed last character.) */
    const char *t = "abaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaxbc";
    scan_ok(s, t, &r);
    if (r.n != 2 || find_match(&r, "re:(a+)+b", 0, 2) != 0 || find_match(&r, "re:c", 44, 45) != 1) {
        dump(t, &r);
        fail();
    }
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
}

static void test_scan_match__regex_raw(void **state)
{
    (void)state;
    wp_scanner *s = compile_ok("re:a.c\tx\n", WP_SCAN_NO_NORMALIZE | WP_SCAN_NO_PII);
    wp_scan_result r;
    wp_scan_result_init(&r);
    const char *t = "中abc\xff" "a\xff" "c";
    scan_ok(s, t, &r);
    assert_one(t, &r, "re:a.c", 3, 6);
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
}

static void test_scan_match__raw_mode(void **state)
{
    (void)state;
    wp_scanner *s = compile_ok("飞单\tdeal\nvx\tc\n***\tstars\n", WP_SCAN_NO_NORMALIZE);
    wp_scan_result r;
    wp_scan_result_init(&r);
    const char *t = "飛單 飞 单 ＶＸ VX 飞\xff单";
    scan_ok(s, t, &r);
    assert_int_equal(r.n, 0);
    t = "飞单vx***";
    scan_ok(s, t, &r);
    assert_int_equal(r.n, 3);
    assert_int_equal(find_match(&r, "飞单", 0, 6), 0);
    assert_int_equal(find_match(&r, "vx", 6, 8), 1);
    assert_int_equal(find_match(&r, "***", 8, 11), 2);
    /* the PII detectors still see folded digits */
    t = "１３８００１３８０００";
    scan_ok(s, t, &r);
    assert_int_equal(count_pattern(&r, "pii.mobile"), 1);
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
}

static void test_scan_match__expansions(void **state)
{
    (void)state;
    wp_scanner *s = compile_ok("返10个点\tx\n株式会社\ty\n", WP_SCAN_NO_PII);
    wp_scan_result r;
    wp_scan_result_init(&r);
    const char *t = "返⑩个点";
    scan_ok(s, t, &r);
    assert_one(t, &r, "返10个点", 0, 12);
    t = "㍿";
    scan_ok(s, t, &r);
    assert_one(t, &r, "株式会社", 0, 3);
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
}

static void test_scan_match__mask(void **state)
{
    (void)state;
    /* overlapping slices are masked once, one '*' per character or invalid byte */
    wp_scan_match m[2] = {
        {"p", "c", WP_SCAN_ALERT, 0, 6},
        {"q", "c", WP_SCAN_ALERT, 2, 7},
    };
    wp_scan_result r = {m, 2, WP_SCAN_ALERT, NULL};
    const char t[] = "a\xff\xfe飞bc";
    assert_string_equal(masked(t, sizeof t - 1, &r), "*****c");
    r.n = 1;
    assert_string_equal(masked(t, sizeof t - 1, &r), "****bc");
    wp_buf b;
    wp_buf_init(&b, 4);
    r.n = 0;
    assert_int_equal(wp_scan_mask(&b, "0123456789", 10, &r), WP_ELIMIT);
    wp_buf_release(&b);
}

static void test_scan_match__one_megabyte_line(void **state)
{
    (void)state;
    wp_scanner *s = compile_ok("飞单\tdeal\tblock\n天气\tw\tmask\n", WP_SCAN_NO_PII);
    const char chunk[] = "今天天气不错，"; /* 21 bytes, one 天气 */
    size_t n = (1u << 20) / (sizeof chunk - 1), len = n * (sizeof chunk - 1);
    char *t = malloc(len + 1);
    assert_non_null(t);
    for (size_t i = 0; i < n; i++)
        memcpy(t + i * (sizeof chunk - 1), chunk, sizeof chunk - 1);
    memcpy(t + 21 * 1000 + 18, "飞", 3); /* the "，" of chunk 1000 becomes 飞, +单 below */
    memcpy(t + 21 * 1001, "单", 3);
    t[len] = '\0';
    wp_scan_result r;
    wp_scan_result_init(&r);
    assert_int_equal(wp_scan_run(s, t, len, &r), 0);
    assert_int_equal(count_pattern(&r, "天气"), n);
    assert_int_equal(count_pattern(&r, "飞单"), 1);
    assert_true(find_match(&r, "飞单", 21 * 1000 + 18, 21 * 1001 + 3) >= 0);
    assert_int_equal(r.action, WP_SCAN_BLOCK);
    assert_int_equal(r.matches[r.n - 1].start, (n - 1) * 21 + 6);
    /* 16 MiB is the limit */
    char *big = calloc((16u << 20) + 1, 1);
    assert_non_null(big);
    assert_int_equal(wp_scan_run(s, big, (16u << 20) + 1, &r), WP_ELIMIT);
    assert_int_equal(wp_scan_run(s, big, 16u << 20, &r), 0);
    free(big);
    free(t);
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
}

static void test_scan_match__result_reused_across_scanners(void **state)
{
    (void)state;
    wp_scanner *a = compile_ok("ab\tx\n", 0);
    wp_scanner *b = compile_ok("一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十\ty\n", 0);
    wp_scan_result r;
    wp_scan_result_init(&r);
    const char *t = "ab 一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十 ab";
    for (int i = 0; i < 3; i++) {
        scan_ok(a, t, &r);
        assert_int_equal(r.n, 2);
        scan_ok(b, t, &r);
        assert_one(t, &r, "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十", 3, 93);
    }
    wp_scan_result_release(&r);
    wp_scan_result_release(&r); /* released twice: harmless */
    wp_scanner_unref(a);
    wp_scanner_unref(b);
    wp_scanner_unref(NULL);
}

/* A 100k-word lexicon: distinct CJK words that fold to themselves. */
static char *make_words(size_t n, size_t *len, uint32_t *chars, size_t nchars)
{
    char *lex = malloc(n * 20);
    assert_non_null(lex);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        /* (i % 1000, i / 1000 % 100) differ for every i < 100000 */
        uint32_t w[4] = {chars[i % 1000], chars[1000 + i / 1000 % 100], chars[1100 + i % 7],
                         chars[1200 + i % 13]};
        size_t k = 3 + i % 2;
        for (size_t j = 0; j < k; j++) {
            lex[o++] = (char)(0xE0 | (w[j] >> 12));
            lex[o++] = (char)(0x80 | ((w[j] >> 6) & 0x3F));
            lex[o++] = (char)(0x80 | (w[j] & 0x3F));
        }
        lex[o++] = '\n';
    }
    *len = o;
    return lex;
}

static void test_scan_match__hundred_thousand_words(void **state)
{
    (void)state;
    uint32_t chars[1300];
    size_t nc = 0;
    for (uint32_t cp = 0x4E00; nc < 1300; cp++) {
        char u[4] = {(char)(0xE0 | (cp >> 12)), (char)(0x80 | ((cp >> 6) & 0x3F)),
                     (char)(0x80 | (cp & 0x3F)), 0};
        if (!strcmp(norm(u, 3), u))
            chars[nc++] = cp;
    }
    size_t len;
    char *lex = make_words(100000, &len, chars, nc);
    wp_scanner *s = NULL;
    assert_int_equal(wp_scan_compile(&s, lex, len, NULL), 0);
    assert_int_equal(wp_scanner_pattern_count(s), 100000);
    size_t mem = wp_scanner_memory(s);
    fprintf(stderr, "# 100k words: %.1f MB\n", (double)mem / 1e6);
    assert_true(mem > 1000000 && mem < 200u * 1000 * 1000);
    /* plant words 7, 54321 and 99999, separated by a letter that no word has */
    char text[256];
    size_t o = 0, at[3];
    const size_t planted[3] = {7, 54321, 99999};
    size_t off = 0;
    for (size_t p = 0, w = 0; w < 100000 && p < 3; w++) {
        size_t k = strchr(lex + off, '\n') - (lex + off);
        if (w == planted[p]) {
            text[o++] = 'Q';
            at[p++] = o;
            memcpy(text + o, lex + off, k);
            o += k;
        }
        off += k + 1;
    }
    text[o] = '\0';
    wp_scan_result r;
    wp_scan_result_init(&r);
    scan_ok(s, text, &r);
    if (r.n != 3) {
        dump(text, &r);
        fail();
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r.matches[i].start, at[i]);
        assert_memory_equal(r.matches[i].pattern, text + at[i], r.matches[i].end - at[i]);
    }
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
    free(lex);
}

const struct CMUnitTest scan_match_tests[] = {
    cmocka_unit_test(test_scan_match__contract_example),
    cmocka_unit_test(test_scan_match__evasions),
    cmocka_unit_test(test_scan_match__pattern_forms_fold_too),
    cmocka_unit_test(test_scan_match__offsets_in_multibyte_text),
    cmocka_unit_test(test_scan_match__invalid_utf8_around_and_inside),
    cmocka_unit_test(test_scan_match__empty_text),
    cmocka_unit_test(test_scan_match__leftmost_longest),
    cmocka_unit_test(test_scan_match__allow_entries),
    cmocka_unit_test(test_scan_match__regex),
    cmocka_unit_test(test_scan_match__regex_backtracking_is_bounded),
    cmocka_unit_test(test_scan_match__regex_raw),
    cmocka_unit_test(test_scan_match__raw_mode),
    cmocka_unit_test(test_scan_match__expansions),
    cmocka_unit_test(test_scan_match__mask),
    cmocka_unit_test(test_scan_match__one_megabyte_line),
    cmocka_unit_test(test_scan_match__result_reused_across_scanners),
    cmocka_unit_test(test_scan_match__hundred_thousand_words),
};
const size_t scan_match_ntests = sizeof scan_match_tests / sizeof scan_match_tests[0];
