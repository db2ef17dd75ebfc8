/*
 * rclient.c: the client protocol engine: one transport to one runner, many jobs on it.
 *
 * The one idea: the job table, not the byte stream, is the truth. Nothing that matters lives
 * only in the output buffer: every frame we send (START, ATTACH, CANCEL, FORGET) follows from a
 * job's state, so after a lost connection the buffer and the reader are simply thrown away and,
 * once the new connection has said HELLO, each job's state says what to send again. A job's
 * `offset` counts the output bytes already handed to the caller; an OUTPUT chunk is trimmed to
 * what lies past it, so a byte is delivered once whatever the runner repeats.
 *
 * Connection states: CONNECTING -> HELLO -> READY; any loss -> BACKOFF (0.5 s doubling to 30 s)
 * -> CONNECTING; too many attempts, a refused host key or authentication, a version refusal or a
 * protocol violation -> FAILED.
 */
#include "rclient.h"

#include "buf.h"
#include "wire.h"
#include "yb_version.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORGET_RETRY_MS 100
#define FORGET_MAX_TRIES 100

enum job_phase {
	JOB_NEW,      /* START not sent on this connection yet */
	JOB_STARTING, /* START sent, no ACK yet */
	JOB_LIVE,     /* acknowledged or attached: ATTACH at offset after a reconnect */
	JOB_DONE,     /* EXIT delivered */
};

struct rjob {
	char id[WIRE_MAX_JOB_ID + 1];
	enum job_phase phase;
	bool attach_only;   /* followed, not started, by this client */
	bool cancel_only;   /* only a CANCEL of what is left of it (rclient_cancel_leftovers) */
	int start_sends;    /* STARTs sent (more than one: resent after a lost connection) */
	bool attach_sent;   /* ATTACH sent on this connection */
	bool cancel_wanted, cancel_sent;
	bool forget_wanted, forget_sent;
	int forget_tries;     /* FORGETs answered "running" (the runner still closing the job) */
	int64_t forget_at;    /* when to send FORGET again */
	uint64_t offset;    /* output bytes delivered */
	struct yb_json *spec; /* the START payload, until acknowledged */
	char spec_sha256[65]; /* the runner's digest of the spec (ACK, "exists"); "" until known */
};

struct rclient {
	struct transport *t;
	struct rclient_callbacks cb;
	void *ctx;
	struct rclient_options opt;
	enum rclient_state state;
	struct yb_err err;          /* why FAILED */
	struct wire_reader reader;
	struct yb_buf out;          /* frames to write */
	struct yb_buf scratch;      /* one decompressed chunk */
	struct rjob **jobs;
	size_t n_jobs, cap_jobs;
	int attempt;                /* failed attempts since the last good connection */
	int connections;
	int64_t retry_at;           /* BACKOFF: when to connect again */
	int64_t last_rx;            /* monotonic ms of the last frame received */
	int64_t ping_at;            /* when to send the next PING */
	int64_t ping_seq;
	bool read_more;             /* the last step stopped reading before YB_EAGAIN */
	bool paused;                /* the caller stopped reading (rclient_pause) */
	bool paused_hup;            /* paused, and poll said hang-up or error: stop polling the fd */
};

/* ---- jobs ------------------------------------------------------------------------------ */

static struct rjob *job_find(const struct rclient *rc, const char *id)
{
	for (size_t i = 0; i < rc->n_jobs; i++)
		if (!strcmp(rc->jobs[i]->id, id))
			return rc->jobs[i];
	return NULL;
}

static struct rjob *job_add(struct rclient *rc, const char *id)
{
	if (rc->n_jobs == rc->cap_jobs) {
		rc->cap_jobs = rc->cap_jobs ? rc->cap_jobs * 2 : 16;
		rc->jobs = xrealloc(rc->jobs, rc->cap_jobs * sizeof(*rc->jobs));
	}
	struct rjob *j = xcalloc(1, sizeof(*j));
	snprintf(j->id, sizeof(j->id), "%s", id);
	rc->jobs[rc->n_jobs++] = j;
	return j;
}

static void job_remove(struct rclient *rc, struct rjob *j)
{
	for (size_t i = 0; i < rc->n_jobs; i++) {
		if (rc->jobs[i] == j) {
			memmove(&rc->jobs[i], &rc->jobs[i + 1], (rc->n_jobs - i - 1) * sizeof(*rc->jobs));
			rc->n_jobs--;
			break;
		}
	}
	yb_json_free(j->spec);
	free(j);
}

/* ---- sending ----------------------------------------------------------------------------- */

static int send_json(struct rclient *rc, uint8_t type, struct yb_json *obj, struct yb_err *err)
{
	int rc_ = wire_put_json(&rc->out, type, obj, err);
	yb_json_free(obj);
	return rc_;
}

/* CANCEL or FORGET, naming the spec digest when known (the runner then acts only on that job). */
static int send_job_op(struct rclient *rc, uint8_t type, const struct rjob *j, struct yb_err *err)
{
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "job", yb_json_str(j->id));
	if (j->spec_sha256[0])
		yb_json_set(o, "spec_sha256", yb_json_str(j->spec_sha256));
	return send_json(rc, type, o, err);
}

static void keep_digest(struct rjob *j, const char *hex)
{
	if (hex && strlen(hex) == 64 && strspn(hex, "0123456789abcdef") == 64)
		snprintf(j->spec_sha256, sizeof(j->spec_sha256), "%s", hex);
}

static int send_start(struct rclient *rc, struct rjob *j, struct yb_err *err)
{
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "job", yb_json_str(j->id));
	void *it = NULL;
	const char *k;
	struct yb_json *v;
	while (yb_json_next_member(j->spec, &it, &k, &v))
		if (strcmp(k, "job"))
			yb_json_set(o, k, yb_json_ref(v));
	j->phase = JOB_STARTING;
	j->start_sends++;
	return send_json(rc, WIRE_START, o, err);
}

static int send_attach(struct rclient *rc, struct rjob *j, struct yb_err *err)
{
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "job", yb_json_str(j->id));
	yb_json_set(o, "offset", yb_json_int((int64_t)j->offset));
	if (j->spec_sha256[0])
		yb_json_set(o, "spec_sha256", yb_json_str(j->spec_sha256));
	j->attach_sent = true;
	return send_json(rc, WIRE_ATTACH, o, err);
}

/* What a job needs sent on a fresh connection (or now, when it is new). */
static int job_resume(struct rclient *rc, struct rjob *j, struct yb_err *err)
{
	int r = 0;
	if (j->phase == JOB_DONE) {
		if (j->forget_wanted && !j->forget_sent) {
			j->forget_sent = true;
			j->forget_at = 0;
			r = send_job_op(rc, WIRE_FORGET, j, err);
		}
		return r;
	}
	if (j->cancel_only) {
		if (!j->cancel_sent) {
			j->cancel_sent = true;
			r = send_job_op(rc, WIRE_CANCEL, j, err);
		}
		return r;
	}
	if (j->attach_only || j->phase == JOB_LIVE)
		r = send_attach(rc, j, err);
	else
		r = send_start(rc, j, err);
	if (r == 0 && j->cancel_wanted && !j->cancel_sent) {
		j->cancel_sent = true;
		r = send_job_op(rc, WIRE_CANCEL, j, err);
	}
	return r;
}

/* ---- the connection ---------------------------------------------------------------------- */

static bool is_fatal(int code)
{
	return code == YB_EPERM || code == YB_EINVAL || code == YB_EPROTO;
}

static void fail(struct rclient *rc, const struct yb_err *why)
{
	transport_close(rc->t);
	rc->state = RC_FAILED;
	rc->err = *why;
	if (!rc->err.code)
		rc->err.code = YB_EIO;
}

/* The connection is gone (why): retry later, or give up. */
static void lost(struct rclient *rc, const struct yb_err *why)
{
	const char *tail = transport_stderr_tail(rc->t);
	struct yb_err e = *why;
	transport_close(rc->t);
	wire_reader_release(&rc->reader);
	wire_reader_init(&rc->reader);
	yb_buf_reset(&rc->out);
	for (size_t i = 0; i < rc->n_jobs; i++) {
		struct rjob *j = rc->jobs[i];
		j->attach_sent = j->cancel_sent = j->forget_sent = false;
		if (j->phase == JOB_STARTING)
			j->phase = JOB_NEW;
	}
	if (*tail && rc->state == RC_HELLO) {
		/* The runner never said HELLO: what it wrote on stderr is the best explanation. */
		char msg[YB_ERR_MSG_MAX + 512];
		snprintf(msg, sizeof(msg), "%.600s (the runner said: %.400s)", e.msg, tail);
		snprintf(e.msg, sizeof(e.msg), "%.1000s", msg);
	}
	bool ever = rc->connections > 0;
	rc->attempt++;
	int max = rc->opt.max_attempts;
	if (is_fatal(e.code) || (!ever && !rc->opt.retry_first) || (max > 0 && rc->attempt > max)) {
		if (!is_fatal(e.code) && ever && max > 0)
			yb_err_prefix(&e, "gave up after %d reconnect attempt%s: ", max, max == 1 ? "" : "s");
		if (rc->cb.disconnected)
			rc->cb.disconnected(rc->ctx, &e, rc->attempt, -1);
		fail(rc, &e);
		return;
	}
	int64_t delay = rc->opt.backoff_initial_ms;
	for (int i = 1; i < rc->attempt && delay < rc->opt.backoff_max_ms; i++)
		delay *= 2;
	if (delay > rc->opt.backoff_max_ms)
		delay = rc->opt.backoff_max_ms;
	if (rc->cb.disconnected)
		rc->cb.disconnected(rc->ctx, &e, rc->attempt, (int)delay);
	rc->retry_at = yb_mono_ms() + delay;
	rc->state = RC_BACKOFF;
}

static int send_hello(struct rclient *rc, struct yb_err *err)
{
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "proto", yb_json_int(WIRE_PROTO));
	yb_json_set(o, "program", yb_json_str("yoban"));
	yb_json_set(o, "version", yb_json_str(YB_VERSION));
	return send_json(rc, WIRE_HELLO, o, err);
}

/* ---- receiving --------------------------------------------------------------------------- */

static void parse_exit(const struct yb_json *o, struct rclient_exit *ex)
{
	memset(ex, 0, sizeof(*ex));
	struct yb_json *v = yb_json_get(o, "status");
	if (v && yb_json_is_int(v)) {
		ex->has_status = true;
		ex->status = (int)yb_json_int_value(v);
	}
	v = yb_json_get(o, "signal");
	if (v && yb_json_is_int(v)) {
		ex->has_signal = true;
		ex->signal = (int)yb_json_int_value(v);
	}
	ex->timed_out = yb_json_get_bool(o, "timed_out", false);
	ex->cancelled = yb_json_get_bool(o, "cancelled", false);
	ex->started_at_us = yb_json_get_int(o, "started_at_us", 0);
	ex->ended_at_us = yb_json_get_int(o, "ended_at_us", 0);
	ex->utime_us = yb_json_get_int(o, "utime_us", 0);
	ex->stime_us = yb_json_get_int(o, "stime_us", 0);
	ex->maxrss_kb = yb_json_get_int(o, "maxrss_kb", 0);
	ex->stdout_bytes = (uint64_t)yb_json_get_int(o, "stdout_bytes", 0);
	ex->stderr_bytes = (uint64_t)yb_json_get_int(o, "stderr_bytes", 0);
	ex->dropped_bytes = (uint64_t)yb_json_get_int(o, "dropped_bytes", 0);
	ex->spool_bytes = (uint64_t)yb_json_get_int(o, "spool_bytes", 0);
	const char *h = yb_json_get_str(o, "stdout_sha256");
	snprintf(ex->stdout_sha256, sizeof(ex->stdout_sha256), "%s", h ? h : "");
	h = yb_json_get_str(o, "stderr_sha256");
	snprintf(ex->stderr_sha256, sizeof(ex->stderr_sha256), "%s", h ? h : "");
	ex->lost = yb_json_get_bool(o, "lost", false);
	ex->processes = yb_json_get_int(o, "processes", -1);
	ex->killed_count = (uint64_t)yb_json_get_int(o, "killed_count", 0);
	ex->record = o;
}

/* The report of a frame about job j (ERROR or ACK). */
static void report_of(const struct yb_json *o, struct rclient_report *r)
{
	memset(r, 0, sizeof(*r));
	const char *m = yb_json_get_str(o, "message");
	r->message = m ? m : "";
	r->spec_sha256 = yb_json_get_str(o, "spec_sha256");
	r->processes = yb_json_get_int(o, "processes", -1);
	r->killed = yb_json_get_int(o, "killed", -1);
	r->frame = o;
}

static int on_output(struct rclient *rc, const struct wire_frame *f, struct yb_err *err)
{
	struct wire_output o;
	int r;
	if ((r = wire_parse_output(f, &o, err)) < 0)
		return r;
	struct rjob *j = job_find(rc, o.job);
	/* Output for a job we no longer follow (forgotten, dropped) is ignored. */
	if (!j || j->phase == JOB_DONE)
		return 0;
	uint64_t end = o.offset + o.raw_len;
	if (o.offset > j->offset)
		return yb_err_set(err, YB_EPROTO, "runner sent output of job '%s' at offset %llu, "
				  "but only %llu bytes came before (a gap)", j->id,
				  (unsigned long long)o.offset, (unsigned long long)j->offset);
	if (end <= j->offset)
		return 0; /* all of it delivered already */
	yb_buf_reset(&rc->scratch);
	if ((r = wire_output_data(&o, &rc->scratch, err)) < 0)
		return r;
	size_t skip = (size_t)(j->offset - o.offset);
	size_t n = rc->scratch.len - skip;
	j->offset = end;
	if (rc->cb.output)
		rc->cb.output(rc->ctx, j->id, o.stream, end - n, rc->scratch.data + skip, n);
	return 0;
}

static int on_control(struct rclient *rc, const struct wire_frame *f, struct yb_err *err)
{
	struct yb_json *o = NULL;
	int r = wire_parse_json(f, &o, err);
	if (r < 0)
		return r;
	const char *id = yb_json_get_str(o, "job");
	struct rjob *j = id ? job_find(rc, id) : NULL;

	switch (f->type) {
	case WIRE_HELLO: {
		if (rc->state != RC_HELLO) {
			r = yb_err_set(err, YB_EPROTO, "runner sent HELLO twice");
			break;
		}
		int64_t proto = yb_json_get_int(o, "proto", -1);
		if (proto != WIRE_PROTO) {
			r = yb_err_set(err, YB_EPROTO, "runner speaks protocol %lld, we speak %d (install "
				       "the same Yoban version on both sides)", (long long)proto, WIRE_PROTO);
			break;
		}
		rc->state = RC_READY;
		bool again = rc->connections > 0;
		rc->connections++;
		rc->attempt = 0;
		for (size_t i = 0; i < rc->n_jobs && r == 0; i++)
			r = job_resume(rc, rc->jobs[i], err);
		if (r == 0 && rc->cb.connected)
			rc->cb.connected(rc->ctx, again);
		break;
	}
	case WIRE_ACK: {
		const char *op = yb_json_get_str(o, "op");
		if (!j || !op)
			break; /* an ACK for a job we dropped: nothing to do */
		if (!strcmp(op, "start")) {
			if (j->phase == JOB_STARTING)
				j->phase = JOB_LIVE;
			keep_digest(j, yb_json_get_str(o, "spec_sha256"));
			yb_json_free(j->spec);
			j->spec = NULL;
			if (rc->cb.ack)
				rc->cb.ack(rc->ctx, j->id, op, yb_json_get_int(o, "pid", 0));
		} else if (!strcmp(op, "forget")) {
			char jid[WIRE_MAX_JOB_ID + 1];
			snprintf(jid, sizeof(jid), "%s", j->id);
			job_remove(rc, j);
			if (rc->cb.ack)
				rc->cb.ack(rc->ctx, jid, op, 0);
		} else if (!strcmp(op, "cancel")) {
			char jid[WIRE_MAX_JOB_ID + 1];
			snprintf(jid, sizeof(jid), "%s", j->id);
			if (j->cancel_only)
				job_remove(rc, j); /* answered: nothing more will come for it */
			if (rc->cb.job_report) {
				struct rclient_report rep;
				report_of(o, &rep);
				rep.op = op;
				rc->cb.job_report(rc->ctx, jid, &rep);
			}
		}
		break;
	}
	case WIRE_EXIT: {
		if (!j || j->phase == JOB_DONE)
			break;
		struct rclient_exit ex;
		parse_exit(o, &ex);
		if (ex.spool_bytes != j->offset) {
			r = yb_err_set(err, YB_EPROTO, "runner sent EXIT of job '%s' after %llu output bytes, "
				       "but its spool holds %llu", j->id, (unsigned long long)j->offset,
				       (unsigned long long)ex.spool_bytes);
			break;
		}
		j->phase = JOB_DONE;
		yb_json_free(j->spec);
		j->spec = NULL;
		if (rc->cb.exit)
			rc->cb.exit(rc->ctx, j->id, &ex);
		break;
	}
	case WIRE_ERROR: {
		const char *code = yb_json_get_str(o, "code");
		const char *msg = yb_json_get_str(o, "message");
		if (!id) {
			r = yb_err_set(err, YB_EPROTO, "%s refused the connection: %s: %s",
				       transport_describe(rc->t), code ? code : "error", msg ? msg : "");
			break;
		}
		if (!j)
			break;
		if (code && !strcmp(code, "running") && j->phase == JOB_DONE && j->forget_sent &&
		    j->forget_tries < FORGET_MAX_TRIES) {
			/* EXIT came before the runner had quite finished with the job: ask again soon */
			j->forget_tries++;
			j->forget_sent = false;
			j->forget_at = yb_mono_ms() + FORGET_RETRY_MS;
			break;
		}
		if (code && !strcmp(code, "exists") && j->phase == JOB_STARTING && j->start_sends > 1) {
			/* our START got there before the connection dropped: follow it instead (a first
			 * START meeting "exists" is another job's id: refused, reported below) */
			j->phase = JOB_LIVE;
			keep_digest(j, yb_json_get_str(o, "spec_sha256"));
			r = send_attach(rc, j, err);
			break;
		}
		char jid[WIRE_MAX_JOB_ID + 1];
		snprintf(jid, sizeof(jid), "%s", j->id);
		job_remove(rc, j);
		if (rc->cb.job_report) {
			struct rclient_report rep;
			report_of(o, &rep);
			rep.code = code ? code : "error";
			rc->cb.job_report(rc->ctx, jid, &rep);
		} else if (rc->cb.job_error) {
			rc->cb.job_error(rc->ctx, jid, code ? code : "error", msg ? msg : "");
		}
		break;
	}
	case WIRE_PING: {
		struct yb_json *p = yb_json_object();
		yb_json_set(p, "seq", yb_json_int(yb_json_get_int(o, "seq", 0)));
		r = send_json(rc, WIRE_PONG, p, err);
		break;
	}
	case WIRE_PONG:
		break;
	default:
		r = yb_err_set(err, YB_EPROTO, "runner sent an unexpected %s frame", wire_type_name(f->type));
	}
	yb_json_free(o);
	return r;
}

static int handle_frame(struct rclient *rc, const struct wire_frame *f, struct yb_err *err)
{
	if (rc->state == RC_HELLO && f->type != WIRE_HELLO && f->type != WIRE_ERROR)
		return yb_err_set(err, YB_EPROTO, "runner sent %s before HELLO", wire_type_name(f->type));
	if (f->type == WIRE_OUTPUT)
		return on_output(rc, f, err);
	return on_control(rc, f, err);
}

/* Reads what is there (bounded per step, so one busy connection cannot starve a loop). Frames
 * already received are handled first; a pause (rclient_pause, also from a callback) stops at the
 * next frame and leaves the rest in the reader for the resume. */
static int do_read(struct rclient *rc, struct yb_err *err)
{
	unsigned char buf[64 * 1024];
	size_t total = 0;
	rc->read_more = false;
	while (rc->state == RC_HELLO || rc->state == RC_READY) {
		struct wire_frame f;
		int r = 0;
		while (!rc->paused && (r = wire_reader_next(&rc->reader, &f, err)) == 1) {
			if ((r = handle_frame(rc, &f, err)) < 0)
				return r;
		}
		if (rc->paused) {
			rc->read_more = true; /* frames or bytes may wait: look again on the resume */
			return 0;
		}
		if (r < 0)
			return r;
		if (total >= (8u << 20)) {
			/* libssh2 may hold more already decrypted: the socket would not say so */
			rc->read_more = true;
			return 0;
		}
		long n = transport_read(rc->t, buf, sizeof(buf), err);
		if (n == YB_EAGAIN)
			return 0;
		if (n < 0)
			return (int)n;
		total += (size_t)n;
		rc->last_rx = yb_mono_ms();
		if ((r = wire_reader_feed(&rc->reader, buf, (size_t)n, err)) < 0)
			return r;
	}
	return 0;
}

static int do_write(struct rclient *rc, struct yb_err *err)
{
	while (rc->out.len > 0) {
		long n = transport_write(rc->t, rc->out.data, rc->out.len, err);
		if (n == YB_EAGAIN || n == 0)
			return 0;
		if (n < 0)
			return (int)n;
		yb_buf_consume(&rc->out, (size_t)n);
	}
	return 0;
}

static int do_liveness(struct rclient *rc, struct yb_err *err)
{
	int64_t now = yb_mono_ms();
	int r = transport_tick(rc->t, err);
	if (r < 0)
		return r;
	if (rc->state != RC_READY)
		return 0;
	for (size_t i = 0; i < rc->n_jobs; i++) {
		struct rjob *j = rc->jobs[i];
		if (j->forget_wanted && !j->forget_sent && j->forget_at && now >= j->forget_at) {
			j->forget_sent = true;
			j->forget_at = 0;
			if ((r = send_job_op(rc, WIRE_FORGET, j, err)) < 0)
				return r;
		}
	}
	if (!rc->paused && now - rc->last_rx > 3LL * rc->opt.ping_interval_ms)
		return yb_err_set(err, YB_ETIMEDOUT, "%s: no answer for %d s, dropping the connection",
				  transport_describe(rc->t), 3 * rc->opt.ping_interval_ms / 1000);
	if (now >= rc->ping_at) {
		struct yb_json *p = yb_json_object();
		yb_json_set(p, "seq", yb_json_int(++rc->ping_seq));
		if ((r = send_json(rc, WIRE_PING, p, err)) < 0)
			return r;
		rc->ping_at = now + rc->opt.ping_interval_ms;
	}
	return 0;
}

int rclient_step(struct rclient *rc, short revents, struct yb_err *err)
{
	struct yb_err e = { 0 };
	int r = 0;

	if (rc->state == RC_FAILED)
		goto failed;
	if (rc->state == RC_BACKOFF) {
		if (yb_mono_ms() < rc->retry_at)
			return 0;
		rc->state = RC_CONNECTING;
	}
	if (rc->state == RC_CONNECTING) {
		r = transport_connect_step(rc->t, &e);
		if (r == YB_EAGAIN)
			return 0;
		if (r < 0) {
			lost(rc, &e);
			goto check;
		}
		rc->state = RC_HELLO;
		rc->last_rx = yb_mono_ms();
		rc->ping_at = rc->last_rx + rc->opt.ping_interval_ms;
		yb_buf_reset(&rc->out);
		if ((r = send_hello(rc, &e)) < 0) {
			fail(rc, &e);
			goto failed;
		}
	}
	if (rc->paused && (revents & (POLLHUP | POLLERR)))
		rc->paused_hup = true; /* seen on the resume; until then it would wake every poll */
	if ((r = do_write(rc, &e)) < 0 || (!rc->paused && (r = do_read(rc, &e)) < 0) ||
	    (r = do_liveness(rc, &e)) < 0 || (r = do_write(rc, &e)) < 0) {
		lost(rc, &e);
		goto check;
	}
	return 0;
check:
	if (rc->state != RC_FAILED)
		return 0;
failed:
	if (err)
		*err = rc->err;
	return rc->err.code < 0 ? rc->err.code : YB_EIO;
}

void rclient_poll(struct rclient *rc, int *fd, short *events, int *timeout_ms)
{
	int64_t now = yb_mono_ms();
	*fd = -1;
	*events = 0;
	*timeout_ms = -1;
	switch (rc->state) {
	case RC_FAILED:
		*timeout_ms = 0;
		return;
	case RC_BACKOFF:
		*timeout_ms = rc->retry_at > now ? (int)(rc->retry_at - now) : 0;
		return;
	case RC_CONNECTING:
		if (transport_fd(rc->t) < 0) {
			*timeout_ms = 0; /* nothing started yet: step now */
			return;
		}
		break;
	case RC_HELLO:
	case RC_READY: {
		int64_t at = rc->ping_at;
		if (!rc->paused && rc->last_rx + 3LL * rc->opt.ping_interval_ms < at)
			at = rc->last_rx + 3LL * rc->opt.ping_interval_ms;
		for (size_t i = 0; i < rc->n_jobs; i++)
			if (rc->jobs[i]->forget_at && rc->jobs[i]->forget_at < at)
				at = rc->jobs[i]->forget_at;
		*timeout_ms = at > now ? (int)(at - now) : 0;
		break;
	}
	}
	*fd = rc->paused_hup ? -1 : transport_fd(rc->t);
	*events = transport_events(rc->t, rc->out.len > 0);
	if (rc->paused && (rc->state == RC_HELLO || rc->state == RC_READY))
		*events &= (short)~POLLIN; /* not reading: a readable socket must not wake the loop */
	int tt = transport_timeout_ms(rc->t);
	if (tt >= 0 && (*timeout_ms < 0 || tt < *timeout_ms))
		*timeout_ms = tt;
	if (rc->read_more && !rc->paused)
		*timeout_ms = 0;
}

int rclient_wait(struct rclient *rc, int max_ms, struct yb_err *err)
{
	int fd, timeout;
	short events;
	rclient_poll(rc, &fd, &events, &timeout);
	if (max_ms >= 0 && (timeout < 0 || timeout > max_ms))
		timeout = max_ms;
	struct pollfd p = { .fd = fd, .events = events };
	short revents = 0;
	if (fd >= 0 || timeout != 0) {
		int n = poll(&p, fd >= 0 ? 1 : 0, timeout);
		if (n < 0 && errno != EINTR)
			return yb_err_set(err, YB_EIO, "poll: %s", strerror(errno));
		if (n > 0)
			revents = p.revents;
	}
	return rclient_step(rc, revents, err);
}

/* ---- the public verbs -------------------------------------------------------------------- */

struct rclient *rclient_new(struct transport *t, const struct rclient_callbacks *cb, void *ctx,
			    const struct rclient_options *opts)
{
	struct rclient *rc = xcalloc(1, sizeof(*rc));
	rc->t = t;
	if (cb)
		rc->cb = *cb;
	rc->ctx = ctx;
	if (opts)
		rc->opt = *opts;
	if (rc->opt.backoff_initial_ms <= 0)
		rc->opt.backoff_initial_ms = 500;
	if (rc->opt.backoff_max_ms <= 0)
		rc->opt.backoff_max_ms = 30000;
	if (rc->opt.ping_interval_ms <= 0)
		rc->opt.ping_interval_ms = 15000;
	rc->state = RC_CONNECTING;
	wire_reader_init(&rc->reader);
	yb_buf_init(&rc->out, 0);
	yb_buf_init(&rc->scratch, WIRE_MAX_CHUNK + 1);
	return rc;
}

void rclient_free(struct rclient *rc)
{
	if (!rc)
		return;
	for (size_t i = 0; i < rc->n_jobs; i++) {
		yb_json_free(rc->jobs[i]->spec);
		free(rc->jobs[i]);
	}
	free(rc->jobs);
	transport_free(rc->t);
	wire_reader_release(&rc->reader);
	yb_buf_release(&rc->out);
	yb_buf_release(&rc->scratch);
	free(rc);
}

static int check_new_job(struct rclient *rc, const char *job, struct yb_err *err)
{
	if (!job || !wire_job_id_valid(job, strlen(job)))
		return yb_err_set(err, YB_EINVAL, "invalid job id '%s' (1-%d of A-Z a-z 0-9 . _ -)",
				  job ? job : "", WIRE_MAX_JOB_ID);
	if (job_find(rc, job))
		return yb_err_set(err, YB_EEXIST, "job '%s' is already followed on this connection", job);
	if (rc->state == RC_FAILED)
		return yb_err_set(err, rc->err.code, "%s", rc->err.msg);
	return 0;
}

int rclient_start(struct rclient *rc, const char *job, const struct yb_json *spec, struct yb_err *err)
{
	int r = check_new_job(rc, job, err);
	if (r < 0)
		return r;
	if (!spec || !yb_json_is_object(spec))
		return yb_err_set(err, YB_EINVAL, "job '%s': the spec must be a JSON object", job);
	struct rjob *j = job_add(rc, job);
	j->spec = yb_json_ref((struct yb_json *)spec);
	j->phase = JOB_NEW;
	if (rc->state == RC_READY)
		return job_resume(rc, j, err);
	return 0;
}

int rclient_attach_spec(struct rclient *rc, const char *job, uint64_t offset,
			const char *spec_sha256, struct yb_err *err)
{
	int r = check_new_job(rc, job, err);
	if (r < 0)
		return r;
	struct rjob *j = job_add(rc, job);
	j->attach_only = true;
	j->phase = JOB_LIVE;
	j->offset = offset;
	keep_digest(j, spec_sha256);
	if (rc->state == RC_READY)
		return job_resume(rc, j, err);
	return 0;
}

int rclient_attach(struct rclient *rc, const char *job, uint64_t offset, struct yb_err *err)
{
	return rclient_attach_spec(rc, job, offset, NULL, err);
}

int rclient_cancel_leftovers(struct rclient *rc, const char *job, const char *spec_sha256,
			     struct yb_err *err)
{
	int r = check_new_job(rc, job, err);
	if (r < 0)
		return r;
	struct rjob *j = job_add(rc, job);
	j->cancel_only = true;
	j->cancel_wanted = true;
	j->phase = JOB_LIVE;
	keep_digest(j, spec_sha256);
	if (rc->state == RC_READY)
		return job_resume(rc, j, err);
	return 0;
}

int rclient_drop(struct rclient *rc, const char *job)
{
	struct rjob *j = job_find(rc, job);
	if (!j)
		return YB_ENOENT;
	job_remove(rc, j);
	return 0;
}

const char *rclient_job_spec_sha256(const struct rclient *rc, const char *job)
{
	struct rjob *j = job_find(rc, job);
	return j && j->spec_sha256[0] ? j->spec_sha256 : NULL;
}

bool rclient_job_start_sent(const struct rclient *rc, const char *job)
{
	struct rjob *j = job_find(rc, job);
	return j && (j->start_sends > 0 || j->attach_only);
}

int rclient_cancel(struct rclient *rc, const char *job, struct yb_err *err)
{
	struct rjob *j = job_find(rc, job);
	if (!j)
		return yb_err_set(err, YB_ENOENT, "job '%s' is not followed on this connection", job);
	if (j->phase == JOB_DONE || j->cancel_wanted)
		return 0;
	j->cancel_wanted = true;
	/* A job whose START is not out yet gets its CANCEL right after it, in job_resume. */
	if (rc->state == RC_READY && j->phase != JOB_NEW) {
		j->cancel_sent = true;
		return send_job_op(rc, WIRE_CANCEL, j, err);
	}
	return 0;
}

int rclient_forget(struct rclient *rc, const char *job, struct yb_err *err)
{
	struct rjob *j = job_find(rc, job);
	if (!j)
		return yb_err_set(err, YB_ENOENT, "job '%s' is not followed on this connection", job);
	if (j->forget_wanted)
		return 0;
	if (j->phase != JOB_DONE)
		return yb_err_set(err, YB_EINVAL, "job '%s' has not ended yet: forget it after its exit "
				  "(or cancel it first)", job);
	j->forget_wanted = true;
	if (rc->state == RC_READY) {
		j->forget_sent = true;
		return send_job_op(rc, WIRE_FORGET, j, err);
	}
	return 0;
}

void rclient_pause(struct rclient *rc, bool paused)
{
	if (rc->paused && !paused) {
		/* what was not read meanwhile is not the runner's silence */
		rc->last_rx = yb_mono_ms();
		rc->read_more = true;
		rc->paused_hup = false;
	}
	rc->paused = paused;
}

bool rclient_paused(const struct rclient *rc)
{
	return rc->paused;
}

enum rclient_state rclient_state(const struct rclient *rc)
{
	return rc->state;
}

const struct yb_err *rclient_error(const struct rclient *rc)
{
	return &rc->err;
}

struct transport *rclient_transport(struct rclient *rc)
{
	return rc->t;
}

size_t rclient_njobs(const struct rclient *rc)
{
	return rc->n_jobs;
}

int64_t rclient_job_offset(const struct rclient *rc, const char *job)
{
	struct rjob *j = job_find(rc, job);
	return j ? (int64_t)j->offset : -1;
}

int rclient_connections(const struct rclient *rc)
{
	return rc->connections;
}

size_t rclient_pending_out(const struct rclient *rc)
{
	return rc->out.len;
}
