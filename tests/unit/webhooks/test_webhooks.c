/* SPDX-License-Identifier: MIT */
/* src/webhooks without a store: which addresses a webhook may reach, url checks, the three
 * signatures against vectors computed as the robots' documentation does, the backoff, routing
 * and the robots' messages (masked fields, markdown defused). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "webhooks/webhooks.h"
#include "webhooks/webhooks_int.h"

static int v4_public(const char *ip)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
    return wp_webhooks_addr_public((const struct sockaddr *)&a, NULL);
}

static int v6_public(const char *ip, const char **why)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    assert_int_equal(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
    return wp_webhooks_addr_public((const struct sockaddr *)&a, why);
}

static void test_webhooks_url__addresses(void **state)
{
    const char *why = NULL;
    const char *refused4[] = {"127.0.0.1", "127.9.9.9",   "10.0.0.1",     "172.16.0.1",
                              "172.31.255.255", "192.168.0.1", "169.254.169.254", "0.0.0.0",
                              "100.64.0.1", "224.0.0.1",   "239.255.255.250", "255.255.255.255",
                              "198.18.0.1", "192.0.2.1",   NULL};
    for (const char **ip = refused4; *ip; ip++)
        assert_false(v4_public(*ip));
    const char *public4[] = {"8.8.8.8", "172.32.0.1", "100.128.0.1", "1.1.1.1", "203.0.114.1",
                             NULL};
    for (const char **ip = public4; *ip; ip++)
        assert_true(v4_public(*ip));
    assert_false(v6_public("::1", &why));
    assert_string_equal(why, "loopback");
    assert_false(v6_public("::", &why));
    assert_false(v6_public("fe80::1", &why));
    assert_string_equal(why, "link-local");
    assert_false(v6_public("fd00::1", &why));
    assert_false(v6_public("ff02::1", &why));
    assert_string_equal(why, "multicast");
    assert_false(v6_public("::ffff:127.0.0.1", &why)); /* mapped IPv4 is judged as IPv4 */
    assert_string_equal(why, "loopback");
    assert_false(v6_public("::ffff:10.1.2.3", &why));
    assert_false(v6_public("64:ff9b::a9fe:a9fe", &why)); /* NAT64 of 169.254.169.254 */
    assert_false(v6_public("2002:7f00:1::", &why));      /* 6to4 of 127.0.0.1 */
    assert_true(v6_public("2002:808:808::", &why));
    assert_true(v6_public("2400:3200::1", &why));
    assert_true(v6_public("::ffff:8.8.8.8", &why));
}

static void test_webhooks_url__check(void **state)
{
    /* literals need no DNS */
    assert_int_equal(wp_webhooks_url_check("url", "http://127.0.0.1:8080/x", 0), WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "loopback"));
    assert_int_equal(wp_webhooks_url_check("url", "http://[::1]/", 0), WP_EINVAL);
    assert_int_equal(wp_webhooks_url_check("url", "http://10.2.3.4/", 0), WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "private"));
    assert_int_equal(wp_webhooks_url_check("url", "http://2130706433/", 0), WP_EINVAL);
    assert_int_equal(wp_webhooks_url_check("url", "http://127.0.0.1:8080/x", 1), 0);
    assert_int_equal(wp_webhooks_url_check("url", "https://8.8.8.8/hook?k=v", 0), 0);
    /* shapes, whatever the address */
    assert_int_equal(wp_webhooks_url_check("url", "ftp://8.8.8.8/", 1), WP_EINVAL);
    assert_int_equal(wp_webhooks_url_check("url", "file:///etc/passwd", 1), WP_EINVAL);
    assert_int_equal(wp_webhooks_url_check("url", "http://u:p@8.8.8.8/", 1), WP_EINVAL);
    assert_int_equal(wp_webhooks_url_check("url", "http://8.8.8.8/#x", 1), WP_EINVAL);
    assert_int_equal(wp_webhooks_url_check("url", "http://8.8.8.8/a b", 1), WP_EINVAL);
    assert_int_equal(wp_webhooks_url_check("url", "not a url", 1), WP_EINVAL);
    assert_int_equal(wp_webhooks_url_check("url", "", 1), WP_EINVAL);
}

static void test_webhooks_url__shown(void **state)
{
    char out[256];
    wp_webhooks_url_shown(out, sizeof out,
                          "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-"
                          "4bc4-97a0-0ec2sifa5aaa");
    assert_string_equal(out, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a****");
    wp_webhooks_url_shown(out, sizeof out,
                          "https://open.feishu.cn/open-apis/bot/v2/hook/0123456789abcdef01");
    assert_string_equal(out, "https://open.feishu.cn/open-apis/bot/v2/hook/0123****");
    wp_webhooks_url_shown(out, sizeof out, "http://127.0.0.1:8080/json");
    assert_string_equal(out, "http://127.0.0.1:8080/json");
    wp_webhooks_url_shown(out, 12, "http://example.com/0123456789abcdef01");
    assert_int_equal(strlen(out), 11);
}

/* Vectors computed with Python's hmac, as DingTalk's and Feishu's documentation write it. */
static void test_webhooks_sign__vectors(void **state)
{
    char sig[WP_WEBHOOKS_SIG_MAX];
    wp_webhooks_sign_dingtalk(sig, "SECabc", INT64_C(1700000000000));
    assert_string_equal(sig, "jcUpW0QmtKduN03n4JqQ0PBosVjqnM8gU7fIIvsDmCM=");
    wp_webhooks_sign_feishu(sig, "fs-secret", INT64_C(1700000000));
    assert_string_equal(sig, "ognpFOmraex6LA29Ao14dsiNmmjE3YO4x5e/SX8n9Bw=");
    wp_webhooks_sign_json(sig, "whsec_x", INT64_C(1700000000), "{\"a\":1}", 7);
    assert_string_equal(
        sig, "t=1700000000,v1=b3438763ab46d9634b9844c8722818eaf523f803db1327484c6067462a5fd6d1");
}

static void test_webhooks_task__backoff(void **state)
{
    assert_int_equal(wp_webhooks_backoff_s(1), 30);
    assert_int_equal(wp_webhooks_backoff_s(2), 60);
    assert_int_equal(wp_webhooks_backoff_s(3), 120);
    assert_int_equal(wp_webhooks_backoff_s(8), 3600);
    assert_int_equal(wp_webhooks_backoff_s(1000), 3600);
    /* at least 24 hours of retries: 30 + 60 + ... capped at an hour is some 30 attempts */
    int64_t total = 0, n = 0;
    while (total < WP_WEBHOOKS_RETRY_S)
        total += wp_webhooks_backoff_s(++n);
    assert_true(n > 20 && n < 40);
}

static void test_webhooks_task__routes(void **state)
{
    wp_webhook h;
    memset(&h, 0, sizeof h);
    h.active = 1;
    snprintf(h.format, sizeof h.format, "wecom");
    snprintf(h.events, sizeof h.events, "[\"alert.raised\",\"customer.deleted\"]");
    assert_true(wp_webhooks__routes(&h, "alert.raised", "sensitive_word", "/a/b/"));
    assert_false(wp_webhooks__routes(&h, "handover.completed", NULL, "/a/b/"));
    /* insider alerts go to json webhooks of the whole tenant only */
    assert_false(wp_webhooks__routes(&h, "alert.raised", "mass_unmask", "/a/"));
    snprintf(h.format, sizeof h.format, "json");
    assert_true(wp_webhooks__routes(&h, "alert.raised", "mass_export", "/a/"));
    snprintf(h.alert_kinds, sizeof h.alert_kinds, "[\"money\"]");
    assert_false(wp_webhooks__routes(&h, "alert.raised", "sensitive_word", "/a/"));
    assert_true(wp_webhooks__routes(&h, "alert.raised", "money", "/a/"));
    assert_true(wp_webhooks__routes(&h, "customer.deleted", "customer_deleted", "/a/"));
    h.alert_kinds[0] = '\0';
    /* a unit's webhook: its subtree, by the materialized path */
    snprintf(h.org_unit_id, sizeof h.org_unit_id, "u");
    snprintf(h.org_unit_path, sizeof h.org_unit_path, "/top/store-a/");
    assert_true(wp_webhooks__routes(&h, "alert.raised", "money", "/top/store-a/"));
    assert_true(wp_webhooks__routes(&h, "alert.raised", "money", "/top/store-a/team/"));
    assert_false(wp_webhooks__routes(&h, "alert.raised", "money", "/top/store-b/"));
    assert_false(wp_webhooks__routes(&h, "alert.raised", "money", "/top/"));
    assert_false(wp_webhooks__routes(&h, "alert.raised", "mass_unmask", "/top/store-a/"));
    h.org_unit_path[0] = '\0'; /* the unit is gone: nobody */
    assert_false(wp_webhooks__routes(&h, "alert.raised", "money", "/top/store-a/"));
    h.active = 0;
    h.org_unit_id[0] = '\0';
    assert_false(wp_webhooks__routes(&h, "alert.raised", "money", "/a/"));
}

static char *render(const char *format, const char *event, const char *view_json)
{
    json_error_t je;
    json_t *v = json_loads(view_json, 0, &je);
    wp_buf b;
    assert_non_null(v);
    wp_buf_init(&b, 1 << 16);
    assert_int_equal(wp_webhooks_render(&b, format, event, v, "https://wp.example.com/",
                                        INT64_C(1795766400000000)),
                     0);
    json_decref(v);
    char *out = strdup(b.buf);
    wp_buf_release(&b);
    return out;
}

static const char VIEW[] =
    "{\"alert\":{\"kind\":\"sensitive_word\",\"category\":\"private_deal\",\"action\":\"block\","
    "\"matched\":\"飞单\"},\"employee\":{\"name\":\"张三\",\"org_unit\":\"上海一店\"},"
    "\"customer\":{\"name\":\"[点我](http://evil.example)\"},\"console_path\":\"/customers/c1\"}";

static void test_webhooks_render__robots(void **state)
{
    char *s = render("wecom", "alert.raised", VIEW);
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    const char *c = json_string_value(json_object_get(json_object_get(j, "markdown"), "content"));
    assert_non_null(c);
    assert_non_null(strstr(c, "告警：飞单私单"));
    assert_non_null(strstr(c, "张三（上海一店）"));
    assert_non_null(strstr(c, "拦截"));
    assert_non_null(strstr(c, "2026-11-27 16:00:00（北京时间）")); /* 08:00 UTC */
    assert_non_null(strstr(c, "[在控制台查看](https://wp.example.com/customers/c1)"));
    assert_null(strstr(c, "](http://evil")); /* a name makes no link */
    assert_non_null(strstr(c, "［点我］（http://evil.example）"));
    json_decref(j);
    free(s);

    s = render("dingtalk", "customer.deleted", VIEW);
    j = json_loads(s, 0, &je);
    assert_string_equal(json_string_value(json_object_get(j, "msgtype")), "markdown");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "markdown"), "title")), "客户被删除");
    json_decref(j);
    free(s);

    s = render("feishu", "handover.completed",
               "{\"handover\":{\"reason\":\"departure\",\"customers_moved\":12},\"employee\":"
               "{\"name\":\"张三\"},\"to_employees\":[{\"name\":\"李四\"},{\"name\":\"王五\"}]}");
    assert_non_null(strstr(s, "\"msg_type\":\"interactive\""));
    assert_non_null(strstr(s, "离职交接"));
    assert_non_null(strstr(s, "李四、王五"));
    assert_non_null(strstr(s, "12 个"));
    free(s);

    wp_buf b;
    wp_buf_init(&b, 1024);
    json_t *v = json_object();
    assert_int_equal(wp_webhooks_render(&b, "json", "alert.raised", v, NULL, 0), WP_EINVAL);
    json_decref(v);
    wp_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_webhooks_url__addresses),
        cmocka_unit_test(test_webhooks_url__check),
        cmocka_unit_test(test_webhooks_url__shown),
        cmocka_unit_test(test_webhooks_sign__vectors),
        cmocka_unit_test(test_webhooks_task__backoff),
        cmocka_unit_test(test_webhooks_task__routes),
        cmocka_unit_test(test_webhooks_render__robots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
