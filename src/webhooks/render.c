/* SPDX-License-Identifier: MIT */
/* What the events say to group robots, in Chinese: WeCom's markdown message, DingTalk's
 * markdown message, Feishu's interactive card; and which events exist. */
#include "webhooks/webhooks.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const events[] = {
    "alert.raised", "customer.deleted", "customer.blocked", "customer.collision",
    "handover.completed", NULL,
};

const char *const *wp_webhooks_events(void)
{
    return events;
}

int wp_webhooks_event_ok(const char *event)
{
    for (const char *const *e = events; event && *e; e++)
        if (!strcmp(*e, event))
            return 1;
    return 0;
}

int wp_webhooks_format_ok(const char *format)
{
    return format && (!strcmp(format, "json") || !strcmp(format, "wecom") ||
                      !strcmp(format, "dingtalk") || !strcmp(format, "feishu"));
}

static int insider_kind(const char *kind)
{
    return kind && (!strcmp(kind, "mass_unmask") || !strcmp(kind, "mass_export"));
}

int wp_webhooks_may_carry(const wp_webhook *hook, const char *alert_kind)
{
    if (!insider_kind(alert_kind))
        return 1;
    return !strcmp(hook->format, "json") && !hook->org_unit_id[0];
}

/* --- names, as the console's zh-CN locale has them ---------------------------------------- */

struct name {
    const char *key, *zh;
};

static const struct name kinds[] = {
    {"sensitive_word", "敏感词"},     {"customer_deleted", "删除客户"},
    {"customer_blocked", "拉黑客户"}, {"money", "红包转账"},
    {"geofence", "越出电子围栏"},     {"customer_collision", "撞单"},
    {"mass_unmask", "批量查看隐私"},  {"mass_export", "批量导出"},
    {"followup_overdue", "跟进逾期"}, {"media_corrupt", "媒体文件损坏"},
    {NULL, NULL},
};

static const struct name categories[] = {
    {"insider", "内部风险"},     {"private_deal", "飞单私单"}, {"false_promise", "虚假承诺"},
    {"contact_leak", "私留联系方式"}, {"rebate", "返点回扣"}, {"abuse", "辱骂"},
    {"fraud", "欺诈"},           {"poaching", "挖客户"},       {"finance", "金融违规"},
    {"insurance", "保险违规"},   {"medical", "医疗违规"},     {"education", "教育违规"},
    {"property", "房产违规"},    {"custom", "自定义"},         {"collision", "撞单"},
    {"sop", "跟进规范"},         {"pii.mobile", "手机号"},     {"pii.id_card", "身份证号"},
    {"pii.bank_card", "银行卡号"}, {"pii.email", "邮箱"},      {"integrity", "数据完整性"},
    {NULL, NULL},
};

static const struct name actions[] = {
    {"alert", "告警"}, {"block", "拦截"}, {"mask", "打码"}, {NULL, NULL},
};

static const char *zh(const struct name *v, const char *key)
{
    for (; key && v->key; v++)
        if (!strcmp(v->key, key))
            return v->zh;
    return key;
}

/* --- fields of the view --------------------------------------------------------------------- */

static const char *str(const json_t *o, const char *k1, const char *k2)
{
    const json_t *v = json_object_get(o, k1);
    if (k2)
        v = json_object_get(v, k2);
    const char *s = json_string_value(v);
    return s && *s ? s : NULL;
}

#define FIELD_MAX_CHARS 64

/* Add text to b as one line of a robot's markdown: at most FIELD_MAX_CHARS characters (then
 * "…"), line breaks as spaces, and the characters markdown would act on (links, emphasis,
 * headings, html, quotes, tables) as their full-width forms, so a customer named "[点此](...)"
 * shows as text and makes no link. */
static int add_text(wp_buf *b, const char *s)
{
    static const char from[] = "[]()*_`#<>|~\\!";
    static const char *const to[] = {"［", "］", "（", "）", "＊", "＿", "｀",
                                     "＃", "＜", "＞", "｜", "～", "＼", "！"};
    size_t chars = 0;
    int err = 0;
    for (const char *p = s ? s : ""; *p && err == 0; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c & 0xc0) != 0x80 && ++chars > FIELD_MAX_CHARS)
            return wp_buf_add(b, "…", strlen("…"));
        const char *f = c ? strchr(from, c) : NULL;
        if (f)
            err = wp_buf_add(b, to[f - from], strlen(to[f - from]));
        else if (c == '\n' || c == '\r' || c == '\t')
            err = wp_buf_addc(b, ' ');
        else
            err = wp_buf_addc(b, (char)c);
    }
    return err;
}

/* "2026-11-27 16:00:05（北京时间）": tenants have no time zone yet; robots are read in China. */
static void beijing(char out[64], int64_t ts_us)
{
    char iso[40];
    wp_time_format(iso, ts_us + INT64_C(8) * 3600 * 1000000, 0); /* 2026-11-27T16:00:05Z */
    snprintf(out, 64, "%.10s %.8s（北京时间）", iso, iso + 11);
}

/* --- the message: a title and lines --------------------------------------------------------- */

struct msg {
    wp_buf title;
    wp_buf lines[8]; /* "label", then "value", in pairs of (label, value) */
    const char *label[8];
    size_t n;
    int warn; /* an alert: the robots' warning colour */
};

static wp_buf *line(struct msg *m, const char *label)
{
    if (m->n == 8)
        return NULL;
    m->label[m->n] = label;
    return &m->lines[m->n++];
}

/* "张三（上海一店）" */
static int add_person(wp_buf *b, const json_t *p)
{
    int err = add_text(b, str(p, "name", NULL) ? str(p, "name", NULL) : "—");
    const char *unit = str(p, "org_unit", NULL);
    if (err == 0 && unit && (err = wp_buf_add(b, "（", strlen("（"))) == 0 &&
        (err = add_text(b, unit)) == 0)
        err = wp_buf_add(b, "）", strlen("）"));
    return err;
}

static int alert_msg(struct msg *m, const char *event, const json_t *view)
{
    const json_t *a = json_object_get(view, "alert");
    const char *kind = str(a, "kind", NULL), *category = str(a, "category", NULL);
    const char *action = str(a, "action", NULL);
    wp_buf *b;
    int err;

    m->warn = 1;
    if (!strcmp(event, "customer.deleted"))
        err = wp_buf_add(&m->title, "客户被删除", strlen("客户被删除"));
    else if (!strcmp(event, "customer.blocked"))
        err = wp_buf_add(&m->title, "客户被拉黑", strlen("客户被拉黑"));
    else if (!strcmp(event, "customer.collision"))
        err = wp_buf_add(&m->title, "撞单提醒", strlen("撞单提醒"));
    else if ((err = wp_buf_add(&m->title, "告警：", strlen("告警："))) == 0)
        err = add_text(&m->title, kind && !strcmp(kind, "sensitive_word") && category
                                      ? zh(categories, category)
                                      : zh(kinds, kind));
    if (err < 0 || !(b = line(m, "类型")) || (err = add_text(b, zh(kinds, kind))) < 0)
        return err;
    if (category && (err = wp_buf_add(b, " · ", strlen(" · "))) == 0)
        err = add_text(b, zh(categories, category));
    if (err == 0 && action && strcmp(action, "alert") &&
        (err = wp_buf_add(b, "（", strlen("（"))) == 0 && (err = add_text(b, zh(actions, action))) == 0)
        err = wp_buf_add(b, "）", strlen("）"));
    if (err < 0 || !(b = line(m, "员工")) ||
        (err = add_person(b, json_object_get(view, "employee"))) < 0)
        return err;
    const json_t *c = json_object_get(view, "customer");
    if (json_is_object(c) && (b = line(m, "客户")) &&
        (err = add_text(b, str(c, "name", NULL) ? str(c, "name", NULL) : "—")) < 0)
        return err;
    const char *matched = str(a, "matched", NULL);
    if (matched && (b = line(m, "命中")) && (err = add_text(b, matched)) < 0)
        return err;
    const json_t *o = json_object_get(view, "other_employee");
    if (json_is_object(o) && (b = line(m, "客户负责人")) && (err = add_person(b, o)) < 0)
        return err;
    return 0;
}

static int handover_msg(struct msg *m, const json_t *view)
{
    const json_t *h = json_object_get(view, "handover");
    const char *reason = str(h, "reason", NULL);
    char n[32];
    wp_buf *b;
    int err;

    if ((err = wp_buf_add(&m->title, "客户交接完成", strlen("客户交接完成"))) < 0 ||
        !(b = line(m, "方式")))
        return err;
    const char *how = reason && !strcmp(reason, "departure") ? "离职交接" : "在职转交";
    if ((err = wp_buf_add(b, how, strlen(how))) < 0 || !(b = line(m, "交出人")) ||
        (err = add_person(b, json_object_get(view, "employee"))) < 0 || !(b = line(m, "接收人")))
        return err;
    const json_t *to = json_object_get(view, "to_employees"), *p;
    size_t i;
    json_array_foreach(to, i, p)
    {
        if (i == 5) {
            snprintf(n, sizeof n, " 等 %zu 人", json_array_size(to));
            return wp_buf_add(b, n, strlen(n));
        }
        if ((i && (err = wp_buf_add(b, "、", strlen("、"))) < 0) || (err = add_person(b, p)) < 0)
            return err;
    }
    snprintf(n, sizeof n, "%lld 个",
             (long long)json_integer_value(json_object_get(h, "customers_moved")));
    if (!(b = line(m, "转移客户")))
        return 0;
    return wp_buf_add(b, n, strlen(n));
}

static int test_msg(struct msg *m)
{
    static const char t[] = "Webhook 测试消息";
    static const char v[] = "收到这条消息，说明工作手机管理系统的 Webhook 配置正确。";
    wp_buf *b;
    int err;
    if ((err = wp_buf_add(&m->title, t, strlen(t))) < 0 || !(b = line(m, "说明")))
        return err;
    return wp_buf_add(b, v, strlen(v));
}

/* --- the three robots ---------------------------------------------------------------------- */

static int link_of(char *out, size_t cap, const char *console_url, const json_t *view)
{
    const char *path = str(view, "console_path", NULL);
    if (!console_url || !*console_url)
        return 0;
    size_t n = strlen(console_url);
    while (n > 0 && console_url[n - 1] == '/')
        n--;
    int w = snprintf(out, cap, "%.*s%s", (int)n, console_url, path ? path : "/");
    return w > 0 && (size_t)w < cap;
}

static int dump_into(wp_buf *out, json_t *o)
{
    int err;
    char *s = o ? wp_json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s)
        return wp_error_set(WP_ENOMEM, "out of memory");
    err = wp_buf_add(out, s, strlen(s));
    free(s);
    return err;
}

/* WeCom's group robot: {"msgtype":"markdown","markdown":{"content"}}, at most 4096 bytes. */
static int wecom(wp_buf *out, const struct msg *m, const char *link, const char *when)
{
    wp_buf c;
    int err;
    wp_buf_init(&c, 4096);
    if ((err = wp_buf_addf(&c, "**%s**\n", m->title.buf)) == 0)
        for (size_t i = 0; i < m->n && err == 0; i++)
            err = wp_buf_addf(&c, i == 0 && m->warn ? "> %s：<font color=\"warning\">%s</font>\n"
                                                    : "> %s：%s\n",
                              m->label[i], m->lines[i].buf);
    if (err == 0)
        err = wp_buf_addf(&c, "> 时间：%s\n", when);
    if (err == 0 && *link)
        err = wp_buf_addf(&c, "[在控制台查看](%s)", link);
    if (err == 0)
        err = dump_into(out, json_pack("{s:s,s:{s:s}}", "msgtype", "markdown", "markdown",
                                       "content", c.buf));
    wp_buf_release(&c);
    return err;
}

/* DingTalk's custom robot: {"msgtype":"markdown","markdown":{"title","text"}}. */
static int dingtalk(wp_buf *out, const struct msg *m, const char *link, const char *when)
{
    wp_buf t;
    int err;
    wp_buf_init(&t, 16384);
    if ((err = wp_buf_addf(&t, "#### %s\n\n", m->title.buf)) == 0)
        for (size_t i = 0; i < m->n && err == 0; i++)
            err = wp_buf_addf(&t, "- %s：%s\n", m->label[i], m->lines[i].buf);
    if (err == 0)
        err = wp_buf_addf(&t, "- 时间：%s\n", when);
    if (err == 0 && *link)
        err = wp_buf_addf(&t, "\n[在控制台查看](%s)", link);
    if (err == 0)
        err = dump_into(out, json_pack("{s:s,s:{s:s,s:s}}", "msgtype", "markdown", "markdown",
                                       "title", m->title.buf, "text", t.buf));
    wp_buf_release(&t);
    return err;
}

/* Feishu's custom robot: an interactive card (a header, a lark_md block, a button). */
static int feishu(wp_buf *out, const struct msg *m, const char *link, const char *when)
{
    wp_buf t;
    int err;
    wp_buf_init(&t, 16384);
    err = 0;
    for (size_t i = 0; i < m->n && err == 0; i++)
        err = wp_buf_addf(&t, "**%s**：%s\n", m->label[i], m->lines[i].buf);
    if (err < 0 || (err = wp_buf_addf(&t, "**时间**：%s", when)) < 0) {
        wp_buf_release(&t);
        return err;
    }
    json_t *elements = json_pack("[{s:s,s:{s:s,s:s}}]", "tag", "div", "text", "tag", "lark_md",
                                 "content", t.buf);
    wp_buf_release(&t);
    if (elements && *link &&
        json_array_append_new(elements,
                              json_pack("{s:s,s:[{s:s,s:{s:s,s:s},s:s,s:s}]}", "tag", "action",
                                        "actions", "tag", "button", "text", "tag", "plain_text",
                                        "content", "在控制台查看", "type", "primary", "url",
                                        link)) < 0) {
        json_decref(elements);
        elements = NULL;
    }
    if (!elements)
        return wp_error_set(WP_ENOMEM, "out of memory");
    return dump_into(out, json_pack("{s:s,s:{s:{s:b},s:{s:s,s:{s:s,s:s}},s:o}}", "msg_type",
                                    "interactive", "card", "config", "wide_screen_mode", 1,
                                    "header", "template", m->warn ? "red" : "blue", "title", "tag",
                                    "plain_text", "content", m->title.buf, "elements", elements));
}

int wp_webhooks_render(wp_buf *out, const char *format, const char *event, const json_t *view,
                       const char *console_url, int64_t ts_us)
{
    struct msg m;
    char link[WP_WEBHOOK_URL_MAX + 128] = "", when[64];
    int err;

    memset(&m, 0, sizeof m);
    wp_buf_init(&m.title, 1024);
    for (size_t i = 0; i < 8; i++)
        wp_buf_init(&m.lines[i], 2048);
    if (!strcmp(event, "handover.completed"))
        err = handover_msg(&m, view);
    else if (!strcmp(event, "webhook.test"))
        err = test_msg(&m);
    else
        err = alert_msg(&m, event, view);
    if (err == 0 && !link_of(link, sizeof link, console_url, view))
        link[0] = '\0';
    beijing(when, ts_us);
    if (err < 0)
        goto out;
    if (!strcmp(format, "wecom"))
        err = wecom(out, &m, link, when);
    else if (!strcmp(format, "dingtalk"))
        err = dingtalk(out, &m, link, when);
    else if (!strcmp(format, "feishu"))
        err = feishu(out, &m, link, when);
    else
        err = wp_error_set(WP_EINVAL, "'%s' is no robot format", format);
out:
    wp_buf_release(&m.title);
    for (size_t i = 0; i < 8; i++)
        wp_buf_release(&m.lines[i]);
    return err;
}
