/* clock.c - civil dates by integer arithmetic, zones through ICU calendars.
 *
 * ICU calendars are costly to open, so one per zone is cached for the life
 * of the process (a run touches a handful of zones); clock_shutdown() closes
 * them. */
#include "clock.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

int clock_is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int clock_days_in_month(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && clock_is_leap(y) ? 29 : dim[m - 1];
}

/* Howard Hinnant's days_from_civil / civil_from_days. */
int64_t clock_days_from_civil(cc_date d)
{
    int64_t y = d.year - (d.month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (d.month + (d.month > 2 ? -3 : 9)) + 2) / 5 + d.day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

cc_date clock_civil_from_days(int64_t z)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp + (mp < 10 ? 3 : -9);
    cc_date r = {(int)(y + (m <= 2)), (int)m, (int)d};
    return r;
}

cc_date clock_add_days(cc_date d, int64_t n) { return clock_civil_from_days(clock_days_from_civil(d) + n); }

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int parse_date_prefix(const char *s, cc_date *d)
{
    if (digits(s, 4, &d->year) || s[4] != '-' || digits(s + 5, 2, &d->month) || s[7] != '-' ||
        digits(s + 8, 2, &d->day))
        return -1;
    if (d->year < 1 || d->month < 1 || d->month > 12 || d->day < 1 ||
        d->day > clock_days_in_month(d->year, d->month))
        return -1;
    return 0;
}

int clock_parse_date(const char *s, cc_date *d)
{
    if (strlen(s) != 10) return -1;
    return parse_date_prefix(s, d);
}

clock_iso_kind clock_iso_kind_of(const char *s, size_t n)
{
    cc_date d;
    int h, mi, sec;
    if (n < 10 || parse_date_prefix(s, &d) != 0) return CLOCK_ISO_NONE;
    if (n == 10) return CLOCK_ISO_DATE;
    if ((s[10] != 'T' && s[10] != ' ') || n < 16 || digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
        h > 23 || mi > 59)
        return CLOCK_ISO_NONE;
    size_t i = 16;
    if (i < n && s[i] == ':') {
        if (n < i + 3 || digits(s + i + 1, 2, &sec) || sec > 59) return CLOCK_ISO_NONE;
        i += 3;
        if (i < n && s[i] == '.') {
            size_t f = ++i;
            while (i < n && isdigit((unsigned char)s[i])) i++;
            if (i == f) return CLOCK_ISO_NONE;
        }
    }
    if (i == n) return CLOCK_ISO_DATETIME;
    if (s[i] == 'Z' && i + 1 == n) return CLOCK_ISO_DATETIME;
    int oh, om;
    if ((s[i] == '+' || s[i] == '-') && n == i + 6 && !digits(s + i + 1, 2, &oh) && s[i + 3] == ':' &&
        !digits(s + i + 4, 2, &om) && oh <= 14 && om <= 59)
        return CLOCK_ISO_DATETIME;
    return CLOCK_ISO_NONE;
}

void clock_format_date(cc_date d, char out[11])
{
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)d.year % 10000u, (unsigned)d.month % 100u,
             (unsigned)d.day % 100u);
}

/* ---- ICU ---------------------------------------------------------------- */

#define ZONE_CACHE 16
static struct {
    char *zone;
    UCalendar *cal;
} zone_cache[ZONE_CACHE];

static UCalendar *calendar_for(const char *zone)
{
    if (!zone || !*zone) zone = "UTC";
    for (int i = 0; i < ZONE_CACHE; i++)
        if (zone_cache[i].zone && strcmp(zone_cache[i].zone, zone) == 0) return zone_cache[i].cal;
    if (!clock_zone_valid(zone)) return NULL;
    UChar uz[128];
    UErrorCode st = U_ZERO_ERROR;
    u_strFromUTF8(uz, 128, NULL, zone, -1, &st);
    if (U_FAILURE(st)) return NULL;
    UCalendar *cal = ucal_open(uz, -1, "en_US", UCAL_GREGORIAN, &st);
    if (U_FAILURE(st)) return NULL;
    /* Proleptic Gregorian: no Julian switch for old birth dates. */
    ucal_setGregorianChange(cal, -8.64e15, &st);
    int slot = 0;
    for (int i = 0; i < ZONE_CACHE; i++)
        if (!zone_cache[i].zone) {
            slot = i;
            goto store;
        }
    /* Cache full: evict slot 0 (rare: more than 16 zones in one run). */
    free(zone_cache[0].zone);
    ucal_close(zone_cache[0].cal);
store:
    zone_cache[slot].zone = xstrdup(zone);
    zone_cache[slot].cal = cal;
    return cal;
}

void clock_shutdown(void)
{
    for (int i = 0; i < ZONE_CACHE; i++) {
        free(zone_cache[i].zone);
        if (zone_cache[i].cal) ucal_close(zone_cache[i].cal);
        zone_cache[i].zone = NULL;
        zone_cache[i].cal = NULL;
    }
}

int clock_zone_valid(const char *zone)
{
    if (!zone || !*zone || strlen(zone) > 100) return 0;
    UChar uz[128], canon[128];
    UErrorCode st = U_ZERO_ERROR;
    u_strFromUTF8(uz, 128, NULL, zone, -1, &st);
    if (U_FAILURE(st)) return 0;
    UBool system = 0;
    ucal_getCanonicalTimeZoneID(uz, -1, canon, 128, &system, &st);
    return U_SUCCESS(st) && system;
}

cc_code clock_local_to_utc(const char *zone, cc_date d, int hour, int minute, int second, int64_t *t)
{
    UCalendar *cal = calendar_for(zone);
    if (!cal) return CC_ERR_INPUT;
    UErrorCode st = U_ZERO_ERROR;
    ucal_clear(cal);
    ucal_setAttribute(cal, UCAL_LENIENT, 1);
    ucal_setDateTime(cal, d.year, d.month - 1, d.day, hour, minute, second, &st);
    UDate ms = ucal_getMillis(cal, &st);
    if (U_FAILURE(st)) return CC_ERR_INPUT;
    *t = (int64_t)(ms / 1000.0);
    return CC_OK;
}

cc_code clock_utc_to_local(const char *zone, int64_t t, cc_date *d, int *hour, int *minute,
                           int *second, int *offset_s)
{
    UCalendar *cal = calendar_for(zone);
    if (!cal) return CC_ERR_INPUT;
    UErrorCode st = U_ZERO_ERROR;
    ucal_setMillis(cal, (UDate)t * 1000.0, &st);
    d->year = ucal_get(cal, UCAL_EXTENDED_YEAR, &st);
    d->month = ucal_get(cal, UCAL_MONTH, &st) + 1;
    d->day = ucal_get(cal, UCAL_DATE, &st);
    if (hour) *hour = ucal_get(cal, UCAL_HOUR_OF_DAY, &st);
    if (minute) *minute = ucal_get(cal, UCAL_MINUTE, &st);
    if (second) *second = ucal_get(cal, UCAL_SECOND, &st);
    if (offset_s)
        *offset_s = (ucal_get(cal, UCAL_ZONE_OFFSET, &st) + ucal_get(cal, UCAL_DST_OFFSET, &st)) / 1000;
    return U_FAILURE(st) ? CC_ERR_INPUT : CC_OK;
}

void clock_format_instant(const char *zone, int64_t t, char out[32])
{
    cc_date d;
    int h = 0, m = 0, s = 0, off = 0;
    if (clock_utc_to_local(zone, t, &d, &h, &m, &s, &off) != CC_OK) {
        d = clock_civil_from_days(t >= 0 ? t / 86400 : (t - 86399) / 86400);
        int64_t sod = t - clock_days_from_civil(d) * 86400;
        h = (int)(sod / 3600), m = (int)(sod / 60 % 60), s = (int)(sod % 60), off = 0;
    }
    char sign = off < 0 ? '-' : '+';
    int a = off < 0 ? -off : off;
    snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02u%c%02u:%02u", (unsigned)d.year % 10000u,
             (unsigned)d.month % 100u, (unsigned)d.day % 100u, (unsigned)h % 100u,
             (unsigned)m % 100u, (unsigned)s % 100u, sign, (unsigned)(a / 3600) % 100u,
             (unsigned)(a / 60) % 60u);
}

cc_code clock_parse_instant(const char *s, const char *zone, int64_t *t)
{
    cc_date d;
    size_t len = strlen(s);
    if (len < 10 || parse_date_prefix(s, &d) != 0) return CC_ERR_INPUT;
    if (len == 10) return clock_local_to_utc(zone, d, 0, 0, 0, t);
    if (s[10] != 'T' && s[10] != ' ') return CC_ERR_INPUT;
    int h, mi, sec = 0;
    const char *p = s + 11;
    if (digits(p, 2, &h) || p[2] != ':' || digits(p + 3, 2, &mi)) return CC_ERR_INPUT;
    p += 5;
    if (*p == ':') {
        if (digits(p + 1, 2, &sec)) return CC_ERR_INPUT;
        p += 3;
    }
    if (h > 23 || mi > 59 || sec > 60) return CC_ERR_INPUT;
    if (*p == '\0') return clock_local_to_utc(zone, d, h, mi, sec, t);
    int off = 0;
    if (*p == 'Z' && p[1] == '\0') {
        off = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || digits(p + 4, 2, &om) || oh > 14 || om > 59) return CC_ERR_INPUT;
        off = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
    } else {
        return CC_ERR_INPUT;
    }
    *t = clock_days_from_civil(d) * 86400 + h * 3600 + mi * 60 + sec - off;
    return CC_OK;
}

int clock_may_have_offset(const char *s, size_t n)
{
    while (n && isspace((unsigned char)s[n - 1])) n--;
    if (n < 16) return 0;
    if (s[n - 1] == 'Z' || s[n - 1] == 'z') return 1;
    return s[n - 3] == ':' && (s[n - 6] == '+' || s[n - 6] == '-');
}

int clock_offset_to_wall(const char *s, size_t n, const char *zone, char out[CLOCK_WALL_MAX])
{
    cc_date d;
    int h, mi, sec = 0;
    if (n < 16 || parse_date_prefix(s, &d) != 0) return 0;
    size_t i = 10;
    if (s[i] != 'T' && !isspace((unsigned char)s[i])) return 0;
    while (i < n && (s[i] == 'T' || isspace((unsigned char)s[i]))) i++;
    if (n < i + 5 || digits(s + i, 2, &h) || s[i + 2] != ':' || digits(s + i + 3, 2, &mi) || h > 23 || mi > 59)
        return 0;
    i += 5;
    size_t frac = i, frac_len = 0;
    if (i < n && s[i] == ':') {
        if (n < i + 3 || digits(s + i + 1, 2, &sec) || sec > 59) return 0;
        i += 3;
        /* SQLite reads a '.' only with digits after it. */
        if (i + 1 < n && s[i] == '.' && isdigit((unsigned char)s[i + 1])) {
            frac = i++;
            while (i < n && isdigit((unsigned char)s[i])) i++;
            frac_len = i - frac;
        }
    }
    while (i < n && isspace((unsigned char)s[i])) i++;
    int off = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        if (n < i + 6 || digits(s + i + 1, 2, &oh) || s[i + 3] != ':' || digits(s + i + 4, 2, &om) || oh > 14 ||
            om > 59)
            return 0;
        off = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return 0;
    }
    while (i < n && isspace((unsigned char)s[i])) i++;
    if (i != n) return 0;
    int64_t t = clock_days_from_civil(d) * 86400 + h * 3600 + mi * 60 + sec - off;
    cc_date w;
    int wh, wm, ws;
    if (clock_utc_to_local(zone, t, &w, &wh, &wm, &ws, NULL) != CC_OK || w.year < 1 || w.year > 9999) return 0;
    /* Digits past nanoseconds say nothing SQLite keeps (it reads milliseconds). */
    if (frac_len > 10) frac_len = 10;
    snprintf(out, CLOCK_WALL_MAX, "%04u-%02u-%02u %02u:%02u:%02u%.*s", (unsigned)w.year % 10000u,
             (unsigned)w.month % 100u, (unsigned)w.day % 100u, (unsigned)wh % 100u, (unsigned)wm % 100u,
             (unsigned)ws % 100u, (int)frac_len, s + frac);
    return 1;
}

cc_code clock_init(cc_clock *c, const char *zone, const char *now_arg)
{
    c->zone = zone;
    if (now_arg) {
        if (clock_parse_instant(now_arg, zone, &c->now) != CC_OK) return CC_ERR_USAGE;
    } else {
        c->now = (int64_t)time(NULL);
    }
    return clock_utc_to_local(zone, c->now, &c->today, NULL, NULL, NULL, NULL);
}

/* ---- daily periods (quiet hours) ---------------------------------------- */

static int hhmm(const char *s)
{
    if (s[0] < '0' || s[0] > '2' || s[1] < '0' || s[1] > '9' || s[2] != ':' || s[3] < '0' || s[3] > '5' ||
        s[4] < '0' || s[4] > '9')
        return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0');
    return h > 23 ? -1 : h * 60 + (s[3] - '0') * 10 + (s[4] - '0');
}

int clock_parse_period(const char *s, cc_daily_period *p)
{
    memset(p, 0, sizeof *p);
    if (!s || strlen(s) != 11 || s[5] != '-') return -1;
    int from = hhmm(s), until = hhmm(s + 6);
    if (from < 0 || until < 0 || from == until) return -1;
    *p = (cc_daily_period){from, until, 1};
    return 0;
}

int clock_in_period(const cc_daily_period *p, const char *zone, int64_t t, int64_t *end)
{
    if (!p->set) return 0;
    cc_date d;
    int h = 0, m = 0;
    if (clock_utc_to_local(zone, t, &d, &h, &m, NULL, NULL) != CC_OK) return 0;
    int now = h * 60 + m;
    int from = p->from, until = p->until;
    int inside = from < until ? (now >= from && now < until) : (now >= from || now < until);
    if (!inside) return 0;
    /* The period ends at `until` today, or tomorrow when it started this
     * evening. */
    cc_date end_day = (from > until && now >= from) ? clock_add_days(d, 1) : d;
    if (clock_local_to_utc(zone, end_day, until / 60, until % 60, 0, end) != CC_OK) return 0;
    return 1;
}
