/*
 * incident_sql.h: the one formula of an incident's three SLA clocks (report, start, recover), as
 * the select list that `yoban incidents`, `yoban incident show` and the monthly report all read
 * incidents with. It lives in the report module, below the CLI, so both use it from here.
 */
#ifndef YB_INCIDENT_SQL_H
#define YB_INCIDENT_SQL_H

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

#endif
