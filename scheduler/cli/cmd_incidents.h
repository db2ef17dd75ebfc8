/*
 * cmd_incidents.h: what `yoban incidents` and `yoban incident` share: the site's SLA figures as
 * query parameters, the one SELECT that reads incidents with their three SLA clocks, and how a
 * clock is printed.
 */
#ifndef YB_CMD_INCIDENTS_H
#define YB_CMD_INCIDENTS_H

#include "cmd_db_common.h"

/* The site's contract, as interval texts ("1800000 milliseconds") or NULL when not set, and its
 * site-wide maintenance windows as two arrays of epoch seconds ("{1,2}"). */
struct sla_params {
	char report[48], start[48], recover[48];
	char *maint_from, *maint_to; /* "{...}" */
	double availability;         /* percent, 0: none */
};

/* Loads yoban.yaml (--config, $YOBAN_CONFIG, /etc/yoban/yoban.yaml) for its contract. Prints and
 * returns an exit status. */
int sla_params_load(const char *config, struct sla_params *out);
void sla_params_release(struct sla_params *p);

/* SELECT ... FROM yoban.incidents i WHERE <filter> with $1 $2 $3 the report, start and recover
 * intervals: columns id, runbook, event, run_id, summary, detected_at, notified_at,
 * escalated_at, acknowledged_at, acknowledged_by, ack_comment, recovered_at, resolved_at,
 * resolved_by, cause, temporary_fix, permanent_fix, and for each clock C in report, start,
 * recover: C_due, C_state (met, breached, running, or NULL without a contract figure),
 * C_left_seconds (while running). */
#define INCIDENT_COLUMNS                                                                          \
	"i.id, i.runbook, i.event::text AS event, i.run_id, i.summary,"                           \
	" to_json(i.detected_at) #>> '{}' AS detected_at,"                                       \
	" to_json(i.notified_at) #>> '{}' AS notified_at,"                                       \
	" to_json(i.escalated_at) #>> '{}' AS escalated_at,"                                     \
	" to_json(i.acknowledged_at) #>> '{}' AS acknowledged_at, i.acknowledged_by, i.ack_comment," \
	" to_json(i.recovered_at) #>> '{}' AS recovered_at,"                                     \
	" to_json(i.resolved_at) #>> '{}' AS resolved_at, i.resolved_by, i.cause,"                \
	" i.temporary_fix, i.permanent_fix,"                                                     \
	INCIDENT_CLOCK("report", "$1", "i.notified_at") ","                                       \
	INCIDENT_CLOCK("start", "$2", "i.acknowledged_at") ","                                    \
	INCIDENT_CLOCK("recover", "$3", "i.recovered_at")
#define INCIDENT_CLOCK(name, param, done)                                                       \
	" to_json(i.detected_at + " param "::interval) #>> '{}' AS " name "_due,"                  \
	" CASE WHEN " param "::interval IS NULL THEN NULL"                                        \
	" WHEN " done " IS NOT NULL THEN CASE WHEN " done " <= i.detected_at + " param             \
	"::interval THEN 'met' ELSE 'breached' END"                                                \
	" WHEN now() > i.detected_at + " param "::interval THEN 'breached' ELSE 'running' END AS " \
	name "_state,"                                                                             \
	" CASE WHEN " done " IS NULL AND now() <= i.detected_at + " param "::interval THEN"         \
	" extract(epoch FROM i.detected_at + " param "::interval - now())::float8 END AS " name     \
	"_left_seconds"

/* "met", "breached", "2h03m left", or "-" for a clock, into out. */
void incident_clock_text(const struct db_result *r, int row, const char *name, char *out,
			 size_t size);

#endif
