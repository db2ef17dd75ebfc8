/*
 * cmd_plan.c: `yoban plan RUNBOOK.yaml`: the dry run. It loads the runbook with its site (the
 * same loading as validate and the daemon), resolves hosts, steps, environment, gates and the next
 * fires after the calendar, and prints them. It executes nothing; for a runbook with a staging
 * requirement it reads the last staging result of this revision from the database when that is
 * reachable (cli_approvals.c), and says so when it is not.
 */
#include "cli.h"
#include "cli_approvals.h"
#include "json.h"
#include "plan.h"
#include "runbook.h"
#include "tz.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const struct yb_cmd cmd_plan;

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "format", required_argument, NULL, 'f' },
		{ "from", required_argument, NULL, 'F' },
		{ "count", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *from_text = NULL;
	bool json = false;
	long count = 5;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:f:F:n:", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'f':
			if (cli_parse_format(&cmd_plan, optarg, &json))
				return YB_EXIT_USAGE;
			break;
		case 'F':
			from_text = optarg;
			break;
		case 'n': {
			char *end;
			count = strtol(optarg, &end, 10);
			if (*end || count < 0 || count > RB_PLAN_MAX_FIRES - 1)
				return cli_usage_error(&cmd_plan, "--count must be 0 to %d, not '%s'",
						       RB_PLAN_MAX_FIRES - 1, optarg);
			break;
		}
		default:
			if (optopt)
				return cli_usage_error(&cmd_plan, "option '-%c' is unknown or needs a "
								  "value", optopt);
			return cli_usage_error(&cmd_plan, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(&cmd_plan, "give exactly one runbook file");
	const char *path = argv[optind];

	struct rb_set *set = NULL;
	const struct rb_runbook *rb = NULL;
	int status = rb_cli_load_one(config, path, &set, &rb);
	if (status != 0)
		return status;

	int64_t from = (int64_t)time(NULL);
	if (from_text) {
		struct yb_err err = { 0 };
		const struct tz *zone = rb->has_schedule ? rb->schedule.zone : tz_utc();
		if (tz_parse_iso(from_text, zone, &from, &err) < 0) {
			rb_set_free(set);
			return cli_usage_error(&cmd_plan, "--from: %s", err.msg);
		}
	}
	struct rb_plan plan;
	rb_plan_build(set, rb, from, (size_t)count, &plan);
	if (json) {
		struct yb_json *o = rb_plan_json(&plan);
		cli_plan_staging(set, rb, o);
		yb_json_print(o, YB_JSON_PRETTY);
		yb_json_free(o);
	} else {
		rb_plan_print(&plan, stdout);
		cli_plan_staging(set, rb, NULL);
	}
	rb_plan_release(&plan);
	rb_set_free(set);
	return YB_EXIT_OK;
}

const struct yb_cmd cmd_plan = {
	.name = "plan",
	.summary = "show what a runbook would do, where and when (executes nothing)",
	.help = "usage: yoban plan RUNBOOK.yaml [--config FILE] [--format text|json] [--from TIME]\n"
		"                  [--count N]\n"
		"\n"
		"The dry run of one runbook: its revision (SHA-256 of the file), the production and\n"
		"staging hosts with their addresses and transports, each step with its effective\n"
		"timeout, retry and on_failure, the environment every step gets (YOBAN_RUN_ID,\n"
		"YOBAN_PARAM_* from the parameters' defaults, ...), the approval and staging it\n"
		"requires (with the procedure document's SHA-256), and the next fires after its\n"
		"calendar, with a note where the calendar skipped or moved a fire. Nothing is\n"
		"executed and no host is contacted. For a runbook with staging: {required: true}, the\n"
		"last staging result of this revision (a staging run or a rehearsal) is read from the\n"
		"site's database when it is reachable.\n"
		"\n"
		"options:\n"
		"  --config FILE   the site config (default: $YOBAN_CONFIG, else the nearest\n"
		"                  yoban.yaml beside the runbook or above it, else /etc/yoban/yoban.yaml)\n"
		"  --format json   the plan as JSON\n"
		"  --from TIME     list fires after this ISO 8601 time (default: now); without an\n"
		"                  offset it is read in the runbook's time zone\n"
		"  --count N       how many fires to list (default 5)\n"
		"\n"
		"examples:\n"
		"  yoban plan runbooks/nightly-resident-batch.yaml\n"
		"  yoban plan runbooks/patch-inc-2026-118.yaml --format json\n"
		"  yoban plan runbooks/fileserver-offsite.yaml --from 2026-12-01T00:00+09:00\n"
		"\n"
		"exit status: 0 ok, 1 the runbook (or its set) is invalid, 2 usage error\n",
	.run = run,
};
