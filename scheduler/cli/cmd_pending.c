/*
 * cmd_pending.c: `yoban pending`: the runs waiting for approval, for the approvers.
 *
 * One SELECT on yoban.approval_requests (waiting or approved, not started): runbook, requester,
 * reason, approvals so far and needed, the earliest start and the procedure digest it is pinned
 * to. The earliest start of a request still waiting is what it would be if the last approval
 * came now.
 */
#include "cmd_db_common.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct yb_cmd cmd_pending;

static const char pending_sql[] =
	"SELECT q.run_id, q.runbook, r.mode::text AS mode, q.requested_by, q.reason,"
	" to_json(q.requested_at) #>> '{}' AS requested_at,"
	" (SELECT count(DISTINCT a.approver) FROM yoban.approvals a WHERE a.run_id = q.run_id)"
	"   AS approvals, q.approvers AS needed,"
	" (SELECT string_agg(a.approver, ', ' ORDER BY a.at) FROM yoban.approvals a"
	"   WHERE a.run_id = q.run_id) AS approved_by,"
	" q.state::text AS state, q.emergency::text AS emergency,"
	" to_json(coalesce(q.start_after, GREATEST(coalesce(q.not_before, now()), now() + q.lead_time)))"
	"   #>> '{}' AS earliest_start,"
	" q.procedure, q.procedure_sha256, r.reason AS waiting_for"
	" FROM yoban.approval_requests q JOIN yoban.runs r ON r.id = q.run_id"
	" WHERE q.state IN ('waiting', 'approved') ORDER BY q.run_id";

/* A column by name: the query above names every one (BUG_ON if it changed). */
static const char *col(const struct db_result *r, int row, const char *name)
{
	int i = db_result_col(r, name);
	BUG_ON(i < 0);
	return db_result_get(r, row, i);
}

static void print_table(const struct db_result *r)
{
	int n = db_result_rows(r);
	for (int i = 0; i < n; i++) {
		char req[32], start[32];
		bool approved = !strcmp(col(r, i, "state"), "approved");
		const char *by = col(r, i, "approved_by"), *why = col(r, i, "waiting_for");
		const char *reason = col(r, i, "reason"), *proc = col(r, i, "procedure");
		const char *sha = col(r, i, "procedure_sha256");
		opdb_format_time(col(r, i, "requested_at"), req, sizeof(req));
		opdb_format_time(col(r, i, "earliest_start"), start, sizeof(start));
		printf("run %s  %s (%s)%s\n", col(r, i, "run_id"), col(r, i, "runbook"), col(r, i, "mode"),
		       !strcmp(col(r, i, "emergency"), "true") ? "  EMERGENCY" : "");
		printf("  requested by %s at %s: %s\n", col(r, i, "requested_by"), req,
		       reason ? reason : "(no reason given)");
		printf("  approvals    %s of %s%s%s\n", col(r, i, "approvals"), col(r, i, "needed"),
		       by ? ": " : "", by ? by : "");
		printf("  %-12s %s%s\n", approved ? "starts" : "earliest", start,
		       approved ? "" : " (if approved now)");
		if (proc)
			printf("  procedure    %s sha256 %s\n", proc, sha ? sha : "-");
		if (why)
			printf("  %s\n", why);
	}
	if (n == 0)
		printf("(no runs wait for approval)\n");
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'C' },
		{ "format", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	bool json = false;
	int opt, status;
	struct db_conn *c = NULL;
	struct db_result *r = NULL;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'C': config = optarg; break;
		case 'F':
			if (cli_parse_format(&cmd_pending, optarg, &json) != 0)
				return YB_EXIT_USAGE;
			break;
		default:
			return cli_usage_error(&cmd_pending, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc != optind)
		return cli_usage_error(&cmd_pending, "unexpected argument '%s'", argv[optind]);
	if ((status = opdb_open(config, &c)) != 0)
		return status;
	if ((status = opdb_query(c, pending_sql, 0, NULL, &r, "yoban_reviewer")) != 0)
		goto out;
	if (json) {
		struct yb_json *arr = yb_json_array();
		for (int i = 0; i < db_result_rows(r); i++) {
			struct yb_json *o = opdb_row_json(r, i);
			yb_json_set(o, "approvals", yb_json_int(strtoll(col(r, i, "approvals"), NULL, 10)));
			yb_json_set(o, "needed", yb_json_int(strtoll(col(r, i, "needed"), NULL, 10)));
			yb_json_set(o, "emergency", yb_json_bool(!strcmp(col(r, i, "emergency"), "true")));
			yb_json_push(arr, o);
		}
		yb_json_print(arr, YB_JSON_PRETTY);
		yb_json_free(arr);
	} else {
		print_table(r);
	}
out:
	db_result_free(r);
	db_close(c);
	return status;
}

const struct yb_cmd cmd_pending = {
	.name = "pending",
	.summary = "list the runs waiting for approval",
	.help =
		"usage: yoban pending [--config FILE] [--format text|json]\n"
		"\n"
		"Lists the runs made by 'yoban request' that have not started: runbook and mode, who\n"
		"asked and why, approvals so far and needed (and by whom), the earliest start (for a\n"
		"request still waiting: if the last approval came now) and the procedure document's\n"
		"SHA-256 it is pinned to. Needs read access (yoban_reviewer, yoban_operator,\n"
		"yoban_approver or yoban_admin).\n"
		"\n"
		"  --config FILE  the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"  --format json  an array of objects: run_id, runbook, mode, requested_by, reason,\n"
		"                 requested_at, approvals, needed, approved_by, state, emergency,\n"
		"                 earliest_start, procedure, procedure_sha256, waiting_for\n",
	.run = run,
};
