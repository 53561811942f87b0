/* SPDX-License-Identifier: MIT */
/* The in-process sink (local.h): the store's operations and src/ingest, no HTTP. */
#include "sim/local.h"
#include "store/customers.h"
#include "store/devices.h"
#include "store/geofence.h"
#include "store/handovers.h"
#include "store/org.h"
#include "store/people.h"
#include "store/pool.h"
#include "store/rules.h"
#include "store/store.h"
#include "store/tags.h"
#include "util/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wp_sim_local_tag {
    const char *name; /* borrowed from the vocabulary */
    char id[WP_ID_LEN + 1];
};

struct wp_sim_local_customer {
    char phone[12];
    char id[WP_ID_LEN + 1];
};

static int org_unit(void *ctx, char out_id[WP_SIM_ID_MAX], const char *parent_id,
                    const char *name, const char *kind)
{
    wp_sim_local *l = ctx;
    wp_store *st = NULL;
    enum wp_org_kind k;
    wp_org_unit u;
    int err;
    if ((err = wp_org_kind_parse(&k, kind)) < 0 ||
        (err = wp_store_connpool_acquire(l->pool, &st)) < 0)
        return err;
    if ((err = wp_store_org_unit_create(st, &u, l->tenant_id, parent_id, name, k)) == 0)
        snprintf(out_id, WP_SIM_ID_MAX, "%s", u.id);
    wp_store_connpool_release(l->pool, st);
    return err;
}

static int employee(void *ctx, char out_id[WP_SIM_ID_MAX], const char *org_unit_id,
                    const wp_sim_person *p)
{
    wp_sim_local *l = ctx;
    wp_store *st = NULL;
    enum wp_role role;
    wp_employee e;
    int err;
    if ((err = wp_role_parse(&role, p->role)) < 0 ||
        (err = wp_store_connpool_acquire(l->pool, &st)) < 0)
        return err;
    if ((err = wp_store_employee_create(st, &e, l->tenant_id, org_unit_id, p->name, p->username,
                                        role, l->password_hash)) == 0)
        snprintf(out_id, WP_SIM_ID_MAX, "%s", e.id);
    wp_store_connpool_release(l->pool, st);
    return err;
}

static int enroll(void *ctx, void **out_dev, const char *employee_id, const char *serial,
                  const char *model)
{
    wp_sim_local *l = ctx;
    char code[WP_ENROLL_CODE_MAX], token[WP_DEVICE_TOKEN_MAX];
    wp_device ed;
    wp_device *dev = malloc(sizeof *dev);
    int err;
    if (!dev)
        return wp_error_set(WP_ENOMEM, "out of memory");
    /* the code and the token take the same path as on a real phone, then the token is gone */
    if ((err = wp_ingest_enrollment_code_create(l->ing, NULL, code, l->tenant_id, employee_id, 0)) < 0 ||
        (err = wp_ingest_enroll(l->ing, NULL, &ed, token, code, serial, model)) < 0 ||
        (err = wp_ingest_device_auth(l->ing, dev, token)) < 0) {
        free(dev);
        dev = NULL;
    }
    explicit_bzero(token, sizeof token);
    *out_dev = dev;
    return err;
}

static int events(void *ctx, void *dev, const json_t *body, int64_t at_us, json_t **reply)
{
    wp_sim_local *l = ctx;
    return wp_ingest_events_at(l->ing, reply, dev, body, at_us);
}

static void device_free(void *ctx, void *dev)
{
    free(dev);
}

static int media(void *ctx, void *dev, const wp_sim_media *m)
{
    wp_sim_local *l = ctx;
    const wp_device *d = dev;
    int created;
    return wp_ingest_media_put(l->ing, &created, l->tenant_id, d->id, m->ref, m->bytes, m->len);
}

static int geofence(void *ctx, const char *org_unit_id, const char *name, double lat, double lon,
                    unsigned radius_m, int64_t at_us)
{
    wp_sim_local *l = ctx;
    wp_store *st = NULL;
    wp_geofence f = {0};
    int err;
    snprintf(f.org_unit_id, sizeof f.org_unit_id, "%s", org_unit_id);
    snprintf(f.name, sizeof f.name, "%s", name);
    f.lat_e7 = llround(lat * 1e7);
    f.lon_e7 = llround(lon * 1e7);
    f.radius_m = radius_m;
    if ((err = wp_store_connpool_acquire(l->pool, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) == 0) {
        if ((err = wp_store_geofence_create(st, l->tenant_id, &f, at_us)) == 0)
            err = wp_store_commit(st);
        else
            wp_store_rollback(st);
    }
    wp_store_connpool_release(l->pool, st);
    wp_geofence_release(&f);
    return err;
}

/* --- the CRM ------------------------------------------------------------------------------------ */

static const char *tag_id(const wp_sim_local *l, const char *name)
{
    for (size_t i = 0; name && i < l->n_tags; i++)
        if (!strcmp(l->tags[i].name, name))
            return l->tags[i].id;
    return NULL;
}

/* A tag group or tag by name, made unless the tenant has it already. */
static int tag_make(wp_store *st, wp_tag *out, const char *tenant_id, int group,
                    const char *group_id, const char *name, const char *color, int64_t at_us)
{
    int err = wp_store_tag_create(st, out, tenant_id, group, group_id, name, color, at_us);
    if (err != WP_EEXISTS)
        return err;
    wp_tag *v = NULL;
    size_t n = 0;
    if ((err = wp_store_tags_list(st, &v, &n, tenant_id, group, group ? NULL : group_id)) < 0)
        return err;
    err = wp_error_set(WP_EIO, "tag '%s' exists and cannot be found", name);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].name, name)) {
            *out = v[i];
            err = 0;
            break;
        }
    free(v);
    return err;
}

static int crm_setup(void *ctx, const wp_sim_crm *crm, int64_t at_us)
{
    wp_sim_local *l = ctx;
    wp_store *st = NULL;
    wp_sop_rule *sops = NULL;
    wp_grade_rule *grs = NULL;
    size_t n_sops = 0, n_grs = 0;
    int err;
    /* a sink used again for another company starts afresh */
    free(l->tags);
    free(l->customers);
    l->customers = NULL;
    l->n_tags = l->n_customers = l->cap_customers = 0;
    if (!(l->tags = calloc(crm->n_tags, sizeof *l->tags)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    if ((err = wp_store_connpool_acquire(l->pool, &st)) < 0)
        return err;
    for (size_t i = 0; i < crm->n_tags && err == 0; i++) {
        const wp_sim_tag *t = &crm->tags[i];
        wp_tag made;
        if ((err = tag_make(st, &made, l->tenant_id, !t->group, tag_id(l, t->group), t->name,
                            t->color, at_us)) == 0) {
            l->tags[l->n_tags].name = t->name;
            memcpy(l->tags[l->n_tags++].id, made.id, sizeof made.id);
        }
    }
    /* rules the tenant has already stay as they are: a second company adds none */
    if (err == 0 && (err = wp_store_sop_rules_list(st, &sops, &n_sops, l->tenant_id)) == 0 &&
        (err = wp_store_grade_rules_list(st, &grs, &n_grs, l->tenant_id)) == 0) {
        for (size_t i = 0; i < crm->n_sop_rules && !n_sops && err == 0; i++) {
            const wp_sim_sop_rule *x = &crm->sop_rules[i];
            wp_sop_rule r = {.interval_h = x->interval_hours, .grace_h = x->grace_hours, .active = 1};
            snprintf(r.name, sizeof r.name, "%s", x->name);
            snprintf(r.grade, sizeof r.grade, "%s", x->grade ? x->grade : "");
            snprintf(r.stage, sizeof r.stage, "%s", x->stage ? x->stage : "");
            err = wp_store_sop_rule_put(st, &r, l->tenant_id, 1, at_us);
        }
        for (size_t i = 0; i < crm->n_grade_rules && !n_grs && err == 0; i++) {
            const wp_sim_grade_rule *x = &crm->grade_rules[i];
            wp_grade_rule r = {.position = (int)i + 1,
                               .min_messages = x->min_messages,
                               .messages_days = x->messages_days,
                               .contact_within_days = x->contact_within_days,
                               .no_contact_days = x->no_contact_days,
                               .active = 1};
            snprintf(r.grade, sizeof r.grade, "%s", x->grade);
            snprintf(r.stage, sizeof r.stage, "%s", x->stage ? x->stage : "");
            snprintf(r.tag_id, sizeof r.tag_id, "%s", x->tag ? tag_id(l, x->tag) : "");
            err = wp_store_grade_rule_put(st, &r, l->tenant_id, 1, at_us);
        }
    }
    if (err == 0) {
        wp_crm_settings cs = {crm->claim_daily_max, crm->cooldown_days,
                              crm->reclaim_inactive_days, 0};
        err = wp_store_crm_settings_put(st, l->tenant_id, &cs, at_us);
    }
    free(sops);
    free(grs);
    wp_store_connpool_release(l->pool, st);
    return err;
}

/* The customer with this phone number, as the phones' events made it; "" when none. Found
 * once, then remembered: a customer in the pool is not in the list any more. */
static int customer_id(wp_sim_local *l, wp_store *st, char out[WP_ID_LEN + 1], const char *phone)
{
    int err = 0;
    out[0] = '\0';
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->n_customers && !out[0]; i++)
        if (!strcmp(l->customers[i].phone, phone))
            memcpy(out, l->customers[i].id, WP_ID_LEN + 1);
    pthread_mutex_unlock(&l->mu);
    if (out[0])
        return 0;
    wp_customer_page page;
    wp_customer_filter f = {.tenant_id = l->tenant_id, .q = phone, .limit = 2};
    if ((err = wp_store_customers_list(st, &page, &f)) < 0)
        return err;
    for (size_t i = 0; i < page.n && !out[0]; i++)
        if (!strcmp(page.items[i].phone, phone))
            memcpy(out, page.items[i].id, WP_ID_LEN + 1);
    wp_customer_page_release(&page);
    if (!out[0])
        return 0;
    pthread_mutex_lock(&l->mu);
    if (l->n_customers == l->cap_customers) {
        size_t cap = l->cap_customers ? l->cap_customers * 2 : 256;
        struct wp_sim_local_customer *v = realloc(l->customers, cap * sizeof *v);
        if (!v)
            err = wp_error_set(WP_ENOMEM, "out of memory");
        else
            l->customers = v, l->cap_customers = cap;
    }
    if (err == 0) {
        snprintf(l->customers[l->n_customers].phone, sizeof l->customers->phone, "%s", phone);
        memcpy(l->customers[l->n_customers++].id, out, WP_ID_LEN + 1);
    }
    pthread_mutex_unlock(&l->mu);
    return err;
}

/* One act, in the caller's transaction. WP_EBUSY, WP_ELIMIT: the store refused it for the state
 * it found (the caller skips it). */
static int one_act(wp_sim_local *l, wp_store *st, const wp_sim_act_call *call, const char *id)
{
    const wp_sim_act *a = call->act;
    char actor[WP_ID_LEN + 16], owner[WP_ID_LEN + 1];
    const char *emp = call->employee_id;
    int err;
    if (!emp[0]) { /* the owner at the time: a successor after a handover */
        wp_customer cu;
        if ((err = wp_store_customer_get(st, &cu, l->tenant_id, id)) < 0)
            return err;
        memcpy(owner, cu.owner_employee_id, sizeof owner);
        emp = owner;
    }
    snprintf(actor, sizeof actor, "employee:%s", emp);
    wp_crm_actor who = {actor, emp};
    switch (a->kind) {
    case WP_SIM_ACT_STAGE: {
        wp_customer_edit e = {.stage = a->stage};
        if (!strcmp(a->stage, "deal"))
            e.deal_amount_set = 1, e.deal_amount_fen = a->amount_fen;
        return wp_store_customer_edit(st, NULL, l->tenant_id, id, &e, &who, a->ts_us);
    }
    case WP_SIM_ACT_GRADE: {
        wp_customer_edit e = {.grade = a->grade};
        return wp_store_customer_edit(st, NULL, l->tenant_id, id, &e, &who, a->ts_us);
    }
    case WP_SIM_ACT_TAGS: {
        const char *add[WP_SIM_ACT_TAGS_MAX];
        size_t n = 0;
        for (size_t i = 0; i < a->n_tags; i++)
            if ((add[n] = tag_id(l, a->tags[i])))
                n++;
        return n ? wp_store_customer_tags_change(st, NULL, l->tenant_id, id, 0, NULL, 0, add, n,
                                                 NULL, 0, &who, a->ts_us)
                 : 0;
    }
    case WP_SIM_ACT_NOTE:
        return wp_store_customer_follow_up(st, NULL, l->tenant_id, id, a->text, &who, a->ts_us);
    case WP_SIM_ACT_RELEASE: {
        wp_pool_move m = {.tenant_id = l->tenant_id, .customer_id = id, .reason = "manual",
                          .note = a->text, .who = who, .now_us = a->ts_us};
        return wp_store_pool_release(st, &m);
    }
    case WP_SIM_ACT_CLAIM: {
        wp_pool_move m = {.tenant_id = l->tenant_id, .customer_id = id, .employee_id = emp,
                          .claim = 1, .who = who, .now_us = a->ts_us};
        if ((err = wp_store_pool_take(st, &m)) == 0 && a->text)
            err = wp_store_customer_follow_up(st, NULL, l->tenant_id, id, a->text, &who,
                                              a->ts_us + 60 * 1000000ll);
        return err;
    }
    }
    return 0;
}

static int acts(void *ctx, const wp_sim_act_call *v, size_t n, wp_sim_stats *stats)
{
    wp_sim_local *l = ctx;
    wp_store *st = NULL;
    char id[WP_ID_LEN + 1];
    int err;
    if ((err = wp_store_connpool_acquire(l->pool, &st)) < 0)
        return err;
    if ((err = wp_store_begin(st)) < 0)
        goto out;
    for (size_t i = 0; i < n && err == 0; i++) {
        if ((err = customer_id(l, st, id, v[i].customer->phone)) < 0)
            break;
        if (!id[0]) { /* not met (its events fell past the end): nothing to record */
            stats->acts_skipped++;
            continue;
        }
        err = one_act(l, st, &v[i], id);
        if (err == WP_EBUSY || err == WP_ELIMIT || err == WP_ENOTFOUND) {
            stats->acts_skipped++; /* the state moved on (the job pooled it first, ...) */
            err = 0;
        }
    }
    if (err == 0)
        err = wp_store_commit(st);
    else
        wp_store_rollback(st);
out:
    wp_store_connpool_release(l->pool, st);
    return err;
}

static int handover(void *ctx, const char *from_id, const char *const *to_ids, size_t n_to,
                    int64_t at_us)
{
    wp_sim_local *l = ctx;
    wp_store *st = NULL;
    wp_handover h;
    int replayed, err;
    if ((err = wp_store_connpool_acquire(l->pool, &st)) < 0)
        return err;
    /* the leaver's store manager (or an admin) does it in the console; the store's record is
     * the same either way: system here */
    wp_handover_request r = {.tenant_id = l->tenant_id, .from_employee_id = from_id,
                             .to_employee_ids = to_ids, .n_to = n_to, .departure = 1,
                             .who = {"system", NULL}, .now_us = at_us};
    err = wp_store_handover_run(st, &h, &replayed, &r);
    wp_store_connpool_release(l->pool, st);
    return err;
}

static int day_end(void *ctx, unsigned day, int64_t at_us)
{
    wp_sim_local *l = ctx;
    wp_store *st = NULL;
    wp_reclaim_result rc = {0, 0};
    wp_rules_result rr;
    int err;
    if (!l->audit_key)
        return 0;
    memset(&rr, 0, sizeof rr);
    if ((err = wp_store_connpool_acquire(l->pool, &st)) < 0)
        return err;
    if ((err = wp_store_pool_reclaim(st, &rc, l->audit_key, at_us)) == 0)
        err = wp_store_crm_rules_run(st, &rr, l->audit_key, at_us);
    wp_store_connpool_release(l->pool, st);
    return err;
}

void wp_sim_local_sink(wp_sim_sink *out, wp_sim_local *l)
{
    memset(out, 0, sizeof *out);
    if (!l->mu_init && pthread_mutex_init(&l->mu, NULL) == 0)
        l->mu_init = 1;
    out->ctx = l;
    out->org_unit = org_unit;
    out->employee = employee;
    out->enroll = enroll;
    out->events = events;
    out->device_free = device_free;
    out->media = media;
    out->geofence = geofence;
    out->crm_setup = crm_setup;
    out->acts = acts;
    out->handover = handover;
    out->day_end = day_end;
}

void wp_sim_local_release(wp_sim_local *l)
{
    if (!l)
        return;
    free(l->tags);
    free(l->customers);
    l->tags = NULL;
    l->customers = NULL;
    l->n_tags = l->n_customers = l->cap_customers = 0;
    if (l->mu_init)
        pthread_mutex_destroy(&l->mu);
    l->mu_init = 0;
}
