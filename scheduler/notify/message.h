/*
 * message.h: what a notice says, in Japanese and English, as mail, as JSON and as text.
 *
 * A struct notice is filled by the worker from the database (or by `yoban notify test`); the
 * functions here only format it, so the same notice always reads the same: a re-delivery after a
 * crash carries the same Message-ID (<yoban-notice-ID@DOMAIN>) and the same idempotency key
 * (yoban-notice-ID), ID being the notification's id. Strings may be NULL (left out) and are
 * echoed as they are: the stored output they come from was masked by the runner already.
 */
#ifndef YB_MESSAGE_H
#define YB_MESSAGE_H

#include "buf.h"
#include "json.h"

struct notice {
	int64_t id;           /* the notification (delivery) id; 0 for a test message */
	const char *event;    /* failure, timeout, lost, missed, success, escalation, test, ... */
	const char *runbook, *title;
	int64_t run_id;       /* 0: none */
	int64_t incident_id;  /* 0: none */
	const char *mode, *state, *reason;
	const char *scheduled_for, *started_at, *ended_at, *detected_at; /* as the database wrote */
	const char *step, *host, *error;
	const char *exit_status, *exit_signal; /* decimal text or NULL */
	const char *stderr_tail;  /* the last lines of the failed step's stderr, or NULL */
	const char *fallover_from; /* the channel that could not deliver this notice, or NULL */
	const char *report_due, *start_due, *recover_due; /* an incident's SLA deadlines, or NULL */
	const char *site_host;     /* where yoban runs (for "where") */
	/* cap_warning (012_effort.sql): the event's figures as the database wrote them, else NULL */
	struct notice_cap {
		const char *category;      /* service, modification (incident is never capped) */
		const char *scope;         /* "month" or "total" */
		const char *month;         /* "2026-12" for a monthly cap */
		const char *period_from, *period_to; /* the contract period, for the total */
		const char *threshold;     /* "80" or "100" */
		const char *hours, *person_months, *limit, *percent; /* used; the cap in person-months */
		const char *entry, *person, *work_date, *entry_hours; /* the entry that crossed it */
	} cap;
};

/* How many lines of stderr a notice carries, and how many bytes at most. */
#define NOTICE_STDERR_LINES 20
#define NOTICE_STDERR_MAX 4000

/* The last NOTICE_STDERR_LINES lines of text (len bytes), at most NOTICE_STDERR_MAX bytes, with
 * bytes that are not UTF-8 text shown as '?'. Caller frees. */
char *notice_tail(const char *text, size_t len);

/* "[yoban] 異常終了 FAILED: nightly-resident-batch (run 12)" */
char *notice_subject(const struct notice *n);
/* The body: Japanese first, then English, then the command to see more. */
char *notice_text(const struct notice *n);
/* {"id", "idempotency_key", "event", "subject", "text", "runbook", "run_id", ...} */
struct yb_json *notice_json(const struct notice *n);
/* The idempotency key / Message-ID local part: "yoban-notice-ID" (test: "yoban-test-NONCE"). */
char *notice_key(const struct notice *n);
/* A whole mail (RFC 5322, CRLF): From, To, Subject (RFC 2047 UTF-8), Date, Message-ID from the
 * notice's key and from's domain, MIME UTF-8 text in base64. */
char *notice_mail(const struct notice *n, const char *from, const char *const *to, size_t n_to);

#endif
