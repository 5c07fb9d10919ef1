/* clock.h - the business clock, civil dates and time zones.
 *
 * Instants are int64 unix seconds (UTC).  Civil dates are computed with
 * integer arithmetic (days since 1970-01-01), never with the process's TZ;
 * wall-clock times in a zone go through ICU, which knows DST and history.
 * A wall time that does not exist (the spring-forward gap) resolves to the
 * first instant after the gap; an ambiguous one (fall back) to the first. */
#ifndef CC_CLOCK_H
#define CC_CLOCK_H

#include "cc.h"

typedef struct {
    int year, month, day;
} cc_date;

typedef struct {
    int64_t now;          /* the instant the command runs as */
    cc_date today;        /* the date in the business zone at `now` */
    const char *zone;     /* business zone, borrowed from the config */
} cc_clock;

int clock_is_leap(int year);
int clock_days_in_month(int year, int month);
int64_t clock_days_from_civil(cc_date d);
cc_date clock_civil_from_days(int64_t days);
cc_date clock_add_days(cc_date d, int64_t n);
/* Parse "YYYY-MM-DD" exactly (valid calendar date).  0 on success. */
int clock_parse_date(const char *s, cc_date *d);
void clock_format_date(cc_date d, char out[11]);
/* What the text s[0..n) is as a value of the data: CLOCK_ISO_DATE for
 * "YYYY-MM-DD" naming a real day; CLOCK_ISO_DATETIME for such a date
 * followed by a time of day as SQLite's date functions read it
 * ("[T| ]HH:MM[:SS[.fff]][Z|+HH:MM]"); CLOCK_ISO_NONE otherwise.  Import
 * and the rule compiler decide with it whether a column holds dates. */
typedef enum { CLOCK_ISO_NONE, CLOCK_ISO_DATE, CLOCK_ISO_DATETIME } clock_iso_kind;
clock_iso_kind clock_iso_kind_of(const char *s, size_t n);

/* 1 when `zone` is an IANA zone ICU knows. */
int clock_zone_valid(const char *zone);
/* Wall time in `zone` -> instant.  CC_ERR_INPUT for an unknown zone. */
cc_code clock_local_to_utc(const char *zone, cc_date d, int hour, int minute, int second, int64_t *t);
/* Instant -> wall date/time in `zone`, with the zone's UTC offset then. */
cc_code clock_utc_to_local(const char *zone, int64_t t, cc_date *d, int *hour, int *minute,
                           int *second, int *offset_s);
/* Format an instant as ISO 8601 with the zone's offset: 2026-11-23T09:30:00+08:00 */
void clock_format_instant(const char *zone, int64_t t, char out[32]);
/* A date-time of the data that carries an offset ("...Z", "...+08:00"),
 * as wall time in `zone`.  clock_may_have_offset() is the cheap test
 * (the last characters only) that rules out the common case, a value
 * without one.  clock_offset_to_wall() reads the forms SQLite's date
 * functions read ("YYYY-MM-DD[T| ]HH:MM[:SS[.fff]][ ]Z|z|+HH:MM|-HH:MM")
 * and writes "YYYY-MM-DD HH:MM:SS[.fff]" (at most 9 digits of fraction)
 * into out[CLOCK_WALL_MAX]; 0 when `s` is no such value, then `out` is
 * untouched. */
#define CLOCK_WALL_MAX 32
int clock_may_have_offset(const char *s, size_t n);
int clock_offset_to_wall(const char *s, size_t n, const char *zone, char out[CLOCK_WALL_MAX]);
/* Parse --now / --date: "YYYY-MM-DD" (start of day in `zone`) or a date-time
 * "YYYY-MM-DD[T| ]HH:MM[:SS][Z|+HH:MM]" (no offset: in `zone`). */
cc_code clock_parse_instant(const char *s, const char *zone, int64_t *t);
/* Set up the clock: `now_arg` (may be NULL = the real time). */
cc_code clock_init(cc_clock *c, const char *zone, const char *now_arg);
/* A daily period of local time, "HH:MM-HH:MM", that may span midnight:
 * quiet hours.  Minutes since midnight; `set` is 0 for none. */
typedef struct {
    int from, until, set;
} cc_daily_period;
/* 0 on success; -1 when `s` is not "HH:MM-HH:MM" or the two are equal. */
int clock_parse_period(const char *s, cc_daily_period *p);
/* 1 when instant t falls inside p in `zone`, with *end the instant the
 * period ends there (today's `until`, or tomorrow's when it began this
 * evening; DST-correct through ICU); else 0.  An unknown zone is 0. */
int clock_in_period(const cc_daily_period *p, const char *zone, int64_t t, int64_t *end);
/* Free cached ICU calendars. */
void clock_shutdown(void);

#endif
