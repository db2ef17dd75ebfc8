/*
 * admission.c: may a pending or queued run start now? Maintenance windows, the runbook's
 * concurrency policy (allow, forbid, queue, replace) and the locks runbooks share.
 *
 * The one idea: admission is decided from the runs in memory, counting a run by the state it is
 * on its way to (yd_run_eff), so two runs admitted in one turn see each other. A run that may not
 * start yet moves to queued with the reason (once); one that may not start at all is finished
 * (skipped, failed); one that may start moves to running, and its first jobs ride with that move.
 * A lost run whose processes may still run (lost.c) counts as running: it keeps its runbook's
 * slot and its locks until the runner says nothing is left, or an operator releases it.
 */
#include "yoband.h"

#include <stdio.h>
#include <string.h>

#include "tz.h"

/* Is a run of another runbook (or this one) holding one of run's locks? */
/* Does o occupy its slot and its locks (running, cancelling, or lost with processes left)? */
static bool occupies(const struct yd_run *o)
{
	enum yd_run_state s = yd_run_eff(o);
	return s == RS_RUNNING || s == RS_CANCELLING || yd_run_holds(o);
}

/* Why o occupies its slot, for a reason ("is still running", "was lost ..."). */
static const char *occupied_why(const struct yd_run *o, char *buf, size_t size)
{
	const struct yd_job *h = yd_run_holder(o);
	if (!h)
		return "is still running";
	snprintf(buf, size, "was lost and processes of it still run on host '%s' (they hold its slot "
		 "until they end; 'yoban release %lld' frees it)", h->host, (long long)o->id);
	return buf;
}

static struct yd_run *lock_holder(struct yd *d, struct yd_run *run, const char **lock)
{
	const struct rb_runbook *rb = run->rev->rb;
	for (struct yd_run *o = d->runs; o; o = o->next) {
		if (o == run || !occupies(o))
			continue;
		const struct rb_runbook *orb = o->rev->rb;
		for (size_t i = 0; i < rb->n_locks; i++)
			for (size_t k = 0; k < orb->n_locks; k++)
				if (!strcmp(rb->locks[i], orb->locks[k])) {
					*lock = rb->locks[i];
					return o;
				}
	}
	return NULL;
}

/* Pending or queued: may it start now? */
bool yd_run_admit(struct yd *d, struct yd_run *run)
{
	const struct rb_runbook *rb = run->rev->rb;
	char why[512], held[320];
	if (run->hold_until > yd_now_s()) {
		if (run->state == RS_PENDING) {
			char until[64];
			tz_format_iso(yd_zone_of(rb), run->hold_until, until, sizeof(until));
			snprintf(why, sizeof(why), "held by a maintenance window until %s", until);
			yd_run_move(d, run, RS_QUEUED, why);
		}
		return false;
	}
	size_t n_hosts;
	yd_run_hosts(run, &n_hosts);
	if (run->staging && !n_hosts) {
		yd_run_finish(d, run, RS_FAILED, "the runbook has no staging_hosts for a staging run");
		return false;
	}
	struct yd_run *active = NULL, *older_queued = NULL;
	for (struct yd_run *o = d->runs; o; o = o->next) {
		if (o == run || strcmp(o->runbook, run->runbook) || o->staging != run->staging)
			continue;
		enum yd_run_state os = yd_run_eff(o);
		if (occupies(o))
			active = o;
		else if ((os == RS_QUEUED || os == RS_PENDING) && o->id < run->id)
			older_queued = o;
	}
	switch (rb->concurrency) {
	case RB_CONC_FORBID:
		if (active) {
			snprintf(why, sizeof(why), "concurrency forbid: run %lld %s", (long long)active->id,
				 occupied_why(active, held, sizeof(held)));
			yd_run_finish(d, run, RS_SKIPPED, why);
			return false;
		}
		break;
	case RB_CONC_QUEUE:
		if (active || older_queued) {
			if (run->state == RS_PENDING) {
				snprintf(why, sizeof(why), "concurrency queue: waiting for run %lld",
					 (long long)(active ? active : older_queued)->id);
				yd_run_move(d, run, RS_QUEUED, why);
			}
			return false;
		}
		break;
	case RB_CONC_REPLACE:
		if (active) {
			if (yd_run_eff(active) == RS_RUNNING && !active->cancel_req) {
				snprintf(why, sizeof(why), "replaced by run %lld", (long long)run->id);
				yd_run_cancel(d, active, why);
			}
			if (run->state == RS_PENDING) {
				snprintf(why, sizeof(why), "concurrency replace: waiting for run %lld to stop",
					 (long long)active->id);
				yd_run_move(d, run, RS_QUEUED, why);
			}
			return false;
		}
		break;
	case RB_CONC_ALLOW:
		break;
	}
	const char *lock = NULL;
	struct yd_run *holder = lock_holder(d, run, &lock);
	if (holder) {
		if (run->state == RS_PENDING) {
			snprintf(why, sizeof(why), "waiting for lock '%s' held by run %lld%s%s", lock,
				 (long long)holder->id, yd_run_holds(holder) ? ", which " : "",
				 yd_run_holds(holder) ? occupied_why(holder, held, sizeof(held)) : "");
			yd_run_move(d, run, RS_QUEUED, why);
		}
		return false;
	}
	yd_run_move(d, run, RS_RUNNING, NULL);
	return false; /* goes on once the transition is written */
}

const struct rb_maintenance *yd_maintenance_at(struct yd *d, const char *runbook, int64_t t)
{
	if (!d->base)
		return NULL;
	const struct rb_site *s = &d->base->set->site;
	for (size_t i = 0; i < s->n_maintenance; i++) {
		const struct rb_maintenance *m = &s->maintenance[i];
		if (t < m->from || t >= m->to)
			continue;
		if (!m->n_runbooks)
			return m;
		for (size_t k = 0; k < m->n_runbooks; k++)
			if (!strcmp(m->runbooks[k], runbook))
				return m;
	}
	return NULL;
}

