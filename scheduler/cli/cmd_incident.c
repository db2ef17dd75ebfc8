/*
 * cmd_incident.c: `yoban incident show|ack|resolve N`: one incident's record, and the two things a
 * person does with it: acknowledge it (work started: the SLA's start clock stops) and resolve it
 * with its record (cause, temporary fix, permanent fix, recovery time: the recover clock stops).
 *
 * ack and resolve call the SECURITY DEFINER functions yoban_incident_ack / _resolve, which check
 * the caller's role (yoban_operator or yoban_admin, as for trigger) and record session_user; this
 * file only passes the values, as parameters.
 */
#include "cmd_incidents.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct yb_cmd cmd_incident;

static const char show_sql[] = "SELECT " INCIDENT_COLUMNS " FROM yoban.incidents i "
			       "WHERE i.id = $4::bigint";

static const char deliveries_sql[] =
	"SELECT n.id, e.event::text AS event, n.channel, n.state::text AS state, n.attempts,"
	" to_json(n.delivered_at) #>> '{}' AS delivered_at, n.last_error"
	" FROM yoban.notifications n JOIN yoban.notify_events e ON e.id = n.event_id"
	" WHERE e.incident_id = $1::bigint ORDER BY n.id";

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

static void print_time(const char *label, const char *iso)
{
	char t[32];
	opdb_format_time(iso, t, sizeof(t));
	printf("%-17s %s\n", label, t);
}

static void print_text(const struct db_result *r, const struct db_result *d)
{
	char clock[48];
	printf("incident %s: %s\n", col(r, 0, "id"), col(r, 0, "summary"));
	printf("%-17s %s\n", "runbook:", col(r, 0, "runbook"));
	printf("%-17s %s\n", "event:", col(r, 0, "event"));
	printf("%-17s %s%s\n", "run:", or_dash(col(r, 0, "run_id")),
	       col(r, 0, "run_id") ? "  (yoban show RUN for its jobs and output)" : "");
	print_time("detected:", col(r, 0, "detected_at"));
	print_time("notified:", col(r, 0, "notified_at"));
	print_time("escalated:", col(r, 0, "escalated_at"));
	print_time("acknowledged:", col(r, 0, "acknowledged_at"));
	printf("%-17s %s\n", "acknowledged by:", or_dash(col(r, 0, "acknowledged_by")));
	printf("%-17s %s\n", "comment:", or_dash(col(r, 0, "ack_comment")));
	print_time("recovered:", col(r, 0, "recovered_at"));
	print_time("resolved:", col(r, 0, "resolved_at"));
	printf("%-17s %s\n", "resolved by:", or_dash(col(r, 0, "resolved_by")));
	printf("%-17s %s\n", "cause:", or_dash(col(r, 0, "cause")));
	printf("%-17s %s\n", "temporary fix:", or_dash(col(r, 0, "temporary_fix")));
	printf("%-17s %s\n", "permanent fix:", or_dash(col(r, 0, "permanent_fix")));
	static const char *const clocks[] = { "report", "start", "recover" };
	printf("SLA:\n");
	for (size_t i = 0; i < YB_ARRAY_LEN(clocks); i++) {
		char key[32], due[32];
		incident_clock_text(r, 0, clocks[i], clock, sizeof(clock));
		snprintf(key, sizeof(key), "%s_due", clocks[i]);
		opdb_format_time(col(r, 0, key), due, sizeof(due));
		printf("  %-8s due %-19s %s\n", clocks[i], due, clock);
	}
	printf("notices:\n");
	for (int i = 0; i < db_result_rows(d); i++) {
		char t[32];
		opdb_format_time(col(d, i, "delivered_at"), t, sizeof(t));
		printf("  #%-5s %-10s via %-12s %-9s attempts %s, delivered %s%s%s\n",
		       col(d, i, "id"), col(d, i, "event"), col(d, i, "channel"), col(d, i, "state"),
		       col(d, i, "attempts"), t, col(d, i, "last_error") ? ": " : "",
		       col(d, i, "last_error") ? col(d, i, "last_error") : "");
	}
	if (db_result_rows(d) == 0)
		printf("  (none)\n");
}

static int parse_id(const char *text, char *out, size_t size)
{
	char *end;
	const char *s = text[0] == '#' ? text + 1 : text;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || v < 1)
		return cli_usage_error(&cmd_incident, "'%s' is not an incident id (a positive number; "
				       "see 'yoban incidents')", text);
	snprintf(out, size, "%lld", v);
	return 0;
}

/* A refused call: "no incident N" and the definer's own words come through as they are. */
static int report(struct db_conn *c, const struct yb_err *err, const char *role)
{
	const char *state = db_sqlstate(c);
	if (!strcmp(state, "P0002") || !strcmp(state, "22023")) {
		cli_error("%s", err->msg);
		return YB_EXIT_FAIL;
	}
	return opdb_report(c, err, role);
}

static int do_show(struct db_conn *c, const struct sla_params *sla, const char *id, bool json)
{
	struct db_result *r = NULL, *d = NULL;
	const char *p[] = { sla->report[0] ? sla->report : NULL, sla->start[0] ? sla->start : NULL,
			    sla->recover[0] ? sla->recover : NULL, id };
	int status = opdb_query(c, show_sql, 4, p, &r, "yoban_reviewer");
	if (status)
		return status;
	if (db_result_rows(r) == 0) {
		cli_error("no incident %s (see 'yoban incidents')", id);
		db_result_free(r);
		return YB_EXIT_FAIL;
	}
	const char *dp[] = { id };
	if ((status = opdb_query(c, deliveries_sql, 1, dp, &d, "yoban_reviewer")) == 0) {
		if (json) {
			struct yb_json *o = opdb_row_json(r, 0), *arr = yb_json_array();
			for (int i = 0; i < db_result_rows(d); i++)
				yb_json_push(arr, opdb_row_json(d, i));
			yb_json_set(o, "notices", arr);
			yb_json_print(o, YB_JSON_PRETTY);
			yb_json_free(o);
		} else {
			print_text(r, d);
		}
	}
	db_result_free(r);
	db_result_free(d);
	return status;
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "comment", required_argument, NULL, 'c' },
		{ "cause", required_argument, NULL, 'a' },
		{ "temporary-fix", required_argument, NULL, 't' },
		{ "permanent-fix", required_argument, NULL, 'p' },
		{ "recovered-at", required_argument, NULL, 'r' },
		{ "config", required_argument, NULL, 'C' },
		{ "format", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *comment = NULL, *cause = NULL, *temp = NULL, *perm = NULL,
		   *recovered = NULL;
	bool json = false;
	int opt, status;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': comment = optarg; break;
		case 'a': cause = optarg; break;
		case 't': temp = optarg; break;
		case 'p': perm = optarg; break;
		case 'r': recovered = optarg; break;
		case 'C': config = optarg; break;
		case 'F':
			if (cli_parse_format(&cmd_incident, optarg, &json) != 0)
				return YB_EXIT_USAGE;
			break;
		default:
			return cli_usage_error(&cmd_incident, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return cli_usage_error(&cmd_incident, "give an action and an incident: show N, ack N or "
				       "resolve N");
	const char *action = argv[optind];
	char id[24];
	if ((status = parse_id(argv[optind + 1], id, sizeof(id))) != 0)
		return status;
	bool show = !strcmp(action, "show"), ack = !strcmp(action, "ack"),
	     resolve = !strcmp(action, "resolve");
	if (!show && !ack && !resolve)
		return cli_usage_error(&cmd_incident, "unknown action '%s' (show, ack or resolve)",
				       action);
	if (!ack && comment)
		return cli_usage_error(&cmd_incident, "--comment goes with ack");
	if (!resolve && (cause || temp || perm || recovered))
		return cli_usage_error(&cmd_incident, "--cause, --temporary-fix, --permanent-fix and "
				       "--recovered-at go with resolve");
	if (resolve && (!cause || !temp || !perm))
		return cli_usage_error(&cmd_incident, "resolve needs the record: --cause TEXT "
				       "--temporary-fix TEXT --permanent-fix TEXT");
	struct sla_params sla;
	if ((status = sla_params_load(config, &sla)) != 0)
		return status;
	struct db_conn *c = NULL;
	if ((status = opdb_open(config, &c)) != 0)
		goto out;
	struct yb_err err = { 0 };
	if (ack) {
		const char *p[] = { id, comment };
		if (db_exec(c, "SELECT yoban.yoban_incident_ack($1::bigint, $2)", 2, p, NULL, &err) < 0) {
			status = report(c, &err, "yoban_operator or yoban_admin");
			goto out;
		}
		if (!json)
			printf("incident %s acknowledged: work started\n", id);
	} else if (resolve) {
		const char *p[] = { id, cause, temp, perm, recovered };
		if (db_exec(c, "SELECT yoban.yoban_incident_resolve($1::bigint, $2, $3, $4, "
			       "$5::timestamptz)", 5, p, NULL, &err) < 0) {
			const char *state = db_sqlstate(c);
			if (recovered && !strncmp(state, "2200", 4))
				status = cli_usage_error(&cmd_incident, "--recovered-at '%s' is not a time "
							 "(%s)", recovered, err.msg);
			else
				status = report(c, &err, "yoban_operator or yoban_admin");
			goto out;
		}
		if (!json)
			printf("incident %s resolved\n", id);
	}
	if (show || json)
		status = do_show(c, &sla, id, json);
out:
	db_close(c);
	sla_params_release(&sla);
	return status;
}

const struct yb_cmd cmd_incident = {
	.name = "incident",
	.summary = "show, acknowledge or resolve one incident",
	.help =
		"usage: yoban incident show N [--format json] [--config FILE]\n"
		"       yoban incident ack N [--comment TEXT]\n"
		"       yoban incident resolve N --cause TEXT --temporary-fix TEXT --permanent-fix TEXT\n"
		"                                [--recovered-at TIME]\n"
		"\n"
		"show: the incident's record, its SLA clocks (report, start, recover: due, met,\n"
		"breached or time left) and the notices sent about it.\n"
		"ack: work has started (stops the start clock; an incident not acknowledged within\n"
		"contract.sla.report is escalated to notify.escalation). Once only.\n"
		"resolve: closes it with the incident record the contract asks for: the cause, the\n"
		"temporary fix, the permanent fix, and when service came back (--recovered-at, ISO\n"
		"8601; default now; not before the detection). Once only; a later success of the\n"
		"runbook never closes an incident by itself.\n"
		"ack and resolve need yoban_operator or yoban_admin (as trigger) and record who you\n"
		"are (your PostgreSQL login); show needs read access.\n"
		"\n"
		"examples:\n"
		"  yoban incident ack 3 --comment '当番が対応開始 / on-duty started'\n"
		"  yoban incident resolve 3 --cause 'disk full on batch-01' \\\n"
		"      --temporary-fix 'old spool removed, batch rerun' \\\n"
		"      --permanent-fix 'spool rotation added to the nightly runbook' \\\n"
		"      --recovered-at 2026-11-22T04:10+09:00\n",
	.run = run,
};
