/*
 * cli_request.c: the one shape of trigger, cancel, rerun and reload: the common option table,
 * the request (one SECURITY DEFINER function called as the operator), the bounded wait for
 * yoband's answer and, for a request that makes a run, for that run to start; then the answer in
 * text or JSON and an exit status that says what happened.
 *
 * The one idea: "recorded" is not "done". Without --wait the command says only that the request
 * is recorded. With --wait it says what yoband did: refused (and why), made a run that started,
 * or made a run that ended without starting (skipped by `concurrency: forbid`, failed at once):
 * the run's state and reason are printed and the exit status is 1.
 */
#include "cli_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { OPT_WAIT = 0x100, OPT_TIMEOUT, OPT_CONFIG, OPT_FORMAT };

static const struct option common_opts[] = {
	{ "wait", no_argument, NULL, OPT_WAIT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "format", required_argument, NULL, OPT_FORMAT },
};

int cli_request_parse(const struct yb_cmd *cmd, int argc, char **argv,
		      const struct cli_request_ext *ext, struct cli_request_opts *o)
{
	struct option table[32];
	size_t n = 0;
	for (size_t i = 0; i < YB_ARRAY_LEN(common_opts); i++)
		table[n++] = common_opts[i];
	for (size_t i = 0; ext && ext->opts && ext->opts[i].name; i++) {
		BUG_ON(n >= YB_ARRAY_LEN(table) - 1 || ext->opts[i].val >= 0x100);
		table[n++] = ext->opts[i];
	}
	table[n] = (struct option){ NULL, 0, NULL, 0 };
	int opt, status;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", table, NULL)) != -1) {
		switch (opt) {
		case OPT_WAIT: o->wait = true; break;
		case OPT_TIMEOUT: {
			struct yb_err err = { 0 };
			if (yb_parse_duration_ms(optarg, &o->timeout_ms, &err) < 0 || o->timeout_ms <= 0)
				return cli_usage_error(cmd, "--timeout takes a duration like '30s' or '5m', "
						       "not '%s'", optarg);
			break;
		}
		case OPT_CONFIG: o->config = optarg; break;
		case OPT_FORMAT:
			if (cli_parse_format(cmd, optarg, &o->json) != 0)
				return YB_EXIT_USAGE;
			break;
		case '?': /* optopt is the option's val when only its value is missing */
			if (optopt)
				return cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
			return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		default:
			if (!ext || !ext->on_opt)
				return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
			if ((status = ext->on_opt(opt, optarg, ext->ctx)) != 0)
				return status;
		}
	}
	return 0;
}

static void pause_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* What became of the run a request made, once yoband moved it out of 'pending'. */
struct run_start {
	char *state;
	char *reason;
	bool started; /* started_at is set */
	bool decided; /* it left 'pending' before the deadline */
};

static bool state_is(const char *state, const char *name)
{
	return state && !strcmp(state, name);
}

/* Polls the run until it leaves 'pending' or the deadline passes. 0, or YB_EXIT_FAIL (printed). */
static int wait_run_start(struct db_conn *c, const char *run_id, int64_t deadline,
			  struct run_start *out)
{
	static const char sql[] = "SELECT state::text, reason, started_at IS NOT NULL"
				  " FROM yoban.runs WHERE id = $1::bigint";
	const char *p[] = { run_id };
	int64_t pause = 50;
	for (;;) {
		struct db_result *r = NULL;
		if (opdb_query(c, sql, 1, p, &r, "yoban_reviewer") != 0)
			return YB_EXIT_FAIL;
		if (db_result_rows(r) != 1) {
			db_result_free(r);
			cli_error("run %s is not in the database", run_id);
			return YB_EXIT_FAIL;
		}
		const char *state = db_result_get(r, 0, 0), *reason = db_result_get(r, 0, 1);
		const char *started = db_result_get(r, 0, 2);
		free(out->state);
		free(out->reason);
		out->state = xstrdup(state ? state : "");
		out->reason = reason && *reason ? xstrdup(reason) : NULL;
		out->started = started && started[0] == 't';
		db_result_free(r);
		int64_t now = yb_mono_ms();
		if (!state_is(out->state, "pending")) {
			out->decided = true;
			return 0;
		}
		if (now >= deadline)
			return 0;
		pause_ms(pause < deadline - now ? pause : deadline - now);
		pause = pause * 2 > 500 ? 500 : pause * 2;
	}
}

/* A run that ended before it started: skipped, or failed/cancelled/lost at once. */
static bool did_not_start(const struct run_start *s)
{
	return s->decided && opdb_state_final(s->state) && !s->started;
}

int cli_request_run(const struct cli_request_opts *o, const struct cli_request *rq)
{
	struct db_conn *c = NULL;
	char *request_id = NULL, *why = NULL;
	struct opdb_request_outcome outcome = { 0 };
	struct run_start start = { 0 };
	struct yb_json *json = NULL;
	struct yb_err err = { 0 };
	int status, answered = 0;
	int64_t deadline = yb_mono_ms() + o->timeout_ms;

	if ((status = opdb_connect(o->config, o->database, &c)) != 0)
		goto out;
	if (db_query_value(c, rq->sql, rq->n_params, rq->params, &request_id, &err) < 0) {
		status = opdb_report(c, &err, "yoban_operator");
		goto out;
	}
	if (o->wait && (status = opdb_wait_request(c, request_id, rq->makes_run, o->timeout_ms,
						   &outcome)) != 0)
		goto out;
	bool has_run = o->wait && outcome.handled && outcome.ok && outcome.run_id[0];
	if (rq->makes_run && has_run &&
	    (status = wait_run_start(c, outcome.run_id, deadline, &start)) != 0)
		goto out;
	why = o->wait ? opdb_result_message(outcome.result) : NULL;
	if (o->json) {
		json = yb_json_object();
		yb_json_set(json, "request_id", yb_json_int(strtoll(request_id, NULL, 10)));
		if (rq->json_fields)
			rq->json_fields(json, rq->ctx);
	} else {
		printf("request %s\n", request_id);
		fflush(stdout);
	}
	if (o->wait && outcome.handled && rq->answered)
		answered = rq->answered(c, request_id, &outcome, json, rq->ctx);
	if (json) {
		if (o->wait) {
			const char *error = why;
			if (!error && did_not_start(&start))
				error = start.reason ? start.reason : start.state;
			opdb_outcome_json(json, &outcome, error, rq->makes_run);
			if (rq->makes_run) {
				yb_json_set(json, "state", yb_json_str(start.state));
				yb_json_set(json, "reason", yb_json_str(start.reason));
				yb_json_set(json, "started", start.state ? yb_json_bool(start.started)
									 : yb_json_null());
			}
		}
		yb_json_print(json, YB_JSON_PRETTY);
	} else if (has_run) {
		printf("run %s\n", outcome.run_id);
		if (start.state)
			printf("state %s\n", start.state);
		if (start.reason)
			printf("reason %s\n", start.reason);
	}
	fflush(stdout);
	status = YB_EXIT_OK;
	if (!o->wait)
		goto out;
	if (!outcome.handled) {
		cli_error("yoband has not picked up request %s within %lld s: is one leading? ('yoban "
			  "status' shows the leader; the request stays queued for it)", request_id,
			  (long long)(o->timeout_ms / 1000));
		status = YB_EXIT_FAIL;
	} else if (!outcome.ok && !rq->answered) {
		cli_error("yoband refused request %s to %s: %s", request_id, rq->what,
			  why ? why : "(no reason given)");
		status = YB_EXIT_FAIL;
	} else if (answered != 0) {
		status = answered;
	} else if (rq->makes_run && !outcome.run_id[0]) {
		cli_error("yoband handled request %s without creating a run", request_id);
		status = YB_EXIT_FAIL;
	} else if (rq->makes_run && !start.decided) {
		cli_error("run %s was created but has not started within %lld s (it is still pending; "
			  "'yoban show %s' follows it)", outcome.run_id,
			  (long long)(o->timeout_ms / 1000), outcome.run_id);
		status = YB_EXIT_FAIL;
	} else if (rq->makes_run && did_not_start(&start)) {
		cli_error("run %s ended without starting (%s)%s%s", outcome.run_id, start.state,
			  start.reason ? ": " : "", start.reason ? start.reason : "");
		status = YB_EXIT_FAIL;
	}
out:
	yb_json_free(json);
	free(start.state);
	free(start.reason);
	free(why);
	free(outcome.result);
	free(request_id);
	db_close(c);
	return status;
}
