/*
 * cmd_restore.c: `yoban restore RUNBOOK --generation N --to DIR [--host NAME]`: one generation of
 * a runbook's backup, restored on the host that holds the repository, into an empty or new
 * folder, as a job through the runner; waits for it and exits with its status.
 *
 * The record: the job is kept in the runner's journal (not forgotten after its exit) with its
 * spec (what: runbook, step, repository, generation; where: the folder), who asked
 * (YOBAN_REQUESTED_BY, the login name) and when it started and ended; its last output line is
 * the restore's evidence (the manifest digest, the entries, "verified": every entry matched).
 * When the database can be reached, the restore is also recorded there afterwards
 * (yoban_record_restore: backup_evidence and audit, as the operator's own role); when it cannot
 * (a restore is what one does when things are down), it says so and the journal is the record.
 */
#include "cli_backup.h"
#include "cmd_db_common.h"

#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern const struct yb_cmd cmd_restore;

enum { OPT_CONFIG = 1, OPT_HOST, OPT_STEP, OPT_GENERATION, OPT_TO };

static void record(const char *config, const struct rb_runbook *rb, const struct rb_step *s,
		   const char *host, long generation, const char *to, const char *job, int status,
		   int64_t started_us)
{
	struct db_conn *c = NULL;
	struct db_result *r = NULL;
	char gen[24], when[40], code[16];
	snprintf(gen, sizeof(gen), "%ld", generation);
	snprintf(code, sizeof(code), "%d", status);
	snprintf(when, sizeof(when), "%lld", (long long)started_us);
	char *err_text = status ? xasprintf("the restore job exited %d", status) : NULL;
	char *detail = xasprintf("{\"exit_status\": %s, \"started_us\": %s}", code, when);
	const char *params[] = { rb->name, s->name, host, s->backup.repository, gen, to, job,
				 status == 0 ? "true" : "false", err_text, detail };
	fflush(stderr);
	if (opdb_open(config, &c) == 0 &&
	    opdb_query(c, "SELECT yoban.yoban_record_restore($1, $2, $3, $4, $5::integer, $6, $7, "
			  "$8::boolean, $9, $10::jsonb)", 10, params, &r, "yoban_operator") == 0)
		fprintf(stderr, "yoban: the restore is recorded in the database (job '%s')\n", job);
	else
		fprintf(stderr, "yoban: warning: the restore could not be recorded in the database; "
			"the runner's journal of job '%s' on '%s' is its record\n", job, host);
	db_result_free(r);
	db_close(c);
	free(err_text);
	free(detail);
}

static int restore_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "host", required_argument, NULL, OPT_HOST },
		{ "step", required_argument, NULL, OPT_STEP },
		{ "generation", required_argument, NULL, OPT_GENERATION },
		{ "to", required_argument, NULL, OPT_TO },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *host = NULL, *step = NULL, *to = NULL;
	long generation = -1;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG: config = optarg; break;
		case OPT_HOST: host = optarg; break;
		case OPT_STEP: step = optarg; break;
		case OPT_TO: to = optarg; break;
		case OPT_GENERATION: {
			char *end;
			generation = strtol(optarg, &end, 10);
			if (!*optarg || *end || generation < 0 || generation > 100000)
				return cli_usage_error(&cmd_restore, "--generation '%s': a number, 0 for "
						       "the newest (see yoban backups)", optarg);
			break;
		}
		default:
			return cli_usage_error(&cmd_restore, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error(&cmd_restore, "give one RUNBOOK (a name or a file)");
	if (generation < 0)
		return cli_usage_error(&cmd_restore, "which generation? give --generation N (0 is the "
				       "newest; see yoban backups)");
	if (!to || to[0] != '/')
		return cli_usage_error(&cmd_restore, "where to? give --to DIR, an absolute path of an "
				       "empty or new folder on the host");
	struct backup_target t;
	int status = backup_target_load(&cmd_restore, config, argv[optind], step, host, &t);
	if (status == 0 && t.n_steps > 1) {
		status = cli_usage_error(&cmd_restore, "runbook '%s' has %zu backup steps: say which "
					 "with --step NAME", t.rb->name, t.n_steps);
	} else if (status == 0) {
		const struct rb_step *s = t.steps[0];
		struct yb_json *spec = yb_json_object();
		yb_json_set(spec, "runbook", yb_json_str(t.rb->name));
		yb_json_set(spec, "step", yb_json_str(s->name));
		yb_json_set(spec, "repository", yb_json_str(s->backup.repository));
		yb_json_set(spec, "generation", yb_json_int(generation));
		yb_json_set(spec, "to", yb_json_str(to));
		yb_json_set(spec, "progress", yb_json_bool(isatty(2)));
		struct passwd *pw = getpwuid(getuid());
		char *who = xasprintf("YOBAN_REQUESTED_BY=%s", pw ? pw->pw_name : "unknown");
		const char *env[] = { who, NULL };
		char job[64], rnd_hex[9];
		unsigned char rnd[4];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		yb_random_bytes(rnd, sizeof(rnd));
		yb_hex(rnd, sizeof(rnd), rnd_hex);
		snprintf(job, sizeof(job), "restore-%04d%02d%02dT%02d%02d%02d-%s", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rnd_hex);
		fprintf(stderr, "yoban: restoring generation %ld of '%s' (step '%s') into '%s' on '%s' "
			"as job '%s'\n", generation, t.rb->name, s->name, to, t.host, job);
		int64_t started_us = yb_wall_us();
		status = backup_run_step(config, t.host, job, true, "restore", spec, env);
		record(config, t.rb, s, t.host, generation, to, job, status, started_us);
		free(who);
		yb_json_free(spec);
	}
	backup_target_release(&t);
	return status;
}

const struct yb_cmd cmd_restore = {
	.name = "restore",
	.summary = "restore one backup generation into an empty folder, as an audited job",
	.help =
		"usage: yoban restore [--config FILE] [--host NAME] [--step NAME] --generation N\n"
		"                     --to DIR RUNBOOK\n"
		"\n"
		"Restores generation N (0 is the newest; see `yoban backups`) of RUNBOOK's backup on\n"
		"the host that holds the repository, into DIR there: an empty or new folder (its\n"
		"parent must exist). It runs as a job through the host's runner, waits for it, and\n"
		"exits with its status (0: every entry restored and matching the manifest).\n"
		"\n"
		"Extraction is safe: only tar is read; an absolute name, '..', a name under a link,\n"
		"a device or a FIFO refuses the whole restore. A folder backup comes back as its\n"
		"tree (modes, mtimes, links; owners when the runner is root), a command's backup as\n"
		"one file, DIR/dump.\n"
		"\n"
		"The job stays in the runner's journal after it ends (who asked: YOBAN_REQUESTED_BY,\n"
		"what, where, when; its last line is the evidence).\n"
		"\n"
		"  --host NAME   the host holding the repository (default: the runbook's only host)\n"
		"  --step NAME   the backup step, when the runbook has several\n",
	.run = restore_run,
};
