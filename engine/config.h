/* config.h - etc/carecast.yaml: the one place carecast's settings live.
 *
 * config_load() reads the file with libyaml, checks every key and type
 * (unknown keys and wrong types are FILE:LINE:COL errors) and resolves
 * relative paths and secrets.  Secrets are never stored in the file: a key
 * such as `password_env: NAME` names an environment variable and
 * `password_file: PATH` a file; the resolved value lives only in memory and
 * is never printed. */
#ifndef CC_CONFIG_H
#define CC_CONFIG_H

#include "cc.h"

typedef struct {
    char *type;          /* smtp | file | kannel | twilio | http-json */
    char *host;          /* smtp */
    int port;            /* smtp; 0 = 25 */
    char *tls;           /* none | starttls | tls */
    int verify;          /* certificate verification */
    char *url;           /* kannel sendsms URL, twilio API base, http-json URL */
    char *username;
    char *password;      /* resolved secret, or NULL */
    char *from;          /* SMS sender id */
    char *account_sid;   /* twilio */
    char *token;         /* twilio, resolved secret */
    char *messaging_service_sid;
    char *body;          /* http-json body template */
    char **headers;      /* http-json extra headers, each "Name: value" */
    size_t n_headers;
    int connections;
    double rate;         /* messages per second, 0 = unlimited */
    int64_t timeout_s;
    int max_attempts;
    int64_t max_age_s;
    int64_t lease_s;     /* how long a claimed message is this sender's */
    int line, col;       /* where it was configured, for messages */
} cc_transport_config;

/* One cell of the coverage matrix (policy.coverage): customers labelled
 * `label` in `segment` should be contacted at least n times per window. */
typedef struct {
    char *segment, *label;
    char *rule;          /* as written: "2 per month" */
    int n;
    int64_t window_s;    /* a day, a week or a month (30 days, as caps) */
} cc_coverage_rule;

/* A secret named by `KEY_env: VARIABLE` whose variable is unset or empty
 * when the config was loaded: not an error at load (not every command
 * needs every secret), but the commands that need it, and lint, report it
 * at the place it is named. */
typedef struct {
    char *key;           /* "transports.email.password_env", "unsubscribe.secret_env", ... */
    char *var;           /* the variable's name */
    int line, col;       /* of the variable's name in the file */
} cc_unset_secret;

/* Where a setting was written ("customers.email" -> line, column of its
 * value), so later checks against the database can point at it. */
typedef struct {
    char *key;
    int line, col;
} cc_key_loc;

typedef struct {
    char *path;          /* the config file as given; NULL when none was found */
    char *base;          /* folder that relative paths are resolved against */
    char *database;
    char *timezone;      /* business zone, IANA */
    char *rules;
    char *templates;
    char *outbox_dir;

    struct {
        char *table, *id, *email, *phone, *birth_date, *locale, *timezone;
        char *email_opt_in, *sms_opt_in, *preferred_channel, *default_country;
    } customers;

    struct {
        char *name, *email, *reply_to;
    } sender;

    cc_transport_config email;
    cc_transport_config sms_transport;

    struct {
        char *signature;
        char *opt_out_zh, *opt_out_en;
        int max_segments;
    } sms;

    struct {
        char *quiet_hours;
        char **caps_marketing; size_t n_caps_marketing;
        char **caps_all; size_t n_caps_all;
        cc_coverage_rule *coverage; size_t n_coverage;   /* policy.coverage, for `report` */
    } policy;

    struct {
        char *url;
        char *secret;    /* resolved */
    } unsubscribe;

    struct {
        char *listen;      /* HOST:PORT for `carecast serve` */
        char *public_url;  /* base URL Kannel reaches `serve` at, for dlr-url */
        char *secret;      /* resolved; must appear in callback URLs */
    } serve;

    cc_unset_secret *unset_secrets;
    size_t n_unset_secrets;
    cc_key_loc *locs;
    size_t n_locs;
} cc_config;

/* Load `path` (NULL: $CARECAST_CONFIG, else etc/carecast.yaml when it exists,
 * else built-in defaults).  On error every problem is added to `diags` and
 * CC_ERR_CONFIG is returned; *cfg is then freed already. */
cc_code config_load(const char *path, cc_config *cfg, cc_diags *diags);
/* Defaults only, for commands that run without a config file. */
void config_defaults(cc_config *cfg);
/* Resolve a path relative to the config's base folder; caller frees. */
char *config_path(const cc_config *cfg, const char *p);
void config_free(cc_config *cfg);
/* Report, as located errors, the unset secrets whose key starts with
 * `prefix` ("transports.", "unsubscribe.", ...).  Returns how many. */
size_t config_report_unset_secrets(const cc_config *cfg, const char *prefix, cc_diags *diags);
/* 1 and the place of setting `key` ("customers.email") when the file
 * sets it, else 0. */
int config_locate(const cc_config *cfg, const char *key, int *line, int *col);
/* The first unset secret under `prefix`, or NULL. */
const cc_unset_secret *config_unset_secret(const cc_config *cfg, const char *prefix);

#endif
