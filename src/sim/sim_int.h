/* SPDX-License-Identifier: MIT */
/* Inside the simulator: word lists (names.c), scripted talk (talk.c), shared helpers. */
#ifndef WP_SIM_INT_H
#define WP_SIM_INT_H

#include "sim/sim.h"
#include "util/buf.h"

#define WP_SIM__DAY_US (86400ll * 1000000)
#define WP_SIM__MIN_US (60ll * 1000000)

/* Meaning of wp_sim_customer.traits[]: picks into the trade's lists and numbers. */
enum {
    WP_SIM__T_PLACE = 0, /* a community (小区) near the store: index into the place list */
    WP_SIM__T_PLACE2,    /* another one */
    WP_SIM__T_LAYOUT,    /* property: 两室一厅, ...; others: unused */
    WP_SIM__T_SIZE,      /* property: m²; insurance: sum insured (万); education: lessons */
    WP_SIM__T_PRICE,     /* property: yuan per m²; insurance: premium a year; education: fee */
    WP_SIM__T_ITEM,      /* insurance: product; education: course */
    WP_SIM__T_KID,       /* the child's nickname (豆豆) */
    WP_SIM__T_GRADE,     /* education: grade; insurance: the child's age */
};

/* --- names.c ------------------------------------------------------------------------------ */

/* A store's site: where it is, what its city's homes cost, the code its residents' ids start
 * with. */
struct wp_sim__site {
    const char *region, *store, *city;
    double lat, lon;
    int price_lo, price_hi; /* yuan per m² */
    const char *id_region;  /* the first 6 digits of a local resident id */
};

const struct wp_sim__site *wp_sim__site(size_t region, size_t store);

extern const char *const wp_sim__places[];
extern const size_t wp_sim__n_places;
extern const char *const wp_sim__kids[];
extern const size_t wp_sim__n_kids;

/* A Chinese name: surname + given name, with its pinyin (lower case, given then surname). */
struct wp_sim__name {
    char name[16];
    char surname[8];
    char pinyin_given[24], pinyin_surname[12];
    int female;
};
void wp_sim__name_new(struct wp_sim__name *out, wp_sim_rng *r, int female);

/* A mainland mobile number (11 digits, a real carrier prefix). */
void wp_sim__mobile(char out[12], wp_sim_rng *r);

/* Where a community of a store lies: a point 0.8-5 km from the store. */
void wp_sim__place_point(double *lat, double *lon, const wp_sim_company *c, int unit,
                         unsigned place);

/* Move (lat, lon) by dx_m east and dy_m north. */
void wp_sim__offset(double *lat, double *lon, double dx_m, double dy_m);

/* --- talk.c ---------------------------------------------------------------------------------- */

enum wp_sim__script { /* what a session says */
    WP_SIM__OPENING,   /* the first talk with a new contact */
    WP_SIM__STAGE,     /* the customer's current stage of the sale (1..4) */
    WP_SIM__CHECKIN,   /* small talk to keep in touch */
    WP_SIM__VIOLATION, /* one message that breaks a rule, and the replies */
};
#define WP_SIM__STAGES 5 /* 0 opening, then 1..4 */

/* One message of an exchange, expanded. text and url point into the caller's buffer. */
struct wp_sim__line {
    int out;
    const char *channel; /* "wechat" or "sms" */
    const char *msgtype; /* "text", "link", "transfer", "redpacket" */
    const char *text, *url;
    int64_t amount_fen;
    const char *violation; /* NULL, or the category planted */
    int must_alert;
};

#define WP_SIM__LINES_MAX 16
struct wp_sim__exchange {
    struct wp_sim__line lines[WP_SIM__LINES_MAX];
    size_t n;
    wp_buf text; /* where the lines' strings live; release with wp_buf_release */
    /* the scripts this customer heard lately, not to be told again soon; the caller zeroes
     * n_used when it moves to another customer */
    const char *used[24];
    size_t n_used;
};

/* Write an exchange of the kind asked for, for customer k of the company, at its stage (for
 * WP_SIM__STAGE: 1..4). x->text must be initialized by the caller (and is reset here).
 * Returns 0 or WP_ENOMEM / WP_ELIMIT from the buffer. */
int wp_sim__talk(struct wp_sim__exchange *x, const wp_sim_company *c, size_t k,
                 enum wp_sim__script kind, unsigned stage, wp_sim_rng *r);

/* The mean number of messages in the trade's sale-stage exchanges (tunes the violation rate). */
double wp_sim__talk_mean_lines(enum wp_sim_trade t);

#endif
