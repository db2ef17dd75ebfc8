/*
 * fires.c: fires (one scheduled instant of one runbook) from the timer heap, and the catch-up of
 * the fires missed while no scheduler led.
 *
 * The one idea: a fire is claimed (yoban_claim_fire, a unique key on runbook and instant) before
 * anything runs, so two schedulers can never both run it; the run is made only for a claim that
 * came back claimed = true. The fires due in one turn are claimed by one statement, and so are a
 * new leader's missed fires, for every runbook at once.
 */
#include "yoband.h"

#include <stdlib.h>
#include <string.h>

#include "sched.h"
#include "tz.h"

#define YD_MAX_CATCHUP 1000        /* missed fires handled per runbook and take-over */
#define YD_MAX_OLD_MISSED 1000000  /* fires before the window counted for the log, at most */

/* ---- fires -------------------------------------------------------------------------------- */

/* A claimed (or already claimed) fire: the run is made and goes its way. Takes params. */
static void fire_claimed(struct yd *d, const char *name, struct yd_rev *rev, int64_t at,
			 const char *trigger, const char *skip_reason, struct yb_json *params,
			 int64_t run_id, bool claimed)
{
	char when[64];
	tz_format_iso(yd_zone_of(rev->rb), at, when, sizeof(when));
	yd_log("fire runbook '%s' at %s (%s)", name, when, trigger);
	if (!claimed) {
		yd_log("claim: fire of '%s' at %s was already claimed (run %lld): nothing to do", name,
		       when, (long long)run_id);
		yb_json_free(params);
		return;
	}
	yd_log("claim: run %lld for '%s' at %s", (long long)run_id, name, when);
	/* A rehearsal runs the rehearsed runbook's current revision on its staging hosts. */
	struct yd_rev *use = rev;
	bool staging = false;
	if (rev->rb->kind == RB_KIND_REHEARSAL) {
		struct yd_entry *t = rev->rb->rehearse ? yd_entry_find(d, rev->rb->rehearse) : NULL;
		if (t) {
			use = t->rev;
			staging = true;
		} else if (!skip_reason) {
			skip_reason = "the rehearsed runbook is not loaded";
		}
	}
	struct yd_run *run = yd_run_new(d, run_id, name, yd_rev_ref(use), staging, trigger, at, params,
				     RS_PENDING);
	const struct rb_maintenance *m = yd_maintenance_at(d, name, at);
	char why[256];
	if (!skip_reason && m && m->action == RB_MAINT_SKIP) {
		snprintf(why, sizeof(why), "in maintenance window '%s' (skip)", m->name);
		skip_reason = why;
	}
	if (skip_reason) {
		yd_run_finish(d, run, RS_SKIPPED, skip_reason);
		return;
	}
	if (m)
		run->hold_until = m->to;
	yd_run_advance(d, run);
}

/* The run's parameters for a fire; *skip_reason set when they cannot be resolved. */
static struct yb_json *fire_params(struct yd_entry *e, int64_t at, const char **skip_reason)
{
	struct yb_err err = { 0 };
	struct yb_json *params = yd_params_resolve(e->rev->rb, NULL, at, &err);
	if (!params) {
		yd_log("fire of '%s' at %lld: %s", e->name, (long long)at, err.msg);
		params = yb_json_object();
		if (!*skip_reason)
			*skip_reason = "a required parameter has no default";
	}
	return params;
}

/* Fires claimed together by one statement (one transaction): the fires due in one turn, or a
 * share of a new leader's missed fires. */
#define YD_FIRE_BATCH 500
#define YD_CATCHUP_READ 5000       /* runbooks whose last fire one statement reads */

struct fire_item {
	char *name;
	struct yd_rev *rev;
	int64_t at;
	const char *skip_reason; /* static text or NULL */
	struct yb_json *params;
};

struct fire_batch {
	const char *trigger;     /* "schedule" or "catchup" */
	size_t n;
	struct fire_item *items;
	struct yb_buf a_name, a_at, a_rev, a_params; /* the claim's parameters, as arrays */
};

static struct fire_batch *fire_batch_new(const char *trigger)
{
	struct fire_batch *fb = xcalloc(1, sizeof(*fb));
	fb->trigger = trigger;
	fb->items = xcalloc(YD_FIRE_BATCH, sizeof(*fb->items));
	yd_arr_open(&fb->a_name);
	yd_arr_open(&fb->a_at);
	yd_arr_open(&fb->a_rev);
	yd_arr_open(&fb->a_params);
	return fb;
}

static void fire_batch_free(void *ctx)
{
	struct fire_batch *fb = ctx;
	if (!fb)
		return;
	for (size_t i = 0; i < fb->n; i++) {
		free(fb->items[i].name);
		yd_rev_unref(fb->items[i].rev);
		yb_json_free(fb->items[i].params);
	}
	free(fb->items);
	yb_buf_release(&fb->a_name);
	yb_buf_release(&fb->a_at);
	yb_buf_release(&fb->a_rev);
	yb_buf_release(&fb->a_params);
	free(fb);
}

/* Adds the fire of e at at (skip_reason: recorded as skipped); false when its revision cannot
 * be recorded (logged; a broken connection is caught up by the next leader). */
static bool fire_batch_add(struct yd *d, struct fire_batch *fb, struct yd_entry *e, int64_t at,
			   const char *skip_reason)
{
	/* Blocks only for a revision not recorded yet (recorded at load, normally). */
	if (yd_rev_record(d, e->rev) < 0)
		return false;
	struct fire_item *it = &fb->items[fb->n++];
	it->name = xstrdup(e->name);
	it->rev = yd_rev_ref(e->rev);
	it->at = at;
	it->skip_reason = skip_reason;
	it->params = fire_params(e, at, &it->skip_reason);
	char num[24];
	char *ptext = yb_json_dump(it->params, 0);
	yd_arr_add(&fb->a_name, e->name);
	yd_arr_add(&fb->a_at, yd_idtext(num, at));
	yd_arr_add(&fb->a_rev, yd_idtext(num, e->rev->id));
	yd_arr_add(&fb->a_params, ptext);
	free(ptext);
	return true;
}

/* The batch's claims are in: one row per fire, in order. */
static void fires_claimed(struct yd *d, void *ctx, struct db_result *r)
{
	struct fire_batch *fb = ctx;
	if (!r || (size_t)db_result_rows(r) != fb->n) {
		/* Refused (logged): reconnect, and the leader's catch-up claims these fires. */
		yd_log("%zu fire(s) could not be claimed: reconnecting to catch up from the database", fb->n);
		d->db_broken = true;
	} else {
		for (size_t i = 0; i < fb->n; i++) {
			struct fire_item *it = &fb->items[i];
			int64_t run_id = strtoll(db_result_get(r, (int)i, 0), NULL, 10);
			bool claimed = !strcmp(db_result_get(r, (int)i, 1), "t");
			const char *gate = db_result_get(r, (int)i, 2); /* approval or staging refused */
			fire_claimed(d, it->name, it->rev, it->at, fb->trigger,
				     it->skip_reason ? it->skip_reason : gate, it->params, run_id, claimed);
			it->params = NULL;
		}
	}
	/* fb itself is freed by the queue (fire_batch_free) or the caller */
}

static const char claim_sql[] =
	"SELECT c.run_id, c.claimed, CASE WHEN c.claimed THEN yoban.yoban_gate_check(c.run_id) END "
	"FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::jsonb[]) "
	"WITH ORDINALITY AS f(runbook, at, rev, params, ord) CROSS JOIN LATERAL "
	"yoban.yoban_claim_fire(f.runbook, to_timestamp(f.at), 'production', f.rev, f.params, "
	"$5::yoban.run_trigger) AS c ORDER BY f.ord";

/* Sends the batch's claims; takes fb. wait: the answer is waited for and acted on now (a new
 * leader, before it serves), else it comes to fires_claimed when it is in. */
static void fire_batch_send(struct yd *d, struct fire_batch *fb, bool wait)
{
	if (!fb->n || d->db_broken) {
		fire_batch_free(fb);
		return;
	}
	yb_buf_append(&fb->a_name, "}", 1);
	yb_buf_append(&fb->a_at, "}", 1);
	yb_buf_append(&fb->a_rev, "}", 1);
	yb_buf_append(&fb->a_params, "}", 1);
	const char *p[] = { fb->a_name.data, fb->a_at.data, fb->a_rev.data, fb->a_params.data,
			    fb->trigger };
	if (!wait) {
		yd_decide(d, "the claim of due fires", claim_sql, 5, p, fires_claimed, fb, fire_batch_free);
		return;
	}
	struct db_result *res = NULL;
	if (yd_exec(d, claim_sql, 5, p, &res, NULL) == 0)
		fires_claimed(d, fb, res);
	else if (!d->db_broken)
		fires_claimed(d, fb, NULL); /* refused: reconnect and catch up again */
	db_result_free(res);
	fire_batch_free(fb);
}

void yd_fire_due(struct yd *d)
{
	int64_t now = yd_now_s();
	struct yd_entry *e;
	while (!d->db_broken && (e = yd_heap_top(d)) && e->next_fire <= now) {
		struct fire_batch *fb = fire_batch_new("schedule");
		while (fb->n < YD_FIRE_BATCH && !d->db_broken && (e = yd_heap_top(d)) &&
		       e->next_fire <= now) {
			int64_t at = e->next_fire;
			e->cursor = at;
			yd_heap_update(d, e);
			fire_batch_add(d, fb, e, at, NULL);
		}
		fire_batch_send(d, fb, false);
	}
}

/* The missed fires of e since cursor (claimed into *fb, sent when full), by its catchup policy;
 * then its timer goes on from now. */
static void catch_up_entry(struct yd *d, struct yd_entry *e, int64_t cursor, int64_t now,
			   struct fire_batch **fb)
{
	const struct rb_runbook *rb = e->rev->rb;
	int64_t window_start = now - rb->catchup_window_ms / 1000;
	if (cursor < window_start) {
		/* Fires older than the window are never run, but never passed over in silence either:
		 * the latest of them is recorded skipped (a missed fire: notice and incident), the
		 * others counted in the log. One row, not one per fire, however long the outage. */
		int64_t t = cursor, next, last_old = 0;
		size_t n_old = 0;
		while (n_old < YD_MAX_OLD_MISSED && sched_next(&rb->schedule, t, &next, NULL) == 0 &&
		       next <= window_start) {
			last_old = t = next;
			n_old++;
		}
		if (n_old && !d->db_broken) {
			yd_log("catch-up: runbook '%s' missed %s%zu fire(s) older than its catch-up window; "
			       "the latest is recorded skipped", e->name,
			       n_old == YD_MAX_OLD_MISSED ? "at least " : "", n_old);
			fire_batch_add(d, *fb, e, last_old, "missed while no scheduler led (older than the "
				       "catch-up window: this fire and any before it since the outage began)");
			if ((*fb)->n == YD_FIRE_BATCH) {
				fire_batch_send(d, *fb, true);
				*fb = fire_batch_new("catchup");
			}
		}
		cursor = window_start;
	}
	int64_t *missed = NULL;
	size_t n = 0;
	int64_t t = cursor;
	while (n < YD_MAX_CATCHUP) {
		int64_t next;
		if (sched_next(&rb->schedule, t, &next, NULL) < 0 || next > now)
			break;
		missed = xrealloc(missed, (n + 1) * sizeof(*missed));
		missed[n++] = t = next;
	}
	if (n)
		yd_log("catch-up: runbook '%s' missed %zu fire(s) (catchup: %s)", e->name, n,
		       rb_catchup_name(rb->catchup));
	for (size_t k = 0; k < n && !d->db_broken; k++) {
		const char *skip = NULL;
		if (rb->catchup == RB_CATCHUP_NONE)
			skip = "missed while no scheduler led (catchup: none)";
		else if (rb->catchup == RB_CATCHUP_LATEST && k + 1 < n)
			skip = "missed while no scheduler led (catchup: latest runs only the last)";
		fire_batch_add(d, *fb, e, missed[k], skip);
		if ((*fb)->n == YD_FIRE_BATCH) {
			fire_batch_send(d, *fb, true);
			*fb = fire_batch_new("catchup");
		}
	}
	free(missed);
	/* No fire lies in (t, now]: the timers go on from now. */
	e->cursor = now > cursor ? now : cursor;
	yd_heap_update(d, e);
}

/* Does e have a fire in (cursor, now]? (Before the window too: those are recorded missed.) */
static bool misses_since(const struct yd_entry *e, int64_t cursor, int64_t now)
{
	int64_t next;
	return sched_next(&e->rev->rb->schedule, cursor, &next, NULL) == 0 && next <= now;
}

/* One statement over the runbooks named in names (an array literal): its first column for each,
 * in order; NULL when the statement failed (logged). */
static struct db_result *read_each(struct yd *d, const char *sql, struct yb_buf *names, size_t n)
{
	struct db_result *res = NULL;
	yb_buf_append(names, "}", 1);
	const char *p[] = { names->data };
	if (yd_exec(d, sql, 1, p, &res, NULL) < 0 || (size_t)db_result_rows(res) != n) {
		db_result_free(res);
		return NULL;
	}
	return res;
}

/* Missed fires since the last claimed one (or the last leader's heartbeat), by catchup policy.
 * Grouped, so a new leader with 100,000 runbooks makes tens of statements here, not 200,000: one
 * statement reads the last fire of YD_CATCHUP_READ runbooks; the first revision's time is read
 * (one statement) only for those that never fired and would miss a fire since the heartbeat; the
 * missed fires are claimed YD_FIRE_BATCH at a time. */
void yd_catch_up(struct yd *d)
{
	int64_t now = yd_now_s();
	const char *me[] = { d->instance };
	char *hb = yd_value(d, "SELECT extract(epoch FROM max(at))::bigint FROM yoban.heartbeats "
			       "WHERE leader AND instance <> $1", 1, me);
	int64_t since_hb = hb ? strtoll(hb, NULL, 10) : now;
	free(hb);
	struct yd_entry **group = xcalloc(YD_CATCHUP_READ, sizeof(*group));
	int64_t *cursors = xcalloc(YD_CATCHUP_READ, sizeof(*cursors));
	size_t *unfired = xcalloc(YD_CATCHUP_READ, sizeof(*unfired));
	struct fire_batch *fb = fire_batch_new("catchup");
	size_t i = 0;
	while (i < d->n_entries && !d->db_broken) {
		size_t n = 0, n_unfired = 0;
		struct yb_buf names;
		yd_arr_open(&names);
		for (; i < d->n_entries && n < YD_CATCHUP_READ; i++) {
			if (!d->entries[i]->rev->rb->has_schedule)
				continue;
			group[n++] = d->entries[i];
			yd_arr_add(&names, d->entries[i]->name);
		}
		struct db_result *res = n ? read_each(d, "SELECT extract(epoch FROM (SELECT "
						      "max(r.scheduled_for) FROM yoban.runs r WHERE r.runbook = g.name "
						      "AND r.mode = 'production' AND r.trigger IN ('schedule', "
						      "'catchup')))::bigint FROM unnest($1::text[]) WITH ORDINALITY "
						      "AS g(name, ord) ORDER BY g.ord", &names, n) : NULL;
		yb_buf_release(&names);
		if (n && !res)
			break; /* logged; the connection is dropped or the next leader turn tries again */
		yd_arr_open(&names);
		for (size_t k = 0; k < n; k++) {
			const char *last = db_result_get(res, (int)k, 0);
			cursors[k] = last ? strtoll(last, NULL, 10) : since_hb;
			/* Never fired: not before the runbook was first seen either (read below, when
			 * it could matter). */
			if (cursors[k] == since_hb && misses_since(group[k], cursors[k], now)) {
				unfired[n_unfired++] = k;
				yd_arr_add(&names, group[k]->name);
			}
		}
		db_result_free(res);
		res = n_unfired ? read_each(d, "SELECT extract(epoch FROM (SELECT min(v.loaded_at) FROM "
					    "yoban.runbook_revisions v WHERE v.runbook = g.name))::bigint FROM "
					    "unnest($1::text[]) WITH ORDINALITY AS g(name, ord) ORDER BY g.ord",
					    &names, n_unfired) : NULL;
		yb_buf_release(&names);
		if (n_unfired && !res)
			break;
		for (size_t k = 0; k < n_unfired; k++) {
			const char *first = db_result_get(res, (int)k, 0);
			if (first && strtoll(first, NULL, 10) > cursors[unfired[k]])
				cursors[unfired[k]] = strtoll(first, NULL, 10);
		}
		db_result_free(res);
		for (size_t k = 0; k < n && !d->db_broken; k++)
			catch_up_entry(d, group[k], cursors[k], now, &fb);
	}
	fire_batch_send(d, fb, true);
	free(group);
	free(cursors);
	free(unfired);
}
