/*
 * cmd_validate.c: `yoban validate`: every problem in the given runbooks and site files, each as
 * FILE:LINE:COL: error: MESSAGE, or a one-line summary when all is well.
 *
 * The one idea: validate loads exactly what the scheduler would load (rb_set_load, with the same
 * config discovery), so "ok" here means the daemon will accept the set.
 */
#include "cli.h"
#include "json.h"
#include "runbook.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct yb_cmd cmd_validate;

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	bool json = false;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:f:", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'f':
			if (cli_parse_format(&cmd_validate, optarg, &json))
				return YB_EXIT_USAGE;
			break;
		case '?':
		default:
			if (optopt)
				return cli_usage_error(&cmd_validate, "option '-%c' is unknown or needs "
								      "a value", optopt);
			return cli_usage_error(&cmd_validate, "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	const char *const *paths = (const char *const *)argv + optind;
	size_t n_paths = (size_t)(argc - optind);

	char *config_path = NULL;
	struct yb_err err = { 0 };
	if (rb_config_find(config, n_paths ? paths[0] : NULL, &config_path, &err) < 0) {
		cli_error("%s", err.msg);
		return YB_EXIT_USAGE;
	}
	if (n_paths == 0 && !config_path)
		return cli_usage_error(&cmd_validate, "give the runbook files or folders to check "
						      "(or --config with a site config)");

	if (!config_path && !json)
		fprintf(stderr, "yoban validate: note: no site config found (no --config, no "
				"$YOBAN_CONFIG, no yoban.yaml beside the files or above them, no "
				"/etc/yoban/yoban.yaml): the site defaults apply, hosts and calendars come only from an "
				"inventory.yaml and calendars/ beside the files, and no channel is known\n");
	struct rb_diags diags;
	rb_diags_init(&diags);
	struct rb_load_opts lo = { .config_path = config_path, .paths = paths, .n_paths = n_paths };
	struct rb_set *set = NULL;
	int rc = rb_set_load(&lo, &set, &diags);
	int status = rc < 0 ? YB_EXIT_FAIL : YB_EXIT_OK;

	if (json) {
		struct yb_json *out = yb_json_object();
		yb_json_set(out, "valid", yb_json_bool(rc == 0));
		yb_json_set(out, "errors", yb_json_int((int64_t)diags.n_errors));
		yb_json_set(out, "diagnostics", rb_diags_json(&diags));
		if (set) {
			struct yb_json *counts = yb_json_object();
			yb_json_set(counts, "runbooks", yb_json_int((int64_t)set->n_runbooks));
			yb_json_set(counts, "inventories", yb_json_int((int64_t)set->n_inventory_files));
			yb_json_set(counts, "calendars", yb_json_int((int64_t)set->n_calendar_files));
			yb_json_set(counts, "site_configs", yb_json_int((int64_t)set->n_site_files));
			yb_json_set(out, "counts", counts);
		}
		yb_json_print(out, YB_JSON_PRETTY);
		yb_json_free(out);
	} else {
		rb_diags_print(&diags, stderr);
		if (set) {
			printf("ok: %zu %s, %zu %s, %zu %s, %zu %s\n", set->n_runbooks,
			       plural(set->n_runbooks, "runbook", "runbooks"), set->n_inventory_files,
			       plural(set->n_inventory_files, "inventory", "inventories"),
			       set->n_calendar_files,
			       plural(set->n_calendar_files, "calendar", "calendars"),
			       set->n_site_files, plural(set->n_site_files, "site config", "site configs"));
		} else {
			fprintf(stderr, "%zu %s: nothing was changed, fix %s and validate again\n",
				diags.n_errors, plural(diags.n_errors, "error", "errors"),
				plural(diags.n_errors, "it", "them"));
		}
	}
	rb_set_free(set);
	rb_diags_release(&diags);
	free(config_path);
	return status;
}

const struct yb_cmd cmd_validate = {
	.name = "validate",
	.summary = "check runbooks, the inventory, calendars and the site config",
	.help = "usage: yoban validate [--config FILE] [--format text|json] [PATH...]\n"
		"\n"
		"Checks runbook files and folders (read recursively for *.yaml and *.yml) together\n"
		"with the site files they use, and prints every problem, not only the first, as\n"
		"  FILE:LINE:COL: error: MESSAGE\n"
		"sorted by file and line. Inside the folders, yoban.yaml is a site config,\n"
		"inventory.yaml an inventory and files under calendars/ are calendars; every other\n"
		"YAML file is a runbook. Hosts, calendars, notify channels and rehearsed runbooks\n"
		"are checked across files. When all is well it prints a summary such as\n"
		"  ok: 5 runbooks, 1 inventory, 1 calendar, 1 site config\n"
		"Without PATH it checks the site config and the runbooks folder it names.\n"
		"\n"
		"options:\n"
		"  --config FILE   the site config (default: $YOBAN_CONFIG, else the nearest\n"
		"                  yoban.yaml in the first PATH's folder or a parent folder, else\n"
		"                  /etc/yoban/yoban.yaml)\n"
		"  --format json   the diagnostics as JSON on stdout\n"
		"\n"
		"examples:\n"
		"  yoban validate runbooks/\n"
		"  yoban validate runbooks/nightly-resident-batch.yaml --format json\n"
		"\n"
		"exit status: 0 valid, 1 invalid, 2 usage error\n",
	.run = run,
};
