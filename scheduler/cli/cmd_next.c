/*
 * cmd_next.c: `yoban next`: when will this fire? Either a bare cron expression in a zone, or a
 * runbook, in its own zone with its calendar applied (the same sched_next the daemon uses, so
 * what an operator sees here is what the night will do).
 */
#include "cli.h"
#include "cron.h"
#include "sched.h"
#include "json.h"
#include "runbook.h"
#include "tz.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const struct yb_cmd cmd_next;

#define MAX_COUNT 10000

struct next_opts {
	const char *cron;
	const char *tz_name;
	const char *from;
	const char *config;
	const char *hash_key;
	long count;
	bool prev;
	bool json;
};

/* Prints o->count fires after (or, with --prev, before) from, one per line or as JSON. */
static int print_fires(const struct next_opts *o, const struct schedule *s, const char *what,
		       int64_t from)
{
	struct yb_json *fires = yb_json_array();
	int64_t t = from;
	int status = YB_EXIT_OK;
	for (long i = 0; i < o->count; i++) {
		struct yb_err err = { 0 };
		int64_t fire;
		int rc = o->prev ? sched_prev(s, t, &fire, &err) : sched_next(s, t, &fire, &err);
		if (rc < 0) {
			if (i == 0) {
				cli_error("%s: %s", what, err.msg);
				status = YB_EXIT_FAIL;
			}
			break;
		}
		char iso[64];
		tz_format_iso(s->zone, fire, iso, sizeof(iso));
		if (o->json)
			yb_json_push(fires, yb_json_str(iso));
		else
			printf("%s\n", iso);
		t = fire;
	}
	if (o->json && status == YB_EXIT_OK) {
		struct yb_json *out = yb_json_object();
		yb_json_set(out, "source", yb_json_str(what));
		yb_json_set(out, "timezone", yb_json_str(tz_name(s->zone)));
		yb_json_set(out, "direction", yb_json_str(o->prev ? "prev" : "next"));
		yb_json_set(out, "fires", fires);
		yb_json_print(out, YB_JSON_PRETTY);
		yb_json_free(out);
	} else {
		yb_json_free(fires);
	}
	return status;
}

/* The whole second to search from. Fires fall on whole seconds, so "strictly after" a time with
 * a fraction means after its whole second, and "strictly before" it means before the next one:
 * --prev --from 10:00:00.0005 finds 10:00:00. Without --from, now (with its fraction). */
static int parse_from(const struct next_opts *o, const struct tz *zone, int64_t *from)
{
	int32_t nanos = 0;
	if (!o->from) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		*from = (int64_t)now.tv_sec;
		nanos = (int32_t)now.tv_nsec;
	} else {
		struct yb_err err = { 0 };
		if (tz_parse_iso_ns(o->from, zone, from, &nanos, &err) < 0)
			return cli_usage_error(&cmd_next, "--from: %s", err.msg);
	}
	if (o->prev && nanos > 0)
		*from += 1;
	return 0;
}

static int next_cron(const struct next_opts *o)
{
	struct yb_err err = { 0 };
	const struct tz *zone = tz_local();
	if (o->tz_name && tz_load(o->tz_name, &zone, &err) < 0)
		return cli_usage_error(&cmd_next, "--tz: %s", err.msg);
	struct cron_expr *expr = NULL;
	int col = 0;
	if (cron_parse(o->cron, o->hash_key, &expr, &col, &err) < 0) {
		fprintf(stderr, "yoban next: --cron '%s': %s\n", o->cron, err.msg);
		fprintf(stderr, "  %s\n  %*s^\n", o->cron, col, "");
		return YB_EXIT_USAGE;
	}
	int64_t from;
	int status = parse_from(o, zone, &from);
	if (status == 0) {
		struct schedule s = { .cron = expr, .zone = zone, .on_closed = SCHED_RUN };
		status = print_fires(o, &s, o->cron, from);
	}
	cron_free(expr);
	return status;
}

static int next_runbook(const struct next_opts *o, const char *path)
{
	struct rb_set *set = NULL;
	const struct rb_runbook *rb = NULL;
	int status = rb_cli_load_one(o->config, path, &set, &rb);
	if (status != 0)
		return status;
	if (!rb->has_schedule) {
		cli_error("runbook '%s' has no schedule: it runs only when triggered "
			  "(add 'schedule:' to fire it automatically)", rb->name);
		rb_set_free(set);
		return YB_EXIT_FAIL;
	}
	int64_t from;
	status = parse_from(o, rb->schedule.zone, &from);
	if (status == 0)
		status = print_fires(o, &rb->schedule, rb->name, from);
	rb_set_free(set);
	return status;
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cron", required_argument, NULL, 'c' }, { "tz", required_argument, NULL, 'z' },
		{ "from", required_argument, NULL, 'f' }, { "count", required_argument, NULL, 'n' },
		{ "prev", no_argument, NULL, 'p' },       { "format", required_argument, NULL, 'F' },
		{ "config", required_argument, NULL, 'C' }, { "hash-key", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	struct next_opts o = { .count = 1 };
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "n:", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o.cron = optarg; break;
		case 'z': o.tz_name = optarg; break;
		case 'f': o.from = optarg; break;
		case 'C': o.config = optarg; break;
		case 'H': o.hash_key = optarg; break;
		case 'p': o.prev = true; break;
		case 'n': {
			char *end;
			o.count = strtol(optarg, &end, 10);
			if (*end || o.count < 1 || o.count > MAX_COUNT)
				return cli_usage_error(&cmd_next, "--count takes a number from 1 to %d, not '%s'",
						       MAX_COUNT, optarg);
			break;
		}
		case 'F':
			if (cli_parse_format(&cmd_next, optarg, &o.json) != 0)
				return YB_EXIT_USAGE;
			break;
		default:
			return cli_usage_error(&cmd_next, "unknown option '%s'", argv[optind - 1]);
		}
	}
	int rest = argc - optind;
	if (o.cron && rest == 0)
		return next_cron(&o);
	if (!o.cron && rest == 1) {
		if (o.tz_name)
			return cli_usage_error(&cmd_next, "--tz goes with --cron; a runbook uses its own timezone");
		return next_runbook(&o, argv[optind]);
	}
	if (o.cron)
		return cli_usage_error(&cmd_next, "give either --cron EXPR or a RUNBOOK.yaml, not both");
	return cli_usage_error(&cmd_next, "give --cron EXPR or one RUNBOOK.yaml");
}

const struct yb_cmd cmd_next = {
	.name = "next",
	.summary = "next (or previous) fire times of a cron expression or a runbook",
	.help =
		"usage: yoban next --cron EXPR [--tz ZONE] [--from ISO8601] [--count N] [--prev]\n"
		"                  [--hash-key NAME] [--format text|json]\n"
		"       yoban next RUNBOOK.yaml [--config FILE] [--from ISO8601] [--count N] [--prev]\n"
		"                  [--format text|json]\n"
		"\n"
		"Prints the next N fire times strictly after --from (default: now), one per line, in\n"
		"ISO 8601 with the zone's offset, e.g. 2026-01-12T09:00:00+09:00. With --prev, the N\n"
		"fire times strictly before it, going backwards.\n"
		"\n"
		"With --cron, the expression is read in --tz (default: this machine's zone) and searched\n"
		"as far as the engine goes (the years 1 to 9999); 'H' fields are hashed with --hash-key\n"
		"(a runbook uses its name), and with --hash-key macros are hashed too ('@daily' as\n"
		"'H H * * * H', as croniter does with a hash_id). With a runbook, its schedule's\n"
		"timezone and calendar apply: fires on closed days are skipped, run, or moved as its\n"
		"on_closed_day says, and business_day schedules land on open days; a calendar's moves\n"
		"are searched ten years ahead (or back). Fewer than --count fires are printed when\n"
		"the expression has no more (a year field that ends).\n"
		"\n"
		"examples:\n"
		"  yoban next --cron '0 9 * * mon#2' --tz Asia/Tokyo --count 3\n"
		"  yoban next --cron '30 1 * * *' --tz Asia/Tokyo --from 2026-12-28T00:00:00+09:00\n"
		"  yoban next --cron '@daily' --hash-key nightly-batch --tz Asia/Tokyo\n"
		"  yoban next runbooks/nightly-resident-batch.yaml --count 5\n"
		"\n"
		"exit status: 0 ok, 1 the runbook is invalid or never fires, 2 usage error\n",
	.run = run,
};
