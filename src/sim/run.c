/* SPDX-License-Identifier: MIT */
/* Driving a sink: create the org tree and the staff, enroll the phones, then feed every phone's
 * stream day by day, as the phones would have reported while the weeks went by. */
#include "sim/sim_int.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_MAX 500 /* events a phone sends at once (the protocol allows 1,000) */

static void count_reply(wp_sim_stats *st, const json_t *reply)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(reply, "alerts"), i, a)
    {
        const char *kind = json_string_value(json_object_get(a, "kind"));
        st->alerts++;
        if (!kind)
            continue;
        if (!strcmp(kind, "sensitive_word"))
            st->alerts_sensitive++;
        else if (!strcmp(kind, "customer_deleted"))
            st->alerts_deleted++;
        else if (!strcmp(kind, "customer_blocked"))
            st->alerts_blocked++;
        else if (!strcmp(kind, "money"))
            st->alerts_money++;
    }
    st->rejected += json_array_size(json_object_get(reply, "rejected"));
}

static void count_sent(wp_sim_stats *st, const wp_sim_event *e)
{
    st->events++;
    switch (e->type) {
    case WP_SIM_MESSAGE:
        st->messages++;
        st->violations += e->violation != NULL;
        break;
    case WP_SIM_CALL:
        st->calls++;
        break;
    case WP_SIM_CONTACT:
        st->contacts++;
        break;
    case WP_SIM_LOCATION:
        st->locations++;
        break;
    }
}

int wp_sim_run(wp_sim_stats *st, const wp_sim_company *c, const char *top_id,
               const wp_sim_sink *sink, wp_sim_progress_fn progress, void *progress_ctx)
{
    char(*unit_ids)[WP_SIM_ID_MAX] = calloc(c->n_units, sizeof *unit_ids);
    char(*emp_ids)[WP_SIM_ID_MAX] = calloc(c->n_people, sizeof *emp_ids);
    wp_sim_stream **streams = calloc(c->n_people, sizeof *streams);
    void **devs = calloc(c->n_people, sizeof *devs);
    size_t *next = calloc(c->n_people, sizeof *next);
    int err = 0;

    memset(st, 0, sizeof *st);
    if (!unit_ids || !emp_ids || !streams || !devs || !next) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(unit_ids[0], WP_SIM_ID_MAX, "%s", top_id);
    for (size_t i = 1; i < c->n_units; i++, st->units++)
        if ((err = sink->org_unit(sink->ctx, unit_ids[i], unit_ids[c->units[i].parent],
                                  c->units[i].name, c->units[i].kind)) < 0)
            goto out;
    for (size_t i = 0; i < c->n_people; i++, st->employees++)
        if ((err = sink->employee(sink->ctx, emp_ids[i], unit_ids[c->people[i].unit],
                                  &c->people[i])) < 0)
            goto out;
    for (size_t i = 0; i < c->n_people; i++) {
        const wp_sim_person *p = &c->people[i];
        if (!p->has_device)
            continue;
        if ((err = wp_sim_stream_new(&streams[i], c, i)) < 0 ||
            (err = sink->enroll(sink->ctx, &devs[i], emp_ids[i], p->serial, p->model)) < 0)
            goto out;
        st->devices++;
    }

    for (unsigned day = 0; day < c->days; day++) {
        for (size_t i = 0; i < c->n_people; i++) {
            const wp_sim_stream *s = streams[i];
            while (s && next[i] < s->n && s->events[next[i]].day <= day) {
                size_t n = 0;
                while (n < BATCH_MAX && next[i] + n < s->n && s->events[next[i] + n].day <= day)
                    n++;
                json_t *body = NULL, *reply = NULL;
                if ((err = wp_sim_stream_batch(&body, s, next[i], n)) < 0)
                    goto out;
                err = sink->events(sink->ctx, devs[i], body, &reply);
                json_decref(body);
                if (err < 0)
                    goto out;
                for (size_t j = 0; j < n; j++)
                    count_sent(st, &s->events[next[i] + j]);
                count_reply(st, reply);
                json_decref(reply);
                next[i] += n;
            }
        }
        if (progress && (err = progress(progress_ctx, st, day + 1, c->days)) < 0)
            goto out;
    }
out:
    for (size_t i = 0; devs && streams && i < c->n_people; i++) {
        if (devs[i])
            sink->device_free(sink->ctx, devs[i]);
        wp_sim_stream_free(streams[i]);
    }
    free(unit_ids);
    free(emp_ids);
    free(streams);
    free(devs);
    free(next);
    return err;
}
