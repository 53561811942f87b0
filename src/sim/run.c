/* SPDX-License-Identifier: MIT */
/* Driving a sink: create the org tree and the staff, enroll the phones, set up the CRM, then
 * feed every phone's stream day by day, as the phones would have reported while the weeks went
 * by, each day's CRM acts after its events, the leaver's handover on its day and the day's end
 * (the jobs, in process); with threads, several phones at once, as a real fleet reports. */
#include "sim/sim_int.h"
#include "util/error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH_MAX 500 /* events a phone hands its sink at once (the protocol allows 1,000) */
#define THREADS_MAX 256

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
        else if (!strcmp(kind, "geofence"))
            st->alerts_geofence++;
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
    case WP_SIM_CHECKIN:
        st->checkins++;
        st->checkins_in += !strcmp(e->action, "in");
        st->checkins_out += !strcmp(e->action, "out");
        st->visits += !strcmp(e->action, "visit");
        break;
    }
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void count_act(wp_sim_stats *st, const wp_sim_act *a)
{
    st->acts++;
    switch (a->kind) {
    case WP_SIM_ACT_STAGE:
        st->stages++;
        if (!strcmp(a->stage, "deal")) {
            st->deals++;
            st->deal_amount_fen += a->amount_fen;
        }
        break;
    case WP_SIM_ACT_GRADE:
        st->grades++;
        break;
    case WP_SIM_ACT_TAGS:
        st->tagged++;
        break;
    case WP_SIM_ACT_NOTE:
        st->notes++;
        break;
    case WP_SIM_ACT_RELEASE:
        st->released++;
        break;
    case WP_SIM_ACT_CLAIM:
        st->claimed++;
        break;
    }
}

static void add_stats(wp_sim_stats *to, const wp_sim_stats *from)
{
    to->media += from->media;
    to->acts += from->acts;
    to->stages += from->stages;
    to->deals += from->deals;
    to->deal_amount_fen += from->deal_amount_fen;
    to->grades += from->grades;
    to->tagged += from->tagged;
    to->notes += from->notes;
    to->released += from->released;
    to->claimed += from->claimed;
    to->acts_skipped += from->acts_skipped;
    to->events += from->events;
    to->messages += from->messages;
    to->calls += from->calls;
    to->contacts += from->contacts;
    to->locations += from->locations;
    to->checkins += from->checkins;
    to->checkins_in += from->checkins_in;
    to->checkins_out += from->checkins_out;
    to->visits += from->visits;
    to->violations += from->violations;
    to->alerts += from->alerts;
    to->alerts_sensitive += from->alerts_sensitive;
    to->alerts_deleted += from->alerts_deleted;
    to->alerts_blocked += from->alerts_blocked;
    to->alerts_money += from->alerts_money;
    to->alerts_geofence += from->alerts_geofence;
    to->rejected += from->rejected;
}

struct run {
    const wp_sim_company *c;
    const wp_sim_sink *sink;
    char (*unit_ids)[WP_SIM_ID_MAX];
    char (*emp_ids)[WP_SIM_ID_MAX];
    wp_sim_stream **streams;
    void **devs;
    size_t *next, *next_act;
    unsigned char *met; /* per customer: a batch has reported it */
    uint64_t *uploaded; /* per phone: the files of company->media it has sent */
    unsigned day;
    wp_sim_stats *st;
    /* the parallel part: items handed out one at a time, the first error kept */
    pthread_mutex_t mu;
    size_t item, n_items;
    int err;
    char msg[512];
};

/* One employee, one phone or one phone's day; 0 or a WP_E* with wp_error_set. */
typedef int (*item_fn)(struct run *r, size_t i);

static int employee_item(struct run *r, size_t i)
{
    const wp_sim_person *p = &r->c->people[i];
    return r->sink->employee(r->sink->ctx, r->emp_ids[i], r->unit_ids[p->unit], p);
}

static int enroll_item(struct run *r, size_t i)
{
    const wp_sim_person *p = &r->c->people[i];
    int err;
    if (!p->has_device)
        return 0;
    if ((err = wp_sim_stream_new(&r->streams[i], r->c, i)) < 0)
        return err;
    return r->sink->enroll(r->sink->ctx, &r->devs[i], r->emp_ids[i], p->serial, p->model);
}

/* The files events [from, from + n) name that this phone has not sent yet, before them. */
static int upload(struct run *r, size_t i, size_t from, size_t n, wp_sim_stats *st)
{
    const wp_sim_stream *s = r->streams[i];
    int err;
    if (!r->sink->media)
        return 0;
    for (size_t j = from; j < from + n; j++) {
        int m = s->events[j].media;
        if (m < 0 || r->uploaded[i] & (1ull << m))
            continue;
        if ((err = r->sink->media(r->sink->ctx, r->devs[i], &r->c->media[m])) < 0)
            return err;
        r->uploaded[i] |= 1ull << m;
        st->media++;
    }
    return 0;
}

static int day_item(struct run *r, size_t i)
{
    const wp_sim_stream *s = r->streams[i];
    wp_sim_stats mine = {0};
    int err = 0;
    while (s && r->next[i] < s->n && s->events[r->next[i]].day <= r->day) {
        size_t from = r->next[i], n = 0;
        /* a batch ends before a customer the phone has not reported yet: the next one starts
         * with it, so a sink in process meets each new customer at its own time (customers met
         * in one batch would share a created time, and their order, which a handover deals
         * them in, would be the random part of their ids) */
        while (n < BATCH_MAX && from + n < s->n && s->events[from + n].day <= r->day) {
            long k = s->events[from + n].customer;
            if (k >= 0 && !r->met[k]) {
                if (n)
                    break;
                r->met[k] = 1; /* customers are one phone's each: no other thread writes it */
            }
            n++;
        }
        json_t *body = NULL, *reply = NULL;
        if ((err = upload(r, i, from, n, &mine)) < 0 ||
            (err = wp_sim_stream_batch(&body, s, from, n)) < 0)
            break;
        /* a sink in process stores the batch (and meets its new customer) at the time of its
         * first event, plus the event's index in microseconds: two customers met in the same
         * second are still met one after the other */
        err = r->sink->events(r->sink->ctx, r->devs[i], body,
                              s->events[from].ts_us + (int64_t)(from % 1000000), &reply);
        json_decref(body);
        if (err < 0)
            break;
        for (size_t j = 0; j < n; j++)
            count_sent(&mine, &s->events[from + j]);
        count_reply(&mine, reply);
        json_decref(reply);
        r->next[i] += n;
    }
    pthread_mutex_lock(&r->mu);
    add_stats(r->st, &mine);
    pthread_mutex_unlock(&r->mu);
    return err;
}

/* The day's CRM acts on phone i's customers. */
static int acts_item(struct run *r, size_t i)
{
    const wp_sim_stream *s = r->streams[i];
    wp_sim_stats mine = {0};
    wp_sim_act_call calls[256];
    int err = 0;
    if (!s || !r->sink->acts)
        return 0;
    while (err == 0 && r->next_act[i] < s->n_acts && s->acts[r->next_act[i]].day <= r->day) {
        size_t n = 0;
        for (; n < 256 && r->next_act[i] < s->n_acts && s->acts[r->next_act[i]].day <= r->day;
             n++) {
            const wp_sim_act *a = &s->acts[r->next_act[i]++];
            calls[n].act = a;
            calls[n].customer = &r->c->customers[a->customer];
            calls[n].employee_id = a->by >= 0 ? r->emp_ids[a->by] : "";
            count_act(&mine, a);
        }
        err = r->sink->acts(r->sink->ctx, calls, n, &mine);
    }
    pthread_mutex_lock(&r->mu);
    add_stats(r->st, &mine);
    pthread_mutex_unlock(&r->mu);
    return err;
}

/* The end of day r->day: the leaver's handover on its day, then the day's end for the sink. */
static int day_end(struct run *r)
{
    const wp_sim_company *c = r->c;
    int64_t end = c->start_us + (int64_t)(r->day + 1) * WP_SIM__DAY_US - WP_SIM__MIN_US;
    int err;
    if (end >= c->cfg.end_us)
        end = c->cfg.end_us - 1;
    if (c->leaver >= 0 && r->day == c->leave_day && r->sink->handover &&
        c->leave_us < c->cfg.end_us) {
        const char *to[2];
        for (size_t k = 0; k < c->n_successors; k++)
            to[k] = r->emp_ids[c->successors[k]];
        if ((err = r->sink->handover(r->sink->ctx, r->emp_ids[c->leaver], to, c->n_successors,
                                     c->leave_us)) < 0)
            return err;
        r->st->handovers++;
    }
    return r->sink->day_end ? r->sink->day_end(r->sink->ctx, r->day, end) : 0;
}

struct worker {
    struct run *r;
    item_fn fn;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct run *r = w->r;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        size_t i = r->item++;
        int stop = r->err < 0 || i >= r->n_items;
        pthread_mutex_unlock(&r->mu);
        if (stop)
            break;
        int err = w->fn(r, i);
        if (err < 0) {
            /* the message is thread-local: keep a copy for the caller's thread */
            pthread_mutex_lock(&r->mu);
            if (r->err == 0) {
                r->err = err;
                snprintf(r->msg, sizeof r->msg, "%s", wp_error_last());
            }
            pthread_mutex_unlock(&r->mu);
        }
    }
    return NULL;
}

/* fn for items 0..n-1, on threads threads (the calling one among them). */
static int each(struct run *r, size_t n, unsigned threads, item_fn fn)
{
    pthread_t tid[THREADS_MAX];
    struct worker w = {r, fn};
    unsigned started = 0;
    r->item = 0;
    r->n_items = n;
    r->err = 0;
    for (; started + 1 < threads && started + 1 < n; started++)
        if (pthread_create(&tid[started], NULL, work, &w) != 0)
            break; /* fewer threads do the same work */
    work(&w);
    for (unsigned t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    if (r->err < 0)
        return wp_error_set(r->err, "%s", r->msg);
    return 0;
}

int wp_sim_run(wp_sim_stats *st, const wp_sim_company *c, const char *top_id,
               const wp_sim_sink *sink, const wp_sim_run_options *opts)
{
    static const wp_sim_run_options defaults = WP_SIM_RUN_OPTIONS_INIT;
    struct run r = {.c = c, .sink = sink, .st = st};
    int err = 0;
    if (!opts)
        opts = &defaults;
    unsigned threads = opts->threads ? opts->threads : 1;
    memset(st, 0, sizeof *st);
    if (threads > THREADS_MAX)
        return wp_error_set(WP_EINVAL, "simulation threads must be 1-%d, not %u", THREADS_MAX,
                            threads);
    if (c->n_media > 64) /* what a phone has sent is a bit each */
        return wp_error_set(WP_EINVAL, "more than 64 media files");
    if (pthread_mutex_init(&r.mu, NULL) != 0)
        return wp_error_set(WP_ENOMEM, "cannot make a mutex");
    r.unit_ids = calloc(c->n_units, sizeof *r.unit_ids);
    r.emp_ids = calloc(c->n_people, sizeof *r.emp_ids);
    r.streams = calloc(c->n_people, sizeof *r.streams);
    r.devs = calloc(c->n_people, sizeof *r.devs);
    r.next = calloc(c->n_people, sizeof *r.next);
    r.next_act = calloc(c->n_people, sizeof *r.next_act);
    r.uploaded = calloc(c->n_people, sizeof *r.uploaded);
    r.met = calloc(c->n_customers ? c->n_customers : 1, 1);
    if (!r.unit_ids || !r.emp_ids || !r.streams || !r.devs || !r.next || !r.next_act ||
        !r.uploaded || !r.met) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(r.unit_ids[0], WP_SIM_ID_MAX, "%s", top_id);
    /* a unit needs its parent's id: one after the other, in plan order */
    for (size_t i = 1; i < c->n_units; i++, st->units++)
        if ((err = sink->org_unit(sink->ctx, r.unit_ids[i], r.unit_ids[c->units[i].parent],
                                  c->units[i].name, c->units[i].kind)) < 0)
            goto out;
    /* a fence around each store with field staff, in force from the period's start */
    for (size_t i = 1; sink->geofence && i < c->n_units; i++) {
        const wp_sim_unit *u = &c->units[i];
        char name[WP_SIM_ID_MAX + 64];
        if (!u->fence_radius_m)
            continue;
        snprintf(name, sizeof name, "%s外勤范围", u->name);
        if ((err = sink->geofence(sink->ctx, r.unit_ids[i], name, u->lat, u->lon,
                                  u->fence_radius_m, c->start_us)) < 0)
            goto out;
        st->geofences++;
    }
    if ((err = each(&r, c->n_people, threads, employee_item)) < 0)
        goto out;
    st->employees = c->n_people;
    if ((err = each(&r, c->n_people, threads, enroll_item)) < 0)
        goto out;
    for (size_t i = 0; i < c->n_people; i++)
        st->devices += r.devs[i] != NULL;
    if (sink->crm_setup && (err = sink->crm_setup(sink->ctx, wp_sim_crm_vocabulary(), c->start_us)) < 0)
        goto out;

    if (opts->progress && (err = opts->progress(opts->progress_ctx, st, 0, c->days)) < 0)
        goto out;
    for (r.day = 0; r.day < c->days; r.day++) {
        if ((err = each(&r, c->n_people, threads, day_item)) < 0)
            goto out;
        /* the CRM's work of the day, timed apart: simulate's events/s is the phones' */
        int64_t t0 = mono_us();
        err = each(&r, c->n_people, threads, acts_item);
        st->acts_us += mono_us() - t0;
        if (err < 0 || (err = day_end(&r)) < 0)
            goto out;
        if (opts->progress &&
            (err = opts->progress(opts->progress_ctx, st, r.day + 1, c->days)) < 0)
            goto out;
    }
out:
    for (size_t i = 0; r.devs && r.streams && i < c->n_people; i++) {
        if (r.devs[i])
            sink->device_free(sink->ctx, r.devs[i]);
        wp_sim_stream_free(r.streams[i]);
    }
    free(r.unit_ids);
    free(r.emp_ids);
    free(r.streams);
    free(r.devs);
    free(r.next);
    free(r.next_act);
    free(r.uploaded);
    free(r.met);
    pthread_mutex_destroy(&r.mu);
    return err;
}
