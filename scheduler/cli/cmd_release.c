/*
 * cmd_release.c: `yoban release RUN [--comment TEXT]`: frees the slot and the locks a lost run
 * still holds.
 *
 * A job whose runner journal is gone while processes of it still run is recorded 'lost', and its
 * run keeps the runbook's concurrency slot and its locks until the runner says nothing of it is
 * left (yoband asks every few seconds). When the host is gone for good, or the leftover processes
 * are known to be harmless, an operator releases it by hand: yoban.yoban_release() (SECURITY
 * DEFINER) checks the caller's role and that the run holds a slot, and records the request and an
 * audit row with session_user and the comment; yoband frees the slot and records who released it
 * on the job (released_by, release_comment) and in the audit table.
 */
#include "cli_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct yb_cmd cmd_release;

struct release {
	char run_id[24];
	const char *comment;
};

static int on_opt(int opt, const char *arg, void *ctx)
{
	struct release *r = ctx;
	if (opt != 'c')
		return cli_usage_error(&cmd_release, "unknown option");
	if (strlen(arg) > 1000)
		return cli_usage_error(&cmd_release, "--comment takes at most 1000 characters");
	r->comment = arg;
	return 0;
}

static void json_fields(struct yb_json *o, void *ctx)
{
	struct release *r = ctx;
	yb_json_set(o, "run_id", yb_json_int(strtoll(r->run_id, NULL, 10)));
	yb_json_set(o, "comment", r->comment ? yb_json_str(r->comment) : yb_json_null());
}

static int run(int argc, char **argv)
{
	static const struct option own[] = {
		{ "comment", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct release r = { 0 };
	struct cli_request_ext ext = { own, on_opt, &r };
	struct cli_request_opts o = { .timeout_ms = CLI_REQUEST_WAIT_MS };
	char what[48];
	int status = cli_request_parse(&cmd_release, argc, argv, &ext, &o);
	if (status != 0)
		return status;
	if (argc - optind != 1)
		return cli_usage_error(&cmd_release, "give one RUN id");
	if ((status = opdb_parse_run_id(&cmd_release, argv[optind], r.run_id, sizeof(r.run_id))) != 0)
		return status;
	snprintf(what, sizeof(what), "release run %s", r.run_id);
	const char *p[] = { r.run_id, r.comment };
	struct cli_request rq = {
		.sql = "SELECT yoban.yoban_release($1::bigint, $2)",
		.n_params = 2,
		.params = p,
		.what = what,
		.json_fields = json_fields,
		.ctx = &r,
	};
	return cli_request_run(&o, &rq);
}

const struct yb_cmd cmd_release = {
	.name = "release",
	.summary = "free the slot and locks a lost run holds while processes of it may still run",
	.help =
		"usage: yoban release RUN [--comment TEXT] [--wait [--timeout DUR]] [--config FILE]\n"
		"                         [--format text|json]\n"
		"\n"
		"A run whose job was lost (the runner's journal for it is gone) while processes of the\n"
		"step still run keeps its runbook's concurrency slot and its locks: a 'forbid' runbook\n"
		"does not start again beside them. yoband asks the runner every few seconds and frees\n"
		"the slot by itself once nothing of the job is left ('yoban show RUN' says so). Release\n"
		"it by hand when the host is gone for good or you have checked the processes yourself\n"
		"('ps e' on the host shows YOBAN_RUNNER_JOB=JOB:... in their environment).\n"
		"\n"
		"The request is written by yoban.yoban_release as you (a member of yoban_operator or\n"
		"yoban_admin) and recorded with your name and the comment in the audit table; yoband\n"
		"marks the job released by you. Prints 'request ID'.\n"
		"\n"
		"  --comment TEXT  why (kept with the job and in the audit table; at most 1000 characters)\n"
		"  --wait          wait until yoband has handled the request\n"
		"  --timeout DUR   how long --wait waits (default 60s)\n"
		"  --config FILE   the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"  --format json   one JSON object: request_id, run_id, comment (with --wait: handled,\n"
		"                  ok, error)\n"
		"\n"
		"Exit status: 0 recorded (with --wait: released), 1 refused (permission, unknown run, a\n"
		"run that holds no slot) or no answer within --timeout, 2 usage.\n",
	.run = run,
};
