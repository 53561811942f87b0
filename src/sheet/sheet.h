/* SPDX-License-Identifier: MIT */
/* Reading a spreadsheet someone uploads (CSV, XLSX) into rows of text cells, bounded and
 * strict: what the reader does not understand it refuses, naming the row and cell. */
#ifndef WP_SHEET_H
#define WP_SHEET_H

#include <stddef.h>

enum wp_sheet_format {
    WP_SHEET_UNKNOWN = 0,
    WP_SHEET_CSV,  /* RFC 4180, UTF-8 (a BOM is dropped) or GB18030; comma or TAB */
    WP_SHEET_XLSX, /* Office Open XML: the first worksheet */
};

/* One row with content. cells[i] is the text of column i (0 for A), NUL-terminated UTF-8, or
 * NULL when empty; empty cells at the end are dropped (n counts up to the last filled one). */
typedef struct wp_sheet_row {
    size_t number; /* as the spreadsheet shows it: 1 for its first row; rows without content
                    * are left out but still counted */
    size_t n;
    char **cells;
} wp_sheet_row;

typedef struct wp_sheet {
    wp_sheet_row *rows; /* n_rows rows with at least one filled cell, in order */
    size_t n_rows;
    size_t alloc;
} wp_sheet;

/* What a sheet may hold; passing one is WP_ELIMIT with wp_sheet_where.limit naming it. */
typedef struct wp_sheet_limits {
    size_t max_rows;       /* rows with content, a header row included */
    size_t max_cols;       /* a filled cell in a column past this one is refused */
    size_t max_cell_bytes; /* bytes of one cell's text */
    size_t max_part_bytes; /* XLSX: bytes of one part once inflated (a zip bomb stops here) */
} wp_sheet_limits;
#define WP_SHEET_LIMITS_INIT {10000, 64, 32768, 64u * 1024 * 1024}

/* Where reading stopped, for a report: row and column (1-based; 0 when not about one) and,
 * for WP_ELIMIT, which limit ("rows", "columns", "cell_bytes", "part_bytes"). */
typedef struct wp_sheet_where {
    size_t row, col;
    const char *limit; /* static; NULL unless WP_ELIMIT */
} wp_sheet_where;

/* What the bytes look like: XLSX (a zip), CSV (anything else that is text), or UNKNOWN (an
 * old binary .xls, or bytes that are no text): wp_sheet_read() explains which. */
enum wp_sheet_format wp_sheet_sniff(const char *data, size_t len);

/* Read data (len bytes, borrowed) as fmt into *out.
 * @return 0; WP_EINVAL with wp_error_last() saying what is not understood, and where (a
 *         formula, an error cell, an encrypted or damaged file, an unclosed quote, ...);
 *         WP_ELIMIT with where->limit; WP_ENOMEM. where (may be NULL) is set on failure.
 * Caller owns *out (untouched on failure); release with wp_sheet_release(). */
int wp_sheet_read(wp_sheet *out, enum wp_sheet_format fmt, const char *data, size_t len,
                  const wp_sheet_limits *lim, wp_sheet_where *where);

void wp_sheet_release(wp_sheet *s);

/* "A" for 1, "AB" for 28: a column's name as spreadsheets show it, in out (8 bytes). */
void wp_sheet_col_name(char out[8], size_t col);

/* --- inside the module (sheet.c, csv.c, xlsx.c) ------------------------------------------- */

/* Builds a sheet row by row, enforcing the limits. */
struct wp_sheet__builder {
    wp_sheet s;
    const wp_sheet_limits *lim;
    wp_sheet_where *where;
    wp_sheet_row cur; /* the row being filled */
    size_t cur_alloc;
    size_t last_number; /* of the last row begun: rows only go forward */
};

void wp_sheet__begin(struct wp_sheet__builder *b, const wp_sheet_limits *lim,
                     wp_sheet_where *where);
/* Start row number (1-based; greater than the last one's). WP_EINVAL when it is not. */
int wp_sheet__row(struct wp_sheet__builder *b, size_t number);
/* Set column col (0-based, past the last set one) of the current row to text (len bytes,
 * copied; empty is no cell). */
int wp_sheet__cell(struct wp_sheet__builder *b, size_t col, const char *text, size_t len);
/* End the builder: the last row is kept when it has a cell; moves the sheet to out. */
int wp_sheet__finish(struct wp_sheet__builder *b, wp_sheet *out);
void wp_sheet__abort(struct wp_sheet__builder *b);

/* Set where and the error for a limit passed. */
int wp_sheet__limit(wp_sheet_where *where, const char *limit, size_t row, size_t col,
                    size_t max);

int wp_sheet__read_csv(struct wp_sheet__builder *b, const char *data, size_t len);
int wp_sheet__read_xlsx(struct wp_sheet__builder *b, const char *data, size_t len);

#endif
