/* SPDX-License-Identifier: MIT */
/* The notice the employee is told (issue 20), through libwpagent against a real `workphone
 * serve`: the administrator's text and automatic first message arrive with the policy at
 * enrollment, the acknowledgement reaches the server (audited, on the employee's privacy page)
 * and is remembered, a changed text asks for a new one, and an unknown version is refused;
 * the app's report that it sent the automatic first message records the customer's consent;
 * offline, both are kept on disk and the next sync sends them in order. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server.h"
#include "workphone/agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static test_server srv;

static void put_notice(const char *body)
{
    int status;
    json_t *j = server_call(&srv, "PUT", "/api/v1/notice", NULL, "application/json", body,
                            &status, NULL);
    assert_int_equal(status, 200);
    json_decref(j);
}

static void test_agent_notice__told_and_acknowledged(void **state)
{
    (void)state;
    char dir[64], code[64];
    wp_agent *a = NULL;
    wp_agent_options o = WP_AGENT_OPTIONS_INIT;
    char *text = NULL, *am = NULL;
    int64_t version = -1;
    int acked = -1, status;

    make_tmpdir(dir, "notice");
    o.dir = dir;
    assert_int_equal(wp_agent_new(&a, &o), 0);
    assert_int_equal(wp_agent_notice(a, &text, &version, &acked, &am), WP_AGENT_ENOPOLICY);
    assert_null(text);
    assert_int_equal(wp_agent_notice_ack(a, 1), WP_AGENT_ENOTENROLLED);

    put_notice("{\"text\":\"本机的聊天与录音会被记录。\",\"auto_message\":\"您好，本对话将被记录。\"}");
    server_code(&srv, code);
    assert_int_equal(wp_agent_enroll(a, srv.base, code, "SN-N", "M"), 0);
    assert_int_equal(wp_agent_notice(a, &text, &version, &acked, &am), 0);
    assert_string_equal(text, "本机的聊天与录音会被记录。");
    assert_string_equal(am, "您好，本对话将被记录。");
    assert_int_equal(version, 1);
    assert_int_equal(acked, 0);
    wp_agent_string_free(text);
    wp_agent_string_free(am);

    /* a version the server never gave is refused, and nothing is remembered */
    assert_int_equal(wp_agent_notice_ack(a, 9), WP_AGENT_EPROTO);
    assert_int_equal(wp_agent_notice(a, &text, &version, &acked, NULL), 0);
    assert_int_equal(acked, 0);
    wp_agent_string_free(text);
    assert_int_equal(wp_agent_notice_ack(a, 1), 0);
    assert_int_equal(wp_agent_notice(a, &text, &version, &acked, NULL), 0);
    assert_int_equal(acked, 1);
    wp_agent_string_free(text);
    /* the server has it: one audited acknowledgement of the employee */
    json_t *j = server_call(&srv, "GET", "/api/v1/audit?action=notice.ack", NULL, NULL, NULL,
                            &status, NULL);
    assert_int_equal(status, 200);
    json_t *items = json_object_get(j, "items");
    assert_int_equal(json_array_size(items), 1);
    char target[96];
    snprintf(target, sizeof target, "employee:%s", srv.employee);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "target")),
                        target);
    json_decref(j);

    /* a new text: the next sync brings it, not acknowledged yet; the message cleared */
    put_notice("{\"text\":\"新的告知。\",\"auto_message\":null}");
    assert_int_equal(wp_agent_sync(a), 0);
    assert_int_equal(wp_agent_notice(a, &text, &version, &acked, &am), 0);
    assert_string_equal(text, "新的告知。");
    assert_null(am);
    assert_int_equal(version, 2);
    assert_int_equal(acked, 0);
    wp_agent_string_free(text);

    /* the app sent the automatic first message: the customer was told. The server knows the
     * customer from the phone's conversation with it. */
    const char *ev = "{\"type\":\"message\",\"channel\":\"wechat\",\"direction\":\"out\","
                     "\"peer\":{\"id\":\"wx_notice\",\"name\":\"Nora\"},\"chat\":\"wx_notice\","
                     "\"msgtype\":\"text\",\"text\":\"您好\"}";
    assert_int_equal(wp_agent_record(a, NULL, ev, strlen(ev)), 0);
    assert_int_equal(wp_agent_sync(a), 0);
    assert_int_equal(wp_agent_auto_message_sent(a, NULL, NULL, NULL, 0), WP_AGENT_EINVAL);
    assert_int_equal(wp_agent_auto_message_sent(a, "wechat", "wx_nobody", NULL, 0),
                     WP_AGENT_EPROTO);
    assert_int_equal(wp_agent_auto_message_sent(a, "wechat", "wx_notice", NULL, 0), 0);
    j = server_call(&srv, "GET", "/api/v1/customers?q=Nora", NULL, NULL, NULL, &status, NULL);
    assert_int_equal(status, 200);
    char path[160];
    snprintf(path, sizeof path, "/api/v1/customers/%s/consents",
             json_string_value(json_object_get(json_array_get(json_object_get(j, "items"), 0),
                                               "id")));
    json_decref(j);
    j = server_call(&srv, "GET", path, NULL, NULL, NULL, &status, NULL);
    assert_int_equal(status, 200);
    items = json_object_get(j, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "method")),
                        "auto_message");
    json_decref(j);

    /* offline: the acknowledgement and two automatic messages are kept, in order, and the
     * next sync sends them; the server refuses the one naming nobody, which is dropped */
    server_stop(&srv);
    wp_agent_status stt;
    assert_int_equal(wp_agent_notice_ack(a, 2), 0);
    assert_int_equal(wp_agent_notice(a, &text, &version, &acked, NULL), 0);
    assert_int_equal(acked, 1);
    wp_agent_string_free(text);
    assert_int_equal(wp_agent_auto_message_sent(a, "wechat", "wx_notice", NULL, 0), 0);
    assert_int_equal(wp_agent_auto_message_sent(a, "wechat", "wx_nobody", NULL, 0), 0);
    assert_int_equal(wp_agent_status_get(a, &stt), 0);
    assert_int_equal(stt.notes_pending, 3);
    assert_int_equal(stt.notes_refused, 0);
    /* kept on disk: a restart of the app loses none */
    wp_agent_free(a);
    a = NULL;
    assert_int_equal(wp_agent_new(&a, &o), 0);
    assert_int_equal(wp_agent_status_get(a, &stt), 0);
    assert_int_equal(stt.notes_pending, 3);
    server_restart(&srv);
    assert_int_equal(wp_agent_sync(a), 0);
    assert_int_equal(wp_agent_status_get(a, &stt), 0);
    assert_int_equal(stt.notes_pending, 0);
    assert_int_equal(stt.notes_refused, 1);
    j = server_call(&srv, "GET", "/api/v1/audit?action=notice.ack", NULL, NULL, NULL, &status,
                    NULL);
    assert_int_equal(status, 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 2);
    json_decref(j);
    j = server_call(&srv, "GET", path, NULL, NULL, NULL, &status, NULL);
    assert_int_equal(status, 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 2);
    json_decref(j);
    /* online again: sent at once, nothing kept */
    assert_int_equal(wp_agent_notice_ack(a, 2), 0);
    assert_int_equal(wp_agent_status_get(a, &stt), 0);
    assert_int_equal(stt.notes_pending, 0);

    /* it survives a restart without the network */
    wp_agent_free(a);
    a = NULL;
    assert_int_equal(wp_agent_new(&a, &o), 0);
    assert_int_equal(wp_agent_notice(a, &text, &version, &acked, NULL), 0);
    assert_string_equal(text, "新的告知。");
    assert_int_equal(version, 2);
    wp_agent_string_free(text);
    wp_agent_free(a);
    rm_rf(dir);
}

static int setup(void **state)
{
    (void)state;
    server_start(&srv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    server_destroy(&srv);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_notice__told_and_acknowledged),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
