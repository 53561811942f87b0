/* SPDX-License-Identifier: MIT */
/* The in-process sink (local.h): the store's operations and src/ingest, no HTTP. */
#include "sim/local.h"
#include "store/devices.h"
#include "store/org.h"
#include "store/people.h"
#include "store/pool.h"
#include "store/store.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int events(void *ctx, void *dev, const json_t *body, json_t **reply)
{
    wp_sim_local *l = ctx;
    return wp_ingest_events(l->ing, reply, dev, body);
}

static void device_free(void *ctx, void *dev)
{
    free(dev);
}

void wp_sim_local_sink(wp_sim_sink *out, wp_sim_local *l)
{
    memset(out, 0, sizeof *out);
    out->ctx = l;
    out->org_unit = org_unit;
    out->employee = employee;
    out->enroll = enroll;
    out->events = events;
    out->device_free = device_free;
}
