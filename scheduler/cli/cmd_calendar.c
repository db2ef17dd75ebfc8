/*
 * cmd_calendar.c: `yoban calendar`: which days a calendar closes, and why.
 *
 * `holidays --year Y` lists the closed days of a year (the national holidays by default), and
 * `is-open DATE` answers for one day through its exit status, so that a shell script can ask
 * `yoban calendar is-open 2026-05-06 || exit 0`. Both read the same cal_is_open the scheduler
 * bends schedules with, so what an operator sees here is what the night will do.
 */
#include "buf.h"
#include "calendar.h"
#include "cli.h"
#include "json.h"
#include "runbook.h"
#include "tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct yb_cmd cmd_calendar;

struct cal_opts {
	const char *calendar; /* NULL: the national holidays (jp) */
	const char *config;   /* yoban.yaml, for site calendars */
	const char *year;
	bool json;
	const char *positional[2];
	int n_positional;
};

/* The calendar called `name`: a built-in ("jp") or one of the site's calendars (the calendars folder
 * of the site config found by --config, $YOBAN_CONFIG, or /etc/yoban/yoban.yaml). The set that
 * owns a site calendar is kept in *set_out for the caller to free. */
static int find_calendar(const struct cal_opts *o, const char *name, const struct calendar **out,
			 struct rb_set **set_out, struct yb_err *err)
{
	const struct calendar *cal = cal_builtin(name);
	if (cal) {
		*out = cal;
		return 0;
	}
	char *config = NULL;
	int rc = rb_config_find(o->config, NULL, &config, err);
	if (rc < 0)
		return rc;
	if (!config)
		return yb_err_set(err, YB_ENOENT,
				  "unknown calendar '%s': the built-in one is 'jp'; for a site calendar "
				  "give --config yoban.yaml (or set YOBAN_CONFIG)", name);
	struct rb_load_opts lo = { .config_path = config, .no_runbooks = true };
	struct rb_diags diags;
	struct rb_set *set = NULL;
	rb_diags_init(&diags);
	rc = rb_set_load(&lo, &set, &diags);
	if (rc < 0) {
		rb_diags_print(&diags, stderr);
		yb_err_set(err, YB_EINVAL, "cannot read the site config '%s' (errors above)", config);
		goto out;
	}
	cal = rb_set_calendar(set, name);
	if (!cal) {
		struct yb_buf known;
		yb_buf_init(&known, 4096);
		yb_buf_appendf(&known, "jp");
		for (size_t i = 0; i < set->n_calendars; i++)
			yb_buf_appendf(&known, ", %s", set->calendars[i].name);
		rc = yb_err_set(err, YB_ENOENT, "unknown calendar '%s' in '%s' (known: %s)", name,
				config, known.data);
		yb_buf_release(&known);
		rb_set_free(set);
		goto out;
	}
	*out = cal;
	*set_out = set;
out:
	rb_diags_release(&diags);
	free(config);
	return rc;
}

/* Strict YYYY-MM-DD, a real date. */
static int parse_date(const char *text, int *y, int *m, int *d)
{
	int year = 0, month = 0, day = 0;
	if (strlen(text) != 10 || text[4] != '-' || text[7] != '-')
		return YB_EINVAL;
	for (int i = 0; i < 10; i++) {
		if (i == 4 || i == 7)
			continue;
		if (text[i] < '0' || text[i] > '9')
			return YB_EINVAL;
	}
	year = atoi(text);
	month = atoi(text + 5);
	day = atoi(text + 8);
	if (year < 1 || month < 1 || month > 12 || day < 1 || day > yb_days_in_month(year, month))
		return YB_EINVAL;
	*y = year;
	*m = month;
	*d = day;
	return 0;
}

static int parse_year(const char *text, int *out)
{
	char *end;
	long v = strtol(text, &end, 10);
	if (!*text || *end || v < 1 || v > 9999)
		return YB_EINVAL;
	*out = (int)v;
	return 0;
}

/* Options may come before or after the subcommand's operand; "--opt value" or "--opt=value". */
static int parse_args(int argc, char **argv, struct cal_opts *o)
{
	for (int i = 2; i < argc; i++) {
		const char *arg = argv[i];
		static const char *const names[] = { "--calendar", "--year", "--format", "--config" };
		const char *value = NULL;
		int which = -1;
		if (!strcmp(arg, "--")) {
			for (i++; i < argc; i++) {
				if (o->n_positional == 2)
					return cli_usage_error(&cmd_calendar, "unexpected argument '%s'",
							       argv[i]);
				o->positional[o->n_positional++] = argv[i];
			}
			break;
		}
		for (int k = 0; k < (int)YB_ARRAY_LEN(names); k++) {
			size_t n = strlen(names[k]);
			if (!strncmp(arg, names[k], n) && (arg[n] == '=' || !arg[n])) {
				which = k;
				if (arg[n] == '=')
					value = arg + n + 1;
				else if (i + 1 < argc)
					value = argv[++i];
				else
					return cli_usage_error(&cmd_calendar, "'%s' needs a value", arg);
			}
		}
		if (which < 0 && arg[0] == '-' && arg[1])
			return cli_usage_error(&cmd_calendar, "unknown option '%s'", arg);
		if (which < 0) {
			if (o->n_positional == 2)
				return cli_usage_error(&cmd_calendar, "unexpected argument '%s'", arg);
			o->positional[o->n_positional++] = arg;
		} else if (which == 0) {
			o->calendar = value;
		} else if (which == 1) {
			o->year = value;
		} else if (which == 3) {
			o->config = value;
		} else if (cli_parse_format(&cmd_calendar, value, &o->json) != 0) {
			return YB_EXIT_USAGE;
		}
	}
	return 0;
}

struct list_ctx {
	bool json;
	struct yb_json *days;
};

static int list_one(int year, int month, int day, const char *why, void *ctx_)
{
	struct list_ctx *ctx = ctx_;
	char date[40];
	snprintf(date, sizeof(date), "%04d-%02d-%02d", year, month, day);
	if (ctx->json) {
		struct yb_json *row = yb_json_object();
		yb_json_set(row, "date", yb_json_str(date));
		yb_json_set(row, "name", yb_json_str(why));
		yb_json_push(ctx->days, row);
	} else {
		printf("%s\t%s\n", date, why);
	}
	return 0;
}

static int run_holidays(const struct cal_opts *o)
{
	const struct calendar *cal = NULL;
	struct yb_err err = { 0 };
	int year;
	if (o->n_positional)
		return cli_usage_error(&cmd_calendar, "unexpected argument '%s'", o->positional[0]);
	if (!o->year)
		return cli_usage_error(&cmd_calendar, "holidays needs --year YEAR");
	if (parse_year(o->year, &year) < 0)
		return cli_usage_error(&cmd_calendar, "bad year '%s' (use 1 to 9999, e.g. 2026)",
				       o->year);
	struct rb_set *set = NULL;
	if (find_calendar(o, o->calendar ? o->calendar : "jp", &cal, &set, &err) < 0) {
		cli_error("%s", err.msg);
		return YB_EXIT_FAIL;
	}
	struct list_ctx ctx = { .json = o->json };
	if (o->json)
		ctx.days = yb_json_array();
	cal_each_closed_day(cal, year, list_one, &ctx);
	if (o->json) {
		struct yb_json *out = yb_json_object();
		yb_json_set(out, "calendar", yb_json_str(cal->name));
		yb_json_set(out, "year", yb_json_int(year));
		yb_json_set(out, "closed", ctx.days);
		yb_json_print(out, YB_JSON_PRETTY);
		yb_json_free(out);
	}
	rb_set_free(set);
	return YB_EXIT_OK;
}

static int run_is_open(const struct cal_opts *o)
{
	const struct calendar *cal = NULL;
	struct yb_err err = { 0 };
	int y, m, d;
	if (o->year)
		return cli_usage_error(&cmd_calendar, "is-open takes a DATE, not --year");
	if (o->n_positional != 1)
		return cli_usage_error(&cmd_calendar, "is-open needs one DATE (YYYY-MM-DD)");
	if (parse_date(o->positional[0], &y, &m, &d) < 0)
		return cli_usage_error(&cmd_calendar, "bad date '%s' (use YYYY-MM-DD, e.g. 2026-05-06)",
				       o->positional[0]);
	struct rb_set *set = NULL;
	if (find_calendar(o, o->calendar ? o->calendar : "jp", &cal, &set, &err) < 0) {
		cli_error("%s", err.msg);
		return YB_EXIT_FAIL;
	}
	const char *why = NULL;
	bool open = cal_is_open(cal, y, m, d, &why);
	static const char *const wdays[7] = { "日", "月", "火", "水", "木", "金", "土" };
	int wday = yb_weekday(y, m, d);
	if (o->json) {
		char date[40];
		snprintf(date, sizeof(date), "%04d-%02d-%02d", y, m, d);
		struct yb_json *out = yb_json_object();
		yb_json_set(out, "date", yb_json_str(date));
		yb_json_set(out, "calendar", yb_json_str(cal->name));
		yb_json_set(out, "open", yb_json_bool(open));
		yb_json_set(out, "why", open ? yb_json_null() : yb_json_str(why));
		yb_json_print(out, YB_JSON_PRETTY);
		yb_json_free(out);
	} else if (open) {
		printf("%04d-%02d-%02d (%s) is open in calendar '%s'\n", y, m, d, wdays[wday], cal->name);
	} else {
		printf("%04d-%02d-%02d (%s) is closed in calendar '%s': %s\n", y, m, d, wdays[wday],
		       cal->name, why);
	}
	rb_set_free(set);
	return open ? YB_EXIT_OK : YB_EXIT_FAIL;
}

static int calendar_run(int argc, char **argv)
{
	struct cal_opts o = { 0 };
	if (argc < 2)
		return cli_usage_error(&cmd_calendar, "which subcommand: 'holidays' or 'is-open'?");
	int rc = parse_args(argc, argv, &o);
	if (rc)
		return rc;
	if (!strcmp(argv[1], "holidays"))
		return run_holidays(&o);
	if (!strcmp(argv[1], "is-open"))
		return run_is_open(&o);
	return cli_usage_error(&cmd_calendar, "unknown subcommand '%s' (use 'holidays' or 'is-open')",
			       argv[1]);
}

const struct yb_cmd cmd_calendar = {
	.name = "calendar",
	.summary = "list a calendar's closed days, or ask whether a date is open",
	.help =
		"usage: yoban calendar holidays --year YEAR [--calendar NAME] [--config FILE]\n"
		"                               [--format text|json]\n"
		"       yoban calendar is-open DATE [--calendar NAME] [--config FILE] [--format text|json]\n"
		"\n"
		"Business calendars decide which days are open (開庁日) and closed (閉庁日); a\n"
		"runbook's schedule skips or moves its fires on closed days (on_closed_day).\n"
		"\n"
		"  holidays   every closed day of YEAR, one line each: YYYY-MM-DD<TAB>reason.\n"
		"             Without --calendar: the national holidays of Japan (the built-in\n"
		"             calendar 'jp'): 国民の祝日, 振替休日, 国民の休日 and the one-off days,\n"
		"             by the rules in force that year (none before 1948-07-20).\n"
		"             With a calendar, also its closed weekdays (土曜日, 日曜日), yearly\n"
		"             ranges (年末年始) and listed closed dates (閉庁日).\n"
		"  is-open    is DATE (YYYY-MM-DD) open? Prints the answer and, when closed, why.\n"
		"             Exit status 0 when open, 1 when closed.\n"
		"\n"
		"options:\n"
		"  --year YEAR       the year to list (1 to 9999)\n"
		"  --calendar NAME   the calendar to read: 'jp' (the default: national holidays\n"
		"                    only) or a site calendar from the site's calendars folder\n"
		"  --config FILE     the site config (yoban.yaml) whose calendars to search\n"
		"                    (default: $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"  --format FORMAT   text (default) or json\n"
		"\n"
		"examples:\n"
		"  yoban calendar holidays --year 2026\n"
		"  yoban calendar is-open 2026-05-06 --calendar jp\n"
		"  yoban calendar holidays --year 2026 --calendar city --config runbooks/yoban.yaml\n"
		"\n"
		"exit status: 0 done (is-open: open), 1 closed or unknown calendar, 2 usage error\n",
	.run = calendar_run,
};
