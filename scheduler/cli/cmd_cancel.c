/*
 * cmd_cancel.c: `yoban cancel RUN`: asks yoband to stop a run.
 *
 * Like trigger, a request, not an action: yoban.yoban_cancel() (SECURITY DEFINER) checks the
 * caller's role and that the run exists, records the request with session_user and wakes yoband,
 * which moves the run to 'cancelling' and then 'cancelled' once its jobs have stopped. With
 * --wait the command waits (bounded) until yoband has handled the request.
 */
#include "cli_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct yb_cmd cmd_cancel;

static void json_fields(struct yb_json *o, void *ctx)
{
	yb_json_set(o, "run_id", yb_json_int(strtoll(ctx, NULL, 10)));
}

static int run(int argc, char **argv)
{
	struct cli_request_opts o = { .timeout_ms = CLI_REQUEST_WAIT_MS };
	char run_id[24], what[48];
	int status = cli_request_parse(&cmd_cancel, argc, argv, NULL, &o);
	if (status != 0)
		return status;
	if (argc - optind != 1)
		return cli_usage_error(&cmd_cancel, "give one RUN id");
	if ((status = opdb_parse_run_id(&cmd_cancel, argv[optind], run_id, sizeof(run_id))) != 0)
		return status;
	snprintf(what, sizeof(what), "cancel run %s", run_id);
	const char *p[] = { run_id };
	struct cli_request rq = {
		.sql = "SELECT yoban.yoban_cancel($1::bigint)",
		.n_params = 1,
		.params = p,
		.what = what,
		.json_fields = json_fields,
		.ctx = run_id,
	};
	return cli_request_run(&o, &rq);
}

const struct yb_cmd cmd_cancel = {
	.name = "cancel",
	.summary = "ask yoband to stop a run",
	.help =
		"usage: yoban cancel RUN [--wait [--timeout DUR]] [--config FILE] [--format text|json]\n"
		"\n"
		"Asks the scheduler to cancel run RUN (an id from 'yoban runs'). The request is written\n"
		"by yoban.yoban_cancel as you (a member of yoban_operator or yoban_admin) and recorded\n"
		"with your name. yoband moves the run to 'cancelling', stops its jobs (the whole process\n"
		"group of each step), then marks it 'cancelled'. Prints 'request ID'.\n"
		"\n"
		"  --wait         wait until yoband has handled the request\n"
		"  --timeout DUR  how long --wait waits (default 60s)\n"
		"  --config FILE  the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"  --format json  one JSON object: request_id, run_id (with --wait: handled, ok, error)\n"
		"\n"
		"Exit status: 0 recorded (with --wait: handled), 1 refused (permission, unknown run,\n"
		"yoband said no) or no answer within --timeout, 2 usage.\n",
	.run = run,
};
