/*
 * worker.h: the delivery worker: from the outbox (yoban.notify_events) to delivered notices.
 *
 * Three duties, each one transaction at a time so that any of them may be killed at any point:
 * plan (an event becomes one notifications row per chosen channel), deliver (claim one due
 * notification with FOR UPDATE SKIP LOCKED, try its channel, record the attempt, then mark it
 * delivered, schedule the retry, or fail it over to the next channel), escalate (incidents not
 * acknowledged within the site's SLA report time). Killed mid-delivery, the claim's transaction
 * rolls back and the notice is delivered again, under the same Message-ID / idempotency key.
 */
#ifndef YB_WORKER_H
#define YB_WORKER_H

#include "db.h"
#include "runbook.h"

#define WORKER_CHANNEL "yoban_notify" /* the NOTIFY the outbox triggers send */

struct worker {
	struct db_conn *conn;
	const struct rb_site *site;
	char instance[128]; /* host:pid, recorded with each attempt */
	bool verbose;
};

/* Turns up to 100 unplanned events into deliveries; returns how many events, or <0. */
int worker_plan(struct worker *w, struct yb_err *err);
/* Delivers one due notification; returns 1 when it tried one, 0 when none was due, or <0 (a
 * database failure; a channel's failure is recorded, not returned). */
int worker_deliver_one(struct worker *w, struct yb_err *err);
/* Escalates incidents past the report time; returns how many, or <0. */
int worker_escalate(struct worker *w, struct yb_err *err);
/* Milliseconds until the next retry is due (capped at max_ms), or <0. */
int64_t worker_next_due_ms(struct worker *w, int64_t max_ms, struct yb_err *err);

/* The channels an event goes to (names, in order), by the runbook revision's notify block
 * (content may be NULL) and the site: the runbook's channels when its notify.on asks for the
 * event, else the site's notify.default; escalations go to notify.escalation (else default).
 * Names the site does not define are left out. *out is a NULL-terminated array the caller frees
 * with worker_names_free; *n may be 0. rb_out (may be NULL) receives the parsed revision (NULL
 * when there was none or it did not parse; free with rb_runbook_free). */
void worker_choose(const struct rb_site *site, const char *event, const char *content,
		   size_t content_len, char ***out, size_t *n, struct rb_runbook **rb_out);
void worker_names_free(char **names, size_t n);

#endif
