/*
 * cmd_show.c: `yoban show RUN`: one run in full: the run row, the revision of the runbook it ran
 * (digest), its jobs (a step on a host, one attempt each) with exits, times, byte counts and
 * output digests, what the runner killed or found still running (evidence), whether a lost job
 * still holds the run's slot and how to release it, the evidence its data patches left (the
 * outcome of each sql step's transaction, its before/after result sets with rows, bytes and
 * SHA-256; `yoban artifact` gives the bytes), its state history, and its approval record and
 * gate decisions (cli_approvals.c).
 *
 * Three SELECTs read in one REPEATABLE READ transaction, so the run, its jobs and its history are
 * one consistent picture even while yoband writes.
 */
#include "cli_approvals.h"
#include "cmd_db_common.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct yb_cmd cmd_show;

static const char run_sql[] =
	"SELECT r.id, r.runbook, r.mode::text AS mode, r.trigger::text AS trigger,"
	" r.state::text AS state, r.requested_by, r.request_id, r.rerun_of, r.rerun_from_step,"
	" r.params::text AS params, r.reason,"
	" to_json(r.scheduled_for) #>> '{}' AS scheduled_for,"
	" to_json(r.created_at) #>> '{}' AS created_at,"
	" to_json(r.started_at) #>> '{}' AS started_at, to_json(r.ended_at) #>> '{}' AS ended_at,"
	" extract(epoch FROM coalesce(r.ended_at, now()) - r.started_at)::float8 AS duration_seconds,"
	" r.revision_id, v.sha256 AS revision_sha256, to_json(v.loaded_at) #>> '{}' AS revision_loaded_at"
	" FROM yoban.runs r LEFT JOIN yoban.runbook_revisions v ON v.id = r.revision_id"
	" WHERE r.id = $1::bigint";

static const char jobs_sql[] =
	"SELECT j.id, j.step, j.step_index, j.host, j.attempt, j.state::text AS state,"
	" j.exit_status, j.exit_signal, j.error,"
	" to_json(j.started_at) #>> '{}' AS started_at, to_json(j.ended_at) #>> '{}' AS ended_at,"
	" extract(epoch FROM coalesce(j.ended_at, now()) - j.started_at)::float8 AS duration_seconds,"
	" j.stdout_bytes, j.stderr_bytes, j.dropped_bytes, j.stdout_sha256, j.stderr_sha256,"
	" j.user_cpu_us, j.sys_cpu_us, j.max_rss_kb, j.runner_job_id, j.spec_sha256,"
	" j.evidence::text AS evidence, j.holds_slot, to_json(j.released_at) #>> '{}' AS released_at,"
	" j.released_by, j.release_comment"
	" FROM yoban.jobs j WHERE j.run_id = $1::bigint"
	" ORDER BY j.step_index, j.attempt, j.host, j.id";

static const char artifacts_sql[] =
	"SELECT a.job_id, j.step, a.name, a.rows, a.bytes, a.sha256"
	" FROM yoban.artifacts a JOIN yoban.jobs j ON j.id = a.job_id WHERE j.run_id = $1::bigint"
	" ORDER BY a.job_id, a.name <> 'before', a.name";

static const char patches_sql[] =
	"SELECT s.job_id, j.step, s.outcome, s.txid, s.patch_rows, s.expect_rows, s.settled, s.message"
	" FROM yoban.sql_results s JOIN yoban.jobs j ON j.id = s.job_id WHERE j.run_id = $1::bigint"
	" ORDER BY s.job_id";

static const char transitions_sql[] =
	"SELECT t.from_state::text AS from_state, t.to_state::text AS to_state, t.reason,"
	" to_json(t.at) #>> '{}' AS at, t.by_user"
	" FROM yoban.run_transitions t WHERE t.run_id = $1::bigint ORDER BY t.id";

static const char *col(const struct db_result *r, int row, const char *name)
{
	int i = db_result_col(r, name);
	BUG_ON(i < 0);
	return db_result_get(r, row, i);
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

/* "sleep (pid 4242), sh (pid 4241)" from [{"pid","comm"}]. */
static void print_pids(const struct yb_json *list)
{
	size_t n = list ? yb_json_len(list) : 0;
	for (size_t i = 0; i < n; i++) {
		const struct yb_json *p = yb_json_at(list, i);
		const char *comm = yb_json_get_str(p, "comm");
		printf("%s%s (pid %lld)", i ? ", " : "", comm ? comm : "?",
		       (long long)yb_json_get_int(p, "pid", 0));
	}
}

/* What the runner killed and what it found still running, from the job's evidence. */
static void print_evidence(const char *text)
{
	struct yb_json *e = NULL;
	if (!text || yb_json_parse(text, strlen(text), &e, NULL) < 0)
		return;
	const struct yb_json *ex = yb_json_get(e, "exit"), *cancel = yb_json_get(e, "cancel");
	int64_t killed = ex ? yb_json_get_int(ex, "killed_count", 0) : 0;
	if (killed > 0) {
		printf("         killed %lld process%s to end it: ", (long long)killed, killed == 1 ? "" : "es");
		print_pids(yb_json_get(ex, "killed"));
		printf("\n");
	}
	if (cancel && yb_json_get_int(cancel, "killed", 0) > 0)
		printf("         cancel killed %lld leftover process%s\n",
		       (long long)yb_json_get_int(cancel, "killed", 0),
		       yb_json_get_int(cancel, "killed", 0) == 1 ? "" : "es");
	static const char *const whens[] = { "released", "probe", "attach", "exit" };
	for (size_t i = 0; i < YB_ARRAY_LEN(whens); i++) {
		const struct yb_json *w = yb_json_get(e, whens[i]);
		int64_t left = w ? yb_json_get_int(w, "processes", -1) : -1;
		if (left < 0)
			continue;
		printf("         the runner last found %lld process%s of it running%s", (long long)left,
		       left == 1 ? "" : "es", left ? ": " : "");
		print_pids(yb_json_get(w, "pids"));
		printf("\n");
		break;
	}
	char *compact = yb_json_dump(e, 0);
	printf("         evidence %s\n", compact);
	free(compact);
	yb_json_free(e);
}

/* Under job row i: what its data patch did and the evidence it left. */
static void print_patch_evidence(const struct db_result *jobs, int i, const struct db_result *arts,
				 const struct db_result *patches)
{
	const char *id = col(jobs, i, "id");
	for (int k = 0; patches && k < db_result_rows(patches); k++) {
		if (strcmp(col(patches, k, "job_id"), id))
			continue;
		const char *rows = or_dash(col(patches, k, "patch_rows"));
		bool settled = !strcmp(or_dash(col(patches, k, "settled")), "t");
		printf("         data patch: %s%s, transaction %s, %s row%s patched (expect_rows %s)\n",
		       col(patches, k, "outcome"), settled ? " (settled from the target's record)" : "",
		       or_dash(col(patches, k, "txid")), rows, strcmp(rows, "1") ? "s" : "",
		       or_dash(col(patches, k, "expect_rows")));
	}
	for (int k = 0; arts && k < db_result_rows(arts); k++) {
		if (strcmp(col(arts, k, "job_id"), id))
			continue;
		printf("         artifact %-8s %s rows, %s bytes, sha256 %s\n", col(arts, k, "name"),
		       or_dash(col(arts, k, "rows")), col(arts, k, "bytes"), col(arts, k, "sha256"));
	}
}

static void print_text(const struct db_result *run, const struct db_result *jobs,
		       const struct db_result *hist, const struct db_result *arts,
		       const struct db_result *patches)
{
	char t1[32], t2[32], t3[32], dur[32];
	printf("run %s  %s  %s\n", col(run, 0, "id"), col(run, 0, "runbook"), col(run, 0, "state"));
	printf("  mode        %s\n", col(run, 0, "mode"));
	printf("  trigger     %s", col(run, 0, "trigger"));
	if (col(run, 0, "rerun_of"))
		printf(" of run %s%s%s", col(run, 0, "rerun_of"),
		       col(run, 0, "rerun_from_step") ? " from step " : "",
		       col(run, 0, "rerun_from_step") ? col(run, 0, "rerun_from_step") : "");
	printf("\n  requested   by %s%s%s\n", col(run, 0, "requested_by"),
	       col(run, 0, "request_id") ? ", request " : "",
	       col(run, 0, "request_id") ? col(run, 0, "request_id") : "");
	opdb_format_time(col(run, 0, "scheduled_for"), t1, sizeof(t1));
	opdb_format_time(col(run, 0, "started_at"), t2, sizeof(t2));
	opdb_format_time(col(run, 0, "ended_at"), t3, sizeof(t3));
	opdb_format_seconds(col(run, 0, "duration_seconds"), dur, sizeof(dur));
	printf("  scheduled   %s\n  started     %s\n  ended       %s\n  duration    %s\n", t1, t2,
	       t3, dur);
	printf("  params      %s\n", col(run, 0, "params"));
	if (col(run, 0, "reason"))
		printf("  reason      %s\n", col(run, 0, "reason"));
	if (col(run, 0, "revision_id")) {
		opdb_format_time(col(run, 0, "revision_loaded_at"), t1, sizeof(t1));
		printf("  revision    %s  sha256 %s  (loaded %s)\n", col(run, 0, "revision_id"),
		       or_dash(col(run, 0, "revision_sha256")), t1);
	} else {
		printf("  revision    -\n");
	}
	for (int i = 0; i < db_result_rows(jobs); i++) {
		if (!col(jobs, i, "holds_slot") || col(jobs, i, "holds_slot")[0] != 't')
			continue;
		printf("  slot        HELD: the run is lost, but processes of job %s may still run on\n"
		       "              host '%s': the runbook's concurrency slot and its locks stay taken\n"
		       "              until the runner finds nothing of it left (yoband asks every few\n"
		       "              seconds); free them by hand with 'yoban release %s --comment WHY'\n",
		       col(jobs, i, "id"), col(jobs, i, "host"), col(run, 0, "id"));
		break;
	}

	printf("\njobs\n");
	if (db_result_rows(jobs) == 0)
		printf("  (none yet)\n");
	else
		printf("  %-6s %-24s %-16s %-3s %-10s %-6s %-19s %-9s %-8s %s\n", "JOB", "STEP",
		       "HOST", "TRY", "STATE", "EXIT", "STARTED", "DURATION", "STDOUT", "STDERR");
	for (int i = 0; i < db_result_rows(jobs); i++) {
		char exit_text[32], out_b[16], err_b[16];
		const char *st = col(jobs, i, "exit_status"), *sig = col(jobs, i, "exit_signal");
		if (sig)
			snprintf(exit_text, sizeof(exit_text), "sig%s", sig);
		else
			snprintf(exit_text, sizeof(exit_text), "%s", or_dash(st));
		opdb_format_time(col(jobs, i, "started_at"), t1, sizeof(t1));
		opdb_format_seconds(col(jobs, i, "duration_seconds"), dur, sizeof(dur));
		opdb_format_bytes(col(jobs, i, "stdout_bytes"), out_b, sizeof(out_b));
		opdb_format_bytes(col(jobs, i, "stderr_bytes"), err_b, sizeof(err_b));
		printf("  %-6s %-24s %-16s %-3s %-10s %-6s %-19s %-9s %-8s %s\n", col(jobs, i, "id"),
		       col(jobs, i, "step"), col(jobs, i, "host"), col(jobs, i, "attempt"),
		       col(jobs, i, "state"), exit_text, t1, dur, out_b, err_b);
		if (col(jobs, i, "error"))
			printf("         error: %s\n", col(jobs, i, "error"));
		if (col(jobs, i, "stdout_sha256"))
			printf("         stdout sha256 %s\n", col(jobs, i, "stdout_sha256"));
		if (col(jobs, i, "stderr_sha256"))
			printf("         stderr sha256 %s\n", col(jobs, i, "stderr_sha256"));
		const char *dropped = col(jobs, i, "dropped_bytes");
		if (dropped && strcmp(dropped, "0"))
			printf("         %s bytes of output dropped (over the cap)\n", dropped);
		print_evidence(col(jobs, i, "evidence"));
		if (col(jobs, i, "holds_slot")[0] == 't')
			printf("         holds the run's slot and locks (lost, processes may still run)\n");
		if (col(jobs, i, "released_by")) {
			opdb_format_time(col(jobs, i, "released_at"), t1, sizeof(t1));
			printf("         slot released %s by %s%s%s\n", t1, col(jobs, i, "released_by"),
			       col(jobs, i, "release_comment") ? ": " : "",
			       col(jobs, i, "release_comment") ? col(jobs, i, "release_comment") : "");
		}
		print_patch_evidence(jobs, i, arts, patches);
	}

	printf("\nhistory\n");
	for (int i = 0; i < db_result_rows(hist); i++) {
		opdb_format_time(col(hist, i, "at"), t1, sizeof(t1));
		printf("  %s  %-10s -> %-10s by %s%s%s\n", t1, or_dash(col(hist, i, "from_state")),
		       col(hist, i, "to_state"), col(hist, i, "by_user"),
		       col(hist, i, "reason") ? ": " : "", col(hist, i, "reason") ? col(hist, i, "reason") : "");
	}
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'C' }, { "format", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	bool json = false;
	char run_id[24];
	int status, opt;
	struct db_conn *c = NULL;
	struct db_result *run_r = NULL, *jobs = NULL, *hist = NULL, *arts = NULL, *patches = NULL;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'C': config = optarg; break;
		case 'F':
			if (cli_parse_format(&cmd_show, optarg, &json) != 0)
				return YB_EXIT_USAGE;
			break;
		default:
			return cli_usage_error(&cmd_show, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(&cmd_show, "give one RUN id");
	if ((status = opdb_parse_run_id(&cmd_show, argv[optind], run_id, sizeof(run_id))) != 0)
		return status;
	if ((status = opdb_open(config, &c)) != 0)
		return status;
	const char *p[] = { run_id };
	if ((status = opdb_query(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, NULL,
				 NULL)) != 0 ||
	    (status = opdb_query(c, run_sql, 1, p, &run_r, "yoban_reviewer")) != 0)
		goto out;
	if (db_result_rows(run_r) == 0) {
		cli_error("no run %s (see 'yoban runs' for the run ids)", run_id);
		status = YB_EXIT_FAIL;
		goto out;
	}
	if ((status = opdb_query(c, jobs_sql, 1, p, &jobs, "yoban_reviewer")) != 0 ||
	    (status = opdb_query(c, transitions_sql, 1, p, &hist, "yoban_reviewer")) != 0 ||
	    (status = opdb_query(c, artifacts_sql, 1, p, &arts, "yoban_reviewer")) != 0 ||
	    (status = opdb_query(c, patches_sql, 1, p, &patches, "yoban_reviewer")) != 0)
		goto out;
	if (json) {
		struct yb_json *o = opdb_row_json(run_r, 0);
		struct yb_json *arr = yb_json_array();
		for (int i = 0; i < db_result_rows(jobs); i++) {
			struct yb_json *jo = opdb_row_json(jobs, i), *ev = NULL;
			const char *text = col(jobs, i, "evidence");
			if (text && yb_json_parse(text, strlen(text), &ev, NULL) == 0)
				yb_json_set(jo, "evidence", ev);
			yb_json_set(jo, "holds_slot", yb_json_bool(col(jobs, i, "holds_slot")[0] == 't'));
			yb_json_push(arr, jo);
		}
		yb_json_set(o, "jobs", arr);
		arr = yb_json_array();
		for (int i = 0; i < db_result_rows(hist); i++)
			yb_json_push(arr, opdb_row_json(hist, i));
		yb_json_set(o, "history", arr);
		arr = yb_json_array();
		for (int i = 0; i < db_result_rows(arts); i++)
			yb_json_push(arr, opdb_row_json(arts, i));
		yb_json_set(o, "artifacts", arr);
		arr = yb_json_array();
		for (int i = 0; i < db_result_rows(patches); i++)
			yb_json_push(arr, opdb_row_json(patches, i));
		yb_json_set(o, "data_patches", arr);
		if ((status = cli_show_approvals(c, run_id, o)) != 0) {
			yb_json_free(o);
			goto out;
		}
		yb_json_print(o, YB_JSON_PRETTY);
		yb_json_free(o);
	} else {
		print_text(run_r, jobs, hist, arts, patches);
		status = cli_show_approvals(c, run_id, NULL);
	}
out:
	db_result_free(run_r);
	db_result_free(jobs);
	db_result_free(hist);
	db_result_free(arts);
	db_result_free(patches);
	db_close(c);
	return status;
}

const struct yb_cmd cmd_show = {
	.name = "show",
	.summary = "one run in full: revision, jobs, exits, output sizes and digests, history",
	.help =
		"usage: yoban show RUN [--config FILE] [--format text|json]\n"
		"\n"
		"Shows run RUN: its runbook, mode, trigger, who asked for it, when it was scheduled,\n"
		"started and ended, its parameters, the revision of the runbook it ran (the SHA-256 of\n"
		"the file), then each job (one step on one host, one attempt): state, exit status or\n"
		"signal, start time, duration, bytes of stdout and stderr with their SHA-256, what each\n"
		"data patch (sql step) did (committed or rolled back, its transaction, rows patched)\n"
		"and its evidence (the before and after result sets: rows, bytes, SHA-256; the bytes\n"
		"with 'yoban artifact'), and the run's state history (who moved it, when, why).\n"
		"Needs read access (yoban_reviewer, yoban_operator, yoban_approver or yoban_admin).\n"
		"\n"
		"  --config FILE  the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"  --format json  one object: the run's columns, \"jobs\", \"history\", \"artifacts\"\n"
		"                 and \"data_patches\" (arrays)\n"
		"\n"
		"Exit status: 0 shown, 1 no such run or not allowed, 2 usage error.\n",
	.run = run,
};
