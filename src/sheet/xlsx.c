/* SPDX-License-Identifier: MIT */
/* The XLSX reader: the first worksheet of an Office Open XML workbook, its shared strings,
 * inline strings, numbers and booleans, through libzip and expat. Formulas, error cells and
 * anything else it does not know are refused with the cell named. */
#include "sheet/sheet.h"
#include "util/buf.h"
#include "util/error.h"

#include <expat.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#define ENTRIES_MAX 10000 /* parts in one workbook: far more than any real one has */
#define PATH_MAX_LEN 512
#define NS_SEP '|'

/* --- the zip ---------------------------------------------------------------------------- */

/* The part name (case-insensitive, as OOXML names are) inflated into a malloc'ed *out of at
 * most lim->max_part_bytes; WP_ENOTFOUND when the workbook has no such part. */
static int read_part(zip_t *za, const wp_sheet_limits *lim, wp_sheet_where *where,
                     const char *name, char **out, size_t *out_len)
{
    zip_int64_t idx = zip_name_locate(za, name, ZIP_FL_NOCASE);
    zip_stat_t zs;
    if (idx < 0)
        return wp_error_set(WP_ENOTFOUND, "the workbook has no part '%s'", name);
    zip_stat_init(&zs);
    if (zip_stat_index(za, (zip_uint64_t)idx, 0, &zs) < 0)
        return wp_error_set(WP_EINVAL, "the workbook is damaged (part '%s')", name);
    if ((zs.valid & ZIP_STAT_ENCRYPTION_METHOD) && zs.encryption_method != ZIP_EM_NONE)
        return wp_error_set(WP_EINVAL, "the workbook is encrypted");
    if ((zs.valid & ZIP_STAT_SIZE) && zs.size > lim->max_part_bytes)
        return wp_sheet__limit(where, "part_bytes", 0, 0, lim->max_part_bytes);
    zip_file_t *zf = zip_fopen_index(za, (zip_uint64_t)idx, 0);
    if (!zf)
        return wp_error_set(WP_EINVAL, "the workbook is damaged or encrypted (part '%s')", name);
    wp_buf b;
    char chunk[16384];
    int err = 0;
    wp_buf_init(&b, lim->max_part_bytes);
    for (;;) {
        zip_int64_t n = zip_fread(zf, chunk, sizeof chunk);
        if (n < 0) {
            err = wp_error_set(WP_EINVAL, "the workbook is damaged (part '%s')", name);
            break;
        }
        if (n == 0)
            break;
        /* the size in the header may lie: the cap holds whatever it says */
        if ((err = wp_buf_add(&b, chunk, (size_t)n)) < 0) {
            if (err == WP_ELIMIT)
                err = wp_sheet__limit(where, "part_bytes", 0, 0, lim->max_part_bytes);
            break;
        }
    }
    zip_fclose(zf);
    if (err < 0) {
        wp_buf_release(&b);
        return err;
    }
    *out = wp_buf_detach(&b, out_len);
    return 0;
}

/* --- XML ---------------------------------------------------------------------------------- */

/* The local part of an expanded name ("uri|local" → "local"). */
static const char *local(const char *name)
{
    const char *p = strrchr(name, NS_SEP);
    return p ? p + 1 : name;
}

static const char *attr(const char **atts, const char *name, int want_ns)
{
    for (size_t i = 0; atts[i]; i += 2) {
        int has_ns = strchr(atts[i], NS_SEP) != NULL;
        if (has_ns == want_ns && !strcmp(local(atts[i]), name))
            return atts[i + 1];
    }
    return NULL;
}

struct xml {
    XML_Parser p;
    int err; /* the first error a handler met */
};

/* Refuse document type declarations: entities are how XML is made to explode. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sys,
                               const XML_Char *pub, int internal)
{
    struct xml *x = ud;
    if (!x->err)
        x->err = wp_error_set(WP_EINVAL, "the workbook's XML has a DOCTYPE, which is not allowed");
    XML_StopParser(x->p, XML_FALSE);
}

static int parse(struct xml *x, const char *part, const char *data, size_t len)
{
    XML_SetStartDoctypeDeclHandler(x->p, on_doctype);
    XML_SetParamEntityParsing(x->p, XML_PARAM_ENTITY_PARSING_NEVER);
    enum XML_Status s = len > (size_t)INT32_MAX ? XML_STATUS_ERROR
                                                 : XML_Parse(x->p, data, (int)len, XML_TRUE);
    if (x->err)
        return x->err;
    if (s != XML_STATUS_OK)
        return wp_error_set(WP_EINVAL, "the workbook's part '%s' is not well-formed XML (line %lu: %s)",
                            part, (unsigned long)XML_GetCurrentLineNumber(x->p),
                            XML_ErrorString(XML_GetErrorCode(x->p)));
    return 0;
}

/* --- relationships and the workbook ------------------------------------------------------- */

struct rels {
    struct xml x;
    const char *want_id;   /* the Id looked for, or NULL */
    const char *want_type; /* or the Type suffix looked for */
    char target[PATH_MAX_LEN];
    int found;
};

static void XMLCALL rels_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct rels *r = ud;
    if (r->found || strcmp(local(name), "Relationship"))
        return;
    const char *id = attr(atts, "Id", 0), *type = attr(atts, "Type", 0),
               *target = attr(atts, "Target", 0), *mode = attr(atts, "TargetMode", 0);
    if (!id || !type || !target || (mode && !strcmp(mode, "External")))
        return;
    size_t tl = strlen(type), wl = r->want_type ? strlen(r->want_type) : 0;
    if ((r->want_id && !strcmp(id, r->want_id)) ||
        (r->want_type && tl >= wl && !strcmp(type + tl - wl, r->want_type))) {
        if (strlen(target) >= sizeof r->target)
            return;
        snprintf(r->target, sizeof r->target, "%s", target);
        r->found = 1;
    }
}

/* dir/target with "." and ".." resolved (a target beginning with / is from the root), into
 * out. WP_EINVAL when it climbs out of the root. */
static int resolve(char out[PATH_MAX_LEN], const char *dir, const char *target)
{
    char joined[PATH_MAX_LEN * 2];
    const char *segs[64];
    size_t lens[64], n = 0;
    if (target[0] == '/')
        snprintf(joined, sizeof joined, "%s", target + 1);
    else
        snprintf(joined, sizeof joined, "%s%s", dir, target);
    for (const char *p = joined; *p;) {
        size_t l = strcspn(p, "/");
        if (l == 0 || (l == 1 && p[0] == '.')) {
        } else if (l == 2 && p[0] == '.' && p[1] == '.') {
            if (n == 0)
                return wp_error_set(WP_EINVAL, "the workbook names a part outside itself");
            n--;
        } else {
            if (n == 64)
                return wp_error_set(WP_EINVAL, "the workbook names a part too deep");
            segs[n] = p;
            lens[n++] = l;
        }
        p += l;
        if (*p == '/')
            p++;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (o + lens[i] + 2 > PATH_MAX_LEN)
            return wp_error_set(WP_EINVAL, "the workbook names a part with too long a name");
        if (i)
            out[o++] = '/';
        memcpy(out + o, segs[i], lens[i]);
        o += lens[i];
    }
    out[o] = '\0';
    return o ? 0 : wp_error_set(WP_EINVAL, "the workbook names an empty part");
}

/* In the relationships part rels_name, the target of Id want_id or of the first Type ending in
 * want_type, resolved against dir. WP_ENOTFOUND when there is none. */
static int rel_target(zip_t *za, const wp_sheet_limits *lim, wp_sheet_where *where,
                      const char *rels_name, const char *dir, const char *want_id,
                      const char *want_type, char out[PATH_MAX_LEN])
{
    char *data = NULL;
    size_t len;
    int err;
    struct rels r = {.want_id = want_id, .want_type = want_type};
    if ((err = read_part(za, lim, where, rels_name, &data, &len)) < 0)
        return err;
    if (!(r.x.p = XML_ParserCreateNS(NULL, NS_SEP))) {
        free(data);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    XML_SetUserData(r.x.p, &r);
    XML_SetStartElementHandler(r.x.p, rels_start);
    err = parse(&r.x, rels_name, data, len);
    XML_ParserFree(r.x.p);
    free(data);
    if (err < 0)
        return err;
    if (!r.found)
        return WP_ENOTFOUND;
    return resolve(out, dir, r.target);
}

struct workbook {
    struct xml x;
    char sheet_rid[128];
    int found;
};

static void XMLCALL workbook_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct workbook *w = ud;
    if (w->found || strcmp(local(name), "sheet"))
        return;
    const char *rid = attr(atts, "id", 1); /* r:id */
    if (rid && strlen(rid) < sizeof w->sheet_rid) {
        snprintf(w->sheet_rid, sizeof w->sheet_rid, "%s", rid);
        w->found = 1;
    }
}

/* --- shared strings ------------------------------------------------------------------------ */

/* One string: offset into the text and length; too long ones are kept as -1 and refused only
 * when a cell uses them. */
struct sst {
    struct xml x;
    const wp_sheet_limits *lim;
    wp_buf text;  /* every string, one after the other */
    size_t *off, *len;
    size_t n, alloc;
    int in_si, in_t, in_rph;
    size_t start; /* of the current string in text */
    int too_long;
};

/* OOXML escapes characters XML cannot hold as _xHHHH_ (and a literal "_x" as _x005F_x):
 * decode them in place. */
static size_t unescape(char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned v = 0;
        int ok = i + 7 <= n && s[i] == '_' && s[i + 1] == 'x' && s[i + 6] == '_';
        for (size_t k = 2; ok && k < 6; k++) {
            char c = s[i + k];
            unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                         : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                                : 16;
            ok = d < 16;
            v = v * 16 + d;
        }
        if (!ok || v == 0 || (v >= 0xd800 && v <= 0xdfff)) {
            s[o++] = s[i++];
            continue;
        }
        if (v < 0x80) {
            s[o++] = (char)v;
        } else if (v < 0x800) {
            s[o++] = (char)(0xc0 | (v >> 6));
            s[o++] = (char)(0x80 | (v & 0x3f));
        } else {
            s[o++] = (char)(0xe0 | (v >> 12));
            s[o++] = (char)(0x80 | ((v >> 6) & 0x3f));
            s[o++] = (char)(0x80 | (v & 0x3f));
        }
        i += 7;
    }
    return o;
}

static void sst_fail(struct sst *t, int err)
{
    if (!t->x.err)
        t->x.err = err;
    XML_StopParser(t->x.p, XML_FALSE);
}

static void XMLCALL sst_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct sst *t = ud;
    const char *l = local(name);
    if (!strcmp(l, "si")) {
        t->in_si = 1;
        t->start = t->text.len;
        t->too_long = 0;
    } else if (t->in_si && !strcmp(l, "rPh")) {
        t->in_rph++;
    } else if (t->in_si && !strcmp(l, "t")) {
        t->in_t = 1;
    }
}

static void XMLCALL sst_end(void *ud, const XML_Char *name)
{
    struct sst *t = ud;
    const char *l = local(name);
    if (!strcmp(l, "t")) {
        t->in_t = 0;
    } else if (!strcmp(l, "rPh")) {
        if (t->in_rph)
            t->in_rph--;
    } else if (!strcmp(l, "si") && t->in_si) {
        t->in_si = 0;
        if (t->n == t->alloc) {
            size_t a = t->alloc ? t->alloc * 2 : 256;
            size_t *o = realloc(t->off, a * sizeof *o), *n2;
            if (o)
                t->off = o;
            n2 = o ? realloc(t->len, a * sizeof *n2) : NULL;
            if (!o || !n2) {
                sst_fail(t, wp_error_set(WP_ENOMEM, "out of memory"));
                return;
            }
            t->len = n2;
            t->alloc = a;
        }
        size_t n = unescape(t->text.buf + t->start, t->text.len - t->start);
        t->text.len = t->start + n;
        t->text.buf[t->text.len] = '\0';
        t->off[t->n] = t->start;
        t->len[t->n++] = t->too_long || n > t->lim->max_cell_bytes ? (size_t)-1 : n;
    }
}

static void XMLCALL sst_chars(void *ud, const XML_Char *s, int len)
{
    struct sst *t = ud;
    int err;
    if (!t->in_si || !t->in_t || t->in_rph || t->too_long)
        return;
    if (t->text.len - t->start + (size_t)len > t->lim->max_cell_bytes * 2) {
        t->too_long = 1; /* past any use: stop keeping it */
        return;
    }
    if ((err = wp_buf_add(&t->text, s, (size_t)len)) < 0)
        sst_fail(t, err);
}

/* --- the worksheet ------------------------------------------------------------------------- */

enum cell_type { CT_NUMBER, CT_SHARED, CT_INLINE, CT_BOOL, CT_DATE };

struct ws {
    struct xml x;
    struct wp_sheet__builder *b;
    const struct sst *sst;
    int in_data, in_row, in_c, in_v, in_is, in_t, in_rph;
    size_t row, col;     /* 1-based: the current row, and the last cell's column */
    size_t cell_col;     /* of the cell being read */
    enum cell_type type;
    wp_buf val;
};

static int ws_fail(struct ws *w, int err)
{
    if (!w->x.err)
        w->x.err = err;
    XML_StopParser(w->x.p, XML_FALSE);
    return err;
}

static int ws_cell_fail(struct ws *w, const char *why)
{
    char c[8];
    wp_sheet_col_name(c, w->cell_col);
    if (w->b->where) {
        w->b->where->row = w->row;
        w->b->where->col = w->cell_col;
    }
    return ws_fail(w, wp_error_set(WP_EINVAL, "cell %s%zu: %s", c, w->row, why));
}

/* "AB12" → column 28, row 12. 0 when it is no reference. */
static int parse_ref(const char *s, size_t *col, size_t *row)
{
    size_t c = 0, r = 0, i = 0;
    for (; s[i] >= 'A' && s[i] <= 'Z' && i < 3; i++)
        c = c * 26 + (size_t)(s[i] - 'A' + 1);
    if (i == 0)
        return 0;
    size_t d = i;
    for (; s[i] >= '0' && s[i] <= '9' && i - d < 7; i++)
        r = r * 10 + (size_t)(s[i] - '0');
    if (i == d || s[i] || c > 16384 || r == 0 || r > 1048576)
        return 0;
    *col = c;
    *row = r;
    return 1;
}

static void XMLCALL ws_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct ws *w = ud;
    const char *l = local(name);
    if (!w->in_data) {
        if (!strcmp(l, "sheetData"))
            w->in_data = 1;
        return;
    }
    if (!strcmp(l, "row")) {
        const char *r = attr(atts, "r", 0);
        size_t n = w->row + 1;
        if (r) {
            char *end = NULL;
            unsigned long v = strtoul(r, &end, 10);
            if (!*r || *end || v == 0 || v > 1048576) {
                ws_fail(w, wp_error_set(WP_EINVAL, "row %zu: a row number '%.16s' that is not "
                                                   "one", n, r));
                return;
            }
            n = (size_t)v;
        }
        if (wp_sheet__row(w->b, n) < 0) {
            ws_fail(w, WP_EINVAL);
            return;
        }
        w->row = n;
        w->col = 0;
        w->in_row = 1;
    } else if (!strcmp(l, "c") && w->in_row) {
        const char *r = attr(atts, "r", 0), *t = attr(atts, "t", 0);
        size_t col = w->col + 1, row = w->row;
        if (r && (!parse_ref(r, &col, &row) || row != w->row)) {
            w->cell_col = w->col + 1;
            ws_cell_fail(w, "a cell reference that does not fit its row");
            return;
        }
        w->cell_col = col;
        if (col <= w->col) {
            ws_cell_fail(w, "given twice, or out of order");
            return;
        }
        w->col = col;
        w->in_c = 1;
        wp_buf_reset(&w->val);
        if (!t || !strcmp(t, "n"))
            w->type = CT_NUMBER;
        else if (!strcmp(t, "s"))
            w->type = CT_SHARED;
        else if (!strcmp(t, "inlineStr"))
            w->type = CT_INLINE;
        else if (!strcmp(t, "b"))
            w->type = CT_BOOL;
        else if (!strcmp(t, "d"))
            w->type = CT_DATE;
        else if (!strcmp(t, "e"))
            ws_cell_fail(w, "an error value (#N/A, #REF!, ...): fix or clear it");
        else if (!strcmp(t, "str"))
            ws_cell_fail(w, "a formula: save the values instead (copy, paste as values)");
        else
            ws_cell_fail(w, "a cell type this reader does not know");
    } else if (w->in_c && !strcmp(l, "f")) {
        ws_cell_fail(w, "a formula: save the values instead (copy, paste as values)");
    } else if (w->in_c && !strcmp(l, "v")) {
        w->in_v = 1;
    } else if (w->in_c && !strcmp(l, "is")) {
        w->in_is = 1;
    } else if (w->in_is && !strcmp(l, "rPh")) {
        w->in_rph++;
    } else if (w->in_is && !strcmp(l, "t")) {
        w->in_t = 1;
    }
}

/* A number as people typed it: an integer in E notation (1.3800138E10) written out whole. */
static int number_text(struct ws *w, char *buf, size_t cap, const char **out, size_t *out_len)
{
    const char *s = w->val.buf;
    char *end = NULL;
    double d = strtod(s, &end);
    if (!*s || *end || !isfinite(d))
        return ws_cell_fail(w, "a number cell that holds no number");
    if (strpbrk(s, "eE") && d == floor(d) && fabs(d) < 1e15) {
        snprintf(buf, cap, "%.0f", d);
        *out = buf;
        *out_len = strlen(buf);
        return 0;
    }
    *out = s;
    *out_len = w->val.len;
    return 0;
}

static void cell_done(struct ws *w)
{
    const char *text = w->val.buf;
    size_t len = w->val.len;
    char num[64];
    if (w->x.err)
        return;
    switch (w->type) {
    case CT_NUMBER:
        if (len && number_text(w, num, sizeof num, &text, &len) < 0)
            return;
        break;
    case CT_SHARED: {
        char *end = NULL;
        unsigned long long i = strtoull(w->val.buf, &end, 10);
        if (!len)
            break;
        if (*end || !w->sst || i >= w->sst->n) {
            ws_cell_fail(w, "a shared string that the workbook does not have");
            return;
        }
        if (w->sst->len[i] == (size_t)-1) {
            wp_sheet__limit(w->b->where, "cell_bytes", w->row, w->cell_col,
                            w->b->lim->max_cell_bytes);
            ws_fail(w, WP_ELIMIT);
            return;
        }
        text = w->sst->text.buf + w->sst->off[i];
        len = w->sst->len[i];
        break;
    }
    case CT_INLINE:
        len = unescape(w->val.buf, w->val.len);
        break;
    case CT_BOOL:
        if (!len)
            break;
        if (strcmp(text, "0") && strcmp(text, "1")) {
            ws_cell_fail(w, "a boolean that is neither 0 nor 1");
            return;
        }
        text = text[0] == '1' ? "true" : "false";
        len = strlen(text);
        break;
    case CT_DATE:
        break;
    }
    int err = wp_sheet__cell(w->b, w->cell_col - 1, text, len);
    if (err < 0)
        ws_fail(w, err);
}

static void XMLCALL ws_end(void *ud, const XML_Char *name)
{
    struct ws *w = ud;
    const char *l = local(name);
    if (!w->in_data)
        return;
    if (!strcmp(l, "sheetData")) {
        w->in_data = 0;
    } else if (!strcmp(l, "row")) {
        w->in_row = 0;
    } else if (!strcmp(l, "c") && w->in_c) {
        w->in_c = 0;
        cell_done(w);
    } else if (!strcmp(l, "v")) {
        w->in_v = 0;
    } else if (!strcmp(l, "is")) {
        w->in_is = 0;
    } else if (!strcmp(l, "rPh")) {
        if (w->in_rph)
            w->in_rph--;
    } else if (!strcmp(l, "t")) {
        w->in_t = 0;
    }
}

static void XMLCALL ws_chars(void *ud, const XML_Char *s, int len)
{
    struct ws *w = ud;
    int err;
    if (!w->in_c || !(w->in_v || (w->in_is && w->in_t && !w->in_rph)))
        return;
    /* inline strings shrink when unescaped: room for that, the cell's limit checked after */
    if ((err = wp_buf_add(&w->val, s, (size_t)len)) < 0) {
        if (err == WP_ELIMIT) {
            wp_sheet__limit(w->b->where, "cell_bytes", w->row, w->cell_col,
                            w->b->lim->max_cell_bytes);
            ws_fail(w, WP_ELIMIT);
        } else {
            ws_fail(w, err);
        }
    }
}

/* --- the reader ------------------------------------------------------------------------------ */

static int dir_of(char out[PATH_MAX_LEN], const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) + 1 : 0;
    if (n >= PATH_MAX_LEN)
        return wp_error_set(WP_EINVAL, "the workbook names a part with too long a name");
    memcpy(out, path, n);
    out[n] = '\0';
    return 0;
}

int wp_sheet__read_xlsx(struct wp_sheet__builder *b, const char *data, size_t len)
{
    const wp_sheet_limits *lim = b->lim;
    zip_error_t ze;
    zip_source_t *src = NULL;
    zip_t *za = NULL;
    char wb_path[PATH_MAX_LEN], wb_dir[PATH_MAX_LEN], rels_path[PATH_MAX_LEN * 2];
    char sheet_path[PATH_MAX_LEN], sst_path[PATH_MAX_LEN];
    char *part = NULL;
    size_t part_len = 0;
    struct workbook wbk;
    struct sst sst;
    struct ws ws;
    int err, have_sst = 0;

    memset(&wbk, 0, sizeof wbk);
    memset(&sst, 0, sizeof sst);
    memset(&ws, 0, sizeof ws);
    wp_buf_init(&sst.text, lim->max_part_bytes);
    wp_buf_init(&ws.val, lim->max_cell_bytes * 6 + 64);
    zip_error_init(&ze);
    if (!(src = zip_source_buffer_create(data, len, 0, &ze)) ||
        !(za = zip_open_from_source(src, ZIP_RDONLY, &ze))) {
        err = wp_error_set(WP_EINVAL, "not an XLSX workbook: the zip cannot be read (%s)",
                           zip_error_strerror(&ze));
        if (src)
            zip_source_free(src);
        src = NULL;
        goto out;
    }
    src = NULL; /* the archive owns it now */
    if (zip_get_num_entries(za, 0) > ENTRIES_MAX) {
        err = wp_error_set(WP_EINVAL, "not an XLSX workbook: more than %d parts", ENTRIES_MAX);
        goto out;
    }

    /* the workbook: where the package's relationships say, or where it usually is */
    err = rel_target(za, lim, b->where, "_rels/.rels", "", NULL, "/officeDocument", wb_path);
    if (err == WP_ENOTFOUND)
        snprintf(wb_path, sizeof wb_path, "xl/workbook.xml");
    else if (err < 0)
        goto out;
    if ((err = dir_of(wb_dir, wb_path)) < 0 ||
        (err = read_part(za, lim, b->where, wb_path, &part, &part_len)) < 0) {
        if (err == WP_ENOTFOUND)
            err = wp_error_set(WP_EINVAL, "not an XLSX workbook: it has no workbook part");
        goto out;
    }
    if (!(wbk.x.p = XML_ParserCreateNS(NULL, NS_SEP))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    XML_SetUserData(wbk.x.p, &wbk);
    XML_SetStartElementHandler(wbk.x.p, workbook_start);
    err = parse(&wbk.x, wb_path, part, part_len);
    XML_ParserFree(wbk.x.p);
    free(part);
    part = NULL;
    if (err < 0)
        goto out;
    if (!wbk.found) {
        err = wp_error_set(WP_EINVAL, "the workbook has no worksheet");
        goto out;
    }
    snprintf(rels_path, sizeof rels_path, "%s_rels/%s.rels", wb_dir, wb_path + strlen(wb_dir));
    if ((err = rel_target(za, lim, b->where, rels_path, wb_dir, wbk.sheet_rid, NULL,
                          sheet_path)) < 0) {
        if (err == WP_ENOTFOUND)
            err = wp_error_set(WP_EINVAL, "the workbook's first sheet is not a part of it "
                                          "(a chart sheet, or a damaged file)");
        goto out;
    }
    err = rel_target(za, lim, b->where, rels_path, wb_dir, NULL, "/sharedStrings", sst_path);
    if (err == 0)
        have_sst = 1;
    else if (err != WP_ENOTFOUND)
        goto out;

    if (have_sst) {
        if ((err = read_part(za, lim, b->where, sst_path, &part, &part_len)) < 0) {
            if (err == WP_ENOTFOUND)
                err = wp_error_set(WP_EINVAL, "the workbook's shared strings are missing");
            goto out;
        }
        sst.lim = lim;
        if (!(sst.x.p = XML_ParserCreateNS(NULL, NS_SEP))) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
        XML_SetUserData(sst.x.p, &sst);
        XML_SetElementHandler(sst.x.p, sst_start, sst_end);
        XML_SetCharacterDataHandler(sst.x.p, sst_chars);
        err = parse(&sst.x, sst_path, part, part_len);
        XML_ParserFree(sst.x.p);
        free(part);
        part = NULL;
        if (err == WP_ELIMIT)
            err = wp_sheet__limit(b->where, "part_bytes", 0, 0, lim->max_part_bytes);
        if (err < 0)
            goto out;
    }

    if ((err = read_part(za, lim, b->where, sheet_path, &part, &part_len)) < 0) {
        if (err == WP_ENOTFOUND)
            err = wp_error_set(WP_EINVAL, "the workbook's first sheet is missing");
        goto out;
    }
    ws.b = b;
    ws.sst = have_sst ? &sst : NULL;
    if (!(ws.x.p = XML_ParserCreateNS(NULL, NS_SEP))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    XML_SetUserData(ws.x.p, &ws);
    XML_SetElementHandler(ws.x.p, ws_start, ws_end);
    XML_SetCharacterDataHandler(ws.x.p, ws_chars);
    err = parse(&ws.x, sheet_path, part, part_len);
    XML_ParserFree(ws.x.p);
out:
    free(part);
    if (za)
        zip_discard(za);
    zip_error_fini(&ze);
    wp_buf_release(&sst.text);
    free(sst.off);
    free(sst.len);
    wp_buf_release(&ws.val);
    return err;
}
