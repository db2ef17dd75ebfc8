/*
 * cmd_reload.c: `yoban reload`: asks the leading yoband to read its runbooks, site config,
 * inventory and calendars again.
 *
 * One idea: the request goes through the database like every operator request (yoban_reload()
 * writes a request row, an audit row naming the caller, and NOTIFYs yoban_requests), so it works
 * from any host, is authorised by PostgreSQL roles, and reaches whichever yoband leads now. And
 * what the command reports is what that yoband found in ITS files, not in copies this host may
 * have: while handling the request, yoband writes each file that does not validate into the audit
 * table (`reload:invalid` for the site config, inventory or calendars, `runbook:invalid` for a
 * runbook file, with every diagnostic's file, line and column), and its answer lists the runbooks
 * that keep an older revision. The command reads both and prints the diagnostics the way
 * `yoban validate` does; any of them makes the exit status 1.
 */
#include "cli_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct yb_cmd cmd_reload;

/* Prints s on f with control characters escaped (\xNN): a YAML file's bytes reach a terminal. */
static void put_escaped(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
}

static void print_diag(const struct yb_json *d)
{
	int64_t line = yb_json_get_int(d, "line", 0), col = yb_json_get_int(d, "column", 0);
	const char *sev = yb_json_get_str(d, "severity");
	put_escaped(stderr, yb_json_get_str(d, "file") ? yb_json_get_str(d, "file") : "?");
	if (line > 0)
		fprintf(stderr, ":%lld:%lld", (long long)line, (long long)col);
	fprintf(stderr, ": %s: ", sev ? sev : "error");
	put_escaped(stderr, yb_json_get_str(d, "message"));
	fputc('\n', stderr);
}

/* The files yoband found invalid while it handled this request: the audit rows it wrote with
 * this request's id (a SIGHUP reload at the same moment writes rows without one). */
static int read_invalid(struct db_conn *c, const char *request_id, struct yb_json *diags,
			bool *site_invalid, size_t *n_files)
{
	static const char sql[] =
		"SELECT a.action, a.detail::text FROM yoban.audit a"
		" WHERE a.request_id = $1::bigint AND a.action IN ('reload:invalid', 'runbook:invalid')"
		" ORDER BY a.id";
	const char *p[] = { request_id };
	struct db_result *r = NULL;
	if (opdb_query(c, sql, 1, p, &r, "yoban_reviewer") != 0)
		return YB_EXIT_FAIL;
	for (int i = 0; i < db_result_rows(r); i++) {
		struct yb_json *detail = NULL;
		const char *text = db_result_get(r, i, 1);
		if (!strcmp(db_result_get(r, i, 0), "reload:invalid"))
			*site_invalid = true;
		(*n_files)++;
		if (!text || yb_json_parse(text, strlen(text), &detail, NULL) < 0)
			continue;
		struct yb_json *errors = yb_json_get(detail, "errors");
		for (size_t k = 0; errors && k < yb_json_len(errors); k++)
			yb_json_push(diags, yb_json_ref(yb_json_at(errors, k)));
		yb_json_free(detail);
	}
	db_result_free(r);
	return 0;
}

static int answered(struct db_conn *c, const char *request_id,
		    const struct opdb_request_outcome *out, struct yb_json *json, void *ctx)
{
	struct yb_json *result = NULL, *diags = yb_json_array();
	bool site_invalid = false;
	size_t n_files = 0;
	int status = read_invalid(c, request_id, diags, &site_invalid, &n_files);
	if (status != 0)
		goto out;
	if (!out->result || yb_json_parse(out->result, strlen(out->result), &result, NULL) < 0)
		result = yb_json_object();
	struct yb_json *kept = yb_json_get(result, "errors"); /* runbooks on an older revision */
	size_t n_kept = kept ? yb_json_len(kept) : 0;
	int64_t runbooks = yb_json_get_int(result, "runbooks", -1);
	const char *refused = out->ok ? NULL : yb_json_get_str(result, "error");
	bool bad = site_invalid || n_files > 0 || n_kept > 0 || !out->ok;
	if (json) {
		yb_json_set(json, "reloaded", yb_json_bool(out->ok && !site_invalid));
		yb_json_set(json, "runbooks", runbooks >= 0 ? yb_json_int(runbooks) : yb_json_null());
		yb_json_set(json, "diagnostics", yb_json_ref(diags));
		yb_json_set(json, "errors", kept ? yb_json_ref(kept) : yb_json_array());
	} else {
		for (size_t i = 0; i < yb_json_len(diags); i++)
			print_diag(yb_json_at(diags, i));
		/* What the audit did not show (an older yoband, or a reviewer's missing rights). */
		for (size_t i = 0; !yb_json_len(diags) && i < n_kept; i++) {
			const struct yb_json *e = yb_json_at(kept, i);
			put_escaped(stderr, yb_json_get_str(e, "error"));
			fprintf(stderr, " (runbook '%s')\n", yb_json_get_str(e, "runbook") ?
				yb_json_get_str(e, "runbook") : "?");
		}
		if (!bad)
			printf("reloaded: %lld runbooks scheduled\n", (long long)runbooks);
	}
	if (refused)
		cli_error("yoband refused reload request %s: %s", request_id, refused);
	else if (site_invalid)
		cli_error("reload request %s: the site config, inventory or calendars do not validate, "
			  "so yoband reloaded nothing and keeps the previous runbooks scheduled (fix the "
			  "file named above; 'yoban validate' checks it)", request_id);
	else if (bad) {
		size_t n = n_files > n_kept ? n_files : n_kept;
		cli_error("reload request %s: %zu runbook file%s did not validate (a runbook keeps its "
			  "previous revision scheduled; a new file is not scheduled until it validates): "
			  "fix the file%s named above; 'yoban validate' checks them", request_id, n,
			  n == 1 ? "" : "s", n == 1 ? "" : "s");
	}
	status = bad ? YB_EXIT_FAIL : YB_EXIT_OK;
out:
	yb_json_free(result);
	yb_json_free(diags);
	return status;
}

static int on_opt(int opt, const char *arg, void *ctx)
{
	struct cli_request_opts *o = ctx;
	switch (opt) {
	case 'd': o->database = arg; return 0;
	case 'n': o->wait = false; return 0;
	}
	return cli_usage_error(&cmd_reload, "unknown option");
}

static int reload_run(int argc, char **argv)
{
	static const struct option own[] = {
		{ "database", required_argument, NULL, 'd' },
		{ "no-wait", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_request_opts o = { .wait = true, .timeout_ms = CLI_REQUEST_WAIT_MS };
	struct cli_request_ext ext = { own, on_opt, &o };
	int status = cli_request_parse(&cmd_reload, argc, argv, &ext, &o);
	if (status != 0)
		return status;
	if (optind < argc)
		return cli_usage_error(&cmd_reload, "unexpected argument '%s'", argv[optind]);
	if (o.database && o.config)
		return cli_usage_error(&cmd_reload, "give --config or --database, not both");
	struct cli_request rq = {
		.sql = "SELECT yoban.yoban_reload()",
		.what = "reload",
		.answered = answered,
	};
	return cli_request_run(&o, &rq);
}

const struct yb_cmd cmd_reload = {
	.name = "reload",
	.summary = "ask the leading yoband to reload its runbooks",
	.help = "usage: yoban reload [--config FILE | --database CONNINFO] [--wait | --no-wait]\n"
		"                    [--timeout DUR] [--format text|json]\n"
		"\n"
		"Writes a reload request (yoban.yoban_reload() as you: a member of yoban_operator or\n"
		"yoban_admin) that the leading yoband acts on at once: it reads the site config, the\n"
		"inventory, the calendars and the runbooks again and records new revisions. What it\n"
		"found is what counts, wherever it runs: every file that did not validate is printed\n"
		"as 'FILE:LINE:COL: error: ...', as 'yoban validate' prints it. A broken site config,\n"
		"inventory or calendar reloads nothing (the previous runbooks stay scheduled); a broken\n"
		"runbook file keeps its previous revision scheduled.\n"
		"\n"
		"  --wait             wait for yoband's answer (the default for reload)\n"
		"  --no-wait          only write the request and print 'request ID'\n"
		"  --timeout DUR      how long to wait for the answer (default 60s)\n"
		"  --config FILE      the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"  --database CI      connect with this libpq conninfo instead of the site's database\n"
		"                     (log in as yourself: the daemon's own login may not reload)\n"
		"  --format json      one JSON object: request_id, and with --wait: handled, ok,\n"
		"                     error, reloaded, runbooks, diagnostics (file, line, column,\n"
		"                     severity, message), errors (runbooks kept on an older revision)\n"
		"\n"
		"Exit status: 0 reloaded and every file valid; 1 refused (permission), a file did not\n"
		"validate, or no yoband answered within --timeout; 2 usage error.\n",
	.run = reload_run,
};
