/*
 * report.h: the monthly report (月次報告書): one model of a month's figures, gathered from
 * PostgreSQL by report_gather (report_gather.c), and renderers that turn that same model into
 * HTML (report_html.c, charts in svg.c), Markdown, CSV and JSON. Every renderer reads only the
 * model, so the four formats can never disagree on a figure.
 *
 * Ownership: report_gather fills a struct report whose strings and arrays it allocated; the
 * caller releases it with report_release (an all-zero struct is fine). The renderers append to a
 * caller's yb_buf and never fail except past the buffer's cap (YB_ENOMEM).
 *
 * Times in the model are ISO 8601 text with the site zone's offset, to the second
 * ("2026-12-01T09:00:05+09:00"), or NULL when the database has none; the renderers print them
 * for people (report_fmt.h). Aggregates and percentiles are computed by the database.
 */
#ifndef YB_REPORT_H
#define YB_REPORT_H

#include "buf.h"
#include "db.h"
#include "effort.h"
#include "yb.h"

/* A scheduled run is on time when it started within this many seconds of its scheduled_for. */
#define REPORT_ON_TIME_SECONDS 60
/* Availability target when the site config gives none (contract.sla.availability). */
#define REPORT_DEFAULT_AVAILABILITY 99.9

enum report_lang { REPORT_JA = 0, REPORT_EN };
enum report_format { REPORT_HTML = 0, REPORT_MD, REPORT_CSV, REPORT_JSON };

/* The run states, in the order the report shows them (the enum yoban.run_state). */
#define REPORT_N_STATES 11
extern const char *const report_states[REPORT_N_STATES];

struct report_runbook_runs {
	char *runbook;
	int64_t by_state[REPORT_N_STATES];
	int64_t total;
};

/* Runs of one day, grouped for the chart: succeeded, failed (failed, timed_out, lost), other
 * ended (cancelled, skipped), not ended (the rest). */
enum report_day_group { REPORT_DAY_OK = 0, REPORT_DAY_FAILED, REPORT_DAY_OTHER, REPORT_DAY_OPEN,
			REPORT_DAY_N };
struct report_day_runs {
	int64_t n[REPORT_DAY_N];
};

struct report_failure {
	int64_t run_id;
	char *runbook, *mode, *state, *reason;
	char *started_at, *ended_at;
	int64_t incident_id; /* 0: none (staging failures open none) */
};

/* One SLA clock of an incident: its due time and met / breached / running (still open, not yet
 * due), or NULL state when the contract has no figure. */
struct report_clock {
	char *due, *state;
};
struct report_incident {
	int64_t id, run_id; /* run_id 0: none */
	char *runbook, *event, *summary;
	char *detected_at, *notified_at, *acknowledged_at, *acknowledged_by, *recovered_at;
	char *resolved_at, *resolved_by, *cause, *temporary_fix, *permanent_fix;
	struct report_clock report, start, recover;
	bool pass; /* no clock breached (a running clock is not a failure yet) */
};

struct report_digest {
	char *what;   /* "stdout", "stderr", "artifact" */
	char *label;  /* "step@host" or "step/name" */
	char *sha256; /* 64 hex */
	int64_t bytes, rows; /* rows -1: not a table */
};
struct report_approval {
	char *by, *at, *comment;
};
struct report_patch {
	int64_t run_id;
	char *runbook, *mode, *state, *requested_by, *requested_at, *reason;
	char *approval_state, *procedure, *procedure_sha256;
	struct report_approval *approvals; /* in the order they came in */
	size_t n_approvals;
	char *sql_outcome; /* committed / rolled back / ... or NULL */
	struct report_digest *digests;
	size_t n_digests;
};

struct report_backup_day {
	char *day;  /* YYYY-MM-DD in the site's zone */
	char *runbook, *repository;
	int64_t backups, backups_ok, verified, verify_failed, pruned, offsite, offsite_ok;
	int64_t generations; /* generations kept at the end of the day (backups ok minus prunes) */
	char *newest_generation;
};

struct report_maintenance {
	char *from, *to; /* clipped to the month */
};

struct report {
	/* the month */
	char month[8];      /* "2026-12" */
	char *zone;         /* the session's TimeZone the month is cut in */
	char *from_at, *to_at, *generated_at;
	bool partial;       /* the month is not over (to_at is after generated_at) */

	/* runs */
	struct report_runbook_runs *runbooks;
	size_t n_runbooks;
	int64_t runs_by_state[REPORT_N_STATES];
	int64_t runs_total, jobs_total, jobs_failed;
	struct report_day_runs *days; /* [n_days], day 1 first */
	int n_days;

	/* schedule adherence: fires of the month (trigger schedule or catchup), skips on purpose left
	 * out (closed day, maintenance skip, concurrency, gates); a missed fire counts as late */
	int64_t sched_total, sched_started, sched_on_time;
	double on_time_percent;                  /* < 0: no scheduled run */
	double late_p50, late_p99, late_max;     /* seconds; < 0: no started run */

	struct report_failure *failures;
	size_t n_failures;

	/* incidents detected in the month, with the SLA clocks of `yoban incidents` */
	char sla_report[32], sla_start[32], sla_recover[32]; /* "30m", or "" */
	bool sla_default;   /* the site config lacks a contract.sla figure: the domain's applies */
	struct report_incident *incidents;
	size_t n_incidents;

	struct report_patch *patches;
	size_t n_patches;

	struct report_backup_day *backups;
	size_t n_backups;

	/* effort (工数), as `yoban effort summary` reads it (effort.h) */
	struct yb_effort_month effort;

	/* availability of the scheduler (yoban.yoban_availability) */
	double avail_minutes, avail_down_minutes, avail_percent; /* percent < 0: nothing counted */
	double avail_target;
	struct report_maintenance *maintenance;
	size_t n_maintenance;

	/* the evidence chain at the month's end (013); recorded false: not in this database */
	bool chain_recorded;
	int64_t chain_seq;       /* 0: no entry before the month's end */
	char *chain_hash, *chain_at;
	bool checkpoint_recorded;
	int64_t checkpoint_seq;
	char *checkpoint_hash, *checkpoint_signed_at, *checkpoint_by;
};

/* What the caller knows that the database does not: the site config's SLA figures and its
 * site-wide maintenance windows. */
struct report_params {
	char month[8];          /* "YYYY-MM", checked by report_month_valid */
	const char *sla_report, *sla_start, *sla_recover; /* interval text ("1800000 milliseconds") */
	const char *sla_report_label, *sla_start_label, *sla_recover_label; /* "30m" */
	bool sla_default;
	double availability_target;  /* percent */
	const char *maint_from, *maint_to; /* "{epoch,...}" site-wide windows */
	/* Called before each section is gathered (progress), or NULL. */
	void (*progress)(const char *section, void *arg);
	void *progress_arg;
};

/* True for "YYYY-MM" with a month from 01 to 12 and a year from 1970 to 9999. */
bool report_month_valid(const char *month);

/* Gathers the month on connection c, whose session TimeZone is the site's. Returns 0 with *out
 * filled, or YB_EDB / YB_EIO with err (the caller may read db_sqlstate(c)). */
int report_gather(struct db_conn *c, const struct report_params *p, struct report *out,
		  struct yb_err *err);
void report_release(struct report *r);

/* Renderers: append the report to out. */
int report_render(const struct report *r, enum report_format f, enum report_lang lang,
		  struct yb_buf *out);
int report_render_html(const struct report *r, enum report_lang lang, struct yb_buf *out);
int report_render_md(const struct report *r, enum report_lang lang, struct yb_buf *out);
int report_render_csv(const struct report *r, enum report_lang lang, struct yb_buf *out);
int report_render_json(const struct report *r, struct yb_buf *out);

#endif
