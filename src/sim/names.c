/* SPDX-License-Identifier: MIT */
/* The company plan: sites, people's names, phone numbers, resident ids, customers. */
#include "sim/sim_int.h"
#include "util/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Real districts, so the map and the resident ids look right; prices are rough 2020s levels. */
static const struct wp_sim__site sites[WP_SIM_REGIONS_MAX][WP_SIM_STORES_MAX] = {
    {
        {"华东区", "上海徐汇店", "上海", 31.1880, 121.4370, 62000, 90000, "310104"},
        {"华东区", "杭州西湖店", "杭州", 30.2741, 120.1290, 35000, 52000, "330106"},
        {"华东区", "南京鼓楼店", "南京", 32.0660, 118.7690, 30000, 45000, "320106"},
        {"华东区", "苏州姑苏店", "苏州", 31.3110, 120.6190, 24000, 36000, "320508"},
    },
    {
        {"华南区", "广州天河店", "广州", 23.1350, 113.3270, 40000, 62000, "440106"},
        {"华南区", "深圳南山店", "深圳", 22.5330, 113.9300, 60000, 95000, "440305"},
        {"华南区", "东莞南城店", "东莞", 23.0180, 113.7520, 20000, 30000, "441900"},
        {"华南区", "佛山禅城店", "佛山", 23.0220, 113.1220, 15000, 25000, "440604"},
    },
    {
        {"华北区", "北京朝阳店", "北京", 39.9210, 116.4430, 60000, 95000, "110105"},
        {"华北区", "天津和平店", "天津", 39.1170, 117.2020, 22000, 32000, "120101"},
        {"华北区", "北京海淀店", "北京", 39.9590, 116.2980, 70000, 100000, "110108"},
        {"华北区", "石家庄长安店", "石家庄", 38.0500, 114.5200, 13000, 18000, "130102"},
    },
    {
        {"西南区", "成都武侯店", "成都", 30.6420, 104.0430, 15000, 26000, "510107"},
        {"西南区", "重庆渝中店", "重庆", 29.5570, 106.5770, 12000, 20000, "500103"},
        {"西南区", "昆明五华店", "昆明", 25.0430, 102.7100, 12000, 18000, "530102"},
        {"西南区", "贵阳云岩店", "贵阳", 26.5830, 106.7130, 9000, 13000, "520103"},
    },
};

const struct wp_sim__site *wp_sim__site(size_t region, size_t store)
{
    return &sites[region % WP_SIM_REGIONS_MAX][store % WP_SIM_STORES_MAX];
}

/* Made-up community names (no real estate brand's). */
const char *const wp_sim__places[] = {
    "锦绣华庭", "金桂苑",   "阳光丽景", "御景湾",   "滨江壹号院", "香樟苑",   "紫薇花园",
    "汇锦城",   "东方名苑", "云锦台",   "天悦府",   "金色家园",   "翠湖景苑", "康乐新村",
    "世纪花园", "星河湾畔", "枫林绿洲", "悦澜山",   "和平里小区", "春江花月", "南湖名邸",
};
const size_t wp_sim__n_places = sizeof wp_sim__places / sizeof wp_sim__places[0];

const char *const wp_sim__kids[] = {
    "豆豆", "乐乐", "果果", "朵朵", "浩浩", "天天", "可可", "萌萌", "多多", "航航", "睿睿", "小宇",
    "壮壮", "糖糖", "妞妞", "球球", "皮皮", "安安", "晨晨", "悠悠", "阳阳", "米粒", "小鱼", "嘟嘟"};
const size_t wp_sim__n_kids = sizeof wp_sim__kids / sizeof wp_sim__kids[0];

struct word {
    const char *han, *pinyin;
};

/* Most common first: picks lean to the front, as real surnames do. */
static const struct word surnames[] = {
    {"王", "wang"},  {"李", "li"},    {"张", "zhang"}, {"刘", "liu"},   {"陈", "chen"},
    {"杨", "yang"},  {"黄", "huang"}, {"赵", "zhao"},  {"吴", "wu"},    {"周", "zhou"},
    {"徐", "xu"},    {"孙", "sun"},   {"马", "ma"},    {"朱", "zhu"},   {"胡", "hu"},
    {"郭", "guo"},   {"何", "he"},    {"高", "gao"},   {"林", "lin"},   {"罗", "luo"},
    {"郑", "zheng"}, {"梁", "liang"}, {"谢", "xie"},   {"宋", "song"},  {"唐", "tang"},
    {"许", "xu"},    {"韩", "han"},   {"冯", "feng"},  {"邓", "deng"},  {"曹", "cao"},
    {"彭", "peng"},  {"曾", "zeng"},  {"肖", "xiao"},  {"田", "tian"},  {"董", "dong"},
    {"袁", "yuan"},  {"潘", "pan"},   {"蒋", "jiang"}, {"蔡", "cai"},   {"余", "yu"},
    {"杜", "du"},    {"叶", "ye"},    {"程", "cheng"}, {"苏", "su"},    {"魏", "wei"},
    {"吕", "lv"},    {"丁", "ding"},  {"任", "ren"},   {"沈", "shen"},  {"姚", "yao"},
    {"卢", "lu"},    {"姜", "jiang"}, {"崔", "cui"},   {"钟", "zhong"}, {"谭", "tan"},
    {"陆", "lu"},    {"汪", "wang"},  {"范", "fan"},   {"金", "jin"},   {"石", "shi"},
    {"廖", "liao"},  {"贾", "jia"},   {"夏", "xia"},   {"方", "fang"},  {"邹", "zou"},
    {"熊", "xiong"}, {"秦", "qin"},   {"邱", "qiu"},   {"江", "jiang"}, {"尹", "yin"},
};

static const struct word female_given[] = {
    {"丽", "li"},   {"娟", "juan"}, {"敏", "min"},  {"静", "jing"}, {"婷", "ting"}, {"芳", "fang"},
    {"燕", "yan"},  {"霞", "xia"},  {"玲", "ling"}, {"秀", "xiu"},  {"兰", "lan"},  {"琳", "lin"},
    {"雪", "xue"},  {"慧", "hui"},  {"倩", "qian"}, {"颖", "ying"}, {"佳", "jia"},  {"欣", "xin"},
    {"悦", "yue"},  {"雯", "wen"},  {"晓", "xiao"}, {"梦", "meng"}, {"瑶", "yao"},  {"洁", "jie"},
    {"萍", "ping"}, {"红", "hong"}, {"艳", "yan"},  {"琴", "qin"},  {"晶", "jing"}, {"璐", "lu"},
    {"思", "si"},   {"怡", "yi"},   {"雅", "ya"},   {"蕾", "lei"},  {"薇", "wei"},  {"春", "chun"},
};

static const struct word male_given[] = {
    {"伟", "wei"},   {"强", "qiang"}, {"磊", "lei"},  {"军", "jun"},   {"勇", "yong"}, {"杰", "jie"},
    {"涛", "tao"},   {"明", "ming"},  {"超", "chao"}, {"辉", "hui"},   {"刚", "gang"}, {"鹏", "peng"},
    {"斌", "bin"},   {"浩", "hao"},   {"宇", "yu"},   {"凯", "kai"},   {"俊", "jun"},  {"峰", "feng"},
    {"建", "jian"},  {"国", "guo"},   {"华", "hua"},  {"平", "ping"},  {"波", "bo"},   {"志", "zhi"},
    {"文", "wen"},   {"海", "hai"},   {"晨", "chen"}, {"博", "bo"},    {"子", "zi"},   {"轩", "xuan"},
    {"毅", "yi"},    {"亮", "liang"}, {"飞", "fei"},  {"东", "dong"},  {"成", "cheng"}, {"林", "lin"},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

void wp_sim__name_new(struct wp_sim__name *out, wp_sim_rng *r, int female)
{
    double u = wp_sim_rng_unit(r);
    const struct word *s = &surnames[(size_t)(u * u * (double)N(surnames))];
    const struct word *pool = female ? female_given : male_given;
    size_t n = female ? N(female_given) : N(male_given);
    const struct word *g1 = &pool[wp_sim_rng_below(r, (uint32_t)n)];
    const struct word *g2 = NULL;
    if (wp_sim_rng_permille(r, 650))
        do
            g2 = &pool[wp_sim_rng_below(r, (uint32_t)n)];
        while (g2 == g1);
    snprintf(out->surname, sizeof out->surname, "%s", s->han);
    snprintf(out->name, sizeof out->name, "%s%s%s", s->han, g1->han, g2 ? g2->han : "");
    snprintf(out->pinyin_surname, sizeof out->pinyin_surname, "%s", s->pinyin);
    snprintf(out->pinyin_given, sizeof out->pinyin_given, "%s%s", g1->pinyin,
             g2 ? g2->pinyin : "");
    out->female = female;
}

void wp_sim__mobile(char out[12], wp_sim_rng *r)
{
    static const char *const prefixes[] = {
        "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151",
        "152", "153", "155", "156", "157", "158", "159", "166", "173", "176", "177",
        "180", "181", "182", "183", "185", "186", "187", "188", "189", "191", "198", "199"};
    snprintf(out, 12, "%s%08u", prefixes[wp_sim_rng_below(r, N(prefixes))],
             (unsigned)wp_sim_rng_below(r, 100000000));
}

void wp_sim__offset(double *lat, double *lon, double dx_m, double dy_m)
{
    *lat += dy_m / 111320.0;
    *lon += dx_m / (111320.0 * cos(*lat * M_PI / 180.0));
}

void wp_sim__place_point(double *lat, double *lon, const wp_sim_company *c, int unit,
                         unsigned place)
{
    wp_sim_rng r;
    wp_sim_rng_seed(&r, c->cfg.seed, 0x50000000u + (uint64_t)unit * 1000 + place);
    double d = 800 + wp_sim_rng_unit(&r) * 4200, a = wp_sim_rng_unit(&r) * 2 * M_PI;
    *lat = c->units[unit].lat;
    *lon = c->units[unit].lon;
    wp_sim__offset(lat, lon, d * cos(a), d * sin(a));
}

void wp_sim__customer_point(double *lat, double *lon, const wp_sim_company *c, size_t k)
{
    const wp_sim_customer *cu = &c->customers[k];
    wp_sim_rng r;
    wp_sim_rng_seed(&r, c->cfg.seed, 0x58000000u + (uint64_t)k);
    wp_sim__place_point(lat, lon, c, c->people[cu->owner].unit,
                        cu->traits[WP_SIM__T_PLACE] % (unsigned)wp_sim__n_places);
    double d = wp_sim_rng_unit(&r) * 200, a = wp_sim_rng_unit(&r) * 2 * M_PI;
    wp_sim__offset(lat, lon, d * cos(a), d * sin(a));
}

/* The salespeople of the trades that visit their customers are field staff; their store gets a
 * fence holding every customer's place with 600 m to spare (no randomness: the rest of the plan
 * stays what it was). */
static void plan_field(wp_sim_company *c)
{
    for (size_t i = 0; i < c->n_people; i++) {
        wp_sim_person *p = &c->people[i];
        wp_sim_unit *u = &c->units[p->unit];
        if (strcmp(u->kind, "store") || strcmp(p->role, "sales") || !p->has_device ||
            u->trade == WP_SIM_EDUCATION)
            continue;
        p->field = 1;
        double far = 0;
        for (size_t k = p->first_customer; k < p->first_customer + p->n_customers; k++) {
            double lat, lon;
            wp_sim__customer_point(&lat, &lon, c, k);
            double dy = (lat - u->lat) * 111320.0;
            double dx = (lon - u->lon) * 111320.0 * cos((lat + u->lat) / 2 * M_PI / 180.0);
            double d = sqrt(dx * dx + dy * dy);
            far = d > far ? d : far;
        }
        unsigned r = (unsigned)((far + 600) / 100 + 1) * 100;
        if (r > u->fence_radius_m)
            u->fence_radius_m = r;
    }
}

/* An 18-character resident id: region, birth date, sequence (odd for men), check digit. */
static void id_card(char out[19], wp_sim_rng *r, const char *region, int birth_year, int female)
{
    static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    unsigned seq = wp_sim_rng_below(r, 500) * 2 + (female ? 0 : 1);
    snprintf(out, 19, "%.6s%04d%02d%02d%03u", region, birth_year, wp_sim_rng_range(r, 1, 12),
             wp_sim_rng_range(r, 1, 28), seq);
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (out[i] - '0') * w[i];
    out[17] = "10X98765432"[sum % 11];
    out[18] = '\0';
}

static int phone_taken(const wp_sim_company *c, size_t n_people, size_t n_cust, const char *p)
{
    for (size_t i = 0; i < n_people; i++)
        if (!strcmp(c->people[i].phone, p) || !strcmp(c->people[i].private_phone, p))
            return 1;
    for (size_t i = 0; i < n_cust; i++)
        if (!strcmp(c->customers[i].phone, p))
            return 1;
    return 0;
}

static void unique_mobile(char out[12], wp_sim_rng *r, const wp_sim_company *c, size_t n_people,
                          size_t n_cust)
{
    do
        wp_sim__mobile(out, r);
    while (phone_taken(c, n_people, n_cust, out));
}

static const char *const models[] = {
    "HUAWEI Mate 60 Pro", "HUAWEI nova 12", "Xiaomi 14",  "Redmi K70", "OPPO Reno11",
    "vivo X100",          "HONOR 100",      "OnePlus 12", "vivo S18",  "OPPO A2"};

static const char *const trade_title[] = {"置业顾问", "保险规划师", "课程顾问"};

static int add_person(wp_sim_company *c, wp_sim_rng *r, int unit, const char *role,
                      const char *title, int device)
{
    wp_sim_person *p = &c->people[c->n_people];
    struct wp_sim__name nm;
    int dup;
    memset(p, 0, sizeof *p);
    /* names and usernames are unique in the company: a console lists people by name */
    do {
        wp_sim__name_new(&nm, r, wp_sim_rng_permille(r, 550));
        dup = 0;
        for (size_t i = 0; i < c->n_people; i++)
            dup |= !strcmp(c->people[i].name, nm.name);
    } while (dup);
    snprintf(p->name, sizeof p->name, "%s", nm.name);
    snprintf(p->username, sizeof p->username, "%s.%s", nm.pinyin_given, nm.pinyin_surname);
    for (unsigned k = 2;; k++) {
        dup = 0;
        for (size_t i = 0; i < c->n_people; i++)
            dup |= !strcmp(c->people[i].username, p->username);
        if (!dup)
            break;
        snprintf(p->username, sizeof p->username, "%s.%s%u", nm.pinyin_given,
                 nm.pinyin_surname, k);
    }
    p->unit = unit;
    p->role = role;
    p->title = title;
    unique_mobile(p->phone, r, c, c->n_people, 0);
    unique_mobile(p->private_phone, r, c, c->n_people, 0);
    p->has_device = device;
    if (device) {
        static const char alnum[] = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
        for (int i = 0; i < 16; i++)
            p->serial[i] = alnum[wp_sim_rng_below(r, sizeof alnum - 1)];
        p->serial[16] = '\0';
        p->model = models[wp_sim_rng_below(r, N(models))];
        /* home: 3-14 km from the store, where a commute starts and ends */
        double d = 3000 + wp_sim_rng_unit(r) * 11000, a = wp_sim_rng_unit(r) * 2 * M_PI;
        p->home_lat = c->units[unit].lat;
        p->home_lon = c->units[unit].lon;
        wp_sim__offset(&p->home_lat, &p->home_lon, d * cos(a), d * sin(a));
    }
    return (int)c->n_people++;
}

static const char *const notes[][6] = {
    {"两房", "学区房", "改善", "首套", "急", "看房"},
    {"重疾", "年金", "医疗险", "少儿险", "转介绍", "讲座"},
    {"英语", "数学", "编程", "试听", "续费", "一对一"},
};

static void add_customer(wp_sim_company *c, wp_sim_rng *r, size_t owner, const char *id_region)
{
    wp_sim_customer *k = &c->customers[c->n_customers];
    const wp_sim_unit *u = &c->units[c->people[owner].unit];
    struct wp_sim__name nm;
    memset(k, 0, sizeof *k);
    k->owner = owner;
    int female = k->female = wp_sim_rng_permille(r, u->trade == WP_SIM_PROPERTY ? 450 : 600);
    wp_sim__name_new(&nm, r, female);
    k->age = wp_sim_rng_range(r, u->trade == WP_SIM_EDUCATION ? 32 : 26,
                              u->trade == WP_SIM_EDUCATION ? 45 : 58);
    for (int i = 0; i < 8; i++)
        k->traits[i] = (unsigned)wp_sim_rng_below(r, 1u << 16);
    const char *kid = wp_sim__kids[k->traits[WP_SIM__T_KID] % wp_sim__n_kids];

    /* how the employee addresses them, and how they are saved in the phone */
    unsigned v = wp_sim_rng_below(r, 100);
    if (u->trade == WP_SIM_EDUCATION && v < 45)
        snprintf(k->call, sizeof k->call, "%s%s", kid, female ? "妈妈" : "爸爸");
    else if (v < 70)
        snprintf(k->call, sizeof k->call, "%s%s", nm.surname, female ? "女士" : "先生");
    else if (v < 82)
        snprintf(k->call, sizeof k->call, "%s%s", nm.surname, female ? "姐" : "哥");
    else if (v < 94 || u->trade == WP_SIM_EDUCATION) /* at a school, 老师 is the staff */
        snprintf(k->call, sizeof k->call, "%s总", nm.surname);
    else
        snprintf(k->call, sizeof k->call, "%s老师", nm.surname);
    const char *note = notes[u->trade][wp_sim_rng_below(r, 6)];
    v = wp_sim_rng_below(r, 100);
    if (v < 35)
        snprintf(k->name, sizeof k->name, "%s", k->call);
    else if (v < 65)
        snprintf(k->name, sizeof k->name, "%s", nm.name);
    else if (v < 85)
        snprintf(k->name, sizeof k->name, "%s-%s", k->call, note);
    else
        snprintf(k->name, sizeof k->name, "%s %s", nm.name, note);

    unique_mobile(k->phone, r, c, c->n_people, c->n_customers);
    if (wp_sim_rng_permille(r, 250)) {
        snprintf(k->wxid, sizeof k->wxid, "%.6s%.10s_%02u", nm.pinyin_surname, nm.pinyin_given,
                 (unsigned)wp_sim_rng_below(r, 100));
    } else {
        static const char a[] = "abcdefghijklmnopqrstuvwxyz0123456789";
        memcpy(k->wxid, "wxid_", 5);
        for (int i = 0; i < 14; i++)
            k->wxid[5 + i] = a[wp_sim_rng_below(r, sizeof a - 1)];
        k->wxid[19] = '\0';
    }
    int end_year = 1970 + (int)((c->cfg.end_us / WP_SIM__DAY_US) / 365.2425);
    id_card(k->id_card, r, id_region, end_year - k->age, female);

    unsigned w = wp_sim_rng_below(r, 100);
    k->interest = w < 30 ? 0 : w < 80 ? 1 : 2;
    k->known_before = wp_sim_rng_permille(r, 400);
    k->first_day = k->known_before ? 0 : wp_sim_rng_below(r, c->days > 2 ? c->days - 2 : 1);
    c->n_customers++;
}

/* One salesperson leaves in the last week (from a store with two others to take over): its
 * phone goes quiet that afternoon and its customers are handed over. Its own random stream, so
 * the rest of the plan is what it would be without. */
static void plan_leaver(wp_sim_company *c)
{
    wp_sim_rng r;
    long v[64];
    size_t n = 0;
    c->leaver = -1;
    c->n_successors = 0;
    if (c->days < 7)
        return;
    for (size_t i = 0; i < c->n_people && n < 64; i++) {
        size_t mates = 0;
        if (strcmp(c->people[i].role, "sales"))
            continue;
        for (size_t j = 0; j < c->n_people; j++)
            mates += j != i && c->people[j].unit == c->people[i].unit &&
                     !strcmp(c->people[j].role, "sales");
        if (mates >= 2)
            v[n++] = (long)i;
    }
    if (!n)
        return;
    wp_sim_rng_seed(&r, c->cfg.seed, 0x70000000u);
    c->leaver = v[wp_sim_rng_below(&r, (uint32_t)n)];
    c->leave_day = c->days - 1 - c->days / 5;
    c->leave_us = c->start_us + (int64_t)c->leave_day * WP_SIM__DAY_US + 17 * 3600 * 1000000ll +
                  wp_sim_rng_below(&r, 3600) * 1000000ll;
    for (size_t j = 0; j < c->n_people && c->n_successors < 2; j++)
        if ((long)j != c->leaver && c->people[j].unit == c->people[c->leaver].unit &&
            !strcmp(c->people[j].role, "sales"))
            c->successors[c->n_successors++] = (long)j;
}

/* Every store closes a couple of deals with leads it met in the last week (a buyer who has
 * seen homes elsewhere, a referral, a parent set on a course), so a week's conversion is
 * never empty. Their own random stream. */
static void plan_quick(wp_sim_company *c)
{
    wp_sim_rng r;
    if (c->days < 8)
        return;
    wp_sim_rng_seed(&r, c->cfg.seed, 0x78000000u);
    for (size_t u = 0; u < c->n_units; u++) {
        size_t v[WP_SIM_STAFF_MAX * (WP_SIM_CUSTOMERS_MAX * 13 / 10 + 1)], n = 0;
        if (strcmp(c->units[u].kind, "store"))
            continue;
        for (size_t k = 0; k < c->n_customers && n < sizeof v / sizeof v[0]; k++)
            if (c->people[c->customers[k].owner].unit == (int)u && !c->customers[k].known_before &&
                (long)c->customers[k].owner != c->leaver)
                v[n++] = k;
        for (int i = 0; i < 2 && n; i++) {
            size_t j = wp_sim_rng_below(&r, (uint32_t)n);
            wp_sim_customer *k = &c->customers[v[j]];
            v[j] = v[--n];
            k->quick = 1;
            k->interest = 2;
            k->first_day = c->days - 7 + wp_sim_rng_below(&r, 3);
        }
    }
}

/* Who takes the risks: over half rarely break a rule, a few often; weighed by their customers so
 * the company's rate stays the one configured. Their own random streams. */
static void plan_risks(wp_sim_company *c)
{
    double sum = 0, weight = 0;
    for (size_t i = 0; i < c->n_people; i++) {
        wp_sim_rng r;
        wp_sim_rng_seed(&r, c->cfg.seed, 0x68000000u + (uint64_t)i);
        unsigned k = wp_sim_rng_below(&r, 100);
        c->people[i].risk = k < 55 ? 0.25 : k < 85 ? 1.0 : 3.5;
        sum += c->people[i].risk * (double)c->people[i].n_customers;
        weight += (double)c->people[i].n_customers;
    }
    for (size_t i = 0; i < c->n_people && sum > 0; i++)
        c->people[i].risk *= weight / sum;
}

static int check(const char *what, unsigned v, unsigned lo, unsigned hi)
{
    if (v < lo || v > hi)
        return wp_error_set(WP_EINVAL, "simulation %s must be %u-%u, not %u", what, lo, hi, v);
    return 0;
}

int wp_sim_config_shape(wp_sim_config *cfg, unsigned employees)
{
    int err;
    if ((err = check("employees", employees, WP_SIM_EMPLOYEES_MIN, WP_SIM_EMPLOYEES_MAX)) < 0)
        return err;
    /* about a dozen people a store at first, then bigger stores once all 16 exist */
    cfg->regions = employees < 60 ? 2 : employees < 160 ? 3 : 4;
    unsigned s = employees / (cfg->regions * 10);
    cfg->stores_per_region = s < 2 ? 2 : s > WP_SIM_STORES_MAX ? WP_SIM_STORES_MAX : s;
    cfg->employees = employees;
    return 0;
}

int wp_sim_company_new(wp_sim_company **out, const wp_sim_config *cfg)
{
    wp_sim_company *c = NULL;
    int err;
    if ((err = check("regions", cfg->regions, 1, WP_SIM_REGIONS_MAX)) < 0 ||
        (err = check("stores per region", cfg->stores_per_region, 1, WP_SIM_STORES_MAX)) < 0 ||
        (err = check("customers per sales", cfg->customers_per_sales, 1,
                     WP_SIM_CUSTOMERS_MAX)) < 0 ||
        (err = check("violation permille", cfg->violation_permille, 0, 300)) < 0)
        return err;
    if (cfg->days == 0 && (err = check("weeks", cfg->weeks, 1, WP_SIM_WEEKS_MAX)) < 0)
        return err;
    if (cfg->days != 0 && (err = check("days", cfg->days, 1, WP_SIM_WEEKS_MAX * 7)) < 0)
        return err;
    size_t n_stores = (size_t)cfg->regions * cfg->stores_per_region;
    size_t n_staff; /* store staff, managers included */
    if (cfg->employees == 0) {
        if ((err = check("staff per store", cfg->staff_per_store, 1, WP_SIM_STAFF_MAX)) < 0)
            return err;
        n_staff = n_stores * cfg->staff_per_store;
    } else {
        unsigned lo = (unsigned)(1 + cfg->regions + n_stores);
        unsigned hi = (unsigned)(1 + cfg->regions + n_stores * WP_SIM_STAFF_MAX);
        if ((err = check("employees", cfg->employees, lo, hi)) < 0)
            return err;
        n_staff = cfg->employees - 1 - cfg->regions;
    }
    if (cfg->end_us <= 0)
        return wp_error_set(WP_EINVAL, "simulation end time is not set");
    size_t n_units = 1 + cfg->regions + n_stores;
    size_t n_people = 1 + cfg->regions + n_staff;
    size_t n_cust = n_staff * (cfg->customers_per_sales * 13 / 10 + 1);
    if (!(c = calloc(1, sizeof *c)) || !(c->units = calloc(n_units, sizeof *c->units)) ||
        !(c->people = calloc(n_people, sizeof *c->people)) ||
        !(c->customers = calloc(n_cust, sizeof *c->customers))) {
        wp_sim_company_free(c);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    c->cfg = *cfg;
    snprintf(c->name, sizeof c->name, "鼎盛集团");
    c->days = cfg->days ? cfg->days : cfg->weeks * 7;
    /* local midnight of the day end_us falls in, then back to the first day */
    int64_t tz = (int64_t)WP_SIM_TZ_MIN * WP_SIM__MIN_US;
    int64_t last_midnight = (cfg->end_us + tz) / WP_SIM__DAY_US * WP_SIM__DAY_US - tz;
    c->start_us = last_midnight - (int64_t)(c->days - 1) * WP_SIM__DAY_US;

    wp_sim_rng r;
    wp_sim_rng_seed(&r, cfg->seed, 0);
    wp_sim_unit *hq = &c->units[c->n_units++];
    hq->parent = -1;
    hq->kind = "hq";
    snprintf(hq->name, sizeof hq->name, "%s", c->name);
    add_person(c, &r, 0, "auditor", "合规专员", 0);
    for (size_t g = 0; g < cfg->regions; g++) {
        int ri = (int)c->n_units++;
        wp_sim_unit *region = &c->units[ri];
        region->parent = 0;
        region->kind = "region";
        snprintf(region->name, sizeof region->name, "%s", wp_sim__site(g, 0)->region);
        add_person(c, &r, ri, "manager", "区域经理", 0);
        for (size_t s = 0; s < cfg->stores_per_region; s++) {
            const struct wp_sim__site *site = wp_sim__site(g, s);
            int si = (int)c->n_units++;
            wp_sim_unit *store = &c->units[si];
            store->parent = ri;
            store->kind = "store";
            snprintf(store->name, sizeof store->name, "%s", site->store);
            store->city = site->city;
            store->trade = (enum wp_sim_trade)((g * cfg->stores_per_region + s) % 3);
            store->lat = site->lat;
            store->lon = site->lon;
            size_t store_no = g * cfg->stores_per_region + s, staff = cfg->staff_per_store;
            if (cfg->employees) /* the first stores take one more when it does not divide */
                staff = n_staff / n_stores + (store_no < n_staff % n_stores);
            for (size_t i = 0; i < staff; i++) {
                size_t p = (size_t)add_person(c, &r, si, i == 0 ? "manager" : "sales",
                                              i == 0 ? "店长" : trade_title[store->trade], 1);
                unsigned mean = cfg->customers_per_sales;
                if (i == 0)
                    mean = mean / 2 ? mean / 2 : 1;
                int lo = (int)(mean * 7 / 10), hi = (int)(mean * 13 / 10);
                int n = wp_sim_rng_range(&r, lo ? lo : 1, hi > lo ? hi : (lo ? lo : 1));
                c->people[p].first_customer = c->n_customers;
                for (int k = 0; k < n; k++)
                    add_customer(c, &r, p, site->id_region);
                c->people[p].n_customers = c->n_customers - c->people[p].first_customer;
            }
        }
    }
    plan_leaver(c);
    plan_risks(c);
    plan_quick(c);
    plan_field(c);
    if ((err = wp_sim__media_new(c)) < 0) {
        wp_sim_company_free(c);
        return err;
    }
    *out = c;
    return 0;
}

void wp_sim_company_free(wp_sim_company *c)
{
    if (!c)
        return;
    wp_sim__media_free(c);
    free(c->units);
    free(c->people);
    free(c->customers);
    free(c);
}
