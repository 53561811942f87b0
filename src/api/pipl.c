/* SPDX-License-Identifier: MIT */
/* A customer's data request (a ZIP of everything about them) and erasure, for admins (PIPL,
 * issue 20; store/pipl.h). docs/internals/pipl.md */
#include "api/api.h"
#include "store/customers.h"
#include "store/pipl.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/json.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>

#define PIPL_REASON_MAX 500           /* characters of an erasure's reason */
#define PIPL_MEDIA_MAX 2000           /* media files one export carries */
#define PIPL_SUMMARY_MAX (16u << 20)  /* bytes of summary.html */
#define PIPL_MESSAGES_SHOWN 2000      /* messages summary.html lists (all are in messages.json) */

static const char *const section_names[] = {"customer", "identities",     "tags",   "history",
                                            "messages", "calls",          "contact_events",
                                            "alerts",   "handovers",      "checkins",
                                            NULL};

/* The rows of a data request, section by section. */
struct collect {
    json_t *sec; /* {"customer": [...], "identities": [...], ...} */
    int err;
};

static int on_row(void *arg, const wp_data_row *r)
{
    struct collect *c = arg;
    json_t *o = json_object(), *arr = json_object_get(c->sec, r->section);
    if (!o || !arr)
        goto oom;
    for (size_t i = 0; i < r->n; i++) {
        const char *v = r->values[i];
        json_t *x;
        if (!v)
            x = json_null();
        else if (r->types[i] == 'i')
            x = json_integer(strtoll(v, NULL, 10));
        else if (r->types[i] == 'T')
            x = api_jtime(strtoll(v, NULL, 10));
        else if (!strcmp(r->names[i], "details")) {
            /* a history row's details are JSON already (api_jparse: whole or out of memory) */
            if (api_jparse(&x, v, 0) < 0)
                goto oom;
            if (!x)
                x = json_string(v);
        } else
            x = json_string(v);
        if (!x || json_object_set_new(o, r->names[i], x) < 0)
            goto oom;
    }
    if (json_array_append_new(arr, o) < 0)
        return c->err = wp_error_set(WP_ENOMEM, "out of memory");
    return 0;
oom:
    json_decref(o);
    return c->err = wp_error_set(WP_ENOMEM, "out of memory");
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Text for HTML: & < > " escaped. */
static int html(wp_buf *b, const char *s)
{
    int err = 0;
    for (; s && *s && err == 0; s++) {
        switch (*s) {
        case '&': err = wp_buf_adds(b, "&amp;"); break;
        case '<': err = wp_buf_adds(b, "&lt;"); break;
        case '>': err = wp_buf_adds(b, "&gt;"); break;
        case '"': err = wp_buf_adds(b, "&quot;"); break;
        default: err = wp_buf_addc(b, *s);
        }
    }
    return err;
}

/* A JSON value as a table cell's text. */
static int cell(wp_buf *b, json_t *v)
{
    char num[32];
    if (json_is_string(v))
        return html(b, json_string_value(v));
    if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        return wp_buf_adds(b, num);
    }
    if (json_is_object(v)) {
        char *t = wp_json_dumps(v, JSON_COMPACT);
        int err = t ? html(b, t) : wp_error_set(WP_ENOMEM, "out of memory");
        free(t);
        return err;
    }
    return 0;
}

/* summary.html: what a person reads first, headings in Chinese and English. */
static int summary(wp_buf *b, json_t *sec, const char *made_at, size_t n_media)
{
    static const struct {
        const char *key, *zh, *en;
    } heads[] = {
        {"identities", "联系方式", "Identities"},   {"tags", "标签", "Tags"},
        {"history", "客户记录（等级、阶段、跟进）", "History (grades, stages, follow-ups)"},
        {"calls", "通话", "Calls"},                 {"contact_events", "联系人事件", "Contact events"},
        {"alerts", "告警", "Alerts"},               {"handovers", "交接", "Handovers"},
        {"checkins", "拜访签到", "Visits"},
    };
    json_t *cu = json_array_get(json_object_get(sec, "customer"), 0), *v, *row;
    const char *k;
    size_t i;
    int err = 0;

    err = wp_buf_adds(b, "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
                         "<meta name=\"viewport\" content=\"width=device-width\">"
                         "<title>个人信息副本 / Personal data copy</title><style>"
                         "body{font-family:sans-serif;margin:1.5em;max-width:60em}"
                         "table{border-collapse:collapse;width:100%}"
                         "td,th{border:1px solid #ccc;padding:4px;text-align:left;"
                         "vertical-align:top;word-break:break-word}</style></head><body>\n"
                         "<h1>个人信息副本 / Personal data copy</h1>\n<p>生成时间 / Made at: ");
    if (err == 0)
        err = html(b, made_at);
    if (err == 0)
        err = wp_buf_adds(b, "</p>\n<p>本文件包含本系统保存的关于此客户的全部个人信息："
                             "customer.json、messages.json、calls.json 和 media/ 目录中的文件。"
                             "<br>This file holds all personal data this system keeps about the "
                             "customer: customer.json, messages.json, calls.json and the files "
                             "in media/.</p>\n<h2>客户 / Customer</h2>\n<table>\n");
    json_object_foreach(cu, k, v)
    {
        if (err == 0 && !json_is_null(v))
            err = wp_buf_adds(b, "<tr><th>");
        if (err == 0 && !json_is_null(v))
            err = html(b, k);
        if (err == 0 && !json_is_null(v))
            err = wp_buf_adds(b, "</th><td>");
        if (err == 0 && !json_is_null(v))
            err = cell(b, v);
        if (err == 0 && !json_is_null(v))
            err = wp_buf_adds(b, "</td></tr>\n");
    }
    if (err == 0)
        err = wp_buf_addf(b,
                          "</table>\n<h2>数量 / Counts</h2>\n<table>\n"
                          "<tr><th>消息 / Messages</th><td>%zu</td></tr>\n"
                          "<tr><th>通话 / Calls</th><td>%zu</td></tr>\n"
                          "<tr><th>媒体文件 / Media files</th><td>%zu</td></tr>\n",
                          json_array_size(json_object_get(sec, "messages")),
                          json_array_size(json_object_get(sec, "calls")), n_media);
    for (i = 0; err == 0 && i < sizeof heads / sizeof *heads; i++)
        if (strcmp(heads[i].key, "calls"))
            err = wp_buf_addf(b, "<tr><th>%s / %s</th><td>%zu</td></tr>\n", heads[i].zh,
                              heads[i].en, json_array_size(json_object_get(sec, heads[i].key)));
    if (err == 0)
        err = wp_buf_adds(b, "</table>\n<h2>消息 / Messages</h2>\n<table>\n<tr><th>时间 / Time"
                             "</th><th>渠道 / Channel</th><th>方向 / Direction</th><th>内容 / "
                             "Content</th></tr>\n");
    json_array_foreach(json_object_get(sec, "messages"), i, row)
    {
        if (err || i >= PIPL_MESSAGES_SHOWN)
            break;
        const char *text = jstr(row, "text"), *media = jstr(row, "media");
        if ((err = wp_buf_adds(b, "<tr><td>")) < 0 || (err = html(b, jstr(row, "at"))) < 0 ||
            (err = wp_buf_adds(b, "</td><td>")) < 0 ||
            (err = html(b, jstr(row, "channel"))) < 0 ||
            (err = wp_buf_adds(b, "</td><td>")) < 0 ||
            (err = html(b, !strcmp(jstr(row, "direction"), "in") ? "收 / in" : "发 / out")) < 0 ||
            (err = wp_buf_adds(b, "</td><td>")) < 0)
            break;
        if (*text)
            err = html(b, text);
        else if (!strncmp(media, "sha256:", 7))
            err = wp_buf_addf(b, "[%s] media/%.64s", jstr(row, "msgtype"), media + 7);
        else
            err = html(b, jstr(row, "msgtype"));
        if (err == 0)
            err = wp_buf_adds(b, "</td></tr>\n");
    }
    for (i = 0; err == 0 && i < sizeof heads / sizeof *heads; i++) {
        json_t *arr = json_object_get(sec, heads[i].key), *first = json_array_get(arr, 0);
        size_t j;
        if (!first)
            continue;
        err = wp_buf_addf(b, "</table>\n<h2>%s / %s</h2>\n<table>\n<tr>", heads[i].zh,
                          heads[i].en);
        json_object_foreach(first, k, v)
        {
            if (err == 0)
                err = wp_buf_adds(b, "<th>");
            if (err == 0)
                err = html(b, k);
            if (err == 0)
                err = wp_buf_adds(b, "</th>");
        }
        if (err == 0)
            err = wp_buf_adds(b, "</tr>\n");
        json_array_foreach(arr, j, row)
        {
            if (err == 0)
                err = wp_buf_adds(b, "<tr>");
            json_object_foreach(row, k, v)
            {
                if (err == 0)
                    err = wp_buf_adds(b, "<td>");
                if (err == 0)
                    err = cell(b, v);
                if (err == 0)
                    err = wp_buf_adds(b, "</td>");
            }
            if (err == 0)
                err = wp_buf_adds(b, "</tr>\n");
        }
    }
    if (err == 0)
        err = wp_buf_adds(b, "</table>\n</body></html>\n");
    return err;
}

/* Add a JSON document to the zip under name. */
static int zip_json(zip_t *za, const char *name, json_t *doc)
{
    char *t = wp_json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    zip_source_t *src;
    if (!t)
        return wp_error_set(WP_ENOMEM, "out of memory");
    if (!(src = zip_source_buffer(za, t, strlen(t), 1))) {
        free(t);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    if (zip_file_add(za, name, src, ZIP_FL_ENC_UTF_8) < 0) {
        zip_source_free(src);
        return wp_error_set(WP_EIO, "cannot add '%s' to the zip", name);
    }
    return 0;
}

/* The distinct media refs of the messages and calls, in order. */
static int media_refs(json_t *sec, json_t *out)
{
    static const char *const from[][2] = {{"messages", "media"}, {"calls", "recording"}};
    for (size_t k = 0; k < 2; k++) {
        json_t *row;
        size_t i;
        json_array_foreach(json_object_get(sec, from[k][0]), i, row)
        {
            const char *r = jstr(row, from[k][1]);
            if (strncmp(r, "sha256:", 7) || strlen(r) != 71 || json_object_get(out, r))
                continue;
            if (json_object_size(out) >= PIPL_MEDIA_MAX)
                return wp_error_set(WP_ELIMIT, "the customer has more than %d media files",
                                    PIPL_MEDIA_MAX);
            if (json_object_set_new(out, r, json_true()) < 0)
                return wp_error_set(WP_ENOMEM, "out of memory");
        }
    }
    return 0;
}

/* <data dir>/tmp/pipl-XXXXXX, made (empty) so the name is ours. */
static int tmp_path(wp_http_ctx *ctx, char *out, size_t cap)
{
    const wp_app *app = ctx->app;
    char d[900];
    if (!app || !app->data_dir)
        return wp_error_set(WP_EIO, "the server has no data directory");
    snprintf(d, sizeof d, "%s/tmp", app->data_dir);
    if (mkdir(d, 0700) < 0 && errno != EEXIST)
        return wp_error_set(WP_EIO, "cannot make '%s'", d);
    if ((size_t)snprintf(out, cap, "%s/pipl-XXXXXX", d) >= cap)
        return wp_error_set(WP_EIO, "the data directory's path is too long");
    int fd = mkstemp(out);
    if (fd < 0)
        return wp_error_set(WP_EIO, "cannot make a temporary file in '%s'", d);
    close(fd);
    return 0;
}

/* An encrypted media file's plaintext in an unnamed file beside the zip at zip_path (the
 * zip holds it in the clear anyway, and is removed once sent): *fd, at offset 0. Frees rd. */
static int plain_copy(const char *zip_path, wp_media_reader *rd, int *fd)
{
    char dir[1024], buf[64 * 1024];
    const char *slash = strrchr(zip_path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - zip_path) : 1,
             slash ? zip_path : ".");
    int t = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    int err = t < 0 ? wp_error_set(WP_EIO, "cannot make a temporary file in '%s'", dir) : 0;
    long n;
    while (err == 0 && (n = wp_media_reader_read(rd, buf, sizeof buf)) != 0) {
        if (n < 0)
            err = (int)n;
        else if (write(t, buf, (size_t)n) != n)
            err = wp_error_set(WP_EIO, "cannot write a temporary file in '%s'", dir);
    }
    sodium_memzero(buf, sizeof buf);
    wp_media_reader_free(rd);
    if (err == 0 && lseek(t, 0, SEEK_SET) != 0)
        err = wp_error_set(WP_EIO, "cannot read a temporary file in '%s'", dir);
    if (err < 0) {
        if (t >= 0)
            close(t);
        return err;
    }
    *fd = t;
    return 0;
}

/* Write the zip at path: summary.html, customer.json, messages.json, calls.json, media/<hex>
 * for each file stored. *n_media: the files it holds. */
static int write_zip(wp_http_ctx *ctx, const char *path, json_t *sec, json_t *refs,
                     const char *made_at, size_t *n_media)
{
    const wp_app *app = ctx->app;
    const api_caller *c = api_caller_of(ctx);
    json_t *doc = NULL, *files = json_array();
    const char *ref;
    json_t *unused;
    wp_buf b;
    int zerr = 0, err = 0;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);

    wp_buf_init(&b, PIPL_SUMMARY_MAX);
    *n_media = 0;
    if (!za || !files) {
        err = wp_error_set(za ? WP_ENOMEM : WP_EIO, "cannot write the zip");
        goto out;
    }
    /* the media first: summary.html counts what is there */
    json_object_foreach(refs, ref, unused)
    {
        int fd = -1;
        int64_t size = 0;
        char name[80];
        FILE *f;
        zip_source_t *src;
        zip_int64_t idx;
        wp_media_reader *rd = NULL;
        if ((err = wp_ingest_media_open(app->ingest, &fd, &rd, &size, c->tenant_id, ref)) ==
            WP_ENOTFOUND) {
            err = 0; /* named by a message, never uploaded: nothing to copy */
            continue;
        }
        if (err < 0)
            goto out;
        if (rd && (err = plain_copy(path, rd, &fd)) < 0) /* encrypted at rest */
            goto out;
        if (!(f = fdopen(fd, "rb"))) {
            close(fd);
            err = wp_error_set(WP_EIO, "cannot read media '%s'", ref);
            goto out;
        }
        snprintf(name, sizeof name, "media/%s", ref + 7);
        if (!(src = zip_source_filep(za, f, 0, size))) {
            fclose(f);
            err = wp_error_set(WP_EIO, "cannot add '%s' to the zip", name);
            goto out;
        }
        if ((idx = zip_file_add(za, name, src, ZIP_FL_ENC_UTF_8)) < 0) {
            zip_source_free(src);
            err = wp_error_set(WP_EIO, "cannot add '%s' to the zip", name);
            goto out;
        }
        zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
        if (json_array_append_new(files, json_string(name)) < 0) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
        (*n_media)++;
    }
    if ((err = summary(&b, sec, made_at, *n_media)) < 0)
        goto out;
    zip_source_t *src = zip_source_buffer(za, b.buf, b.len, 0);
    if (!src || zip_file_add(za, "summary.html", src, ZIP_FL_ENC_UTF_8) < 0) {
        zip_source_free(src);
        err = wp_error_set(WP_EIO, "cannot add summary.html to the zip");
        goto out;
    }
    doc = json_pack("{s:s,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O}", "made_at", made_at, "customer",
                    json_array_get(json_object_get(sec, "customer"), 0), "identities",
                    json_object_get(sec, "identities"), "tags", json_object_get(sec, "tags"),
                    "history", json_object_get(sec, "history"), "contact_events",
                    json_object_get(sec, "contact_events"), "handovers",
                    json_object_get(sec, "handovers"), "checkins",
                    json_object_get(sec, "checkins"), "media_files", files);
    if (!doc || (err = zip_json(za, "customer.json", doc)) < 0)
        goto out_doc;
    json_decref(doc);
    doc = json_pack("{s:O,s:O}", "messages", json_object_get(sec, "messages"), "alerts",
                    json_object_get(sec, "alerts"));
    if (!doc || (err = zip_json(za, "messages.json", doc)) < 0)
        goto out_doc;
    json_decref(doc);
    doc = json_pack("{s:O}", "calls", json_object_get(sec, "calls"));
    if (!doc || (err = zip_json(za, "calls.json", doc)) < 0)
        goto out_doc;
    if (zip_close(za) < 0) {
        err = wp_error_set(WP_EIO, "cannot write the zip: %s", zip_strerror(za));
        goto out;
    }
    za = NULL;
    goto out;
out_doc:
    if (!doc && err == 0)
        err = wp_error_set(WP_ENOMEM, "out of memory");
out:
    if (za)
        zip_discard(za);
    json_decref(doc);
    json_decref(files);
    wp_buf_release(&b);
    return err;
}

int api_customer_not_erased(const wp_customer *c)
{
    if (c->erased_us)
        return wp_error_set(WP_EBUSY, "customer '%s' is erased: its record cannot change", c->id);
    return 0;
}

/* POST /api/v1/customers/{id}/data-export: everything about the customer as a ZIP (PIPL's
 * access and portability), audited as customer.data_export with the counts before a byte
 * leaves. */
int api_customers_data_export(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id");
    wp_store *st = NULL;
    struct collect col = {0};
    json_t *refs = json_object(), *d = NULL;
    char path[1024] = "", made_at[40], target[WP_ID_LEN + 16], disp[160];
    size_t n_media = 0;
    int err, fd = -1;
    struct stat sb;

    if (!api_is_id(id)) {
        json_decref(refs);
        return wp_error_set(WP_ENOTFOUND, "customer not found");
    }
    if (!(col.sec = json_object()) || !refs) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; section_names[i]; i++)
        if (json_object_set_new(col.sec, section_names[i], json_array()) < 0) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
    if ((err = api_store_acquire(ctx, &st)) < 0)
        goto out;
    if ((err = wp_store_customer_data(st, c->tenant_id, id, on_row, &col)) < 0 ||
        (err = media_refs(col.sec, refs)) < 0)
        goto out;
    api_store_release(ctx, st);
    st = NULL;
    wp_time_format(made_at, wp_time_now_us(), 0);
    if ((err = tmp_path(ctx, path, sizeof path)) < 0 ||
        (err = write_zip(ctx, path, col.sec, refs, made_at, &n_media)) < 0)
        goto out;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) < 0) {
        err = wp_error_set(WP_EIO, "cannot read the zip back");
        goto out;
    }
    unlink(path);
    path[0] = '\0';
    /* the counts, never the data */
    d = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "messages",
                  (json_int_t)json_array_size(json_object_get(col.sec, "messages")), "calls",
                  (json_int_t)json_array_size(json_object_get(col.sec, "calls")), "alerts",
                  (json_int_t)json_array_size(json_object_get(col.sec, "alerts")), "history",
                  (json_int_t)json_array_size(json_object_get(col.sec, "history")), "media",
                  (json_int_t)n_media, "bytes", (json_int_t)sb.st_size);
    snprintf(target, sizeof target, "customer:%s", id);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        goto out;
    if (!d)
        err = wp_error_set(WP_ENOMEM, "out of memory");
    else if ((err = wp_store_begin(st)) == 0) {
        if ((err = api_audit(ctx, st, "customer.data_export", target, d)) == 0)
            err = wp_store_commit(st);
        else
            wp_store_rollback(st);
    }
    api_store_release(ctx, st);
    st = NULL;
    if (err < 0)
        goto out;
    snprintf(disp, sizeof disp, "attachment; filename=\"customer-%s-%.4s%.2s%.2s.zip\"", id,
             made_at, made_at + 5, made_at + 8);
    if ((err = wp_http_add_header(ctx, "Content-Disposition", disp)) < 0)
        goto out;
    err = wp_http_reply_fd(ctx, 200, "application/zip", fd, (uint64_t)sb.st_size);
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    if (path[0])
        unlink(path);
    api_store_release(ctx, st);
    json_decref(col.sec);
    json_decref(refs);
    json_decref(d);
    return err;
}

/* POST /api/v1/customers/{id}/erase {"confirm": <the id>, "reason"}: erase the customer's
 * personal data (pipl.h). 200 with the counts, audited as customer.erase with the counts and
 * the reason; 409 legal_hold {"hold_id"} while a hold covers it; 409 conflict when erased
 * already. */
int api_customers_erase(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"confirm", "reason", NULL};
    const api_caller *c = api_caller_of(ctx);
    const wp_app *app = ctx->app;
    const char *id = wp_http_param(ctx, "id"), *confirm, *reason;
    char hold[WP_ID_LEN + 1] = "";
    wp_store *st = NULL;
    wp_erasure e;
    json_t *body, *o = NULL;
    int64_t now = wp_time_now_us();
    int err;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0 ||
        (err = api_body_check_fields(body, fields)) < 0 ||
        (err = api_body_str(body, "confirm", API_FIELD_REQUIRED, &confirm)) < 0 ||
        (err = api_body_str(body, "reason", API_FIELD_REQUIRED, &reason)) < 0)
        return err;
    if (!api_is_id(id))
        return wp_error_set(WP_ENOTFOUND, "customer not found");
    if (strcmp(confirm, id))
        return wp_error_set(WP_EINVAL, "'confirm' must be the customer's id");
    if (!*reason || strlen(reason) > 4 * PIPL_REASON_MAX)
        return wp_error_set(WP_EINVAL, "'reason' must be 1-%d characters", PIPL_REASON_MAX);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) < 0) {
        api_store_release(ctx, st);
        return err;
    }
    err = wp_store_customer_erase(st, &e, hold, c->tenant_id, id, now);
    if (err == WP_EBUSY && hold[0]) {
        wp_store_rollback(st);
        api_store_release(ctx, st);
        return wp_http_reply_fail(ctx, 409, "legal_hold", json_pack("{s:s}", "hold_id", hold),
                                  "customer '%s' is under legal hold '%s': lift the hold first",
                                  id, hold);
    }
    if (err == 0) {
        char at[40];
        wp_time_format(at, now, 0);
        o = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "customer_id", id,
                      "erased_at", at, "messages", (json_int_t)e.rows.messages, "calls",
                      (json_int_t)e.rows.calls, "alerts",
                      (json_int_t)(e.rows.alerts + e.alerts_other), "media",
                      (json_int_t)e.rows.media, "history", (json_int_t)e.history,
                      "contact_events", (json_int_t)e.contact_events, "identities",
                      (json_int_t)e.identities, "tags", (json_int_t)e.tags, "merged_records",
                      (json_int_t)e.merged);
        if (!o)
            err = wp_error_set(WP_ENOMEM, "out of memory");
    }
    /* the audit row: the counts and the reason, no data */
    json_t *d = o ? json_deep_copy(o) : NULL;
    if (!d || json_object_del(d, "customer_id") < 0 || json_object_del(d, "erased_at") < 0 ||
        json_object_set_new(d, "reason", json_string(reason)) < 0) {
        json_decref(d);
        d = NULL; /* not a row without its reason: api_audit_commit refuses NULL details */
    }
    /* the reply is made before the commit (wp_http_ready_json) */
    if (err == 0 && d)
        err = wp_http_ready_json(ctx, 200, o);
    else
        json_decref(o);
    err = api_audit_commit(ctx, st, err, "customer.erase", "customer", id, d);
    json_decref(d);
    if (err == 0 && app && app->ingest) {
        /* the files no row names any more; a failure leaves them queued for the purge job */
        wp_store__retention_drain_files(st, wp_ingest_media_dir(app->ingest));
        wp_store_scrub(st);
    }
    api_store_release(ctx, st);
    return err < 0 ? err : wp_http_ready_send(ctx);
}
