/*
 * rclient.h: the scheduler's side of the runner protocol (common/wire.h) over one transport.
 *
 * One rclient is one connection to one runner, with many jobs multiplexed on it. The caller owns
 * the loop: rclient_poll() says which descriptor, which events and how long; rclient_step() does
 * the I/O that is possible now and calls the callbacks. Nothing inside blocks, except
 * rclient_wait(), a convenience for the CLI that polls once and steps.
 *
 * Each job carries its re-attach state: the number of output bytes already delivered (the
 * offset in the job's combined output). When the connection drops, the client reconnects with
 * backoff (0.5 s doubling to 30 s, capped attempts), sends HELLO, then for each job still in
 * flight: START again if the runner never acknowledged it (an "exists" answer turns into
 * ATTACH), ATTACH at the delivered offset otherwise, and CANCEL again if one was asked for.
 * Output is delivered to the callback exactly once: overlapping chunks are trimmed, a gap is a
 * protocol error. EXIT is delivered once, after all the output. The runner's digest of a job's
 * spec (its ACK's "spec_sha256") goes with every later ATTACH, CANCEL and FORGET of the job, so
 * the runner acts only on the job this client started (a job id is not a job's identity).
 *
 * Ownership: the rclient owns the transport given to rclient_new and frees it. Job ids are
 * copied. The callbacks may call rclient_start/attach/cancel/forget but not rclient_free.
 */
#ifndef YB_RCLIENT_H
#define YB_RCLIENT_H

#include "json.h"
#include "transport.h"
#include "yb.h"

/* The EXIT record (see wire.h); fields absent in the frame are 0 / false / "". */
struct rclient_exit {
	bool has_status;
	int status;
	bool has_signal;
	int signal;
	bool timed_out;
	bool cancelled;
	int64_t started_at_us, ended_at_us, utime_us, stime_us, maxrss_kb;
	uint64_t stdout_bytes, stderr_bytes, dropped_bytes, spool_bytes;
	char stdout_sha256[65], stderr_sha256[65];
	/* The supervisor died and serve recorded the end: processes says how many of the job's
	 * processes still ran when EXIT was sent (-1: not said). Lost is not free: see
	 * docs/runner.md, Lost jobs. */
	bool lost;
	int64_t processes;
	uint64_t killed_count;       /* processes the supervisor signalled to end the job */
	const struct yb_json *record; /* the whole EXIT object, borrowed for the callback */
};

/* What the runner said about one job besides OUTPUT and EXIT: an ERROR naming it (code), or the
 * ACK of a CANCEL for a job no supervisor answers for (op "cancel"). */
struct rclient_report {
	const char *code;            /* ERROR: its code ("conflict", "unknown-running", ...); else NULL */
	const char *op;              /* ACK: its op; else NULL */
	const char *message;         /* "" when none */
	const char *spec_sha256;     /* the digest the frame names, or NULL */
	int64_t processes;           /* processes of the job still running, -1 when not said */
	int64_t killed;              /* processes a CANCEL just killed, -1 when not said */
	const struct yb_json *frame; /* the whole frame, borrowed for the callback */
};

struct rclient_callbacks {
	/* A piece of a job's output, each byte once, in order; offset is its position. */
	void (*output)(void *ctx, const char *job, int stream, uint64_t offset, const void *data,
		       size_t len);
	/* The job has ended (delivered once, after all its output). */
	void (*exit)(void *ctx, const char *job, const struct rclient_exit *ex);
	/* The runner acknowledged op ("start": pid is the supervisor's; "forget": the job is gone
	 * from the runner and from this client). */
	void (*ack)(void *ctx, const char *job, const char *op, int64_t pid);
	/* The runner refused a job (code from wire.h: "bad-spec", "spawn", "unknown-job", ...);
	 * the client has dropped the job. */
	void (*job_error)(void *ctx, const char *job, const char *code, const char *message);
	/* Optional, and when set called instead of job_error (the job is dropped the same way), and
	 * also for an ACK of a CANCEL that no supervisor answered ("killed", "processes"; the job is
	 * kept: its EXIT follows). */
	void (*job_report)(void *ctx, const char *job, const struct rclient_report *r);
	/* Optional: the connection came up (reconnect: not the first time) or went down (why). */
	void (*connected)(void *ctx, bool reconnect);
	void (*disconnected)(void *ctx, const struct yb_err *why, int attempt, int delay_ms);
};

struct rclient_options {
	int max_attempts;        /* reconnect attempts after a loss before giving up; 0: forever */
	bool retry_first;        /* retry the very first connection too (the daemon); the CLI fails fast */
	int backoff_initial_ms;  /* 0: 500 */
	int backoff_max_ms;      /* 0: 30000 */
	int ping_interval_ms;    /* 0: 15000; a connection silent for 3 intervals is dropped */
};

enum rclient_state {
	RC_CONNECTING,
	RC_HELLO,    /* connected, waiting for the runner's HELLO */
	RC_READY,
	RC_BACKOFF,  /* lost, waiting to reconnect */
	RC_FAILED,   /* gave up: rclient_error() says why */
};

struct rclient;

struct rclient *rclient_new(struct transport *t, const struct rclient_callbacks *cb, void *ctx,
			    const struct rclient_options *opts);
void rclient_free(struct rclient *rc);

/* Starts a job: spec is the START payload without "job" (argv or shell, env, cwd, timeout_ms,
 * secrets ...); it is borrowed (copied). Sent now or as soon as the connection is up. */
int rclient_start(struct rclient *rc, const char *job, const struct yb_json *spec, struct yb_err *err);
/* Follows a job started earlier (by this or another client) from offset on. */
int rclient_attach(struct rclient *rc, const char *job, uint64_t offset, struct yb_err *err);
/* The same, naming the spec digest the runner gave at START (64 hex digits, or NULL): the runner
 * then acts only on that job, and answers "conflict" for another job holding the id. */
int rclient_attach_spec(struct rclient *rc, const char *job, uint64_t offset,
			const char *spec_sha256, struct yb_err *err);
/* Sends CANCEL alone for a job this client does not follow (a lost job's leftovers: the runner
 * kills what carries its marker); the answer comes to job_report ("unknown-job" /
 * "unknown-running" with "killed" and "processes", or the ACK op "cancel") and the job leaves
 * the client with it. */
int rclient_cancel_leftovers(struct rclient *rc, const char *job, const char *spec_sha256,
			     struct yb_err *err);
/* Stops following a job without a word to the runner (a job that never reached it, given up). */
int rclient_drop(struct rclient *rc, const char *job);
int rclient_cancel(struct rclient *rc, const char *job, struct yb_err *err);
/* Asks the runner to drop the job's journal; the job leaves this client on the ACK. */
int rclient_forget(struct rclient *rc, const char *job, struct yb_err *err);

/* The descriptor (-1: none now), the events and the longest wait before rclient_step must be
 * called again (-1: no limit). */
void rclient_poll(struct rclient *rc, int *fd, short *events, int *timeout_ms);
/* Does what can be done now. revents: what poll reported (0 after a timeout). Returns 0, or <0
 * once the client has failed for good (RC_FAILED; err as rclient_error). */
int rclient_step(struct rclient *rc, short revents, struct yb_err *err);
/* Blocking convenience for the CLI: polls at most max_ms (-1: until something happens), steps. */
int rclient_wait(struct rclient *rc, int max_ms, struct yb_err *err);

/* Stops (true) or resumes (false) reading from the runner: no frame is handled and the socket is
 * not polled for input while paused, so the runner's output waits in its spool (back-pressure:
 * the caller cannot store output as fast as it comes). Writing goes on (START, CANCEL, FORGET,
 * PING), and the silence of a paused connection is not held against it. May be called from a
 * callback: the frames after the current one wait for the resume. */
void rclient_pause(struct rclient *rc, bool paused);
bool rclient_paused(const struct rclient *rc);
enum rclient_state rclient_state(const struct rclient *rc);
const struct yb_err *rclient_error(const struct rclient *rc);
struct transport *rclient_transport(struct rclient *rc);
/* Jobs this client still follows (not yet forgotten or dropped). */
size_t rclient_njobs(const struct rclient *rc);
/* The runner's digest of the job's spec (from its ACK, or given to rclient_attach_spec); NULL
 * when not known yet. Sent with every ATTACH, CANCEL and FORGET of the job. */
const char *rclient_job_spec_sha256(const struct rclient *rc, const char *job);
/* Whether a START of the job has gone out on a connection (it may have reached the runner). */
bool rclient_job_start_sent(const struct rclient *rc, const char *job);
/* Output bytes delivered so far for job; -1 if the client does not know it. */
int64_t rclient_job_offset(const struct rclient *rc, const char *job);
/* Times the connection was established (1 after the first, +1 per reconnect). */
int rclient_connections(const struct rclient *rc);
/* Bytes waiting to be written (tests, back-pressure). */
size_t rclient_pending_out(const struct rclient *rc);

#endif
