/*
 * cmd_request.c: `yoban request RUNBOOK`: asks for a run of a runbook that needs approval.
 *
 * The command calls yoban.yoban_request() as the operator's own role. The function (SECURITY
 * DEFINER, schemas/sql/008_approvals.sql) checks the role, creates the run in state
 * awaiting_approval pinned to the runbook's current revision and to the SHA-256 of its procedure
 * document, records who asked and why, and returns the run's id, which is printed as `run N`.
 * Nothing starts until other people approve it (`yoban approve N`); yoband then starts it at the
 * earliest time the rules allow.
 */
#include "cmd_db_common.h"
#include "names.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct yb_cmd cmd_request;

#define MAX_PARAMS 256

static const char request_sql[] =
	"SELECT yoban.yoban_request($1::text, $2::jsonb, $3::timestamptz, $4::text, $5::boolean, "
	"$6::boolean)";

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "param", required_argument, NULL, 'p' },  { "at", required_argument, NULL, 'a' },
		{ "reason", required_argument, NULL, 'r' }, { "staging", no_argument, NULL, 's' },
		{ "emergency", no_argument, NULL, 'e' },    { "config", required_argument, NULL, 'C' },
		{ "format", required_argument, NULL, 'F' }, { NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *at = NULL, *reason = NULL;
	bool staging = false, emergency = false, json = false;
	int n_params = 0, opt, status = YB_EXIT_USAGE;
	struct yb_json *params = yb_json_object();
	struct db_conn *c = NULL;
	struct db_result *r = NULL;
	char *ptext = NULL;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p': {
			const char *eq = strchr(optarg, '=');
			if (!eq || !yb_param_name_valid_n(optarg, (size_t)(eq - optarg))) {
				cli_usage_error(&cmd_request, "--param takes NAME=VALUE, not '%s'", optarg);
				goto out;
			}
			if (++n_params > MAX_PARAMS) {
				cli_usage_error(&cmd_request, "at most %d --param", MAX_PARAMS);
				goto out;
			}
			char *name = xstrndup(optarg, (size_t)(eq - optarg));
			yb_json_set(params, name, yb_json_bytes(eq + 1, strlen(eq + 1)));
			free(name);
			break;
		}
		case 'a': at = optarg; break;
		case 'r': reason = optarg; break;
		case 's': staging = true; break;
		case 'e': emergency = true; break;
		case 'C': config = optarg; break;
		case 'F':
			if (cli_parse_format(&cmd_request, optarg, &json) != 0)
				goto out;
			break;
		default:
			cli_usage_error(&cmd_request, "unknown option '%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (argc - optind != 1) {
		cli_usage_error(&cmd_request, "give one RUNBOOK name");
		goto out;
	}
	const char *runbook = argv[optind];
	if (strchr(runbook, '/') || strstr(runbook, ".yaml")) {
		cli_usage_error(&cmd_request, "give the runbook's name (its 'name:'), not a file: '%s'",
				runbook);
		goto out;
	}
	if ((status = opdb_open(config, &c)) != 0)
		goto out;
	ptext = yb_json_dump(params, 0);
	const char *p[] = { runbook, ptext, at, reason, staging ? "true" : "false",
			    emergency ? "true" : "false" };
	struct yb_err err = { 0 };
	if (db_exec(c, request_sql, 6, p, &r, &err) < 0) {
		if (at && !strncmp(db_sqlstate(c), "2200", 4))
			status = cli_usage_error(&cmd_request, "--at '%s' is not a date and time (%s)", at,
						 err.msg);
		else
			status = opdb_report(c, &err, "yoban_operator");
		goto out;
	}
	const char *id = db_result_get(r, 0, 0);
	if (json) {
		struct yb_json *o = yb_json_object();
		yb_json_set(o, "run_id", yb_json_int(strtoll(id, NULL, 10)));
		yb_json_set(o, "runbook", yb_json_str(runbook));
		yb_json_set(o, "mode", yb_json_str(staging ? "staging" : "production"));
		yb_json_set(o, "emergency", yb_json_bool(emergency));
		yb_json_set(o, "params", yb_json_ref(params));
		yb_json_print(o, YB_JSON_PRETTY);
		yb_json_free(o);
	} else {
		printf("run %s\n", id);
	}
	status = YB_EXIT_OK;
out:
	free(ptext);
	yb_json_free(params);
	db_result_free(r);
	db_close(c);
	return status;
}

const struct yb_cmd cmd_request = {
	.name = "request",
	.summary = "ask for a run that needs approval",
	.help =
		"usage: yoban request RUNBOOK [--param NAME=VALUE]... [--at TIME] [--reason TEXT]\n"
		"                     [--staging] [--emergency] [--config FILE] [--format text|json]\n"
		"\n"
		"Asks for a run of RUNBOOK, a runbook with 'approval:' (a data patch). The run is made\n"
		"at once in state awaiting_approval, pinned to the runbook's current revision and to the\n"
		"SHA-256 of its procedure document, and recorded with your name (you must be a member of\n"
		"yoban_operator or yoban_admin). Prints 'run N'. It starts only when 'approvers' other\n"
		"people (members of yoban_approver, never you) have approved it with 'yoban approve N',\n"
		"no earlier than --at, and no earlier than the runbook's lead_time after the last\n"
		"approval. A runbook or procedure document changed before the start voids the approvals.\n"
		"\n"
		"  --param NAME=VALUE  a runbook parameter (repeat for more), as for yoban trigger\n"
		"  --at TIME           the earliest start (e.g. 2026-12-02T22:00+09:00)\n"
		"  --reason TEXT       why (an incident number, a ticket): shown to approvers\n"
		"  --staging           a run on the staging hosts, not production\n"
		"  --emergency         the site's emergency lead time instead of the runbook's; marked as\n"
		"                      an emergency in the evidence\n"
		"  --config FILE       the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"  --format json       one JSON object: run_id, runbook, mode, emergency, params\n"
		"\n"
		"Exit status: 0 requested; 1 refused (permission, unknown runbook, a runbook that needs\n"
		"no approval: use yoban trigger); 2 usage error.\n"
		"\n"
		"examples:\n"
		"  yoban request patch-inc-2026-118 --reason 'INC-2026-118' --at 2026-12-02T22:00+09:00\n",
	.run = run,
};
