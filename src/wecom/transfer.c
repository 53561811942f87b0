/* SPDX-License-Identifier: MIT */
/* A handover made real in WeCom: send the pending transfers, ask about the waiting ones. */
#include "wecom/wecom_int.h"
#include "store/wecom.h"
#include "util/error.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUE_MAX 1000        /* rows looked at in one run */
#define ATTEMPTS_MAX 8      /* sends that failed before workphone gives up on a row */
#define RETRY_BASE_S 60     /* the wait after a failed send, doubled each time */
#define RETRY_MAX_S (6 * 3600)
#define RESULT_PAGES_MAX 50 /* pages of one transfer_result walk */

struct counts {
    int64_t sent, waiting, accepted, refused, failed;
};

static int same_group(const wp_wecom_transfer *a, const wp_wecom_transfer *b)
{
    return !strcmp(a->tenant_id, b->tenant_id) && a->resigned == b->resigned &&
           (a->state == WP_WECOM_PENDING) == (b->state == WP_WECOM_PENDING) &&
           !strcmp(a->handover_userid, b->handover_userid) &&
           !strcmp(a->takeover_userid, b->takeover_userid);
}

static void count(struct counts *c, enum wp_wecom_transfer_state s)
{
    if (s == WP_WECOM_WAITING)
        c->waiting++;
    else if (s == WP_WECOM_ACCEPTED)
        c->accepted++;
    else if (s == WP_WECOM_REFUSED)
        c->refused++;
    else if (s == WP_WECOM_FAILED)
        c->failed++;
}

/* Move one row; a row another run finished meanwhile is left alone. */
static int set(wp_store *st, struct counts *c, wp_wecom_transfer *t, int attempted, int64_t now)
{
    int err = wp_store_wecom_transfer_set(st, t, attempted, now);
    if (err == WP_ENOTFOUND)
        return 0;
    if (err == 0)
        count(c, t->state);
    return err;
}

static void settle(wp_wecom_transfer *t, enum wp_wecom_transfer_state s, const char *reason,
                   int64_t errcode, int64_t next_us)
{
    t->state = s;
    snprintf(t->reason, sizeof t->reason, "%s", reason ? reason : "");
    t->errcode = errcode;
    t->next_us = next_us;
}

static const char *errmsg_of(const json_t *ans)
{
    const char *m = json_string_value(json_object_get(ans, "errmsg"));
    return m ? m : "";
}

/* A send that got no answer: try again later, or give up. */
static void retry_later(wp_wecom_transfer *t, const char *why, int64_t now)
{
    int64_t wait = (int64_t)RETRY_BASE_S << (t->attempts < 12 ? t->attempts : 12);
    if (wait > RETRY_MAX_S)
        wait = RETRY_MAX_S;
    if (t->attempts + 1 >= ATTEMPTS_MAX)
        settle(t, WP_WECOM_FAILED, why, -1, 0);
    else
        settle(t, WP_WECOM_PENDING, why, -1, now + wait * 1000000);
}

static int send_group(wp_wecom *w, wp_store *st, struct counts *c, const wp_wecom_config *cfg,
                      wp_wecom_transfer *g, size_t n, int64_t now)
{
    json_t *ids = json_array(), *body, *ans = NULL;
    wp_wecom_customer_result res[WP_WECOM_TRANSFER_BATCH];
    size_t n_res = 0;
    int64_t errcode = 0;
    char why[WP_WECOM_REASON_MAX + 1];
    int err;

    for (size_t i = 0; ids && i < n; i++)
        json_array_append_new(ids, json_string(g[i].external_userid));
    if (!(body = json_pack("{s:s,s:s,s:o}", "handover_userid", g[0].handover_userid,
                           "takeover_userid", g[0].takeover_userid, "external_userid", ids)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    err = wp_wecom_api(w, &ans, &errcode, g[0].tenant_id, cfg,
                       g[0].resigned ? "externalcontact/resigned/transfer_customer"
                                     : "externalcontact/transfer_customer",
                       body);
    json_decref(body);
    if (err == WP_ENOMEM)
        return err;
    c->sent += (int64_t)n;
    if (err == 0 && errcode == 0)
        err = wp_wecom_parse_customers(res, &n_res, WP_WECOM_TRANSFER_BATCH, NULL, ans, 0);
    snprintf(why, sizeof why, "%s", err < 0 ? wp_error_last() : "");
    for (size_t i = 0; i < n; i++) {
        wp_wecom_transfer *t = &g[i];
        if (err == WP_EIO) {
            retry_later(t, why, now);
        } else if (err < 0) {
            settle(t, WP_WECOM_FAILED, why, -1, 0);
        } else if (errcode != 0) {
            snprintf(why, sizeof why, "WeCom: errcode %lld: %.200s", (long long)errcode,
                     errmsg_of(ans));
            settle(t, WP_WECOM_REFUSED, why, errcode, 0);
        } else {
            int64_t e = 0; /* not in the answer: WeCom took it; transfer_result will tell */
            for (size_t k = 0; k < n_res; k++)
                if (!strcmp(res[k].external_userid, t->external_userid))
                    e = res[k].value;
            if (e == 0) {
                settle(t, WP_WECOM_WAITING, "", -1, now + (int64_t)w->o.poll_s * 1000000);
            } else {
                snprintf(why, sizeof why, "WeCom: errcode %lld", (long long)e);
                settle(t, WP_WECOM_REFUSED, why, e, 0);
            }
        }
    }
    json_decref(ans);
    for (size_t i = 0; i < n && (err = set(st, c, &g[i], 1, now)) == 0; i++) {
    }
    return err;
}

static int ask_group(wp_wecom *w, wp_store *st, struct counts *c, const wp_wecom_config *cfg,
                     wp_wecom_transfer *g, size_t n, int64_t now)
{
    wp_wecom_customer_result res[WP_WECOM_TRANSFER_BATCH];
    int64_t *status = calloc(n, sizeof *status), next = now + (int64_t)w->o.poll_s * 1000000;
    char cursor[256] = "";
    int err = 0;

    if (!status)
        return wp_error_set(WP_ENOMEM, "out of memory");
    for (int page = 0; page < RESULT_PAGES_MAX; page++) {
        json_t *ans = NULL, *body = json_pack("{s:s,s:s,s:s}", "handover_userid",
                                              g[0].handover_userid, "takeover_userid",
                                              g[0].takeover_userid, "cursor", cursor);
        int64_t errcode = 0;
        size_t n_res = 0;
        if (!body) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            break;
        }
        err = wp_wecom_api(w, &ans, &errcode, g[0].tenant_id, cfg,
                           g[0].resigned ? "externalcontact/resigned/transfer_result"
                                         : "externalcontact/transfer_result",
                           body);
        json_decref(body);
        if (err == 0 && errcode == 0)
            err = wp_wecom_parse_customers(res, &n_res, WP_WECOM_TRANSFER_BATCH, cursor, ans, 1);
        json_decref(ans);
        if (err < 0 || errcode != 0)
            break; /* asked again at the next poll */
        for (size_t k = 0; k < n_res; k++)
            for (size_t i = 0; i < n; i++)
                if (!strcmp(res[k].external_userid, g[i].external_userid))
                    status[i] = res[k].value;
        if (!cursor[0])
            break;
    }
    if (err == WP_ENOMEM) {
        free(status);
        return err;
    }
    err = 0;
    for (size_t i = 0; i < n && err == 0; i++) {
        wp_wecom_transfer *t = &g[i];
        switch (status[i]) {
        case 1:
            settle(t, WP_WECOM_ACCEPTED, "", -1, 0);
            break;
        case 3:
            settle(t, WP_WECOM_REFUSED, "customer refused", -1, 0);
            break;
        case 4:
            settle(t, WP_WECOM_REFUSED, "the successor has too many customers", -1, 0);
            break;
        case 5:
            settle(t, WP_WECOM_REFUSED, "WeCom has no record of this transfer", -1, 0);
            break;
        default: /* 2, or not told yet */
            settle(t, WP_WECOM_WAITING, "", -1, next);
        }
        err = set(st, c, t, 0, now);
    }
    free(status);
    return err;
}

int wp_wecom_transfers_run(wp_store *st, void *arg, int64_t now_us, wp_buf *note)
{
    wp_wecom *w = arg;
    wp_wecom_transfer *v = NULL;
    wp_wecom_config cfg;
    char cfg_tenant[WP_ID_LEN + 1] = "";
    struct counts c = {0};
    unsigned char *done = NULL;
    size_t n = 0;
    int err, first_err = 0;

    if ((err = wp_store_wecom_transfers_due(st, &v, &n, now_us, DUE_MAX)) < 0)
        return err;
    if (n && !(done = calloc(n, 1))) {
        free(v);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        /* gather the group of row i in place, after it */
        size_t k = 1;
        done[i] = 1;
        for (size_t j = i + 1; j < n && k < WP_WECOM_TRANSFER_BATCH; j++)
            if (!done[j] && same_group(&v[i], &v[j])) {
                wp_wecom_transfer tmp = v[i + k];
                unsigned char dt = done[i + k];
                v[i + k] = v[j];
                v[j] = tmp;
                done[j] = dt;
                done[i + k] = 1;
                k++;
            }
        if (strcmp(cfg_tenant, v[i].tenant_id)) {
            if ((err = wp_wecom__config_st(w, st, &cfg, v[i].tenant_id)) == WP_ENOTFOUND) {
                err = 0;
                for (size_t j = 0; j < k && err == 0; j++) {
                    settle(&v[i + j], WP_WECOM_FAILED, "WeCom is not configured any more", -1,
                           0);
                    err = set(st, &c, &v[i + j], 0, now_us);
                }
                if (err < 0)
                    break;
                continue;
            }
            if (err < 0)
                break;
            memcpy(cfg_tenant, v[i].tenant_id, sizeof cfg_tenant);
        }
        err = v[i].state == WP_WECOM_PENDING ? send_group(w, st, &c, &cfg, &v[i], k, now_us)
                                             : ask_group(w, st, &c, &cfg, &v[i], k, now_us);
        if (err < 0 && !first_err)
            first_err = err;
        if (err == WP_ENOMEM || err == WP_EIO)
            break;
    }
    memset(&cfg, 0, sizeof cfg);
    free(done);
    free(v);
    if (c.sent || c.waiting || c.accepted || c.refused || c.failed) {
        wp_log_addf(note, "sent", "%lld", (long long)c.sent);
        wp_log_addf(note, "waiting", "%lld", (long long)c.waiting);
        wp_log_addf(note, "accepted", "%lld", (long long)c.accepted);
        wp_log_addf(note, "refused", "%lld", (long long)c.refused);
        wp_log_addf(note, "failed", "%lld", (long long)c.failed);
    }
    if (err < 0 && !first_err)
        first_err = err;
    return first_err;
}
