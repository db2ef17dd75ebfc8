/*
 * plan.c: the dry run: a runbook resolved against its set (hosts with their addresses, steps with
 * their effective timeout, retry and environment, the next fires after the calendar, the approval
 * and staging it needs), rendered as text for an operator at 2 a.m. or as JSON for tools.
 *
 * The one idea: nothing here executes or connects; every value shown is one the dispatcher would
 * use, taken from the same model (rb_step_timeout_ms, rb_step_retry, sched_next), so the plan
 * cannot drift from what the night does.
 */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "json.h"
#include "sched.h"
#include "tz.h"

static const char *const weekday_abbr[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };

/* What the calendar did between two fires: the closed days whose raw (cron) fires in (lo, hi)
 * were skipped or moved. */
static void calendar_note(const struct rb_runbook *rb, int64_t lo, int64_t hi, const char *label,
			  char *out, size_t out_size)
{
	const struct schedule *s = &rb->schedule;
	int last_day = -1;
	int shown = 0, more = 0;
	size_t used = 0;
	int64_t t = lo;
	out[0] = 0;
	for (int i = 0; i < 400; i++) {
		int64_t raw;
		if (cron_next(s->cron, s->zone, t, &raw) < 0 || raw >= hi)
			break;
		t = raw;
		struct yb_civil c;
		tz_to_local(s->zone, raw, &c, NULL);
		const char *why = NULL;
		if (cal_is_open(s->cal, c.year, c.month, c.day, &why))
			continue;
		int day_key = c.year * 400 + c.month * 32 + c.day;
		if (day_key == last_day)
			continue;
		last_day = day_key;
		if (shown >= 3) {
			more++;
			continue;
		}
		if (used == 0)
			used += (size_t)snprintf(out, out_size, "%s", label);
		if (used < out_size)
			used += (size_t)snprintf(out + used, out_size - used, "%s%04d-%02d-%02d %s",
						 shown ? ", " : " ", c.year, c.month, c.day,
						 why ? why : "closed");
		shown++;
	}
	if (more && used < out_size)
		snprintf(out + used, out_size - used, " and %d more", more);
}

static void calendar_notes(struct rb_plan *p, size_t n);
static void maintenance_notes(struct rb_plan *p);

static void compute_fires(struct rb_plan *p, size_t n_fires)
{
	const struct rb_runbook *rb = p->rb;
	if (!rb->has_schedule || (!rb->schedule.cron && !rb->schedule.business_day))
		return;
	if (n_fires > RB_PLAN_MAX_FIRES - 1)
		n_fires = RB_PLAN_MAX_FIRES - 1;
	/* one more than shown, so that previous_open_day notes can look ahead */
	int64_t t = p->from;
	size_t n = 0;
	for (; n < n_fires + 1; n++) {
		struct yb_err err = { 0 };
		int64_t fire;
		if (sched_next(&rb->schedule, t, &fire, &err) < 0) {
			if (n < n_fires)
				snprintf(p->fire_error, sizeof(p->fire_error), "%.200s", err.msg);
			break;
		}
		p->fires[n].at = fire;
		p->fires[n].note[0] = 0;
		t = fire;
	}
	p->n_fires = n < n_fires ? n : n_fires;
	const struct schedule *s = &rb->schedule;
	if (s->cron && s->cal)
		calendar_notes(p, n);
	maintenance_notes(p);
}

/* A fire inside a maintenance window of the site is held until the window ends, or skipped. */
static void maintenance_notes(struct rb_plan *p)
{
	const struct rb_site *site = &p->set->site;
	for (size_t i = 0; i < p->n_fires; i++) {
		struct rb_plan_fire *f = &p->fires[i];
		for (size_t k = 0; k < site->n_maintenance; k++) {
			const struct rb_maintenance *m = &site->maintenance[k];
			bool applies = m->n_runbooks == 0;
			for (size_t r = 0; r < m->n_runbooks && !applies; r++)
				applies = !strcmp(m->runbooks[r], p->rb->name);
			if (!applies || f->at < m->from || f->at >= m->to)
				continue;
			char until[64];
			tz_format_iso(p->rb->schedule.zone, m->to, until, sizeof(until));
			size_t used = strlen(f->note);
			snprintf(f->note + used, sizeof(f->note) - used, "%smaintenance '%s': %s",
				 used ? "; " : "", m->name ? m->name : "",
				 m->action == RB_MAINT_SKIP ? "skipped" : "held until ");
			used = strlen(f->note);
			if (m->action == RB_MAINT_HOLD)
				snprintf(f->note + used, sizeof(f->note) - used, "%s", until);
			break;
		}
	}
}

static void calendar_notes(struct rb_plan *p, size_t n)
{
	const struct rb_runbook *rb = p->rb;
	const struct schedule *s = &rb->schedule;
	for (size_t i = 0; i < p->n_fires; i++) {
		struct rb_plan_fire *f = &p->fires[i];
		int64_t prev = i ? p->fires[i - 1].at : p->from;
		switch (s->on_closed) {
		case SCHED_SKIP:
			calendar_note(rb, prev, f->at, "skipped closed days:", f->note,
				      sizeof(f->note));
			break;
		case SCHED_NEXT_OPEN_DAY:
			calendar_note(rb, prev, f->at, "moved here from closed days:", f->note,
				      sizeof(f->note));
			break;
		case SCHED_PREVIOUS_OPEN_DAY:
			if (i + 1 < n)
				calendar_note(rb, f->at, p->fires[i + 1].at,
					      "moved here from closed days:", f->note, sizeof(f->note));
			break;
		case SCHED_RUN: {
			struct yb_civil c;
			const char *why = NULL;
			tz_to_local(s->zone, f->at, &c, NULL);
			if (!cal_is_open(s->cal, c.year, c.month, c.day, &why))
				snprintf(f->note, sizeof(f->note), "a closed day (%s): runs anyway",
					 why ? why : "closed");
			break;
		}
		}
	}
}

static const struct rb_host **resolve(const struct rb_set *set, char **names, size_t n)
{
	const struct rb_host **out = xcalloc(n + 1, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		out[i] = rb_set_host(set, names[i]);
	return out;
}

void rb_plan_build(const struct rb_set *set, const struct rb_runbook *rb, int64_t from,
		   size_t n_fires, struct rb_plan *p)
{
	memset(p, 0, sizeof(*p));
	p->set = set;
	p->rb = rb;
	p->from = from;
	p->steps_of = rb->kind == RB_KIND_REHEARSAL ? rb->rehearse_target : rb;
	if (rb->kind == RB_KIND_REHEARSAL) {
		if (p->steps_of) {
			p->staging_hosts = resolve(set, p->steps_of->staging_hosts,
						   p->steps_of->n_staging_hosts);
			p->n_staging_hosts = p->steps_of->n_staging_hosts;
		}
	} else {
		p->hosts = resolve(set, rb->hosts, rb->n_hosts);
		p->n_hosts = rb->n_hosts;
		p->staging_hosts = resolve(set, rb->staging_hosts, rb->n_staging_hosts);
		p->n_staging_hosts = rb->n_staging_hosts;
	}
	compute_fires(p, n_fires);
}

void rb_plan_release(struct rb_plan *p)
{
	free(p->hosts);
	free(p->staging_hosts);
	memset(p, 0, sizeof(*p));
}

/* ---- text --------------------------------------------------------------------------------- */

static void duration(int64_t ms, char *out, size_t n)
{
	yb_format_duration(ms, out, n);
}

static void print_host(FILE *out, const struct rb_host *h, const char *name)
{
	if (!h) {
		fprintf(out, "    %-16s (not in the inventory)\n", name);
		return;
	}
	if (h->transport == RB_TRANSPORT_LOCAL) {
		fprintf(out, "    %-16s local   (a child process on this machine)\n", h->name);
		return;
	}
	fprintf(out, "    %-16s ssh     %s@%s:%d  host key %s\n", h->name, h->user ? h->user : "",
		h->address ? h->address : "?", h->port, h->host_key ? h->host_key : "(none)");
}

static void print_action(FILE *out, const struct rb_step *s)
{
	switch (s->kind) {
	case RB_STEP_RUN:
		fprintf(out, "       run:     %s\n", s->run ? s->run : "");
		break;
	case RB_STEP_ARGV:
		fprintf(out, "       argv:   ");
		for (size_t i = 0; i < s->argc; i++)
			fprintf(out, " [%s]", s->argv[i]);
		fputc('\n', out);
		break;
	case RB_STEP_SQL:
		fprintf(out, "       sql on:  %s (one transaction)\n", s->sql.dsn ? s->sql.dsn : "");
		if (s->sql.before)
			fprintf(out, "       before:  %s\n", s->sql.before);
		fprintf(out, "       patch:   %s\n", s->sql.patch ? s->sql.patch : "");
		if (s->sql.expect_rows >= 0)
			fprintf(out, "       guard:   exactly %lld rows, else roll back and fail\n",
				(long long)s->sql.expect_rows);
		if (s->sql.after)
			fprintf(out, "       after:   %s\n", s->sql.after);
		break;
	case RB_STEP_BACKUP:
		fprintf(out, "       backup:  %s%s -> %s, keep %d generations, zstd level %d%s\n",
			s->backup.source ? "" : "output of ",
			s->backup.source ? s->backup.source : (s->backup.command ? s->backup.command : ""),
			s->backup.repository ? s->backup.repository : "", s->backup.generations,
			s->backup.compression, s->backup.verify ? ", verified before rotating" : "");
		break;
	case RB_STEP_OFFSITE:
		fprintf(out, "       offsite: newest verified generation of %s -> %s:%s, encrypted with "
			     "%s, keep %d%s\n",
			s->offsite.repository ? s->offsite.repository : "",
			s->offsite.dest_host ? s->offsite.dest_host : "",
			s->offsite.dest_path ? s->offsite.dest_path : "",
			s->offsite.key_file ? s->offsite.key_file : "", s->offsite.keep,
			s->offsite.verify ? ", verified there" : "");
		break;
	case RB_STEP_RESTORE:
		fprintf(out, "       restore: generation %d of %s -> %s (an empty or new folder), "
			     "checked against its manifest\n",
			s->restore.generation, s->restore.repository ? s->restore.repository : "",
			s->restore.to ? s->restore.to : "");
		break;
	}
}

static void print_env(FILE *out, const struct rb_plan *p)
{
	const struct rb_runbook *rb = p->rb, *src = p->steps_of ? p->steps_of : rb;
	fprintf(out, "  YOBAN_RUN_ID=<assigned when the run is created>\n");
	fprintf(out, "  YOBAN_RUNBOOK=%s\n", src->name);
	fprintf(out, "  YOBAN_REVISION=%s\n", src->revision);
	fprintf(out, "  YOBAN_STEP=<the step's name>\n");
	fprintf(out, "  YOBAN_HOST=<the host's name>\n");
	fprintf(out, "  YOBAN_ENVIRONMENT=%s\n",
		rb->kind == RB_KIND_REHEARSAL ? "staging" : "production (staging on staging hosts)");
	fprintf(out, "  YOBAN_SCHEDULED_AT=<the fire time, ISO 8601; empty for a manual run>\n");
	fprintf(out, "  YOBAN_ATTEMPT=<1, 2, ... on retries>\n");
	for (size_t i = 0; i < src->n_params; i++) {
		const struct rb_param *pr = &src->params[i];
		if (pr->default_value)
			fprintf(out, "  %s=%s\n", pr->env_name, pr->default_value);
		else
			fprintf(out, "  %s=<required: give --param %s=VALUE>\n", pr->env_name, pr->name);
	}
}

void rb_plan_print(const struct rb_plan *p, FILE *out)
{
	const struct rb_runbook *rb = p->rb;
	char buf[64], buf2[64];

	fprintf(out, "runbook    %s%s%s%s\n", rb->name, rb->title ? "  (" : "",
		rb->title ? rb->title : "", rb->title ? ")" : "");
	fprintf(out, "kind       %s\n", rb_kind_name(rb->kind));
	fprintf(out, "file       %s\n", rb->path);
	fprintf(out, "revision   %s\n", rb->revision);
	if (rb->kind == RB_KIND_REHEARSAL && p->steps_of)
		fprintf(out, "rehearses  %s (revision %s) on its staging hosts, as in production\n",
			p->steps_of->name, p->steps_of->revision);

	fprintf(out, "\nwhen\n");
	if (!rb->has_schedule) {
		fprintf(out, "  no schedule: runs only when triggered (yoban trigger %s)\n", rb->name);
	} else {
		const struct schedule *s = &rb->schedule;
		if (s->cron)
			fprintf(out, "  cron \"%s\" in %s", rb->cron_text, rb->timezone);
		else
			fprintf(out, "  business day %d of each month at %02d:%02d in %s",
				s->business_day, s->at_hour, s->at_min, rb->timezone);
		if (rb->calendar_name)
			fprintf(out, ", calendar %s, on closed days: %s\n", rb->calendar_name,
				sched_on_closed_name(s->on_closed));
		else
			fprintf(out, ", every day open (no calendar)\n");
		duration(rb->catchup_window_ms, buf, sizeof(buf));
		fprintf(out, "  after downtime: catchup %s", rb_catchup_name(rb->catchup));
		if (rb->catchup != RB_CATCHUP_NONE)
			fprintf(out, " within %s", buf);
		fputc('\n', out);
		char from[64];
		tz_format_iso(s->zone, p->from, from, sizeof(from));
		fprintf(out, "  next %zu fires after %s:\n", p->n_fires, from);
		for (size_t i = 0; i < p->n_fires; i++) {
			char iso[64];
			struct yb_civil c;
			tz_format_iso(s->zone, p->fires[i].at, iso, sizeof(iso));
			tz_to_local(s->zone, p->fires[i].at, &c, NULL);
			fprintf(out, "    %s  %s%s%s\n", iso, weekday_abbr[c.wday % 7],
				p->fires[i].note[0] ? "  " : "", p->fires[i].note);
		}
		if (p->fire_error[0])
			fprintf(out, "    (no more fires: %s)\n", p->fire_error);
	}
	fprintf(out, "  concurrency %s", rb_concurrency_name(rb->concurrency));
	if (rb->n_locks) {
		fprintf(out, ", locks:");
		for (size_t i = 0; i < rb->n_locks; i++)
			fprintf(out, " %s", rb->locks[i]);
	}
	fputc('\n', out);

	fprintf(out, "\nwhere\n");
	if (rb->kind != RB_KIND_REHEARSAL) {
		fprintf(out, "  production hosts:\n");
		for (size_t i = 0; i < p->n_hosts; i++)
			print_host(out, p->hosts[i], rb->hosts[i]);
	}
	fprintf(out, "  staging hosts:%s\n", p->n_staging_hosts ? "" : " none");
	for (size_t i = 0; i < p->n_staging_hosts; i++)
		print_host(out, p->staging_hosts[i], p->steps_of->staging_hosts[i]);

	fprintf(out, "\ngates\n");
	if (rb->has_approval) {
		duration(rb->lead_time_ms, buf, sizeof(buf));
		fprintf(out, "  approval: %d distinct %s (not the requester), at least %s before the "
			     "run\n", rb->approvers, rb->approvers == 1 ? "approver" : "approvers",
			rb->lead_time_ms ? buf : "0s");
		if (rb->procedure)
			fprintf(out, "  procedure: %s\n    sha256 %s (pinned: any change needs a new "
				     "approval)\n",
				rb->procedure_path ? rb->procedure_path : rb->procedure,
				rb->procedure_sha256[0] ? rb->procedure_sha256 : "(not read)");
	} else {
		fprintf(out, "  approval: none\n");
	}
	fprintf(out, "  staging: %s\n",
		rb->staging_required ? "required: production is refused until this revision has "
				       "passed on the staging hosts"
				     : "not required");
	if (rb->n_channels) {
		fprintf(out, "  notify on");
		static const char *const on_names[] = { "start", "success", "failure", "timeout",
							"approval" };
		for (int i = 0; i < 5; i++)
			if (rb->notify_on & (1u << i))
				fprintf(out, " %s", on_names[i]);
		fprintf(out, " ->");
		for (size_t i = 0; i < rb->n_channels; i++)
			fprintf(out, " %s", rb->channels[i]);
		fputc('\n', out);
	} else {
		fprintf(out, "  notify: no channels\n");
	}
	if (rb->has_effort)
		fprintf(out, "  effort: %s, %.2f h logged per run that ran (docs/effort.md)\n",
			rb_effort_category_name(rb->effort_category), rb->effort_hours);

	const struct rb_runbook *src = p->steps_of;
	fprintf(out, "\nsteps (in order, on each host; on a failure the run stops unless the step "
		     "says continue)\n");
	if (!src) {
		fprintf(out, "  (the rehearsed runbook is not loaded)\n");
	} else {
		for (size_t i = 0; i < src->n_steps; i++) {
			const struct rb_step *s = &src->steps[i];
			struct rb_retry r = rb_step_retry(src, s);
			duration(rb_step_timeout_ms(src, s), buf, sizeof(buf));
			duration(r.delay_ms, buf2, sizeof(buf2));
			fprintf(out, "  %zu. %s\n", i + 1, s->name);
			print_action(out, s);
			fprintf(out, "       timeout %s%s, ", buf, s->timeout_ms ? "" : " (runbook default)");
			if (r.attempts > 1)
				fprintf(out, "%d attempts %s apart", r.attempts, buf2);
			else
				fprintf(out, "no retry");
			fprintf(out, ", on failure %s\n", rb_on_failure_name(s->on_failure));
			if (s->workdir)
				fprintf(out, "       in %s\n", s->workdir);
			for (size_t k = 0; k < s->n_env; k++)
				fprintf(out, "       env %s=%s\n", s->env[k].name, s->env[k].value);
			for (size_t k = 0; k < s->n_secrets; k++)
				fprintf(out, "       secret %s=<content of %s, masked in output>\n",
					s->secrets[k].name, s->secrets[k].value);
		}
	}
	fprintf(out, "\nenvironment of every step\n");
	print_env(out, p);
	fprintf(out, "\nnothing was executed: this is a plan\n");
}

/* ---- JSON --------------------------------------------------------------------------------- */

static struct yb_json *host_json(const struct rb_host *h, const char *name)
{
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "name", yb_json_str(name));
	if (!h) {
		yb_json_set(o, "known", yb_json_bool(false));
		return o;
	}
	yb_json_set(o, "transport", yb_json_str(rb_transport_name(h->transport)));
	yb_json_set(o, "environment", yb_json_str(rb_environment_name(h->environment)));
	if (h->transport == RB_TRANSPORT_SSH) {
		yb_json_set(o, "address", yb_json_str(h->address));
		yb_json_set(o, "port", yb_json_int(h->port));
		yb_json_set(o, "user", yb_json_str(h->user));
		yb_json_set(o, "host_key", yb_json_str(h->host_key));
	}
	return o;
}

static struct yb_json *strv_json(char **v, size_t n)
{
	struct yb_json *a = yb_json_array();
	for (size_t i = 0; i < n; i++)
		yb_json_push(a, yb_json_str(v[i]));
	return a;
}

static struct yb_json *step_json(const struct rb_runbook *rb, const struct rb_step *s)
{
	struct yb_json *o = yb_json_object();
	char buf[64];
	yb_json_set(o, "name", yb_json_str(s->name));
	yb_json_set(o, "action", yb_json_str(rb_step_kind_name(s->kind)));
	switch (s->kind) {
	case RB_STEP_RUN:
		yb_json_set(o, "run", yb_json_str(s->run));
		break;
	case RB_STEP_ARGV:
		yb_json_set(o, "argv", strv_json(s->argv, s->argc));
		break;
	case RB_STEP_SQL: {
		struct yb_json *q = yb_json_object();
		yb_json_set(q, "dsn", yb_json_str(s->sql.dsn));
		yb_json_set(q, "before", yb_json_str(s->sql.before));
		yb_json_set(q, "patch", yb_json_str(s->sql.patch));
		yb_json_set(q, "expect_rows",
			    s->sql.expect_rows >= 0 ? yb_json_int(s->sql.expect_rows) : yb_json_null());
		yb_json_set(q, "after", yb_json_str(s->sql.after));
		yb_json_set(o, "sql", q);
		break;
	}
	case RB_STEP_BACKUP: {
		struct yb_json *b = yb_json_object();
		yb_json_set(b, "source", yb_json_str(s->backup.source));
		yb_json_set(b, "command", yb_json_str(s->backup.command));
		yb_json_set(b, "repository", yb_json_str(s->backup.repository));
		yb_json_set(b, "generations", yb_json_int(s->backup.generations));
		yb_json_set(b, "compression", yb_json_int(s->backup.compression));
		yb_json_set(b, "verify", yb_json_bool(s->backup.verify));
		yb_json_set(o, "backup", b);
		break;
	}
	case RB_STEP_OFFSITE: {
		struct yb_json *b = yb_json_object();
		yb_json_set(b, "repository", yb_json_str(s->offsite.repository));
		yb_json_set(b, "host", yb_json_str(s->offsite.dest_host));
		yb_json_set(b, "path", yb_json_str(s->offsite.dest_path));
		yb_json_set(b, "key_file", yb_json_str(s->offsite.key_file));
		yb_json_set(b, "keep", yb_json_int(s->offsite.keep));
		yb_json_set(b, "verify", yb_json_bool(s->offsite.verify));
		yb_json_set(o, "offsite", b);
		break;
	}
	case RB_STEP_RESTORE: {
		struct yb_json *b = yb_json_object();
		yb_json_set(b, "repository", yb_json_str(s->restore.repository));
		yb_json_set(b, "generation", yb_json_int(s->restore.generation));
		yb_json_set(b, "to", yb_json_str(s->restore.to));
		yb_json_set(o, "restore", b);
		break;
	}
	}
	int64_t t = rb_step_timeout_ms(rb, s);
	yb_format_duration(t, buf, sizeof(buf));
	yb_json_set(o, "timeout", yb_json_str(buf));
	yb_json_set(o, "timeout_ms", yb_json_int(t));
	struct rb_retry r = rb_step_retry(rb, s);
	struct yb_json *rj = yb_json_object();
	yb_json_set(rj, "attempts", yb_json_int(r.attempts));
	yb_json_set(rj, "delay_ms", yb_json_int(r.delay_ms));
	yb_json_set(o, "retry", rj);
	yb_json_set(o, "on_failure", yb_json_str(rb_on_failure_name(s->on_failure)));
	if (s->workdir)
		yb_json_set(o, "workdir", yb_json_str(s->workdir));
	struct yb_json *env = yb_json_object();
	for (size_t k = 0; k < s->n_env; k++)
		yb_json_set(env, s->env[k].name, yb_json_str(s->env[k].value));
	yb_json_set(o, "env", env);
	struct yb_json *sec = yb_json_object();
	for (size_t k = 0; k < s->n_secrets; k++)
		yb_json_set(sec, s->secrets[k].name, yb_json_str(s->secrets[k].value));
	yb_json_set(o, "secrets_from", sec);
	return o;
}

struct yb_json *rb_plan_json(const struct rb_plan *p)
{
	const struct rb_runbook *rb = p->rb, *src = p->steps_of;
	struct yb_json *o = yb_json_object();
	char iso[64];
	yb_json_set(o, "runbook", yb_json_str(rb->name));
	yb_json_set(o, "title", yb_json_str(rb->title));
	yb_json_set(o, "kind", yb_json_str(rb_kind_name(rb->kind)));
	yb_json_set(o, "file", yb_json_str(rb->path));
	yb_json_set(o, "revision", yb_json_str(rb->revision));
	if (rb->kind == RB_KIND_REHEARSAL)
		yb_json_set(o, "rehearses", src ? yb_json_str(src->name) : yb_json_null());

	if (rb->has_schedule) {
		const struct schedule *s = &rb->schedule;
		struct yb_json *sj = yb_json_object();
		if (s->cron)
			yb_json_set(sj, "cron", yb_json_str(rb->cron_text));
		else
			yb_json_set(sj, "business_day", yb_json_int(s->business_day));
		yb_json_set(sj, "timezone", yb_json_str(rb->timezone));
		yb_json_set(sj, "calendar", yb_json_str(rb->calendar_name));
		yb_json_set(sj, "on_closed_day", yb_json_str(sched_on_closed_name(s->on_closed)));
		yb_json_set(sj, "catchup", yb_json_str(rb_catchup_name(rb->catchup)));
		yb_json_set(sj, "catchup_window_ms", yb_json_int(rb->catchup_window_ms));
		tz_format_iso(s->zone, p->from, iso, sizeof(iso));
		yb_json_set(sj, "from", yb_json_str(iso));
		struct yb_json *fires = yb_json_array();
		for (size_t i = 0; i < p->n_fires; i++) {
			struct yb_json *f = yb_json_object();
			tz_format_iso(s->zone, p->fires[i].at, iso, sizeof(iso));
			yb_json_set(f, "at", yb_json_str(iso));
			yb_json_set(f, "note", p->fires[i].note[0] ? yb_json_str(p->fires[i].note)
								  : yb_json_null());
			yb_json_push(fires, f);
		}
		yb_json_set(sj, "fires", fires);
		yb_json_set(o, "schedule", sj);
	} else {
		yb_json_set(o, "schedule", yb_json_null());
	}
	yb_json_set(o, "concurrency", yb_json_str(rb_concurrency_name(rb->concurrency)));
	yb_json_set(o, "locks", strv_json(rb->locks, rb->n_locks));

	struct yb_json *hosts = yb_json_array();
	for (size_t i = 0; i < p->n_hosts; i++)
		yb_json_push(hosts, host_json(p->hosts[i], rb->hosts[i]));
	yb_json_set(o, "hosts", hosts);
	struct yb_json *stg = yb_json_array();
	for (size_t i = 0; i < p->n_staging_hosts; i++)
		yb_json_push(stg, host_json(p->staging_hosts[i], src->staging_hosts[i]));
	yb_json_set(o, "staging_hosts", stg);

	if (rb->has_approval) {
		struct yb_json *a = yb_json_object();
		yb_json_set(a, "approvers", yb_json_int(rb->approvers));
		yb_json_set(a, "lead_time_ms", yb_json_int(rb->lead_time_ms));
		yb_json_set(a, "procedure", yb_json_str(rb->procedure));
		yb_json_set(a, "procedure_path", yb_json_str(rb->procedure_path));
		yb_json_set(a, "procedure_sha256",
			    rb->procedure_sha256[0] ? yb_json_str(rb->procedure_sha256) : yb_json_null());
		yb_json_set(o, "approval", a);
	} else {
		yb_json_set(o, "approval", yb_json_null());
	}
	yb_json_set(o, "staging_required", yb_json_bool(rb->staging_required));
	yb_json_set(o, "notify_channels", strv_json(rb->channels, rb->n_channels));

	struct yb_json *steps = yb_json_array();
	for (size_t i = 0; src && i < src->n_steps; i++)
		yb_json_push(steps, step_json(src, &src->steps[i]));
	yb_json_set(o, "steps", steps);

	struct yb_json *env = yb_json_object();
	yb_json_set(env, "YOBAN_RUN_ID", yb_json_str("<run id>"));
	yb_json_set(env, "YOBAN_RUNBOOK", yb_json_str(src ? src->name : rb->name));
	yb_json_set(env, "YOBAN_REVISION", yb_json_str(src ? src->revision : rb->revision));
	yb_json_set(env, "YOBAN_STEP", yb_json_str("<step name>"));
	yb_json_set(env, "YOBAN_HOST", yb_json_str("<host name>"));
	yb_json_set(env, "YOBAN_SCHEDULED_AT", yb_json_str("<fire time>"));
	for (size_t i = 0; src && i < src->n_params; i++)
		yb_json_set(env, src->params[i].env_name,
			    src->params[i].default_value ? yb_json_str(src->params[i].default_value)
							 : yb_json_null());
	yb_json_set(o, "environment", env);
	yb_json_set(o, "executed", yb_json_bool(false));
	return o;
}
