/*
 * cmd_backups.c: `yoban backups RUNBOOK [--format json]`: the generations of a runbook's backup
 * repositories, newest first, numbered 0, 1, 2 ... (0 the newest): time, sizes, digests, last
 * verification.
 *
 * The repositories live on the runbook's target host, so they are read there: the listing is a
 * short job through that host's runner (`yoban-runner step list`), for a local host as for a
 * remote one; one path, the runner's own view, nothing read by a second route. Also holds what
 * `yoban restore` shares with it (cli_backup.h).
 */
#include "cli_backup.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct yb_cmd cmd_backups;
extern const struct yb_cmd cmd_exec;

static bool looks_like_file(const char *arg)
{
	size_t n = strlen(arg);
	return strchr(arg, '/') || (n > 5 && !strcmp(arg + n - 5, ".yaml")) ||
	       (n > 4 && !strcmp(arg + n - 4, ".yml"));
}

int backup_target_load(const struct yb_cmd *cmd, const char *config, const char *runbook,
		       const char *step, const char *host, struct backup_target *t)
{
	memset(t, 0, sizeof(*t));
	if (looks_like_file(runbook)) {
		int status = rb_cli_load_one(config, runbook, &t->set, &t->rb);
		if (status)
			return status;
	} else {
		char *config_path = NULL;
		struct yb_err err = { 0 };
		if (rb_config_find(config, NULL, &config_path, &err) < 0) {
			cli_error("%s", err.msg);
			return YB_EXIT_USAGE;
		}
		struct rb_diags diags;
		rb_diags_init(&diags);
		struct rb_load_opts lo = { .config_path = config_path };
		int rc = rb_set_load(&lo, &t->set, &diags);
		free(config_path);
		if (rc < 0) {
			rb_diags_print(&diags, stderr);
			rb_diags_release(&diags);
			return YB_EXIT_FAIL;
		}
		rb_diags_release(&diags);
		if (!(t->rb = rb_set_runbook(t->set, runbook))) {
			cli_error("no runbook '%s' in the site's runbooks (give its name or its file)",
				  runbook);
			return YB_EXIT_FAIL;
		}
	}
	t->steps = xcalloc(t->rb->n_steps + 1, sizeof(*t->steps));
	for (size_t i = 0; i < t->rb->n_steps; i++) {
		const struct rb_step *s = &t->rb->steps[i];
		if (s->kind == RB_STEP_BACKUP && (!step || !strcmp(s->name, step)))
			t->steps[t->n_steps++] = s;
	}
	if (!t->n_steps) {
		if (step)
			cli_error("runbook '%s' has no backup step '%s'", t->rb->name, step);
		else
			cli_error("runbook '%s' has no backup step", t->rb->name);
		return YB_EXIT_FAIL;
	}
	if (host) {
		t->host = host;
	} else if (t->rb->n_hosts == 1) {
		t->host = t->rb->hosts[0];
	} else {
		cli_usage_error(cmd, "runbook '%s' targets %zu hosts: say which with --host NAME",
				t->rb->name, t->rb->n_hosts);
		return YB_EXIT_USAGE;
	}
	return 0;
}

void backup_target_release(struct backup_target *t)
{
	free(t->steps);
	rb_set_free(t->set);
	memset(t, 0, sizeof(*t));
}

int backup_run_step(const char *config, const char *host, const char *job_id, bool keep,
		    const char *kind, const struct yb_json *spec, const char *const *env)
{
	char *spec_text = yb_json_dump(spec, 0);
	const char *argv[64];
	int n = 0;
	argv[n++] = "exec";
	if (config) {
		argv[n++] = "--config";
		argv[n++] = config;
	}
	argv[n++] = "--host";
	argv[n++] = host;
	if (job_id) {
		argv[n++] = "--job-id";
		argv[n++] = job_id;
	}
	if (keep)
		argv[n++] = "--keep";
	for (size_t i = 0; env && env[i] && n < 50; i++) {
		argv[n++] = "--env";
		argv[n++] = env[i];
	}
	argv[n++] = "--";
	argv[n++] = "yoban-runner";
	argv[n++] = "step";
	argv[n++] = kind;
	argv[n++] = "--spec";
	argv[n++] = spec_text;
	argv[n] = NULL;
	int status = cmd_exec.run(n, (char **)argv);
	free(spec_text);
	return status;
}

enum { OPT_CONFIG = 1, OPT_HOST, OPT_STEP, OPT_FORMAT };

static int backups_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "host", required_argument, NULL, OPT_HOST },
		{ "step", required_argument, NULL, OPT_STEP },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *host = NULL, *step = NULL;
	bool json = false;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG: config = optarg; break;
		case OPT_HOST: host = optarg; break;
		case OPT_STEP: step = optarg; break;
		case OPT_FORMAT:
			if (cli_parse_format(&cmd_backups, optarg, &json))
				return YB_EXIT_USAGE;
			break;
		default:
			return cli_usage_error(&cmd_backups, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error(&cmd_backups, "give one RUNBOOK (a name or a file)");
	struct backup_target t;
	int status = backup_target_load(&cmd_backups, config, argv[optind], step, host, &t);
	if (status == 0) {
		struct yb_json *spec = yb_json_object(), *repos = yb_json_array();
		for (size_t i = 0; i < t.n_steps; i++) {
			struct yb_json *r = yb_json_object();
			yb_json_set(r, "path", yb_json_str(t.steps[i]->backup.repository));
			yb_json_set(r, "step", yb_json_str(t.steps[i]->name));
			yb_json_push(repos, r);
		}
		yb_json_set(spec, "repositories", repos);
		yb_json_set(spec, "format", yb_json_str(json ? "json" : "text"));
		status = backup_run_step(config, t.host, NULL, false, "list", spec, NULL);
		yb_json_free(spec);
	}
	backup_target_release(&t);
	return status;
}

const struct yb_cmd cmd_backups = {
	.name = "backups",
	.summary = "list a backup runbook's generations (0 is the newest)",
	.help =
		"usage: yoban backups [--config FILE] [--host NAME] [--step NAME] [--format json]\n"
		"                     RUNBOOK\n"
		"\n"
		"Lists the generations in the repositories of RUNBOOK's backup steps (RUNBOOK is a\n"
		"runbook's name or file), newest first, numbered 0, 1, 2 ... as `yoban restore\n"
		"--generation N` takes them: when each was made, its size stored and uncompressed,\n"
		"its number of entries, its manifest's SHA-256 and its last verification.\n"
		"\n"
		"The repositories are read on the runbook's target host, by a short job through that\n"
		"host's runner (as `yoban exec` runs one).\n"
		"\n"
		"  --host NAME     the host holding the repositories (default: the runbook's only\n"
		"                  target host)\n"
		"  --step NAME     only this backup step's repository\n"
		"  --format json   one JSON document: {\"repositories\": [{\"path\", \"step\",\n"
		"                  \"generations\": [...]}]}\n",
	.run = backups_run,
};
