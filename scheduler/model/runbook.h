/*
 * runbook.h: the runbook model and the set it lives in: the site config (yoban.yaml), the
 * inventory (inventory.yaml), the site calendars (calendars/NAME.yaml) and the runbooks, loaded and
 * checked together.
 *
 * Words: a *runbook* is one YAML file (a definition); its *revision* is the SHA-256 of the file's
 * bytes; a *step* is one action in it; a *host* is an inventory entry the steps run on.
 *
 * Loading never stops at the first problem: every problem of every file is collected into a
 * struct rb_diags (diag.h) as `FILE:LINE:COL: error: MESSAGE`, and a load that found any error
 * fails (YB_EINVAL) without handing out a set. Cross-file checks (unknown hosts, calendars,
 * channels, duplicate runbook names, rehearsals of missing runbooks, procedure documents) are made
 * by rb_set_load.
 *
 * This header is the model's whole public face; behind it each file builds only on those before
 * it: diag.c <- yaml_load.c <- rbx.c <- runbook.c, site.c, inventory.c, calendar_file.c <- set.c
 * <- plan.c (runbook_priv.h is what they hand each other).
 *
 * Lifetimes: a struct rb_set owns everything reachable from it (strings, hosts, calendars,
 * runbooks, parsed cron expressions); every pointer into it stays valid until rb_set_free. A
 * runbook's schedule.cal points at a calendar of the same set (or at the built-in "jp");
 * schedule.zone is a tz_load zone (cached for the life of the process).
 */
#ifndef YB_RUNBOOK_H
#define YB_RUNBOOK_H

#include <stdio.h>

#include "calendar.h"
#include "diag.h"
#include "digest.h"
#include "sched.h"
#include "yaml_load.h" /* the caps: RB_MAX_FILE_BYTES */
#include "yb.h"

struct yb_json;

/* A place in a file, for messages made after loading. */
struct rb_pos {
	const char *file; /* points into the owner (set or runbook) */
	int line, col;
};

/* ---- inventory --------------------------------------------------------------------------- */

enum rb_transport { RB_TRANSPORT_SSH = 0, RB_TRANSPORT_LOCAL = 1 };
enum rb_environment { RB_ENV_PRODUCTION = 0, RB_ENV_STAGING = 1 };

#define RB_DEFAULT_SSH_PORT 22
#define RB_DEFAULT_RUNNER "yoban-runner"

struct rb_host {
	char *name;
	enum rb_transport transport;
	char *address;     /* ssh: IP or DNS name (required); local: NULL */
	int port;          /* ssh: default 22 */
	char *user;        /* ssh: default "yoban" */
	enum rb_environment environment;
	char *host_key;    /* ssh: "SHA256:<base64 without padding>" (required); local: NULL */
	char *known_hosts; /* optional: a known_hosts file to check against as well, or NULL */
	char *runner;      /* the runner program on the host; default "yoban-runner" (run as
			    * "<runner> serve [--state-dir DIR]") */
	char *state_dir;   /* the runner's journal folder, or NULL for the runner's default */
	struct rb_pos pos;
};

struct rb_inventory {
	char *path; /* NULL when there is no inventory file */
	struct rb_host *hosts;
	size_t n_hosts;
	/* private: the file names the hosts' positions point at */
	char **files;
	size_t n_files;
};

/* ---- site config (yoban.yaml) ------------------------------------------------------------- */

/* retry: attempts is the number of tries in all (1 = no retry), delay the pause between them */
struct rb_retry {
	int attempts;
	int64_t delay_ms;
};

enum rb_channel_kind { RB_CHANNEL_SMTP = 0, RB_CHANNEL_COMMAND, RB_CHANNEL_WEBHOOK };

/* Delivery defaults of a channel (yoban.yaml may change them per channel). */
#define RB_CHANNEL_TIMEOUT_MS (30 * 1000)
#define RB_CHANNEL_ATTEMPTS 3
#define RB_CHANNEL_RETRY_DELAY_MS (30 * 1000)

struct rb_channel {
	char *name;
	enum rb_channel_kind kind;
	int64_t timeout_ms;  /* one attempt's limit; default RB_CHANNEL_TIMEOUT_MS */
	struct rb_retry retry; /* tries in all and the first pause (doubled each time) */
	char *smtp_url, *smtp_from; /* smtp */
	char **smtp_to;
	size_t n_smtp_to;
	char *smtp_user;          /* optional: AUTH with this user ... */
	char *smtp_password_file; /* ... and the password in this file, inside secrets_dir */
	bool smtp_tls_required;   /* tls: required (default with a password) | optional */
	char **argv; /* command: argv, NULL-terminated; the message arrives on stdin */
	size_t argc;
	char *webhook_url; /* webhook: POSTed JSON */
	struct rb_pos pos;
};

/* The zone of a runbook or site that names none: the cities Yoban is for. */
#define RB_DEFAULT_TIMEZONE "Asia/Tokyo"

enum rb_effort_category { RB_EFFORT_SERVICE = 0, RB_EFFORT_INCIDENT, RB_EFFORT_MODIFICATION,
			  RB_EFFORT_N };

struct rb_effort_cap {
	double per_month; /* person-months; < 0: no cap */
	double total;     /* person-months over the contract; < 0: no cap */
};

struct rb_contract {
	bool present;
	int64_t period_from_day, period_to_day; /* days since 1970-01-01; 0/0 when absent */
	double hours_per_day;                   /* default 8 */
	double days_per_month;                  /* default 20 */
	struct rb_effort_cap caps[RB_EFFORT_N]; /* indexed by enum rb_effort_category */
	int64_t sla_report_ms, sla_start_ms, sla_recover_ms; /* 0: none */
	double sla_availability;                /* percent; 0: none */
	char *team; /* whom scheduled runs' effort is logged to; default "operations-team" */
};

enum rb_maint_action { RB_MAINT_HOLD = 0, RB_MAINT_SKIP = 1 };

/* A maintenance window: fires inside [from, to) are held until `to` (hold) or dropped (skip). */
struct rb_maintenance {
	char *name;
	int64_t from, to; /* instants */
	enum rb_maint_action action;
	char **runbooks; /* only these runbooks; none listed: all */
	size_t n_runbooks;
	struct rb_pos pos;
};

struct rb_site {
	char *path;           /* the yoban.yaml read, or NULL: built-in defaults */
	char *dir;            /* its folder (absolute); relative paths below are resolved from it */
	char *database;       /* libpq conninfo, or NULL: the embedded cluster under state_dir */
	char *state_dir;      /* default /var/lib/yoban */
	char *runbooks_dir;   /* default <dir>/runbooks, else /etc/yoban/runbooks */
	char *inventory_path; /* default <dir>/inventory.yaml */
	char *calendars_dir;  /* default <dir>/calendars */
	char *secrets_dir;    /* default /etc/yoban/secrets: the only folder secrets are read from */
	char *ssh_key;        /* the scheduler's private key, or NULL */
	char *ssh_known_hosts; /* optional site-wide known_hosts, or NULL */
	char *default_timezone; /* for runbooks without one; default RB_DEFAULT_TIMEZONE */
	struct rb_channel *channels;
	size_t n_channels;
	char **default_channels;    /* notify.default: for runbooks that name none */
	size_t n_default_channels;
	char **escalation_channels; /* notify.escalation: incidents not acknowledged in time */
	size_t n_escalation_channels;
	struct rb_contract contract;
	struct rb_maintenance *maintenance;
	size_t n_maintenance;
	int64_t emergency_lead_time_ms; /* approval.emergency_lead_time: `request --emergency`; 0 */
};

#define RB_DEFAULT_SECRETS_DIR "/etc/yoban/secrets"
#define RB_DEFAULT_TEAM "operations-team" /* contract.team: scheduled runs' effort */
/* A secret is at most this long (the runner masks values up to this length). */
#define RB_MAX_SECRET_BYTES 4096

/* Reads a step's secret file (rb_step.secrets[].value, as the loaded set resolved it) by the
 * site's rule, checked again on the file opened: inside site->secrets_dir (no '..', no symbolic
 * link leading out), a regular file (never blocking on a FIFO), owned by root or the user
 * reading it, no access for group or others, at most max_bytes. Anything else is an error that
 * names the file and the rule. The result is NUL-terminated; the caller wipes and frees it. */
int rb_secret_read(const struct rb_site *site, const char *path, size_t max_bytes, char **out,
		   size_t *out_len, struct yb_err *err);

/* ---- runbooks ---------------------------------------------------------------------------- */

enum rb_kind { RB_KIND_BATCH = 0, RB_KIND_DATA_PATCH, RB_KIND_BACKUP, RB_KIND_OFFSITE_COPY,
	       RB_KIND_REHEARSAL };
enum rb_concurrency { RB_CONC_FORBID = 0, RB_CONC_QUEUE, RB_CONC_REPLACE, RB_CONC_ALLOW };
enum rb_catchup { RB_CATCHUP_NONE = 0, RB_CATCHUP_LATEST, RB_CATCHUP_ALL };
enum rb_on_failure { RB_ON_FAILURE_ABORT = 0, RB_ON_FAILURE_CONTINUE };
enum rb_step_kind { RB_STEP_RUN = 0, RB_STEP_ARGV, RB_STEP_SQL, RB_STEP_BACKUP, RB_STEP_OFFSITE,
		    RB_STEP_RESTORE };

/* notify.on, a bit set */
#define RB_NOTIFY_START (1u << 0)
#define RB_NOTIFY_SUCCESS (1u << 1)
#define RB_NOTIFY_FAILURE (1u << 2)
#define RB_NOTIFY_TIMEOUT (1u << 3)
#define RB_NOTIFY_APPROVAL (1u << 4) /* an approval is waiting */

#define RB_DEFAULT_TIMEOUT_MS (60 * 60 * 1000)     /* a step's timeout when none is written */
#define RB_DEFAULT_CATCHUP_WINDOW_MS (6 * 60 * 60 * 1000)


struct rb_kv {
	char *name;
	char *value;
};

struct rb_param {
	char *name;      /* as written: business_date */
	char *env_name;  /* YOBAN_PARAM_BUSINESS_DATE */
	char *default_value; /* NULL: required at trigger time */
	char *description;
};

struct rb_sql {
	char *dsn;       /* libpq conninfo, on the target host */
	char *before;    /* optional query; its rows are evidence */
	char *patch;     /* the change, run in the same transaction */
	int64_t expect_rows; /* -1: no guard; else any other row count rolls back */
	char *after;     /* optional query; its rows are evidence */
};

struct rb_backup {
	char *source;     /* a folder, or NULL */
	char *command;    /* or a command whose stdout is the backup (run by /bin/sh -c), or NULL */
	char *repository; /* the folder holding the generations */
	int generations;  /* default 3 */
	int compression;  /* zstd level, default 3 */
	bool verify;      /* default true */
};

struct rb_offsite {
	char *repository; /* the backup repository whose newest verified generation is sent */
	char *dest_host;  /* an inventory host */
	char *dest_path;
	char *key_file;   /* the secretstream key */
	int keep;         /* default 12 */
	bool verify;      /* default true */
};

/* restore: a generation of a backup repository into an empty or new folder (restore drills) */
struct rb_restore {
	char *repository;
	int generation;   /* 0 the newest, default 0 */
	char *to;         /* absolute; must be new or empty when the step runs */
};

struct rb_step {
	char *name;
	enum rb_step_kind kind;
	char *run;        /* RB_STEP_RUN: a /bin/sh -c line */
	char **argv;      /* RB_STEP_ARGV: NULL-terminated */
	size_t argc;
	struct rb_sql sql;
	struct rb_backup backup;
	struct rb_offsite offsite;
	struct rb_restore restore;
	int64_t timeout_ms;  /* as written; 0: the runbook's (see rb_step_timeout_ms) */
	bool has_retry;      /* false: the runbook's retry */
	struct rb_retry retry;
	struct rb_kv *env;   /* extra environment, name=value */
	size_t n_env;
	struct rb_kv *secrets; /* name=path of a file on the scheduler host whose content becomes
				* the variable; masked in stored output. As written in a runbook
				* parsed alone; in a loaded set, the absolute path inside the
				* site's secrets_dir (read it with rb_secret_read) */
	size_t n_secrets;
	char *workdir;       /* or NULL: the runner's default */
	enum rb_on_failure on_failure;
	struct rb_pos pos;
};

struct rb_runbook {
	char *path;     /* the file as named (display) */
	char revision[YB_SHA256_HEX_LEN]; /* SHA-256 hex of the file's bytes */
	int version;    /* 1 */
	char *name;     /* [a-z0-9-]+, unique in a set */
	char *title;    /* or NULL */
	char *description;
	enum rb_kind kind;

	bool has_schedule;
	struct schedule schedule; /* cron owned by the runbook; cal into the set; zone from tz_load */
	char *cron_text;          /* as written, or NULL with business_day */
	char *timezone;           /* as written or the site default */
	char *calendar_name;      /* or NULL: every day open */
	enum rb_catchup catchup;
	int64_t catchup_window_ms;

	enum rb_concurrency concurrency;
	char **locks;
	size_t n_locks;
	char **hosts;
	size_t n_hosts;
	char **staging_hosts;
	size_t n_staging_hosts;
	int64_t timeout_ms;       /* the default for steps; RB_DEFAULT_TIMEOUT_MS if not written */
	struct rb_retry retry;    /* the default for steps; {1, 0} if not written */
	unsigned notify_on;       /* RB_NOTIFY_*; default failure|timeout */
	char **channels;
	size_t n_channels;
	bool has_effort;
	enum rb_effort_category effort_category;
	double effort_hours;
	struct rb_param *params;
	size_t n_params;

	bool has_approval;
	int approvers;            /* distinct people, none the requester */
	int64_t lead_time_ms;
	char *procedure;          /* as written, or NULL */
	char *procedure_path;     /* resolved against the runbook's folder (set by rb_set_load) */
	char procedure_sha256[YB_SHA256_HEX_LEN]; /* "" until rb_set_load read it */

	bool staging_required;
	char *rehearse;           /* kind rehearsal: the rehearsed runbook's name */
	const struct rb_runbook *rehearse_target; /* resolved by rb_set_load */

	struct rb_step *steps;
	size_t n_steps;
	struct rb_pos pos;
	/* private: the cron expression behind schedule.cron (shared by every runbook with the same
	 * text, counted; see cron_share in runbook.c); was the zone defaulted */
	struct cron_share *cron_shared;
	/* with rb_load_opts.keep_bytes: the file's bytes (NUL-terminated), which the caller may take
	 * (set to NULL); else NULL */
	char *bytes;
	size_t n_bytes;
	bool timezone_defaulted;
};

/* ---- the set ----------------------------------------------------------------------------- */

struct rb_load_opts {
	/* yoban.yaml (find it with rb_config_find); NULL: the built-in defaults, and only the
	 * inventory and calendars found among the paths */
	const char *config_path;
	/* Runbook files or folders (read recursively for *.yaml / *.yml); none: the site's
	 * runbooks_dir. Files named inventory.yaml, yoban.yaml and files under a calendars/ folder
	 * are recognised as site files, not runbooks. */
	const char *const *paths;
	size_t n_paths;
	/* Only the site config, inventory and calendars: no runbooks are read. */
	bool no_runbooks;
	/* Each runbook keeps the bytes it was parsed from in rb->bytes (for a caller that records
	 * revisions: no second read, and the bytes are exactly those of rb->revision). */
	bool keep_bytes;
};

struct rb_set {
	struct rb_site site;
	struct rb_inventory inventory;
	struct calendar *calendars; /* site calendars */
	size_t n_calendars;
	struct rb_runbook **runbooks;
	size_t n_runbooks;
	/* what was read, for summaries */
	size_t n_site_files, n_inventory_files, n_calendar_files;
	/* private: runbooks loaded only because a rehearsal given among the paths may name them
	 * (found by rb_set_runbook, offered as "did you mean", not counted, not checked) */
	struct rb_runbook **context;
	size_t n_context;
	/* private: runbooks by name (index + 1 in open-addressing slots), built once loaded */
	size_t *rb_slots;
	size_t n_rb_slots;
};

/* Loads a whole set. Every problem goes into diags (which the caller initialised); warnings do
 * not fail the load. Returns 0 and *out, or YB_EINVAL with diags holding at least one error. */
int rb_set_load(const struct rb_load_opts *opts, struct rb_set **out, struct rb_diags *diags);
void rb_set_free(struct rb_set *set);

/* Lookups by name; NULL when absent. rb_set_calendar also finds the built-ins ("jp"). */
const struct rb_host *rb_set_host(const struct rb_set *set, const char *name);
const struct calendar *rb_set_calendar(const struct rb_set *set, const char *name);
const struct rb_runbook *rb_set_runbook(const struct rb_set *set, const char *name);
const struct rb_channel *rb_set_channel(const struct rb_set *set, const char *name);

/* Only yoban.yaml: for commands that need the database or the state folder. path NULL: the
 * built-in defaults. On errors, err holds the first diagnostic ("FILE:L:C: ... (and N more)"). */
int rb_site_load(const char *path, struct rb_site **out, struct yb_err *err);
void rb_site_free(struct rb_site *site);

/* Where is yoban.yaml? explicit (--config) wins, then $YOBAN_CONFIG, then the nearest yoban.yaml
 * in near_path's folder or a parent (near_path may be NULL, a file or a folder), then
 * /etc/yoban/yoban.yaml if it exists. *out (caller frees) is NULL when none was found (the
 * defaults apply). An explicit or $YOBAN_CONFIG file that does not exist, or that is not a
 * regular file (--config /dev/null), is an error. */
int rb_config_find(const char *explicit_path, const char *near_path, char **out,
		   struct yb_err *err);

/* For commands about one runbook file (plan, next, trigger): finds the config (rb_config_find
 * with path), loads the set made of that file (a rehearsal's target is looked for beside it and in
 * the site's runbooks folder), prints every diagnostic to stderr and
 * returns an exit status: 0 with *set_out and *rb_out (the file's runbook, owned by the set; free
 * with rb_set_free), 1 when the file or the set is invalid, 2 when the config named by --config or
 * $YOBAN_CONFIG does not exist. config may be NULL. */
int rb_cli_load_one(const char *config, const char *path, struct rb_set **set_out,
		    const struct rb_runbook **rb_out);

/* ---- one runbook, without a set ------------------------------------------------------------ */

/* Parses one runbook from memory (no file system access but the time zone database): the checks
 * of a single file.
 * display_name is used in diagnostics and as the runbook's path. The revision is computed from
 * data. Returns 0 and *out, or YB_EINVAL with the errors in diags. */
int rb_runbook_parse(const char *display_name, const char *data, size_t len,
		     struct rb_runbook **out, struct rb_diags *diags);
void rb_runbook_free(struct rb_runbook *rb);

/* The step's effective timeout and retry (its own, else the runbook's). */
int64_t rb_step_timeout_ms(const struct rb_runbook *rb, const struct rb_step *step);
struct rb_retry rb_step_retry(const struct rb_runbook *rb, const struct rb_step *step);

/* Names for the enums, as written in YAML. */
const char *rb_kind_name(enum rb_kind v);
const char *rb_concurrency_name(enum rb_concurrency v);
const char *rb_catchup_name(enum rb_catchup v);
const char *rb_on_failure_name(enum rb_on_failure v);
const char *rb_step_kind_name(enum rb_step_kind v);
const char *rb_transport_name(enum rb_transport v);
const char *rb_environment_name(enum rb_environment v);
const char *rb_effort_category_name(enum rb_effort_category v);
int rb_effort_category_parse(const char *text, enum rb_effort_category *out);

/* The name rules (runbook, host, step, parameter, environment names) are common/names.h's. */

#endif
