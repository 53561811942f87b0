/* SPDX-License-Identifier: MIT */
/* Exports as a table: XLSX through libxlsxwriter, CSV through csv.c, every cell masked as the
 * caller sees it. */
#include "api/api.h"
#include "api/table.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xlsxwriter.h>

#define XLSX_TYPE "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

int api_table_format_query(const wp_http_ctx *ctx, enum api_table_format *out)
{
    const char *f = wp_http_query(ctx, "format");
    if (!f || !*f || !strcmp(f, "xlsx"))
        *out = API_TABLE_XLSX;
    else if (!strcmp(f, "csv"))
        *out = API_TABLE_CSV;
    else
        return wp_error_set(WP_EINVAL, "'format' must be xlsx or csv");
    return 0;
}

/* <data dir>/tmp: the file is written there, so the export's personal data stays with the
 * data it came from, and unlinked as soon as it is open for the reply. */
static int tmp_path(wp_http_ctx *ctx, char *out, size_t cap)
{
    const wp_app *app = ctx->app;
    const char *dir = app && app->data_dir ? app->data_dir : NULL;
    char d[900];
    if (!dir)
        return wp_error_set(WP_EIO, "the server has no data directory");
    snprintf(d, sizeof d, "%s/tmp", dir);
    if (mkdir(d, 0700) < 0 && errno != EEXIST)
        return wp_error_set(WP_EIO, "cannot make '%s'", d);
    if ((size_t)snprintf(out, cap, "%s/export-XXXXXX", d) >= cap)
        return wp_error_set(WP_EIO, "the data directory's path is too long");
    int fd = mkstemp(out);
    if (fd < 0)
        return wp_error_set(WP_EIO, "cannot make a temporary file in '%s'", d);
    close(fd);
    return 0;
}

int api_table_begin(api_table *t, wp_http_ctx *ctx, enum api_table_format format,
                    const char *sheet, const char *const *columns)
{
    int err;
    memset(t, 0, sizeof *t);
    t->format = format;
    t->ctx = ctx;
    if (format == API_TABLE_CSV) {
        api_csv_init(&t->csv, ctx, API_EXPORT_BYTES_MAX);
    } else {
        if ((err = tmp_path(ctx, t->path, sizeof t->path)) < 0)
            return err;
        char tmpdir[1024];
        snprintf(tmpdir, sizeof tmpdir, "%s", t->path);
        *strrchr(tmpdir, '/') = '\0';
        /* constant memory: each row goes to disk as it is written, rows in order */
        lxw_workbook_options o = {.constant_memory = LXW_TRUE, .tmpdir = tmpdir};
        if (!(t->wb = workbook_new_opt(t->path, &o)) ||
            !(t->ws = workbook_add_worksheet(t->wb, sheet)) ||
            !(t->bold = workbook_add_format(t->wb)))
            return wp_error_set(WP_ENOMEM, "cannot start a workbook");
        format_set_bold(t->bold);
        worksheet_freeze_panes(t->ws, 1, 0);
    }
    for (const char *const *c = columns; *c; c++) {
        if (format == API_TABLE_CSV)
            err = api_csv_cell_word(&t->csv, *c);
        else
            err = worksheet_write_string(t->ws, 0, t->col, *c, t->bold) == LXW_NO_ERROR
                      ? 0
                      : wp_error_set(WP_EIO, "cannot write the header");
        if (format == API_TABLE_XLSX) {
            worksheet_set_column(t->ws, t->col, t->col, 18, NULL);
            t->col++;
        }
        if (err < 0)
            return err;
    }
    if (format == API_TABLE_CSV && (err = api_csv_row_end(&t->csv)) < 0)
        return err;
    t->row = 1;
    t->col = 0;
    return 0;
}

static int too_many_bytes(api_table *t, size_t n)
{
    t->bytes += n;
    if (t->bytes > API_EXPORT_BYTES_MAX)
        return wp_error_set(WP_ELIMIT, "the export is larger than %u bytes: narrow the filters",
                            API_EXPORT_BYTES_MAX);
    return 0;
}

/* One string cell of an XLSX row, cut to what a cell holds. */
static int xlsx_string(api_table *t, const char *s, size_t len)
{
    char *cut = NULL;
    int err = 0;
    if (wp_utf8_count(s, len) > API_EXPORT_CELL_CHARS_MAX) {
        size_t i = 0, chars = 0;
        while (i < len && chars < API_EXPORT_CELL_CHARS_MAX) {
            size_t k = wp_utf8_seq((const unsigned char *)s + i, len - i);
            i += k ? k : 1;
            chars++;
        }
        if (!(cut = malloc(i + 4)))
            return wp_error_set(WP_ENOMEM, "out of memory");
        memcpy(cut, s, i);
        memcpy(cut + i, "\xe2\x80\xa6", 4); /* … and the NUL */
        s = cut;
    }
    if (worksheet_write_string(t->ws, t->row, t->col, s, NULL) != LXW_NO_ERROR)
        err = wp_error_set(WP_EIO, "cannot write a cell");
    free(cut);
    return err;
}

static int cell(api_table *t, const char *s, int mask)
{
    int err;
    size_t len = s ? strlen(s) : 0;
    if (mask && s && (err = api_view_text(t->ctx, &s, &len, s, len)) < 0)
        return err;
    if ((err = too_many_bytes(t, len)) < 0)
        return err;
    if (t->format == API_TABLE_CSV)
        return mask ? api_csv_cell(&t->csv, s) : api_csv_cell_word(&t->csv, s);
    if (s && *s && (err = xlsx_string(t, s, len)) < 0)
        return err;
    t->col++;
    return 0;
}

int api_table_text(api_table *t, const char *s)
{
    return cell(t, s, 1);
}

int api_table_word(api_table *t, const char *s)
{
    return cell(t, s, 0);
}

int api_table_phone(api_table *t, const char *s)
{
    char masked[64];
    if (!s || !*s || api_view_clear(t->ctx))
        return cell(t, s, 0);
    api_mask_phone(masked, sizeof masked, s);
    return cell(t, masked, 0);
}

int api_table_time(api_table *t, int64_t us)
{
    char buf[40] = "";
    if (us)
        wp_time_format(buf, us, 0);
    return cell(t, us ? buf : NULL, 0);
}

int api_table_num(api_table *t, int64_t v)
{
    char buf[32];
    int err;
    if (t->format == API_TABLE_CSV) {
        snprintf(buf, sizeof buf, "%lld", (long long)v);
        return cell(t, buf, 0);
    }
    if ((err = too_many_bytes(t, 8)) < 0)
        return err;
    if (worksheet_write_number(t->ws, t->row, t->col, (double)v, NULL) != LXW_NO_ERROR)
        return wp_error_set(WP_EIO, "cannot write a cell");
    t->col++;
    return 0;
}

int api_table_row_end(api_table *t)
{
    int err;
    if (t->row > API_EXPORT_ROWS_MAX)
        return wp_error_set(WP_ELIMIT, "more than %d rows: narrow the filters",
                            API_EXPORT_ROWS_MAX);
    if (t->format == API_TABLE_CSV && (err = api_csv_row_end(&t->csv)) < 0)
        return err;
    t->row++;
    t->col = 0;
    return 0;
}

int api_table_limit_or_reply(api_table *t, int err)
{
    if (err != WP_ELIMIT)
        return err;
    int rows = t->row > API_EXPORT_ROWS_MAX;
    char msg[256];
    snprintf(msg, sizeof msg, "%s", wp_error_last());
    return wp_http_reply_fail(t->ctx, 422, "limit_exceeded",
                              json_pack("{s:s,s:I}", "limit", rows ? "rows" : "bytes", "max",
                                        (json_int_t)(rows ? API_EXPORT_ROWS_MAX
                                                          : API_EXPORT_BYTES_MAX)),
                              "%s", msg);
}

int api_table_reply(api_table *t, const char *base)
{
    char name[160], disp[256];
    struct tm tm;
    time_t now = (time_t)(wp_time_now_us() / 1000000);
    int err;

    gmtime_r(&now, &tm);
    snprintf(name, sizeof name, "%.100s-%04d%02d%02d-%02d%02d%02d.%s", base, tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             t->format == API_TABLE_CSV ? "csv" : "xlsx");
    if (t->format == API_TABLE_CSV)
        return api_csv_reply(t->ctx, &t->csv, name);
    lxw_error le = workbook_close(t->wb);
    t->wb = NULL;
    if (le != LXW_NO_ERROR)
        return wp_error_set(WP_EIO, "cannot write the workbook: %s", lxw_strerror(le));
    int fd = open(t->path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0) {
        if (fd >= 0)
            close(fd);
        return wp_error_set(WP_EIO, "cannot read the workbook back");
    }
    unlink(t->path);
    t->path[0] = '\0';
    snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", name);
    if ((err = wp_http_add_header(t->ctx, "Content-Disposition", disp)) < 0) {
        close(fd);
        return err;
    }
    return wp_http_reply_fd(t->ctx, 200, XLSX_TYPE, fd, (uint64_t)sb.st_size);
}

void api_table_release(api_table *t)
{
    if (t->format == API_TABLE_CSV)
        api_csv_release(&t->csv);
    if (t->wb) {
        /* a workbook given up: close it to free its memory, then drop the file */
        workbook_close(t->wb);
        t->wb = NULL;
    }
    if (t->path[0]) {
        unlink(t->path);
        t->path[0] = '\0';
    }
}
