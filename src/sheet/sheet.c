/* SPDX-License-Identifier: MIT */
/* The sheet both readers fill: rows of text cells, built under the limits. */
#include "sheet/sheet.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

enum wp_sheet_format wp_sheet_sniff(const char *data, size_t len)
{
    if (len >= 4 && !memcmp(data, "PK\x03\x04", 4))
        return WP_SHEET_XLSX;
    /* an OLE compound file: an old .xls, or an encrypted .xlsx (Office wraps those so) */
    if (len >= 8 && !memcmp(data, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8))
        return WP_SHEET_UNKNOWN;
    if (memchr(data, '\0', len))
        return WP_SHEET_UNKNOWN;
    return WP_SHEET_CSV;
}

void wp_sheet_col_name(char out[8], size_t col)
{
    char tmp[8];
    size_t n = 0;
    if (col == 0 || col > 16384 * 26) {
        out[0] = '?';
        out[1] = '\0';
        return;
    }
    while (col && n < sizeof tmp - 1) {
        col--;
        tmp[n++] = (char)('A' + col % 26);
        col /= 26;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

int wp_sheet__limit(wp_sheet_where *where, const char *limit, size_t row, size_t col,
                    size_t max)
{
    char c[8];
    if (where) {
        where->row = row;
        where->col = col;
        where->limit = limit;
    }
    if (!strcmp(limit, "rows"))
        return wp_error_set(WP_ELIMIT, "row %zu: more than %zu rows", row, max);
    if (!strcmp(limit, "columns"))
        return wp_error_set(WP_ELIMIT, "row %zu: a cell past column %zu", row, max);
    if (!strcmp(limit, "cell_bytes")) {
        wp_sheet_col_name(c, col);
        return wp_error_set(WP_ELIMIT, "cell %s%zu: longer than %zu bytes", c, row, max);
    }
    return wp_error_set(WP_ELIMIT, "a part of the file is larger than %zu bytes", max);
}

void wp_sheet__begin(struct wp_sheet__builder *b, const wp_sheet_limits *lim,
                     wp_sheet_where *where)
{
    memset(b, 0, sizeof *b);
    b->lim = lim;
    b->where = where;
}

static void row_free(wp_sheet_row *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->cells[i]);
    free(r->cells);
    r->cells = NULL;
    r->n = 0;
}

/* Keep the current row when it has a cell. */
static int row_keep(struct wp_sheet__builder *b)
{
    if (b->cur.n == 0) {
        row_free(&b->cur);
        b->cur_alloc = 0;
        return 0;
    }
    if (b->s.n_rows >= b->lim->max_rows)
        return wp_sheet__limit(b->where, "rows", b->cur.number, 0, b->lim->max_rows);
    if (b->s.n_rows == b->s.alloc) {
        size_t a = b->s.alloc ? b->s.alloc * 2 : 64;
        wp_sheet_row *v = realloc(b->s.rows, a * sizeof *v);
        if (!v)
            return wp_error_set(WP_ENOMEM, "out of memory");
        b->s.rows = v;
        b->s.alloc = a;
    }
    b->s.rows[b->s.n_rows++] = b->cur;
    memset(&b->cur, 0, sizeof b->cur);
    b->cur_alloc = 0;
    return 0;
}

int wp_sheet__row(struct wp_sheet__builder *b, size_t number)
{
    int err;
    if ((err = row_keep(b)) < 0)
        return err;
    if (number <= b->last_number || number > 100000000) {
        if (b->where)
            b->where->row = number;
        return wp_error_set(WP_EINVAL, "row %zu comes after row %zu: rows out of order", number,
                            b->last_number);
    }
    b->last_number = number;
    b->cur.number = number;
    return 0;
}

int wp_sheet__cell(struct wp_sheet__builder *b, size_t col, const char *text, size_t len)
{
    size_t row = b->cur.number;
    if (len == 0)
        return 0;
    if (col < b->cur.n) {
        char c[8];
        wp_sheet_col_name(c, col + 1);
        if (b->where) {
            b->where->row = row;
            b->where->col = col + 1;
        }
        return wp_error_set(WP_EINVAL, "cell %s%zu: given twice, or out of order", c, row);
    }
    if (col >= b->lim->max_cols)
        return wp_sheet__limit(b->where, "columns", row, col + 1, b->lim->max_cols);
    if (len > b->lim->max_cell_bytes)
        return wp_sheet__limit(b->where, "cell_bytes", row, col + 1, b->lim->max_cell_bytes);
    if (col + 1 > b->cur_alloc) {
        size_t a = b->cur_alloc ? b->cur_alloc : 8;
        while (a < col + 1)
            a *= 2;
        char **v = realloc(b->cur.cells, a * sizeof *v);
        if (!v)
            return wp_error_set(WP_ENOMEM, "out of memory");
        b->cur.cells = v;
        b->cur_alloc = a;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return wp_error_set(WP_ENOMEM, "out of memory");
    memcpy(copy, text, len);
    copy[len] = '\0';
    while (b->cur.n < col)
        b->cur.cells[b->cur.n++] = NULL;
    b->cur.cells[b->cur.n++] = copy;
    return 0;
}

int wp_sheet__finish(struct wp_sheet__builder *b, wp_sheet *out)
{
    int err;
    if ((err = row_keep(b)) < 0) {
        wp_sheet__abort(b);
        return err;
    }
    *out = b->s;
    memset(&b->s, 0, sizeof b->s);
    return 0;
}

void wp_sheet__abort(struct wp_sheet__builder *b)
{
    row_free(&b->cur);
    wp_sheet_release(&b->s);
}

void wp_sheet_release(wp_sheet *s)
{
    for (size_t i = 0; i < s->n_rows; i++)
        row_free(&s->rows[i]);
    free(s->rows);
    memset(s, 0, sizeof *s);
}

int wp_sheet_read(wp_sheet *out, enum wp_sheet_format fmt, const char *data, size_t len,
                  const wp_sheet_limits *lim, wp_sheet_where *where)
{
    struct wp_sheet__builder b;
    wp_sheet_limits dflt = WP_SHEET_LIMITS_INIT;
    int err;

    if (where)
        memset(where, 0, sizeof *where);
    wp_sheet__begin(&b, lim ? lim : &dflt, where);
    switch (fmt) {
    case WP_SHEET_CSV:
        err = wp_sheet__read_csv(&b, data, len);
        break;
    case WP_SHEET_XLSX:
        err = wp_sheet__read_xlsx(&b, data, len);
        break;
    default:
        if (len >= 8 && !memcmp(data, "\xd0\xcf\x11\xe0", 4))
            err = wp_error_set(WP_EINVAL, "an old .xls file or an encrypted workbook: save it "
                                          "as .xlsx without a password, or as CSV");
        else
            err = wp_error_set(WP_EINVAL, "neither a CSV text nor an XLSX workbook");
        break;
    }
    if (err < 0) {
        wp_sheet__abort(&b);
        return err;
    }
    return wp_sheet__finish(&b, out);
}
