/* SPDX-License-Identifier: MIT */
/* Unit tests of src/wecom: the callback's signature and AES (a vector made with openssl enc
 * and hashlib, apart from this code), its XML, and the parsers of WeCom's answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "wecom/wecom.h"

#define KEY "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
#define CORP "ww1234567890abcdef"
#define MSG                                                                                        \
    "<xml><ToUserName><![CDATA[ww1234567890abcdef]]></ToUserName><CreateTime>1764230400"        \
    "</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]>" \
    "</Event><ChangeType><![CDATA[del_external_contact]]></ChangeType><UserID><![CDATA[zhangsan]]" \
    "></UserID><ExternalUserID><![CDATA[wmA1]]></ExternalUserID></xml>"
/* openssl enc -aes-256-cbc -nopad over "0123456789abcdef" + length + MSG + CORP + padding */
#define ENC                                                                                        \
    "sKqRbbiSUnDhFHOvPjtUMQym1piC6evTpsqbVnT+UT5b6CyP74Vk1GTrYnbE2f8yeLHPnsD2TJbAhqd9GvhXMzOUNB3V" \
    "APAixPA1/p4OCp5vdHD/ESoUZB1IKU9PVu1K7Huryr8RMerK741nZQl1ESWD6XTdhiLWmF0CJHBUWyKk5h72MTEABol4" \
    "vZwf++3xeI9f07A/c1AIxlTOlb8qdq+K/dl8WhVgeTQ+9UfVok1PDZHwCTm6YhqAHvKnle+Q1Ayi/4wVaJw72DMZEclw" \
    "+P4CgkLl7CCettBROgY6WEKsvjKjGnG0kE8mNB5HLqbuJboRHzCwu9B5zMi3cgxOmTNcuN4fBJ0K4hgzOmzOf/qLzFI2" \
    "wsMhBvXAtay1/9OpuzOWY3CoQOTCMoEJatv3Z1HKifoeqiF6+WuraaAWNPdMY8z5sJe5LxM0CSzK07/r9XiVn4RGrhAS" \
    "1bqWtCELYSmVmzhJvfWgUGf0C6GrpeE8Qqq23ZHbGfTa84L/oUod"

static void test_wecom_crypto__signature_as_documented(void **state)
{
    char sig[41];
    wp_wecom_signature(sig, "QDG6eK", "1409659813", "1372623149", ENC);
    assert_string_equal(sig, "a9cf559feeea1fb3b3caeca909493854ff770a10");
    assert_true(wp_wecom_signature_ok("A9CF559FEEEA1FB3B3CAECA909493854FF770A10", "QDG6eK",
                                      "1409659813", "1372623149", ENC));
    assert_false(wp_wecom_signature_ok("a9cf559feeea1fb3b3caeca909493854ff770a11", "QDG6eK",
                                       "1409659813", "1372623149", ENC));
    assert_false(wp_wecom_signature_ok("a9cf", "QDG6eK", "1409659813", "1372623149", ENC));
    assert_false(wp_wecom_signature_ok(NULL, "QDG6eK", "1409659813", "1372623149", ENC));
}

static void test_wecom_crypto__decrypts_what_openssl_encrypted(void **state)
{
    char *m = NULL, recv[WP_WECOM_ID_MAX + 1];
    size_t len = 0;
    assert_int_equal(wp_wecom_decrypt(&m, &len, recv, KEY, ENC), 0);
    assert_int_equal(len, strlen(MSG));
    assert_string_equal(m, MSG);
    assert_string_equal(recv, CORP);
    free(m);
}

static void test_wecom_crypto__encrypts_as_openssl_does(void **state)
{
    char *b64 = NULL;
    assert_int_equal(wp_wecom_encrypt(&b64, KEY, MSG, strlen(MSG), CORP,
                                      (const unsigned char *)"0123456789abcdef"),
                     0);
    assert_string_equal(b64, ENC);
    free(b64);
}

static void test_wecom_crypto__refuses_what_is_broken(void **state)
{
    char *m = NULL, recv[WP_WECOM_ID_MAX + 1], bad[sizeof ENC];
    size_t len = 0;
    assert_int_equal(wp_wecom_decrypt(&m, &len, recv, "short", ENC), WP_EINVAL);
    assert_int_equal(wp_wecom_decrypt(&m, &len, recv, KEY, "not base64!"), WP_EINVAL);
    assert_int_equal(wp_wecom_decrypt(&m, &len, recv, KEY, "QUJD"), WP_EINVAL); /* 3 bytes */
    assert_int_equal(wp_wecom_decrypt(&m, &len, recv, KEY, ""), WP_EINVAL);
    /* another key: the padding (or the length) does not hold */
    assert_int_equal(wp_wecom_decrypt(&m, &len, recv, "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
                                      ENC),
                     WP_EINVAL);
    /* the last block changed: its padding does not hold */
    memcpy(bad, ENC, sizeof ENC);
    bad[sizeof ENC - 6] = bad[sizeof ENC - 6] == 'A' ? 'B' : 'A';
    assert_int_equal(wp_wecom_decrypt(&m, &len, recv, KEY, bad), WP_EINVAL);
    assert_null(m);
}

static void test_wecom_crypto__round_trip_of_any_length(void **state)
{
    char text[300];
    for (size_t n = 0; n < sizeof text; n += 7) {
        char *b64 = NULL, *m = NULL, recv[WP_WECOM_ID_MAX + 1];
        size_t len = 0;
        memset(text, 'x', n);
        assert_int_equal(wp_wecom_encrypt(&b64, KEY, text, n, "wwcorp",
                                          (const unsigned char *)"rrrrrrrrrrrrrrrr"),
                         0);
        assert_int_equal(wp_wecom_decrypt(&m, &len, recv, KEY, b64), 0);
        assert_int_equal(len, n);
        assert_memory_equal(m, text, n);
        assert_string_equal(recv, "wwcorp");
        free(b64);
        free(m);
    }
}

static void test_wecom_xml__event_fields(void **state)
{
    wp_wecom_event e;
    assert_int_equal(wp_wecom_event_parse(&e, MSG, strlen(MSG)), 0);
    assert_string_equal(e.to_user, CORP);
    assert_string_equal(e.msg_type, "event");
    assert_string_equal(e.event, "change_external_contact");
    assert_string_equal(e.change_type, "del_external_contact");
    assert_string_equal(e.user_id, "zhangsan");
    assert_string_equal(e.external_user_id, "wmA1");
    assert_int_equal(e.create_time, 1764230400);
    /* plain text, deeper elements ignored, a field given twice: the last */
    const char *x = "<xml><UserID>a</UserID><Extra><UserID>deep</UserID></Extra>"
                    "<UserID>b</UserID><CreateTime>5</CreateTime></xml>";
    assert_int_equal(wp_wecom_event_parse(&e, x, strlen(x)), 0);
    assert_string_equal(e.user_id, "b");
    assert_int_equal(e.create_time, 5);
}

static void test_wecom_xml__refuses_entities_and_excess(void **state)
{
    wp_wecom_event e;
    const char *dtd = "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY a \"aaaa\">]>"
                      "<xml><UserID>&a;</UserID></xml>";
    assert_int_equal(wp_wecom_event_parse(&e, dtd, strlen(dtd)), WP_EINVAL);
    const char *bad = "<xml><UserID>a</UserID>";
    assert_int_equal(wp_wecom_event_parse(&e, bad, strlen(bad)), WP_EINVAL);
    const char *t = "<xml><CreateTime>12x</CreateTime></xml>";
    assert_int_equal(wp_wecom_event_parse(&e, t, strlen(t)), WP_EINVAL);
    char *big = malloc(WP_WECOM_XML_FIELD_MAX + 64);
    size_t n = 0;
    memcpy(big, "<xml><UserID>", 13);
    n = 13;
    memset(big + n, 'u', WP_WECOM_XML_FIELD_MAX + 1);
    n += WP_WECOM_XML_FIELD_MAX + 1;
    memcpy(big + n, "</UserID></xml>", 15);
    n += 15;
    assert_int_equal(wp_wecom_event_parse(&e, big, n), WP_EINVAL);
    /* within the field's limit but past the event's place for a UserID */
    n = 13 + 100;
    memcpy(big + n, "</UserID></xml>", 15);
    assert_int_equal(wp_wecom_event_parse(&e, big, n + 15), WP_EINVAL);
    assert_string_equal(wp_error_last(), "'UserID' is longer than 64 bytes");
    free(big);
}

static void test_wecom_client__token_answers(void **state)
{
    char *tok = NULL;
    int64_t exp = 0, code = 0;
    const char *ok = "{\"errcode\":0,\"errmsg\":\"ok\",\"access_token\":\"abc\",\"expires_in\":7200}";
    assert_int_equal(wp_wecom_parse_token(&tok, &exp, &code, ok, strlen(ok)), 0);
    assert_string_equal(tok, "abc");
    assert_int_equal(exp, 7200);
    free(tok);
    const char *no = "{\"errcode\":40001,\"errmsg\":\"invalid credential\"}";
    assert_int_equal(wp_wecom_parse_token(&tok, &exp, &code, no, strlen(no)), WP_EAUTH);
    assert_int_equal(code, 40001);
    const char *inj = "{\"errcode\":0,\"access_token\":\"a&b=c\"}";
    assert_int_equal(wp_wecom_parse_token(&tok, &exp, &code, inj, strlen(inj)), WP_EINVAL);
    assert_int_equal(wp_wecom_parse_token(&tok, &exp, &code, "[]", 2), WP_EINVAL);
}

static void test_wecom_client__customers_and_contacts(void **state)
{
    wp_wecom_customer_result r[2];
    char cursor[256];
    size_t n = 0;
    json_t *a = json_loads("{\"customer\":[{\"external_userid\":\"wm1\",\"status\":1},"
                           "{\"status\":2},{\"external_userid\":\"wm2\",\"status\":3},"
                           "{\"external_userid\":\"wm3\",\"status\":2}],\"next_cursor\":\"c2\"}",
                           0, NULL);
    assert_int_equal(wp_wecom_parse_customers(r, &n, 2, cursor, a, 1), 0);
    assert_int_equal(n, 2);
    assert_string_equal(r[0].external_userid, "wm1");
    assert_int_equal(r[0].value, 1);
    assert_string_equal(r[1].external_userid, "wm2");
    assert_int_equal(r[1].value, 3);
    assert_string_equal(cursor, "c2");
    json_decref(a);

    wp_wecom_contact c[4];
    a = json_loads("{\"external_contact_list\":[{\"external_contact\":{\"external_userid\":\"wm1\","
                   "\"name\":\"王女士\"},\"follow_info\":{\"userid\":\"zs\",\"createtime\":1700000000,"
                   "\"remark_mobiles\":[\"13800138000\"]}},{\"external_contact\":{\"name\":\"x\"}},"
                   "{\"external_contact\":{\"external_userid\":\"wm2\"},\"follow_info\":{\"userid\":"
                   "\"zs\",\"createtime\":-5}}],\"next_cursor\":\"\"}",
                   0, NULL);
    assert_int_equal(wp_wecom_parse_contacts(c, &n, 4, cursor, a), 0);
    assert_int_equal(n, 2);
    assert_string_equal(c[0].name, "王女士");
    assert_string_equal(c[0].phone, "13800138000");
    assert_int_equal(c[0].createtime, 1700000000);
    assert_string_equal(c[1].external_userid, "wm2");
    assert_int_equal(c[1].createtime, 0);
    assert_string_equal(cursor, "");
    json_decref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wecom_crypto__signature_as_documented),
        cmocka_unit_test(test_wecom_crypto__decrypts_what_openssl_encrypted),
        cmocka_unit_test(test_wecom_crypto__encrypts_as_openssl_does),
        cmocka_unit_test(test_wecom_crypto__refuses_what_is_broken),
        cmocka_unit_test(test_wecom_crypto__round_trip_of_any_length),
        cmocka_unit_test(test_wecom_xml__event_fields),
        cmocka_unit_test(test_wecom_xml__refuses_entities_and_excess),
        cmocka_unit_test(test_wecom_client__token_answers),
        cmocka_unit_test(test_wecom_client__customers_and_contacts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
