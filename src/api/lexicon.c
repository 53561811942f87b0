/* SPDX-License-Identifier: MIT */
/* The tenant's lexicon (CONTRACT §2) as plain text, and its settings (the money threshold, the
 * storage limits and what is used of them, the insider alerts' thresholds). */
#include "api/api.h"
#include "scan/verdict.h"
#include "store/insider.h"
#include "store/field.h"
#include "store/map.h"
#include "store/org.h"
#include "store/people.h"
#include "store/store.h"
#include "store/usage.h"
#include "util/error.h"
#include "util/id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static wp_ingest *ingest_of(wp_http_ctx *ctx)
{
    return ((const wp_app *)ctx->app)->ingest;
}

/* Run change (an ingest call on the given connection) and its audit row in one transaction;
 * reply makes the reply ready (wp_http_ready_json) before the commit, so that nothing is left
 * to fail after it, and it is sent once committed. Takes ownership of details (filled in by
 * change when it needs the outcome). */
struct change {
    int (*run)(wp_http_ctx *ctx, wp_store *st, void *arg, json_t *details);
    int (*reply)(wp_http_ctx *ctx, void *arg);
    void *arg;
};

static int audited(wp_http_ctx *ctx, const char *action, const struct change *ch,
                   json_t *details)
{
    wp_store *st = NULL;
    int err;
    if (!details)
        return wp_error_set(WP_ENOMEM, "out of memory");
    if ((err = api_store_acquire(ctx, &st)) == 0) {
        if ((err = wp_store_begin(st)) == 0 && (err = ch->run(ctx, st, ch->arg, details)) == 0 &&
            (err = api_audit(ctx, st, action, "policy", details)) == 0 &&
            (err = ch->reply(ctx, ch->arg)) == 0)
            err = wp_store_commit(st);
        if (err < 0)
            wp_store_rollback(st);
        api_store_release(ctx, st);
    }
    json_decref(details);
    return err < 0 ? err : wp_http_ready_send(ctx);
}

/* A 200 with body (taken) and version as its ETag, made ready (audited's reply). */
static int ready_versioned(wp_http_ctx *ctx, json_t *body, int64_t version)
{
    char etag[32];
    snprintf(etag, sizeof etag, "\"%lld\"", (long long)version);
    int err = wp_http_ready_json(ctx, 200, body);
    return err < 0 ? err : wp_http_ready_header(ctx, "ETag", etag);
}

static int add_version(wp_http_ctx *ctx, int64_t version)
{
    char etag[32];
    snprintf(etag, sizeof etag, "\"%lld\"", (long long)version);
    return wp_http_add_header(ctx, "ETag", etag);
}

/* ?unit=: NULL when absent (the tenant's lexicon), else a unit in the caller's scope. */
static int unit_of(wp_http_ctx *ctx, const char **unit)
{
    *unit = wp_http_query(ctx, "unit");
    if (*unit && !**unit)
        *unit = NULL;
    return *unit ? api_lexicon_unit_check(ctx, *unit) : 0;
}

/* GET /api/v1/lexicon: the text in force, as text/plain; the ETag is its version. With
 * ?unit=, that org unit's own (lexicons.c). */
int api_lexicon_get(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *unit;
    int64_t version;
    char *text = NULL;
    size_t len;
    int err;

    if ((err = unit_of(ctx, &unit)) < 0)
        return err;
    if (unit)
        return api_unit_lexicon_get(ctx, unit);
    if ((err = wp_ingest_lexicon_get(ingest_of(ctx), &version, &text, &len, c->tenant_id)) < 0)
        return err;
    if ((err = add_version(ctx, version)) < 0) {
        free(text);
        return err;
    }
    return wp_http_reply_bytes(ctx, 200, "text/plain; charset=utf-8", text, len);
}

/* "lexicon:<line>: ..." → line, else 0 */
static long error_line(const char *msg)
{
    if (strncmp(msg, "lexicon:", 8) != 0)
        return 0;
    char *end;
    long line = strtol(msg + 8, &end, 10);
    return end > msg + 8 && *end == ':' && line > 0 ? line : 0;
}

struct lexicon_arg {
    const char *tenant_id;
    int64_t *version;
};

static int lexicon_change(wp_http_ctx *ctx, wp_store *st, void *arg, json_t *details)
{
    struct lexicon_arg *a = arg;
    int err = wp_ingest_lexicon_put(ingest_of(ctx), st, a->version, a->tenant_id, ctx->raw_body,
                                    ctx->raw_body_len);
    if (err == 0)
        err = json_object_set_new(details, "version", json_integer(*a->version)) < 0
                  ? wp_error_set(WP_ENOMEM, "out of memory")
                  : 0;
    return err;
}

static int lexicon_reply(wp_http_ctx *ctx, void *arg)
{
    const struct lexicon_arg *a = arg;
    return ready_versioned(ctx, json_pack("{s:I}", "version", (json_int_t)*a->version),
                           *a->version);
}

/* PUT /api/v1/lexicon, the body being the whole new text: compiled first, live at once. With
 * ?unit=, that org unit's own (lexicons.c). */
int api_lexicon_put(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *unit;
    int64_t version;
    int err;

    if ((err = unit_of(ctx, &unit)) < 0)
        return err;
    if (unit)
        return api_unit_lexicon_put(ctx, unit);

    char sha[65]; /* which text it was, for whoever holds a copy (valid UTF-8: no NUL in it) */
    wp_token_hash(sha, ctx->raw_body);
    struct lexicon_arg a = {c->tenant_id, &version};
    struct change ch = {lexicon_change, lexicon_reply, &a};
    err = audited(ctx, "lexicon.put", &ch,
                  json_pack("{s:I,s:s}", "bytes", (json_int_t)ctx->raw_body_len, "sha256", sha));
    if (err == WP_EINVAL) {
        const char *msg = wp_error_last();
        long line = error_line(msg);
        return wp_http_reply_fail(ctx, 400, "invalid_lexicon",
                                  line ? json_pack("{s:i}", "line", (int)line) : NULL, "%s", msg);
    }
    return err;
}

/* The storage limits of the settings, by their names there (issue 13). */
static const char *const limit_keys[WP_USAGE_KINDS] = {"archive_limit_bytes", "media_limit_bytes",
                                                       "quarantine_limit_bytes"};

/* The insider thresholds are shown to those who handle insider alerts (the audit right:
 * admins and auditors), not to the people they watch. */
static int sees_insider(const wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    enum wp_role role = c->kind == API_CALLER_KEY ? c->key.role : c->employee.role;
    return api_role_allows(role, &c->rs, WP_RIGHT_AUDIT);
}

/* {"version", "settings": {"money_alert_fen", "locations_off_duty", "<kind>_limit_bytes"...,
 * "map_tiles_url", "map_crs", "track_accuracy_m", "track_stop_minutes",
 * "attendance_grace_minutes", and for admins and auditors "insider_unmask_per_hour", "insider_export_per_day"}, "usage": {"<kind>_bytes"...}}:
 * the policy's settings, the storage limits in force and what is used, the insider thresholds,
 * all read on st (a PUT reads them in its transaction: what it answers is what it stored, and
 * nothing fails after its commit). The version is the device policy's (limits and thresholds
 * are not part of it). Caller owns *reply. */
static int settings_read(wp_http_ctx *ctx, wp_store *st, json_t **reply, int64_t *version,
                         const char *tenant_id)
{
    json_t *settings = NULL, *usage = NULL;
    wp_usage u;
    wp_insider_settings is;
    wp_map_settings map;
    wp_field_settings field;
    wp_tenant tenant;
    int err, insider = sees_insider(ctx);

    if ((err = wp_ingest_settings_get(ingest_of(ctx), st, version, &settings, tenant_id)) < 0)
        return err;
    if ((err = wp_store_usage_get(st, &u, tenant_id)) == 0)
        err = wp_store_map_settings_get(st, &map, tenant_id);
    if (err == 0)
        err = wp_store_field_settings_get(st, &field, tenant_id);
    if (err == 0)
        err = wp_store_tenant_get(st, &tenant, tenant_id);
    if (err == 0 && insider)
        err = wp_store_insider_settings_get(st, &is, tenant_id);
    if (err == 0 && !(usage = json_object()))
        err = wp_error_set(WP_ENOMEM, "out of memory");
    for (int k = 0; k < WP_USAGE_KINDS && err == 0; k++) {
        char used[32];
        snprintf(used, sizeof used, "%s_bytes", wp_usage_kind_name((enum wp_usage_kind)k));
        if (json_object_set_new(settings, limit_keys[k], json_integer(u.limit[k])) < 0 ||
            json_object_set_new(usage, used, json_integer(u.used[k])) < 0)
            err = wp_error_set(WP_ENOMEM, "out of memory");
    }
    if (err == 0 &&
        (json_object_set_new(settings, "map_tiles_url", json_string(map.tiles_url)) < 0 ||
         json_object_set_new(settings, "map_crs", json_string(map.gcj02 ? "gcj02" : "wgs84")) < 0 ||
         json_object_set_new(settings, "track_accuracy_m",
                             json_integer(field.track_accuracy_m)) < 0 ||
         json_object_set_new(settings, "track_stop_minutes",
                             json_integer(field.track_stop_minutes)) < 0 ||
         json_object_set_new(settings, "attendance_grace_minutes",
                             json_integer(field.attendance_grace_minutes)) < 0 ||
         /* the operator's (workphone tenant set --max-devices), read-only here; null: none */
         json_object_set_new(settings, "devices_limit",
                             tenant.devices_limit < 0 ? json_null()
                                                      : json_integer(tenant.devices_limit)) < 0 ||
         json_object_set_new(usage, "devices", json_integer(tenant.devices)) < 0))
        err = wp_error_set(WP_ENOMEM, "out of memory");
    if (err == 0 && insider &&
        (json_object_set_new(settings, "insider_unmask_per_hour",
                             json_integer(is.unmask_per_hour)) < 0 ||
         json_object_set_new(settings, "insider_export_per_day",
                             json_integer(is.export_per_day)) < 0))
        err = wp_error_set(WP_ENOMEM, "out of memory");
    if (err == 0) {
        /* "o" takes both, also when packing fails */
        *reply = json_pack("{s:I,s:o,s:o}", "version", (json_int_t)*version, "settings",
                           settings, "usage", usage);
        settings = usage = NULL;
        if (!*reply)
            err = wp_error_set(WP_ENOMEM, "out of memory");
    }
    json_decref(settings);
    json_decref(usage);
    return err;
}

/* 200 with reply (taken) and its version as the ETag. */
static int reply_settings(wp_http_ctx *ctx, json_t *reply, int64_t version)
{
    int err;
    if ((err = add_version(ctx, version)) < 0) {
        json_decref(reply);
        return err;
    }
    return wp_http_reply_json(ctx, 200, reply);
}

/* GET /api/v1/settings: see settings_read(). */
int api_settings_get(wp_http_ctx *ctx)
{
    json_t *reply = NULL;
    wp_store *st = NULL;
    int64_t version = 0;
    int err;
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    err = settings_read(ctx, st, &reply, &version, api_caller_of(ctx)->tenant_id);
    api_store_release(ctx, st);
    return err < 0 ? err : reply_settings(ctx, reply, version);
}

/* PUT /api/v1/settings {"money_alert_fen": N, "<kind>_limit_bytes": N|null,
 * "insider_unmask_per_hour": N, "insider_export_per_day": N, "locations_off_duty": S,
 * "map_tiles_url": S, "map_crs": S, "track_accuracy_m": N, "track_stop_minutes": N,
 * "attendance_grace_minutes": N}: fields left out keep their value; a limit of null goes back to its default. */
/* The field thresholds (field.h) in the order of settings_arg.field. */
static const struct {
    const char *key;
    int min, max;
} field_keys[3] = {
    {"track_accuracy_m", WP_TRACK_ACCURACY_M_MIN, WP_TRACK_ACCURACY_M_MAX},
    {"track_stop_minutes", WP_TRACK_STOP_MINUTES_MIN, WP_TRACK_STOP_MINUTES_MAX},
    {"attendance_grace_minutes", 0, WP_ATTENDANCE_GRACE_MAX},
};

static int is_field_key(const char *key)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(key, field_keys[i].key) == 0)
            return 1;
    return 0;
}

struct settings_arg {
    const char *tenant_id;
    json_t *fen;                    /* NULL: not set */
    json_t *limits[WP_USAGE_KINDS]; /* NULL: not set; JSON null: the default */
    json_t *unmask, *export;        /* NULL: not set */
    json_t *off_duty;               /* NULL: not set; "drop" or "keep" */
    json_t *tiles, *crs;            /* NULL: not set; map_tiles_url, map_crs (checked) */
    json_t *field[3]; /* NULL: not set; field_keys[] (checked) */
    int64_t *version;
    json_t *reply;         /* what the PUT answers, read in its transaction (settings_read) */
    int64_t reply_version; /* and its ETag */
};

/* The insider thresholds given, with their old values in the details as [before, after]. */
static int insider_change(wp_store *st, const struct settings_arg *a, json_t *details)
{
    wp_insider_settings is, before;
    int err;
    if (!a->unmask && !a->export)
        return 0;
    if ((err = wp_store_insider_settings_get(st, &is, a->tenant_id)) < 0)
        return err;
    before = is;
    if (a->unmask)
        is.unmask_per_hour = json_integer_value(a->unmask);
    if (a->export)
        is.export_per_day = json_integer_value(a->export);
    if ((err = wp_store_insider_settings_put(st, a->tenant_id, &is)) < 0)
        return err;
    if ((a->unmask && json_object_set_new(details, "insider_unmask_per_hour",
                                          json_pack("[I,I]", (json_int_t)before.unmask_per_hour,
                                                    (json_int_t)is.unmask_per_hour)) < 0) ||
        (a->export && json_object_set_new(details, "insider_export_per_day",
                                          json_pack("[I,I]", (json_int_t)before.export_per_day,
                                                    (json_int_t)is.export_per_day)) < 0))
        return wp_error_set(WP_ENOMEM, "out of memory");
    return 0;
}

/* The map settings given (the other one keeps its value), with their new values in the
 * details. */
static int map_change(wp_store *st, const struct settings_arg *a, json_t *details)
{
    wp_map_settings m;
    int err;
    if (!a->tiles && !a->crs)
        return 0;
    if ((err = wp_store_map_settings_get(st, &m, a->tenant_id)) < 0)
        return err;
    if (a->tiles) /* checked: at most WP_MAP_TILES_URL_MAX characters, no NUL */
        snprintf(m.tiles_url, sizeof m.tiles_url, "%s", json_string_value(a->tiles));
    if (a->crs)
        m.gcj02 = !strcmp(json_string_value(a->crs), "gcj02");
    if ((err = wp_store_map_settings_put(st, a->tenant_id, &m)) < 0)
        return err;
    if ((a->tiles && json_object_set(details, "map_tiles_url", a->tiles) < 0) ||
        (a->crs && json_object_set(details, "map_crs", a->crs) < 0))
        return wp_error_set(WP_ENOMEM, "out of memory");
    return 0;
}

/* The field thresholds given (the others keep their value), with their new values in the
 * details. */
static int field_change(wp_store *st, const struct settings_arg *a, json_t *details)
{
    wp_field_settings f;
    int *v[3] = {&f.track_accuracy_m, &f.track_stop_minutes, &f.attendance_grace_minutes};
    int err;
    if (!a->field[0] && !a->field[1] && !a->field[2])
        return 0;
    if ((err = wp_store_field_settings_get(st, &f, a->tenant_id)) < 0)
        return err;
    for (int i = 0; i < 3; i++)
        if (a->field[i]) /* checked: in range */
            *v[i] = (int)json_integer_value(a->field[i]);
    if ((err = wp_store_field_settings_put(st, a->tenant_id, &f)) < 0)
        return err;
    for (int i = 0; i < 3; i++)
        if (a->field[i] && json_object_set(details, field_keys[i].key, a->field[i]) < 0)
            return wp_error_set(WP_ENOMEM, "out of memory");
    return 0;
}

static int settings_change(wp_http_ctx *ctx, wp_store *st, void *arg, json_t *details)
{
    struct settings_arg *a = arg;
    int err = insider_change(st, a, details);
    if (err == 0)
        err = map_change(st, a, details);
    if (err == 0)
        err = field_change(st, a, details);
    if (err == 0 && a->fen) {
        err = wp_ingest_money_alert_set(ingest_of(ctx), st, a->version, a->tenant_id,
                                        json_integer_value(a->fen));
        if (err == 0 && (json_object_set_new(details, "version", json_integer(*a->version)) < 0 ||
                         json_object_set(details, "money_alert_fen", a->fen) < 0))
            err = wp_error_set(WP_ENOMEM, "out of memory");
    }
    if (err == 0 && a->off_duty) {
        err = wp_ingest_locations_off_duty_set(ingest_of(ctx), st, a->version, a->tenant_id,
                                               !strcmp(json_string_value(a->off_duty), "keep"));
        if (err == 0 && (json_object_set_new(details, "version", json_integer(*a->version)) < 0 ||
                         json_object_set(details, "locations_off_duty", a->off_duty) < 0))
            err = wp_error_set(WP_ENOMEM, "out of memory");
    }
    for (int k = 0; k < WP_USAGE_KINDS && err == 0; k++) {
        json_t *v = a->limits[k];
        if (!v)
            continue;
        if ((err = wp_store_usage_set_limit(st, a->tenant_id, (enum wp_usage_kind)k,
                                            json_is_null(v) ? -1 : json_integer_value(v))) == 0 &&
            json_object_set(details, limit_keys[k], v) < 0)
            err = wp_error_set(WP_ENOMEM, "out of memory");
    }
    if (err == 0)
        err = settings_read(ctx, st, &a->reply, &a->reply_version, a->tenant_id);
    return err;
}

/* The reply of a PUT: what settings_change read, taken. */
static int settings_reply(wp_http_ctx *ctx, void *arg)
{
    struct settings_arg *a = arg;
    json_t *body = a->reply;
    a->reply = NULL;
    return ready_versioned(ctx, body, a->reply_version);
}

/* body[name] as a whole number in min..max; NULL when absent. */
static int range_field(json_t *body, const char *name, json_int_t min, json_int_t max,
                       json_t **out)
{
    json_t *v = json_object_get(body, name);
    *out = v;
    if (v && (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max))
        return wp_error_set(WP_EINVAL, "'%s' must be a whole number %lld-%lld", name,
                            (long long)min, (long long)max);
    return 0;
}

int api_settings_put(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    json_t *body;
    int64_t version = 0;
    int err;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    struct settings_arg a = {c->tenant_id, NULL, {NULL}, NULL, NULL, NULL, NULL, NULL,
                             {NULL}, &version, NULL, 0};
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        int k = 0;
        while (k < WP_USAGE_KINDS && strcmp(key, limit_keys[k]) != 0)
            k++;
        if (k < WP_USAGE_KINDS) {
            if (!json_is_null(v) && (!json_is_integer(v) || json_integer_value(v) < 0 ||
                                     json_integer_value(v) > WP_USAGE_LIMIT_MAX))
                return wp_error_set(WP_EINVAL,
                                    "'%s' must be a whole number of bytes from 0 to %lld, or"
                                    " null for the default",
                                    key, (long long)WP_USAGE_LIMIT_MAX);
            a.limits[k] = v;
        } else if (strcmp(key, "locations_off_duty") == 0) {
            if (!json_is_string(v) || (strcmp(json_string_value(v), "drop") != 0 &&
                                       strcmp(json_string_value(v), "keep") != 0))
                return wp_error_set(WP_EINVAL, "'locations_off_duty' must be \"drop\" or \"keep\"");
            a.off_duty = v;
        } else if (strcmp(key, "map_tiles_url") == 0) {
            if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
                return wp_error_set(WP_EINVAL, "'map_tiles_url' must be a string");
            if ((err = wp_map_tiles_url_check(json_string_value(v), json_string_length(v))) < 0)
                return err;
            a.tiles = v;
        } else if (strcmp(key, "map_crs") == 0) {
            if (!json_is_string(v) || (strcmp(json_string_value(v), "wgs84") != 0 &&
                                       strcmp(json_string_value(v), "gcj02") != 0))
                return wp_error_set(WP_EINVAL, "'map_crs' must be \"wgs84\" or \"gcj02\"");
            a.crs = v;
        } else if (strcmp(key, "devices_limit") == 0) {
            return wp_error_set(WP_EINVAL, "'devices_limit' is set by the operator of the "
                                           "deployment (workphone tenant set --max-devices), "
                                           "not here");
        } else if (strcmp(key, "money_alert_fen") != 0 &&
                   strcmp(key, "insider_unmask_per_hour") != 0 &&
                   strcmp(key, "insider_export_per_day") != 0 && !is_field_key(key)) {
            return wp_error_set(WP_EINVAL, "unknown setting '%.64s'", key);
        }
    }
    json_t *fen = json_object_get(body, "money_alert_fen");
    if (fen && (!json_is_integer(fen) || json_integer_value(fen) < 0))
        return wp_error_set(WP_EINVAL, "'money_alert_fen' must be a whole number >= 0");
    a.fen = fen;
    if ((err = range_field(body, "insider_unmask_per_hour", 0, WP_INSIDER_MAX, &a.unmask)) < 0 ||
        (err = range_field(body, "insider_export_per_day", 0, WP_INSIDER_MAX, &a.export)) < 0 ||
        (err = range_field(body, field_keys[0].key, field_keys[0].min, field_keys[0].max,
                           &a.field[0])) < 0 ||
        (err = range_field(body, field_keys[1].key, field_keys[1].min, field_keys[1].max,
                           &a.field[1])) < 0 ||
        (err = range_field(body, field_keys[2].key, field_keys[2].min, field_keys[2].max,
                           &a.field[2])) < 0)
        return err;
    /* every accepted PUT is a row, one that set nothing too: the details say what was set */
    struct change ch = {settings_change, settings_reply, &a};
    err = audited(ctx, "settings.put", &ch, json_object());
    json_decref(a.reply); /* NULL once the reply took it */
    return err;
}

/* 422 limit_exceeded naming the limit: {"limit": name, "max": max}. */
static int over_limit(wp_http_ctx *ctx, const char *name, size_t max, const char *what)
{
    return wp_http_reply_fail(ctx, 422, "limit_exceeded",
                              json_pack("{s:s,s:I}", "limit", name, "max", (json_int_t)max),
                              "%s (at most %zu)", what, max);
}

/* The regular expressions of a lexicon: its lines that begin "re:" (CONTRACT §2). */
static size_t regex_entries(const char *lex, size_t len)
{
    size_t n = 0;
    for (const char *p = lex, *end = lex + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if ((size_t)(end - p) >= 3 && !memcmp(p, "re:", 3))
            n++;
        p = nl ? nl + 1 : end;
    }
    return n;
}

/* POST /api/v1/lexicon/check {"text", "lexicon"?}: the verdict a device would get for text,
 * with the tenant's lexicon in force or with a draft one (the console's test box, before a
 * PUT). The same JSON as POST /api/v1/device/check. Nothing is stored. Compiling a draft
 * costs the server CPU and memory in proportion to its regexes, so the route is for those
 * who edit the lexicon (admin) and a draft, its regexes and the text are bounded. */
int api_lexicon_check(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    json_t *body, *reply = NULL;
    int err;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    json_t *lex = json_object_get(body, "lexicon");
    json_t *t = json_object_get(body, "text");
    json_t *unit = json_object_get(body, "unit");
    const char *unit_id = NULL;
    if (json_is_string(t) && json_string_length(t) > API_LEXICON_CHECK_TEXT_MAX)
        return over_limit(ctx, "text_bytes", API_LEXICON_CHECK_TEXT_MAX,
                          "'text' is longer than the test box takes");
    if (unit && !json_is_null(unit)) {
        if (!json_is_string(unit))
            return wp_error_set(WP_EINVAL, "'unit' must be an org unit id");
        unit_id = json_string_value(unit);
        if ((err = api_lexicon_unit_check(ctx, unit_id)) < 0)
            return err == WP_ENOTFOUND ? api_field_error(err, "unit") : err;
    }
    /* a unit's draft stands for its own lexicon: bounded as PUT takes it */
    size_t max = unit_id ? WP_INGEST_UNIT_LEXICON_MAX : API_LEXICON_CHECK_BYTES_MAX;
    if (json_is_string(lex) && json_string_length(lex) > max)
        return over_limit(ctx, "lexicon_bytes", max,
                          "the draft lexicon is larger than PUT /api/v1/lexicon takes");
    if (json_is_string(lex) &&
        regex_entries(json_string_value(lex), json_string_length(lex)) >
            API_LEXICON_CHECK_REGEX_MAX)
        return over_limit(ctx, "regex_entries", API_LEXICON_CHECK_REGEX_MAX,
                          "the draft lexicon has more regular expressions than the test box "
                          "compiles");
    if (unit_id) /* a unit's draft, or the lexicons in force for its phones */
        return api_unit_lexicon_check(ctx, body, unit_id);
    if (!lex || json_is_null(lex)) {
        if ((err = wp_ingest_check(ingest_of(ctx), &reply, c->tenant_id, NULL, NULL, body)) < 0)
            return err;
        return wp_http_reply_json(ctx, 200, reply);
    }
    if (!json_is_string(lex) || !json_is_string(t))
        return wp_error_set(WP_EINVAL, "'text' and 'lexicon' must be strings");
    size_t lex_len = json_string_length(lex), len = json_string_length(t);
    wp_scanner *s = NULL;
    wp_scan_result r;
    wp_buf masked;
    wp_scan_options opts = WP_SCAN_OPTIONS_INIT;
    opts.source_name = "lexicon";
    if ((err = wp_scan_compile(&s, json_string_value(lex), lex_len, &opts)) < 0) {
        if (err != WP_EINVAL)
            return err;
        const char *msg = wp_error_last();
        long line = error_line(msg);
        return wp_http_reply_fail(ctx, 400, "invalid_lexicon",
                                  line ? json_pack("{s:i}", "line", (int)line) : NULL, "%s", msg);
    }
    wp_scan_result_init(&r);
    wp_buf_init(&masked, 4 * WP_ARCHIVE_TEXT_MAX);
    err = wp_scan_verdict(&reply, s, &r, &masked, json_string_value(t), len);
    wp_buf_release(&masked);
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
    if (err < 0)
        return err;
    return wp_http_reply_json(ctx, 200, reply);
}
