/* SPDX-License-Identifier: MIT */
/* The callbacks' XML (expat): the text of the root's children, nothing else. */
#include "wecom/wecom.h"
#include "util/error.h"

#include <expat.h>
#include <stdlib.h>
#include <string.h>

struct fields {
    XML_Parser p;
    char **values;
    const char *const *names;
    size_t n;
    int depth;
    long cur; /* the child being read: its index in names, or -1 */
    size_t cur_len;
    int err;
};

static void fail(struct fields *f, int err)
{
    if (!f->err)
        f->err = err;
    XML_StopParser(f->p, XML_FALSE);
}

static void on_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
    struct fields *f = arg;
    f->depth++;
    f->cur = -1;
    if (f->depth != 2)
        return;
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(name, f->names[i])) {
            free(f->values[i]); /* a field given twice: the last one counts */
            if (!(f->values[i] = calloc(1, 1))) {
                fail(f, wp_error_set(WP_ENOMEM, "out of memory"));
                return;
            }
            f->cur = (long)i;
            f->cur_len = 0;
            return;
        }
}

static void on_end(void *arg, const XML_Char *name)
{
    struct fields *f = arg;
    f->depth--;
    f->cur = -1;
}

static void on_text(void *arg, const XML_Char *s, int len)
{
    struct fields *f = arg;
    if (f->cur < 0 || f->depth != 2 || len <= 0)
        return;
    if (f->cur_len + (size_t)len > WP_WECOM_XML_FIELD_MAX) {
        fail(f, wp_error_set(WP_EINVAL, "xml field '%s' is longer than %u bytes",
                             f->names[f->cur], WP_WECOM_XML_FIELD_MAX));
        return;
    }
    char *v = realloc(f->values[f->cur], f->cur_len + (size_t)len + 1);
    if (!v) {
        fail(f, wp_error_set(WP_ENOMEM, "out of memory"));
        return;
    }
    memcpy(v + f->cur_len, s, (size_t)len);
    f->cur_len += (size_t)len;
    v[f->cur_len] = '\0';
    f->values[f->cur] = v;
}

/* No document types: no entities to expand, internal or external. */
static void on_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
                       const XML_Char *pubid, int has_internal_subset)
{
    fail(arg, wp_error_set(WP_EINVAL, "xml with a document type"));
}

static void on_entity(void *arg, const XML_Char *name, int is_param, const XML_Char *value,
                      int value_len, const XML_Char *base, const XML_Char *sysid,
                      const XML_Char *pubid, const XML_Char *notation)
{
    fail(arg, wp_error_set(WP_EINVAL, "xml with an entity declaration"));
}

void wp_wecom_xml_free(char **values, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(values[i]);
        values[i] = NULL;
    }
}

int wp_wecom_xml_fields(char **values, const char *const *names, size_t n, const char *xml,
                        size_t len)
{
    struct fields f = {.values = values, .names = names, .n = n, .cur = -1};
    for (size_t i = 0; i < n; i++)
        values[i] = NULL;
    if (len > WP_WECOM_BODY_MAX)
        return wp_error_set(WP_EINVAL, "xml longer than %u bytes", WP_WECOM_BODY_MAX);
    if (!(f.p = XML_ParserCreate("UTF-8")))
        return wp_error_set(WP_ENOMEM, "out of memory");
    XML_SetUserData(f.p, &f);
    XML_SetElementHandler(f.p, on_start, on_end);
    XML_SetCharacterDataHandler(f.p, on_text);
    XML_SetStartDoctypeDeclHandler(f.p, on_doctype);
    XML_SetEntityDeclHandler(f.p, on_entity);
    if (XML_Parse(f.p, xml, (int)len, XML_TRUE) != XML_STATUS_OK && !f.err)
        f.err = wp_error_set(WP_EINVAL, "xml: %s at line %lu",
                             XML_ErrorString(XML_GetErrorCode(f.p)),
                             (unsigned long)XML_GetCurrentLineNumber(f.p));
    XML_ParserFree(f.p);
    if (f.err)
        wp_wecom_xml_free(values, n);
    return f.err;
}

static int copy_field(char *out, size_t cap, const char *v, const char *name)
{
    size_t n = v ? strlen(v) : 0;
    if (n >= cap)
        return wp_error_set(WP_EINVAL, "'%s' is longer than %zu bytes", name, cap - 1);
    memcpy(out, v ? v : "", n + 1);
    return 0;
}

int wp_wecom_event_parse(wp_wecom_event *out, const char *xml, size_t len)
{
    static const char *const names[] = {"ToUserName", "MsgType",        "Event",
                                        "ChangeType", "UserID",         "ExternalUserID",
                                        "FailReason", "CreateTime"};
    enum { N = sizeof names / sizeof *names };
    char *v[N];
    wp_wecom_event e;
    int err;

    memset(&e, 0, sizeof e);
    if ((err = wp_wecom_xml_fields(v, names, N, xml, len)) < 0)
        return err;
    if ((err = copy_field(e.to_user, sizeof e.to_user, v[0], names[0])) == 0 &&
        (err = copy_field(e.msg_type, sizeof e.msg_type, v[1], names[1])) == 0 &&
        (err = copy_field(e.event, sizeof e.event, v[2], names[2])) == 0 &&
        (err = copy_field(e.change_type, sizeof e.change_type, v[3], names[3])) == 0 &&
        (err = copy_field(e.user_id, sizeof e.user_id, v[4], names[4])) == 0 &&
        (err = copy_field(e.external_user_id, sizeof e.external_user_id, v[5], names[5])) == 0 &&
        (err = copy_field(e.fail_reason, sizeof e.fail_reason, v[6], names[6])) == 0 && v[7]) {
        char *end = NULL;
        long long t = strtoll(v[7], &end, 10);
        if (!*v[7] || *end || t < 0 || t > 253402300799LL) /* up to 9999-12-31 */
            err = wp_error_set(WP_EINVAL, "'CreateTime' is not a time");
        else
            e.create_time = t;
    }
    wp_wecom_xml_free(v, N);
    if (err == 0)
        *out = e;
    return err;
}
