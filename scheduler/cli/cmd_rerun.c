/*
 * cmd_rerun.c: `yoban rerun RUN [--from-step NAME]`: asks yoband for a new run of the same
 * runbook with the same parameters, from the start or from one step on.
 *
 * yoban.yoban_rerun() checks the caller's role and that the run exists and records the request;
 * yoband creates the new run (trigger 'rerun', rerun_of = RUN) and checks the step's name against
 * the runbook. With --wait the command prints the new run's id.
 */
#include "cli_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct yb_cmd cmd_rerun;

struct rerun {
	char run_id[24];
	const char *from_step;
};

static int on_opt(int opt, const char *arg, void *ctx)
{
	struct rerun *r = ctx;
	if (opt != 's')
		return cli_usage_error(&cmd_rerun, "unknown option");
	if (!*arg || strlen(arg) > 128)
		return cli_usage_error(&cmd_rerun, "--from-step takes a step's name");
	r->from_step = arg;
	return 0;
}

static void json_fields(struct yb_json *o, void *ctx)
{
	struct rerun *r = ctx;
	yb_json_set(o, "rerun_of", yb_json_int(strtoll(r->run_id, NULL, 10)));
	yb_json_set(o, "from_step", yb_json_str(r->from_step));
}

static int run(int argc, char **argv)
{
	static const struct option own[] = {
		{ "from-step", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct rerun r = { 0 };
	struct cli_request_ext ext = { own, on_opt, &r };
	struct cli_request_opts o = { .timeout_ms = CLI_REQUEST_WAIT_MS };
	char what[48];
	int status = cli_request_parse(&cmd_rerun, argc, argv, &ext, &o);
	if (status != 0)
		return status;
	if (argc - optind != 1)
		return cli_usage_error(&cmd_rerun, "give one RUN id");
	if ((status = opdb_parse_run_id(&cmd_rerun, argv[optind], r.run_id, sizeof(r.run_id))) != 0)
		return status;
	snprintf(what, sizeof(what), "rerun run %s", r.run_id);
	const char *p[] = { r.run_id, r.from_step };
	struct cli_request rq = {
		.sql = "SELECT yoban.yoban_rerun($1::bigint, $2)",
		.n_params = 2,
		.params = p,
		.makes_run = true,
		.what = what,
		.json_fields = json_fields,
		.ctx = &r,
	};
	return cli_request_run(&o, &rq);
}

const struct yb_cmd cmd_rerun = {
	.name = "rerun",
	.summary = "ask yoband to run a finished run again (from a step)",
	.help =
		"usage: yoban rerun RUN [--from-step NAME] [--wait [--timeout DUR]] [--config FILE]\n"
		"                   [--format text|json]\n"
		"\n"
		"Asks the scheduler for a new run of RUN's runbook with RUN's parameters, from the first\n"
		"step or, with --from-step, from the step NAME on (the steps before it are not run\n"
		"again). The request is written by yoban.yoban_rerun as you (a member of\n"
		"yoban_operator or yoban_admin). Prints 'request ID'.\n"
		"\n"
		"  --from-step NAME  start at this step\n"
		"  --wait            wait until yoband has created the new run and decided it; prints\n"
		"                    'run ID', 'state STATE' and, when there is one, 'reason TEXT'\n"
		"  --timeout DUR     how long --wait waits (default 60s)\n"
		"  --config FILE     the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"  --format json     one JSON object: request_id, rerun_of, from_step (with --wait:\n"
		"                    handled, ok, run_id, state, started, reason, error)\n"
		"\n"
		"Exit status: 0 recorded (with --wait: the new run started or is queued); 1 refused\n"
		"(permission, unknown run, yoband said no), no answer within --timeout, or (with\n"
		"--wait) the new run ended without starting (skipped, failed at once); 2 usage.\n",
	.run = run,
};
