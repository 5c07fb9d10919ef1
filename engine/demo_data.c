/* demo_data.c - owns `carecast demo-data`: the synthetic customers, orders,
 * contracts, repairs, complaints, vehicles, events, invoices, homes and
 * points tables.
 *
 * Invariant: the rows are a pure function of (customers, seed, today).  The
 * PRNG is xoshiro256** seeded by splitmix64, dates come from days_from_civil
 * arithmetic (never the C library's time zone code), and rows are streamed
 * through prepared statements one customer at a time, so memory stays flat
 * for millions of customers. */
#include "demo_data.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "db.h"

/* ---- PRNG ------------------------------------------------------------------ */

typedef struct {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, n). */
static long below(rng *r, long n)
{
    if (n <= 1) return 0;
    return (long)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [lo, hi]. */
static long between(rng *r, long lo, long hi) { return lo + below(r, hi - lo + 1); }

/* True with probability pct/100. */
static int chance(rng *r, int pct) { return below(r, 100) < pct; }

/* Index into a list of n, skewed towards the front (frequent names first). */
static long skewed(rng *r, long n)
{
    uint64_t u = rng_next(r) >> 40; /* 24 bits */
    uint64_t sq = (u * u) >> 24;    /* u^2, still 24 bits */
    return (long)((sq * (uint64_t)n) >> 24);
}

#define PICK(r, arr) (arr[below((r), (long)(sizeof(arr) / sizeof(arr[0])))])
#define COUNT(arr) ((long)(sizeof(arr) / sizeof(arr[0])))

/* ---- civil dates --------------------------------------------------------- */

/* Room for any formatted date or date-time (generous so the compiler can prove it). */
#define DT_LEN 80

static long days_from_civil(long y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(long z, long *y, int *m, int *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(long y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static void fmt_date(long days, char out[DT_LEN])
{
    long y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, DT_LEN, "%04ld-%02d-%02d", y, m, d);
}

/* "YYYY-MM-DD HH:MM:SS" for a day and a second of that day. */
static void fmt_datetime(long days, long secs, char out[DT_LEN])
{
    long y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, DT_LEN, "%04ld-%02d-%02d %02ld:%02ld:%02ld", y, m, d, secs / 3600, secs / 60 % 60,
             secs % 60);
}

/* A plausible time of day for people and shops: 08:00-21:59. */
static long day_secs(rng *r) { return between(r, 8 * 3600, 22 * 3600 - 1); }

/* Same month-day `years` earlier; 29 Feb becomes 28 Feb in common years. */
static long years_before(long days, int years)
{
    long y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    y -= years;
    if (m == 2 && d == 29 && !is_leap(y)) d = 28;
    return days_from_civil(y, m, d);
}

/* Same day `months` earlier, clamped to the end of a shorter month (so that
 * adding the months back gives the original day whenever that day exists). */
static long months_before(long days, int months)
{
    long y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    long mm = y * 12 + (m - 1) - months;
    y = mm / 12;
    m = (int)(mm % 12) + 1;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int dim = mdays[m - 1] + (m == 2 && is_leap(y));
    if (d > dim) d = dim;
    return days_from_civil(y, m, d);
}

/* ---- vocabulary ------------------------------------------------------------ */

typedef struct {
    const char *hz, *py;
} hanzi;

static const hanzi surnames[] = {
    {"王", "wang"}, {"李", "li"},    {"张", "zhang"}, {"刘", "liu"},   {"陈", "chen"},  {"杨", "yang"},
    {"黄", "huang"}, {"赵", "zhao"}, {"吴", "wu"},    {"周", "zhou"},  {"徐", "xu"},    {"孙", "sun"},
    {"马", "ma"},   {"朱", "zhu"},   {"胡", "hu"},    {"郭", "guo"},   {"何", "he"},    {"高", "gao"},
    {"林", "lin"},  {"罗", "luo"},   {"郑", "zheng"}, {"梁", "liang"}, {"谢", "xie"},   {"宋", "song"},
    {"唐", "tang"}, {"许", "xu"},    {"韩", "han"},   {"冯", "feng"},  {"邓", "deng"},  {"曹", "cao"},
    {"彭", "peng"}, {"曾", "zeng"},  {"肖", "xiao"},  {"田", "tian"},  {"董", "dong"},  {"袁", "yuan"},
    {"潘", "pan"},  {"于", "yu"},    {"蒋", "jiang"}, {"蔡", "cai"},   {"余", "yu"},    {"杜", "du"},
    {"叶", "ye"},   {"程", "cheng"}, {"苏", "su"},    {"魏", "wei"},   {"吕", "lv"},    {"丁", "ding"},
    {"任", "ren"},  {"沈", "shen"},  {"欧阳", "ouyang"}, {"司马", "sima"}, {"诸葛", "zhuge"},
};

static const hanzi given_chars[] = {
    {"伟", "wei"},  {"芳", "fang"}, {"娜", "na"},   {"敏", "min"},   {"静", "jing"}, {"丽", "li"},
    {"强", "qiang"}, {"磊", "lei"}, {"军", "jun"},  {"洋", "yang"},  {"勇", "yong"}, {"艳", "yan"},
    {"杰", "jie"},  {"娟", "juan"}, {"涛", "tao"},  {"明", "ming"},  {"超", "chao"}, {"秀", "xiu"},
    {"霞", "xia"},  {"平", "ping"}, {"刚", "gang"}, {"桂", "gui"},   {"英", "ying"}, {"华", "hua"},
    {"建", "jian"}, {"文", "wen"},  {"辉", "hui"},  {"玲", "ling"},  {"欣", "xin"},  {"宇", "yu"},
    {"浩", "hao"},  {"婷", "ting"}, {"雪", "xue"},  {"晨", "chen"},  {"鑫", "xin"},  {"思", "si"},
    {"佳", "jia"},  {"子", "zi"},   {"梓", "zi"},   {"睿", "rui"},   {"轩", "xuan"}, {"一", "yi"},
    {"诺", "nuo"},  {"雨", "yu"},   {"涵", "han"},  {"博", "bo"},    {"嘉", "jia"},  {"志", "zhi"},
    {"海", "hai"},  {"燕", "yan"},  {"红", "hong"}, {"春", "chun"},  {"国", "guo"},  {"晓", "xiao"},
};

static const char *const western_first[] = {
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William",
    "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Emma", "Olivia", "Noah", "Liam", "Sophia", "Ava", "Lucas", "Mia",
    "Oliver", "Amelia", "Jack", "Charlotte", "Henry", "Grace", "Ethan", "Chloe", "Daniel", "Emily",
    "Matthew", "Hannah", "Zoë", "José",
};

static const char *const western_last[] = {
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee",
    "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Hall", "Young", "King", "Wright",
    "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts",
    "Carter", "O'Brien", "Nguyen",
};

static const char *const mail_domains[] = {
    "example.com", "example.net", "example.org", "mail.example.com", "qq.example.com",
    "163.example.com",
};

typedef struct {
    const char *tz, *locale, *city, *plate_prefix;
} place;

static const place cn_places[] = {
    {"Asia/Shanghai", "zh-CN", "上海", "沪A"}, {"Asia/Shanghai", "zh-CN", "北京", "京A"},
    {"Asia/Shanghai", "zh-CN", "广州", "粤A"}, {"Asia/Shanghai", "zh-CN", "深圳", "粤B"},
    {"Asia/Shanghai", "zh-CN", "杭州", "浙A"}, {"Asia/Shanghai", "zh-CN", "成都", "川A"},
    {"Asia/Shanghai", "zh-CN", "南京", "苏A"}, {"Asia/Shanghai", "zh-CN", "武汉", "鄂A"},
    {"Asia/Shanghai", "zh-CN", "西安", "陕A"}, {"Asia/Shanghai", "zh-CN", "重庆", "渝A"},
};
static const place cn_hk = {"Asia/Hong_Kong", "zh-CN", "香港", NULL};
static const place cn_tokyo = {"Asia/Tokyo", "zh-CN", "东京", NULL};

static const place west_places[] = {
    {"America/New_York", "en-US", "New York", NULL},    {"America/New_York", "en-US", "Boston", NULL},
    {"America/Los_Angeles", "en-US", "Los Angeles", NULL},
    {"America/Los_Angeles", "en-US", "San Francisco", NULL},
    {"Europe/London", "en-GB", "London", NULL},          {"Europe/London", "en-GB", "Manchester", NULL},
    {"Australia/Sydney", "en-AU", "Sydney", NULL},
};

static const char *const cn_mobile_prefixes[] = {
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
    "155", "156", "157", "158", "159", "176", "177", "180", "181", "186", "187", "188", "189", "199",
};
static const char *const us_area_codes[] = {"212", "617", "213", "415", "646", "310", "718"};

static const struct {
    const char *name;
    double price;
} products[] = {
    {"Annual Service", 899}, {"Oil Change", 299},       {"Tire Set", 2400},     {"Brake Pads", 680},
    {"Battery", 860},        {"Car Wash Card", 199},    {"Detailing", 520},     {"Accessories", 350},
    {"Insurance Premium", 4800}, {"Extended Warranty", 1999},
};

static const char *const contract_products[] = {
    "Car Insurance", "Extended Warranty", "Maintenance Plan", "Roadside Assistance", "Tire Protection",
};

static const char *const models[] = {
    "Toyota Camry", "Honda Accord", "BYD Han", "Tesla Model 3", "Volkswagen Passat", "BMW 3 Series",
    "Geely Boyue", "NIO ET5", "Ford Focus", "Mazda CX-5", "Nissan Sylphy", "Buick GL8",
};

static const char *const subjects_zh[] = {
    "账单金额有误", "维修等待时间太长", "客服电话打不通", "配件缺货", "服务态度差", "保养后仍有异响",
};
static const char *const subjects_en[] = {
    "Wrong amount on invoice", "Repair took too long", "Could not reach the hotline",
    "Part out of stock", "Unfriendly staff", "Noise after service",
};

static const char *const cn_streets[] = {
    "人民路", "解放路", "中山路", "建设路", "和平路", "长江路", "文化路", "滨江大道", "世纪大道", "东风路",
};
static const char *const cn_estates[] = {
    "锦绣花园", "阳光城", "翡翠湾", "金色家园", "碧水苑", "御景华庭", "春江花月", "海棠湾",
};
static const char *const west_streets[] = {
    "Main St", "Oak Ave", "Maple Dr", "Park Rd", "Elm St", "High St", "Church Rd", "Harbour View",
};

static const char *const event_types[] = {
    "app_login", "page_view", "coupon_claimed", "survey_completed", "store_visit",
};
static const char *const event_data[] = {
    "{\"channel\":\"app\"}", "{\"page\":\"/offers\"}", "{\"coupon\":\"SPRING10\"}",
    "{\"score\":9}", "{\"store\":\"S-014\"}",
};

/* ---- the generator --------------------------------------------------------- */

enum { S_CUST, S_ORDER, S_CONTRACT, S_REPAIR, S_COMPLAINT, S_VEHICLE, S_EVENT, S_INVOICE, S_HOME, S_POINTS,
       N_STMTS };

typedef struct {
    sqlite3 *db;
    rng r;
    long today;        /* anchor, days since 1970-01-01 */
    long anchor_year;
    int anchor_m, anchor_d;
    sqlite3_stmt *st[N_STMTS];
    demo_counts n;
    long event_id;
} gen;

static const char *cust_col(const cc_config *cfg, int which)
{
    static const char *const defaults[] = {"id", "email", "phone", "birth_date", "locale",
                                           "timezone", "email_opt_in", "sms_opt_in",
                                           "preferred_channel"};
    const char *v = NULL;
    if (cfg) {
        const char *const mapped[] = {cfg->customers.id, cfg->customers.email, cfg->customers.phone,
                                      cfg->customers.birth_date, cfg->customers.locale,
                                      cfg->customers.timezone, cfg->customers.email_opt_in,
                                      cfg->customers.sms_opt_in, cfg->customers.preferred_channel};
        v = mapped[which];
    }
    return v && *v ? v : defaults[which];
}

static const char *cust_table(const cc_config *cfg)
{
    return cfg && cfg->customers.table && *cfg->customers.table ? cfg->customers.table : "customers";
}

static int step(gen *g, int which)
{
    sqlite3_stmt *st = g->st[which];
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "carecast: demo-data: %s\n", sqlite3_errmsg(g->db));
        return -1;
    }
    return 0;
}

static void bind_str(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* Emails keep the customer number so they are unique. */
static void make_email(gen *g, const char *a, const char *b, long no, char *out, size_t outlen)
{
    char la[32], lb[32];
    size_t k = 0;
    for (const char *p = a; *p && k < sizeof la - 1; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) la[k++] = (char)(*p | 0x20);
    la[k] = '\0';
    k = 0;
    for (const char *p = b; *p && k < sizeof lb - 1; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) lb[k++] = (char)(*p | 0x20);
    lb[k] = '\0';
    const char *dom = PICK(&g->r, mail_domains);
    switch (below(&g->r, 3)) {
    case 0: snprintf(out, outlen, "%s.%s.%ld@%s", la, lb, no, dom); break;
    case 1: snprintf(out, outlen, "%s%s%ld@%s", lb, la, no, dom); break;
    default: snprintf(out, outlen, "%c.%s_%ld@%s", la[0] ? la[0] : 'x', lb, no, dom); break;
    }
}

static int gen_customer(gen *g, long no)
{
    rng *r = &g->r;
    char id[24], first[64], last[64], name[128], email[160], phone[24], birth[DT_LEN], created[DT_LEN],
        rep[64];
    const char *email_p = email, *phone_p = phone, *birth_p = birth, *rep_p = rep;
    snprintf(id, sizeof id, "C-%06ld", no);
    int chinese = chance(r, 70);
    const place *pl;

    if (chinese) {
        const hanzi *sn = &surnames[skewed(r, COUNT(surnames))];
        const hanzi *g1 = &PICK(r, given_chars);
        const hanzi *g2 = chance(r, 60) ? &PICK(r, given_chars) : NULL;
        snprintf(last, sizeof last, "%s", sn->hz);
        snprintf(first, sizeof first, "%s%s", g1->hz, g2 ? g2->hz : "");
        snprintf(name, sizeof name, "%s%s", last, first);
        char gpy[32];
        snprintf(gpy, sizeof gpy, "%s%s", g1->py, g2 ? g2->py : "");
        make_email(g, gpy, sn->py, no, email, sizeof email);
        if (chance(r, 15)) email_p = NULL;
        long z = below(r, 100);
        pl = z < 86 ? &PICK(r, cn_places) : z < 94 ? &cn_hk : &cn_tokyo;
        if (pl == &cn_hk && chance(r, 50))
            snprintf(phone, sizeof phone, "+852%c%07ld", "569"[below(r, 3)], below(r, 10000000));
        else if (pl == &cn_tokyo && chance(r, 50))
            snprintf(phone, sizeof phone, "+8190%08ld", below(r, 100000000));
        else
            snprintf(phone, sizeof phone, "+86%s%08ld", PICK(r, cn_mobile_prefixes),
                     below(r, 100000000));
        if (chance(r, 6)) phone_p = NULL;
    } else {
        snprintf(first, sizeof first, "%s", western_first[skewed(r, COUNT(western_first))]);
        snprintf(last, sizeof last, "%s", western_last[skewed(r, COUNT(western_last))]);
        snprintf(name, sizeof name, "%s %s", first, last);
        make_email(g, first, last, no, email, sizeof email);
        if (chance(r, 5)) email_p = NULL;
        pl = &PICK(r, west_places);
        /* Numbers from ranges reserved for fiction: 555-01xx, 07700 900xxx, 0491 570xxx. */
        if (strcmp(pl->tz, "Europe/London") == 0)
            snprintf(phone, sizeof phone, "+447700900%03ld", below(r, 1000));
        else if (strcmp(pl->tz, "Australia/Sydney") == 0)
            snprintf(phone, sizeof phone, "+61491570%03ld", below(r, 1000));
        else
            snprintf(phone, sizeof phone, "+1%s55501%02ld", PICK(r, us_area_codes), below(r, 100));
        if (chance(r, 10)) phone_p = NULL;
    }

    /* Birthday: age 18-85; 1 in 300 on the anchor's month-day, 1 in 500 on 29 Feb. */
    long age = between(r, 18, 85);
    long by = g->anchor_year - age;
    long bdays;
    if (no % 300 == 7) {
        if (g->anchor_m == 2 && g->anchor_d == 29) by -= ((by % 4) + 4) % 4;
        bdays = days_from_civil(by, g->anchor_m, g->anchor_d);
        (void)below(r, 366);
    } else if (no % 500 == 17) {
        by -= ((by % 4) + 4) % 4;
        bdays = days_from_civil(by, 2, 29);
        (void)below(r, 366);
    } else {
        long jan1 = days_from_civil(by, 1, 1);
        bdays = jan1 + below(r, is_leap(by) ? 366 : 365);
    }
    fmt_date(bdays, birth);
    if (no % 300 != 7 && no % 500 != 17 && chance(r, 3)) birth_p = NULL;

    const char *tz = chance(r, 2) ? NULL : pl->tz;
    long st = below(r, 100);
    const char *cstatus = st < 90 ? "active" : st < 95 ? "inactive" : st < 98 ? "dormant" : "closed";
    int email_opt = chance(r, 65), sms_opt = chance(r, 55);
    long pc = below(r, 100);
    const char *pref = chinese ? (pc < 30 ? "email" : pc < 80 ? "sms" : NULL)
                               : (pc < 60 ? "email" : pc < 80 ? "sms" : NULL);
    /* Acquired in the last 8 years; 1 in 300 joined exactly 1-7 years
     * before the anchor (membership anniversary), 1 in 300 made their first
     * purchase 7 days and 1 in 300 30 days before it (new buyers), and 1 in
     * 300 is a valuable customer who stopped buying over a year ago. */
    long created_day = g->today - below(r, 8 * 365);
    int forced = (int)(no % 300);
    if (forced == 11)
        created_day = years_before(g->today, (int)(1 + (no / 300) % 7));
    else if (forced == 13)
        created_day = g->today - 7;
    else if (forced == 14)
        created_day = g->today - 30;
    else if (forced == 19)
        created_day = g->today - 4 * 365 - below(r, 365);
    fmt_datetime(created_day, day_secs(r), created);
    if (chance(r, 70))
        snprintf(rep, sizeof rep, "rm%02ld@care.example.com", between(r, 1, 25));
    else
        rep_p = NULL;
    /* The books' ABC tiers: A ~5%, B ~15%, C the rest (as the CRM last
     * computed them; carecast's own segments recompute value tiers). */
    long tr = below(r, 100);
    const char *tier = tr < 5 ? "A" : tr < 20 ? "B" : "C";

    sqlite3_stmt *s = g->st[S_CUST];
    bind_str(s, 1, id);
    bind_str(s, 2, first);
    bind_str(s, 3, last);
    bind_str(s, 4, name);
    bind_str(s, 5, email_p);
    bind_str(s, 6, phone_p);
    bind_str(s, 7, birth_p);
    bind_str(s, 8, pl->locale);
    bind_str(s, 9, tz);
    bind_str(s, 10, pl->city);
    bind_str(s, 11, cstatus);
    sqlite3_bind_int(s, 12, email_opt);
    sqlite3_bind_int(s, 13, sms_opt);
    bind_str(s, 14, pref);
    bind_str(s, 15, created);
    bind_str(s, 16, rep_p);
    bind_str(s, 17, tier);
    if (step(g, S_CUST)) return -1;
    g->n.customers++;

    /* Orders: 0-8 in the last 3 years, not before the customer arrived. */
    static const int order_weights[] = {15, 20, 18, 14, 11, 8, 6, 4, 4};
    long w = below(r, 100), norders = 0;
    for (int acc = 0; norders < 8 && w >= (acc += order_weights[norders]);) norders++;
    long first_order = created_day > g->today - 3 * 365 ? created_day : g->today - 3 * 365;
    long last_order = g->today;
    if ((forced == 13 || forced == 14) && norders == 0) norders = 1;
    if (forced == 19) {
        norders = 3; /* lapsed: big tickets, none in the last 400 days */
        last_order = g->today - 400;
    }
    for (long k = 0; k < norders; k++) {
        char oid[24], at[DT_LEN];
        snprintf(oid, sizeof oid, "O-%08ld", g->n.orders + 1);
        long oday = between(r, first_order, last_order);
        if ((forced == 13 || forced == 14) && k == 0) oday = created_day; /* the first purchase */
        fmt_datetime(oday, day_secs(r), at);
        long pi = below(r, COUNT(products));
        if (forced == 19) pi = 8; /* Insurance Premium */
        double amount = (double)(long)(products[pi].price * (80 + below(r, 41))) / 100.0;
        sqlite3_stmt *o = g->st[S_ORDER];
        bind_str(o, 1, oid);
        bind_str(o, 2, id);
        bind_str(o, 3, at);
        sqlite3_bind_double(o, 4, amount);
        bind_str(o, 5, products[pi].name);
        if (step(g, S_ORDER)) return -1;
        g->n.orders++;
    }

    /* Contracts: 55% one, 15% two; end dates spread around the anchor, and
     * some end exactly 30, 7 and 1 days after it. */
    long c = below(r, 100), ncontracts = c < 55 ? 1 : c < 70 ? 2 : 0;
    for (long k = 0; k < ncontracts; k++) {
        long cno = g->n.contracts + 1;
        char kid[24], sd[DT_LEN], ed[DT_LEN];
        snprintf(kid, sizeof kid, "K-%07ld", cno);
        long end = g->today + between(r, -200, 400);
        switch (cno % 40) {
        case 0: end = g->today + 30; break;
        case 1: end = g->today + 7; break;
        case 2: end = g->today + 1; break;
        default: break;
        }
        long t = below(r, 100);
        int term = t < 60 ? 1 : t < 85 ? 2 : 3;
        int auto_renew = chance(r, 35);
        fmt_date(end, ed);
        fmt_date(years_before(end, term), sd);
        const char *status = end < g->today ? (auto_renew ? "renewed" : "expired")
                                            : chance(r, 3) ? "cancelled" : "active";
        sqlite3_stmt *k2 = g->st[S_CONTRACT];
        bind_str(k2, 1, kid);
        bind_str(k2, 2, id);
        bind_str(k2, 3, PICK(r, contract_products));
        bind_str(k2, 4, sd);
        bind_str(k2, 5, ed);
        bind_str(k2, 6, status);
        sqlite3_bind_int(k2, 7, auto_renew);
        if (step(g, S_CONTRACT)) return -1;
        g->n.contracts++;
    }

    /* Repairs: 30% of customers; many closed recently, some exactly 3 and
     * 14 days before the anchor, a few still open. */
    long nrep = chance(r, 30) ? (chance(r, 80) ? 1 : 2) : 0;
    for (long k = 0; k < nrep; k++) {
        long rno = g->n.repairs + 1;
        char rid[24], op[DT_LEN], cl[DT_LEN];
        snprintf(rid, sizeof rid, "R-%07ld", rno);
        long dur = below(r, 15);
        long closed;
        if (rno % 25 == 0)
            closed = g->today - 3;
        else if (rno % 25 == 1)
            closed = g->today - 14;
        else
            closed = g->today - (chance(r, 40) ? below(r, 60) : below(r, 400)) + below(r, 10);
        long opened = closed - dur, osecs = day_secs(r), csecs = day_secs(r);
        if (dur == 0 && csecs < osecs) csecs = osecs + (22 * 3600 - 1 - osecs) / 2;
        fmt_datetime(opened, osecs, op);
        int is_closed = closed < g->today;
        const char *status = is_closed ? "closed" : chance(r, 50) ? "open" : "in_progress";
        fmt_datetime(closed, csecs, cl);
        sqlite3_stmt *rs = g->st[S_REPAIR];
        bind_str(rs, 1, rid);
        bind_str(rs, 2, id);
        bind_str(rs, 3, op);
        bind_str(rs, 4, is_closed ? cl : NULL);
        bind_str(rs, 5, status);
        if (is_closed && chance(r, 60)) {
            static const int ratings[] = {1, 2, 3, 4, 4, 5, 5, 5, 5, 5};
            sqlite3_bind_int(rs, 6, PICK(r, ratings));
        } else {
            sqlite3_bind_null(rs, 6);
        }
        if (step(g, S_REPAIR)) return -1;
        g->n.repairs++;
    }

    /* Complaints: 8% of customers, some still open. */
    if (chance(r, 8)) {
        long ncomp = chance(r, 85) ? 1 : 2;
        for (long k = 0; k < ncomp; k++) {
            long pno = g->n.complaints + 1;
            char pid[24], op[DT_LEN], cl[DT_LEN];
            snprintf(pid, sizeof pid, "P-%07ld", pno);
            long opened = g->today - below(r, 365), osecs = day_secs(r);
            long sv = below(r, 100);
            long closed = opened + between(r, 1, 30);
            /* 1 in 20 opened the day before the anchor and still open (to be
             * acknowledged), 1 in 20 closed exactly 3 days before it. */
            if (pno % 20 == 0) {
                opened = g->today - 1;
                sv = 0;
            } else if (pno % 20 == 1) {
                closed = g->today - 3;
                opened = closed - below(r, 10);
                if (sv < 40) sv = 80;
            }
            fmt_datetime(opened, osecs, op);
            const char *status = sv < 25 ? "open" : sv < 40 ? "in_progress" : sv < 80 ? "resolved" : "closed";
            if (closed > g->today) closed = g->today;
            long csecs = day_secs(r);
            if (closed == opened && csecs < osecs) csecs = osecs + (22 * 3600 - 1 - osecs) / 2;
            fmt_datetime(closed, csecs, cl);
            sqlite3_stmt *cs = g->st[S_COMPLAINT];
            bind_str(cs, 1, pid);
            bind_str(cs, 2, id);
            bind_str(cs, 3, op);
            bind_str(cs, 4, chinese ? PICK(r, subjects_zh) : PICK(r, subjects_en));
            bind_str(cs, 5, status);
            bind_str(cs, 6, sv >= 40 ? cl : NULL);
            if (step(g, S_COMPLAINT)) return -1;
            g->n.complaints++;
        }
    }

    /* Vehicles: 30% of customers. */
    if (chance(r, 30)) {
        long vno = g->n.vehicles + 1;
        char vid[24], plate[96], bought[DT_LEN], insp[DT_LEN], ins[DT_LEN], svc[DT_LEN];
        snprintf(vid, sizeof vid, "V-%07ld", vno);
        static const char letters[] = "ABCDEFGHJKLMNPQRSTUVWXYZ";
        if (pl->plate_prefix)
            snprintf(plate, sizeof plate, "%s%c%04ld", pl->plate_prefix, letters[below(r, 24)],
                     below(r, 10000));
        else if (pl == &cn_hk)
            snprintf(plate, sizeof plate, "%c%c %ld", letters[below(r, 24)], letters[below(r, 24)],
                     between(r, 1, 9999));
        else if (pl == &cn_tokyo)
            snprintf(plate, sizeof plate, "品川 %ld あ %02ld-%02ld", between(r, 300, 399),
                     below(r, 100), below(r, 100));
        else
            snprintf(plate, sizeof plate, "%c%c%c-%04ld", letters[below(r, 24)], letters[below(r, 24)],
                     letters[below(r, 24)], below(r, 10000));
        long age_days = between(r, 30, 10 * 365);
        long ni = g->today + between(r, -20, 365), ie = g->today + between(r, -30, 365);
        long km_per_day = between(r, 20, 60);
        /* Serviced every 6-14 months; the odometer is read at every visit. */
        long since_service = below(r, 420);
        switch (vno % 30) {
        case 0: ni = g->today + 30; break;
        case 1: ni = g->today + 14; break; /* inspection reminder today */
        case 2: ie = g->today + 30; break; /* insurance reminder today */
        case 3: ie = g->today + 1; break;
        case 4: age_days = 7; break;       /* free new-vehicle check today */
        case 5:                            /* maintenance due: 15,000 km and more */
            if (age_days < 900) age_days = 900;
            km_per_day = 40;
            since_service = 380 + below(r, 30);
            break;
        default: break;
        }
        long mileage = age_days * km_per_day;
        fmt_date(g->today - age_days, bought);
        fmt_date(ni, insp);
        fmt_date(ie, ins);
        int serviced = since_service < age_days;
        if (serviced) fmt_date(g->today - since_service, svc);
        sqlite3_stmt *vs = g->st[S_VEHICLE];
        bind_str(vs, 1, vid);
        bind_str(vs, 2, id);
        bind_str(vs, 3, plate);
        bind_str(vs, 4, PICK(r, models));
        bind_str(vs, 5, bought);
        bind_str(vs, 6, insp);
        bind_str(vs, 7, ins);
        sqlite3_bind_int64(vs, 8, mileage);
        bind_str(vs, 9, serviced ? svc : NULL);
        if (serviced)
            sqlite3_bind_int64(vs, 10, mileage - since_service * km_per_day);
        else
            sqlite3_bind_null(vs, 10);
        if (step(g, S_VEHICLE)) return -1;
        g->n.vehicles++;
    }

    /* Events: 0-3 recent activities. */
    long nev = below(r, 4);
    for (long k = 0; k < nev; k++) {
        char at[DT_LEN];
        long ti = below(r, COUNT(event_types));
        fmt_datetime(g->today - below(r, 90), day_secs(r), at);
        sqlite3_stmt *es = g->st[S_EVENT];
        sqlite3_bind_int64(es, 1, ++g->event_id);
        bind_str(es, 2, id);
        bind_str(es, 3, event_types[ti]);
        bind_str(es, 4, at);
        bind_str(es, 5, event_data[ti]);
        if (step(g, S_EVENT)) return -1;
        g->n.events++;
    }

    /* Invoices: 40% of customers, 1-3 in the last five months, due 15 days
     * after issue; most paid, some in arrears, and some fall due exactly 3
     * and 15 days before the anchor unpaid. */
    long ninv = chance(r, 40) ? between(r, 1, 3) : 0;
    for (long k = 0; k < ninv; k++) {
        long ino = g->n.invoices + 1;
        char iid[24], issued[DT_LEN], due[DT_LEN], paid[DT_LEN];
        snprintf(iid, sizeof iid, "I-%07ld", ino);
        long iss = g->today - below(r, 150);
        long dd = iss + 15;
        int unpaid;
        if (ino % 100 == 0) {
            dd = g->today - 3;
            unpaid = 1;
        } else if (ino % 100 == 1) {
            dd = g->today - 15;
            unpaid = 1;
        } else {
            unpaid = dd >= g->today ? chance(r, 70) : chance(r, 8);
        }
        iss = dd - 15;
        long pd = iss + below(r, 25);
        if (pd > g->today) pd = g->today;
        fmt_date(iss, issued);
        fmt_date(dd, due);
        fmt_datetime(pd, day_secs(r), paid);
        double amount = (double)between(r, 9900, 299900) / 100.0;
        sqlite3_stmt *is = g->st[S_INVOICE];
        bind_str(is, 1, iid);
        bind_str(is, 2, id);
        bind_str(is, 3, issued);
        bind_str(is, 4, due);
        sqlite3_bind_double(is, 5, amount);
        bind_str(is, 6, unpaid ? NULL : paid);
        if (step(g, S_INVOICE)) return -1;
        g->n.invoices++;
    }

    /* Homes: 6% of customers bought a home handed over in the last three
     * years; some exactly 30 days, 3 months and 11 months before the anchor
     * (day clamped to the shorter month). */
    if (chance(r, 6)) {
        long hno = g->n.homes + 1;
        char hid[24], addr[256], ho[DT_LEN];
        snprintf(hid, sizeof hid, "H-%07ld", hno);
        long hday = g->today - below(r, 3 * 365);
        switch (hno % 20) {
        case 0: hday = g->today - 30; break;
        case 1: hday = months_before(g->today, 3); break;
        case 2: hday = months_before(g->today, 11); break;
        default: break;
        }
        if (chinese)
            snprintf(addr, sizeof addr, "%s%s%ld号%s%ld栋%ld室", pl->city, PICK(r, cn_streets),
                     between(r, 1, 999), PICK(r, cn_estates), between(r, 1, 30),
                     between(r, 1, 33) * 100 + between(r, 1, 4));
        else
            snprintf(addr, sizeof addr, "%ld %s, %s", between(r, 1, 250), PICK(r, west_streets), pl->city);
        fmt_date(hday, ho);
        sqlite3_stmt *hs = g->st[S_HOME];
        bind_str(hs, 1, hid);
        bind_str(hs, 2, id);
        bind_str(hs, 3, addr);
        bind_str(hs, 4, ho);
        if (step(g, S_HOME)) return -1;
        g->n.homes++;
    }

    /* Points: 40% of customers are club members with 1-2 batches; a batch
     * expires two years after it was earned, some are fully redeemed, and
     * some expire exactly 30 days after the anchor. */
    long npts = chance(r, 40) ? (chance(r, 70) ? 1 : 2) : 0;
    for (long k = 0; k < npts; k++) {
        long pno = g->n.points + 1;
        char ptid[24], earned[DT_LEN], expires[DT_LEN];
        snprintf(ptid, sizeof ptid, "PT-%07ld", pno);
        long exp = g->today + between(r, -60, 730);
        if (pno % 50 == 0) exp = g->today + 30;
        long earned_day = years_before(exp, 2);
        long points = chance(r, 15) ? 0 : between(r, 1, 100) * 50;
        fmt_date(earned_day, earned);
        fmt_date(exp, expires);
        sqlite3_stmt *ps = g->st[S_POINTS];
        bind_str(ps, 1, ptid);
        bind_str(ps, 2, id);
        sqlite3_bind_int64(ps, 3, points);
        bind_str(ps, 4, earned);
        bind_str(ps, 5, expires);
        if (step(g, S_POINTS)) return -1;
        g->n.points++;
    }
    return 0;
}

static int parse_day(const char *s, long *days, long *y, int *m, int *d)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-') return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return -1;
    *y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    *m = (s[5] - '0') * 10 + (s[6] - '0');
    *d = (s[8] - '0') * 10 + (s[9] - '0');
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (*y < 1900 || *m < 1 || *m > 12 || *d < 1 || *d > mdays[*m - 1] + (*m == 2 && is_leap(*y)))
        return -1;
    *days = days_from_civil(*y, *m, *d);
    return 0;
}

cc_code demo_data_generate(sqlite3 *db, const cc_config *cfg, long customers, uint64_t seed,
                           const char *today, FILE *progress, demo_counts *counts)
{
    if (counts) memset(counts, 0, sizeof *counts);
    if (customers < 0 || customers > 99999999) {
        fprintf(stderr, "carecast: demo-data: --customers must be between 0 and 99999999\n");
        return CC_ERR_USAGE;
    }
    gen g;
    memset(&g, 0, sizeof g);
    g.db = db;
    rng_seed(&g.r, seed);
    char todaybuf[DT_LEN];
    if (!today) {
        fmt_date((long)(time(NULL) / 86400), todaybuf);
        today = todaybuf;
    }
    if (parse_day(today, &g.today, &g.anchor_year, &g.anchor_m, &g.anchor_d) != 0) {
        fprintf(stderr, "carecast: demo-data: invalid date '%s' (expected YYYY-MM-DD)\n", today);
        return CC_ERR_USAGE;
    }

    const char *ct = cust_table(cfg);
    if (strncasecmp(ct, "care_", 5) == 0) {
        fprintf(stderr, "carecast: demo-data: the customers table may not be named care_*\n");
        return CC_ERR_USAGE;
    }
    static const char *const related[] = {"orders",  "contracts", "repairs", "complaints", "vehicles",
                                          "events",  "invoices",  "homes",   "points"};
    cc_buf sql = CC_BUF_INIT, qt = CC_BUF_INIT, col = CC_BUF_INIT;
    db_quote_ident(ct, &qt);
    const char *QT = cc_buf_str(&qt);
    cc_code code = CC_OK;

    if (db_begin(db) != CC_OK) {
        fprintf(stderr, "carecast: demo-data: cannot lock the database: %s\n", sqlite3_errmsg(db));
        cc_buf_free(&qt);
        return CC_ERR_DB;
    }
    sqlite3_exec(db, "PRAGMA cache_size=-65536", NULL, NULL, NULL);

    cc_buf_printf(&sql, "DROP TABLE IF EXISTS %s;", QT);
    for (size_t i = 0; i < sizeof related / sizeof *related; i++)
        cc_buf_printf(&sql, "DROP TABLE IF EXISTS %s;", related[i]);

    /* customers, with the configured column names */
    const char *cols[17];
    /* Dates and date-times are declared as such, as import declares what
     * it reads: the schema says what the data is. */
    const char *types[17] = {"TEXT PRIMARY KEY", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "DATE", "TEXT",
                             "TEXT", "TEXT", "TEXT", "INTEGER", "INTEGER", "TEXT", "DATETIME", "TEXT", "TEXT"};
    cols[0] = cust_col(cfg, 0);
    cols[1] = "first_name";
    cols[2] = "last_name";
    cols[3] = "name";
    cols[4] = cust_col(cfg, 1);
    cols[5] = cust_col(cfg, 2);
    cols[6] = cust_col(cfg, 3);
    cols[7] = cust_col(cfg, 4);
    cols[8] = cust_col(cfg, 5);
    cols[9] = "city";
    cols[10] = "status";
    cols[11] = cust_col(cfg, 6);
    cols[12] = cust_col(cfg, 7);
    cols[13] = cust_col(cfg, 8);
    cols[14] = "created_at";
    cols[15] = "rep_email";
    cols[16] = "tier";
    cc_buf_printf(&sql, "CREATE TABLE %s(", QT);
    for (int i = 0; i < 17; i++) {
        cc_buf_reset(&col);
        db_quote_ident(cols[i], &col);
        cc_buf_printf(&sql, "%s%s %s", i ? ", " : "", cc_buf_str(&col), types[i]);
    }
    cc_buf_puts(&sql,
                ");"
                "CREATE TABLE orders(id TEXT PRIMARY KEY, customer_id TEXT, ordered_at DATETIME,"
                " amount REAL, product TEXT);"
                "CREATE TABLE contracts(id TEXT PRIMARY KEY, customer_id TEXT, product TEXT,"
                " start_date DATE, end_date DATE, status TEXT, auto_renew INTEGER);"
                "CREATE TABLE repairs(id TEXT PRIMARY KEY, customer_id TEXT, opened_at DATETIME,"
                " closed_at DATETIME, status TEXT, rating INTEGER);"
                "CREATE TABLE complaints(id TEXT PRIMARY KEY, customer_id TEXT, opened_at DATETIME,"
                " subject TEXT, status TEXT, closed_at DATETIME);"
                "CREATE TABLE vehicles(id TEXT PRIMARY KEY, customer_id TEXT, plate TEXT, model TEXT,"
                " purchased_on DATE, next_inspection DATE, insurance_expires DATE, mileage_km INTEGER,"
                " last_service_on DATE, last_service_km INTEGER);"
                "CREATE TABLE events(id INTEGER PRIMARY KEY, customer_id TEXT, type TEXT, at DATETIME,"
                " data TEXT);"
                "CREATE TABLE invoices(id TEXT PRIMARY KEY, customer_id TEXT, issued_on DATE,"
                " due_date DATE, amount REAL, paid_at DATETIME);"
                "CREATE TABLE homes(id TEXT PRIMARY KEY, customer_id TEXT, address TEXT,"
                " handover_date DATE);"
                "CREATE TABLE points(id TEXT PRIMARY KEY, customer_id TEXT, points INTEGER,"
                " earned_on DATE, expires_on DATE);");
    if (db_exec(db, cc_buf_str(&sql), "demo-data: cannot create the tables") != CC_OK) {
        code = CC_ERR_DB;
        goto out;
    }

    cc_buf_reset(&sql);
    cc_buf_printf(&sql, "INSERT INTO %s VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", QT);
    const char *inserts[N_STMTS] = {
        cc_buf_str(&sql),
        "INSERT INTO orders VALUES (?,?,?,?,?)",
        "INSERT INTO contracts VALUES (?,?,?,?,?,?,?)",
        "INSERT INTO repairs VALUES (?,?,?,?,?,?)",
        "INSERT INTO complaints VALUES (?,?,?,?,?,?)",
        "INSERT INTO vehicles VALUES (?,?,?,?,?,?,?,?,?,?)",
        "INSERT INTO events VALUES (?,?,?,?,?)",
        "INSERT INTO invoices VALUES (?,?,?,?,?,?)",
        "INSERT INTO homes VALUES (?,?,?,?)",
        "INSERT INTO points VALUES (?,?,?,?,?)",
    };
    for (int i = 0; i < N_STMTS; i++) {
        if (sqlite3_prepare_v2(db, inserts[i], -1, &g.st[i], NULL) != SQLITE_OK) {
            fprintf(stderr, "carecast: demo-data: %s\n", sqlite3_errmsg(db));
            code = CC_ERR_DB;
            goto out;
        }
    }

    for (long no = 1; no <= customers; no++) {
        if (gen_customer(&g, no) != 0) {
            code = CC_ERR_DB;
            goto out;
        }
        if (progress && no % 100000 == 0) {
            fprintf(progress, "demo-data: %ld of %ld customers\n", no, customers);
            fflush(progress);
        }
    }

    cc_buf_reset(&sql);
    cc_buf_reset(&col);
    {
        char *ixname = xasprintf("%s_birth_date", ct);
        cc_buf_puts(&sql, "CREATE INDEX ");
        db_quote_ident(ixname, &sql);
        free(ixname);
    }
    db_quote_ident(cust_col(cfg, 3), &col);
    cc_buf_printf(&sql, " ON %s(%s);", QT, cc_buf_str(&col));
    for (size_t i = 0; i < sizeof related / sizeof *related; i++)
        cc_buf_printf(&sql, "CREATE INDEX %s_customer_id ON %s(customer_id);", related[i],
                      related[i]);
    if (db_exec(db, cc_buf_str(&sql), "demo-data: cannot create the indexes") != CC_OK) {
        code = CC_ERR_DB;
        goto out;
    }
    for (int i = 0; i < N_STMTS; i++) {
        sqlite3_finalize(g.st[i]);
        g.st[i] = NULL;
    }
    if (db_commit(db) != CC_OK) {
        fprintf(stderr, "carecast: demo-data: cannot commit: %s\n", sqlite3_errmsg(db));
        code = CC_ERR_DB;
        goto out;
    }
    if (counts) *counts = g.n;

out:
    for (int i = 0; i < N_STMTS; i++) sqlite3_finalize(g.st[i]);
    if (code != CC_OK) db_rollback(db);
    cc_buf_free(&sql);
    cc_buf_free(&qt);
    cc_buf_free(&col);
    return code;
}

void demo_counts_print(const demo_counts *c, const cc_config *cfg, FILE *out)
{
    fprintf(out, "%s %ld\n", cust_table(cfg), c->customers);
    fprintf(out, "orders %ld\n", c->orders);
    fprintf(out, "contracts %ld\n", c->contracts);
    fprintf(out, "repairs %ld\n", c->repairs);
    fprintf(out, "complaints %ld\n", c->complaints);
    fprintf(out, "vehicles %ld\n", c->vehicles);
    fprintf(out, "events %ld\n", c->events);
    fprintf(out, "invoices %ld\n", c->invoices);
    fprintf(out, "homes %ld\n", c->homes);
    fprintf(out, "points %ld\n", c->points);
}
