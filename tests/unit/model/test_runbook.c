/*
 * test_runbook.c: the runbook loader on good and bad inputs: the examples load into the model an
 * operator expects (defaults, effective timeouts, resolved hosts and calendars, pinned procedure),
 * every kind of error is reported at its exact line and column with the way out, every problem
 * of a file is reported (not only the first), the caps hold against hostile YAML, and config
 * discovery finds the file an operator would expect.
 */
#define _XOPEN_SOURCE 700
#include "digest.h"
#include "plan.h"
#include "runbook.h"
#include "runbook_priv.h"
#include "tz.h"
#include "yb.h"

#include <check.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXAMPLES YB_SOURCE_DIR "/runbooks"

/* Parses text as t.yaml and returns every diagnostic as "L:C: message" lines. */
static char *diag_lines(const char *text, int *rc_out)
{
	struct rb_diags d;
	struct rb_runbook *rb = NULL;
	rb_diags_init(&d);
	int rc = rb_runbook_parse("t.yaml", text, strlen(text), &rb, &d);
	if (rc_out)
		*rc_out = rc;
	rb_diags_sort(&d);
	char *out = xstrdup("");
	for (size_t i = 0; i < d.n; i++) {
		char *next = xasprintf("%s%d:%d: %s\n", out, d.items[i].line, d.items[i].col,
				       d.items[i].msg);
		free(out);
		out = next;
	}
	rb_runbook_free(rb);
	rb_diags_release(&d);
	return out;
}

static void expect_diags(const char *text, const char *expected)
{
	int rc;
	char *got = diag_lines(text, &rc);
	ck_assert_str_eq(got, expected);
	ck_assert_int_eq(rc, expected[0] ? YB_EINVAL : 0);
	free(got);
}

#define HEAD "version: 1\nname: t\nkind: batch\ntargets: { hosts: [h] }\n"

static struct rb_set *load_examples(void)
{
	struct rb_diags d;
	struct rb_set *set = NULL;
	rb_diags_init(&d);
	struct rb_load_opts lo = { .config_path = EXAMPLES "/yoban.yaml" };
	int rc = rb_set_load(&lo, &set, &d);
	if (rc != 0)
		rb_diags_print(&d, stderr);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(d.n_errors, 0);
	rb_diags_release(&d);
	return set;
}

START_TEST(examples_load_into_the_model)
{
	struct rb_set *set = load_examples();
	ck_assert_uint_eq(set->n_runbooks, 6);
	ck_assert_uint_eq(set->n_calendar_files, 1);
	ck_assert_uint_eq(set->n_inventory_files, 1);
	ck_assert_ptr_null(set->site.database); /* embedded */
	ck_assert_ptr_nonnull(strstr(set->site.state_dir, ".yoban-state"));
	ck_assert_int_eq(set->site.state_dir[0], '/'); /* relative to yoban.yaml's folder */

	const struct rb_runbook *rb = rb_set_runbook(set, "nightly-resident-batch");
	ck_assert_ptr_nonnull(rb);
	ck_assert_int_eq(rb->kind, RB_KIND_BATCH);
	ck_assert_int_eq(rb->timeout_ms, 2 * 3600 * 1000);
	ck_assert_int_eq(rb->retry.attempts, 2);
	ck_assert_int_eq(rb->retry.delay_ms, 5 * 60 * 1000);
	ck_assert_int_eq(rb->catchup, RB_CATCHUP_LATEST);
	ck_assert_int_eq(rb->concurrency, RB_CONC_FORBID);
	ck_assert_ptr_eq(rb->schedule.cal, rb_set_calendar(set, "city"));
	ck_assert_str_eq(tz_name(rb->schedule.zone), "Asia/Tokyo");
	ck_assert_uint_eq(rb->n_steps, 3);
	ck_assert_int_eq(rb_step_timeout_ms(rb, &rb->steps[0]), 30 * 60 * 1000);
	ck_assert_int_eq(rb_step_timeout_ms(rb, &rb->steps[2]), 2 * 3600 * 1000);
	ck_assert_int_eq(rb->steps[1].kind, RB_STEP_ARGV);
	ck_assert_str_eq(rb->steps[1].argv[1], "--commit");
	ck_assert_ptr_null(rb->steps[1].argv[2]);
	ck_assert_int_eq(rb->steps[2].on_failure, RB_ON_FAILURE_CONTINUE);
	ck_assert_str_eq(rb->params[0].env_name, "YOBAN_PARAM_BUSINESS_DATE");
	ck_assert_str_eq(rb->params[0].default_value, "{{scheduled_date}}");
	ck_assert_uint_eq(rb->notify_on, RB_NOTIFY_FAILURE | RB_NOTIFY_TIMEOUT);

	/* the revision is the SHA-256 of the file's bytes */
	char *data = NULL;
	size_t len = 0;
	ck_assert_int_eq(yb_read_file(EXAMPLES "/nightly-resident-batch.yaml", 1 << 20, &data, &len,
				      NULL), 0);
	char hex[YB_SHA256_HEX_LEN];
	yb_sha256_hex(data, len, hex);
	ck_assert_str_eq(rb->revision, hex);
	free(data);

	const struct rb_runbook *patch = rb_set_runbook(set, "patch-inc-2026-118");
	ck_assert_ptr_nonnull(patch);
	ck_assert(patch->has_approval);
	ck_assert_int_eq(patch->approvers, 2);
	ck_assert_int_eq(patch->lead_time_ms, 86400 * 1000);
	ck_assert(patch->staging_required);
	ck_assert_int_eq(patch->steps[0].sql.expect_rows, 12);
	ck_assert_int_eq(yb_read_file(patch->procedure_path, 1 << 20, &data, &len, NULL), 0);
	yb_sha256_hex(data, len, hex);
	ck_assert_str_eq(patch->procedure_sha256, hex);
	free(data);

	const struct rb_runbook *reh = rb_set_runbook(set, "rehearse-nightly");
	ck_assert_ptr_eq(reh->rehearse_target, rb);

	const struct rb_host *h = rb_set_host(set, "vault-dr-01");
	ck_assert_int_eq(h->port, 2222);
	ck_assert_str_eq(h->user, "yoban-vault");
	ck_assert_int_eq(h->transport, RB_TRANSPORT_SSH);
	ck_assert_str_eq(h->runner, "yoban-runner");
	h = rb_set_host(set, "local");
	ck_assert_int_eq(h->transport, RB_TRANSPORT_LOCAL);
	ck_assert_ptr_null(h->address);
	ck_assert_int_eq(rb_set_host(set, "batch-stg-01")->environment, RB_ENV_STAGING);
	ck_assert_ptr_null(rb_set_host(set, "nope"));

	/* jp is built in even though no file defines it */
	ck_assert_ptr_nonnull(rb_set_calendar(set, "jp"));
	const struct calendar *city = rb_set_calendar(set, "city");
	ck_assert(!cal_is_open(city, 2026, 12, 30, NULL));
	ck_assert(!cal_is_open(city, 2026, 8, 14, NULL));
	ck_assert(cal_is_open(city, 2026, 3, 29, NULL)); /* an explicit open Sunday */
	ck_assert(!cal_is_open(city, 2026, 11, 23, NULL)); /* 勤労感謝の日 */

	ck_assert_uint_eq(set->site.n_channels, 3);
	const struct rb_channel *c = rb_set_channel(set, "ops-phone");
	ck_assert_int_eq(c->kind, RB_CHANNEL_COMMAND);
	ck_assert_str_eq(c->argv[0], "/usr/local/bin/call-on-duty");
	ck_assert(set->site.contract.present);
	ck_assert_double_eq(set->site.contract.caps[RB_EFFORT_SERVICE].total, 48);
	ck_assert_double_eq(set->site.contract.caps[RB_EFFORT_INCIDENT].total, -1);
	ck_assert_uint_eq(set->site.n_maintenance, 1);
	ck_assert_int_eq(set->site.maintenance[0].to - set->site.maintenance[0].from, 12 * 3600);
	rb_set_free(set);
}
END_TEST

START_TEST(defaults_when_unwritten)
{
	struct rb_diags d;
	struct rb_runbook *rb = NULL;
	rb_diags_init(&d);
	const char *text = HEAD "steps:\n  - { name: a, run: \"true\" }\n";
	ck_assert_int_eq(rb_runbook_parse("t.yaml", text, strlen(text), &rb, &d), 0);
	ck_assert_int_eq(rb->timeout_ms, RB_DEFAULT_TIMEOUT_MS);
	ck_assert_int_eq(rb->retry.attempts, 1);
	ck_assert_int_eq(rb->retry.delay_ms, 0);
	ck_assert_int_eq(rb->concurrency, RB_CONC_FORBID);
	ck_assert_int_eq(rb->catchup, RB_CATCHUP_NONE);
	ck_assert(!rb->has_schedule);
	ck_assert(!rb->has_approval);
	ck_assert_int_eq(rb->steps[0].on_failure, RB_ON_FAILURE_ABORT);
	struct rb_retry r = rb_step_retry(rb, &rb->steps[0]);
	ck_assert_int_eq(r.attempts, 1);
	rb_runbook_free(rb);
	rb_diags_release(&d);
}
END_TEST

/* A runbook's macros keep their fixed times (docs/cron.md, Macros): @daily is midnight whatever
 * the runbook's name, while an H it writes is hashed by that name. */
START_TEST(macros_keep_their_time_in_a_runbook)
{
	static const char *const names[] = { "t", "nightly-batch", "tax-close" };
	int64_t seen_h = -1;
	bool h_differs = false;
	for (size_t i = 0; i < YB_ARRAY_LEN(names); i++) {
		for (int hashed = 0; hashed < 2; hashed++) {
			struct rb_diags d;
			struct rb_runbook *rb = NULL;
			rb_diags_init(&d);
			char *text = xasprintf("version: 1\nname: %s\nkind: batch\ntargets: { hosts: [h] }\n"
					       "schedule: { cron: \"%s\", timezone: UTC }\n"
					       "steps:\n  - { name: a, run: \"true\" }\n",
					       names[i], hashed ? "H H * * *" : "@daily");
			ck_assert_int_eq(rb_runbook_parse("t.yaml", text, strlen(text), &rb, &d), 0);
			int64_t next = 0;
			/* from 2026-12-01T00:00:01Z */
			ck_assert_int_eq(cron_next(rb->schedule.cron, rb->schedule.zone, 1764547201, &next), 0);
			if (!hashed) {
				ck_assert_int_eq(next, 1764633600); /* 2026-12-02T00:00:00Z */
			} else {
				if (seen_h >= 0 && next != seen_h)
					h_differs = true;
				seen_h = next;
			}
			free(text);
			rb_runbook_free(rb);
			rb_diags_release(&d);
		}
	}
	ck_assert_msg(h_differs, "H H * * * hashed the same for three runbook names");
}
END_TEST

START_TEST(business_day_schedule)
{
	struct rb_diags d;
	struct rb_runbook *rb = NULL;
	rb_diags_init(&d);
	const char *text = HEAD "schedule: { business_day: -1, at: \"22:15\", calendar: jp }\n"
				"steps:\n  - { name: a, run: \"true\" }\n";
	ck_assert_int_eq(rb_runbook_parse("t.yaml", text, strlen(text), &rb, &d), 0);
	ck_assert_ptr_null(rb->schedule.cron);
	ck_assert_int_eq(rb->schedule.business_day, -1);
	ck_assert_int_eq(rb->schedule.at_hour, 22);
	ck_assert_int_eq(rb->schedule.at_min, 15);
	ck_assert_ptr_eq(rb->schedule.cal, cal_builtin("jp"));
	rb_runbook_free(rb);
	rb_diags_release(&d);
}
END_TEST

START_TEST(unknown_keys_with_did_you_mean)
{
	expect_diags(HEAD "shedule: { cron: \"* * * * *\" }\nsteps:\n  - { name: a, run: x }\n",
		     "5:1: unknown key 'shedule' (did you mean 'schedule'?)\n");
	expect_diags(HEAD "steps:\n  - name: a\n    run: x\n    timout: 5m\n",
		     "8:5: unknown key 'timout' in a step (did you mean 'timeout'?)\n");
	expect_diags(HEAD "colour: red\nsteps:\n  - { name: a, run: x }\n",
		     "5:1: unknown key 'colour' (known keys: version, name, title, description, "
		     "kind, schedule, concurrency, locks, targets, timeout, retry, notify, effort, "
		     "params, approval, staging, rehearse, steps)\n");
}
END_TEST

START_TEST(wrong_types_and_values)
{
	expect_diags(HEAD "timeout: [30m]\nsteps:\n  - { name: a, run: x }\n",
		     "5:10: 'timeout' must be a duration like '30m', not a list\n");
	expect_diags(HEAD "timeout: 30 minutes\nsteps:\n  - { name: a, run: x }\n",
		     "5:10: 'timeout': '30 minutes' is not a duration (write it like '90s', '30m', "
		     "'2h' or '7d')\n");
	expect_diags(HEAD "retry: { attempts: 101 }\nsteps:\n  - { name: a, run: x }\n",
		     "5:20: 'attempts' must be between 1 and 100, not 101\n");
	expect_diags(HEAD "concurrency: forbidd\nsteps:\n  - { name: a, run: x }\n",
		     "5:14: 'concurrency' must be forbid, queue, replace or allow, not 'forbidd' "
		     "(did you mean 'forbid'?)\n");
	expect_diags(HEAD "locks: resident-db\nsteps:\n  - { name: a, run: x }\n",
		     "5:8: 'locks' must be a list like [a, b], not a string\n");
	expect_diags(HEAD "steps: { name: a }\n",
		     "5:8: 'steps' must be a list of steps (lines starting with '- '), not a mapping\n");
	expect_diags("version: 2\nname: t\nkind: batch\ntargets: { hosts: [h] }\nsteps:\n  - { name: a, run: x }\n",
		     "1:10: unsupported 'version' '2': this Yoban reads version 1\n");
	expect_diags(HEAD "staging: { required: yes }\nsteps:\n  - { name: a, run: x }\n",
		     "5:22: 'required' must be true or false, not 'yes'\n");
}
END_TEST

START_TEST(schedule_errors_point_into_the_value)
{
	/* the column points at the bad field inside the quoted cron string */
	expect_diags(HEAD "schedule: { cron: \"30 25 * * *\" }\nsteps:\n  - { name: a, run: x }\n",
		     "5:23: bad cron expression '30 25 * * *': hour field: '25' is out of range 0-23\n");
	expect_diags(HEAD "schedule:\n  cron: 0 1 * * *\n  timezone: Asia/Tokio\nsteps:\n  - { name: a, run: x }\n",
		     "7:13: unknown time zone 'Asia/Tokio' (did you mean 'Asia/Tokyo'?)\n");
	expect_diags(HEAD "schedule: { timezone: UTC }\nsteps:\n  - { name: a, run: x }\n",
		     "5:11: 'schedule' needs 'cron' (e.g. cron: \"30 1 * * *\") or 'business_day' with "
		     "'at'\n");
	expect_diags(HEAD "schedule: { cron: \"0 1 * * *\", business_day: 1 }\nsteps:\n  - { name: a, run: x }\n",
		     "5:46: 'schedule' has both 'cron' and 'business_day': keep one of them\n");
	expect_diags(HEAD "schedule: { business_day: 2 }\nsteps:\n  - { name: a, run: x }\n",
		     "5:27: 'business_day' needs 'at' (the local time, e.g. at: \"22:00\")\n");
}
END_TEST

START_TEST(step_actions)
{
	expect_diags(HEAD "steps:\n  - name: a\n    timeout: 5m\n",
		     "6:5: step 'a' has no action: give it one of run, argv, sql, backup, offsite or "
		     "restore\n");
	expect_diags(HEAD "steps:\n  - name: a\n    run: x\n    argv: [x]\n",
		     "8:5: step 'a' has two actions ('run' and 'argv'): keep one (split it into two "
		     "steps if both are needed)\n");
	expect_diags(HEAD "steps:\n  - { name: a, run: x }\n  - { name: a, run: y }\n",
		     "7:13: step name 'a' is used twice (first at line 6): step names must be unique\n");
	expect_diags(HEAD "steps:\n  - { name: a, argv: [] }\n",
		     "6:22: 'argv' is empty: give the program and its arguments\n");
	expect_diags(HEAD "steps:\n  - name: b\n    backup: { source: /srv, command: tar }\n",
		     "7:13: missing required key 'repository' in 'backup' (the folder holding the "
		     "generations)\n"
		     "7:38: 'backup' has both 'source' and 'command': keep one of them\n");
}
END_TEST

START_TEST(kind_rules)
{
	expect_diags("version: 1\nname: p\nkind: data-patch\ntargets: { hosts: [h] }\n"
		     "steps:\n  - name: a\n    sql: { dsn: x, patch: \"UPDATE t SET a = 1\" }\n",
		     "3:7: a data patch needs 'approval' (approvers, lead_time and the procedure "
		     "document): add it\n");
	expect_diags(HEAD "steps:\n  - name: a\n    sql: { dsn: x, patch: \"DELETE FROM t\" }\n",
		     "7:5: 'sql' steps belong in a runbook of kind data-patch (they change data, so "
		     "they need approval)\n");
	expect_diags("version: 1\nname: r\nkind: rehearsal\n",
		     "3:7: a rehearsal needs 'rehearse' (the name of the runbook it runs on staging)\n");
	expect_diags("version: 1\nname: r\nkind: rehearsal\nrehearse: x\nsteps: []\n",
		     "5:1: a rehearsal has no steps of its own (it runs the rehearsed runbook's steps "
		     "on its staging_hosts): remove 'steps'\n");
}
END_TEST

START_TEST(every_problem_is_reported)
{
	int rc;
	char *got = diag_lines("version: 1\nname: Bad_Name\nkind: batchh\ntimeout: soon\n"
			       "steps:\n  - run: x\n  - { name: b }\n",
			       &rc);
	ck_assert_int_eq(rc, YB_EINVAL);
	ck_assert_str_eq(got,
			 "1:1: missing 'targets.hosts': say where the steps run (e.g. targets: { "
			 "hosts: [batch-01] })\n"
			 "2:7: runbook name 'Bad_Name' may use only a-z, 0-9 and '-' (at most 63, not "
			 "starting with '-')\n"
			 "3:7: 'kind' must be batch, data-patch, backup, offsite-copy or rehearsal, not "
			 "'batchh' (did you mean 'batch'?)\n"
			 "4:10: 'timeout': 'soon' is not a duration (write it like '90s', '30m', '2h' "
			 "or '7d')\n"
			 "6:5: step 1 has no 'name': give it one (e.g. name: extract)\n"
			 "7:5: step 'b' has no action: give it one of run, argv, sql, backup, "
			 "offsite or restore\n");
	free(got);
}
END_TEST

START_TEST(yaml_level_refusals)
{
	expect_diags(HEAD "timeout: 1h\ntimeout: 2h\nsteps:\n  - { name: a, run: x }\n",
		     "6:1: duplicate key 'timeout' (first at line 5): keep one of them\n");
	expect_diags("version: 1\nname: t\n kind: batch\n",
		     "3:6: invalid YAML: mapping values are not allowed in this context\n");
	expect_diags(HEAD "locks: &l [a]\ntitle: *l\nsteps:\n  - { name: a, run: x }\n",
		     "6:8: aliases ('*l') are not supported: write the value out\n");
	expect_diags("", "0:0: the file is empty: a runbook starts with 'version: 1' and 'name: ...'\n");
	expect_diags("- a\n- b\n", "1:1: a runbook must be a mapping (key: value lines), not a list\n");
	expect_diags("version: 1\n---\nversion: 1\n",
		     "2:1: a second YAML document: one file holds one document (remove the '---' or "
		     "split the file)\n");
}
END_TEST

START_TEST(hostile_yaml_is_bounded)
{
	/* nesting */
	char *deep = xcalloc(1, 1000);
	strcpy(deep, "a: ");
	for (int i = 0; i < 300; i++)
		strcat(deep, "[");
	int rc;
	char *got = diag_lines(deep, &rc);
	ck_assert_int_eq(rc, YB_EINVAL);
	ck_assert_ptr_nonnull(strstr(got, "nesting deeper than 64 levels: flatten the file"));
	free(got);
	free(deep);

	/* size */
	size_t big = RB_MAX_FILE_BYTES + 1;
	char *huge = xmalloc(big + 1);
	memset(huge, '#', big);
	huge[big] = 0;
	got = diag_lines(huge, &rc);
	ck_assert_int_eq(rc, YB_EINVAL);
	ck_assert_ptr_nonnull(strstr(got, "file is larger than 4194304 bytes"));
	free(got);
	free(huge);

	/* node count: a flat list of 200001 items */
	size_t n = RB_MAX_NODES + 1;
	char *many = xmalloc(n * 2 + 16);
	char *p = many;
	p += sprintf(p, "a: [");
	for (size_t i = 0; i < n; i++) {
		*p++ = '1';
		*p++ = ',';
	}
	strcpy(p - 1, "]");
	got = diag_lines(many, &rc);
	ck_assert_int_eq(rc, YB_EINVAL);
	ck_assert_ptr_nonnull(strstr(got, "too many YAML nodes"));
	free(got);
	free(many);

	/* a billion laughs is refused at the first alias, never expanded */
	got = diag_lines("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n", &rc);
	ck_assert_int_eq(rc, YB_EINVAL);
	ck_assert_ptr_nonnull(strstr(got, "2:8: aliases ('*a') are not supported"));
	free(got);

	/* diagnostics are capped */
	struct yb_buf_like { char *s; } b = { xstrdup("") };
	for (int i = 0; i < 700; i++) {
		char *next = xasprintf("%sk%d: 1\n", b.s, i);
		free(b.s);
		b.s = next;
	}
	struct rb_diags d;
	struct rb_runbook *rb = NULL;
	rb_diags_init(&d);
	ck_assert_int_eq(rb_runbook_parse("t.yaml", b.s, strlen(b.s), &rb, &d), YB_EINVAL);
	ck_assert_uint_eq(d.n, RB_MAX_DIAGS);
	ck_assert_uint_gt(d.n_dropped, 0);
	ck_assert_uint_eq(d.n_errors, d.n + d.n_dropped);
	rb_diags_release(&d);
	free(b.s);
}
END_TEST

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* Removes a folder made by make_tree and frees its name. */
static void remove_tree(char *dir)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

/* Writes files under a fresh temp folder: name, text, name, text, ..., NULL. */
static char *make_tree(const char *first, ...)
{
	char tmpl[] = "/tmp/yb-rb-XXXXXX";
	char *dir = xstrdup(mkdtemp(tmpl));
	va_list ap;
	va_start(ap, first);
	for (const char *name = first; name; name = va_arg(ap, const char *)) {
		const char *text = va_arg(ap, const char *);
		char *path = xasprintf("%s/%s", dir, name);
		for (char *slash = strchr(path + strlen(dir) + 1, '/'); slash;
		     slash = strchr(slash + 1, '/')) {
			*slash = 0;
			mkdir(path, 0755);
			*slash = '/';
		}
		FILE *f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fputs(text, f);
		fclose(f);
		free(path);
	}
	va_end(ap);
	return dir;
}

static char *set_diags(const char *dir, bool with_config)
{
	struct rb_diags d;
	struct rb_set *set = NULL;
	rb_diags_init(&d);
	char *config = xasprintf("%s/yoban.yaml", dir);
	const char *paths[] = { dir };
	struct rb_load_opts lo = { .config_path = with_config ? config : NULL, .paths = paths,
				   .n_paths = 1 };
	int rc = rb_set_load(&lo, &set, &d);
	char *out = xstrdup("");
	size_t dl = strlen(dir);
	for (size_t i = 0; i < d.n; i++) {
		const char *f = d.items[i].file;
		if (!strncmp(f, dir, dl))
			f += dl + 1;
		char *next = xasprintf("%s%s:%d:%d: %s\n", out, f, d.items[i].line, d.items[i].col,
				       d.items[i].msg);
		free(out);
		out = next;
	}
	ck_assert_int_eq(rc, d.n_errors ? YB_EINVAL : 0);
	rb_set_free(set);
	rb_diags_release(&d);
	free(config);
	return out;
}

static const char *const site_files[] = {
	"yoban.yaml",
	"notify:\n  channels:\n    ops-mail: { smtp: { url: \"smtp://m\", from: a@b, to: [c@d] } }\n",
	"inventory.yaml",
	"hosts:\n  batch-01: { address: 192.0.2.1, environment: production, host_key: "
	"\"SHA256:xNeRwGk2U1SjfmFCvK73+41OuPf8wrxOpKFQScmxjTo\" }\n"
	"  stg-01: { transport: local, environment: staging }\n",
	"calendars/city.yaml",
	"name: city\nclosed_weekdays: [sat, sun]\n",
};

START_TEST(cross_file_references)
{
	char *dir = make_tree(site_files[0], site_files[1], site_files[2], site_files[3],
			      site_files[4], site_files[5], "a.yaml",
			      "version: 1\nname: a\nkind: batch\n"
			      "schedule: { cron: \"0 1 * * *\", calendar: ctiy }\n"
			      "targets: { hosts: [batch-1, stg-01], staging_hosts: [batch-01] }\n"
			      "notify: { channels: [ops-mial] }\n"
			      "steps:\n  - { name: s, run: x }\n",
			      "b.yaml",
			      "version: 1\nname: a\nkind: rehearsal\nrehearse: nightly\n", NULL);
	char *got = set_diags(dir, true);
	char *want = xasprintf(
		"a.yaml:4:42: unknown calendar 'ctiy' (did you mean 'city'?)\n"
		"a.yaml:5:20: unknown host 'batch-1' (did you mean 'batch-01'?)\n"
		"a.yaml:5:29: host 'stg-01' is a staging host: list it under 'staging_hosts'\n"
		"a.yaml:5:54: host 'batch-01' is a production host: 'staging_hosts' takes hosts "
		"with environment: staging\n"
		"a.yaml:6:22: unknown notify channel 'ops-mial' (did you mean 'ops-mail'?)\n"
		"b.yaml:2:7: runbook name 'a' is already used by %s/a.yaml:2:7: names must be "
		"unique, rename one of them\n"
		"b.yaml:4:11: unknown runbook 'nightly' ('rehearse' names a runbook beside it or in the site's runbooks "
		"folder)\n",
		dir);
	ck_assert_str_eq(got, want);
	free(want);
	free(got);
	remove_tree(dir);
}
END_TEST

START_TEST(duplicate_names_name_both_places)
{
	char *dir = make_tree(site_files[0], site_files[1], site_files[2], site_files[3], "a.yaml",
			      "version: 1\nname: n\nkind: batch\ntargets: { hosts: [batch-01] }\n"
			      "steps:\n  - { name: s, run: x }\n",
			      "b.yaml",
			      "# copy\nversion: 1\nname: n\nkind: batch\ntargets: { hosts: [batch-01] }\n"
			      "steps:\n  - { name: s, run: x }\n",
			      NULL);
	char *got = set_diags(dir, true);
	char *want = xasprintf("b.yaml:3:7: runbook name 'n' is already used by %s/a.yaml:2:7: names "
			       "must be unique, rename one of them\n", dir);
	ck_assert_str_eq(got, want);
	free(want);
	free(got);
	remove_tree(dir);
}
END_TEST

START_TEST(rehearsal_and_procedure)
{
	char *dir = make_tree(site_files[0], site_files[1], site_files[2], site_files[3], "a.yaml",
			      "version: 1\nname: nightly\nkind: batch\ntargets: { hosts: [batch-01] }\n"
			      "steps:\n  - { name: s, run: x }\n",
			      "r.yaml", "version: 1\nname: r\nkind: rehearsal\nrehearse: nightly\n",
			      "q.yaml", "version: 1\nname: q\nkind: rehearsal\nrehearse: nightli\n",
			      "p.yaml",
			      "version: 1\nname: p\nkind: data-patch\n"
			      "approval: { approvers: 2, procedure: docs/missing.md }\n"
			      "targets: { hosts: [batch-01] }\n"
			      "steps:\n  - { name: s, sql: { dsn: x, patch: y } }\n",
			      NULL);
	char *got = set_diags(dir, true);
	ck_assert_ptr_nonnull(strstr(got, "p.yaml:4:38: procedure document 'docs/missing.md' cannot "
					  "be read ("));
	ck_assert_ptr_nonnull(strstr(got, "q.yaml:4:11: unknown runbook 'nightli' (did you mean "
					  "'nightly'?)\n"));
	ck_assert_ptr_nonnull(strstr(got, "r.yaml:4:11: 'nightly' has no staging hosts to rehearse "
					  "on: add targets.staging_hosts to "));
	free(got);
	remove_tree(dir);
}
END_TEST

/* A FIFO (or any file that is not a regular file) among the files the loader reads is refused
 * at once, naming it: opening a FIFO for reading would otherwise wait for a writer forever. */
START_TEST(fifos_are_refused_at_once)
{
	alarm(20); /* a hang fails the test instead of holding it */
	char *dir = make_tree(site_files[0], site_files[1], site_files[2], site_files[3], "p.yaml",
			      "version: 1\nname: p\nkind: data-patch\n"
			      "approval: { approvers: 2, procedure: docs/proc.md }\n"
			      "targets: { hosts: [batch-01] }\n"
			      "steps:\n  - { name: s, sql: { dsn: x, patch: y } }\n",
			      NULL);
	char *docs = xasprintf("%s/docs", dir), *proc = xasprintf("%s/docs/proc.md", dir);
	char *fifo_rb = xasprintf("%s/f.yaml", dir);
	ck_assert_int_eq(mkdir(docs, 0755), 0);
	ck_assert_int_eq(mkfifo(proc, 0644), 0);
	ck_assert_int_eq(mkfifo(fifo_rb, 0644), 0);
	char *got = set_diags(dir, true);
	ck_assert_ptr_nonnull(strstr(got, "f.yaml:0:0: not a regular file or folder"));
	char *want = xasprintf("p.yaml:4:38: procedure document 'docs/proc.md' cannot be read ('%s' "
			       "is a FIFO, not a regular file: Yoban reads only regular files)", proc);
	ck_assert_ptr_nonnull(strstr(got, want));
	free(want);
	free(got);

	/* the inventory named by the site, a FIFO: refused, not skipped */
	char *inv = xasprintf("%s/inventory.yaml", dir);
	ck_assert_int_eq(unlink(inv), 0);
	ck_assert_int_eq(mkfifo(inv, 0644), 0);
	struct rb_diags d;
	struct rb_set *set = NULL;
	rb_diags_init(&d);
	char *config = xasprintf("%s/yoban.yaml", dir);
	struct rb_load_opts lo = { .config_path = config, .no_runbooks = true };
	ck_assert_int_eq(rb_set_load(&lo, &set, &d), YB_EINVAL);
	struct yb_err err;
	rb_diags_to_err(&d, &err);
	ck_assert_ptr_nonnull(strstr(err.msg, "is a FIFO, not a regular file: Yoban reads only "
					      "regular files"));
	rb_diags_release(&d);

	/* the reader itself: a FIFO, a folder, a character device, too large, a link with NOFOLLOW */
	char *data = NULL;
	size_t len = 0;
	ck_assert_int_eq(yb_read_regular(proc, 100, 0, &data, &len, &err), YB_EINVAL);
	ck_assert_int_eq(yb_read_regular(docs, 100, 0, &data, &len, &err), YB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "is a folder, not a regular file"));
	ck_assert_int_eq(yb_read_regular("/dev/zero", 100, 0, &data, &len, &err), YB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "'/dev/zero' is a character device"));
	ck_assert_int_eq(yb_read_regular(config, 10, 0, &data, &len, &err), YB_ENOMEM);
	char *link = xasprintf("%s/link.yaml", dir);
	ck_assert_int_eq(symlink(config, link), 0);
	ck_assert_int_eq(yb_read_regular(link, 1 << 20, YB_READ_NOFOLLOW, &data, &len, &err),
			 YB_EPERM);
	ck_assert_ptr_nonnull(strstr(err.msg, "is a symbolic link"));
	ck_assert_int_eq(yb_read_regular(link, 1 << 20, 0, &data, &len, &err), 0);
	ck_assert_ptr_nonnull(strstr(data, "ops-mail"));
	free(data);
	alarm(0);
	free(link);
	free(config);
	free(inv);
	free(docs);
	free(proc);
	free(fifo_rb);
	remove_tree(dir);
}
END_TEST

/* What yoband calls when it dispatches a step: the secrets folder's rule, checked on the file it
 * opens (a file that passed at load may have changed since). */
START_TEST(secrets_read_by_the_folder_rule)
{
	alarm(20);
	char *dir = make_tree("secrets/db.pass", "s3cret\n", "outside.pass", "x\n", NULL);
	char *sdir = xasprintf("%s/secrets", dir), *db = xasprintf("%s/db.pass", sdir);
	char *outside = xasprintf("%s/outside.pass", dir), *link = xasprintf("%s/link.pass", sdir);
	char *fifo = xasprintf("%s/fifo.pass", sdir);
	struct rb_site site = { .secrets_dir = sdir };
	struct yb_err err;
	char *data = NULL;
	size_t len = 0;
	chmod(db, 0600);
	ck_assert_int_eq(rb_secret_read(&site, "db.pass", RB_MAX_SECRET_BYTES, &data, &len, &err), 0);
	ck_assert_str_eq(data, "s3cret\n");
	free(data);
	ck_assert_int_eq(rb_secret_read(&site, db, RB_MAX_SECRET_BYTES, &data, &len, &err), 0);
	free(data);
	ck_assert_int_eq(rb_secret_read(&site, db, 3, &data, &len, &err), YB_ENOMEM);
	chmod(db, 0604);
	ck_assert_int_eq(rb_secret_read(&site, db, RB_MAX_SECRET_BYTES, &data, &len, &err), YB_EPERM);
	ck_assert_ptr_nonnull(strstr(err.msg, "has mode 0604: a private file must give group and "
					      "others no access (chmod 600)"));
	ck_assert_int_eq(rb_secret_read(&site, "../outside.pass", 64, &data, &len, &err), YB_EPERM);
	ck_assert_ptr_nonnull(strstr(err.msg, "must not contain '..'"));
	ck_assert_int_eq(rb_secret_read(&site, "/etc/passwd", 64, &data, &len, &err), YB_EPERM);
	ck_assert_ptr_nonnull(strstr(err.msg, "is outside the secrets folder"));
	ck_assert_int_eq(symlink(outside, link), 0);
	ck_assert_int_eq(rb_secret_read(&site, "link.pass", 64, &data, &len, &err), YB_EPERM);
	ck_assert_ptr_nonnull(strstr(err.msg, "leads outside the secrets folder"));
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(rb_secret_read(&site, "fifo.pass", 64, &data, &len, &err), YB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "is a FIFO, not a regular file"));
	ck_assert_int_eq(rb_secret_read(&site, "none.pass", 64, &data, &len, &err), YB_ENOENT);
	alarm(0);
	free(sdir);
	free(db);
	free(outside);
	free(link);
	free(fifo);
	remove_tree(dir);
}
END_TEST

/* Text from a file reaches a terminal only escaped: control characters (here an ESC sequence
 * that would clear the screen, and the one-character CSI U+009B) show as \x1b and \u009b; a
 * multibyte character cut by a length limit shows as \xHH bytes, so the message stays UTF-8. */
START_TEST(diagnostics_escape_what_they_echo)
{
	expect_diags(HEAD "steps:\n  - { name: s, run: x }\n\"evil\\e[2J\\x9b\": 1\n",
		     "7:1: unknown key 'evil\\x1b[2J\\u009b' (known keys: version, name, title, "
		     "description, kind, schedule, concurrency, locks, targets, timeout, retry, notify, "
		     "effort, params, approval, staging, rehearse, steps)\n");
	/* 27 three-byte characters: '%.80s' cuts the last one after two of its bytes */
	char key[27 * 3 + 1] = "";
	for (int i = 0; i < 27; i++)
		strcat(key, "夜");
	char *text = xasprintf(HEAD "steps:\n  - { name: s, run: x }\n%s: 1\n", key);
	int rc;
	char *got = diag_lines(text, &rc);
	ck_assert_int_eq(rc, YB_EINVAL);
	char *want = xasprintf("7:1: unknown key '%.78s\\xe5\\xa4' (known keys:", key);
	ck_assert_ptr_nonnull(strstr(got, want));
	free(want);
	free(got);
	free(text);
	/* the file name too */
	struct rb_diags d;
	rb_diags_init(&d);
	rb_diag_add(&d, RB_SEV_ERROR, "a\033]0;x\007.yaml", 1, 1, "m\tn");
	ck_assert_str_eq(d.items[0].file, "a\\x1b]0;x\\x07.yaml");
	ck_assert_str_eq(d.items[0].msg, "m\\x09n");
	rb_diags_release(&d);
}
END_TEST

START_TEST(warnings_do_not_fail)
{
	char *dir = make_tree(site_files[0], site_files[1], site_files[2], site_files[3], "a.yaml",
			      "version: 1\nname: a\nkind: batch\nschedule: { cron: \"0 1 * * *\" }\n"
			      "targets: { hosts: [batch-01] }\nsteps:\n  - { name: s, run: x }\n",
			      NULL);
	char *got = set_diags(dir, true); /* asserts rc 0: no errors */
	ck_assert_str_eq(got, "a.yaml:4:1: 'a' runs unattended but notifies nobody: add "
			      "notify.channels so that a failure reaches a person\n");
	free(got);
	remove_tree(dir);
}
END_TEST

START_TEST(site_files_checked)
{
	char *dir = make_tree("yoban.yaml",
			      "databse: x\nstate_dir: var\nssh: { key: keys/id }\n",
			      "inventory.yaml",
			      "hosts:\n  a: { address: h, environment: production }\n"
			      "  a: { transport: local, environment: staging }\n",
			      "calendars/c.yaml", "name: c\nclosed_yearly: [\"13-01..01-03\"]\n", NULL);
	char *got = set_diags(dir, true);
	ck_assert_str_eq(got,
			 "calendars/c.yaml:2:17: 'closed_yearly' entries are \"MM-DD..MM-DD\" (e.g. "
			 "\"12-29..01-03\") or \"MM-DD\", not '13-01..01-03'\n"
			 "inventory.yaml:2:6: ssh host 'a' needs 'host_key' (its fingerprint, from "
			 "ssh-keyscan HOST | ssh-keygen -lf -): hosts are never trusted blindly\n"
			 "inventory.yaml:3:3: duplicate key 'a' (first at line 2): keep one of them\n"
			 "yoban.yaml:1:1: unknown key 'databse' (did you mean 'database'?)\n");
	free(got);

	/* the site alone: relative paths from yoban.yaml's folder, database absent = embedded */
	char *path = xasprintf("%s/yoban.yaml", dir);
	FILE *f = fopen(path, "w");
	fputs("state_dir: var\nssh: { key: keys/id }\n", f);
	fclose(f);
	struct rb_site *site = NULL;
	struct yb_err err = { 0 };
	ck_assert_int_eq(rb_site_load(path, &site, &err), 0);
	ck_assert_ptr_null(site->database);
	char real[4096];
	ck_assert_ptr_nonnull(realpath(dir, real));
	char *want = xasprintf("%s/var", real);
	ck_assert_str_eq(site->state_dir, want);
	free(want);
	want = xasprintf("%s/keys/id", real);
	ck_assert_str_eq(site->ssh_key, want);
	free(want);
	ck_assert_int_eq(site->emergency_lead_time_ms, 0); /* no emergency lead time unless given */
	rb_site_free(site);

	/* what `yoban request --emergency` waits after its last approval */
	f = fopen(path, "w");
	fputs("approval: { emergency_lead_time: 2h }\n", f);
	fclose(f);
	ck_assert_int_eq(rb_site_load(path, &site, &err), 0);
	ck_assert_int_eq(site->emergency_lead_time_ms, 2 * 3600 * 1000);
	rb_site_free(site);
	f = fopen(path, "w");
	fputs("approval: { emergency_lead: 2h }\n", f);
	fclose(f);
	ck_assert_int_eq(rb_site_load(path, &site, &err), YB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "unknown key 'emergency_lead' in 'approval'"));

	f = fopen(path, "w");
	fputs("state_dir: [x]\nsla: 1\n", f);
	fclose(f);
	ck_assert_int_eq(rb_site_load(path, &site, &err), YB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "yoban.yaml:1:12: 'state_dir' must be a string, not a "
					      "list (and 1 more)"));
	free(path);
	remove_tree(dir);
}
END_TEST

START_TEST(config_discovery)
{
	char *dir = make_tree("yoban.yaml", "state_dir: /tmp/x\n", "sub/deeper/r.yaml", "x: 1\n",
			      NULL);
	char real[4096];
	ck_assert_ptr_nonnull(realpath(dir, real));
	char *want = xasprintf("%s/yoban.yaml", real);
	char *near = xasprintf("%s/sub/deeper/r.yaml", dir);
	char *out = NULL;
	struct yb_err err = { 0 };
	unsetenv("YOBAN_CONFIG");
	ck_assert_int_eq(rb_config_find(NULL, near, &out, &err), 0);
	ck_assert_str_eq(out, want); /* the nearest one, two folders up */
	free(out);
	ck_assert_int_eq(rb_config_find("/nonexistent/yoban.yaml", near, &out, &err), YB_ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "'/nonexistent/yoban.yaml' does not exist"));
	setenv("YOBAN_CONFIG", "/nonexistent/env.yaml", 1);
	ck_assert_int_eq(rb_config_find(NULL, near, &out, &err), YB_ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "(from $YOBAN_CONFIG)"));
	char *explicit_path = xasprintf("%s/yoban.yaml", dir);
	ck_assert_int_eq(rb_config_find(explicit_path, near, &out, &err), 0); /* --config wins */
	ck_assert_str_eq(out, explicit_path);
	free(out);
	unsetenv("YOBAN_CONFIG");
	free(explicit_path);
	free(near);
	free(want);
	remove_tree(dir);
}
END_TEST

START_TEST(helpers)
{
	/* the name rules themselves are tests/unit/common/test_names.c's */
	struct rb_diags d;
	rb_diags_init(&d);
	rb_diag_add(&d, RB_SEV_ERROR, "b.yaml", 2, 1, "second");
	rb_diag_add(&d, RB_SEV_ERROR, "a.yaml", 9, 3, "first");
	rb_diag_add(&d, RB_SEV_WARNING, "b.yaml", 1, 5, "warned");
	rb_diags_sort(&d);
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	rb_diags_print(&d, mem);
	fclose(mem);
	ck_assert_str_eq(text, "a.yaml:9:3: error: first\nb.yaml:1:5: warning: warned\n"
			       "b.yaml:2:1: error: second\n");
	free(text);
	struct yb_err err;
	ck_assert_int_eq(rb_diags_to_err(&d, &err), YB_EINVAL);
	ck_assert_str_eq(err.msg, "a.yaml:9:3: first (and 1 more)");
	rb_diags_release(&d);
}
END_TEST

START_TEST(parameter_names_and_their_variables)
{
	const char *head = "version: 1\nname: p\nkind: batch\ntargets: { hosts: [h] }\n";
	char *text = xasprintf("%sparams:\n  batch-date: x\n  Region_Code: y\nsteps:\n"
			       "  - { name: s, run: 'true' }\n", head);
	struct rb_diags d;
	struct rb_runbook *rb = NULL;
	rb_diags_init(&d);
	ck_assert_int_eq(rb_runbook_parse("t.yaml", text, strlen(text), &rb, &d), 0);
	ck_assert_uint_eq(rb->n_params, 2);
	ck_assert_str_eq(rb->params[0].name, "batch-date");
	ck_assert_str_eq(rb->params[0].env_name, "YOBAN_PARAM_BATCH_DATE");
	ck_assert_str_eq(rb->params[1].env_name, "YOBAN_PARAM_REGION_CODE");
	rb_runbook_free(rb);
	rb_diags_release(&d);
	free(text);

	/* two names, one variable: refused at the second, naming both and the variable */
	int rc;
	char *lines;
	text = xasprintf("%sparams:\n  batch-date: x\n  batch_date: y\n  Batch_Date: z\n"
			 "steps:\n  - { name: s, run: 'true' }\n", head);
	lines = diag_lines(text, &rc);
	ck_assert_int_eq(rc, YB_EINVAL);
	ck_assert_str_eq(lines,
			 "7:3: parameters 'batch-date' and 'batch_date' would both reach the steps as "
			 "YOBAN_PARAM_BATCH_DATE: rename one of them\n"
			 "8:3: parameters 'batch-date' and 'Batch_Date' would both reach the steps as "
			 "YOBAN_PARAM_BATCH_DATE: rename one of them\n");
	free(lines);
	free(text);

	/* what trigger refuses, the loader refuses too */
	text = xasprintf("%sparams:\n  _date: x\n  9lives: y\nsteps:\n"
			 "  - { name: s, run: 'true' }\n", head);
	lines = diag_lines(text, &rc);
	ck_assert_int_eq(rc, YB_EINVAL);
	ck_assert_ptr_nonnull(strstr(lines, "6:3: parameter name '_date' may use only"));
	ck_assert_ptr_nonnull(strstr(lines, "7:3: parameter name '9lives' may use only"));
	free(lines);
	free(text);
}
END_TEST

START_TEST(plan_shows_fires_after_the_calendar)
{
	struct rb_set *set = load_examples();
	const struct rb_runbook *rb = rb_set_runbook(set, "fileserver-offsite");
	const struct tz *tokyo;
	ck_assert_int_eq(tz_load("Asia/Tokyo", &tokyo, NULL), 0);
	int64_t from;
	ck_assert_int_eq(tz_parse_iso("2026-12-25T12:00:00+09:00", tokyo, &from, NULL), 0);
	struct rb_plan plan;
	rb_plan_build(set, rb, from, 2, &plan);
	ck_assert_uint_eq(plan.n_fires, 2);
	char iso[64];
	tz_format_iso(tokyo, plan.fires[0].at, iso, sizeof(iso));
	ck_assert_str_eq(iso, "2027-01-04T02:00:00+09:00"); /* 1-3 Jan closed: the next open day */
	ck_assert_str_eq(plan.fires[0].note, "moved here from closed days: 2027-01-01 元日");
	ck_assert_uint_eq(plan.n_hosts, 1);
	ck_assert_str_eq(plan.hosts[0]->address, "192.0.2.50");
	rb_plan_release(&plan);

	rb = rb_set_runbook(set, "rehearse-nightly");
	rb_plan_build(set, rb, from, 1, &plan);
	ck_assert_uint_eq(plan.n_hosts, 0); /* never production */
	ck_assert_uint_eq(plan.n_staging_hosts, 1);
	ck_assert_str_eq(plan.staging_hosts[0]->name, "batch-stg-01");
	ck_assert_ptr_eq(plan.steps_of, rb_set_runbook(set, "nightly-resident-batch"));
	rb_plan_release(&plan);
	rb_set_free(set);
}
END_TEST

static struct rb_runbook *parse_named(const char *name, const char *cron)
{
	struct rb_diags d;
	struct rb_runbook *rb = NULL;
	rb_diags_init(&d);
	char *text = xasprintf("version: 1\nname: %s\nkind: batch\ntargets: { hosts: [h] }\n"
			       "schedule: { cron: \"%s\", timezone: UTC }\n"
			       "steps:\n  - { name: a, run: \"true\" }\n", name, cron);
	ck_assert_int_eq(rb_runbook_parse("t.yaml", text, strlen(text), &rb, &d), 0);
	free(text);
	rb_diags_release(&d);
	return rb;
}

/* Runbooks with the same cron text share one parsed expression; 'H' depends on the name, so an
 * expression with it is shared only under the same name; freeing one runbook leaves the others'
 * schedules working. */
START_TEST(cron_expressions_shared)
{
	struct rb_runbook *a = parse_named("a", "15 2 * * *"), *b = parse_named("b", "15 2 * * *");
	struct rb_runbook *c = parse_named("c", "15 3 * * *");
	ck_assert_ptr_eq(a->schedule.cron, b->schedule.cron);
	ck_assert_ptr_ne(a->schedule.cron, c->schedule.cron);
	struct rb_runbook *h1 = parse_named("nightly-x", "H H * * *");
	struct rb_runbook *h2 = parse_named("nightly-y", "H H * * *");
	struct rb_runbook *h3 = parse_named("nightly-x", "H H * * *");
	ck_assert_ptr_ne(h1->schedule.cron, h2->schedule.cron);
	ck_assert_ptr_eq(h1->schedule.cron, h3->schedule.cron);
	rb_runbook_free(a);
	rb_runbook_free(h1);
	int64_t next = 0;
	struct yb_err err = { 0 };
	ck_assert_int_eq(sched_next(&b->schedule, 0, &next, &err), 0);
	ck_assert_int_eq(next, 2 * 3600 + 15 * 60);
	ck_assert_int_eq(sched_next(&h3->schedule, 0, &next, &err), 0);
	rb_runbook_free(b);
	rb_runbook_free(c);
	rb_runbook_free(h2);
	rb_runbook_free(h3);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("runbook");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, examples_load_into_the_model);
	tcase_add_test(tc, defaults_when_unwritten);
	tcase_add_test(tc, business_day_schedule);
	tcase_add_test(tc, macros_keep_their_time_in_a_runbook);
	tcase_add_test(tc, unknown_keys_with_did_you_mean);
	tcase_add_test(tc, wrong_types_and_values);
	tcase_add_test(tc, schedule_errors_point_into_the_value);
	tcase_add_test(tc, step_actions);
	tcase_add_test(tc, kind_rules);
	tcase_add_test(tc, every_problem_is_reported);
	tcase_add_test(tc, yaml_level_refusals);
	tcase_add_test(tc, hostile_yaml_is_bounded);
	tcase_add_test(tc, cross_file_references);
	tcase_add_test(tc, duplicate_names_name_both_places);
	tcase_add_test(tc, rehearsal_and_procedure);
	tcase_add_test(tc, fifos_are_refused_at_once);
	tcase_add_test(tc, diagnostics_escape_what_they_echo);
	tcase_add_test(tc, secrets_read_by_the_folder_rule);
	tcase_add_test(tc, warnings_do_not_fail);
	tcase_add_test(tc, site_files_checked);
	tcase_add_test(tc, config_discovery);
	tcase_add_test(tc, helpers);
	tcase_add_test(tc, parameter_names_and_their_variables);
	tcase_add_test(tc, plan_shows_fires_after_the_calendar);
	tcase_add_test(tc, cron_expressions_shared);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
