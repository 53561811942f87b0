/* SPDX-License-Identifier: MIT */
/* What the CRM handlers share: the caller as a CRM actor, and customers and tags as JSON. */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>

void api_crm_actor(const wp_http_ctx *ctx, wp_crm_actor *out, char buf[64])
{
    const api_caller *c = api_caller_of(ctx);
    out->employee_id = NULL;
    if (c && c->kind == API_CALLER_EMPLOYEE) {
        snprintf(buf, 64, "employee:%s", c->employee.id);
        out->employee_id = c->employee.id;
    } else if (c && c->kind == API_CALLER_KEY) {
        snprintf(buf, 64, "apikey:%s", c->key.id);
    } else {
        snprintf(buf, 64, "system");
    }
    out->actor = buf;
}

json_t *api_crm_customer_json(const wp_customer_crm *c, const api_scope *scope)
{
    (void)scope; /* personal data is masked at the reply boundary (src/api/view.c) */
    const char *phone = c->base.phone;
    json_t *amount = c->deal_amount_fen < 0 ? json_null() : json_integer(c->deal_amount_fen);
    return json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:b,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id",
                     c->base.id, "name", api_jstr(c->base.name, 0), "phone", api_jstr(phone, 1),
                     "company", api_jstr(c->company, 1), "owner_employee_id",
                     api_jstr(c->in_pool ? NULL : c->base.owner_employee_id, 1),
                     "previous_owner_employee_id",
                     api_jstr(c->in_pool ? c->base.owner_employee_id : NULL, 1), "grade",
                     api_jstr(c->base.grade, 1), "in_pool", c->in_pool, "pool_reason",
                     api_jstr(c->pool_reason, 1), "pooled_at", api_jtime(c->pooled_us), "stage",
                     api_jstr(c->base.stage, 1), "stage_at", api_jtime(c->stage_us),
                     "last_contact_at", api_jtime(c->base.last_contact_us), "last_follow_up_at",
                     api_jtime(c->last_follow_up_us), "deal_amount_fen", amount);
}

json_t *api_tags_json(const wp_tag *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_pack("{s:s,s:o,s:s}", "id", v[i].id, "name",
                                               api_jstr(v[i].name, 0), "color", v[i].color)) < 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

json_t *api_customer_tags_json(wp_store *st, const char *tenant_id, const char *customer_id)
{
    wp_tag *v = NULL;
    size_t n = 0;
    json_t *a;
    if (wp_store_customer_tags(st, &v, &n, tenant_id, customer_id) < 0)
        return NULL;
    a = api_tags_json(v, n);
    free(v);
    return a;
}
