/* SPDX-License-Identifier: MIT */
/* CSV exports: cells quoted and defused against spreadsheet formulas, in one place. */
#include "api/api.h"
#include "api/csv.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

void api_csv_init(api_csv *w, wp_http_ctx *ctx, size_t max_bytes)
{
    wp_buf_init(&w->buf, max_bytes);
    w->cells = 0;
    w->ctx = ctx;
}

void api_csv_release(api_csv *w)
{
    wp_buf_release(&w->buf);
    w->cells = 0;
}

/* A spreadsheet runs a cell that begins with one of these (a TAB or CR may be stripped first,
 * leaving the formula behind them). */
static int formula_start(const char *s)
{
    return s[0] && strchr("=+-@\t\r", s[0]) != NULL;
}

static int cell(api_csv *w, const char *s, int mask)
{
    wp_buf *b = &w->buf;
    size_t mark = b->len;
    size_t len;
    int err = 0;
    if (!s)
        s = "";
    if (mask && (err = api_view_text(w->ctx, &s, &len, s, strlen(s))) < 0)
        return err;
    if (w->cells && (err = wp_buf_addc(b, ',')) < 0)
        return err;
    if ((err = wp_buf_addc(b, '"')) == 0 && formula_start(s))
        err = wp_buf_addc(b, '\'');
    for (const char *p = s; *p && err == 0;) {
        size_t run = strcspn(p, "\"");
        if (run) {
            err = wp_buf_add(b, p, run);
            p += run;
        } else {
            err = wp_buf_add(b, "\"\"", 2);
            p++;
        }
    }
    if (err == 0)
        err = wp_buf_addc(b, '"');
    if (err < 0) { /* a cell is written whole or not at all */
        if (b->len > mark) {
            b->len = mark;
            b->buf[mark] = '\0';
        }
        return err;
    }
    w->cells++;
    return 0;
}

int api_csv_cell(api_csv *w, const char *s)
{
    return cell(w, s, 1);
}

int api_csv_cell_word(api_csv *w, const char *s)
{
    return cell(w, s, 0);
}

int api_csv_row_end(api_csv *w)
{
    int err = wp_buf_add(&w->buf, "\r\n", 2);
    if (err == 0)
        w->cells = 0;
    return err;
}

int api_csv_reply(wp_http_ctx *ctx, api_csv *w, const char *filename)
{
    char disp[256];
    int err;
    snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", filename);
    if ((err = wp_http_add_header(ctx, "Content-Disposition", disp)) < 0)
        return err;
    size_t len;
    char *data = wp_buf_detach(&w->buf, &len);
    w->cells = 0;
    return wp_http_reply_bytes(ctx, 200, "text/csv; charset=utf-8", data, len);
}
