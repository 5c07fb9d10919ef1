/* demo_data.h - `carecast demo-data`: a realistic, deterministic synthetic
 * customer database for demos, tests and benchmarks.
 *
 * demo_data_generate() drops and recreates exactly these tables (the
 * customers table under its configured name and column names):
 *
 *   customers(id TEXT PRIMARY KEY 'C-000001', first_name, last_name, name,
 *             email, phone, birth_date, locale, timezone, city, status,
 *             email_opt_in INTEGER, sms_opt_in INTEGER, preferred_channel,
 *             created_at, rep_email, tier 'A'|'B'|'C')
 *   orders(id TEXT PRIMARY KEY, customer_id, ordered_at, amount REAL, product)
 *   contracts(id TEXT PRIMARY KEY, customer_id, product, start_date,
 *             end_date, status, auto_renew INTEGER)
 *   repairs(id TEXT PRIMARY KEY, customer_id, opened_at, closed_at, status,
 *           rating INTEGER)
 *   complaints(id TEXT PRIMARY KEY, customer_id, opened_at, subject, status,
 *              closed_at)
 *   vehicles(id TEXT PRIMARY KEY, customer_id, plate, model, purchased_on,
 *            next_inspection, insurance_expires, mileage_km INTEGER,
 *            last_service_on, last_service_km INTEGER)   (both null: never serviced)
 *   events(id INTEGER PRIMARY KEY, customer_id, type, at, data)
 *   invoices(id TEXT PRIMARY KEY, customer_id, issued_on, due_date,
 *            amount REAL, paid_at)                       (paid_at null: unpaid)
 *   homes(id TEXT PRIMARY KEY, customer_id, address, handover_date)
 *   points(id TEXT PRIMARY KEY, customer_id, points INTEGER, earned_on,
 *          expires_on)                                   (a batch of club points)
 *
 * and fills them in one transaction.  The output depends only on
 * (customers, seed, today): the generator has its own PRNG and computes
 * dates with integer civil-date arithmetic.  Dates are ISO text, date-times
 * "YYYY-MM-DD HH:MM:SS" in the business zone.  Whatever `today` is, about 1
 * customer in 300 has a birthday on that month-day, about 1 in 500 was born
 * on 29 February, and some rows sit exactly where the example campaigns in
 * rules/ look, so every one of them has work on the anchor day:
 *   - contracts ending 1, 7 and 30 days after it; repairs and complaints
 *     closed 3 (repairs also 14) days before it; complaints opened the day
 *     before it and still open;
 *   - customers who joined exactly 1-7 years before it, who made their first
 *     purchase 7 and 30 days before it, and valuable customers (3 insurance
 *     premiums) whose last order is over 400 days old;
 *   - vehicles with the inspection 14 and 30 days ahead, insurance expiring
 *     1 and 30 days ahead, bought 7 days before, or 15,000+ km past their
 *     last service;
 *   - unpaid invoices due 3 and 15 days before it; homes handed over 30
 *     days, 3 months and 11 months before it (the day clamped to a shorter
 *     month, so on the 29th-31st the month steps fall a few days earlier);
 *     points batches expiring 30 days after it.
 * Memory use does not grow with `customers`. */
#ifndef CC_DEMO_DATA_H
#define CC_DEMO_DATA_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

#include "cc.h"
#include "config.h"

typedef struct {
    long customers, orders, contracts, repairs, complaints, vehicles, events, invoices, homes, points;
} demo_counts;

/* customers: >= 0.  today: "YYYY-MM-DD" (NULL: today's UTC date).
 * progress: one line per 100,000 customers, or NULL for silence.
 * counts: filled with the rows written per table (may be NULL).
 * cfg may be NULL (default table and column names).
 * Errors are printed to stderr; nothing is changed on error. */
cc_code demo_data_generate(sqlite3 *db, const cc_config *cfg, long customers, uint64_t seed,
                           const char *today, FILE *progress, demo_counts *counts);

/* Print "TABLE ROWS" lines, customers first: "customers 1000\norders 4012\n..." */
void demo_counts_print(const demo_counts *counts, const cc_config *cfg, FILE *out);

#endif
