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

/* Where customer k lives: within 200 m of its community (traits[WP_SIM__T_PLACE]). */
void wp_sim__customer_point(double *lat, double *lon, const wp_sim_company *c, size_t k);

/* Move (lat, lon) by dx_m east and dy_m north. */
void wp_sim__offset(double *lat, double *lon, double dx_m, double dy_m);

/* --- media.c ---------------------------------------------------------------------------------- */

/* Make the company's files (c->media). WP_ENOMEM. */
int wp_sim__media_new(wp_sim_company *c);
void wp_sim__media_free(wp_sim_company *c);
/* The index of one file of that kind (and what: "house", NULL for any), or -1. */
int wp_sim__media_pick(const wp_sim_company *c, const char *kind, const char *what,
                       wp_sim_rng *r);

/* --- scripts.c: what is said and written ------------------------------------------------------ */

enum wp_sim__script { /* what a session says */
    WP_SIM__OPENING,   /* the first talk with a new contact */
    WP_SIM__STAGE,     /* the customer's current stage of the sale (1..4) */
    WP_SIM__CHECKIN,   /* small talk to keep in touch */
    WP_SIM__VIOLATION, /* one message that breaks a rule, and the replies */
    WP_SIM__OBJECTION, /* the customer hesitates: price, place, family, timing */
    WP_SIM__LOST,      /* the customer says no for good */
};
#define WP_SIM__STAGES 5 /* 0 opening, then 1..4 */

struct wp_sim__list {
    const char *const *v;
    size_t n;
};

struct wp_sim__trade_talk {
    const char *brand;
    struct wp_sim__list stages[WP_SIM__STAGES];
    struct wp_sim__list checkin, objection, lost;
};
extern const struct wp_sim__trade_talk wp_sim__talks[3];

struct wp_sim__violation {
    int trade; /* -1: any */
    const char *category;
    int must_alert;
    unsigned weight;
    const char *script;
};
extern const struct wp_sim__violation wp_sim__violations[];
extern const size_t wp_sim__n_violations;

/* What a follow-up note is about. */
enum wp_sim__note {
    WP_SIM__NOTE_OPENING = 0,
    WP_SIM__NOTE_STAGE1, /* .. WP_SIM__NOTE_STAGE1 + 3: the sale's stages 1..4 */
    WP_SIM__NOTE_OBJECTION = WP_SIM__NOTE_STAGE1 + 4,
    WP_SIM__NOTE_CHECKIN,
    WP_SIM__NOTE_LOST,
    WP_SIM__NOTE_RELEASE,
    WP_SIM__NOTE_CLAIM,
    WP_SIM__NOTE_HANDOVER,
    WP_SIM__NOTE_KINDS
};
extern const struct wp_sim__list wp_sim__notes[3][WP_SIM__NOTE_KINDS];
extern const struct wp_sim__list wp_sim__endings; /* what some put at the end of a line */
extern const struct wp_sim__list wp_sim__tag_source, wp_sim__tag_need[3], wp_sim__tag_trait;

/* --- talk.c ---------------------------------------------------------------------------------- */

/* One message of an exchange, expanded. Strings point into the caller's buffer. */
struct wp_sim__line {
    int out;
    const char *channel; /* "wechat" or "sms" */
    const char *msgtype; /* "text", "link", "transfer", "redpacket", "image", "voice", "file",
                          * "location", "card" */
    const char *text, *url, *title, *filename;
    int media; /* index in company->media; -1 */
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
 * WP_SIM__STAGE: 1..4; WP_SIM__OBJECTION: any). x->text must be initialized by the caller (and
 * is reset here). The employee's clean lines carry its habits (wp_sim__style).
 * Returns 0 or WP_ENOMEM / WP_ELIMIT from the buffer. */
int wp_sim__talk(struct wp_sim__exchange *x, const wp_sim_company *c, size_t k,
                 enum wp_sim__script kind, unsigned stage, wp_sim_rng *r);

/* The text of a follow-up note about customer k into out (reset first). */
int wp_sim__note(wp_buf *out, const wp_sim_company *c, size_t k, enum wp_sim__note kind,
                 wp_sim_rng *r);

/* What customer k's deal is worth to the company, in fen: an agency's commission, the first
 * year's premium, a course's fee. */
int64_t wp_sim__deal_fen(const wp_sim_company *c, size_t k);

/* The mean number of messages in the trade's sale-stage exchanges (tunes the violation rate). */
double wp_sim__talk_mean_lines(enum wp_sim_trade t);

/* How a person works, from (seed, person) alone: how often it ends a line with one of its
 * endings (per mille) and which; how often it writes a note after talking (per mille). (How
 * often it breaks a rule is wp_sim_person.risk.) */
struct wp_sim__style {
    unsigned ending_permille;
    const char *endings[3];
    unsigned notes_permille;
};
void wp_sim__style(struct wp_sim__style *out, const wp_sim_company *c, size_t person);

#endif
