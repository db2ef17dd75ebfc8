/*
 * cmd_trigger.c: `yoban trigger RUNBOOK`: asks yoband to run a runbook now.
 *
 * The command does not start anything itself: it calls yoban.yoban_trigger() as the operator's
 * own role, which checks the role, writes a request row and an audit row naming session_user, and
 * NOTIFYs yoband. What it prints is the request id; with --wait it also waits (never longer than
 * --timeout) until yoband has created the run and decided it, and prints the run's id and state:
 * a run that ended without starting (skipped, failed at once) is exit status 1 (cli_request.c).
 * The database refuses a production trigger of a runbook that needs approval (pointing at
 * `yoban request`) or whose revision has not passed staging (008_approvals.sql); the refusal is
 * printed as it comes.
 */
#include "cli_request.h"
#include "names.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct yb_cmd cmd_trigger;

#define MAX_PARAMS 256

struct trigger {
	struct yb_json *params;
	int n_params;
	bool staging;
	const char *runbook;
};

static int on_opt(int opt, const char *arg, void *ctx)
{
	struct trigger *t = ctx;
	switch (opt) {
	case 'p': {
		const char *eq = strchr(arg, '=');
		if (!eq || !yb_param_name_valid_n(arg, (size_t)(eq - arg)))
			return cli_usage_error(&cmd_trigger, "--param takes NAME=VALUE with NAME as the "
					       "runbook writes it (letters, digits, '_' and '-', starting "
					       "with a letter), not '%s'", arg);
		if (++t->n_params > MAX_PARAMS)
			return cli_usage_error(&cmd_trigger, "at most %d --param", MAX_PARAMS);
		char *name = xstrndup(arg, (size_t)(eq - arg));
		/* bytes, losslessly: a value that is not UTF-8 travels as {"base64": ...} */
		yb_json_set(t->params, name, yb_json_bytes(eq + 1, strlen(eq + 1)));
		free(name);
		return 0;
	}
	case 's': t->staging = true; return 0;
	}
	return cli_usage_error(&cmd_trigger, "unknown option");
}

static void json_fields(struct yb_json *o, void *ctx)
{
	struct trigger *t = ctx;
	yb_json_set(o, "runbook", yb_json_str(t->runbook));
	yb_json_set(o, "mode", yb_json_str(t->staging ? "staging" : "production"));
	yb_json_set(o, "params", yb_json_ref(t->params));
}

static int run(int argc, char **argv)
{
	static const struct option own[] = {
		{ "param", required_argument, NULL, 'p' },
		{ "staging", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct trigger t = { .params = yb_json_object() };
	struct cli_request_ext ext = { own, on_opt, &t };
	struct cli_request_opts o = { .timeout_ms = CLI_REQUEST_WAIT_MS };
	char *params_text = NULL, *what = NULL;
	int status = cli_request_parse(&cmd_trigger, argc, argv, &ext, &o);
	if (status != 0)
		goto out;
	status = YB_EXIT_USAGE;
	if (argc - optind != 1) {
		cli_usage_error(&cmd_trigger, "give one RUNBOOK name");
		goto out;
	}
	t.runbook = argv[optind];
	if (strchr(t.runbook, '/') || strstr(t.runbook, ".yaml")) {
		cli_usage_error(&cmd_trigger, "give the runbook's name (its 'name:'), not a file: '%s'",
				t.runbook);
		goto out;
	}
	params_text = yb_json_dump(t.params, 0);
	what = xasprintf("trigger '%s'", t.runbook);
	const char *p[] = { t.runbook, params_text, t.staging ? "true" : "false" };
	struct cli_request rq = {
		.sql = "SELECT yoban.yoban_trigger($1, $2::jsonb, $3::boolean)",
		.n_params = 3,
		.params = p,
		.makes_run = true,
		.what = what,
		.json_fields = json_fields,
		.ctx = &t,
	};
	status = cli_request_run(&o, &rq);
out:
	free(what);
	free(params_text);
	yb_json_free(t.params);
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
		"A runbook with 'approval:' is refused in production: ask for it with 'yoban request'\n"
		"(its staging runs may be triggered). A runbook with staging: {required: true} is\n"
		"refused in production until this revision has succeeded in staging (--staging, or a\n"
		"rehearsal). Both refusals are the database's, so they hold for psql too.\n"
		"\n"
		"  --param NAME=VALUE  a runbook parameter, NAME as the runbook writes it (repeat for\n"
		"                      more); reaches the steps as $YOBAN_PARAM_NAME (upper case, '-'\n"
		"                      as '_'), never spliced into a command line\n"
		"  --staging           run in staging mode (the rehearsal), not production\n"
		"  --wait              wait until yoband has created the run and decided it (started,\n"
		"                      queued, or ended without starting); prints 'run ID', 'state\n"
		"                      STATE' and, when there is one, 'reason TEXT'; gives up after\n"
		"                      --timeout (default 60s)\n"
		"  --timeout DUR       how long --wait waits (e.g. 30s, 5m)\n"
		"  --config FILE       the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"  --format json       one JSON object: request_id, runbook, mode, params (and with\n"
		"                      --wait: handled, ok, run_id, state, started, reason, error)\n"
		"\n"
		"Exit status: 0 recorded (with --wait: the run started or is queued); 1 refused\n"
		"(permission, bad name, yoband said no), no answer within --timeout, or (with --wait)\n"
		"the run ended without starting: skipped (e.g. concurrency: forbid) or failed at once\n"
		"(e.g. no staging_hosts), its state and reason printed; 2 usage error.\n"
		"\n"
		"examples:\n"
		"  yoban trigger nightly-resident-batch --param business_date=2026-11-21 --wait\n"
		"  yoban trigger hello-local --staging --format json\n",
	.run = run,
};
