/*
 * cmd_artifact.c: `yoban artifact RUN STEP NAME [-o FILE]`: the bytes of one piece of evidence a
 * step left (a data patch's "before" or "after" result set, CSV), exactly as stored.
 *
 * The digest is checked here again before a byte is written: what comes out is what the step
 * sent, or nothing and an error. The job is the step's last attempt on its host; a step that ran
 * on several hosts needs --host.
 */
#include "cmd_db_common.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"

extern const struct yb_cmd cmd_artifact;

static const char artifact_sql[] =
	"SELECT j.host, j.attempt, a.content, a.sha256, a.rows, a.bytes"
	" FROM yoban.artifacts a JOIN yoban.jobs j ON j.id = a.job_id"
	" WHERE j.run_id = $1::bigint AND j.step = $2 AND a.name = $3"
	" AND ($4::text IS NULL OR j.host = $4)"
	" ORDER BY j.attempt DESC, j.id DESC";

static const char names_sql[] =
	"SELECT string_agg(DISTINCT j.step || ' ' || a.name, ', ')"
	" FROM yoban.artifacts a JOIN yoban.jobs j ON j.id = a.job_id WHERE j.run_id = $1::bigint";

static int write_out(const char *file, const unsigned char *data, size_t len)
{
	struct yb_err err = { 0 };
	if (file && strcmp(file, "-")) {
		if (yb_write_file_atomic(file, data, len, 0600, &err) < 0) {
			cli_error("%s", err.msg);
			return YB_EXIT_FAIL;
		}
		return YB_EXIT_OK;
	}
	if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
		cli_error("cannot write the artifact to standard output");
		return YB_EXIT_FAIL;
	}
	return YB_EXIT_OK;
}

/* The last attempt's artifact, unless two hosts ran the step and none was named. */
static int pick(const struct db_result *r, const char *host, int *row)
{
	const char *first = db_result_get(r, 0, 0);
	for (int i = 1; !host && i < db_result_rows(r); i++)
		if (strcmp(db_result_get(r, i, 0), first)) {
			cli_error("the step ran on more than one host ('%s', '%s'): name one with --host",
				  first, db_result_get(r, i, 0));
			return YB_EXIT_USAGE;
		}
	*row = 0;
	return YB_EXIT_OK;
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'C' }, { "output", required_argument, NULL, 'o' },
		{ "host", required_argument, NULL, 'H' }, { NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *file = NULL, *host = NULL;
	char run_id[24];
	int status, opt, row = 0;
	struct db_conn *c = NULL;
	struct db_result *r = NULL;
	unsigned char *data = NULL;
	size_t len = 0;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'C': config = optarg; break;
		case 'o': file = optarg; break;
		case 'H': host = optarg; break;
		default:
			return cli_usage_error(&cmd_artifact, "unknown option or missing value '%s'",
					       argv[optind - 1]);
		}
	}
	if (argc - optind != 3)
		return cli_usage_error(&cmd_artifact, "give RUN, STEP and NAME (e.g. 12 fix-address-code "
				       "before)");
	if ((status = opdb_parse_run_id(&cmd_artifact, argv[optind], run_id, sizeof(run_id))) != 0)
		return status;
	const char *step = argv[optind + 1], *name = argv[optind + 2];
	if ((status = opdb_open(config, &c)) != 0)
		return status;
	const char *p[] = { run_id, step, name, host };
	if ((status = opdb_query(c, artifact_sql, 4, p, &r, "yoban_reviewer")) != 0)
		goto out;
	if (db_result_rows(r) == 0) {
		char *have = NULL;
		struct yb_err err = { 0 };
		db_query_value(c, names_sql, 1, p, &have, &err);
		cli_error("run %s has no artifact '%s' of step '%s'%s%s%s (see 'yoban show %s')", run_id,
			  name, step, host ? " on host '" : "", host ? host : "", host ? "'" : "", run_id);
		if (have)
			fprintf(stderr, "  its artifacts (step name): %s\n", have);
		free(have);
		status = YB_EXIT_FAIL;
		goto out;
	}
	if ((status = pick(r, host, &row)) != 0)
		goto out;
	struct yb_err err = { 0 };
	if (db_result_bytes(r, row, 2, &data, &len, &err) < 0) {
		cli_error("artifact '%s' of step '%s': %s", name, step, err.msg);
		status = YB_EXIT_FAIL;
		goto out;
	}
	char hex[YB_SHA256_HEX_LEN];
	yb_sha256_hex(data, len, hex);
	if (strcmp(hex, db_result_get(r, row, 3))) {
		cli_error("artifact '%s' of step '%s' does not match its recorded SHA-256 (%s, stored "
			  "bytes hash to %s): not written", name, step, db_result_get(r, row, 3), hex);
		status = YB_EXIT_FAIL;
		goto out;
	}
	status = write_out(file, data, len);
	if (status == YB_EXIT_OK && file && strcmp(file, "-"))
		fprintf(stderr, "wrote %s: %zu bytes, %s rows, sha256 %s\n", file, len,
			db_result_get(r, row, 4) ? db_result_get(r, row, 4) : "-", hex);
out:
	free(data);
	db_result_free(r);
	db_close(c);
	return status;
}

const struct yb_cmd cmd_artifact = {
	.name = "artifact",
	.summary = "the bytes of a step's evidence (a data patch's before/after result set, CSV)",
	.help =
		"usage: yoban artifact RUN STEP NAME [-o FILE] [--host HOST] [--config FILE]\n"
		"\n"
		"Writes artifact NAME of step STEP in run RUN, exactly as stored, to standard output or\n"
		"FILE. A data patch (an sql step) leaves \"before\" and \"after\": its queries' result\n"
		"sets as CSV (RFC 4180: a header of column names, CRLF after each record, SQL NULL as an\n"
		"empty field and the empty string as \"\"). The bytes are checked against the recorded\n"
		"SHA-256 first ('yoban show RUN' lists each artifact with its rows, size and digest).\n"
		"The step's last attempt is taken; a step that ran on several hosts needs --host.\n"
		"Needs read access (yoban_reviewer, yoban_operator, yoban_approver or yoban_admin).\n"
		"\n"
		"  -o, --output FILE  write to FILE (atomically, mode 0600) instead of standard output\n"
		"  --host HOST        the host whose job to take\n"
		"  --config FILE      the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"\n"
		"Exit status: 0 written, 1 no such artifact, a digest mismatch or not allowed, 2 usage\n"
		"error.\n",
	.run = run,
};
