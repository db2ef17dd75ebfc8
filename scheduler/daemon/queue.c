/*
 * queue.c: the statement queue on the main connection, the heart of "write first, act second".
 *
 * The one idea: while the daemon serves, no statement is waited for. Each goes into one queue,
 * sent with libpq's non-blocking calls one at a time while the loop goes on polling the socket,
 * and may carry a continuation that runs when its result is in. Stores (output, acks, exits,
 * heartbeats) keep their order; deciding statements (yd_decide: claims, transitions, job rows,
 * requests) go ahead of the stores not yet sent, in their own order. Whoever waits for a decision
 * simply waits in its state (a run is "busy") until the continuation acts on the committed
 * result. The few blocking statements (yd_exec, yd_value: connecting, taking the lead, recording a
 * revision) first wait for the queue to drain, so the order on the connection is the order of the
 * writes. A statement's parameters are freed as soon as it is sent (libpq holds its copy); output
 * INSERTs (yd_async_owned, from output.c) carry binary parameters and count their bytes as waiting
 * until then (the bound of output.c). Also here: the text of array and bytea parameters.
 */
#include "yoband.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *yd_idtext(char *buf, int64_t v)
{
	sprintf(buf, "%lld", (long long)v);
	return buf;
}

void yd_arr_open(struct yb_buf *b)
{
	yb_buf_init(b, 0);
	yb_buf_append(b, "{", 1);
}

/* One element of a PostgreSQL array literal, quoted ({"a","b \"c\""}), or NULL. */
void yd_arr_add(struct yb_buf *b, const char *v)
{
	if (b->len > 1)
		yb_buf_append(b, ",", 1);
	if (!v) {
		yb_buf_append(b, "NULL", 4);
		return;
	}
	yb_buf_append(b, "\"", 1);
	for (const char *c = v; *c; c++) {
		if (*c == '"' || *c == '\\')
			yb_buf_append(b, "\\", 1);
		yb_buf_append(b, c, 1);
	}
	yb_buf_append(b, "\"", 1);
}

char *yd_bytea_hex(const void *data, size_t len)
{
	char *out = xmalloc(2 * len + 3);
	out[0] = '\\';
	out[1] = 'x';
	yb_hex(data, len, out + 2);
	return out;
}

/* ---- statements without waiting --------------------------------------------------------- */

/* The parameters are not needed once the statement is sent (libpq holds its copy). */
static void stmt_params_free(struct yd_stmt *st)
{
	for (int i = 0; st->params && i < st->n_params; i++)
		free(st->params[i]);
	free(st->params);
	free(st->lengths);
	free(st->binary);
	st->params = NULL;
	st->lengths = NULL;
	st->binary = NULL;
}

static void stmt_free(struct yd_stmt *st)
{
	stmt_params_free(st);
	free(st->sql);
	free(st->what);
	if (st->ctx_free)
		st->ctx_free(st->ctx);
	else
		free(st->ctx);
	db_result_free(st->res);
	free(st);
}

void yd_queue_clear(struct yd *d)
{
	bool in_flight = d->aq_sent;
	while (d->aq_head) {
		struct yd_stmt *st = d->aq_head;
		d->aq_head = st->next;
		if (st->out_bytes && !in_flight) {
			d->out_unsent--;
			yd_output_sent(d, st->out_bytes);
		}
		in_flight = false;
		stmt_free(st);
	}
	d->aq_tail = NULL;
	d->aq_sent = d->aq_flushing = false;
}

static void async_broken(struct yd *d, const char *what, const struct yb_err *err)
{
	if (!d->db_broken)
		yd_log("database connection lost (%s): %s", what, err->msg);
	d->db_broken = true;
}

/* Sends the head of the queue when nothing is in flight, and pushes out what is buffered. */
static void queue_pump(struct yd *d)
{
	struct yb_err err = { 0 };
	if (d->db_broken || !d->db || !d->aq_head)
		return;
	if (!d->aq_sent) {
		struct yd_stmt *st = d->aq_head;
		int rc = db_set_nonblocking(d->db, true, &err);
		if (rc == 0 && st->binary)
			rc = db_send_bin(d->db, st->sql, st->n_params, (const char *const *)st->params,
					 st->lengths, st->binary, &err);
		else if (rc == 0)
			rc = db_send(d->db, st->sql, st->n_params, (const char *const *)st->params, &err);
		if (rc < 0) {
			async_broken(d, st->what, &err);
			return;
		}
		d->aq_sent = true;
		stmt_params_free(st);
		if (st->out_bytes) {
			d->out_unsent--;
			yd_output_sent(d, st->out_bytes);
		}
	}
	int rc = db_flush(d->db, &err);
	if (rc < 0 && rc != YB_EAGAIN)
		async_broken(d, d->aq_head->what, &err);
	d->aq_flushing = rc == YB_EAGAIN;
}

/* Collects what arrived for the statement in flight (after db_consume). */
static void async_collect(struct yd *d)
{
	struct yb_err err = { 0 };
	while (d->aq_sent && !d->db_broken) {
		struct yd_stmt *st = d->aq_head;
		for (;;) {
			struct db_result *r = NULL;
			int rc = db_next_result(d->db, &r, &err);
			if (rc == YB_EAGAIN)
				return; /* the rest has not arrived yet */
			if (rc == 0)
				break;
			if (rc == 1) {
				if (st->then && !st->res)
					st->res = r;
				else
					db_result_free(r);
				continue;
			}
			if (rc == YB_EIO) {
				async_broken(d, st->what, &err);
				return;
			}
			st->refused = true;
			yd_log("database refused %s: %s", st->what, err.msg);
		}
		bool failed = st->refused;
		if (failed && st->reconcile_on_error) {
			yd_log("%s was not stored: reconnecting to reconcile from what is", st->what);
			d->db_broken = true;
		}
		if (st->then)
			st->then(d, st->ctx, failed ? NULL : st->res);
		else if (!failed && st->done)
			st->done(d, st->arg);
		d->aq_head = st->next;
		if (!d->aq_head)
			d->aq_tail = NULL;
		d->aq_sent = false;
		stmt_free(st);
		queue_pump(d);
	}
}

static struct yd_stmt *stmt_new(const char *what, const char *sql, int n, const char *const *params)
{
	struct yd_stmt *st = xcalloc(1, sizeof(*st));
	st->sql = xstrdup(sql);
	st->what = xstrdup(what);
	st->n_params = n;
	st->params = xcalloc(n ? (size_t)n : 1, sizeof(*st->params));
	for (int i = 0; i < n; i++)
		st->params[i] = params[i] ? xstrdup(params[i]) : NULL;
	return st;
}

void yd_async(struct yd *d, const char *what, bool reconcile_on_error, const char *sql, int n,
	      const char *const *params)
{
	yd_async_then(d, what, reconcile_on_error, sql, n, params, NULL, 0);
}

void yd_async_then(struct yd *d, const char *what, bool reconcile_on_error, const char *sql, int n,
		   const char *const *params, void (*done)(struct yd *d, int64_t arg), int64_t arg)
{
	if (!d->db || d->db_broken)
		return;
	struct yd_stmt *st = stmt_new(what, sql, n, params);
	st->done = done;
	st->arg = arg;
	st->reconcile_on_error = reconcile_on_error;
	if (d->aq_tail)
		d->aq_tail->next = st;
	else
		d->aq_head = st;
	d->aq_tail = st;
	queue_pump(d);
}

void yd_async_owned(struct yd *d, const char *what, bool reconcile_on_error, const char *sql, int n,
		    char **values, int *lengths, bool *binary, size_t out_bytes)
{
	struct yd_stmt *st = xcalloc(1, sizeof(*st));
	st->sql = xstrdup(sql);
	st->what = xstrdup(what);
	st->n_params = n;
	st->params = values;
	st->lengths = lengths;
	st->binary = binary;
	if (!d->db || d->db_broken) {
		yd_output_sent(d, out_bytes);
		stmt_free(st);
		return;
	}
	st->reconcile_on_error = reconcile_on_error;
	st->out_bytes = out_bytes;
	if (out_bytes)
		d->out_unsent++;
	if (d->aq_tail)
		d->aq_tail->next = st;
	else
		d->aq_head = st;
	d->aq_tail = st;
	queue_pump(d);
}

void yd_decide(struct yd *d, const char *what, const char *sql, int n, const char *const *params,
	       void (*then)(struct yd *d, void *ctx, struct db_result *r), void *ctx,
	       void (*ctx_free)(void *ctx))
{
	if (!d->db || d->db_broken) {
		if (ctx_free)
			ctx_free(ctx);
		else
			free(ctx);
		return;
	}
	struct yd_stmt *st = stmt_new(what, sql, n, params);
	st->urgent = true;
	st->then = then;
	st->ctx = ctx;
	st->ctx_free = ctx_free;
	/* After the statement in flight and the deciding ones already waiting, before any store
	 * not yet sent: a claim does not wait behind a flush of output. */
	struct yd_stmt **p = &d->aq_head;
	if (d->aq_sent && *p)
		p = &(*p)->next;
	while (*p && (*p)->urgent)
		p = &(*p)->next;
	st->next = *p;
	*p = st;
	if (!st->next)
		d->aq_tail = st;
	queue_pump(d);
}

/* The main connection's socket is ready (revents) or a turn passed: move things along. */
void yd_queue_io(struct yd *d, short revents)
{
	struct yb_err err = { 0 };
	if (!d->db || d->db_broken)
		return;
	if (revents & POLLOUT)
		queue_pump(d);
	if (revents & (POLLIN | POLLERR | POLLHUP)) {
		if (db_consume(d->db, &err) < 0) {
			async_broken(d, "reading", &err);
			return;
		}
	}
	async_collect(d);
}

int yd_async_drain(struct yd *d)
{
	int64_t deadline = yb_mono_ms() + 20000;
	yd_decisions_flush(d);
	yd_output_flush(d, true);
	queue_pump(d);
	while (d->aq_head && !d->db_broken) {
		int64_t left = deadline - yb_mono_ms();
		if (left <= 0) {
			struct yb_err err = { 0 };
			yb_err_set(&err, YB_ETIMEDOUT, "no answer within 20 s");
			async_broken(d, d->aq_head->what, &err);
			break;
		}
		struct pollfd p = { .fd = db_fd(d->db), .events = POLLIN | (d->aq_flushing ? POLLOUT : 0) };
		int n = poll(&p, 1, (int)left);
		if (n < 0 && errno != EINTR)
			break;
		yd_queue_io(d, n > 0 ? p.revents : 0);
	}
	return d->db_broken ? YB_EIO : 0;
}

int yd_exec(struct yd *d, const char *sql, int n, const char *const *params, struct db_result **out,
	    struct yb_err *err)
{
	struct yb_err local = { 0 };
	if (!err)
		err = &local;
	if (!d->db || d->db_broken)
		return yb_err_set(err, YB_EIO, "no database connection");
	/* Whatever was queued goes first: order on the connection is the order of the writes. */
	yd_decisions_flush(d);
	if (d->aq_head && yd_async_drain(d) < 0)
		return yb_err_set(err, YB_EIO, "database connection lost");
	int rc = db_exec(d->db, sql, n, params, out, err);
	if (rc == YB_EIO) {
		if (!d->db_broken)
			yd_log("database connection lost: %s", err->msg);
		d->db_broken = true;
	} else if (rc < 0) {
		yd_log("database refused a statement: %s", err->msg);
	}
	return rc;
}

char *yd_value(struct yd *d, const char *sql, int n, const char *const *params)
{
	struct db_result *r = NULL;
	char *v = NULL;
	if (yd_exec(d, sql, n, params, &r, NULL) < 0)
		return NULL;
	if (db_result_rows(r) > 0 && db_result_get(r, 0, 0))
		v = xstrdup(db_result_get(r, 0, 0));
	db_result_free(r);
	return v;
}

