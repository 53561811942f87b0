/* SPDX-License-Identifier: MIT */
/* The contact list: each employee's WeCom external contacts made into customers workphone
 * knows, through ingest. */
#include "wecom/wecom_int.h"
#include "ingest/ingest.h"
#include "store/customers.h"
#include "store/wecom.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>

#define MEMBERS_PER_CALL 100 /* userid_list of batch/get_by_user (WeCom's limit) */
#define PAGE_LIMIT 100       /* contacts per page (WeCom's limit) */
#define PAGES_MAX 10000      /* pages of one walk: a million contacts */
#define EVENTS_PER_BATCH 1000

struct counts {
    int64_t contacts, added, named;
};

/* Contacts gathered for the members of one call. */
struct gathered {
    wp_wecom_contact *v;
    size_t n, cap;
};

static int cmp_linked(const void *a, const void *b)
{
    return strcmp(((const wp_wecom_linked *)a)->external_userid,
                  ((const wp_wecom_linked *)b)->external_userid);
}

/* A remark phone the validator takes: 3..20 digits, optional '+', spaces and dashes. */
static int phone_ok(const char *p)
{
    size_t n = strlen(p), digits = 0;
    if (n == 0 || strspn(p, "+0123456789- ") != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        digits += p[i] >= '0' && p[i] <= '9';
    return digits >= 3 && digits <= 20;
}

/* A name without control characters (the validator refuses those). */
static int name_ok(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

static int submit(wp_wecom *w, struct counts *c, const char *tenant_id, const char *employee_id,
                  json_t *events)
{
    json_t *reply = NULL;
    if (json_array_size(events) == 0)
        return 0;
    int err = wp_ingest_source_events(w->o.ingest, &reply, tenant_id, employee_id, "wecom",
                                      events);
    json_decref(reply);
    if (err == WP_EAUTH) /* the employee left meanwhile */
        err = 0;
    else if (err == 0)
        c->added += (int64_t)json_array_size(events);
    json_array_clear(events);
    return err;
}

/* One employee's contacts: the new ones as "added" events, names WeCom knows better. */
static int member(wp_wecom *w, wp_store *st, struct counts *c, const char *tenant_id,
                  const wp_wecom_member *m, const struct gathered *g, int64_t now)
{
    wp_wecom_linked *linked = NULL;
    size_t n_linked = 0;
    json_t *events = json_array();
    int err;

    if (!events)
        return wp_error_set(WP_ENOMEM, "out of memory");
    if ((err = wp_store_wecom_linked(st, &linked, &n_linked, tenant_id, m->employee_id)) < 0)
        goto out;
    if (n_linked)
        qsort(linked, n_linked, sizeof *linked, cmp_linked);
    for (size_t i = 0; i < g->n && err == 0; i++) {
        const wp_wecom_contact *k = &g->v[i];
        wp_wecom_linked key;
        if (strcmp(k->userid, m->userid))
            continue;
        c->contacts++;
        memcpy(key.external_userid, k->external_userid, sizeof key.external_userid);
        wp_wecom_linked *l =
            n_linked ? bsearch(&key, linked, n_linked, sizeof *linked, cmp_linked) : NULL;
        if (l) {
            /* made by a callback, which tells no name: take WeCom's */
            if (!strcmp(l->name, l->external_userid) && k->name[0] && name_ok(k->name)) {
                wp_customer_edit e = {.name = k->name};
                wp_crm_actor who = {.actor = "system", .employee_id = NULL};
                int changed = 0;
                err = wp_store_customer_edit(st, &changed, tenant_id, l->customer_id, &e, &who,
                                             now);
                if (err == WP_EINVAL || err == WP_ENOTFOUND)
                    err = 0; /* a name the store refuses, or a customer merged away */
                c->named += changed > 0;
            }
            continue;
        }
        char ts[40];
        wp_time_format(ts, k->createtime > 0 ? k->createtime * 1000000 : now, 0);
        json_t *peer = json_pack("{s:s}", "id", k->external_userid);
        if (peer && k->name[0] && name_ok(k->name))
            json_object_set_new(peer, "name", json_string(k->name));
        if (peer && phone_ok(k->phone))
            json_object_set_new(peer, "phone", json_string(k->phone));
        json_t *ev = peer ? json_pack("{s:s,s:s,s:s,s:s,s:o}", "type", "contact", "ts", ts,
                                      "channel", "wecom", "action", "added", "peer", peer)
                          : NULL;
        if (!ev || json_array_append_new(events, ev) < 0) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            break;
        }
        if (json_array_size(events) >= EVENTS_PER_BATCH)
            err = submit(w, c, tenant_id, m->employee_id, events);
    }
    if (err == 0)
        err = submit(w, c, tenant_id, m->employee_id, events);
out:
    json_decref(events);
    free(linked);
    return err;
}

/* batch/get_by_user for members[0..n), every page, into g. */
static int gather(wp_wecom *w, struct gathered *g, const char *tenant_id,
                  const wp_wecom_config *cfg, const wp_wecom_member *members, size_t n)
{
    wp_wecom_contact page[PAGE_LIMIT];
    char cursor[256] = "";
    int err = 0;

    for (int p = 0; p < PAGES_MAX && err == 0; p++) {
        json_t *ids = json_array(), *ans = NULL, *body;
        int64_t errcode = 0;
        size_t got = 0;
        for (size_t i = 0; ids && i < n; i++)
            json_array_append_new(ids, json_string(members[i].userid));
        if (!(body = json_pack("{s:o,s:s,s:i}", "userid_list", ids, "cursor", cursor, "limit",
                               PAGE_LIMIT)))
            return wp_error_set(WP_ENOMEM, "out of memory");
        err = wp_wecom_api(w, &ans, &errcode, tenant_id, cfg, "externalcontact/batch/get_by_user",
                           body);
        json_decref(body);
        if (err == 0 && errcode != 0)
            err = wp_error_set(WP_EIO, "wecom: batch/get_by_user: errcode %lld: %.200s",
                               (long long)errcode,
                               json_string_value(json_object_get(ans, "errmsg"))
                                   ? json_string_value(json_object_get(ans, "errmsg"))
                                   : "");
        if (err == 0)
            err = wp_wecom_parse_contacts(page, &got, PAGE_LIMIT, cursor, ans);
        json_decref(ans);
        for (size_t i = 0; i < got && err == 0; i++) {
            if (g->n == g->cap) {
                size_t cap = g->cap ? 2 * g->cap : 256;
                wp_wecom_contact *v = realloc(g->v, cap * sizeof *v);
                if (!v)
                    return wp_error_set(WP_ENOMEM, "out of memory");
                g->v = v;
                g->cap = cap;
            }
            g->v[g->n++] = page[i];
        }
        if (!cursor[0])
            break;
    }
    return err;
}

static int tenant(wp_wecom *w, wp_store *st, struct counts *c, const char *tenant_id, int64_t now)
{
    wp_wecom_config cfg;
    wp_wecom_member *members = NULL;
    size_t n = 0;
    int err;

    if ((err = wp_wecom__config_st(w, st, &cfg, tenant_id)) < 0)
        return err == WP_ENOTFOUND ? 0 : err;
    if (!cfg.contact_secret[0])
        return 0;
    if ((err = wp_store_wecom_members(st, &members, &n, tenant_id)) < 0)
        return err;
    for (size_t i = 0; i < n && err == 0; i += MEMBERS_PER_CALL) {
        size_t k = n - i < MEMBERS_PER_CALL ? n - i : MEMBERS_PER_CALL;
        struct gathered g = {0};
        if ((err = gather(w, &g, tenant_id, &cfg, &members[i], k)) == 0)
            for (size_t j = 0; j < k && err == 0; j++)
                err = member(w, st, c, tenant_id, &members[i + j], &g, now);
        free(g.v);
    }
    free(members);
    memset(&cfg, 0, sizeof cfg);
    return err;
}

int wp_wecom_contacts_run(wp_store *st, void *arg, int64_t now_us, wp_buf *note)
{
    wp_wecom *w = arg;
    char(*tenants)[WP_ID_LEN + 1] = NULL;
    struct counts c = {0};
    size_t n = 0;
    int err, first = 0;

    if ((err = wp_store_wecom_tenants(st, &tenants, &n)) < 0)
        return err;
    for (size_t i = 0; i < n; i++) {
        /* one tenant's failure (its WeCom refusing) does not stop the others */
        if ((err = tenant(w, st, &c, tenants[i], now_us)) < 0 && !first)
            first = err;
        if (err == WP_ENOMEM)
            break;
    }
    free(tenants);
    if (c.contacts || c.added || c.named) {
        wp_log_addf(note, "contacts", "%lld", (long long)c.contacts);
        wp_log_addf(note, "added", "%lld", (long long)c.added);
        wp_log_addf(note, "named", "%lld", (long long)c.named);
    }
    return first;
}
