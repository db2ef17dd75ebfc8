/*
 * contract.c: the site's `contract:` written where the database can use it.
 *
 * The one idea: effort rules live in the database (schemas/sql/012_effort.sql: the conversion to
 * person-months, the caps that raise cap warnings, the team scheduled runs' effort is logged to),
 * so the leader copies the contract it loaded into the one row of yoban.contract on every load and
 * reload, in one parameterized UPDATE that changes the row (and writes an audit row with the new
 * terms) only when a figure changed. A site config without `contract:` writes the defaults
 * (8 hours a day, 20 days a month, no caps, team "operations-team").
 */
#include "yoband.h"

#include <stdio.h>
#include <stdlib.h>

#include "civil.h"

static void date_text(char *out, size_t size, int64_t days)
{
	int y, m, dd;
	yb_civil_from_days(days, &y, &m, &dd);
	snprintf(out, size, "%04d-%02d-%02d", y, m, dd);
}

/* A figure as JSON: 3, not 3.0, when it is whole (the cap warnings quote it). */
static struct yb_json *figure(double v)
{
	return v == (double)(int64_t)v ? yb_json_int((int64_t)v) : yb_json_real(v);
}

/* {"service": {"per_month": 3, "total": 48}, ...}: only the caps the contract names. */
static char *caps_json(const struct rb_contract *c)
{
	struct yb_json *caps = yb_json_object();
	for (int i = 0; i < RB_EFFORT_N; i++) {
		if (c->caps[i].per_month < 0 && c->caps[i].total < 0)
			continue;
		struct yb_json *one = yb_json_object();
		if (c->caps[i].per_month >= 0)
			yb_json_set(one, "per_month", figure(c->caps[i].per_month));
		if (c->caps[i].total >= 0)
			yb_json_set(one, "total", figure(c->caps[i].total));
		yb_json_set(caps, rb_effort_category_name((enum rb_effort_category)i), one);
	}
	char *text = yb_json_dump(caps, 0);
	yb_json_free(caps);
	return text;
}

void yd_contract_record(struct yd *d)
{
	if (!d->db || d->db_broken || d->phase != YD_LEADER || !d->base)
		return;
	const struct rb_contract *c = &d->base->set->site.contract;
	bool period = c->period_from_day || c->period_to_day;
	char from[16], to[16], hpd[32], dpm[32];
	date_text(from, sizeof(from), c->period_from_day);
	date_text(to, sizeof(to), c->period_to_day);
	snprintf(hpd, sizeof(hpd), "%.4f", c->hours_per_day);
	snprintf(dpm, sizeof(dpm), "%.4f", c->days_per_month);
	char *caps = caps_json(c);
	const char *p[] = { period ? from : NULL, period ? to : NULL, hpd, dpm, caps,
			    c->team ? c->team : RB_DEFAULT_TEAM };
	yd_async(d, "recording the contract", false,
		 "WITH k AS (UPDATE yoban.contract SET period_from = $1::date, period_to = $2::date, "
		 "hours_per_day = $3::numeric, days_per_month = $4::numeric, caps = $5::jsonb, "
		 "team = $6, updated_at = now() WHERE (period_from, period_to, hours_per_day, "
		 "days_per_month, caps, team) IS DISTINCT FROM ($1::date, $2::date, $3::numeric, "
		 "$4::numeric, $5::jsonb, $6) RETURNING period_from, period_to, hours_per_day, "
		 "days_per_month, caps, team) "
		 "INSERT INTO yoban.audit (action, detail) SELECT 'contract:load', to_jsonb(k) FROM k",
		 6, p);
	free(caps);
}
