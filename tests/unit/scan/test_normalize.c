/* SPDX-License-Identifier: MIT */
/* Normalization: what folds to what, what is noise, and that folding is stable. */
#include "test_scan.h"

static void test_scan_normalize__width_and_case(void **state)
{
    (void)state;
    assert_string_equal(NORM("ＡＢＣａｂｃ１２３"), "abcabc123");
    assert_string_equal(NORM("HeLLo WoRLD"), "helloworld");
    assert_string_equal(NORM("加我ＶＸ"), "加我vx");
    assert_string_equal(NORM("ｶﾀｶﾅ"), "カタカナ"); /* half-width katakana */
    assert_string_equal(NORM("ÉCOLE straße"), "ecolestrasse");
}

static void test_scan_normalize__traditional(void **state)
{
    (void)state;
    assert_string_equal(NORM("飛單"), "飞单");
    assert_string_equal(NORM("我們這裡"), "我们这里");
    assert_string_equal(NORM("保本保息"), "保本保息");
    assert_string_equal(NORM("臺灣"), "台湾");
    assert_string_equal(NORM("⼀"), "一"); /* Kangxi radical */
}

static void test_scan_normalize__styled_digits_and_letters(void **state)
{
    (void)state;
    assert_string_equal(NORM("①②③"), "123");
    assert_string_equal(NORM("⑴⑵"), "12");
    assert_string_equal(NORM("⒈⒉"), "12");
    assert_string_equal(NORM("𝟏𝟐𝟑"), "123");
    assert_string_equal(NORM("ⒶⓐⓋⓧ"), "aavx");
    assert_string_equal(NORM("❶➁➌"), "123"); /* dingbats: no decomposition in Unicode */
    assert_string_equal(NORM("⑩⑳"), "1020");
    assert_string_equal(NORM("🅰🆅🅧"), "avx");
    assert_string_equal(NORM("¹²³"), "123");
    assert_string_equal(NORM("١٢٣"), "123"); /* Arabic-Indic digits */
    assert_string_equal(NORM("𝐀𝐁𝐂"), "abc"); /* mathematical bold */
    assert_string_equal(NORM("ⅫⅣ"), "xiiiv");
}

static void test_scan_normalize__noise(void **state)
{
    (void)state;
    assert_string_equal(NORM("飞 单"), "飞单");
    assert_string_equal(NORM("飞*单"), "飞单");
    assert_string_equal(NORM("飞，单。"), "飞单");
    assert_string_equal(NORM("飞\t单\r\n"), "飞单");
    assert_string_equal(NORM("飞　单"), "飞单");           /* ideographic space */
    assert_string_equal(NORM("飞\u00a0单"), "飞单");       /* no-break space */
    assert_string_equal(NORM("飞\u200b单"), "飞单");       /* zero-width space */
    assert_string_equal(NORM("飞\u200d单"), "飞单");       /* zero-width joiner */
    assert_string_equal(NORM("飞\u200c单\u2060"), "飞单"); /* ZWNJ, word joiner */
    assert_string_equal(NORM("\ufeff飞单"), "飞单");       /* BOM */
    assert_string_equal(NORM("飞😀单"), "飞单");
    assert_string_equal(NORM("飞❤\ufe0f单"), "飞单"); /* emoji + variation selector */
    assert_string_equal(NORM("飞\ufe0f单"), "飞单");
    assert_string_equal(NORM("飞👨\u200d👩\u200d👧单"), "飞单");
    assert_string_equal(NORM("飞\u3164单"), "飞单"); /* Hangul filler: renders blank */
    assert_string_equal(NORM("飞\u0301单"), "飞单"); /* a lone combining mark */
    assert_string_equal(NORM("¥$€+-=<>|~^`@#%&_"), "");
    assert_string_equal(NORM(""), "");
}

static void test_scan_normalize__letters_are_not_noise(void **state)
{
    (void)state;
    assert_string_equal(NORM("αβγ"), "αβγ");
    assert_string_equal(NORM("한국어"), "한국어");
    assert_string_equal(NORM("ひらがな"), "ひらかな"); /* marks stripped: か == が */
    assert_string_equal(NORM("〇"), "〇");
}

static void test_scan_normalize__invalid_utf8(void **state)
{
    (void)state;
    assert_string_equal(NORM("飞\xff单"), "飞单");
    assert_string_equal(NORM("\x80\xbf飞单\xfe"), "飞单");
    assert_string_equal(NORM("飞单\xe5\x8d"), "飞单");      /* truncated at the end */
    assert_string_equal(NORM("飞\xe5单"), "飞单");          /* truncated in the middle */
    assert_string_equal(NORM("a\xc0\xaf" "b"), "ab");          /* overlong '/' */
    assert_string_equal(NORM("a\xed\xa0\x80z"), "az");      /* a surrogate */
    assert_string_equal(NORM("a\xf4\x90\x80\x80z"), "az");  /* past U+10FFFF */
    /* a lone lead byte of a 4-byte sequence at the very end: never read past it */
    char *tail = malloc(1);
    assert_non_null(tail);
    tail[0] = (char)0xF0;
    assert_string_equal(norm(tail, 1), "");
    free(tail);
}

static size_t encode(uint32_t cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Folding what was folded changes nothing, for every codepoint: patterns and text fold the
 * same way whatever form each is written in. */
static void test_scan_normalize__idempotent_everywhere(void **state)
{
    (void)state;
    wp_buf a, b;
    wp_buf_init(&a, 1024);
    wp_buf_init(&b, 1024);
    for (uint32_t cp = 0; cp < 0x110000; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        char u[4];
        size_t n = encode(cp, u);
        wp_buf_reset(&a);
        wp_buf_reset(&b);
        assert_int_equal(wp_scan_normalize(&a, u, n), 0);
        assert_int_equal(wp_scan_normalize(&b, a.buf, a.len), 0);
        if (a.len != b.len || memcmp(a.buf, b.buf, a.len))
            fail_msg("U+%04X folds to '%s' which folds to '%s'", (unsigned)cp, a.buf, b.buf);
    }
    wp_buf_release(&a);
    wp_buf_release(&b);
}

const struct CMUnitTest scan_normalize_tests[] = {
    cmocka_unit_test(test_scan_normalize__width_and_case),
    cmocka_unit_test(test_scan_normalize__traditional),
    cmocka_unit_test(test_scan_normalize__styled_digits_and_letters),
    cmocka_unit_test(test_scan_normalize__noise),
    cmocka_unit_test(test_scan_normalize__letters_are_not_noise),
    cmocka_unit_test(test_scan_normalize__invalid_utf8),
    cmocka_unit_test(test_scan_normalize__idempotent_everywhere),
};
const size_t scan_normalize_ntests = sizeof scan_normalize_tests / sizeof scan_normalize_tests[0];
