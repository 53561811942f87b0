/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the spreadsheet reader (src/sheet). The first byte picks what the rest is:
 * 0 a CSV text, 1 a whole XLSX file (the zip container), 2 the XML of a workbook's parts
 * (worksheet, shared strings, workbook, its relationships, split at "\n--\n") packed here into
 * an uncompressed zip, so that mutations reach the XML handlers. Checks what the importers rely
 * on: every cell non-empty, valid UTF-8 without NUL, within the limits, rows in order. */
#include "sheet/sheet.h"
#include "util/error.h"
#include "util/utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#define FUZZ_ASSERT(cond, ...)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz invariant broken at %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"xl/worksheets/sheet1.xml", "xl/sharedStrings.xml",
                                    "xl/workbook.xml", "xl/_rels/workbook.xml.rels"};
static const char *const defaults[] = {
    NULL, NULL,
    "<workbook xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\">"
    "<sheets><sheet name=\"a\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>",
    "<Relationships><Relationship Id=\"rId1\" Type=\"x/worksheet\" "
    "Target=\"worksheets/sheet1.xml\"/><Relationship Id=\"rId2\" Type=\"x/sharedStrings\" "
    "Target=\"sharedStrings.xml\"/></Relationships>"};

/* The parts in data, split at "\n--\n", as an uncompressed zip in a malloc'ed *out. */
static int pack(char **out, size_t *out_len, const char *data, size_t len)
{
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    if (!src)
        return -1;
    zip_t *za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    if (!za) {
        zip_source_free(src);
        return -1;
    }
    zip_source_keep(src);
    const char *p = data, *end = data + len;
    for (size_t i = 0; i < 4; i++) {
        const char *part = p, *sep = p < end ? memmem(p, (size_t)(end - p), "\n--\n", 4) : NULL;
        size_t n = sep ? (size_t)(sep - p) : (size_t)(end - p);
        p = sep ? sep + 4 : end;
        if (n == 0 && defaults[i]) {
            part = defaults[i];
            n = strlen(part);
        }
        if (n == 0 && i > 0)
            continue;
        zip_source_t *s = zip_source_buffer(za, part, n, 0);
        zip_int64_t idx = s ? zip_file_add(za, names[i], s, 0) : -1;
        if (idx < 0 || zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0) < 0) {
            zip_source_free(s);
            zip_discard(za);
            zip_source_free(src);
            return -1;
        }
    }
    if (zip_close(za) < 0) {
        zip_discard(za);
        zip_source_free(src);
        return -1;
    }
    zip_stat_t st;
    int rc = -1;
    if (zip_source_stat(src, &st) == 0 && zip_source_open(src) == 0) {
        char *buf = malloc(st.size ? st.size : 1);
        if (buf && zip_source_read(src, buf, st.size) == (zip_int64_t)st.size) {
            *out = buf;
            *out_len = st.size;
            rc = 0;
        } else {
            free(buf);
        }
        zip_source_close(src);
    }
    zip_source_free(src);
    return rc;
}

static void check(const wp_sheet *s, const wp_sheet_limits *lim)
{
    size_t last = 0;
    FUZZ_ASSERT(s->n_rows <= lim->max_rows, "%zu rows", s->n_rows);
    for (size_t r = 0; r < s->n_rows; r++) {
        const wp_sheet_row *row = &s->rows[r];
        FUZZ_ASSERT(row->number > last, "row %zu after %zu", row->number, last);
        last = row->number;
        FUZZ_ASSERT(row->n >= 1 && row->n <= lim->max_cols, "row %zu has %zu cells", r, row->n);
        FUZZ_ASSERT(row->cells[row->n - 1], "row %zu ends with an empty cell", r);
        for (size_t c = 0; c < row->n; c++) {
            const char *t = row->cells[c];
            if (!t)
                continue;
            size_t n = strlen(t);
            FUZZ_ASSERT(n >= 1 && n <= lim->max_cell_bytes, "cell %zu,%zu is %zu bytes", r, c, n);
            FUZZ_ASSERT(wp_utf8_valid(t, n), "cell %zu,%zu is not utf-8", r, c);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wp_sheet_limits lim = {50, 16, 256, 1 << 20};
    wp_sheet s;
    wp_sheet_where w;
    char *zip = NULL;
    size_t zip_len = 0;
    int rc;

    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 3) {
    case 0:
        rc = wp_sheet_read(&s, WP_SHEET_CSV, in, n, &lim, &w);
        break;
    case 1:
        rc = wp_sheet_read(&s, wp_sheet_sniff(in, n), in, n, &lim, &w);
        break;
    default:
        if (pack(&zip, &zip_len, in, n) < 0)
            return 0;
        rc = wp_sheet_read(&s, WP_SHEET_XLSX, zip, zip_len, &lim, &w);
        free(zip);
        break;
    }
    if (rc == 0) {
        check(&s, &lim);
        wp_sheet_release(&s);
    } else {
        FUZZ_ASSERT(rc == WP_EINVAL || rc == WP_ELIMIT || rc == WP_ENOMEM, "rc %d", rc);
        FUZZ_ASSERT(rc != WP_ELIMIT || w.limit, "a limit without its name: %s", wp_error_last());
    }
    return 0;
}
