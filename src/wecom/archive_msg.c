/* SPDX-License-Identifier: MIT */
/* The archive's JSON (archive.h): a GetChatData answer and its records, and a decrypted message
 * mapped to what workphone stores, every documented type with a readable text. Both parsers
 * take what WeCom (or anyone between) sends: fuzzed by tests/fuzz/fuzz_wecom_*.c. */
#include "wecom/archive.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/utf8.h"
#include "util/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD_MAX WP_ARCHIVE_FIELD_MAX /* bytes of an id, a msgtype, a file name, a title */
#define URL_MAX 4096
#define MEMO_MAX 1024

/* --- the page ------------------------------------------------------------------------------- */

/* s cut to at most cap - 1 bytes on a character, invalid UTF-8 dropped. */
static void copy_text(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p && n + 1 < cap;) {
        size_t len = wp_utf8_seq((const unsigned char *)p, strlen(p));
        if (len == 0) {
            p++;
            continue;
        }
        if (n + len >= cap)
            break;
        memcpy(out + n, p, len);
        n += len;
        p += len;
    }
    out[n] = '\0';
}

static int64_t json_int(const json_t *v)
{
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_string(v)) { /* some answers give numbers as strings */
        char *end;
        const char *s = json_string_value(v);
        long long x = strtoll(s, &end, 10);
        if (*s && !*end)
            return x;
    }
    return -1;
}

static void check_record(wp_wecom_record *r, json_t *o)
{
    const json_t *seq = json_object_get(o, "seq"), *ver = json_object_get(o, "publickey_ver");
    const json_t *id = json_object_get(o, "msgid"), *k = json_object_get(o, "encrypt_random_key");
    const json_t *m = json_object_get(o, "encrypt_chat_msg");
    int64_t v = json_int(seq);
    r->seq = v > 0 ? v : 0;
    r->publickey_ver = json_int(ver) > 0 ? json_int(ver) : 0;
    r->msgid = json_is_string(id) ? json_string_value(id) : NULL;
    r->encrypt_random_key = json_is_string(k) ? json_string_value(k) : NULL;
    r->encrypt_chat_msg = json_is_string(m) ? json_string_value(m) : NULL;
    if (!r->seq)
        snprintf(r->reason, sizeof r->reason, "the record has no seq");
    else if (!r->msgid || !*r->msgid || json_string_length(id) > WP_WECOM_MSGID_MAX)
        snprintf(r->reason, sizeof r->reason, "the record has no msgid (or one too long)");
    else if (!r->publickey_ver)
        snprintf(r->reason, sizeof r->reason, "the record has no publickey_ver");
    else if (!r->encrypt_random_key || !*r->encrypt_random_key)
        snprintf(r->reason, sizeof r->reason, "the record has no encrypt_random_key");
    else if (!r->encrypt_chat_msg || !*r->encrypt_chat_msg)
        snprintf(r->reason, sizeof r->reason, "the record has no encrypt_chat_msg");
}

int wp_wecom_page_parse(wp_wecom_page *out, const char *text, size_t len)
{
    json_error_t je;
    json_t *data;
    memset(out, 0, sizeof *out);
    if (!(out->root = wp_json_loadb(text, len, JSON_REJECT_DUPLICATES, &je)) ||
        !json_is_object(out->root))
        return wp_error_set(WP_EINVAL, "the GetChatData answer is not a json object");
    const json_t *ec = json_object_get(out->root, "errcode");
    if (!json_is_integer(ec))
        return wp_error_set(WP_EINVAL, "the GetChatData answer has no errcode");
    out->errcode = (int64_t)json_integer_value(ec);
    const json_t *em = json_object_get(out->root, "errmsg");
    copy_text(out->errmsg, sizeof out->errmsg, json_is_string(em) ? json_string_value(em) : "");
    if (out->errcode != 0)
        return 0;
    data = json_object_get(out->root, "chatdata");
    if (!data)
        return 0;
    if (!json_is_array(data))
        return wp_error_set(WP_EINVAL, "the GetChatData answer's chatdata is not an array");
    size_t n = json_array_size(data);
    if (n > WP_WECOM_PULL_MAX)
        return wp_error_set(WP_EINVAL, "the GetChatData answer has %zu records (at most %d)", n,
                            WP_WECOM_PULL_MAX);
    if (n && !(out->records = calloc(n, sizeof *out->records)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        wp_wecom_record *r = &out->records[out->n++];
        json_t *o = json_array_get(data, i);
        if (!json_is_object(o)) {
            snprintf(r->reason, sizeof r->reason, "the record is not a json object");
            r->text = wp_json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY);
        } else {
            check_record(r, o);
            r->text = wp_json_dumps(o, JSON_COMPACT);
        }
        if (!r->text)
            return wp_error_set(WP_ENOMEM, "out of memory");
        if (strlen(r->text) > WP_WECOM_RECORD_MAX && !r->reason[0])
            snprintf(r->reason, sizeof r->reason, "the record is larger than %u bytes",
                     WP_WECOM_RECORD_MAX);
    }
    return 0;
}

void wp_wecom_page_release(wp_wecom_page *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->records[i].text);
    free(p->records);
    json_decref(p->root);
    memset(p, 0, sizeof *p);
}

/* --- the message ---------------------------------------------------------------------------- */

int wp_wecom_is_external(const char *id)
{
    return id && (strncmp(id, "wm", 2) == 0 || strncmp(id, "wo", 2) == 0) && strlen(id) >= 16;
}

/* A string member of o, or NULL (also when too long: max bytes). */
static const char *str(const json_t *o, const char *key, size_t max)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max)
        return NULL;
    return json_string_value(v);
}

static int64_t num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (json_is_real(v)) {
        double d = json_real_value(v);
        return isfinite(d) && d >= 0 && d < 9e15 ? (int64_t)d : -1;
    }
    return json_int(v);
}

/* The readable text is built in one capped buffer; past the cap it is cut. */
struct text {
    wp_buf b;
    int cut;
};

static void t_add(struct text *t, const char *s)
{
    if (!s || t->cut)
        return;
    if (wp_buf_adds(&t->b, s) < 0) {
        /* keep what fits, on a character */
        size_t room = t->b.len < WP_ARCHIVE_TEXT_MAX ? WP_ARCHIVE_TEXT_MAX - t->b.len : 0, n = 0;
        while (s[n] && n < room) {
            size_t len = wp_utf8_seq((const unsigned char *)s + n, strlen(s + n));
            if (len == 0 || n + len > room)
                break;
            n += len;
        }
        if (n)
            (void)!wp_buf_add(&t->b, s, n);
        t->cut = 1;
    }
}

static void t_addf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void t_addf(struct text *t, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    t_add(t, tmp);
}

/* "[label] a b c": the label, then the non-empty parts separated by sep. */
static void t_line(struct text *t, const char *label, const char *const *parts, size_t n,
                   const char *sep)
{
    int first = 1;
    if (t->b.len)
        t_add(t, "\n");
    if (label) {
        t_add(t, "[");
        t_add(t, label);
        t_add(t, "]");
    }
    for (size_t i = 0; i < n; i++) {
        if (!parts[i] || !*parts[i])
            continue;
        t_add(t, first ? (label ? " " : "") : sep);
        t_add(t, parts[i]);
        first = 0;
    }
}

static void add_media(wp_wecom_msg *m, const json_t *o, const char *filename)
{
    const char *id = str(o, "sdkfileid", 64 * 1024);
    if (!id || m->n_media >= WP_WECOM_MEDIA_PER_MSG)
        return;
    wp_wecom_media *x = &m->media[m->n_media++];
    x->sdkfileid = id;
    x->md5sum = str(o, "md5sum", 64);
    x->filename = filename;
    x->size = num(o, "filesize");
    if (x->size < 0)
        x->size = num(o, "voice_size");
    if (x->size < 0)
        x->size = num(o, "imagesize");
}

/* Every string of a JSON value (an unknown type's object), in order, each once. */
static void t_strings(struct text *t, const json_t *v, int depth)
{
    const char *key;
    json_t *x;
    size_t i;
    if (depth > 8)
        return;
    if (json_is_string(v) && json_string_length(v) > 0) {
        t_add(t, " ");
        t_add(t, json_string_value(v));
    } else if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, x)
        {
            if (strcmp(key, "sdkfileid") != 0 && strcmp(key, "md5sum") != 0)
                t_strings(t, x, depth + 1);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x) t_strings(t, x, depth + 1);
    }
}

/* A chat record's or mixed message's item: its content is JSON in a string. */
static void item_text(wp_wecom_msg *m, struct text *t, const char *type, const char *content,
                      int depth);

static void map_type(wp_wecom_msg *m, struct text *t, const char *type, const json_t *o,
                     int depth);

static void item_text(wp_wecom_msg *m, struct text *t, const char *type, const char *content,
                      int depth)
{
    json_t *c;
    if (!content || depth > 4)
        return;
    if (!(c = wp_json_loads(content, 0, NULL))) {
        t_line(t, NULL, &content, 1, " "); /* plain text in the item */
        return;
    }
    /* ChatRecordText → text, ChatRecordImage → image, ... */
    char lower[64];
    const char *base = strncmp(type, "ChatRecord", 10) == 0 ? type + 10 : type;
    size_t n = 0;
    for (; base[n] && n + 1 < sizeof lower; n++)
        lower[n] = (char)(base[n] >= 'A' && base[n] <= 'Z' ? base[n] - 'A' + 'a' : base[n]);
    lower[n] = '\0';
    /* kept until the message is released: its media's ids point into it */
    if (!m->items && !(m->items = json_array())) {
        json_decref(c);
        return;
    }
    if (json_array_append_new(m->items, c) < 0)
        return;
    if (json_is_object(c))
        map_type(m, t, lower, c, depth + 1);
}

/* items of a chatrecord or mixed: [{"type", "content" (JSON in a string)}] */
static void map_items(wp_wecom_msg *m, struct text *t, const json_t *items, int depth)
{
    size_t i;
    json_t *it;
    if (!json_is_array(items))
        return;
    json_array_foreach(items, i, it)
    {
        const char *type = str(it, "type", 64), *content = str(it, "content", WP_WECOM_RECORD_MAX);
        if (type && content)
            item_text(m, t, type, content, depth);
    }
}

/* "12秒", or "" when not known (negative). */
static void seconds(char *out, size_t cap, int64_t v)
{
    out[0] = '\0';
    if (v >= 0)
        snprintf(out, cap, "%" PRId64 "秒", v);
}

/* "8800.00元" from fen, or "" when not known (negative). */
static void yuan(char *out, size_t cap, int64_t fen)
{
    out[0] = '\0';
    if (fen >= 0)
        snprintf(out, cap, "%" PRId64 ".%02" PRId64 "元", fen / 100, fen % 100);
}

/* The text (and media, fields) of type's object o. depth > 0: inside a chat record or a mixed
 * message, where only the text and media are taken. */
static void map_type(wp_wecom_msg *m, struct text *t, const char *type, const json_t *o,
                     int depth)
{
    int top = depth == 0;
    char num1[32], num2[32];

    if (!strcmp(type, "text") || !strcmp(type, "markdown")) {
        const char *c = str(o, "content", WP_WECOM_RECORD_MAX);
        if (c)
            t_line(t, NULL, &c, 1, "");
    } else if (!strcmp(type, "image")) {
        t_line(t, "图片", NULL, 0, "");
        add_media(m, o, NULL);
        if (top)
            m->size = num(o, "filesize");
    } else if (!strcmp(type, "voice")) {
        int64_t len = num(o, "play_length");
        seconds(num1, sizeof num1, len);
        const char *p[] = {num1};
        t_line(t, "语音", p, 1, "");
        add_media(m, o, NULL);
        if (top)
            m->size = num(o, "voice_size");
    } else if (!strcmp(type, "video")) {
        int64_t len = num(o, "play_length");
        seconds(num1, sizeof num1, len);
        const char *p[] = {num1};
        t_line(t, "视频", p, 1, "");
        add_media(m, o, NULL);
        if (top)
            m->size = num(o, "filesize");
    } else if (!strcmp(type, "emotion")) {
        t_line(t, "表情", NULL, 0, "");
        add_media(m, o, NULL);
    } else if (!strcmp(type, "file")) {
        const char *name = str(o, "filename", FIELD_MAX);
        const char *p[] = {name};
        t_line(t, "文件", p, 1, "");
        add_media(m, o, name);
        if (top) {
            m->filename = name;
            m->size = num(o, "filesize");
        }
    } else if (!strcmp(type, "link")) {
        const char *title = str(o, "title", MEMO_MAX), *desc = str(o, "description", MEMO_MAX);
        const char *url = str(o, "link_url", URL_MAX);
        const char *p[] = {title, desc, url};
        t_line(t, "链接", p, 3, " ");
        if (top) {
            m->title = title;
            m->url = url;
        }
    } else if (!strcmp(type, "weapp")) {
        const char *p[] = {str(o, "title", MEMO_MAX), str(o, "description", MEMO_MAX),
                           str(o, "displayname", MEMO_MAX)};
        t_line(t, "小程序", p, 3, " ");
        if (top)
            m->title = p[0];
    } else if (!strcmp(type, "card")) {
        const char *p[] = {str(o, "corpname", MEMO_MAX), str(o, "userid", FIELD_MAX)};
        t_line(t, "名片", p, 2, " ");
    } else if (!strcmp(type, "location")) {
        const char *p[] = {str(o, "title", MEMO_MAX), str(o, "address", MEMO_MAX)};
        t_line(t, "位置", p, 2, " ");
        if (top)
            m->title = p[0];
    } else if (!strcmp(type, "redpacket") || !strcmp(type, "external_redpacket")) {
        const char *wish = str(o, "wish", MEMO_MAX);
        int64_t fen = num(o, "totalamount");
        yuan(num1, sizeof num1, fen);
        const char *p[] = {num1, wish};
        t_line(t, !strcmp(type, "redpacket") ? "红包" : "互通红包", p, 2, " ");
        if (top) {
            m->amount_fen = fen;
            m->memo = wish;
        }
    } else if (!strcmp(type, "chatrecord")) {
        const char *title = str(o, "title", MEMO_MAX);
        t_line(t, "聊天记录", &title, 1, "");
        map_items(m, t, json_object_get(o, "item"), depth);
        if (top)
            m->title = title;
    } else if (!strcmp(type, "mixed")) {
        map_items(m, t, json_object_get(o, "item"), depth);
    } else if (!strcmp(type, "todo")) {
        const char *p[] = {str(o, "title", MEMO_MAX), str(o, "content", WP_WECOM_RECORD_MAX)};
        t_line(t, "待办", p, 2, " ");
        if (top)
            m->title = p[0];
    } else if (!strcmp(type, "vote")) {
        const char *title = str(o, "votetitle", MEMO_MAX);
        t_line(t, "投票", &title, 1, "");
        const json_t *items = json_object_get(o, "voteitem");
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) if (json_is_string(it))
        {
            t_add(t, " / ");
            t_add(t, json_string_value(it));
        }
        if (top)
            m->title = title;
    } else if (!strcmp(type, "collect")) {
        const char *p[] = {str(o, "title", MEMO_MAX), str(o, "room_name", MEMO_MAX)};
        t_line(t, "填表", p, 2, " ");
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(o, "details"), i, it)
        {
            const char *q = str(it, "ques", MEMO_MAX);
            if (q) {
                t_add(t, " / ");
                t_add(t, q);
            }
        }
        if (top)
            m->title = p[0];
    } else if (!strcmp(type, "meeting")) {
        const char *p[] = {str(o, "topic", MEMO_MAX), str(o, "address", MEMO_MAX),
                           str(o, "remarks", MEMO_MAX)};
        t_line(t, "会议", p, 3, " ");
        if (top)
            m->title = p[0];
    } else if (!strcmp(type, "calendar")) {
        const char *p[] = {str(o, "title", MEMO_MAX), str(o, "place", MEMO_MAX),
                           str(o, "remarks", MEMO_MAX), str(o, "creatorname", FIELD_MAX)};
        t_line(t, "日程", p, 4, " ");
        if (top)
            m->title = p[0];
    } else if (!strcmp(type, "docmsg") || !strcmp(type, "doc")) {
        const char *title = str(o, "title", MEMO_MAX), *url = str(o, "link_url", URL_MAX);
        const char *p[] = {title, url};
        t_line(t, "在线文档", p, 2, " ");
        if (top) {
            m->title = title;
            m->url = url;
        }
    } else if (!strcmp(type, "news")) {
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(o, "item"), i, it)
        {
            const char *p[] = {str(it, "title", MEMO_MAX), str(it, "description", MEMO_MAX),
                               str(it, "url", URL_MAX)};
            t_line(t, "图文", p, 3, " ");
            if (top && i == 0) {
                m->title = p[0];
                m->url = p[2];
            }
        }
    } else if (!strcmp(type, "meeting_voice_call")) {
        t_line(t, "会议语音", NULL, 0, "");
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(o, "demofiledata"), i, it)
        {
            const char *f = str(it, "filename", FIELD_MAX);
            if (f) {
                t_add(t, " ");
                t_add(t, f);
            }
        }
        add_media(m, o, NULL);
    } else if (!strcmp(type, "voip_doc_share")) {
        const char *name = str(o, "filename", FIELD_MAX);
        t_line(t, "共享文档", &name, 1, "");
        add_media(m, o, name);
        if (top)
            m->filename = name;
    } else if (!strcmp(type, "sphfeed")) {
        const char *p[] = {str(o, "sph_name", MEMO_MAX), str(o, "feed_desc", MEMO_MAX)};
        t_line(t, "视频号", p, 2, " ");
    } else if (!strcmp(type, "voiptext")) {
        int64_t d = num(o, "callduration");
        seconds(num2, sizeof num2, d);
        const char *p[] = {num2};
        t_line(t, "音视频通话", p, 1, "");
    } else if (!strcmp(type, "qydiskfile")) {
        const json_t *info = json_object_get(o, "info");
        const char *name = str(info ? info : o, "filename", FIELD_MAX);
        t_line(t, "微盘文件", &name, 1, "");
    } else if (!strcmp(type, "agree") || !strcmp(type, "disagree")) {
        t_line(t, !strcmp(type, "agree") ? "同意会话存档" : "不同意会话存档", NULL, 0, "");
    } else if (!strcmp(type, "revoke")) {
        t_line(t, "撤回了一条消息", NULL, 0, "");
    } else {
        /* a type this version does not know: its msgtype, and its strings as the text */
        if (t->b.len)
            t_add(t, "\n");
        t_addf(t, "[%s]", type);
        t_strings(t, o, 0);
    }
}

/* The object of a message's type: most are under the msgtype's name; a few are not. */
static const json_t *type_object(const json_t *root, const char *msgtype)
{
    const json_t *o = json_object_get(root, msgtype);
    if (json_is_object(o))
        return o;
    if (!strcmp(msgtype, "docmsg"))
        o = json_object_get(root, "doc");
    else if (!strcmp(msgtype, "markdown") || !strcmp(msgtype, "news"))
        o = json_object_get(root, "info");
    else if (!strcmp(msgtype, "external_redpacket"))
        o = json_object_get(root, "redpacket");
    return json_is_object(o) ? o : NULL;
}

int wp_wecom_msg_parse(wp_wecom_msg *out, const char *text, size_t len)
{
    wp_wecom_msg *m = out;
    struct text t;
    json_error_t je;
    int err = 0;

    memset(m, 0, sizeof *m);
    m->size = m->amount_fen = -1;
    wp_buf_init(&t.b, WP_ARCHIVE_TEXT_MAX);
    t.cut = 0;
    if (len > WP_WECOM_RECORD_MAX) {
        err = wp_error_set(WP_EINVAL, "the message is larger than %u bytes", WP_WECOM_RECORD_MAX);
        goto out;
    }
    if (!(m->root = wp_json_loadb(text, len, JSON_REJECT_DUPLICATES, &je)) ||
        !json_is_object(m->root)) {
        err = wp_error_set(WP_EINVAL, "the message is not a json object");
        goto out;
    }
    const json_t *r = m->root;
    m->msgid = str(r, "msgid", WP_WECOM_MSGID_MAX);
    m->action = str(r, "action", FIELD_MAX);
    if (!m->msgid) {
        err = wp_error_set(WP_EINVAL, "the message has no msgid");
        goto out;
    }
    if (m->action && !strcmp(m->action, "switch")) {
        /* {"msgid", "action": "switch", "time", "user"}: a member switched enterprise */
        m->from = str(r, "user", FIELD_MAX);
        int64_t ms = num(r, "time");
        if (!m->from || ms <= 0 || ms > INT64_MAX / 1000) {
            err = wp_error_set(WP_EINVAL, "the switch record has no user or time");
            goto out;
        }
        m->ts_us = ms * 1000;
        m->msgtype = m->wp_msgtype = "switch";
        t_line(&t, "切换企业", NULL, 0, "");
        goto text;
    }
    m->from = str(r, "from", FIELD_MAX);
    m->roomid = str(r, "roomid", FIELD_MAX);
    m->msgtype = str(r, "msgtype", FIELD_MAX);
    int64_t ms = num(r, "msgtime");
    if (!m->from) {
        err = wp_error_set(WP_EINVAL, "the message has no sender (from)");
        goto out;
    }
    if (!m->msgtype) {
        err = wp_error_set(WP_EINVAL, "the message has no msgtype");
        goto out;
    }
    if (ms <= 0 || ms > INT64_MAX / 1000) {
        err = wp_error_set(WP_EINVAL, "the message has no usable msgtime");
        goto out;
    }
    m->ts_us = ms * 1000;
    const json_t *to = json_object_get(r, "tolist");
    size_t i;
    json_t *x;
    json_array_foreach(to, i, x)
    {
        if (m->n_to < sizeof m->tolist / sizeof m->tolist[0] && json_is_string(x) &&
            json_string_length(x) > 0 && json_string_length(x) <= FIELD_MAX)
            m->tolist[m->n_to++] = json_string_value(x);
    }
    m->wp_msgtype = !strcmp(m->msgtype, "external_redpacket") ? "redpacket" : m->msgtype;
    if (!strcmp(m->msgtype, "revoke")) {
        const json_t *o = type_object(r, "revoke");
        m->revoked_msgid = o ? str(o, "pre_msgid", WP_WECOM_MSGID_MAX) : NULL;
    }
    const json_t *o = type_object(r, m->msgtype);
    json_t *empty = o ? NULL : json_object();
    map_type(m, &t, m->msgtype, o ? o : empty, 0);
    json_decref(empty);
text:
    if (t.b.len) {
        if (!(m->text = strdup(t.b.buf)))
            err = wp_error_set(WP_ENOMEM, "out of memory");
    }
out:
    wp_buf_release(&t.b);
    return err;
}

void wp_wecom_msg_release(wp_wecom_msg *m)
{
    if (!m)
        return;
    free(m->text);
    json_decref(m->items);
    json_decref(m->root);
    memset(m, 0, sizeof *m);
}
