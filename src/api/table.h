/* SPDX-License-Identifier: MIT */
/* Exports as a table (issue 15): one writer for XLSX (libxlsxwriter) and CSV (csv.c), whose
 * every cell is what the caller sees in the console: personal data masked by role, exactly as
 * the reply boundary masks JSON (src/api/view.c). */
#ifndef WP_API_TABLE_H
#define WP_API_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "api/csv.h"
#include "http/http.h"

/* The bounds of one export: past them the export is refused (422 limit_exceeded naming
 * "rows" or "bytes") rather than cut short, so that a file never silently lacks rows. */
#define API_EXPORT_ROWS_MAX 10000                 /* data rows, the header not counted */
#define API_EXPORT_BYTES_MAX (64u * 1024 * 1024)  /* bytes of cell text (and of a CSV) */
#define API_EXPORT_CELL_CHARS_MAX 32000 /* an XLSX cell holds 32767; longer text is cut with … */

enum api_table_format { API_TABLE_XLSX = 1, API_TABLE_CSV };

typedef struct api_table {
    enum api_table_format format;
    wp_http_ctx *ctx;
    api_csv csv;             /* CSV */
    struct lxw_workbook *wb; /* XLSX */
    struct lxw_worksheet *ws;
    struct lxw_format *bold;
    char path[1024]; /* XLSX: the file being written (in the data dir's tmp/) */
    uint32_t row;    /* the row being written (0: the header) */
    uint16_t col;
    size_t bytes;
} api_table;

/* ?format=: "xlsx" (the default) or "csv"; anything else WP_EINVAL. */
int api_table_format_query(const wp_http_ctx *ctx, enum api_table_format *out);

/* Start a table for the caller of ctx with the header row (columns, NULL-terminated), in a
 * sheet named sheet (XLSX; at most 31 characters). Pair with api_table_release().
 * @return 0, WP_EIO (no temporary file), WP_ENOMEM */
int api_table_begin(api_table *t, wp_http_ctx *ctx, enum api_table_format format,
                    const char *sheet, const char *const *columns);

/* One cell of the current row. NULL is an empty cell.
 * text: what people wrote or are called, masked as the caller sees it (api_view_text);
 * word: the system's own words (an id, a kind, a status, an action): as they are;
 * phone: a phone number, 138****8000 for a caller without view_pii;
 * time: an RFC 3339 time in UTC (0: empty); num: a number.
 * Past API_EXPORT_BYTES_MAX: WP_ELIMIT. */
__attribute__((warn_unused_result)) int api_table_text(api_table *t, const char *s);
__attribute__((warn_unused_result)) int api_table_word(api_table *t, const char *s);
__attribute__((warn_unused_result)) int api_table_phone(api_table *t, const char *s);
__attribute__((warn_unused_result)) int api_table_time(api_table *t, int64_t us);
__attribute__((warn_unused_result)) int api_table_num(api_table *t, int64_t v);

/* End the current row. Past API_EXPORT_ROWS_MAX data rows: WP_ELIMIT. */
__attribute__((warn_unused_result)) int api_table_row_end(api_table *t);

/* Reply 200 with the table as a download named "<base>-<YYYYMMDD-HHMMSS>.xlsx" (or .csv),
 * Content-Disposition attachment. base: ASCII letters, digits and '-'. */
int api_table_reply(api_table *t, const char *base);

/* The refusal of an export past a bound: 422 limit_exceeded {"limit", "max"}. err is the
 * WP_ELIMIT from a cell or row; other errors pass through. */
int api_table_limit_or_reply(api_table *t, int err);

/* Finish an export made with this table (export.c): on success (err 0) audit it as action on
 * target (may be NULL) with details (taken over; "format" and "rows" are added) and reply the
 * file named base-..., else reply the error (a bound passed: 422). Gives *st back. */
int api_export_finish(wp_http_ctx *ctx, struct wp_store **st, api_table *t, int err,
                      const char *action, const char *target, const char *base, json_t *details);

/* Remove what is left (a temporary file). */
void api_table_release(api_table *t);

#endif
