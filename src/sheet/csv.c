/* SPDX-License-Identifier: MIT */
/* The CSV reader: RFC 4180 as spreadsheets write it, in UTF-8 or in GB18030 (what Excel in
 * Chinese saves "CSV" as), comma or TAB separated. */
#include "sheet/sheet.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/utf8.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

/* GB18030 → UTF-8 into a malloc'ed *out. A CJK character grows from 2 bytes to 3, a 4-byte
 * one stays 4: twice the input is room enough. */
static int from_gb18030(char **out, size_t *out_len, const char *in, size_t len)
{
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    if (cd == (iconv_t)-1)
        return wp_error_set(WP_EINVAL, "the file is not UTF-8 (and GB18030 is not available)");
    size_t cap = len * 2 + 4, left = cap;
    char *buf = malloc(cap), *o = buf;
    char *i = (char *)in;
    size_t in_left = len;
    int err = 0;
    if (!buf)
        err = wp_error_set(WP_ENOMEM, "out of memory");
    else if (iconv(cd, &i, &in_left, &o, &left) == (size_t)-1)
        err = wp_error_set(WP_EINVAL, "the file is neither UTF-8 nor GB18030 text (byte %zu)",
                           (size_t)(i - in) + 1);
    iconv_close(cd);
    if (err < 0) {
        free(buf);
        return err;
    }
    *out = buf;
    *out_len = cap - left;
    return 0;
}

int wp_sheet__read_csv(struct wp_sheet__builder *b, const char *data, size_t len)
{
    char *conv = NULL;
    wp_buf cell;
    size_t row = 1, col = 0, i = 0;
    char sep = ',';
    int err = 0, quoted = 0, after_quote = 0, any = 0;

    if (len >= 3 && !memcmp(data, "\xef\xbb\xbf", 3)) {
        data += 3;
        len -= 3;
    }
    if (memchr(data, '\0', len))
        return wp_error_set(WP_EINVAL, "the file holds a NUL byte: not a CSV text");
    if (!wp_utf8_valid(data, len)) {
        if ((err = from_gb18030(&conv, &len, data, len)) < 0)
            return err;
        data = conv;
    }
    /* TAB separated when the first line has a TAB and no comma */
    size_t eol = 0; /* data need not end in a NUL */
    while (eol < len && data[eol] != '\r' && data[eol] != '\n')
        eol++;
    if (memchr(data, '\t', eol) && !memchr(data, ',', eol))
        sep = '\t';

    wp_buf_init(&cell, b->lim->max_cell_bytes);
    if ((err = wp_sheet__row(b, row)) < 0)
        goto out;
    for (i = 0; i <= len && err == 0; i++) {
        int end = i == len;
        char ch = end ? '\n' : data[i];
        if (quoted) {
            if (end) {
                err = wp_error_set(WP_EINVAL, "row %zu: a quoted cell is never closed", row);
                if (b->where)
                    b->where->row = row;
                break;
            }
            if (ch == '"') {
                if (i + 1 < len && data[i + 1] == '"') {
                    err = wp_buf_addc(&cell, '"');
                    i++;
                } else {
                    quoted = 0;
                    after_quote = 1;
                }
            } else {
                err = wp_buf_addc(&cell, ch);
            }
            if (err == WP_ELIMIT)
                err = wp_sheet__limit(b->where, "cell_bytes", row, col + 1,
                                      b->lim->max_cell_bytes);
            continue;
        }
        if (ch == sep || ch == '\n' || ch == '\r') {
            if (ch == '\r' && i + 1 < len && data[i + 1] == '\n')
                i++;
            if (cell.len || any)
                err = wp_sheet__cell(b, col, cell.buf, cell.len);
            wp_buf_reset(&cell);
            after_quote = 0;
            any = 0;
            if (err < 0)
                break;
            if (ch == sep) {
                col++;
                continue;
            }
            col = 0;
            if (!end && i + 1 < len)
                err = wp_sheet__row(b, ++row);
            continue;
        }
        if (after_quote) {
            err = wp_error_set(WP_EINVAL, "row %zu: text after the closing quote of a cell", row);
            if (b->where)
                b->where->row = row;
            break;
        }
        if (ch == '"' && cell.len == 0) {
            quoted = 1;
            any = 1;
            continue;
        }
        if ((err = wp_buf_addc(&cell, ch)) == WP_ELIMIT)
            err = wp_sheet__limit(b->where, "cell_bytes", row, col + 1, b->lim->max_cell_bytes);
    }
out:
    wp_buf_release(&cell);
    free(conv);
    return err;
}
