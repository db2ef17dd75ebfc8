/*
 * runbook.c: one runbook file -> a checked struct rb_runbook: every key, type, value and
 * combination a single file can get wrong, each reported at its line and column. The checks that
 * need the rest of the site (hosts, calendars, channels, rehearsals, procedure documents, unique
 * names) are set.c's.
 *
 * The one idea: a loader for people, not for machines. It never stops at the first problem; each
 * getter (rbx.c) reports at the node and leaves the default in place, so one pass over a file
 * finds everything wrong with it. Unknown keys come with the nearest known key ("did you mean").
 */
#include "runbook_priv.h"

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "tz.h"

/* ---- names -------------------------------------------------------------------------------- */

static const char *const kind_names[] = { "batch", "data-patch", "backup", "offsite-copy",
					  "rehearsal", NULL };
static const char *const conc_names[] = { "forbid", "queue", "replace", "allow", NULL };
static const char *const catchup_names[] = { "none", "latest", "all", NULL };
static const char *const on_failure_names[] = { "abort", "continue", NULL };
static const char *const step_kind_names[] = { "run",     "argv",    "sql", "backup",
						"offsite", "restore", NULL };
static const char *const on_closed_names[] = { "skip", "run", "previous_open_day",
					       "next_open_day", NULL };
static const char *const notify_on_names[] = { "start", "success", "failure", "timeout",
					       "approval", NULL };
static const char *const effort_names[] = { "service", "incident", "modification", NULL };
static const char *const transport_names[] = { "ssh", "local", NULL };
static const char *const environment_names[] = { "production", "staging", NULL };

#define NAME_OF(table, v) ((unsigned)(v) < YB_ARRAY_LEN(table) - 1 ? table[v] : "?")

const char *rb_kind_name(enum rb_kind v) { return NAME_OF(kind_names, v); }
const char *rb_concurrency_name(enum rb_concurrency v) { return NAME_OF(conc_names, v); }
const char *rb_catchup_name(enum rb_catchup v) { return NAME_OF(catchup_names, v); }
const char *rb_on_failure_name(enum rb_on_failure v) { return NAME_OF(on_failure_names, v); }
const char *rb_step_kind_name(enum rb_step_kind v) { return NAME_OF(step_kind_names, v); }
const char *rb_transport_name(enum rb_transport v) { return NAME_OF(transport_names, v); }
const char *rb_environment_name(enum rb_environment v) { return NAME_OF(environment_names, v); }
const char *rb_effort_category_name(enum rb_effort_category v) { return NAME_OF(effort_names, v); }

int rb_effort_category_parse(const char *text, enum rb_effort_category *out)
{
	for (int i = 0; effort_names[i]; i++)
		if (!strcmp(text, effort_names[i])) {
			*out = (enum rb_effort_category)i;
			return 0;
		}
	return YB_EINVAL;
}

/* ---- the runbook -------------------------------------------------------------------------- */

static const char *const top_keys[] = { "version",  "name",     "title",   "description",
					"kind",     "schedule", "concurrency", "locks",
					"targets",  "timeout",  "retry",   "notify",
					"effort",   "params",   "approval", "staging",
					"rehearse", "steps",    NULL };
static const char *const schedule_keys[] = { "cron",     "business_day",  "at",
					     "timezone", "calendar",      "on_closed_day",
					     "catchup",  "catchup_window", NULL };
static const char *const targets_keys[] = { "hosts", "staging_hosts", NULL };
static const char *const retry_keys[] = { "attempts", "delay", NULL };
static const char *const notify_keys[] = { "on", "channels", NULL };
static const char *const effort_keys[] = { "category", "hours", NULL };
static const char *const param_keys[] = { "default", "description", NULL };
static const char *const approval_keys[] = { "approvers", "lead_time", "procedure", NULL };
static const char *const staging_keys[] = { "required", NULL };
static const char *const step_keys[] = { "name", "run",  "argv",    "sql",        "backup",
					 "offsite", "restore", "timeout", "retry", "env", "secrets",
					 "workdir", "on_failure", NULL };
static const char *const sql_keys[] = { "dsn", "before", "patch", "expect_rows", "after", NULL };
static const char *const backup_keys[] = { "source", "command", "repository", "generations",
					   "compression", "verify", NULL };
static const char *const offsite_keys[] = { "repository", "destination", "key_file", "keep",
					    "verify", NULL };
static const char *const destination_keys[] = { "host", "path", NULL };
static const char *const restore_keys[] = { "repository", "generation", "to", NULL };

static const char *const common_zones[] = { "Asia/Tokyo", "UTC", "Etc/UTC", "Asia/Seoul",
					    "Asia/Shanghai", "Asia/Taipei", "Europe/London",
					    "Europe/Berlin", "America/New_York",
					    "America/Los_Angeles", "Australia/Sydney", NULL };

static void free_step(struct rb_step *s)
{
	free(s->name);
	free(s->run);
	rb_strv_free(s->argv, s->argc);
	free(s->sql.dsn);
	free(s->sql.before);
	free(s->sql.patch);
	free(s->sql.after);
	free(s->backup.source);
	free(s->backup.command);
	free(s->backup.repository);
	free(s->offsite.repository);
	free(s->offsite.dest_host);
	free(s->offsite.dest_path);
	free(s->offsite.key_file);
	free(s->restore.repository);
	free(s->restore.to);
	for (size_t i = 0; i < s->n_env; i++) {
		free(s->env[i].name);
		free(s->env[i].value);
	}
	free(s->env);
	for (size_t i = 0; i < s->n_secrets; i++) {
		free(s->secrets[i].name);
		free(s->secrets[i].value);
	}
	free(s->secrets);
	free(s->workdir);
}

/* ---- shared cron expressions --------------------------------------------------------------
 * A parsed expression is most of a small runbook's memory (its day tables), and a site with many
 * runbooks has few distinct expressions: runbooks with the same text share one, counted. 'H'
 * depends on the runbook's name, so such a text is shared only under the same name. */

struct cron_share {
	struct cron_share *next;
	char *text, *hash_key; /* hash_key NULL: the text has no 'H' */
	struct cron_expr *expr;
	size_t refs;
};

#define CRON_SHARE_BUCKETS 1024
static struct cron_share *cron_shares[CRON_SHARE_BUCKETS];
static pthread_mutex_t cron_share_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t cron_share_bucket(const char *text, const char *hash_key)
{
	size_t h = 1469598103934665603ULL;
	for (const char *s = text; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	for (const char *s = hash_key ? hash_key : ""; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h % CRON_SHARE_BUCKETS;
}

/* cron_parse, or a reference to the same expression parsed before. */
static int cron_share_get(const char *text, const char *hash_key, struct cron_share **out,
			  int *err_col, struct yb_err *err)
{
	const char *key = strpbrk(text, "Hh") ? hash_key : NULL;
	size_t b = cron_share_bucket(text, key);
	int rc = 0;
	pthread_mutex_lock(&cron_share_lock);
	struct cron_share *c = cron_shares[b];
	for (; c; c = c->next)
		if (!strcmp(c->text, text) && !key == !c->hash_key &&
		    (!key || !strcmp(c->hash_key, key)))
			break;
	if (c) {
		c->refs++;
	} else {
		struct cron_expr *expr = NULL;
		rc = cron_parse(text, key, &expr, err_col, err);
		if (rc < 0)
			goto out;
		c = xcalloc(1, sizeof(*c));
		c->text = xstrdup(text);
		c->hash_key = key ? xstrdup(key) : NULL;
		c->expr = expr;
		c->refs = 1;
		c->next = cron_shares[b];
		cron_shares[b] = c;
	}
	*out = c;
out:
	pthread_mutex_unlock(&cron_share_lock);
	return rc;
}

static void cron_share_drop(struct cron_share *c)
{
	pthread_mutex_lock(&cron_share_lock);
	if (--c->refs == 0) {
		struct cron_share **pp = &cron_shares[cron_share_bucket(c->text, c->hash_key)];
		while (*pp != c)
			pp = &(*pp)->next;
		*pp = c->next;
		cron_free(c->expr);
		free(c->text);
		free(c->hash_key);
		free(c);
	}
	pthread_mutex_unlock(&cron_share_lock);
}

void rb_runbook_free(struct rb_runbook *rb)
{
	if (!rb)
		return;
	free(rb->path);
	free(rb->name);
	free(rb->title);
	free(rb->description);
	free(rb->cron_text);
	free(rb->timezone);
	free(rb->calendar_name);
	if (rb->cron_shared)
		cron_share_drop(rb->cron_shared);
	free(rb->bytes);
	rb_strv_free(rb->locks, rb->n_locks);
	rb_strv_free(rb->hosts, rb->n_hosts);
	rb_strv_free(rb->staging_hosts, rb->n_staging_hosts);
	rb_strv_free(rb->channels, rb->n_channels);
	for (size_t i = 0; i < rb->n_params; i++) {
		free(rb->params[i].name);
		free(rb->params[i].env_name);
		free(rb->params[i].default_value);
		free(rb->params[i].description);
	}
	free(rb->params);
	free(rb->procedure);
	free(rb->procedure_path);
	free(rb->rehearse);
	for (size_t i = 0; i < rb->n_steps; i++)
		free_step(&rb->steps[i]);
	free(rb->steps);
	free(rb);
}

int64_t rb_step_timeout_ms(const struct rb_runbook *rb, const struct rb_step *step)
{
	return step->timeout_ms > 0 ? step->timeout_ms : rb->timeout_ms;
}

struct rb_retry rb_step_retry(const struct rb_runbook *rb, const struct rb_step *step)
{
	return step->has_retry ? step->retry : rb->retry;
}

static void parse_retry(const struct rbx *x, const struct yn_node *n, struct rb_retry *out)
{
	if (!rbx_is_map(x, n, "retry"))
		return;
	rbx_keys(x, n, retry_keys, " in 'retry'");
	const struct yn_node *v;
	int64_t i;
	if ((v = yn_get(n, "attempts")) && rbx_int(x, v, "attempts", 1, 100, &i))
		out->attempts = (int)i;
	if ((v = yn_get(n, "delay")))
		rbx_duration(x, v, "delay", &out->delay_ms);
}

static bool parse_hhmm(const char *s, int *h, int *m, int *sec)
{
	int n = 0;
	*sec = 0;
	if (sscanf(s, "%2d:%2d%n", h, m, &n) == 2 && (s[n] == 0 || (s[n] == ':' &&
	    sscanf(s + n + 1, "%2d", sec) == 1 && strlen(s) == 8)) && strlen(s) >= 5 &&
	    isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) && s[2] == ':')
		return *h >= 0 && *h <= 23 && *m >= 0 && *m <= 59 && *sec >= 0 && *sec <= 59;
	return false;
}

static void parse_schedule(const struct rbx *x, struct rb_runbook *rb, const struct yn_node *n)
{
	if (!rbx_is_map(x, n, "schedule"))
		return;
	rbx_keys(x, n, schedule_keys, " in 'schedule'");
	const struct yn_node *cron = yn_get(n, "cron"), *bday = yn_get(n, "business_day"),
			     *at = yn_get(n, "at"), *v;
	rb->has_schedule = true;
	rb->schedule.on_closed = SCHED_SKIP;

	if (cron && bday) {
		rbx_err(x, bday, "'schedule' has both 'cron' and 'business_day': keep one of them");
	} else if (!cron && !bday) {
		rbx_err(x, n, "'schedule' needs 'cron' (e.g. cron: \"30 1 * * *\") or 'business_day' "
			      "with 'at'");
	}
	if (cron && !bday) {
		char *text = NULL;
		if (rbx_str(x, cron, "cron", &text)) {
			struct cron_share *shared = NULL;
			struct yb_err err = { 0 };
			int err_col = -1;
			if (cron_share_get(text, rb->name ? rb->name : "", &shared, &err_col, &err) < 0) {
				int line = cron->line, col = cron->col;
				if (err_col >= 0 && !strchr(text, '\n'))
					col += (cron->plain ? 0 : 1) + err_col;
				rb_diag_add(x->d, RB_SEV_ERROR, x->file, line, col,
					    "bad cron expression '%.100s': %s", text, err.msg);
			} else {
				rb->cron_shared = shared;
				rb->schedule.cron = shared->expr;
				rb->cron_text = text;
				text = NULL;
			}
		}
		free(text);
		if (at)
			rbx_err(x, at, "'at' goes with 'business_day': with 'cron', write the time in "
				       "the expression");
	}
	if (bday && !cron) {
		int64_t pos;
		if (rbx_int(x, bday, "business_day", -23, 23, &pos)) {
			if (pos == 0)
				rbx_err(x, bday, "'business_day' must not be 0: 1 is the month's "
						 "first open day, -1 its last");
			else
				rb->schedule.business_day = (int)pos;
		}
		if (!at) {
			rbx_err(x, bday, "'business_day' needs 'at' (the local time, e.g. at: "
					 "\"22:00\")");
		} else if (rbx_scalar(x, at, "at", "a time like \"22:00\"")) {
			int h, m, s;
			if (parse_hhmm(at->text, &h, &m, &s)) {
				rb->schedule.at_hour = h;
				rb->schedule.at_min = m;
				rb->schedule.at_sec = s;
			} else {
				rbx_err(x, at, "'at': '%.40s' is not a time of day (write it as "
					       "\"HH:MM\", e.g. \"22:00\")", at->text);
			}
		}
	}

	if ((v = yn_get(n, "timezone"))) {
		char *zone_name = NULL;
		if (rbx_str(x, v, "timezone", &zone_name)) {
			const struct tz *zone;
			struct yb_err err = { 0 };
			int tz_rc = tz_load(zone_name, &zone, &err);
			if (tz_rc == YB_EINVAL) {
				/* a name the host defines, not the tz database: tz says why */
				rbx_err(x, v, "%s", err.msg);
			} else if (tz_rc < 0) {
				char hint[120];
				rbx_did_you_mean(zone_name, common_zones, rb_strv_len(common_zones), hint,
					     sizeof(hint));
				if (!hint[0])
					snprintf(hint, sizeof(hint),
						 " (names are those of /usr/share/zoneinfo, e.g. "
						 "'Asia/Tokyo')");
				rbx_err(x, v, "unknown time zone '%.60s'%s", zone_name, hint);
			} else {
				rb->schedule.zone = zone;
			}
			free(rb->timezone);
			rb->timezone = zone_name;
		}
	}
	if (!rb->schedule.zone) {
		const struct tz *zone;
		if (!rb->timezone) {
			rb->timezone = xstrdup(RB_DEFAULT_TIMEZONE);
			rb->timezone_defaulted = true;
		}
		if (tz_load(RB_DEFAULT_TIMEZONE, &zone, NULL) < 0)
			zone = tz_utc();
		rb->schedule.zone = zone;
	}
	if ((v = yn_get(n, "calendar"))) {
		if (rbx_str(x, v, "calendar", &rb->calendar_name) &&
		    !strcmp(rb->calendar_name, "jp"))
			rb->schedule.cal = cal_builtin("jp");
	}
	int e;
	if ((v = yn_get(n, "on_closed_day")) && rbx_enum(x, v, "on_closed_day", on_closed_names, &e))
		rb->schedule.on_closed = (enum sched_on_closed)e;
	if ((v = yn_get(n, "on_closed_day")) && !yn_get(n, "calendar") &&
	    rb->schedule.on_closed != SCHED_RUN)
		rbx_err(x, v, "'on_closed_day' needs a 'calendar' to know which days are closed: "
			      "add calendar: jp (or a site calendar)");
	if ((v = yn_get(n, "catchup")) && rbx_enum(x, v, "catchup", catchup_names, &e))
		rb->catchup = (enum rb_catchup)e;
	if ((v = yn_get(n, "catchup_window")))
		rbx_duration(x, v, "catchup_window", &rb->catchup_window_ms);
}

static void parse_kv_map(const struct rbx *x, const struct yn_node *n, const char *what,
			 struct rb_kv **out, size_t *n_out)
{
	if (!rbx_is_map(x, n, what))
		return;
	*out = xcalloc(n->n_pairs + 1, sizeof(**out));
	for (size_t i = 0; i < n->n_pairs; i++) {
		const struct yn_node *k = n->pairs[i].key, *v = n->pairs[i].value;
		if (!yb_env_name_valid(k->text)) {
			rbx_err(x, k, "'%.60s' is not a variable name (letters, digits and '_', not "
				      "starting with a digit)", k->text);
			continue;
		}
		if (!strncmp(k->text, "YOBAN_", 6)) {
			rbx_err(x, k, "'%.60s': names starting with YOBAN_ are Yoban's own: choose "
				      "another name (parameters go under 'params')", k->text);
			continue;
		}
		if (!v || v->type != YN_SCALAR) {
			rbx_err(x, v, "'%s' value of '%.60s' must be a string, not %s", what, k->text,
				yn_type_phrase(v));
			continue;
		}
		(*out)[*n_out].name = xstrdup(k->text);
		(*out)[*n_out].value = xstrdup(yn_is_null(v) ? "" : v->text);
		(*n_out)++;
	}
}

static void parse_sql(const struct rbx *x, struct rb_step *s, const struct yn_node *n)
{
	s->sql.expect_rows = -1;
	if (!rbx_is_map(x, n, "sql"))
		return;
	rbx_keys(x, n, sql_keys, " in 'sql'");
	const struct yn_node *v;
	if (rbx_require(x, n, "dsn", " in 'sql'", " (the libpq connection, e.g. \"service=resident\")"))
		rbx_str(x, yn_get(n, "dsn"), "dsn", &s->sql.dsn);
	if (rbx_require(x, n, "patch", " in 'sql'", " (the UPDATE/INSERT/DELETE to run)"))
		rbx_str(x, yn_get(n, "patch"), "patch", &s->sql.patch);
	if ((v = yn_get(n, "before")))
		rbx_str(x, v, "before", &s->sql.before);
	if ((v = yn_get(n, "after")))
		rbx_str(x, v, "after", &s->sql.after);
	if ((v = yn_get(n, "expect_rows")))
		rbx_int(x, v, "expect_rows", 0, INT64_C(1000000000000), &s->sql.expect_rows);
}

static void parse_backup(const struct rbx *x, struct rb_step *s, const struct yn_node *n)
{
	s->backup.generations = 3;
	s->backup.compression = 3;
	s->backup.verify = true;
	if (!rbx_is_map(x, n, "backup"))
		return;
	rbx_keys(x, n, backup_keys, " in 'backup'");
	const struct yn_node *src = yn_get(n, "source"), *cmd = yn_get(n, "command"), *v;
	if (src && cmd)
		rbx_err(x, cmd, "'backup' has both 'source' and 'command': keep one of them");
	else if (!src && !cmd)
		rbx_err(x, n, "'backup' needs 'source' (a folder) or 'command' (whose output is "
			      "backed up)");
	if (src)
		rbx_str(x, src, "source", &s->backup.source);
	if (cmd)
		rbx_str(x, cmd, "command", &s->backup.command);
	if (rbx_require(x, n, "repository", " in 'backup'", " (the folder holding the generations)"))
		rbx_str(x, yn_get(n, "repository"), "repository", &s->backup.repository);
	int64_t i;
	if ((v = yn_get(n, "generations")) && rbx_int(x, v, "generations", 1, 100, &i))
		s->backup.generations = (int)i;
	if ((v = yn_get(n, "compression")) && rbx_int(x, v, "compression", 1, 19, &i))
		s->backup.compression = (int)i;
	if ((v = yn_get(n, "verify")))
		rbx_bool(x, v, "verify", &s->backup.verify);
}

static void parse_offsite(const struct rbx *x, struct rb_step *s, const struct yn_node *n)
{
	s->offsite.keep = 12;
	s->offsite.verify = true;
	if (!rbx_is_map(x, n, "offsite"))
		return;
	rbx_keys(x, n, offsite_keys, " in 'offsite'");
	const struct yn_node *v;
	if (rbx_require(x, n, "repository", " in 'offsite'", " (the backup repository to copy)"))
		rbx_str(x, yn_get(n, "repository"), "repository", &s->offsite.repository);
	if (rbx_require(x, n, "destination", " in 'offsite'", " ({ host: ..., path: ... })")) {
		const struct yn_node *d = yn_get(n, "destination");
		if (rbx_is_map(x, d, "destination")) {
			rbx_keys(x, d, destination_keys, " in 'destination'");
			if (rbx_require(x, d, "host", " in 'destination'", " (an inventory host)"))
				rbx_str(x, yn_get(d, "host"), "host", &s->offsite.dest_host);
			if (rbx_require(x, d, "path", " in 'destination'", NULL))
				rbx_str(x, yn_get(d, "path"), "path", &s->offsite.dest_path);
		}
	}
	if (rbx_require(x, n, "key_file", " in 'offsite'",
			" (the encryption key: data leaves the building encrypted)"))
		rbx_str(x, yn_get(n, "key_file"), "key_file", &s->offsite.key_file);
	int64_t i;
	if ((v = yn_get(n, "keep")) && rbx_int(x, v, "keep", 1, 1000, &i))
		s->offsite.keep = (int)i;
	if ((v = yn_get(n, "verify")))
		rbx_bool(x, v, "verify", &s->offsite.verify);
}

static void parse_restore(const struct rbx *x, struct rb_step *s, const struct yn_node *n)
{
	if (!rbx_is_map(x, n, "restore"))
		return;
	rbx_keys(x, n, restore_keys, " in 'restore'");
	const struct yn_node *v;
	if (rbx_require(x, n, "repository", " in 'restore'", " (the backup repository)"))
		rbx_str(x, yn_get(n, "repository"), "repository", &s->restore.repository);
	if (rbx_require(x, n, "to", " in 'restore'", " (an empty or new folder)") &&
	    rbx_str(x, (v = yn_get(n, "to")), "to", &s->restore.to) && s->restore.to[0] != '/')
		rbx_err(x, v, "'to' must be an absolute path (an empty or new folder on the host)");
	int64_t i;
	if ((v = yn_get(n, "generation")) && rbx_int(x, v, "generation", 0, 1000, &i))
		s->restore.generation = (int)i;
}

static void parse_step(const struct rbx *x, struct rb_runbook *rb, struct rb_step *s,
		       const struct yn_node *n, size_t index)
{
	s->pos = (struct rb_pos){ rb->path, n->line, n->col };
	s->sql.expect_rows = -1;
	if (n->type != YN_MAP) {
		rbx_err(x, n, "each step must be a mapping with 'name' and an action, not %s",
			yn_type_phrase(n));
		return;
	}
	rbx_keys(x, n, step_keys, " in a step");
	const struct yn_node *v;
	if ((v = yn_get(n, "name"))) {
		if (rbx_str(x, v, "name", &s->name) && !yb_step_name_valid(s->name))
			rbx_err(x, v, "step name '%.60s' may use only letters, digits, '-', '_' and "
				      "'.'", s->name);
	} else {
		rbx_err(x, n, "step %zu has no 'name': give it one (e.g. name: extract)", index + 1);
	}
	const char *label = s->name ? s->name : "";

	/* the action: exactly one of run, argv, sql, backup, offsite, restore */
	const struct yn_pair *first = NULL;
	for (size_t i = 0; i < n->n_pairs; i++) {
		const struct yn_pair *p = &n->pairs[i];
		int kind = -1;
		for (int k = 0; step_kind_names[k]; k++)
			if (!strcmp(p->key->text, step_kind_names[k]))
				kind = k;
		if (kind < 0)
			continue;
		if (first) {
			rbx_err(x, p->key, "step '%s' has two actions ('%s' and '%s'): keep one "
					   "(split it into two steps if both are needed)",
				label, first->key->text, p->key->text);
			continue;
		}
		first = p;
		s->kind = (enum rb_step_kind)kind;
		switch (s->kind) {
		case RB_STEP_RUN:
			rbx_str(x, p->value, "run", &s->run);
			break;
		case RB_STEP_ARGV:
			if (rbx_strlist(x, p->value, "argv", &s->argv, &s->argc) && s->argc == 0)
				rbx_err(x, p->value, "'argv' is empty: give the program and its "
						     "arguments");
			break;
		case RB_STEP_SQL:
			parse_sql(x, s, p->value);
			if (rb->kind != RB_KIND_DATA_PATCH)
				rbx_err(x, p->key, "'sql' steps belong in a runbook of kind data-patch "
						   "(they change data, so they need approval)");
			break;
		case RB_STEP_BACKUP:
			parse_backup(x, s, p->value);
			break;
		case RB_STEP_OFFSITE:
			parse_offsite(x, s, p->value);
			break;
		case RB_STEP_RESTORE:
			parse_restore(x, s, p->value);
			break;
		}
	}
	if (!first)
		rbx_err(x, n, "step '%s' has no action: give it one of run, argv, sql, backup, "
			      "offsite or restore", label);

	if ((v = yn_get(n, "timeout")) && rbx_duration(x, v, "timeout", &s->timeout_ms) &&
	    s->timeout_ms <= 0) {
		rbx_err(x, v, "'timeout' must be longer than 0");
		s->timeout_ms = 0;
	}
	if ((v = yn_get(n, "retry"))) {
		s->retry = rb->retry;
		s->has_retry = true;
		parse_retry(x, v, &s->retry);
	}
	if ((v = yn_get(n, "env")))
		parse_kv_map(x, v, "env", &s->env, &s->n_env);
	if ((v = yn_get(n, "secrets")))
		parse_kv_map(x, v, "secrets", &s->secrets, &s->n_secrets);
	if ((v = yn_get(n, "workdir")))
		rbx_str(x, v, "workdir", &s->workdir);
	int e;
	if ((v = yn_get(n, "on_failure")) && rbx_enum(x, v, "on_failure", on_failure_names, &e))
		s->on_failure = (enum rb_on_failure)e;
}

static void parse_params(const struct rbx *x, struct rb_runbook *rb, const struct yn_node *n)
{
	if (!rbx_is_map(x, n, "params"))
		return;
	rb->params = xcalloc(n->n_pairs + 1, sizeof(*rb->params));
	for (size_t i = 0; i < n->n_pairs; i++) {
		const struct yn_node *k = n->pairs[i].key, *v = n->pairs[i].value;
		if (!yb_param_name_valid(k->text)) {
			rbx_err(x, k, "parameter name '%.60s' may use only letters, digits, '_' and "
				      "'-', starting with a letter", k->text);
			continue;
		}
		struct rb_param *p = &rb->params[rb->n_params];
		if (v->type == YN_MAP) {
			rbx_keys(x, v, param_keys, " in a parameter");
			const struct yn_node *d;
			if ((d = yn_get(v, "default"))) {
				if (d->type == YN_SCALAR)
					p->default_value = xstrdup(yn_is_null(d) ? "" : d->text);
				else
					rbx_err(x, d, "'default' must be a string, not %s",
						yn_type_phrase(d));
			}
			if ((d = yn_get(v, "description")))
				rbx_str(x, d, "description", &p->description);
		} else if (yn_is_null(v)) {
			/* no default: required when triggered */
		} else if (v->type == YN_SCALAR) {
			p->default_value = xstrdup(v->text);
		} else {
			rbx_err(x, v, "parameter '%s' must be { default: ..., description: ... } or a "
				      "default value, not %s", k->text, yn_type_phrase(v));
			continue;
		}
		p->name = xstrdup(k->text);
		p->env_name = yb_param_env_name(k->text);
		for (size_t j = 0; j < rb->n_params; j++)
			if (!strcmp(rb->params[j].env_name, p->env_name)) {
				rbx_err(x, k, "parameters '%s' and '%s' would both reach the steps as %s: "
					      "rename one of them", rb->params[j].name, p->name,
					p->env_name);
				break;
			}
		rb->n_params++;
	}
}

static void parse_approval(const struct rbx *x, struct rb_runbook *rb, const struct yn_node *n)
{
	if (!rbx_is_map(x, n, "approval"))
		return;
	rb->has_approval = true;
	rb->approvers = 1;
	rbx_keys(x, n, approval_keys, " in 'approval'");
	const struct yn_node *v;
	int64_t i;
	if (rbx_require(x, n, "approvers", " in 'approval'",
			" (how many distinct people approve, e.g. approvers: 2)") &&
	    rbx_int(x, yn_get(n, "approvers"), "approvers", 1, 10, &i))
		rb->approvers = (int)i;
	if ((v = yn_get(n, "lead_time")))
		rbx_duration(x, v, "lead_time", &rb->lead_time_ms);
	if ((v = yn_get(n, "procedure")))
		rbx_str(x, v, "procedure", &rb->procedure);
	else if (rb->kind == RB_KIND_DATA_PATCH)
		rbx_err(x, n, "a data patch's 'approval' needs 'procedure' (the 作業手順書, "
			      "e.g. procedure: procedures/INC-2026-118.md)");
}

static void parse_top(const struct rbx *x, struct rb_runbook *rb, const struct yn_node *root)
{
	const struct yn_node *v;
	int e;
	rbx_keys(x, root, top_keys, "");

	if ((v = yn_get(root, "version"))) {
		if (v->type != YN_SCALAR || strcmp(v->text, "1"))
			rbx_err(x, v, "unsupported 'version' %s%.20s%s: this Yoban reads version 1",
				v->type == YN_SCALAR ? "'" : "",
				v->type == YN_SCALAR ? v->text : yn_type_phrase(v),
				v->type == YN_SCALAR ? "'" : "");
		else
			rb->version = 1;
	} else {
		rbx_err(x, root, "missing required key 'version' (write version: 1 first)");
	}
	if ((v = yn_get(root, "name"))) {
		if (rbx_str(x, v, "name", &rb->name) && !yb_runbook_name_valid(rb->name))
			rbx_err(x, v, "runbook name '%.80s' may use only a-z, 0-9 and '-' (at most 63, "
				      "not starting with '-')", rb->name);
	} else {
		rbx_err(x, root, "missing required key 'name' (e.g. name: nightly-resident-batch)");
	}
	if (rb->name)
		rb->pos = (struct rb_pos){ rb->path, v->line, v->col };
	if ((v = yn_get(root, "title")))
		rbx_str(x, v, "title", &rb->title);
	if ((v = yn_get(root, "description")))
		rbx_str(x, v, "description", &rb->description);
	bool kind_ok = false;
	if ((v = yn_get(root, "kind")))
		kind_ok = rbx_enum(x, v, "kind", kind_names, &e);
	else
		rbx_err(x, root, "missing required key 'kind' (batch, data-patch, backup, "
				 "offsite-copy or rehearsal)");
	if (kind_ok)
		rb->kind = (enum rb_kind)e;
	const struct yn_node *kind_node = v;

	if ((v = yn_get(root, "concurrency")) && rbx_enum(x, v, "concurrency", conc_names, &e))
		rb->concurrency = (enum rb_concurrency)e;
	if ((v = yn_get(root, "locks")))
		rbx_strlist(x, v, "locks", &rb->locks, &rb->n_locks);
	if ((v = yn_get(root, "targets")) && rbx_is_map(x, v, "targets")) {
		rbx_keys(x, v, targets_keys, " in 'targets'");
		const struct yn_node *h;
		if ((h = yn_get(v, "hosts")))
			rbx_strlist(x, h, "hosts", &rb->hosts, &rb->n_hosts);
		if ((h = yn_get(v, "staging_hosts")))
			rbx_strlist(x, h, "staging_hosts", &rb->staging_hosts, &rb->n_staging_hosts);
	}
	if ((v = yn_get(root, "timeout")) && rbx_duration(x, v, "timeout", &rb->timeout_ms) &&
	    rb->timeout_ms <= 0) {
		rbx_err(x, v, "'timeout' must be longer than 0");
		rb->timeout_ms = RB_DEFAULT_TIMEOUT_MS;
	}
	if ((v = yn_get(root, "retry")))
		parse_retry(x, v, &rb->retry);
	if ((v = yn_get(root, "notify")) && rbx_is_map(x, v, "notify")) {
		rbx_keys(x, v, notify_keys, " in 'notify'");
		const struct yn_node *on = yn_get(v, "on"), *ch = yn_get(v, "channels");
		if (on) {
			if (on->type != YN_SEQ) {
				rbx_err(x, on, "'on' must be a list like [failure, timeout], not %s",
					yn_type_phrase(on));
			} else {
				unsigned bits = 0;
				for (size_t i = 0; i < on->n_items; i++)
					if (rbx_enum(x, on->items[i], "on", notify_on_names, &e))
						bits |= 1u << e;
				rb->notify_on = bits;
			}
		}
		if (ch)
			rbx_strlist(x, ch, "channels", &rb->channels, &rb->n_channels);
	}
	if ((v = yn_get(root, "effort")) && rbx_is_map(x, v, "effort")) {
		rbx_keys(x, v, effort_keys, " in 'effort'");
		rb->has_effort = true;
		const struct yn_node *c;
		if (rbx_require(x, v, "category", " in 'effort'", " (service, incident or modification)") &&
		    rbx_enum(x, yn_get(v, "category"), "category", effort_names, &e))
			rb->effort_category = (enum rb_effort_category)e;
		/* One run is one person's work on one day: at most 24 hours (docs/effort.md). */
		if (rbx_require(x, v, "hours", " in 'effort'", " (hours of work one run stands for)") &&
		    (c = yn_get(v, "hours")))
			rbx_num(x, c, "hours", 0.01, 24, &rb->effort_hours);
	}
	if ((v = yn_get(root, "params")))
		parse_params(x, rb, v);
	if ((v = yn_get(root, "approval")))
		parse_approval(x, rb, v);
	if ((v = yn_get(root, "staging")) && rbx_is_map(x, v, "staging")) {
		rbx_keys(x, v, staging_keys, " in 'staging'");
		const struct yn_node *r;
		if ((r = yn_get(v, "required")))
			rbx_bool(x, r, "required", &rb->staging_required);
		if (rb->staging_required && rb->n_staging_hosts == 0)
			rbx_err(x, r, "staging is required but 'targets.staging_hosts' is empty: list "
				      "the staging hosts it must pass on first");
	}
	/* the schedule last: its cron's H is hashed by the runbook's name */
	if ((v = yn_get(root, "schedule")))
		parse_schedule(x, rb, v);

	const struct yn_node *steps = yn_get(root, "steps");
	const struct yn_node *rehearse = yn_get(root, "rehearse");
	if (kind_ok && rb->kind == RB_KIND_REHEARSAL) {
		if (!rehearse)
			rbx_err(x, kind_node, "a rehearsal needs 'rehearse' (the name of the runbook "
					      "it runs on staging)");
		else if (rbx_str(x, rehearse, "rehearse", &rb->rehearse) &&
			 !yb_runbook_name_valid(rb->rehearse))
			rbx_err(x, rehearse, "'%.80s' is not a runbook name", rb->rehearse);
		if (steps)
			rbx_err(x, yn_get_pair(root, "steps")->key,
				"a rehearsal has no steps of its own (it runs the rehearsed runbook's "
				"steps on its staging_hosts): remove 'steps'");
		if (yn_get(root, "targets"))
			rbx_err(x, yn_get_pair(root, "targets")->key,
				"a rehearsal has no targets of its own (it uses the rehearsed runbook's "
				"staging_hosts): remove 'targets'");
		return;
	}
	if (rehearse && kind_ok)
		rbx_err(x, yn_get_pair(root, "rehearse")->key,
			"'rehearse' is only for kind rehearsal: remove it or set kind: rehearsal");
	if (kind_ok && rb->kind == RB_KIND_DATA_PATCH && !yn_get(root, "approval"))
		rbx_err(x, kind_node, "a data patch needs 'approval' (approvers, lead_time and the "
				      "procedure document): add it");
	if (!steps) {
		rbx_err(x, root, "missing required key 'steps' (the list of what to run)");
		return;
	}
	if (steps->type != YN_SEQ) {
		rbx_err(x, steps, "'steps' must be a list of steps (lines starting with '- '), not %s",
			yn_type_phrase(steps));
		return;
	}
	if (steps->n_items == 0)
		rbx_err(x, steps, "'steps' is empty: a runbook needs at least one step");
	if (!yn_get(root, "targets") || rb->n_hosts == 0) {
		const struct yn_node *t = yn_get(root, "targets");
		rbx_err(x, t ? t : root, "missing 'targets.hosts': say where the steps run (e.g. "
					 "targets: { hosts: [batch-01] })");
	}
	rb->steps = xcalloc(steps->n_items ? steps->n_items : 1, sizeof(*rb->steps));
	for (size_t i = 0; i < steps->n_items; i++) {
		struct rb_step *s = &rb->steps[rb->n_steps++];
		parse_step(x, rb, s, steps->items[i], i);
		if (!s->name)
			continue;
		for (size_t j = 0; j + 1 < rb->n_steps; j++)
			if (rb->steps[j].name && !strcmp(rb->steps[j].name, s->name)) {
				const struct yn_node *nn = yn_get(steps->items[i], "name");
				rbx_err(x, nn, "step name '%s' is used twice (first at line %d): step "
					       "names must be unique", s->name, rb->steps[j].pos.line);
				break;
			}
	}
}

int rb_runbook_parse_tree(const char *display_name, const char *data, size_t len,
			  struct rb_runbook **out, struct yn_node **tree, struct rb_diags *diags)
{
	size_t errors_before = diags->n_errors;
	struct yn_node *root = NULL;
	struct rb_runbook *rb = xcalloc(1, sizeof(*rb));
	struct rbx x = { display_name, diags };
	int rc;

	rb->path = xstrdup(display_name);
	rb->timeout_ms = RB_DEFAULT_TIMEOUT_MS;
	rb->retry = (struct rb_retry){ 1, 0 };
	rb->notify_on = RB_NOTIFY_FAILURE | RB_NOTIFY_TIMEOUT;
	rb->catchup = RB_CATCHUP_NONE;
	rb->catchup_window_ms = RB_DEFAULT_CATCHUP_WINDOW_MS;
	yb_sha256_hex(data, len, rb->revision);

	if ((rc = yn_parse(display_name, data, len, &root, diags)) < 0)
		goto out;
	if (!root || yn_is_null(root)) {
		rb_diag_add(diags, RB_SEV_ERROR, display_name, 0, 0,
			    "the file is empty: a runbook starts with 'version: 1' and 'name: ...'");
		rc = YB_EINVAL;
		goto out;
	}
	if (root->type != YN_MAP) {
		rbx_err(&x, root, "a runbook must be a mapping (key: value lines), not %s",
			yn_type_phrase(root));
		rc = YB_EINVAL;
		goto out;
	}
	parse_top(&x, rb, root);
	rc = diags->n_errors > errors_before ? YB_EINVAL : 0;
out:
	if (rc < 0 && root && tree) {
		/* the caller may still want the tree for more checks: only on success */
	}
	if (rc == 0) {
		*out = rb;
		if (tree)
			*tree = root;
		else
			yn_free(root);
	} else {
		rb_runbook_free(rb);
		yn_free(root);
	}
	return rc;
}

int rb_runbook_parse(const char *display_name, const char *data, size_t len,
		     struct rb_runbook **out, struct rb_diags *diags)
{
	return rb_runbook_parse_tree(display_name, data, len, out, NULL, diags);
}
