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
	struct yd_run *run = yd_run_new(d, run_id, name, yd_rev_ref(rev), false, trigger, at, params,
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

/* Claims one fire and waits for the answer (catch-up, before the loop serves); skip_reason:
 * record it as skipped. Returns <0 when the database failed. */
static int fire(struct yd *d, struct yd_entry *e, int64_t at, const char *trigger,
		const char *skip_reason)
{
	struct yb_err err = { 0 };
	struct yd_rev *rev = e->rev;
	if (yd_rev_record(d, rev) < 0)
		return YB_EDB;
	struct yb_json *params = fire_params(e, at, &skip_reason);
	char *ptext = yb_json_dump(params, 0);
	char at_text[24], rev_text[24];
	const char *p[] = { e->name, yd_idtext(at_text, at), yd_idtext(rev_text, rev->id), ptext, trigger };
	struct db_result *res = NULL;
	int rc = yd_exec(d, "SELECT run_id, claimed FROM yoban.yoban_claim_fire($1, to_timestamp($2::bigint), "
			    "'production', $3::bigint, $4::jsonb, $5::yoban.run_trigger)", 5, p, &res, &err);
	free(ptext);
	if (rc < 0) {
		yb_json_free(params);
		return rc;
	}
	int64_t run_id = strtoll(db_result_get(res, 0, 0), NULL, 10);
	bool claimed = !strcmp(db_result_get(res, 0, 1), "t");
	db_result_free(res);
	fire_claimed(d, e->name, rev, at, trigger, skip_reason, params, run_id, claimed);
	return 0;
}

/* Fires due together are claimed by one statement (one transaction): the claims of a batch. */
#define YD_FIRE_BATCH 500

struct fire_item {
	char *name;
	struct yd_rev *rev;
	int64_t at;
	const char *skip_reason; /* static text or NULL */
	struct yb_json *params;
};

struct fire_batch {
	size_t n;
	struct fire_item *items;
};

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
	free(fb);
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
			fire_claimed(d, it->name, it->rev, it->at, "schedule", it->skip_reason, it->params,
				     run_id, claimed);
			it->params = NULL;
		}
	}
	/* fb itself is freed by the queue (fire_batch_free) */
}

void yd_fire_due(struct yd *d)
{
	int64_t now = yd_now_s();
	struct yd_entry *e;
	while (!d->db_broken && (e = yd_heap_top(d)) && e->next_fire <= now) {
		struct fire_batch *fb = xcalloc(1, sizeof(*fb));
		fb->items = xcalloc(YD_FIRE_BATCH, sizeof(*fb->items));
		struct yb_buf a_name, a_at, a_rev, a_params;
		yb_buf_init(&a_name, 0);
		yb_buf_init(&a_at, 0);
		yb_buf_init(&a_rev, 0);
		yb_buf_init(&a_params, 0);
		yb_buf_append(&a_name, "{", 1);
		yb_buf_append(&a_at, "{", 1);
		yb_buf_append(&a_rev, "{", 1);
		yb_buf_append(&a_params, "{", 1);
		while (fb->n < YD_FIRE_BATCH && !d->db_broken && (e = yd_heap_top(d)) &&
		       e->next_fire <= now) {
			int64_t at = e->next_fire;
			e->cursor = at;
			yd_heap_update(d, e);
			/* Blocks only for a revision not recorded yet (recorded at load, normally). */
			if (yd_rev_record(d, e->rev) < 0)
				continue; /* logged; a broken connection is caught up by the next leader */
			struct fire_item *it = &fb->items[fb->n++];
			it->name = xstrdup(e->name);
			it->rev = yd_rev_ref(e->rev);
			it->at = at;
			it->params = fire_params(e, at, &it->skip_reason);
			char num[24];
			char *ptext = yb_json_dump(it->params, 0);
			yd_arr_add(&a_name, e->name);
			yd_arr_add(&a_at, yd_idtext(num, at));
			yd_arr_add(&a_rev, yd_idtext(num, e->rev->id));
			yd_arr_add(&a_params, ptext);
			free(ptext);
		}
		yb_buf_append(&a_name, "}", 1);
		yb_buf_append(&a_at, "}", 1);
		yb_buf_append(&a_rev, "}", 1);
		yb_buf_append(&a_params, "}", 1);
		if (fb->n && !d->db_broken) {
			const char *p[] = { a_name.data, a_at.data, a_rev.data, a_params.data };
			struct fire_batch *ctx = fb;
			fb = NULL;
			yd_decide(d, "the claim of due fires",
				  "SELECT c.run_id, c.claimed FROM unnest($1::text[], $2::bigint[], "
				  "$3::bigint[], $4::jsonb[]) WITH ORDINALITY AS f(runbook, at, rev, params, ord) "
				  "CROSS JOIN LATERAL yoban.yoban_claim_fire(f.runbook, to_timestamp(f.at), "
				  "'production', f.rev, f.params, 'schedule') AS c ORDER BY f.ord",
				  4, p, fires_claimed, ctx, fire_batch_free);
		}
		fire_batch_free(fb);
		yb_buf_release(&a_name);
		yb_buf_release(&a_at);
		yb_buf_release(&a_rev);
		yb_buf_release(&a_params);
	}
}

/* Missed fires since the last claimed one (or the last leader's heartbeat), by catchup policy. */
void yd_catch_up(struct yd *d)
{
	int64_t now = yd_now_s();
	const char *me[] = { d->instance };
	char *hb = yd_value(d, "SELECT extract(epoch FROM max(at))::bigint FROM yoban.heartbeats "
			       "WHERE leader AND instance <> $1", 1, me);
	int64_t since_hb = hb ? strtoll(hb, NULL, 10) : now;
	free(hb);
	for (size_t i = 0; i < d->n_entries && !d->db_broken; i++) {
		struct yd_entry *e = d->entries[i];
		const struct rb_runbook *rb = e->rev->rb;
		if (!rb->has_schedule)
			continue;
		const char *p[] = { e->name };
		char *last = yd_value(d, "SELECT extract(epoch FROM max(scheduled_for))::bigint FROM yoban.runs "
					 "WHERE runbook = $1 AND mode = 'production' AND "
					 "trigger IN ('schedule', 'catchup')", 1, p);
		int64_t cursor = last ? strtoll(last, NULL, 10) : since_hb;
		free(last);
		if (cursor == since_hb) {
			/* Never fired: not before the runbook was first seen either. */
			char *first = yd_value(d, "SELECT extract(epoch FROM min(loaded_at))::bigint FROM "
						  "yoban.runbook_revisions WHERE runbook = $1", 1, p);
			if (first && strtoll(first, NULL, 10) > cursor)
				cursor = strtoll(first, NULL, 10);
			free(first);
		}
		int64_t window_start = now - rb->catchup_window_ms / 1000;
		if (cursor < window_start)
			cursor = window_start;
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
			fire(d, e, missed[k], "catchup", skip);
		}
		free(missed);
		if (d->db_broken)
			return;
		/* No fire lies in (t, now]: the timers go on from now. */
		e->cursor = now > cursor ? now : cursor;
		yd_heap_update(d, e);
	}
}

