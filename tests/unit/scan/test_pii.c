/* SPDX-License-Identifier: MIT */
/* The built-in detectors: mobile numbers, ID cards, bank cards, e-mail addresses, with
 * numbers made valid (or invalid) by their own check digit algorithms here. */
#include "test_scan.h"

static wp_scanner *pii;
static wp_scan_result res;

static int setup(void **state)
{
    (void)state;
    pii = compile_ok("飞单\tdeal\tblock\n", 0);
    wp_scan_result_init(&res);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    wp_scan_result_release(&res);
    wp_scanner_unref(pii);
    return 0;
}

static const wp_scan_result *scan(const char *t)
{
    scan_ok(pii, t, &res);
    return &res;
}

/* The GB 11643 check character of 17 digits. */
static char id_check(const char *body)
{
    static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (body[i] - '0') * w[i];
    return "10X98765432"[sum % 11];
}

/* The Luhn check digit to append to digits. */
static char luhn_check(const char *digits)
{
    size_t n = strlen(digits);
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        int d = digits[n - 1 - i] - '0';
        if (i % 2 == 0) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return (char)('0' + (10 - sum % 10) % 10);
}

static bool luhn_ok(const char *digits)
{
    char body[32];
    size_t n = strlen(digits);
    memcpy(body, digits, n - 1);
    body[n - 1] = '\0';
    return luhn_check(body) == digits[n - 1];
}

static void assert_only(const char *t, const char *category, size_t start, size_t end)
{
    const wp_scan_result *r = scan(t);
    assert_one(t, r, category, start, end);
    assert_string_equal(r->matches[0].category, category);
    assert_int_equal(r->matches[0].action, WP_SCAN_MASK);
    assert_int_equal(r->action, WP_SCAN_MASK);
}

static void assert_none(const char *t)
{
    const wp_scan_result *r = scan(t);
    if (r->n) {
        dump(t, r);
        fail_msg("expected nothing");
    }
}

static void test_scan_pii__mobile(void **state)
{
    (void)state;
    assert_only("13800138000", "pii.mobile", 0, 11);
    assert_only("电话13800138000谢谢", "pii.mobile", 6, 17);
    assert_only("tel:19912345678.", "pii.mobile", 4, 15);
    assert_only("１３８００１３８０００", "pii.mobile", 0, 33);
    assert_only("wx13800138000", "pii.mobile", 2, 13);
    assert_only("138\u200b0013\u200d8000", "pii.mobile", 0, 17); /* zero-width inside */
    assert_only("+86 13800138000", "pii.mobile", 4, 15);
    assert_none("12800138000");   /* 12x is no mobile prefix */
    assert_none("1380013800");    /* 10 digits */
    assert_none("138001380001");  /* 12 digits: inside a longer run */
    assert_none("8613800138000"); /* 13 digits */
    assert_none("138.0013.8000");
    assert_none("138，0013，8000");
}

static void test_scan_pii__mobile_separators(void **state)
{
    (void)state;
    assert_only("call 138 0013 8000 now", "pii.mobile", 5, 18);
    assert_only("138-0013-8000", "pii.mobile", 0, 13);
    assert_only("138－0013－8000", "pii.mobile", 0, 17); /* full-width hyphens */
    assert_only("138　0013　8000", "pii.mobile", 0, 17); /* ideographic spaces */
    assert_only("86 138 0013 8000", "pii.mobile", 3, 16);
    assert_none("138  0013 8000"); /* two separators: not one number */
    assert_none("13 80 01 38 000");
    /* two numbers separated by a space are two numbers */
    const char *t = "13800138000 13900139000";
    const wp_scan_result *r = scan(t);
    if (r->n != 2 || find_match(r, "pii.mobile", 0, 11) != 0 ||
        find_match(r, "pii.mobile", 12, 23) != 1) {
        dump(t, r);
        fail();
    }
    t = "138 0013 8000 139-0013-9000";
    r = scan(t);
    if (r->n != 2 || find_match(r, "pii.mobile", 0, 13) != 0 ||
        find_match(r, "pii.mobile", 14, 27) != 1) {
        dump(t, r);
        fail();
    }
}

static void test_scan_pii__id_card(void **state)
{
    (void)state;
    char id[32] = "11010519491231002";
    id[17] = id_check(id);
    id[18] = '\0';
    assert_only(id, "pii.id_card", 0, 18);
    char t[96];
    snprintf(t, sizeof t, "身份证%s。", id);
    assert_only(t, "pii.id_card", 9, 27);
    /* a wrong check digit is no ID card */
    id[17] = id[17] == '0' ? '1' : '0';
    if (!luhn_ok(id))
        assert_none(id);
    const wp_scan_result *r = scan(id);
    assert_int_equal(count_pattern(r, "pii.id_card"), 0);
    /* an implausible birth date is none either */
    char bad[32] = "11010519491331002";
    bad[17] = id_check(bad);
    bad[18] = '\0';
    r = scan(bad);
    assert_int_equal(count_pattern(r, "pii.id_card"), 0);
    /* a valid ID card that happens to pass Luhn is reported once, as an ID card */
    for (int seq = 0; seq < 1000; seq++) {
        char x[32];
        snprintf(x, sizeof x, "11010519800101%03d", seq);
        x[17] = id_check(x);
        x[18] = '\0';
        if (x[17] != 'X' && luhn_ok(x)) {
            assert_only(x, "pii.id_card", 0, 18);
            break;
        }
    }
}

static void test_scan_pii__id_card_x(void **state)
{
    (void)state;
    char id[32];
    int seq = 0;
    for (;; seq++) {
        snprintf(id, sizeof id, "44030519900101%03d", seq);
        if (id_check(id) == 'X')
            break;
    }
    id[17] = 'X';
    id[18] = '\0';
    assert_only(id, "pii.id_card", 0, 18);
    id[17] = 'x';
    assert_only(id, "pii.id_card", 0, 18);
    char t[96];
    snprintf(t, sizeof t, "号码%.6s %.8s %.4s", id, id + 6, id + 14);
    assert_only(t, "pii.id_card", 6, 26);
    id[17] = '5'; /* the right check digit was X */
    const wp_scan_result *r = scan(id);
    assert_int_equal(count_pattern(r, "pii.id_card"), 0);
}

static void test_scan_pii__bank_card(void **state)
{
    (void)state;
    char card[32] = "622202123456789";
    card[15] = luhn_check(card);
    card[16] = '\0';
    assert_only(card, "pii.bank_card", 0, 16);
    char t[96];
    snprintf(t, sizeof t, "卡号%.4s %.4s %.4s %.4s", card, card + 4, card + 8, card + 12);
    assert_only(t, "pii.bank_card", 6, 25);
    snprintf(t, sizeof t, "%.4s-%.4s-%.4s-%.4s", card, card + 4, card + 8, card + 12);
    assert_only(t, "pii.bank_card", 0, 19);
    card[15] = card[15] == '9' ? '0' : (char)(card[15] + 1);
    assert_none(card);

    char c19[32] = "621700123456789012";
    c19[18] = luhn_check(c19);
    c19[19] = '\0';
    assert_only(c19, "pii.bank_card", 0, 19);
    snprintf(t, sizeof t, "%.4s %.4s %.4s %.4s %.3s", c19, c19 + 4, c19 + 8, c19 + 12, c19 + 16);
    assert_only(t, "pii.bank_card", 0, 23);
    /* 20 digits are too many */
    char c20[32] = "6217001234567890123";
    c20[19] = luhn_check(c20);
    c20[20] = '\0';
    assert_none(c20);
}

static void test_scan_pii__email(void **state)
{
    (void)state;
    assert_only("Foo.Bar@Example.COM", "pii.email", 0, 19);
    assert_only("邮箱：zhang_san+vip@mail.qq.com，谢谢", "pii.email", 9, 34);
    assert_only("ｆｏｏ＠ｅｘａｍｐｌｅ．ｃｏｍ", "pii.email", 0, 45);
    assert_only("abc@qq。com", "pii.email", 0, 12);
    assert_only("mail a@b.cn.", "pii.email", 5, 11);
    assert_only("x.y@a-b.co", "pii.email", 0, 10);
    assert_none("a@b");
    assert_none("a@b.c");
    assert_none("@example.com");
    assert_none("foo@.com");
    assert_none("foo@example.c0m");
    /* a number in front of @ is also a mobile number */
    const char *t = "13800138000@qq.com";
    const wp_scan_result *r = scan(t);
    if (r->n != 2 || find_match(r, "pii.email", 0, 18) != 0 ||
        find_match(r, "pii.mobile", 0, 11) != 1) {
        dump(t, r);
        fail();
    }
}

/* The edges of each format (docs/internals/scan.md, "PII detectors"): a grouped number is
 * judged as its kind and nothing else, an ID card's X counts only where it is the check
 * character of 17 digits, a run past 20 digits is nobody's number, and an address's local
 * part may be long. */
static void test_scan_pii__edges(void **state)
{
    (void)state;
    /* 3-4-4 groups make a mobile only with a mobile prefix */
    assert_none("128 0013 8000");
    assert_none("028-0013-8000");
    assert_none("12800138000 12900139000");
    /* 6-8-4 groups with a digit check: an ID card from the first group to the last */
    char id[32] = "11010519491231002";
    id[17] = id_check(id);
    id[18] = '\0';
    char t[96];
    snprintf(t, sizeof t, "证 %.6s %.8s %.4s 号", id, id + 6, id + 14);
    assert_only(t, "pii.id_card", 4, 24);
    /* ... and with a wrong check digit, no ID card */
    t[23] = t[23] == '0' ? '1' : '0';
    assert_int_equal(count_pattern(scan(t), "pii.id_card"), 0);
    /* an X after 16 digits, or after 17 whose check character is a digit: no ID card */
    assert_int_equal(count_pattern(scan("1101051949123100X"), "pii.id_card"), 0);
    char notx[32];
    memcpy(notx, id, 17);
    notx[17] = 'X';
    notx[18] = '\0';
    if (id[17] != 'X')
        assert_int_equal(count_pattern(scan(notx), "pii.id_card"), 0);
    /* 21 and 30 digits: inside a run that long there is no number */
    assert_none("138001380001380013800");
    assert_none("138001380001380013800138001380");
    /* an address's local part past 1,000 characters is still one, masked from its start */
    char mail[1600];
    memset(mail, 'a', 1500);
    snprintf(mail + 1500, sizeof mail - 1500, "@example.com");
    assert_only(mail, "pii.email", 0, strlen(mail));
    /* a domain label does not start with a hyphen */
    assert_none("foo@-example.com");
}

static void test_scan_pii__mixed_with_words_and_masked(void **state)
{
    (void)state;
    const char *t = "飞单找我13800138000";
    const wp_scan_result *r = scan(t);
    assert_int_equal(r->n, 2);
    assert_int_equal(find_match(r, "飞单", 0, 6), 0);
    assert_int_equal(find_match(r, "pii.mobile", 12, 23), 1);
    assert_int_equal(r->action, WP_SCAN_BLOCK);
    assert_string_equal(masked(t, strlen(t), r), "**找我***********");
}

static void test_scan_pii__off(void **state)
{
    (void)state;
    wp_scanner *s = compile_ok("飞单\tdeal\n", WP_SCAN_NO_PII);
    wp_scan_result r;
    wp_scan_result_init(&r);
    scan_ok(s, "13800138000 foo@example.com 飞单", &r);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.matches[0].pattern, "飞单");
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
}

const struct CMUnitTest scan_pii_tests[] = {
    cmocka_unit_test_setup_teardown(test_scan_pii__mobile, setup, teardown),
    cmocka_unit_test_setup_teardown(test_scan_pii__mobile_separators, setup, teardown),
    cmocka_unit_test_setup_teardown(test_scan_pii__id_card, setup, teardown),
    cmocka_unit_test_setup_teardown(test_scan_pii__id_card_x, setup, teardown),
    cmocka_unit_test_setup_teardown(test_scan_pii__bank_card, setup, teardown),
    cmocka_unit_test_setup_teardown(test_scan_pii__email, setup, teardown),
    cmocka_unit_test_setup_teardown(test_scan_pii__edges, setup, teardown),
    cmocka_unit_test_setup_teardown(test_scan_pii__mixed_with_words_and_masked, setup, teardown),
    cmocka_unit_test(test_scan_pii__off),
};
const size_t scan_pii_ntests = sizeof scan_pii_tests / sizeof scan_pii_tests[0];
