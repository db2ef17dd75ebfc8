/*
 * cmd_rerun.c: `yoban rerun RUN [--from-step NAME]`: asks yoband for a new run of the same
 * runbook with the same parameters, from the start or from one step on.
 *
 * yoban.yoban_rerun() checks the caller's role and that the run exists and records the request;
 * yoband creates the new run (trigger 'rerun', rerun_of = RUN) and checks the step's name against
 * the runbook. With --wait the command prints the new run's id.
 */
#include "cmd_db_common.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct yb_cmd cmd_rerun;

#define DEFAULT_WAIT_MS (60 * 1000)

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "from-step", required_argument, NULL, 's' },
		{ "wait", no_argument, NULL, 'w' },         { "timeout", required_argument, NULL, 't' },
		{ "config", required_argument, NULL, 'C' }, { "format", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *from_step = NULL;
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
		case 's':
			if (!*optarg || strlen(optarg) > 128)
				return cli_usage_error(&cmd_rerun, "--from-step takes a step's name");
			from_step = optarg;
			break;
		case 'w': wait = true; break;
		case 't':
			if (yb_parse_duration_ms(optarg, &timeout_ms, &err) < 0 || timeout_ms <= 0)
				return cli_usage_error(&cmd_rerun, "--timeout takes a duration like '30s', "
						       "not '%s'", optarg);
			break;
		case 'C': config = optarg; break;
		case 'F':
			if (cli_parse_format(&cmd_rerun, optarg, &json) != 0)
				return YB_EXIT_USAGE;
			break;
		default:
			return cli_usage_error(&cmd_rerun, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(&cmd_rerun, "give one RUN id");
	if ((status = opdb_parse_run_id(&cmd_rerun, argv[optind], run_id, sizeof(run_id))) != 0)
		return status;
	if ((status = opdb_open(config, &c)) != 0)
		return status;
	const char *p[] = { run_id, from_step };
	if (db_query_value(c, "SELECT yoban.yoban_rerun($1::bigint, $2)", 2, p, &request_id,
			   &err) < 0) {
		status = opdb_report(c, &err, "yoban_operator");
		goto out;
	}
	if (wait && (status = opdb_wait_request(c, request_id, true, timeout_ms, &outcome)) != 0)
		goto out;
	why = opdb_result_message(outcome.result);
	if (json) {
		struct yb_json *o = yb_json_object();
		yb_json_set(o, "request_id", yb_json_int(strtoll(request_id, NULL, 10)));
		yb_json_set(o, "rerun_of", yb_json_int(strtoll(run_id, NULL, 10)));
		yb_json_set(o, "from_step", yb_json_str(from_step));
		if (wait)
			opdb_outcome_json(o, &outcome, why, true);
		yb_json_print(o, YB_JSON_PRETTY);
		yb_json_free(o);
	} else {
		printf("request %s\n", request_id);
		if (wait && outcome.run_id[0])
			printf("run %s\n", outcome.run_id);
	}
	status = YB_EXIT_OK;
	if (wait && !outcome.handled) {
		cli_error("yoband has not picked up request %s within %lld s: is it running? "
			  "('yoban status')", request_id, (long long)(timeout_ms / 1000));
		status = YB_EXIT_FAIL;
	} else if (wait && !outcome.ok) {
		cli_error("yoband refused to rerun run %s: %s", run_id, why ? why : "(no reason given)");
		status = YB_EXIT_FAIL;
	} else if (wait && !outcome.run_id[0]) {
		cli_error("yoband handled request %s without creating a run", request_id);
		status = YB_EXIT_FAIL;
	}
out:
	free(why);
	free(outcome.result);
	free(request_id);
	db_close(c);
	return status;
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
		"  --wait            wait until yoband has created the new run and print 'run ID' too\n"
		"                    (at most --timeout, default 60s)\n"
		"  --config FILE     the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"  --format json     one JSON object: request_id, rerun_of, from_step (with --wait:\n"
		"                    handled, ok, run_id, error)\n"
		"\n"
		"Exit status: 0 recorded, 1 refused (permission, unknown run, yoband said no), 2 usage.\n",
	.run = run,
};
