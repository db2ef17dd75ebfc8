/*
 * cmd_status.c: `yoban status`: is a scheduler leading, when will things fire, what runs now.
 *
 * The leader is read from yoban.heartbeats (yoband refreshes its row every 10 s); a heartbeat
 * older than STALE_SECONDS means nobody is scheduling, and the command says so loudly and exits
 * 1, so it can sit in a monitoring check. Next fires are shown when the database has them (a
 * relation yoban.next_fires with runbook and next_fire); yoband keeps them in memory only, so
 * otherwise the command says where to look ('yoban next RUNBOOK.yaml').
 */
#include "cmd_db_common.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct yb_cmd cmd_status;

#define STALE_SECONDS 30 /* three missed heartbeats */

static const char daemons_sql[] =
	"SELECT h.instance, h.host, h.pid, h.leader, to_json(h.started_at) #>> '{}' AS started_at,"
	" to_json(h.at) #>> '{}' AS heartbeat_at,"
	" extract(epoch FROM now() - h.at)::float8 AS heartbeat_age_seconds,"
	" (now() - h.at) > make_interval(secs => $1::float8) AS stale"
	" FROM yoban.heartbeats h ORDER BY h.leader DESC, h.at DESC";

static const char has_next_sql[] = "SELECT to_regclass('yoban.next_fires') IS NOT NULL";
static const char next_sql[] =
	"SELECT n.runbook, to_json(n.next_fire) #>> '{}' AS next_fire FROM yoban.next_fires n"
	" ORDER BY n.next_fire, n.runbook";

static const char active_sql[] =
	"SELECT r.id, r.runbook, r.mode::text AS mode, r.trigger::text AS trigger,"
	" r.state::text AS state, to_json(r.started_at) #>> '{}' AS started_at,"
	" extract(epoch FROM now() - coalesce(r.started_at, r.created_at))::float8 AS age_seconds,"
	" r.requested_by,"
	" (SELECT j.step FROM yoban.jobs j WHERE j.run_id = r.id ORDER BY j.step_index DESC, j.id DESC"
	"  LIMIT 1) AS current_step, r.reason,"
	" EXISTS (SELECT 1 FROM yoban.jobs h WHERE h.run_id = r.id AND h.holds_slot) AS holds_slot"
	" FROM yoban.runs r WHERE r.state IN ('pending', 'queued', 'running', 'cancelling')"
	"  OR r.id IN (SELECT h.run_id FROM yoban.jobs h WHERE h.holds_slot)"
	" ORDER BY r.id";

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'C' }, { "format", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	bool json = false;
	int status, opt;
	struct db_conn *c = NULL;
	struct db_result *daemons = NULL, *next = NULL, *active = NULL;
	char *has_next = NULL;
	struct yb_err err = { 0 };

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'C': config = optarg; break;
		case 'F':
			if (cli_parse_format(&cmd_status, optarg, &json) != 0)
				return YB_EXIT_USAGE;
			break;
		default:
			return cli_usage_error(&cmd_status, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc != optind)
		return cli_usage_error(&cmd_status, "unexpected argument '%s'", argv[optind]);
	if ((status = opdb_open(config, &c)) != 0)
		return status;
	char stale[16];
	snprintf(stale, sizeof(stale), "%d", STALE_SECONDS);
	const char *p[] = { stale };
	if ((status = opdb_query(c, daemons_sql, 1, p, &daemons, "yoban_reviewer")) != 0 ||
	    (status = opdb_query(c, active_sql, 0, NULL, &active, "yoban_reviewer")) != 0)
		goto out;
	if (db_query_value(c, has_next_sql, 0, NULL, &has_next, &err) < 0) {
		status = opdb_report(c, &err, "yoban_reviewer");
		goto out;
	}
	if (has_next && has_next[0] == 't' &&
	    (status = opdb_query(c, next_sql, 0, NULL, &next, "yoban_reviewer")) != 0)
		goto out;

	int leader = -1;
	for (int i = 0; i < db_result_rows(daemons); i++) {
		const char *is_leader = db_result_get(daemons, i, 3);
		if (is_leader[0] == 't' && db_result_get(daemons, i, 7)[0] == 'f') {
			leader = i;
			break;
		}
	}
	if (json) {
		struct yb_json *o = yb_json_object();
		struct yb_json *arr = yb_json_array();
		for (int i = 0; i < db_result_rows(daemons); i++)
			yb_json_push(arr, opdb_row_json(daemons, i));
		yb_json_set(o, "leader", leader >= 0 ? opdb_row_json(daemons, leader) : yb_json_null());
		yb_json_set(o, "daemons", arr);
		yb_json_set(o, "stale_after_seconds", yb_json_int(STALE_SECONDS));
		if (next) {
			arr = yb_json_array();
			for (int i = 0; i < db_result_rows(next); i++)
				yb_json_push(arr, opdb_row_json(next, i));
			yb_json_set(o, "next_fires", arr);
		} else {
			yb_json_set(o, "next_fires", yb_json_null());
		}
		arr = yb_json_array();
		for (int i = 0; i < db_result_rows(active); i++) {
			struct yb_json *ro = opdb_row_json(active, i);
			const char *holds = db_result_get(active, i, db_result_col(active, "holds_slot"));
			yb_json_set(ro, "holds_slot", yb_json_bool(holds[0] == 't'));
			yb_json_push(arr, ro);
		}
		yb_json_set(o, "active_runs", arr);
		yb_json_print(o, YB_JSON_PRETTY);
		yb_json_free(o);
	} else {
		char t[32], age[32];
		if (leader >= 0) {
			opdb_format_seconds(db_result_get(daemons, leader, 6), age, sizeof(age));
			opdb_format_time(db_result_get(daemons, leader, 4), t, sizeof(t));
			printf("leader      %s on %s, pid %s, up since %s, last heartbeat %s ago\n",
			       db_result_get(daemons, leader, 0), db_result_get(daemons, leader, 1),
			       db_result_get(daemons, leader, 2), t, age);
		} else {
			printf("leader      NO LEADER: no yoband has sent a heartbeat in the last %d s; "
			       "nothing is being scheduled\n", STALE_SECONDS);
		}
		for (int i = 0; i < db_result_rows(daemons); i++) {
			if (i == leader)
				continue;
			opdb_format_seconds(db_result_get(daemons, i, 6), age, sizeof(age));
			/* a stale row is a daemon that stopped (cleanly: leader = false) or died */
			bool gone = db_result_get(daemons, i, 7)[0] == 't';
			printf("%-11s %s on %s, pid %s, last heartbeat %s ago\n",
			       gone ? "gone" : db_result_get(daemons, i, 3)[0] == 't' ? "leader?" : "standby",
			       db_result_get(daemons, i, 0), db_result_get(daemons, i, 1),
			       db_result_get(daemons, i, 2), age);
		}
		printf("\nnext fires\n");
		if (!next) {
			printf("  yoband keeps its timers in memory, not in the database: see\n"
			       "  'yoban next RUNBOOK.yaml' (the same calculation) or yoband's log\n");
		} else {
			for (int i = 0; i < db_result_rows(next); i++) {
				opdb_format_time(db_result_get(next, i, 1), t, sizeof(t));
				printf("  %-19s %s\n", t, db_result_get(next, i, 0));
			}
			if (db_result_rows(next) == 0)
				printf("  (none scheduled)\n");
		}
		printf("\nactive runs\n");
		if (db_result_rows(active) == 0)
			printf("  (none)\n");
		for (int i = 0; i < db_result_rows(active); i++) {
			opdb_format_seconds(db_result_get(active, i, 6), age, sizeof(age));
			const char *step = db_result_get(active, i, 8);
			const char *reason = db_result_get(active, i, 9);
			bool waiting = !strcmp(db_result_get(active, i, 4), "queued");
			if (db_result_get(active, i, db_result_col(active, "holds_slot"))[0] == 't') {
				printf("  %-7s %-28s %-10s holding its slot and locks: processes of step '%s'"
				       " may still run (see 'yoban show %s'; free it: 'yoban release %s')\n",
				       db_result_get(active, i, 0), db_result_get(active, i, 1),
				       db_result_get(active, i, 4), step ? step : "?",
				       db_result_get(active, i, 0), db_result_get(active, i, 0));
				continue;
			}
			printf("  %-7s %-28s %-10s %-8s for %-8s %s%s%s\n", db_result_get(active, i, 0),
			       db_result_get(active, i, 1), db_result_get(active, i, 4),
			       db_result_get(active, i, 3), age, step && !waiting ? "step " : "",
			       step && !waiting ? step : "", waiting && reason ? reason : "");
		}
	}
	if (leader < 0) {
		if (json)
			cli_error("no leader: no yoband has sent a heartbeat in the last %d s", STALE_SECONDS);
		status = YB_EXIT_FAIL;
	}
out:
	free(has_next);
	db_result_free(daemons);
	db_result_free(next);
	db_result_free(active);
	db_close(c);
	return status;
}

const struct yb_cmd cmd_status = {
	.name = "status",
	.summary = "the leading scheduler, next fires and the runs in flight",
	.help =
		"usage: yoban status [--config FILE] [--format text|json]\n"
		"\n"
		"Shows which yoband leads (instance, host, pid, age of its last heartbeat) and its\n"
		"standbys, the next fires when the database records them, and every run not yet\n"
		"finished (pending, queued, running, cancelling) with its current step, and every lost\n"
		"run still holding its slot (processes of it may run: 'yoban release RUN'). yoband sends a\n"
		"heartbeat every 10 s; with none from a leader in the last 30 s the command prints\n"
		"NO LEADER and exits 1 (nothing is being scheduled: look at yoband's host).\n"
		"\n"
		"  --config FILE  the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"  --format json  one object: leader, daemons, stale_after_seconds, next_fires (null\n"
		"                 when not recorded), active_runs\n"
		"\n"
		"Exit status: 0 a leader is alive, 1 no leader (or the database refused), 2 usage.\n",
	.run = run,
};
