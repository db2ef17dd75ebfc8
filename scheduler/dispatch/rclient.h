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
 * protocol error. EXIT is delivered once, after all the output.
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
/* Output bytes delivered so far for job; -1 if the client does not know it. */
int64_t rclient_job_offset(const struct rclient *rc, const char *job);
/* Times the connection was established (1 after the first, +1 per reconnect). */
int rclient_connections(const struct rclient *rc);
/* Bytes waiting to be written (tests, back-pressure). */
size_t rclient_pending_out(const struct rclient *rc);

#endif
