/*
 * cmd_incidents.c: `yoban incidents`: the incidents (障害) with their SLA clocks, and with
 * --month the scheduler's availability that month, as the monthly report needs them.
 *
 * The SLA figures come from the site config's contract.sla (report, start, recover,
 * availability), passed to one parameterized SELECT; availability is yoban.yoban_availability
 * over the leader's heartbeat spans, the site-wide maintenance windows left out.
 */
#include "cmd_incidents.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "runbook.h"

extern const struct yb_cmd cmd_incidents;

static void interval_param(char *out, size_t size, int64_t ms)
{
	if (ms > 0)
		snprintf(out, size, "%lld milliseconds", (long long)ms);
	else
		out[0] = 0;
}

int sla_params_load(const char *config, struct sla_params *out)
{
	struct yb_err err = { 0 };
	char *path = NULL;
	struct rb_site *site = NULL;
	memset(out, 0, sizeof(*out));
	if (rb_config_find(config, NULL, &path, &err) < 0) {
		cli_error("%s", err.msg);
		return YB_EXIT_USAGE;
	}
	if (rb_site_load(path, &site, &err) < 0) {
		cli_error("%s", err.msg);
		free(path);
		return YB_EXIT_FAIL;
	}
	interval_param(out->report, sizeof(out->report), site->contract.sla_report_ms);
	interval_param(out->start, sizeof(out->start), site->contract.sla_start_ms);
	interval_param(out->recover, sizeof(out->recover), site->contract.sla_recover_ms);
	out->availability = site->contract.sla_availability;
	struct yb_buf from, to;
	yb_buf_init(&from, 0);
	yb_buf_init(&to, 0);
	yb_buf_append(&from, "{", 1);
	yb_buf_append(&to, "{", 1);
	size_t n = 0;
	for (size_t i = 0; i < site->n_maintenance; i++) {
		const struct rb_maintenance *m = &site->maintenance[i];
		if (m->n_runbooks) /* a window for some runbooks only: the scheduler still leads */
			continue;
		yb_buf_appendf(&from, "%s%lld", n ? "," : "", (long long)m->from);
		yb_buf_appendf(&to, "%s%lld", n ? "," : "", (long long)m->to);
		n++;
	}
	yb_buf_append(&from, "}", 1);
	yb_buf_append(&to, "}", 1);
	out->maint_from = yb_buf_detach(&from, NULL);
	out->maint_to = yb_buf_detach(&to, NULL);
	rb_site_free(site);
	free(path);
	return YB_EXIT_OK;
}

void sla_params_release(struct sla_params *p)
{
	free(p->maint_from);
	free(p->maint_to);
	p->maint_from = p->maint_to = NULL;
}

void incident_clock_text(const struct db_result *r, int row, const char *name, char *out,
			 size_t size)
{
	char key[64];
	snprintf(key, sizeof(key), "%s_state", name);
	int c = db_result_col(r, key);
	BUG_ON(c < 0);
	const char *state = db_result_get(r, row, c);
	if (!state) {
		snprintf(out, size, "-");
	} else if (!strcmp(state, "running")) {
		snprintf(key, sizeof(key), "%s_left_seconds", name);
		int lc = db_result_col(r, key);
		BUG_ON(lc < 0);
		char left[32];
		opdb_format_seconds(db_result_get(r, row, lc), left, sizeof(left));
		snprintf(out, size, "%.24s left", left); /* "5h 59m": far shorter */
	} else {
		snprintf(out, size, "%s", state);
	}
}

static const char list_sql[] =
	"SELECT " INCIDENT_COLUMNS " FROM yoban.incidents i"
	" WHERE ($4::boolean IS NOT TRUE OR i.resolved_at IS NULL)"
	"   AND ($5::date IS NULL OR (i.detected_at >= $5::date::timestamptz"
	"        AND i.detected_at < ($5::date + interval '1 month')::timestamptz))"
	" ORDER BY i.id DESC LIMIT $6::bigint";

static const char availability_sql[] =
	"SELECT a.total_minutes, a.down_minutes, a.percent FROM yoban.yoban_availability("
	" $1::date::timestamptz, ($1::date + interval '1 month')::timestamptz,"
	" ARRAY(SELECT tstzrange(to_timestamp(m.f), to_timestamp(m.t))"
	"       FROM unnest($2::bigint[], $3::bigint[]) AS m(f, t))) a";

static int col_of(const struct db_result *r, const char *name)
{
	int c = db_result_col(r, name);
	BUG_ON(c < 0);
	return c;
}

static void print_table(const struct db_result *r)
{
	int n = db_result_rows(r);
	printf("%-5s %-26s %-8s %-7s %-19s %-9s %-12s %-12s %-12s\n", "ID", "RUNBOOK", "EVENT",
	       "RUN", "DETECTED", "STATUS", "REPORT", "START", "RECOVER");
	for (int i = 0; i < n; i++) {
		char detected[32], report[32], start[32], recover[32];
		opdb_format_time(db_result_get(r, i, col_of(r, "detected_at")), detected,
				 sizeof(detected));
		incident_clock_text(r, i, "report", report, sizeof(report));
		incident_clock_text(r, i, "start", start, sizeof(start));
		incident_clock_text(r, i, "recover", recover, sizeof(recover));
		const char *status = db_result_get(r, i, col_of(r, "resolved_at")) ? "resolved" :
				     db_result_get(r, i, col_of(r, "acknowledged_at")) ? "working" :
				     db_result_get(r, i, col_of(r, "escalated_at")) ? "escalated" : "open";
		const char *run = db_result_get(r, i, col_of(r, "run_id"));
		printf("%-5s %-26s %-8s %-7s %-19s %-9s %-12s %-12s %-12s\n",
		       db_result_get(r, i, col_of(r, "id")), db_result_get(r, i, col_of(r, "runbook")),
		       db_result_get(r, i, col_of(r, "event")), run ? run : "-", detected, status, report,
		       start, recover);
	}
	if (n == 0)
		printf("(no incidents match)\n");
}

static bool month_ok(const char *s)
{
	return strlen(s) == 7 && s[4] == '-' && s[0] >= '1' && s[0] <= '9' &&
	       strspn(s, "0123456789-") == 7 && ((s[5] == '0' && s[6] >= '1' && s[6] <= '9') ||
						  (s[5] == '1' && s[6] >= '0' && s[6] <= '2'));
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "open", no_argument, NULL, 'o' },	    { "month", required_argument, NULL, 'm' },
		{ "limit", required_argument, NULL, 'n' },  { "config", required_argument, NULL, 'C' },
		{ "format", required_argument, NULL, 'F' }, { NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	char month_day[16] = "", limit[24] = "100";
	bool json = false, open_only = false;
	int opt, status;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "n:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o': open_only = true; break;
		case 'm':
			if (!month_ok(optarg))
				return cli_usage_error(&cmd_incidents, "--month takes YYYY-MM (2026-11), "
						       "not '%s'", optarg);
			snprintf(month_day, sizeof(month_day), "%s-01", optarg);
			break;
		case 'n': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 100000)
				return cli_usage_error(&cmd_incidents, "--limit takes a number from 1 to "
						       "100000, not '%s'", optarg);
			snprintf(limit, sizeof(limit), "%ld", v);
			break;
		}
		case 'C': config = optarg; break;
		case 'F':
			if (cli_parse_format(&cmd_incidents, optarg, &json) != 0)
				return YB_EXIT_USAGE;
			break;
		default:
			return cli_usage_error(&cmd_incidents, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc != optind)
		return cli_usage_error(&cmd_incidents, "unexpected argument '%s'", argv[optind]);
	struct sla_params sla;
	if ((status = sla_params_load(config, &sla)) != 0)
		return status;
	struct db_conn *c = NULL;
	struct db_result *r = NULL, *a = NULL;
	if ((status = opdb_open(config, &c)) != 0)
		goto out;
	const char *p[] = { sla.report[0] ? sla.report : NULL, sla.start[0] ? sla.start : NULL,
			    sla.recover[0] ? sla.recover : NULL, open_only ? "true" : NULL,
			    month_day[0] ? month_day : NULL, limit };
	if ((status = opdb_query(c, list_sql, 6, p, &r, "yoban_reviewer")) != 0)
		goto out;
	if (month_day[0]) {
		const char *ap[] = { month_day, sla.maint_from, sla.maint_to };
		if ((status = opdb_query(c, availability_sql, 3, ap, &a, "yoban_reviewer")) != 0)
			goto out;
	}
	if (json) {
		struct yb_json *o = yb_json_object(), *arr = yb_json_array();
		for (int i = 0; i < db_result_rows(r); i++)
			yb_json_push(arr, opdb_row_json(r, i));
		if (month_day[0]) {
			yb_json_set(o, "month", yb_json_strn(month_day, 7));
			struct yb_json *av = yb_json_object();
			yb_json_set(av, "minutes", yb_json_real(atof(db_result_get(a, 0, 0))));
			yb_json_set(av, "down_minutes", yb_json_real(atof(db_result_get(a, 0, 1))));
			const char *pct = db_result_get(a, 0, 2);
			yb_json_set(av, "percent", pct ? yb_json_real(atof(pct)) : yb_json_null());
			yb_json_set(av, "target_percent", sla.availability > 0 ?
				    yb_json_real(sla.availability) : yb_json_null());
			yb_json_set(av, "met", pct && sla.availability > 0 ?
				    yb_json_bool(atof(pct) >= sla.availability) : yb_json_null());
			yb_json_set(o, "availability", av);
		}
		yb_json_set(o, "incidents", arr);
		yb_json_print(o, YB_JSON_PRETTY);
		yb_json_free(o);
	} else {
		print_table(r);
		if (month_day[0]) {
			const char *pct = db_result_get(a, 0, 2);
			printf("\navailability %.7s: %s%% (%.0f of %.0f minutes without a leading "
			       "scheduler, maintenance windows excluded)",
			       month_day, pct ? pct : "-", atof(db_result_get(a, 0, 1)),
			       atof(db_result_get(a, 0, 0)));
			if (sla.availability > 0 && pct)
				printf("; target %g%%: %s", sla.availability,
				       atof(pct) >= sla.availability ? "met" : "NOT met");
			printf("\n");
		}
	}
out:
	db_result_free(r);
	db_result_free(a);
	db_close(c);
	sla_params_release(&sla);
	return status;
}

const struct yb_cmd cmd_incidents = {
	.name = "incidents",
	.summary = "list incidents with their SLA clocks; availability by month",
	.help =
		"usage: yoban incidents [--open] [--month YYYY-MM] [--limit N] [--config FILE]\n"
		"                       [--format text|json]\n"
		"\n"
		"Lists incidents (障害), newest first: a failed, timed-out or lost production run, or a\n"
		"missed fire, opens one by itself; only a person closes it ('yoban incident resolve').\n"
		"Each shows its three SLA clocks from yoban.yaml's contract.sla, measured from the\n"
		"detection: report (the first notice delivered), start (acknowledged) and recover\n"
		"(service back): met, breached, or the time left.\n"
		"Needs read access: yoban_reviewer, yoban_operator, yoban_approver or yoban_admin.\n"
		"\n"
		"  --open           only incidents not resolved yet\n"
		"  --month YYYY-MM  only incidents detected that month (in the site's time zone), and\n"
		"                   the scheduler's availability that month: the minutes without a\n"
		"                   leading yoband (from its heartbeats), site-wide maintenance windows\n"
		"                   excluded, against contract.sla.availability\n"
		"  --limit N        at most N incidents (default 100)\n"
		"  --config FILE    the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"  --format json    {\"incidents\": [...], \"month\", \"availability\": {minutes,\n"
		"                   down_minutes, percent, target_percent, met}}\n"
		"\n"
		"examples:\n"
		"  yoban incidents --open\n"
		"  yoban incidents --month 2026-11 --format json\n",
	.run = run,
};
