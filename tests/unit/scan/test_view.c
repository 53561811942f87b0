/* SPDX-License-Identifier: MIT */
/* The view of a reader without the right to see personal data (src/scan/view.c): which inputs
 * mask what (docs/internals/scan.md "PII detectors", docs/internals/api.md "Personal data"),
 * masking repeated to a fixed point, phones shown in part, the JSON keys that pass. */
#include "test_scan.h"

#include "scan/view.h"

/* A tenant lexicon: a WeChat id after its label (as the default lexicon has it), a literal
 * mask entry, a block entry that never masks, an allow entry for the company's address. */
static const char LEXICON[] = "飞单\tdeal\tblock\n"
                              "re:(微信|vx)(号)?[a-z][a-z0-9_-]{5,19}\tcontact_leak\tmask\n"
                              "ab\tpair\tmask\n"
                              "allow:service@company.com\n";

static wp_scanner *lex;

static int setup(void **state)
{
    (void)state;
    lex = compile_ok(LEXICON, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    wp_scanner_unref(lex);
    return 0;
}

/* text as the reader sees it with scanner s; *changed_out (may be NULL) whether it changed */
static char *view_with(const wp_scanner *s, const char *text, int *changed_out)
{
    wp_buf b;
    int changed = -1;
    wp_buf_init(&b, 64);
    int err = wp_scan_view_text(s, &b, &changed, text, strlen(text));
    if (err != 0)
        fail_msg("view failed (%d): %s", err, wp_error_last());
    char *out = strndup(b.buf ? b.buf : "", b.len);
    wp_buf_release(&b);
    assert_non_null(out);
    if (changed_out)
        *changed_out = changed;
    return out;
}

/* in masks to want, and want masks to itself (nothing more found, unchanged) */
static void masks(const wp_scanner *s, const char *in, const char *want)
{
    int changed;
    char *got = view_with(s, in, &changed);
    if (strcmp(got, want))
        fail_msg("'%s' masked to '%s', wanted '%s'", in, got, want);
    assert_int_equal(changed, strcmp(in, want) != 0);
    char *again = view_with(s, got, &changed);
    assert_string_equal(again, got);
    assert_int_equal(changed, 0);
    free(again);
    free(got);
}

#define PII(in, want) masks(wp_scan_view_pii(), in, want)

/* --- what the detectors mask ------------------------------------------------------------------ */

static void test_scan_view__mobile_at_its_edges(void **state)
{
    (void)state;
    PII("13800138000", "***********");
    PII("19912345678", "***********"); /* 1[3-9]: the highest second digit */
    PII("13000000000", "***********");
    PII("12800138000", "12800138000"); /* 12x is no mobile */
    PII("1380013800", "1380013800");   /* 10 digits */
    PII("138001380001", "138001380001"); /* 12: a longer run is not a mobile */
    PII("价格138元，电话13800138000。", "价格138元，电话***********。");
    /* the number is cut at letters and punctuation, not at noise inside it */
    PII("a13800138000b", "a***********b");
    PII("138\u200b0013\u200b8000", "*************"); /* ZWSP counts as a character */
}

static void test_scan_view__full_width_and_separators(void **state)
{
    (void)state;
    /* full-width digits: one '*' per character (three bytes each) */
    PII("１３８００１３８０００", "***********");
    PII("电话：１３８－００１３－８０００", "电话：*************");
    PII("138 0013 8000", "*************");
    PII("138-0013-8000", "*************");
    PII("138　0013　8000", "*************"); /* ideographic spaces */
    PII("+86 138 0013 8000", "+86 *************");
    /* groups that make no known format are not one number (docs: "a lone run is judged by its
     * length"): spreading a number over odd groups is not recognised */
    PII("1 3 8-0013-8000", "1 3 8-0013-8000");
    PII("13 80 01 38 000", "13 80 01 38 000");
    PII("138  0013 8000", "138  0013 8000"); /* two separators */
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

static void test_scan_view__id_cards(void **state)
{
    (void)state;
    char id[32], t[128];
    /* an ID card whose check character is X, upper or lower case, alone or grouped 6-8-4 */
    snprintf(id, sizeof id, "11010519491231002");
    assert_int_equal(id_check(id), 'X');
    PII("11010519491231002X", "******************");
    PII("身份证11010519491231002x号", "身份证******************号");
    PII("110105 19491231 002X", "********************");
    /* a wrong check character, a 13th month, a 32nd day, a year before 1800: not an ID card */
    PII("110105194912310021", "110105194912310021");
    snprintf(id, sizeof id, "11010519491331001");
    snprintf(t, sizeof t, "%s%c", id, id_check(id));
    PII(t, t);
    snprintf(id, sizeof id, "11010519491232001");
    snprintf(t, sizeof t, "%s%c", id, id_check(id));
    PII(t, t);
    snprintf(id, sizeof id, "11010517991231001");
    snprintf(t, sizeof t, "%s%c", id, id_check(id));
    PII(t, t);
    /* the oldest and newest years the detector accepts */
    snprintf(id, sizeof id, "11010518000101001");
    snprintf(t, sizeof t, "%s%c", id, id_check(id));
    PII(t, "******************");
    snprintf(id, sizeof id, "11010520991231001");
    snprintf(t, sizeof t, "%s%c", id, id_check(id));
    PII(t, "******************");
}

static void test_scan_view__bank_cards(void **state)
{
    (void)state;
    PII("6222021234567890128", "*******************"); /* 19 digits, Luhn */
    PII("6222 0212 3456 7890 128", "***********************");
    PII("4111111111111111", "****************"); /* 16 digits, Luhn */
    PII("4111 1111 1111 1111", "*******************");
    PII("4111111111111112", "4111111111111112"); /* Luhn fails */
    PII("411111111111111", "411111111111111");   /* 15 digits */
    PII("41111111111111111113", "41111111111111111113"); /* 20 digits */
}

static void test_scan_view__adjacent_and_overlapping(void **state)
{
    (void)state;
    /* two numbers side by side with one space are two numbers */
    PII("13800138000 13900139000", "*********** ***********");
    PII("13800138000,13900139000", "***********,***********");
    /* a mobile and an address touching */
    PII("13800138000a@b.cn", "*****************");
    PII("邮箱a.b@example.com电话13800138000", "邮箱***************电话***********");
    /* a mobile inside an address is the address */
    PII("13800138000@qq.com", "******************");
    /* the allow entry keeps the company's address; the tenant's mask entries mask */
    masks(lex, "service@company.com 或 li@company.com", "service@company.com 或 **************");
    masks(lex, "加我微信号 abcdef123，别飞单", "加我*************，别飞单");
}

/* Numbers that look close to one and are not, each for one reason of the detectors' rules
 * (docs/internals/scan.md "PII detectors"), and groups in front that do not hide a number. */
static void test_scan_view__near_misses(void **state)
{
    (void)state;
    PII("23800138000", "23800138000");     /* 11 digits, not 1[3-9] */
    PII("128 0013 8000", "128 0013 8000"); /* grouped 3-4-4, not a mobile */
    PII("110105 19491231 0021", "110105 19491231 0021"); /* grouped 6-8-4, wrong check */
    PII("110105 19490031 0021", "110105 19490031 0021"); /* month 00 */
    PII("4111 1111 1111 1112", "4111 1111 1111 1112");   /* grouped 4-4-4-4, not Luhn */
    PII("1101051949X1231002", "1101051949X1231002");     /* an X inside is no check char */
    PII("110105 1949123X 1002", "110105 1949123X 1002"); /* nor in a middle group */
    PII("138001380001380013800138", "138001380001380013800138"); /* 24 digits */
    PII("138001380001380013800 13800138000", "138001380001380013800 ***********");
    /* single digits in front, one space apart, do not hide the number after them */
    PII("1 2 3 4 5 138 0013 8000", "1 2 3 4 5 *************");
    PII("1 2 3 4 5 6 7 13800138000", "1 2 3 4 5 6 7 ***********");
    PII("9 9 4111 1111 1111 1111", "9 9 *******************");
    /* addresses: a hyphen inside a label, not two dots in a row, not an empty local part */
    PII("li@mail-server.example.cn", "*************************");
    PII("a@b..cn", "a@b..cn");
    PII("x @y.cn", "x @y.cn");
    PII("mail: a.b@c.cn, a@b", "mail: ********, a@b");
}

/* --- masking to a fixed point ----------------------------------------------------------------- */

static void test_scan_view__rounds(void **state)
{
    (void)state;
    /* round 1 masks the number, round 2 finds "ab" whole across the stars (noise) */
    masks(lex, "xa13800138000by", "x*************y");
    /* each round unwraps one pair: a few rounds, and what is around stays */
    masks(lex, "x aaa13800138000bbb y", "x ***************** y");
    /* a text that keeps giving more after the last round shows nothing, one '*' a character */
    char t[256], want[256];
    int n = 0, w = 0;
    n += snprintf(t + n, sizeof t - (size_t)n, "好 ");
    for (int i = 0; i < 12; i++)
        t[n++] = 'a';
    n += snprintf(t + n, sizeof t - (size_t)n, "13800138000");
    for (int i = 0; i < 12; i++)
        t[n++] = 'b';
    n += snprintf(t + n, sizeof t - (size_t)n, " 好");
    for (int i = 0; i < 2 + 12 + 11 + 12 + 2; i++)
        want[w++] = '*';
    want[w] = '\0';
    masks(lex, t, want);
}

static void test_scan_view__no_scanner_and_empty(void **state)
{
    (void)state;
    wp_buf b;
    int changed = 1;
    wp_buf_init(&b, 16);
    assert_int_equal(wp_scan_view_text(NULL, &b, &changed, "13800138000", 11), WP_ENOMEM);
    assert_int_equal(changed, 0);
    assert_int_equal(b.len, 0);
    assert_int_equal(wp_scan_view_text(wp_scan_view_pii(), &b, &changed, "", 0), 0);
    assert_int_equal(changed, 0);
    assert_int_equal(b.len, 0);
    wp_buf_release(&b);
    assert_ptr_equal(wp_scan_view_pii(), wp_scan_view_pii()); /* built once */
}

/* --- phones in part ----------------------------------------------------------------------- */

static void phone_is(const char *in, const char *want)
{
    char out[64];
    memset(out, 'Z', sizeof out);
    wp_scan_view_phone(out, sizeof out, in);
    assert_string_equal(out, want);
}

static void test_scan_view__phone_lengths(void **state)
{
    (void)state;
    phone_is("13800138000", "138****8000");
    phone_is("+8613800138000", "+86138****8000");
    phone_is("1380013800", "****3800"); /* 10: the last 4 */
    phone_is("1234567", "****4567");    /* 7 */
    phone_is("123456", "****");         /* 6 and fewer: nothing */
    phone_is("1", "****");
    phone_is("", "");
    phone_is(NULL, "");
    char small[8];
    wp_scan_view_phone(small, sizeof small, "13800138000");
    assert_string_equal(small, "138****"); /* cut, always terminated */
}

/* --- JSON values -------------------------------------------------------------------------- */

static void json_is(const char *in, const char *want)
{
    json_error_t e;
    json_t *j = json_loads(in, 0, &e);
    assert_non_null(j);
    assert_int_equal(wp_scan_view_json(lex, j), 0);
    char *got = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    if (strcmp(got, want))
        fail_msg("'%s' viewed as '%s', wanted '%s'", in, got, want);
    free(got);
    json_decref(j);
}

static void test_scan_view__json_keys_and_references(void **state)
{
    (void)state;
    /* the system's own words: listed keys and the suffixes _id, _ids, _at, _hash */
    json_is("{\"username\":\"13800138000\",\"peer_ids\":[\"13800138000\"],"
            "\"seen_at\":\"13800138000\",\"body_hash\":\"13800138000\",\"tz\":\"13800138000\"}",
            "{\"body_hash\":\"13800138000\",\"peer_ids\":[\"13800138000\"],"
            "\"seen_at\":\"13800138000\",\"tz\":\"13800138000\",\"username\":\"13800138000\"}");
    /* a key that only contains a listed word is people's text */
    json_is("{\"idx\":\"13800138000\",\"my_ids_note\":\"13800138000\"}",
            "{\"idx\":\"***********\",\"my_ids_note\":\"***********\"}");
    /* references: an id, "<kind>:<id>", "sha256:<64 hex>"; nothing else */
    const char *sha = "sha256:13800138000000000000000000000000000000000000000000000000000000ab";
    char in[512], want[512];
    snprintf(in, sizeof in, "{\"a\":\"%s\",\"b\":\"from_x:138001380001380013800abc\"}", sha);
    snprintf(want, sizeof want, "{\"a\":\"%s\",\"b\":\"from_x:138001380001380013800abc\"}", sha);
    json_is(in, want);
    /* what looks like one and is not: a kind with capitals or digits, an id of capitals or
     * of 25 characters, a short hash, no kind, a kind longer than 32 */
    json_is("{\"a\":\"md5:13800138000fffffffffffff\",\"b\":\"Kind:13800138000fffffffffffff\","
            "\"c\":\"13800138000FFFFFFFFFFFFF\",\"d\":\"sha256:13800138000\","
            "\"e\":\":13800138000fffffffffffff\",\"f\":\"13800138000fffffffffffff0\","
            "\"g\":\"customer:13800138000fffffffffffff13800138000fffffffffffffffffffffffffffff\","
            "\"h\":\"cdefghijklmnopqrstuvwxyzcdefghijk:13800138000fffffffffffff\"}",
            "{\"a\":\"md5:***********fffffffffffff\",\"b\":\"Kind:***********fffffffffffff\","
            "\"c\":\"***********FFFFFFFFFFFFF\",\"d\":\"sha256:***********\","
            "\"e\":\":***********fffffffffffff\",\"f\":\"***********fffffffffffff0\","
            "\"g\":\"customer:***********fffffffffffff***********fffffffffffffffffffffffffffff\","
            "\"h\":\"cdefghijklmnopqrstuvwxyzcdefghijk:***********fffffffffffff\"}");
    /* six letters and 64 hex digits make a reference only as "sha256"; a sha256 with a
     * character that is not a lowercase hex digit, or a kind's id of 24 that is not hex, is
     * people's text */
    json_is("{\"a\":\"sha512:13800138000fffffffffffffffffffffffffffffffffffffffffffffffffffff\","
            "\"b\":\"sha256:13800138000gffffffffffffffffffffffffffffffffffffffffffffffffffff\","
            "\"c\":\"customer:13800138000ggggggggggggg\"}",
            "{\"a\":\"sha512:***********fffffffffffffffffffffffffffffffffffffffffffffffffffff\","
            "\"b\":\"sha256:***********gffffffffffffffffffffffffffffffffffffffffffffffffffff\","
            "\"c\":\"customer:***********ggggggggggggg\"}");
    /* the longest kind that is one (32 characters) */
    json_is("{\"a\":\"cdefghijklmnopqrstuvwxyzcdefghij:13800138000fffffffffffff\"}",
            "{\"a\":\"cdefghijklmnopqrstuvwxyzcdefghij:13800138000fffffffffffff\"}");
    /* phones: in part; one masked already stays; an identity too long to be a phone is text */
    json_is("{\"phone\":\"138****8000\",\"identities\":[\"phone:138****8000\","
            "\"phone:13800138000\",\"phone:call 13800138000 or 13900139000 please\",\"phone:\"]}",
            "{\"identities\":[\"phone:138****8000\",\"phone:138****8000\","
            "\"phone:call *********** or *********** please\",\"phone:\"],"
            "\"phone\":\"138****8000\"}");
    /* empty strings, numbers, booleans and null are as they were */
    json_is("{\"a\":\"\",\"n\":13800138000,\"t\":true,\"z\":null}",
            "{\"a\":\"\",\"n\":13800138000,\"t\":true,\"z\":null}");
}

static void test_scan_view__json_depth(void **state)
{
    (void)state;
    /* 64 levels below the top are checked; one more is refused rather than passed unmasked */
    for (int depth = 64; depth <= 65; depth++) {
        json_t *top = json_array(), *cur = top;
        for (int i = 1; i < depth; i++) {
            json_t *next = json_array();
            json_array_append_new(cur, next);
            cur = next;
        }
        json_array_append_new(cur, json_string("13800138000"));
        int err = wp_scan_view_json(lex, top);
        if (depth == 64) {
            assert_int_equal(err, 0);
            assert_string_equal(json_string_value(json_array_get(cur, 0)), "***********");
        } else {
            assert_int_equal(err, WP_EINVAL);
        }
        json_decref(top);
    }
    /* the same through objects, and through objects in arrays */
    for (int depth = 64; depth <= 65; depth++) {
        for (int mixed = 0; mixed <= 1; mixed++) {
            json_t *top = json_object(), *cur = top;
            for (int i = 1; i < depth; i++) {
                json_t *next = mixed && i % 2 ? json_array() : json_object();
                if (json_is_array(cur))
                    json_array_append_new(cur, next);
                else
                    json_object_set_new(cur, "note", next);
                cur = next;
            }
            if (json_is_array(cur))
                json_array_append_new(cur, json_string("13800138000"));
            else
                json_object_set_new(cur, "note", json_string("13800138000"));
            int err = wp_scan_view_json(lex, top);
            assert_int_equal(err, depth == 64 ? 0 : WP_EINVAL);
            if (depth == 64) {
                json_t *leaf =
                    json_is_array(cur) ? json_array_get(cur, 0) : json_object_get(cur, "note");
                assert_string_equal(json_string_value(leaf), "***********");
            }
            json_decref(top);
        }
    }
}

const struct CMUnitTest scan_view_tests[] = {
    cmocka_unit_test_setup_teardown(test_scan_view__mobile_at_its_edges, setup, teardown),
    cmocka_unit_test_setup_teardown(test_scan_view__full_width_and_separators, setup, teardown),
    cmocka_unit_test_setup_teardown(test_scan_view__id_cards, setup, teardown),
    cmocka_unit_test_setup_teardown(test_scan_view__bank_cards, setup, teardown),
    cmocka_unit_test_setup_teardown(test_scan_view__adjacent_and_overlapping, setup, teardown),
    cmocka_unit_test_setup_teardown(test_scan_view__near_misses, setup, teardown),
    cmocka_unit_test_setup_teardown(test_scan_view__rounds, setup, teardown),
    cmocka_unit_test_setup_teardown(test_scan_view__no_scanner_and_empty, setup, teardown),
    cmocka_unit_test_setup_teardown(test_scan_view__phone_lengths, setup, teardown),
    cmocka_unit_test_setup_teardown(test_scan_view__json_keys_and_references, setup, teardown),
    cmocka_unit_test_setup_teardown(test_scan_view__json_depth, setup, teardown),
};
const size_t scan_view_ntests = sizeof scan_view_tests / sizeof scan_view_tests[0];
