/*
 * cmd_approve.c: `yoban approve RUN` approves a requested run; `yoban approve --revision RUNBOOK`
 * approves the current revision of a scheduled runbook that has 'approval:'.
 *
 * Both call a SECURITY DEFINER function (yoban_approve, yoban_approve_revision) as the approver's
 * own login, and the function decides: a member of yoban_approver, not the requester, once per
 * person; a request whose runbook or procedure document changed is voided instead, and the
 * answer says which changed. The command only prints what the function answered.
 */
#include "cmd_db_common.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct yb_cmd cmd_approve;

/* Prints a run's approval answer ({"run", "state", "approvals", "needed", "start_after",
 * "error"}); returns the exit status. */
static int print_run_answer(const struct yb_json *a)
{
	const char *state = yb_json_get_str(a, "state");
	const char *error = yb_json_get_str(a, "error");
	long long run = (long long)yb_json_get_int(a, "run", 0);
	if (error) {
		cli_error("run %lld: %s", run, error);
		return YB_EXIT_FAIL;
	}
	long long n = (long long)yb_json_get_int(a, "approvals", 0);
	long long need = (long long)yb_json_get_int(a, "needed", 0);
	if (state && !strcmp(state, "approved")) {
		char when[40];
		opdb_format_time(yb_json_get_str(a, "start_after"), when, sizeof(when));
		printf("run %lld approved: %lld of %lld approvals; yoband starts it at %s at the "
		       "earliest\n", run, n, need, when);
	} else {
		printf("run %lld: %lld of %lld approvals; it waits for %lld more\n", run, n, need,
		       need - n);
	}
	return YB_EXIT_OK;
}

static int print_revision_answer(const struct yb_json *a)
{
	long long n = (long long)yb_json_get_int(a, "approvals", 0);
	long long need = (long long)yb_json_get_int(a, "needed", 0);
	const char *sha = yb_json_get_str(a, "sha256");
	printf("runbook %s revision %lld (sha256 %.12s): %lld of %lld approvals: %s\n",
	       yb_json_get_str(a, "runbook"), (long long)yb_json_get_int(a, "revision_id", 0),
	       sha ? sha : "?", n, need, n >= need ? "approved, its fires run" :
	       "not approved yet, its fires are recorded as skipped");
	return YB_EXIT_OK;
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "comment", required_argument, NULL, 'm' }, { "revision", no_argument, NULL, 'R' },
		{ "config", required_argument, NULL, 'C' },  { "format", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *comment = NULL;
	bool revision = false, json = false;
	int opt, status;
	char run_id[24];
	struct db_conn *c = NULL;
	struct db_result *r = NULL;
	struct yb_json *a = NULL;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "m:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'm': comment = optarg; break;
		case 'R': revision = true; break;
		case 'C': config = optarg; break;
		case 'F':
			if (cli_parse_format(&cmd_approve, optarg, &json) != 0)
				return YB_EXIT_USAGE;
			break;
		default:
			return cli_usage_error(&cmd_approve, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(&cmd_approve, revision ? "give one RUNBOOK name" : "give one RUN id");
	const char *what = argv[optind];
	if (!revision && (status = opdb_parse_run_id(&cmd_approve, what, run_id, sizeof(run_id))) != 0)
		return status;
	if ((status = opdb_open(config, &c)) != 0)
		return status;
	const char *p[] = { revision ? what : run_id, comment };
	status = opdb_query(c, revision ? "SELECT yoban.yoban_approve_revision($1::text, $2::text)::text"
					: "SELECT yoban.yoban_approve($1::bigint, $2::text)::text",
			    2, p, &r, "yoban_approver");
	if (status != 0)
		goto out;
	const char *text = db_result_get(r, 0, 0);
	if (!text || yb_json_parse(text, strlen(text), &a, NULL) < 0) {
		cli_error("the database's answer could not be read");
		status = YB_EXIT_FAIL;
		goto out;
	}
	if (json) {
		yb_json_print(a, YB_JSON_PRETTY);
		status = yb_json_get_str(a, "error") ? YB_EXIT_FAIL : YB_EXIT_OK;
	} else {
		status = revision ? print_revision_answer(a) : print_run_answer(a);
	}
out:
	yb_json_free(a);
	db_result_free(r);
	db_close(c);
	return status;
}

const struct yb_cmd cmd_approve = {
	.name = "approve",
	.summary = "approve a requested run, or a scheduled runbook's revision",
	.help =
		"usage: yoban approve RUN [--comment TEXT] [--config FILE] [--format text|json]\n"
		"       yoban approve --revision RUNBOOK [--comment TEXT] [--config FILE] [--format ...]\n"
		"\n"
		"Approves run RUN, made by 'yoban request' (see 'yoban pending'). You must be a member of\n"
		"yoban_approver and not the requester; one person counts once. When the runbook's\n"
		"'approvers' distinct people have approved, yoband starts the run no earlier than the\n"
		"request's --at and the runbook's lead_time after the last approval. If the runbook or\n"
		"its procedure document changed since the request, the request is void instead: the\n"
		"command says which changed and exits 1.\n"
		"\n"
		"With --revision, approves the current revision of RUNBOOK, a scheduled runbook with\n"
		"'approval:': its fires run once 'approvers' people approved this revision (and this\n"
		"procedure document); until then each fire is recorded as skipped, with the reason.\n"
		"\n"
		"  --comment TEXT  recorded with the approval\n"
		"  --config FILE   the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"  --format json   the database's answer: run, state, approvals, needed, start_after\n"
		"                  (--revision: runbook, revision_id, sha256, approvals, needed, approved)\n"
		"\n"
		"Exit status: 0 approval recorded; 1 refused (not an approver, your own request, approved\n"
		"by you already, not waiting, void); 2 usage error.\n",
	.run = run,
};
