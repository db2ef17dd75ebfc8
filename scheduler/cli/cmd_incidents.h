/*
 * cmd_incidents.h: what `yoban incidents` and `yoban incident` share: the site's SLA figures as
 * query parameters and how a clock is printed (the SELECT with the clocks is incident_sql.h's).
 */
#ifndef YB_CMD_INCIDENTS_H
#define YB_CMD_INCIDENTS_H

#include "cmd_db_common.h"
#include "incident_sql.h" /* INCIDENT_COLUMNS: the one SLA clock formula */

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

/* "met", "breached", "2h03m left", or "-" for a clock, into out. */
void incident_clock_text(const struct db_result *r, int row, const char *name, char *out,
			 size_t size);

#endif
