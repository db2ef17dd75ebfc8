/*
 * serve.c: the runner's side of the wire (see serve.h and common/wire.h).
 *
 * The one idea: serve holds no job state that matters. Everything about a job is in its folder,
 * written by its supervisor; serve only reads it. An attachment is a reader's position in a spool
 * plus "EXIT sent or not", so a serve that is killed loses nothing, and a new one re-creates the
 * attachment from the offset the client gives in ATTACH. Each loop turn: poll, take requests (only
 * while the outgoing queue is short), collect supervisor reports, pull one chunk per attached job
 * in turn until the queue is full, write what the client will take.
 */
#define _GNU_SOURCE
#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "journal.h"
#include "json.h"
#include "proctree.h"
#include "sql.h"
#include "supervisor.h"
#include "wire.h"

#define READ_PIECE (64u << 10)
#define LIVENESS_EVERY_MS 1000
#define FINAL_FLUSH_MS 5000
#define LEFTOVER_KILL_MS 2000 /* how long serve keeps killing what is left of a lost job */

struct attach {
	char job[WIRE_MAX_JOB_ID + 1];
	char *dir;
	struct spool_reader rd;
	bool exit_sent;
	bool dirty;            /* its folder changed (or it is new): look at its spool */
	int64_t next_look_ms;  /* when to look anyway (missed events) */
	int64_t next_liveness_ms;
	int wd;                /* inotify watch on the folder, or -1 */
	struct attach *next;
};

struct pending {
	char job[WIRE_MAX_JOB_ID + 1];
	char digest[65];       /* the spec's, for the ACK */
	int fd;
	char text[512];
	size_t len;
	struct pending *next;
};

struct serve {
	const struct serve_opts *o;
	struct wire_reader in;
	struct yb_buf out;
	size_t out_pos;        /* bytes of out already written */
	bool hello_done;
	bool failed;           /* a protocol error: flush the ERROR and leave */
	struct attach *attached;
	int inotify_fd;        /* wakes us when a supervisor writes; -1 if unavailable */
	struct pending *pending;
	struct yb_buf chunk;
	bool purge;            /* STATE/forgotten may hold folders to remove when idle */
};

/* Wakes the loop when a supervisor (our child while we live) ends, so it is reaped at once. */
static int sigchld_pipe[2] = { -1, -1 };

static void on_sigchld(int sig)
{
	int saved = errno;
	ssize_t n = write(sigchld_pipe[1], "x", 1);
	(void)n;
	(void)sig;
	errno = saved;
}

static size_t queued(const struct serve *s)
{
	return s->out.len - s->out_pos;
}

static void send_json(struct serve *s, uint8_t type, struct yb_json *obj)
{
	struct yb_err err;
	if (wire_put_json(&s->out, type, obj, &err) < 0)
		BUG("cannot queue a %s frame: %s", wire_type_name(type), err.msg);
	yb_json_free(obj);
}

static void send_error(struct serve *s, const char *job, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void send_error(struct serve *s, const char *job, const char *code, const char *fmt, ...)
{
	char msg[YB_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct yb_json *o = yb_json_object();
	if (job)
		yb_json_set(o, "job", yb_json_str(job));
	yb_json_set(o, "code", yb_json_str(code));
	yb_json_set(o, "message", yb_json_str(msg));
	send_json(s, WIRE_ERROR, o);
	if (!job) {
		fprintf(stderr, "yoban-runner: error: %s\n", msg);
		s->failed = true;
	}
}

/* A job's ERROR that names the spec digest of the request ("exists", "conflict"). */
static void send_error_digest(struct serve *s, const char *job, const char *code,
			      const char *digest, const char *msg)
{
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "job", yb_json_str(job));
	yb_json_set(o, "code", yb_json_str(code));
	yb_json_set(o, "message", yb_json_str(msg));
	yb_json_set(o, "spec_sha256", yb_json_str(digest));
	send_json(s, WIRE_ERROR, o);
}

/* The processes of a job that carry its marker (proctree.h): with killed, first SIGKILLed until
 * none is left or LEFTOVER_KILL_MS passed (killed says whom). Returns how many are left, named in
 * left. Used only where no supervisor answers for the job. */
static int leftovers(struct serve *s, const char *job, struct proctree_log *killed,
		     struct proctree_log *left)
{
	char *marker = proctree_marker(s->o->state_dir, job);
	int64_t deadline = yb_mono_ms() + LEFTOVER_KILL_MS;
	while (killed && proctree_signal_marked(marker, SIGKILL, killed) > 0 &&
	       yb_mono_ms() < deadline) {
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	int n = proctree_signal_marked(marker, 0, left); /* 0: only counted, and named */
	free(marker);
	return n;
}

static struct yb_json *log_json(const struct proctree_log *log)
{
	struct yb_json *a = yb_json_array();
	for (size_t i = 0; i < log->n_kept; i++) {
		struct yb_json *k = yb_json_object();
		yb_json_set(k, "pid", yb_json_int(log->kept[i].pid));
		yb_json_set(k, "comm", yb_json_str(log->kept[i].comm));
		yb_json_push(a, k);
	}
	return a;
}

/* A job this runner has no journal for: "unknown-job" when nothing of it runs here either (its
 * id may be released), "unknown-running" when processes carrying its marker still run (lost,
 * but not free: CANCEL kills them). killed: how many a CANCEL just killed, or -1. */
static void send_unknown(struct serve *s, const char *job, const char *why, int killed)
{
	struct proctree_log *log = xcalloc(1, sizeof(*log));
	int left = leftovers(s, job, NULL, log);
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "job", yb_json_str(job));
	yb_json_set(o, "code", yb_json_str(left ? "unknown-running" : "unknown-job"));
	char *msg = left ? xasprintf("no journal for job '%s' in '%s' (%s), but %d process%s of it "
				     "still run%s here (CANCEL kills them)", job, s->o->state_dir, why,
				     left, left == 1 ? "" : "es", left == 1 ? "s" : "")
			 : xasprintf("no job '%s' in '%s' (%s), and nothing of it runs here", job,
				     s->o->state_dir, why);
	yb_json_set(o, "message", yb_json_str(msg));
	yb_json_set(o, "processes", yb_json_int(left));
	yb_json_set(o, "pids", log_json(log));
	if (killed >= 0)
		yb_json_set(o, "killed", yb_json_int(killed));
	send_json(s, WIRE_ERROR, o);
	free(msg);
	free(log);
}

static void drop_attach(struct serve *s, const char *job)
{
	for (struct attach **pp = &s->attached; *pp; pp = &(*pp)->next) {
		struct attach *a = *pp;
		if (strcmp(a->job, job))
			continue;
		*pp = a->next;
		if (a->wd >= 0 && s->inotify_fd >= 0)
			inotify_rm_watch(s->inotify_fd, a->wd);
		spool_reader_close(&a->rd);
		free(a->dir);
		free(a);
		return;
	}
}

/* Attaches (or re-attaches) to job at offset; 0, or <0 with an ERROR already queued. */
static int attach_job(struct serve *s, const char *job, uint64_t offset)
{
	struct yb_err err;
	drop_attach(s, job);
	struct attach *a = xcalloc(1, sizeof(*a));
	snprintf(a->job, sizeof(a->job), "%s", job);
	a->dir = journal_job_dir(s->o->state_dir, job);
	int rc = spool_reader_open(&a->rd, a->dir, &err);
	if (rc == YB_ENOENT) {
		send_unknown(s, job, "never started here, forgotten, or its folder was removed", -1);
		goto fail;
	}
	if (rc < 0) {
		send_error(s, job, "journal", "%s", err.msg);
		goto fail;
	}
	if ((rc = spool_reader_seek(&a->rd, offset, &err)) < 0) {
		send_error(s, job, rc == YB_ERANGE ? "bad-offset" : "journal", "job '%s': %s", job, err.msg);
		goto fail;
	}
	a->wd = -1;
	if (s->inotify_fd >= 0)
		a->wd = inotify_add_watch(s->inotify_fd, a->dir, IN_MODIFY | IN_MOVED_TO | IN_CLOSE_WRITE);
	a->dirty = true;
	a->next = s->attached;
	s->attached = a;
	return 0;
fail:
	spool_reader_close(&a->rd);
	free(a->dir);
	free(a);
	return rc;
}

/* ATTACH, CANCEL and FORGET may name the spec digest the client knows from the ACK
 * ("spec_sha256"): then they act only on that job. False (with an ERROR queued: "bad-spec" if the
 * field is malformed, "conflict" if the id is held by a job with another digest) when they must
 * not go on; a job not journaled here passes (the request itself says "unknown-job"). */
static bool same_job(struct serve *s, const char *job, const struct yb_json *v)
{
	const struct yb_json *field = yb_json_get(v, "spec_sha256");
	if (!field)
		return true;
	const char *want = yb_json_string_value(field);
	if (!yb_json_is_string(field) || strlen(want) != 64) {
		send_error(s, job, "bad-spec", "job '%s': 'spec_sha256' must be 64 hex digits", job);
		return false;
	}
	if (!journal_job_exists(s->o->state_dir, job))
		return true;
	char *dir = journal_job_dir(s->o->state_dir, job), have[65];
	bool same = journal_read_digest(dir, have, NULL) == 0 && !strcmp(have, want);
	free(dir);
	if (!same)
		send_error_digest(s, job, "conflict", want, "job id held here by another job (its spec "
				  "digest is not the one given): left alone");
	return same;
}

static const char *job_of(struct serve *s, const struct wire_frame *f, const struct yb_json *v)
{
	const char *job = yb_json_get_str(v, "job");
	if (!job)
		send_error(s, NULL, "proto", "%s frame without a 'job'", wire_type_name(f->type));
	return job;
}

static void on_hello(struct serve *s, const struct yb_json *v)
{
	struct yb_json *proto = yb_json_get(v, "proto");
	const char *program = yb_json_get_str(v, "program"), *version = yb_json_get_str(v, "version");
	if (!yb_json_is_int(proto) || yb_json_int_value(proto) != WIRE_PROTO) {
		char theirs[32] = "none";
		if (yb_json_is_int(proto))
			snprintf(theirs, sizeof(theirs), "%lld", (long long)yb_json_int_value(proto));
		struct yb_json *o = yb_json_object();
		char *msg = xasprintf("protocol version mismatch: %s %s speaks protocol %s, yoban-runner "
				      RUNNER_VERSION " speaks protocol %d (install the same Yoban version "
				      "on the scheduler and on this host)",
				      program ? program : "the peer", version ? version : "(unknown version)",
				      theirs, WIRE_PROTO);
		yb_json_set(o, "code", yb_json_str("version"));
		yb_json_set(o, "message", yb_json_str(msg));
		send_json(s, WIRE_ERROR, o);
		fprintf(stderr, "yoban-runner: error: %s\n", msg);
		free(msg);
		s->failed = true;
		return;
	}
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "proto", yb_json_int(WIRE_PROTO));
	yb_json_set(o, "program", yb_json_str("yoban-runner"));
	yb_json_set(o, "version", yb_json_str(RUNNER_VERSION));
	yb_json_set(o, "host", yb_json_str(host));
	yb_json_set(o, "state_dir", yb_json_str(s->o->state_dir));
	send_json(s, WIRE_HELLO, o);
	s->hello_done = true;
}

static void on_start(struct serve *s, const struct yb_json *v, const char *job)
{
	struct job_spec spec;
	struct yb_err err;
	int fd;
	if (job_spec_parse(v, &spec, &err) < 0) {
		send_error(s, job, "bad-spec", "job '%s': %s", job, err.msg);
		return;
	}
	int rc = supervisor_launch(s->o->state_dir, &spec, &fd, &err);
	if (rc == YB_EEXIST || rc == YB_EPERM) {
		/* the same job (ATTACH to it), or another job holding the id (never adopted) */
		send_error_digest(s, job, rc == YB_EEXIST ? "exists" : "conflict", spec.digest, err.msg);
		job_spec_release(&spec);
		return;
	}
	if (rc < 0) {
		send_error(s, job, "spawn", "job '%s': %s", job, err.msg);
		job_spec_release(&spec);
		return;
	}
	struct pending *p = xcalloc(1, sizeof(*p));
	snprintf(p->job, sizeof(p->job), "%s", job);
	snprintf(p->digest, sizeof(p->digest), "%s", spec.digest);
	job_spec_release(&spec);
	p->fd = fd;
	p->next = s->pending;
	s->pending = p;
}

static void on_pending_done(struct serve *s, struct pending *p)
{
	int64_t pid;
	struct yb_err err;
	if (supervisor_parse_report(p->text, p->len, &pid, &err) < 0) {
		drop_attach(s, p->job);
		send_error(s, p->job, "spawn", "job '%s': %s", p->job, err.msg);
		return;
	}
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "job", yb_json_str(p->job));
	yb_json_set(o, "op", yb_json_str("start"));
	yb_json_set(o, "pid", yb_json_int(pid));
	yb_json_set(o, "spec_sha256", yb_json_str(p->digest));
	send_json(s, WIRE_ACK, o);
	/* follow it from the first byte: nothing of a job goes out before its ACK */
	attach_job(s, p->job, 0);
}

static void on_frame(struct serve *s, const struct wire_frame *f)
{
	struct yb_json *v = NULL;
	struct yb_err err;
	const char *job;

	if (f->type == WIRE_OUTPUT || f->type == WIRE_EXIT || f->type == WIRE_ACK) {
		send_error(s, NULL, "proto", "%s frames go from the runner to the scheduler, not back",
			   wire_type_name(f->type));
		return;
	}
	if (wire_parse_json(f, &v, &err) < 0) {
		send_error(s, NULL, "proto", "%s", err.msg);
		return;
	}
	if (!s->hello_done && f->type != WIRE_HELLO) {
		send_error(s, NULL, "proto", "expected HELLO first, got %s", wire_type_name(f->type));
		goto out;
	}
	switch (f->type) {
	case WIRE_HELLO:
		if (s->hello_done)
			send_error(s, NULL, "proto", "HELLO sent twice");
		else
			on_hello(s, v);
		break;
	case WIRE_START:
		if ((job = job_of(s, f, v)))
			on_start(s, v, job);
		break;
	case WIRE_ATTACH: {
		if (!(job = job_of(s, f, v)))
			break;
		struct yb_json *off = yb_json_get(v, "offset");
		int64_t offset = off ? yb_json_int_value(off) : 0;
		if (off && (!yb_json_is_int(off) || offset < 0)) {
			send_error(s, job, "bad-offset", "job '%s': 'offset' must be a non-negative integer",
				   job);
			break;
		}
		if (same_job(s, job, v))
			attach_job(s, job, (uint64_t)offset);
		break;
	}
	case WIRE_CANCEL: {
		if (!(job = job_of(s, f, v)) || !same_job(s, job, v))
			break;
		struct proctree_log *log = xcalloc(2, sizeof(*log)); /* [0] killed, [1] left */
		if (!journal_job_exists(s->o->state_dir, job)) {
			/* no journal: whatever still carries its marker is killed */
			leftovers(s, job, &log[0], &log[1]);
			send_unknown(s, job, "nothing to cancel", (int)log[0].n);
			free(log);
			break;
		}
		char *dir = journal_job_dir(s->o->state_dir, job);
		if (journal_cancel(dir, NULL) == YB_ENOENT) {
			/* no supervisor listens: it has ended (EXIT says how), or it was lost and what
			 * is left of the job is killed here */
			int left = leftovers(s, job, &log[0], &log[1]);
			struct yb_json *o = yb_json_object();
			yb_json_set(o, "job", yb_json_str(job));
			yb_json_set(o, "op", yb_json_str("cancel"));
			yb_json_set(o, "killed", yb_json_int((int64_t)log[0].n));
			yb_json_set(o, "processes", yb_json_int(left));
			send_json(s, WIRE_ACK, o);
		}
		free(dir);
		free(log);
		break;
	}
	case WIRE_FORGET: {
		if (!(job = job_of(s, f, v)) || !same_job(s, job, v))
			break;
		char *dir = journal_job_dir(s->o->state_dir, job);
		bool running = journal_job_exists(s->o->state_dir, job) &&
			       journal_liveness(dir) == JOB_RUNNING;
		free(dir);
		if (running) {
			send_error(s, job, "running", "job '%s' is still running (CANCEL it, wait for EXIT, "
				   "then FORGET)", job);
			break;
		}
		drop_attach(s, job);
		if (journal_forget(s->o->state_dir, job, &err) < 0) {
			send_error(s, job, "journal", "%s", err.msg);
			break;
		}
		s->purge = true;
		struct yb_json *o = yb_json_object();
		yb_json_set(o, "job", yb_json_str(job));
		yb_json_set(o, "op", yb_json_str("forget"));
		send_json(s, WIRE_ACK, o);
		break;
	}
	case WIRE_PING: {
		struct yb_json *o = yb_json_object();
		struct yb_json *seq = yb_json_get(v, "seq");
		yb_json_set(o, "seq", seq ? yb_json_ref(seq) : yb_json_int(0));
		send_json(s, WIRE_PONG, o);
		break;
	}
	case WIRE_PONG:
		break;
	case WIRE_ERROR: {
		const char *msg = yb_json_get_str(v, "message");
		fprintf(stderr, "yoban-runner: the scheduler reported an error: %s\n", msg ? msg : "(none)");
		if (!yb_json_get(v, "job"))
			s->failed = true;
		break;
	}
	default:
		send_error(s, NULL, "proto", "unexpected %s frame", wire_type_name(f->type));
	}
out:
	yb_json_free(v);
}

/* Produces at most one OUTPUT (or the EXIT) for a; true if it queued something. */
static bool pump_one(struct serve *s, struct attach *a, int64_t now_ms)
{
	struct yb_err err;
	uint8_t stream;
	uint64_t offset;
	if (a->exit_sent)
		return false;
	int n = spool_reader_read(&a->rd, &s->chunk, WIRE_MAX_CHUNK, &stream, &offset, &err);
	if (n < 0) {
		send_error(s, a->job, "journal", "job '%s': %s", a->job, err.msg);
		a->exit_sent = true; /* nothing more can be said about it */
		return true;
	}
	if (n > 0) {
		if (wire_put_output(&s->out, a->job, stream, offset, s->chunk.data, (size_t)n,
				    SERVE_ZSTD_LEVEL, &err) < 0)
			BUG("cannot queue OUTPUT: %s", err.msg);
		return true;
	}
	/* nothing new: has it ended? */
	struct job_exit ex;
	int rc = journal_read_exit(a->dir, &ex, &err);
	if (rc == 0) {
		if (a->rd.pos < ex.spool_bytes)
			return false; /* its last records are on their way */
		struct yb_json *exit = job_exit_to_json(a->job, &ex);
		struct yb_json *step = sql_result_load(a->dir); /* a built-in step's result */
		if (step)
			yb_json_set(exit, "step", step);
		if (ex.lost) {
			/* the supervisor died: the step may live on; say how much of it, now */
			struct proctree_log *log = xcalloc(1, sizeof(*log));
			yb_json_set(exit, "processes", yb_json_int(leftovers(s, a->job, NULL, log)));
			yb_json_set(exit, "pids", log_json(log));
			free(log);
		}
		send_json(s, WIRE_EXIT, exit);
		a->exit_sent = true;
		return true;
	}
	if (rc != YB_ENOENT) {
		send_error(s, a->job, "journal", "job '%s': %s", a->job, err.msg);
		a->exit_sent = true;
		return true;
	}
	if (now_ms >= a->next_liveness_ms) {
		a->next_liveness_ms = now_ms + LIVENESS_EVERY_MS;
		if (journal_liveness(a->dir) == JOB_LOST) {
			fprintf(stderr, "yoban-runner: job '%s' lost its supervisor; recording its end\n",
				a->job);
			if (journal_record_lost(a->dir, a->job, &err) < 0) {
				send_unknown(s, a->job, err.msg, -1); /* its folder is gone */
				a->exit_sent = true;
				return true;
			}
		}
	}
	return false;
}

/* Due for a look: its folder changed, it is not watched, or its tick has come. */
static bool due(const struct attach *a, int64_t now)
{
	return !a->exit_sent && (a->dirty || a->wd < 0 || now >= a->next_look_ms);
}

/* Pulls from the spools that are due, one chunk each in turn, until nothing more comes or the
 * queue is full; a spool that has nothing new is not looked at again before its next event (or
 * tick), so with many jobs attached an event costs one job's look, not all of theirs. */
static void pump(struct serve *s)
{
	int64_t now = yb_mono_ms();
	bool progress = true;
	while (progress && queued(s) < SERVE_OUT_HIGH && !s->failed) {
		progress = false;
		for (struct attach *a = s->attached; a && queued(s) < SERVE_OUT_HIGH; a = a->next) {
			if (!due(a, now))
				continue;
			if (pump_one(s, a, now)) {
				progress = true;
			} else {
				a->dirty = false;
				a->next_look_ms = now + SERVE_TICK_MS;
			}
		}
	}
}

/* Marks the attachments whose folders the events name (all of them if the queue overflowed). */
static void take_events(struct serve *s)
{
	char events[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	while ((n = read(s->inotify_fd, events, sizeof(events))) > 0) {
		for (char *p = events; p < events + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			for (struct attach *a = s->attached; a; a = a->next)
				if ((ev->mask & IN_Q_OVERFLOW) || a->wd == ev->wd)
					a->dirty = true;
			p += sizeof(*ev) + ev->len;
		}
	}
}

/* How long the loop may sleep: forever when no spool is followed; until the next tick when all
 * followed folders are watched; a short tick when one is not (no inotify, or out of watches).
 * A full queue waits for the client (POLLOUT), not for the spools. */
static int sleep_ms(const struct serve *s)
{
	int64_t now = yb_mono_ms(), ms = -1;
	if (queued(s) >= SERVE_OUT_HIGH)
		return -1; /* nothing can be pumped before the client takes some: POLLOUT wakes us */
	for (const struct attach *a = s->attached; a; a = a->next) {
		if (a->exit_sent)
			continue;
		if (a->wd < 0)
			return 20;
		int64_t left = a->dirty ? 0 : a->next_look_ms - now;
		if (left < 0)
			left = 0;
		if (ms < 0 || left < ms)
			ms = left;
	}
	return (int)ms;
}

/* Writes what the client takes now; <0 when it is gone. */
static int flush_out(struct serve *s)
{
	while (queued(s) > 0) {
		ssize_t n = write(s->o->out_fd, s->out.data + s->out_pos, queued(s));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			return -1;
		s->out_pos += (size_t)n;
	}
	if (s->out_pos == s->out.len) {
		yb_buf_reset(&s->out);
		s->out_pos = 0;
	} else if (s->out_pos > SERVE_OUT_HIGH) {
		yb_buf_consume(&s->out, s->out_pos);
		s->out_pos = 0;
	}
	return 0;
}

/* Before leaving: give the client what is queued (an ERROR, replies), within reason. */
static void final_flush(struct serve *s)
{
	int64_t deadline = yb_mono_ms() + FINAL_FLUSH_MS;
	while (queued(s) > 0 && yb_mono_ms() < deadline) {
		struct pollfd p = { .fd = s->o->out_fd, .events = POLLOUT };
		if (poll(&p, 1, 100) < 0 && errno != EINTR)
			return;
		if (flush_out(s) < 0)
			return;
	}
}

static void read_pending(struct serve *s, struct pending *p, bool *done)
{
	for (;;) {
		if (p->len >= sizeof(p->text) - 1) {
			*done = true;
			return;
		}
		ssize_t n = read(p->fd, p->text + p->len, sizeof(p->text) - 1 - p->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			*done = true;
			return;
		}
		p->len += (size_t)n;
	}
}

int serve_run(const struct serve_opts *o)
{
	struct serve s = { .o = o, .inotify_fd = -1 };
	struct yb_err err;
	int status = 0;
	char *piece = xmalloc(READ_PIECE);

	signal(SIGPIPE, SIG_IGN);
	wire_reader_init(&s.in);
	yb_buf_init(&s.out, 0);
	yb_buf_init(&s.chunk, WIRE_MAX_CHUNK);
	if (pipe2(sigchld_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		fprintf(stderr, "yoban-runner: error: cannot make a pipe: %s\n", strerror(errno));
		status = 1;
		goto out;
	}
	struct sigaction sa = { 0 };
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	if (journal_prepare(o->state_dir, &err) < 0) {
		/* the client hears why too, not just end of file */
		send_error(&s, NULL, "state", "state folder: %s (check --state-dir and its owner)",
			   err.msg);
		final_flush(&s);
		status = 1;
		goto out;
	}
	if (o->retention_ms > 0) {
		int removed = 0;
		if (journal_gc(o->state_dir, o->retention_ms, &removed, &err) < 0)
			fprintf(stderr, "yoban-runner: warning: %s\n", err.msg);
	}
	s.purge = true; /* what an earlier serve forgot but had no time to remove */
	/* without inotify (limits reached) the timer alone drives the tailing, only slower */
	s.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	fcntl(o->in_fd, F_SETFL, fcntl(o->in_fd, F_GETFL) | O_NONBLOCK);
	fcntl(o->out_fd, F_SETFL, fcntl(o->out_fd, F_GETFL) | O_NONBLOCK);

	for (;;) {
		/* requests, only while the queue toward the client is short */
		size_t n_pending = 0;
		for (struct pending *p = s.pending; p; p = p->next)
			n_pending++;
		struct pollfd *pfd = xcalloc(4 + n_pending, sizeof(*pfd));
		pfd[0] = (struct pollfd){ .fd = queued(&s) < SERVE_OUT_HIGH ? o->in_fd : -1, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = queued(&s) ? o->out_fd : -1, .events = POLLOUT };
		pfd[2] = (struct pollfd){ .fd = s.inotify_fd, .events = POLLIN };
		pfd[3] = (struct pollfd){ .fd = sigchld_pipe[0], .events = POLLIN };
		size_t i = 4;
		for (struct pending *p = s.pending; p; p = p->next)
			pfd[i++] = (struct pollfd){ .fd = p->fd, .events = POLLIN };
		/* forgotten folders are removed only when nothing else is waiting, one per turn */
		int timeout = s.purge ? 0 : sleep_ms(&s);
		int ready = poll(pfd, (nfds_t)(4 + n_pending), timeout);
		if (ready < 0 && errno != EINTR) {
			fprintf(stderr, "yoban-runner: error: poll: %s\n", strerror(errno));
			free(pfd);
			status = 1;
			goto out;
		}
		if (ready == 0 && s.purge)
			s.purge = journal_purge_forgotten(o->state_dir) == 1;
		if (pfd[2].fd >= 0 && pfd[2].revents)
			take_events(&s);
		if (pfd[3].revents) {
			char drain[64];
			while (read(sigchld_pipe[0], drain, sizeof(drain)) > 0)
				;
		}
		/* supervisor reports (first: the list is as it was when polled) */
		i = 4;
		for (struct pending **pp = &s.pending; *pp;) {
			struct pending *p = *pp;
			bool done = false;
			if (pfd[i++].revents)
				read_pending(&s, p, &done);
			if (done) {
				on_pending_done(&s, p);
				close(p->fd);
				*pp = p->next;
				free(p);
			} else {
				pp = &p->next;
			}
		}
		if (pfd[0].fd >= 0 && pfd[0].revents) {
			ssize_t n = read(o->in_fd, piece, READ_PIECE);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				/* the client is gone (or has only stopped writing: it gets what is queued,
				 * within reason); the jobs go on */
				free(pfd);
				final_flush(&s);
				goto out;
			}
			if (n > 0 && wire_reader_feed(&s.in, piece, (size_t)n, &err) < 0)
				send_error(&s, NULL, "proto", "%s", err.msg);
			struct wire_frame f;
			int rc = 0;
			while (!s.failed && (rc = wire_reader_next(&s.in, &f, &err)) == 1)
				on_frame(&s, &f);
			if (!s.failed && rc < 0)
				send_error(&s, NULL, "proto", "%s", err.msg);
		}
		free(pfd);
		/* our children are supervisors (each in a session of its own): reaped as they end */
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (s.failed) {
			final_flush(&s);
			status = 1;
			goto out;
		}
		pump(&s);
		if (flush_out(&s) < 0)
			goto out; /* the client is gone */
	}
out:
	while (s.pending) {
		struct pending *p = s.pending;
		s.pending = p->next;
		close(p->fd);
		free(p);
	}
	while (s.attached)
		drop_attach(&s, s.attached->job);
	if (s.inotify_fd >= 0)
		close(s.inotify_fd);
	signal(SIGCHLD, SIG_DFL);
	for (int k = 0; k < 2; k++) {
		if (sigchld_pipe[k] >= 0)
			close(sigchld_pipe[k]);
		sigchld_pipe[k] = -1;
	}
	wire_reader_release(&s.in);
	yb_buf_release(&s.out);
	yb_buf_release(&s.chunk);
	free(piece);
	return status;
}
