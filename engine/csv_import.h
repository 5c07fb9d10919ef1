/* csv_import.h - `carecast import TABLE FILE.csv`: load a CSV file into one
 * user table, all rows or none.
 *
 * The file is RFC 4180 CSV (quoted fields, "" escapes, embedded newlines,
 * CRLF or LF line ends); its first record is the header.  It is UTF-8 with or
 * without a byte-order mark, or GB18030/GBK when `encoding` says so.
 *
 * The whole file is checked before anything is written: CSV syntax, UTF-8,
 * NUL bytes, ragged rows, empty or duplicate header names, empty or
 * duplicate keys and, for the customers table, the standard columns (email,
 * E.164 phone, birth_date, timezone, locale, opt-in flags,
 * preferred_channel).  Every problem is added to `diags` as
 * "FILE:LINE: message" (LINE = the physical line where the record starts)
 * and CC_ERR_INPUT is returned with the database untouched.
 *
 * A missing table is created from the header with column types inferred
 * over all rows (INTEGER, REAL, else TEXT) and the key column as PRIMARY
 * KEY.  An existing table gains the columns it lacks and rows are upserted
 * by the key, which must be the table's primary key or carry a unique index.
 * Empty fields are stored as NULL; text that merely looks numeric
 * ("+8613800138000", "007") stays text.  Everything runs in one
 * BEGIN IMMEDIATE transaction. */
#ifndef CC_CSV_IMPORT_H
#define CC_CSV_IMPORT_H

#include <sqlite3.h>

#include "cc.h"
#include "config.h"

/* table:      [A-Za-z_][A-Za-z0-9_]*, not care_* or sqlite_* (else CC_ERR_USAGE)
 * key_column: NULL = the configured customer id column for the customers
 *             table, "id" for any other table
 * encoding:   NULL or "utf-8"; "gb18030", "gbk" and "gb2312" are decoded as
 *             GB18030 (else CC_ERR_USAGE)
 * On success *rows_imported is the number of data records; on failure 0. */
cc_code csv_import(sqlite3 *db, const cc_config *cfg, const char *table, const char *path,
                   const char *key_column, const char *encoding, cc_diags *diags,
                   size_t *rows_imported);

/* The phone normalisation the import applies, for numbers that arrive by
 * other ways (inbound SMS): `s` to E.164 in `out` (reset first), local
 * numbers read as `country` (ISO 3166 code, e.g. "CN").  1 on success, 0
 * when `s` is not a phone number. */
int csv_phone_e164(const char *s, const char *country, cc_buf *out);
/* 1 when local numbers of country `iso` (customers.default_country) can be
 * normalised; the codes that can, for messages. */
int csv_phone_country_known(const char *iso);
const char *csv_phone_country_codes(void);

#endif
