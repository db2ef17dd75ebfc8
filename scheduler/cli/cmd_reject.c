/*
 * cmd_reject.c: `yoban reject RUN --comment TEXT`: refuses a requested run.
 *
 * yoban.yoban_reject() (SECURITY DEFINER) checks that the caller is a member of yoban_approver
 * and that the run still waits, ends the request and its run (cancelled, "rejected by WHO: TEXT")
 * and records it in the audit. A rejection always says why: --comment is required.
 */
#include "cmd_db_common.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

extern const struct yb_cmd cmd_reject;

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "comment", required_argument, NULL, 'm' },
		{ "config", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *comment = NULL;
	int opt, status;
	char run_id[24];
	struct db_conn *c = NULL;
	struct db_result *r = NULL;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "m:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'm': comment = optarg; break;
		case 'C': config = optarg; break;
		default:
			return cli_usage_error(&cmd_reject, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(&cmd_reject, "give one RUN id");
	if (!comment || !*comment)
		return cli_usage_error(&cmd_reject, "a rejection says why: give --comment TEXT");
	if ((status = opdb_parse_run_id(&cmd_reject, argv[optind], run_id, sizeof(run_id))) != 0)
		return status;
	if ((status = opdb_open(config, &c)) != 0)
		return status;
	const char *p[] = { run_id, comment };
	status = opdb_query(c, "SELECT yoban.yoban_reject($1::bigint, $2::text)", 2, p, &r,
			    "yoban_approver");
	if (status == 0)
		printf("run %s rejected\n", run_id);
	db_result_free(r);
	db_close(c);
	return status;
}

const struct yb_cmd cmd_reject = {
	.name = "reject",
	.summary = "refuse a requested run",
	.help =
		"usage: yoban reject RUN --comment TEXT [--config FILE]\n"
		"\n"
		"Refuses run RUN, made by 'yoban request' and still waiting (see 'yoban pending'). You\n"
		"must be a member of yoban_approver. The run ends as cancelled with the reason\n"
		"'rejected by YOU: TEXT', and the rejection is recorded in the audit.\n"
		"\n"
		"  --comment TEXT  why (required)\n"
		"  --config FILE   the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"\n"
		"Exit status: 0 rejected; 1 refused (not an approver, not waiting); 2 usage error.\n",
	.run = run,
};
