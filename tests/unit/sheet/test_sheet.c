/* SPDX-License-Identifier: MIT */
/* Unit tests of src/sheet: CSV (quotes, line ends, GB18030, TAB) and XLSX (shared and inline
 * strings, numbers, booleans, rich text, what is refused) read into rows, and every limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "sheet/sheet.h"
#include "util/error.h"

static const char *cell(const wp_sheet *s, size_t row, size_t col)
{
    if (row >= s->n_rows || col >= s->rows[row].n)
        return NULL;
    return s->rows[row].cells[col];
}

static int read_csv(wp_sheet *s, const char *text, wp_sheet_where *w)
{
    return wp_sheet_read(s, WP_SHEET_CSV, text, strlen(text), NULL, w);
}

static void test_sheet_csv__quotes_and_line_ends(void **state)
{
    wp_sheet s;
    const char *csv = "\xef\xbb\xbfname,phone,notes\r\n"
                      "\"王, 女士\",13800138000,\"line1\nline2\"\r\n"
                      "\r\n"
                      ",,\n"
                      "\"say \"\"hi\"\"\",,x";
    assert_int_equal(read_csv(&s, csv, NULL), 0);
    assert_int_equal(s.n_rows, 3);
    assert_string_equal(cell(&s, 0, 0), "name");
    assert_int_equal(s.rows[1].number, 2);
    assert_string_equal(cell(&s, 1, 0), "王, 女士");
    assert_string_equal(cell(&s, 1, 1), "13800138000");
    assert_string_equal(cell(&s, 1, 2), "line1\nline2");
    assert_int_equal(s.rows[2].number, 5); /* the empty rows 3 and 4 still count */
    assert_string_equal(cell(&s, 2, 0), "say \"hi\"");
    assert_null(cell(&s, 2, 1));
    assert_string_equal(cell(&s, 2, 2), "x");
    wp_sheet_release(&s);
}

static void test_sheet_csv__gb18030_and_tabs(void **state)
{
    wp_sheet s;
    /* "姓名\t手机\n王女士\t138" in GB18030 */
    const char gb[] = "\xd0\xd5\xc3\xfb\t\xca\xd6\xbb\xfa\n\xcd\xf5\xc5\xae\xca\xbf\t138";
    assert_int_equal(wp_sheet_read(&s, WP_SHEET_CSV, gb, sizeof gb - 1, NULL, NULL), 0);
    assert_int_equal(s.n_rows, 2);
    assert_string_equal(cell(&s, 0, 0), "姓名");
    assert_string_equal(cell(&s, 0, 1), "手机");
    assert_string_equal(cell(&s, 1, 0), "王女士");
    wp_sheet_release(&s);
}

static void test_sheet_csv__refused(void **state)
{
    wp_sheet s;
    wp_sheet_where w;
    assert_int_equal(read_csv(&s, "a,b\n\"open,x\n", &w), WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "never closed"));
    assert_int_equal(read_csv(&s, "a,b\n\"x\"y,z\n", &w), WP_EINVAL);
    assert_int_equal(w.row, 2);
    assert_int_equal(wp_sheet_sniff("a\0b", 3), WP_SHEET_UNKNOWN);
    assert_int_equal(wp_sheet_sniff("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8), WP_SHEET_UNKNOWN);
    assert_int_equal(wp_sheet_read(&s, WP_SHEET_UNKNOWN, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8,
                                   NULL, NULL),
                     WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), ".xls"));
}

static void test_sheet_csv__limits(void **state)
{
    wp_sheet s;
    wp_sheet_where w;
    wp_sheet_limits lim = {3, 2, 5, 1024};
    assert_int_equal(wp_sheet_read(&s, WP_SHEET_CSV, "a\nb\nc\n", 6, &lim, &w), 0);
    wp_sheet_release(&s);
    assert_int_equal(wp_sheet_read(&s, WP_SHEET_CSV, "a\nb\nc\nd", 7, &lim, &w), WP_ELIMIT);
    assert_string_equal(w.limit, "rows");
    assert_int_equal(w.row, 4);
    assert_int_equal(wp_sheet_read(&s, WP_SHEET_CSV, "a,b,c", 5, &lim, &w), WP_ELIMIT);
    assert_string_equal(w.limit, "columns");
    assert_int_equal(wp_sheet_read(&s, WP_SHEET_CSV, "a,b,,,", 6, &lim, &w), 0); /* empty */
    wp_sheet_release(&s);
    assert_int_equal(wp_sheet_read(&s, WP_SHEET_CSV, "a,123456", 8, &lim, &w), WP_ELIMIT);
    assert_string_equal(w.limit, "cell_bytes");
    assert_int_equal(w.col, 2);
    assert_int_equal(wp_sheet_read(&s, WP_SHEET_CSV, "a,\"12345\"", 9, &lim, &w), 0);
    wp_sheet_release(&s);
}

/* --- XLSX, made here part by part ---------------------------------------------------------- */

struct part {
    const char *name, *xml;
};

static const char CT[] = "<?xml version=\"1.0\"?><Types "
                         "xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>";
static const char RELS[] =
    "<?xml version=\"1.0\"?><Relationships "
    "xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship "
    "Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
    "officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>";
static const char WB[] =
    "<?xml version=\"1.0\"?><workbook "
    "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" "
    "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets>"
    "<sheet name=\"客户\" sheetId=\"1\" r:id=\"rId7\"/><sheet name=\"B\" sheetId=\"2\" "
    "r:id=\"rId8\"/></sheets></workbook>";
static const char WB_RELS[] =
    "<?xml version=\"1.0\"?><Relationships "
    "xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
    "<Relationship Id=\"rId8\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/"
    "relationships/worksheet\" Target=\"worksheets/sheet2.xml\"/>"
    "<Relationship Id=\"rId7\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/"
    "relationships/worksheet\" Target=\"/xl/worksheets/../worksheets/first.xml\"/>"
    "<Relationship Id=\"rId9\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/"
    "relationships/sharedStrings\" Target=\"sharedStrings.xml\"/></Relationships>";
static const char SST[] =
    "<?xml version=\"1.0\"?><sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/"
    "main\" count=\"4\" uniqueCount=\"4\"><si><t>姓名</t></si><si><t>手机</t></si>"
    "<si><r><rPr><b/></rPr><t>王</t></r><r><t xml:space=\"preserve\">女士</t></r>"
    "<rPh sb=\"0\" eb=\"1\"><t>ワン</t></rPh></si><si><t>a_x000D_b_x005F_x0041_</t></si></sst>";

#define SHEET_HEAD                                                                                 \
    "<?xml version=\"1.0\"?><x:worksheet "                                                         \
    "xmlns:x=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><x:sheetData>"
#define SHEET_TAIL "</x:sheetData></x:worksheet>"

/* A workbook of the standard parts plus the first sheet's XML (NULL: left out), in a malloc'ed
 * buffer. */
static char *xlsx(size_t *len, const char *sheet_xml, const struct part *extra, size_t n_extra)
{
    char path[] = "/tmp/wp-test-sheet-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    int zerr;
    zip_t *za = zip_open(path, ZIP_TRUNCATE | ZIP_CREATE, &zerr);
    assert_non_null(za);
    struct part parts[16] = {{"[Content_Types].xml", CT},
                             {"_rels/.rels", RELS},
                             {"xl/workbook.xml", WB},
                             {"xl/_rels/workbook.xml.rels", WB_RELS},
                             {"xl/sharedStrings.xml", SST},
                             {"xl/worksheets/first.xml", sheet_xml}};
    size_t n = 6;
    for (size_t i = 0; i < n_extra; i++)
        parts[n++] = extra[i];
    for (size_t i = 0; i < n; i++) {
        if (!parts[i].xml)
            continue;
        zip_source_t *src = zip_source_buffer(za, parts[i].xml, strlen(parts[i].xml), 0);
        assert_non_null(src);
        assert_true(zip_file_add(za, parts[i].name, src, ZIP_FL_OVERWRITE) >= 0);
    }
    assert_int_equal(zip_close(za), 0);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    unlink(path);
    *len = (size_t)size;
    return buf;
}

static int read_xlsx(wp_sheet *s, const char *sheet_xml, const wp_sheet_limits *lim,
                     wp_sheet_where *w)
{
    size_t len;
    char *data = xlsx(&len, sheet_xml, NULL, 0);
    assert_int_equal(wp_sheet_sniff(data, len), WP_SHEET_XLSX);
    int err = wp_sheet_read(s, WP_SHEET_XLSX, data, len, lim, w);
    free(data);
    return err;
}

static void test_sheet_xlsx__cells(void **state)
{
    wp_sheet s;
    const char *xml =
        SHEET_HEAD
        "<x:row r=\"1\"><x:c r=\"A1\" t=\"s\"><x:v>0</x:v></x:c><x:c r=\"B1\" t=\"s\"><x:v>1</x:v>"
        "</x:c></x:row>"
        "<x:row r=\"3\" spans=\"1:4\"><x:c r=\"A3\" t=\"s\"><x:v>2</x:v></x:c>"
        "<x:c r=\"B3\"><x:v>13800138000</x:v></x:c><x:c r=\"D3\" t=\"inlineStr\"><x:is><x:t>内联"
        "</x:t></x:is></x:c><x:c r=\"E3\" s=\"4\"/></x:row>"
        "<x:row><x:c><x:v>1.3800138E10</x:v></x:c><x:c t=\"b\"><x:v>1</x:v></x:c>"
        "<x:c><x:v>2.5</x:v></x:c><x:c t=\"s\"><x:v>3</x:v></x:c></x:row>"
        "<x:row r=\"9\"><x:c r=\"C9\" s=\"1\"/></x:row>" SHEET_TAIL;
    assert_int_equal(read_xlsx(&s, xml, NULL, NULL), 0);
    assert_int_equal(s.n_rows, 3);
    assert_string_equal(cell(&s, 0, 0), "姓名");
    assert_string_equal(cell(&s, 0, 1), "手机");
    assert_int_equal(s.rows[1].number, 3);
    assert_string_equal(cell(&s, 1, 0), "王女士"); /* rich text joined, the phonetic run not */
    assert_string_equal(cell(&s, 1, 1), "13800138000");
    assert_null(cell(&s, 1, 2));
    assert_string_equal(cell(&s, 1, 3), "内联");
    assert_int_equal(s.rows[1].n, 4); /* a styled empty cell is none */
    assert_int_equal(s.rows[2].number, 4);
    assert_string_equal(cell(&s, 2, 0), "13800138000");
    assert_string_equal(cell(&s, 2, 1), "true");
    assert_string_equal(cell(&s, 2, 2), "2.5");
    assert_string_equal(cell(&s, 2, 3), "a\rb_x0041_");
    wp_sheet_release(&s);
}

static void test_sheet_xlsx__refused(void **state)
{
    wp_sheet s;
    wp_sheet_where w;
    static const struct {
        const char *xml, *says;
        size_t row, col;
    } bad[] = {
        {SHEET_HEAD "<x:row r=\"2\"><x:c r=\"C2\"><x:f>A1+1</x:f><x:v>2</x:v></x:c></x:row>" SHEET_TAIL,
         "cell C2: a formula", 2, 3},
        {SHEET_HEAD "<x:row r=\"5\"><x:c r=\"B5\" t=\"e\"><x:v>#N/A</x:v></x:c></x:row>" SHEET_TAIL,
         "cell B5: an error value", 5, 2},
        {SHEET_HEAD "<x:row r=\"1\"><x:c r=\"A1\" t=\"s\"><x:v>99</x:v></x:c></x:row>" SHEET_TAIL,
         "shared string", 1, 1},
        {SHEET_HEAD "<x:row r=\"1\"><x:c r=\"A1\" t=\"weird\"><x:v>1</x:v></x:c></x:row>" SHEET_TAIL,
         "does not know", 1, 1},
        {SHEET_HEAD "<x:row r=\"2\"/><x:row r=\"1\"/>" SHEET_TAIL, "out of order", 1, 0},
        {SHEET_HEAD "<x:row r=\"1\"><x:c r=\"B1\"><x:v>1</x:v></x:c><x:c r=\"A1\"><x:v>2</x:v></x:c>"
                    "</x:row>" SHEET_TAIL,
         "out of order", 1, 1},
        {SHEET_HEAD "<x:row r=\"1\"><x:c r=\"A2\"><x:v>1</x:v></x:c></x:row>" SHEET_TAIL,
         "does not fit its row", 1, 1},
        {SHEET_HEAD "<x:row r=\"1\"><x:c r=\"A1\"><x:v>12abc</x:v></x:c></x:row>" SHEET_TAIL,
         "no number", 1, 1},
        {"<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]><x/>", "DOCTYPE", 0, 0},
        {SHEET_HEAD "<x:row>" SHEET_TAIL, "not well-formed", 0, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(read_xlsx(&s, bad[i].xml, NULL, &w), WP_EINVAL);
        if (!strstr(wp_error_last(), bad[i].says))
            fail_msg("case %zu: '%s' does not say '%s'", i, wp_error_last(), bad[i].says);
        if (bad[i].row)
            assert_int_equal(w.row, bad[i].row);
        if (bad[i].col)
            assert_int_equal(w.col, bad[i].col);
    }
    /* no sheet part at all, a zip that is no workbook, bytes that are no zip */
    assert_int_equal(read_xlsx(&s, NULL, NULL, &w), WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "sheet is missing"));
    assert_int_equal(wp_sheet_read(&s, WP_SHEET_XLSX, "PK\x03\x04garbage", 11, NULL, &w),
                     WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "not an XLSX"));
}

static void test_sheet_xlsx__limits(void **state)
{
    wp_sheet s;
    wp_sheet_where w;
    wp_sheet_limits lim = {2, 3, 8, 4096};
    const char *rows3 = SHEET_HEAD "<x:row r=\"1\"><x:c><x:v>1</x:v></x:c></x:row>"
                                   "<x:row r=\"2\"><x:c><x:v>2</x:v></x:c></x:row>"
                                   "<x:row r=\"7\"><x:c><x:v>3</x:v></x:c></x:row>" SHEET_TAIL;
    assert_int_equal(read_xlsx(&s, rows3, &lim, &w), WP_ELIMIT);
    assert_string_equal(w.limit, "rows");
    assert_int_equal(w.row, 7);
    const char *cols = SHEET_HEAD "<x:row r=\"1\"><x:c r=\"D1\"><x:v>1</x:v></x:c></x:row>" SHEET_TAIL;
    assert_int_equal(read_xlsx(&s, cols, &lim, &w), WP_ELIMIT);
    assert_string_equal(w.limit, "columns");
    const char *styled = SHEET_HEAD "<x:row r=\"1\"><x:c r=\"Z1\" s=\"1\"/></x:row>" SHEET_TAIL;
    assert_int_equal(read_xlsx(&s, styled, &lim, &w), 0); /* formatting far right is no cell */
    wp_sheet_release(&s);
    const char *big = SHEET_HEAD "<x:row r=\"1\"><x:c t=\"inlineStr\"><x:is><x:t>123456789</x:t>"
                                 "</x:is></x:c></x:row>" SHEET_TAIL;
    assert_int_equal(read_xlsx(&s, big, &lim, &w), WP_ELIMIT);
    assert_string_equal(w.limit, "cell_bytes");
    const char *shared_big = SHEET_HEAD "<x:row r=\"1\"><x:c t=\"s\"><x:v>0</x:v></x:c>"
                                        "<x:c t=\"s\"><x:v>2</x:v></x:c></x:row>" SHEET_TAIL;
    lim.max_cell_bytes = 7; /* 王女士 is 9 bytes */
    assert_int_equal(read_xlsx(&s, shared_big, &lim, &w), WP_ELIMIT);
    assert_string_equal(w.limit, "cell_bytes");
    assert_int_equal(w.col, 2);
    /* a part that inflates past the limit: 1 MiB of spaces */
    size_t n = 1 << 20;
    char *huge = malloc(n + sizeof SHEET_HEAD SHEET_TAIL);
    snprintf(huge, n, "%s", SHEET_HEAD);
    size_t h = strlen(huge);
    memset(huge + h, ' ', n - h - sizeof SHEET_TAIL);
    memcpy(huge + n - sizeof SHEET_TAIL, SHEET_TAIL, sizeof SHEET_TAIL);
    lim.max_cell_bytes = 8;
    assert_int_equal(read_xlsx(&s, huge, &lim, &w), WP_ELIMIT);
    assert_string_equal(w.limit, "part_bytes");
    free(huge);
}

static void test_sheet__col_names(void **state)
{
    char c[8];
    wp_sheet_col_name(c, 1);
    assert_string_equal(c, "A");
    wp_sheet_col_name(c, 26);
    assert_string_equal(c, "Z");
    wp_sheet_col_name(c, 28);
    assert_string_equal(c, "AB");
    wp_sheet_col_name(c, 16384);
    assert_string_equal(c, "XFD");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sheet_csv__quotes_and_line_ends),
        cmocka_unit_test(test_sheet_csv__gb18030_and_tabs),
        cmocka_unit_test(test_sheet_csv__refused),
        cmocka_unit_test(test_sheet_csv__limits),
        cmocka_unit_test(test_sheet_xlsx__cells),
        cmocka_unit_test(test_sheet_xlsx__refused),
        cmocka_unit_test(test_sheet_xlsx__limits),
        cmocka_unit_test(test_sheet__col_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
