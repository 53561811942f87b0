/* SPDX-License-Identifier: MIT */
/* key=value files: read once, whole, with limits, and a message naming the bad line. */
#include "util/conf.h"
#include "util/conf_int.h"
#include "util/error.h"
#include "util/utf8.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct setting {
    const char *key, *value; /* inside text */
};

struct wp_conf {
    char *text; /* the file, each key and value NUL-terminated in place */
    struct setting *v;
    size_t n;
};

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int key_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
}

/* s[0..*len) without the blanks around it. */
static char *trim(char *s, size_t *len)
{
    while (*len && is_blank(*s)) {
        s++;
        (*len)--;
    }
    while (*len && is_blank(s[*len - 1]))
        (*len)--;
    return s;
}

/* One line (line[0..len), no line end) into c: skipped, a setting, or WP_EINVAL. */
static int parse_line(wp_conf *c, const char *path, size_t no, char *line, size_t len)
{
    if (len > WP_CONF_LINE_MAX)
        return wp_error_set(WP_ELIMIT, "'%s' line %zu: longer than %d bytes", path, no,
                            WP_CONF_LINE_MAX);
    if (!wp_utf8_valid(line, len))
        return wp_error_set(WP_EINVAL, "'%s' line %zu: not valid UTF-8", path, no);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)line[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return wp_error_set(WP_EINVAL, "'%s' line %zu: a control character (0x%02x)", path,
                                no, ch);
    }
    char *s = trim(line, &len);
    if (!len || *s == '#')
        return 0;
    char *eq = memchr(s, '=', len);
    if (!eq)
        return wp_error_set(WP_EINVAL, "'%s' line %zu: no '=' in it (a line is key=value)",
                            path, no);
    size_t klen = (size_t)(eq - s), vlen = len - klen - 1;
    char *key = trim(s, &klen), *value = trim(eq + 1, &vlen);
    if (!klen)
        return wp_error_set(WP_EINVAL, "'%s' line %zu: no key before '='", path, no);
    if (klen > WP_CONF_KEY_MAX)
        return wp_error_set(WP_EINVAL, "'%s' line %zu: a key longer than %d bytes", path, no,
                            WP_CONF_KEY_MAX);
    for (size_t i = 0; i < klen; i++)
        if (!key_char((unsigned char)key[i]))
            return wp_error_set(WP_EINVAL,
                                "'%s' line %zu: a key is letters, digits, '_', '.' and '-' "
                                "only",
                                path, no);
    key[klen] = '\0';
    value[vlen] = '\0';
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->v[i].key, key)) { /* the last one wins, as it always did */
            c->v[i].value = value;
            return 0;
        }
    struct setting *v = realloc(c->v, (c->n + 1) * sizeof *v);
    if (!v)
        return wp_error_set(WP_ENOMEM, "out of memory");
    c->v = v;
    c->v[c->n++] = (struct setting){key, value};
    return 0;
}

/* c->text[0..len) (NUL-terminated) into c's settings, line by line. */
static int parse_text(wp_conf *c, const char *path, size_t len)
{
    int err = 0;
    char *p = c->text, *end = c->text + len;
    for (size_t no = 1; p < end && !err; no++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        size_t n = (size_t)(eol - p);
        if (n && p[n - 1] == '\r')
            n--;
        err = parse_line(c, path, no, p, n);
        p = eol + 1;
    }
    return err;
}

int wp_conf_read(wp_conf **out, const char *path)
{
    wp_conf *c = calloc(1, sizeof *c);
    FILE *f = NULL;
    size_t len = 0;
    int err = 0;
    if (!c || !(c->text = malloc(WP_CONF_MAX_BYTES + 1))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    if (!(f = fopen(path, "r"))) {
        err = errno == ENOENT
                  ? wp_error_set(WP_ENOTFOUND, "'%s' does not exist", path)
                  : wp_error_set(WP_EIO, "cannot read '%s': %s", path, strerror(errno));
        goto out;
    }
    len = fread(c->text, 1, WP_CONF_MAX_BYTES + 1, f);
    if (ferror(f)) {
        err = wp_error_set(WP_EIO, "cannot read '%s'", path);
        goto out;
    }
    if (len > WP_CONF_MAX_BYTES) {
        err = wp_error_set(WP_ELIMIT, "'%s' is larger than %d bytes", path, WP_CONF_MAX_BYTES);
        goto out;
    }
    c->text[len] = '\0';
    err = parse_text(c, path, len);
out:
    if (f)
        fclose(f);
    if (err < 0) {
        wp_conf_free(c);
        return err;
    }
    *out = c;
    return 0;
}

int wp_conf_read_dir(wp_conf **out, const char *dir)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/workphone.conf", dir) >= sizeof path)
        return wp_error_set(WP_EINVAL, "the data dir path is too long");
    return wp_conf_read(out, path);
}

const char *wp_conf_get(const wp_conf *c, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->v[i].key, key))
            return c->v[i].value;
    return NULL;
}

void wp_conf_free(wp_conf *c)
{
    if (!c)
        return;
    free(c->text);
    free(c->v);
    free(c);
}

int wp_conf__parse(wp_conf **out, const char *name, const char *text, size_t len)
{
    if (len > WP_CONF_MAX_BYTES)
        return wp_error_set(WP_ELIMIT, "'%s' is larger than %d bytes", name, WP_CONF_MAX_BYTES);
    wp_conf *c = calloc(1, sizeof *c);
    if (!c || !(c->text = malloc(len + 1))) {
        wp_conf_free(c);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    if (len)
        memcpy(c->text, text, len);
    c->text[len] = '\0';
    int err = parse_text(c, name, len);
    if (err < 0) {
        wp_conf_free(c);
        return err;
    }
    *out = c;
    return 0;
}

size_t wp_conf__count(const wp_conf *c)
{
    return c->n;
}

void wp_conf__at(const wp_conf *c, size_t i, const char **key, const char **value)
{
    *key = c->v[i].key;
    *value = c->v[i].value;
}
