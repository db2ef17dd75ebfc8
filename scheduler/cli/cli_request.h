/*
 * cli_request.h: what trigger, cancel, rerun and reload share. Each is one shape: parse the common
 * options (one table), connect as the operator (opdb_connect: the site's time zone, readable role
 * errors), call one SECURITY DEFINER function that writes a request row, optionally wait for
 * yoband's answer (and for the run the request makes to start), then print text or JSON and
 * return the exit status. A command supplies only what is its own: its extra options, the
 * function call, its JSON fields, and (reload) how to read the answer.
 */
#ifndef YB_CLI_REQUEST_H
#define YB_CLI_REQUEST_H

#include "cmd_db_common.h"

#include <getopt.h>

#define CLI_REQUEST_WAIT_MS (60 * 1000)

/* The common options: --wait, --timeout DUR, --config FILE, --format text|json. */
struct cli_request_opts {
	const char *config;
	const char *database; /* a conninfo that replaces the site's database (reload --database) */
	bool json;
	bool wait;            /* preset by the command: its default */
	int64_t timeout_ms;
};

/* A command's own options: getopt_long entries (with a val below 0x100) and their handler,
 * which returns 0 or an exit status after printing a usage error. */
struct cli_request_ext {
	const struct option *opts; /* terminated by an entry with a NULL name; may be NULL */
	int (*on_opt)(int val, const char *arg, void *ctx);
	void *ctx;
};

/* Parses argv with the common table plus ext's options. Returns 0 with *o filled and optind at
 * the first operand, or an exit status (a usage error was printed). */
int cli_request_parse(const struct yb_cmd *cmd, int argc, char **argv,
		      const struct cli_request_ext *ext, struct cli_request_opts *o);

/* What one request command sends and how it reads the answer. */
struct cli_request {
	const char *sql;            /* "SELECT yoban.yoban_cancel($1::bigint)": returns the request id */
	int n_params;
	const char *const *params;
	bool makes_run;             /* the request creates a run: --wait waits until it has started */
	const char *what;           /* for refusals: "cancel run 12" -> "yoband refused to cancel run 12" */
	/* Adds the command's own fields to the JSON answer (may be NULL). */
	void (*json_fields)(struct yb_json *o, void *ctx);
	/* Once yoband has answered (may be NULL): reads and prints what the answer means, adds its
	 * fields to json (NULL in text mode), and returns 0 or YB_EXIT_FAIL. */
	int (*answered)(struct db_conn *c, const char *request_id,
			const struct opdb_request_outcome *out, struct yb_json *json, void *ctx);
	void *ctx;
};

/* Runs the request: connects, calls rq->sql as the operator, waits when o->wait, prints, and
 * returns the exit status (0 done; 1 refused, no answer in time, or a run that did not start). */
int cli_request_run(const struct cli_request_opts *o, const struct cli_request *rq);

#endif
