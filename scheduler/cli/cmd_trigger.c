/*
 * cmd_trigger.c: `yoban trigger RUNBOOK`: asks yoband to run a runbook now.
 *
 * The command does not start anything itself: it calls yoban.yoban_trigger() as the operator's
 * own role, which checks the role, writes a request row and an audit row naming session_user, and
 * NOTIFYs yoband. What it prints is the request id; with --wait it also waits (polling the request
 * row, never longer than --timeout) until yoband has created the run, and prints the run id.
 */
#include "cmd_db_common.h"
#include "names.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct yb_cmd cmd_trigger;

#define MAX_PARAMS 256
#define DEFAULT_WAIT_MS (60 * 1000)

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "param", required_argument, NULL, 'p' },  { "staging", no_argument, NULL, 's' },
		{ "wait", no_argument, NULL, 'w' },         { "timeout", required_argument, NULL, 't' },
		{ "config", required_argument, NULL, 'C' }, { "format", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	bool json = false, staging = false, wait = false;
	int64_t timeout_ms = DEFAULT_WAIT_MS;
	struct yb_json *params = yb_json_object();
	struct db_conn *c = NULL;
	char *params_text = NULL, *request_id = NULL;
	struct opdb_request_outcome outcome = { 0 };
	int status = YB_EXIT_USAGE, n_params = 0, opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p': {
			const char *eq = strchr(optarg, '=');
			if (!eq || !yb_param_name_valid_n(optarg, (size_t)(eq - optarg))) {
				cli_usage_error(&cmd_trigger, "--param takes NAME=VALUE with NAME as the "
						"runbook writes it (letters, digits, '_' and '-', starting with "
						"a letter), not '%s'", optarg);
				goto out;
			}
			if (++n_params > MAX_PARAMS) {
				cli_usage_error(&cmd_trigger, "at most %d --param", MAX_PARAMS);
				goto out;
			}
			char *name = xstrndup(optarg, (size_t)(eq - optarg));
			yb_json_set(params, name, yb_json_str(eq + 1));
			free(name);
			break;
		}
		case 's': staging = true; break;
		case 'w': wait = true; break;
		case 't': {
			struct yb_err err = { 0 };
			if (yb_parse_duration_ms(optarg, &timeout_ms, &err) < 0 || timeout_ms <= 0) {
				cli_usage_error(&cmd_trigger, "--timeout takes a duration like '30s' or '5m', "
						"not '%s'", optarg);
				goto out;
			}
			break;
		}
		case 'C': config = optarg; break;
		case 'F':
			if (cli_parse_format(&cmd_trigger, optarg, &json) != 0)
				goto out;
			break;
		default:
			cli_usage_error(&cmd_trigger, "unknown option '%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (argc - optind != 1) {
		cli_usage_error(&cmd_trigger, "give one RUNBOOK name");
		goto out;
	}
	const char *runbook = argv[optind];
	if (strchr(runbook, '/') || strstr(runbook, ".yaml")) {
		cli_usage_error(&cmd_trigger, "give the runbook's name (its 'name:'), not a file: '%s'",
				runbook);
		goto out;
	}
	if ((status = opdb_open(config, &c)) != 0)
		goto out;
	params_text = yb_json_dump(params, 0);
	const char *p[] = { runbook, params_text, staging ? "true" : "false" };
	struct yb_err err = { 0 };
	if (db_query_value(c, "SELECT yoban.yoban_trigger($1, $2::jsonb, $3::boolean)", 3, p,
			   &request_id, &err) < 0) {
		status = opdb_report(c, &err, "yoban_operator");
		goto out;
	}
	if (wait && (status = opdb_wait_request(c, request_id, true, timeout_ms, &outcome)) != 0)
		goto out;
	status = YB_EXIT_OK;
	char *why = wait ? opdb_result_message(outcome.result) : NULL;
	if (json) {
		struct yb_json *o = yb_json_object();
		yb_json_set(o, "request_id", yb_json_int(strtoll(request_id, NULL, 10)));
		yb_json_set(o, "runbook", yb_json_str(runbook));
		yb_json_set(o, "mode", yb_json_str(staging ? "staging" : "production"));
		yb_json_set(o, "params", yb_json_ref(params));
		if (wait)
			opdb_outcome_json(o, &outcome, why, true);
		yb_json_print(o, YB_JSON_PRETTY);
		yb_json_free(o);
	} else {
		printf("request %s\n", request_id);
		if (wait && outcome.run_id[0])
			printf("run %s\n", outcome.run_id);
	}
	if (wait && !outcome.handled) {
		cli_error("yoband has not picked up request %s within %lld s: is it running? "
			  "('yoban status' shows the leader; the request stays queued)", request_id,
			  (long long)(timeout_ms / 1000));
		status = YB_EXIT_FAIL;
	} else if (wait && !outcome.ok) {
		cli_error("yoband refused request %s: %s", request_id, why ? why : "(no reason given)");
		status = YB_EXIT_FAIL;
	} else if (wait && !outcome.run_id[0]) {
		cli_error("yoband handled request %s without creating a run", request_id);
		status = YB_EXIT_FAIL;
	}
	free(why);
out:
	free(outcome.result);
	free(request_id);
	free(params_text);
	yb_json_free(params);
	db_close(c);
	return status;
}

const struct yb_cmd cmd_trigger = {
	.name = "trigger",
	.summary = "ask yoband to run a runbook now",
	.help =
		"usage: yoban trigger RUNBOOK [--param NAME=VALUE]... [--staging] [--wait [--timeout DUR]]\n"
		"                     [--config FILE] [--format text|json]\n"
		"\n"
		"Asks the scheduler to run RUNBOOK (its name, as in 'name:') now. The request is written\n"
		"by the database function yoban.yoban_trigger as you (your own PostgreSQL role, which\n"
		"must be a member of yoban_operator or yoban_admin) and recorded with your name; yoband\n"
		"is woken by NOTIFY and creates the run. Prints 'request ID'.\n"
		"\n"
		"  --param NAME=VALUE  a runbook parameter (repeat for more); reaches the steps as\n"
		"                      $YOBAN_PARAM_NAME, never spliced into a command line\n"
		"  --staging           run in staging mode (the rehearsal), not production\n"
		"  --wait              wait until yoband has created the run and print 'run ID' too;\n"
		"                      gives up after --timeout (default 60s) with exit status 1\n"
		"  --config FILE       the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"  --format json       one JSON object: request_id, runbook, mode, params (and with\n"
		"                      --wait: handled, ok, run_id, error)\n"
		"\n"
		"Exit status: 0 recorded (and with --wait: the run exists), 1 refused (permission, bad\n"
		"name, yoband said no or did not answer in time), 2 usage error.\n"
		"\n"
		"examples:\n"
		"  yoban trigger nightly-resident-batch --param BATCH_DATE=2026-11-21 --wait\n"
		"  yoban trigger hello-local --staging --format json\n",
	.run = run,
};
