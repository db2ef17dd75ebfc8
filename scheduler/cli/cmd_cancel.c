/*
 * cmd_cancel.c: `yoban cancel RUN`: asks yoband to stop a run.
 *
 * Like trigger, a request, not an action: yoban.yoban_cancel() (SECURITY DEFINER) checks the
 * caller's role and that the run exists, records the request with session_user and wakes yoband,
 * which moves the run to 'cancelling' and then 'cancelled' once its jobs have stopped. With
 * --wait the command waits (bounded) until yoband has handled the request.
 */
#include "cmd_db_common.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct yb_cmd cmd_cancel;

#define DEFAULT_WAIT_MS (60 * 1000)

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "wait", no_argument, NULL, 'w' },         { "timeout", required_argument, NULL, 't' },
		{ "config", required_argument, NULL, 'C' }, { "format", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	bool json = false, wait = false;
	int64_t timeout_ms = DEFAULT_WAIT_MS;
	struct db_conn *c = NULL;
	char *request_id = NULL, *why = NULL;
	char run_id[24];
	struct opdb_request_outcome outcome = { 0 };
	struct yb_err err = { 0 };
	int status, opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'w': wait = true; break;
		case 't':
			if (yb_parse_duration_ms(optarg, &timeout_ms, &err) < 0 || timeout_ms <= 0)
				return cli_usage_error(&cmd_cancel, "--timeout takes a duration like '30s', "
						       "not '%s'", optarg);
			break;
		case 'C': config = optarg; break;
		case 'F':
			if (cli_parse_format(&cmd_cancel, optarg, &json) != 0)
				return YB_EXIT_USAGE;
			break;
		default:
			return cli_usage_error(&cmd_cancel, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(&cmd_cancel, "give one RUN id");
	if ((status = opdb_parse_run_id(&cmd_cancel, argv[optind], run_id, sizeof(run_id))) != 0)
		return status;
	if ((status = opdb_open(config, &c)) != 0)
		return status;
	const char *p[] = { run_id };
	if (db_query_value(c, "SELECT yoban.yoban_cancel($1::bigint)", 1, p, &request_id, &err) < 0) {
		status = opdb_report(c, &err, "yoban_operator");
		goto out;
	}
	if (wait && (status = opdb_wait_request(c, request_id, false, timeout_ms, &outcome)) != 0)
		goto out;
	why = opdb_result_message(outcome.result);
	if (json) {
		struct yb_json *o = yb_json_object();
		yb_json_set(o, "request_id", yb_json_int(strtoll(request_id, NULL, 10)));
		yb_json_set(o, "run_id", yb_json_int(strtoll(run_id, NULL, 10)));
		if (wait)
			opdb_outcome_json(o, &outcome, why, false);
		yb_json_print(o, YB_JSON_PRETTY);
		yb_json_free(o);
	} else {
		printf("request %s\n", request_id);
	}
	status = YB_EXIT_OK;
	if (wait && !outcome.handled) {
		cli_error("yoband has not picked up request %s within %lld s: is it running? "
			  "('yoban status')", request_id, (long long)(timeout_ms / 1000));
		status = YB_EXIT_FAIL;
	} else if (wait && !outcome.ok) {
		cli_error("yoband refused to cancel run %s: %s", run_id, why ? why : "(no reason given)");
		status = YB_EXIT_FAIL;
	}
out:
	free(why);
	free(outcome.result);
	free(request_id);
	db_close(c);
	return status;
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
		"  --wait         wait until yoband has handled the request (at most --timeout, 60s)\n"
		"  --config FILE  the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"  --format json  one JSON object: request_id, run_id (with --wait: handled, ok, error)\n"
		"\n"
		"Exit status: 0 recorded, 1 refused (permission, unknown run, yoband said no), 2 usage.\n",
	.run = run,
};
