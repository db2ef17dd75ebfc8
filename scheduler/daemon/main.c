/*
 * yoband.c: the scheduler daemon's main loop: options, signals, the database connections,
 * leadership and the heartbeat.
 *
 * The one idea: one thread, one ppoll() per turn, explicit phases (signals, database input and
 * notifications, runner I/O, due fires, run progress, flush, heartbeat), and the database as the
 * only memory that matters. Whatever goes wrong with the database (a restart, a lost connection,
 * a lost advisory lock) is handled like a restart of the daemon: everything in memory is dropped
 * (the runners' jobs live on in their journals), and the next leader turn reconciles from the rows.
 * Signal handlers only set flags; signals are blocked except inside ppoll, so none is missed.
 * While serving, no database statement is waited for: they go through one queue on the main
 * connection, sent without blocking, each with an optional continuation run when its result is
 * in (yd_async*, yd_decide); deciding statements pass the stores not yet sent.
 */
#define _GNU_SOURCE
#include "yoband.h"
#include "db_admin.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The advisory lock the leader holds: "yoband" as a number. */
#define YD_LOCK_KEY "121111098097110100"
#define YD_HEARTBEAT_MS 10000
#define YD_LOCK_RETRY_MS 3000
#define YD_CONNECT_RETRY_MS 2000

volatile sig_atomic_t yd_sig_hup, yd_sig_term, yd_sig_chld;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		yd_sig_hup = 1;
	else if (sig == SIGCHLD)
		yd_sig_chld = 1;
	else
		yd_sig_term = 1;
}

void yd_log(const char *fmt, ...)
{
	char when[40];
	int64_t us = yb_wall_us();
	time_t s = (time_t)(us / 1000000);
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + n, sizeof(when) - n, ".%03dZ", (int)(us / 1000 % 1000));
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s yoband[%d]: %s\n", when, (int)getpid(), line);
	fflush(stderr);
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

static void stmt_free(struct yd_stmt *st)
{
	for (int i = 0; i < st->n_params; i++)
		free(st->params[i]);
	free(st->params);
	free(st->sql);
	free(st->what);
	if (st->ctx_free)
		st->ctx_free(st->ctx);
	else
		free(st->ctx);
	db_result_free(st->res);
	free(st);
}

static void async_clear(struct yd *d)
{
	while (d->aq_head) {
		struct yd_stmt *st = d->aq_head;
		d->aq_head = st->next;
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
static void async_pump(struct yd *d)
{
	struct yb_err err = { 0 };
	if (d->db_broken || !d->db || !d->aq_head)
		return;
	if (!d->aq_sent) {
		struct yd_stmt *st = d->aq_head;
		if (db_set_nonblocking(d->db, true, &err) < 0 ||
		    db_send(d->db, st->sql, st->n_params, (const char *const *)st->params, &err) < 0) {
			async_broken(d, st->what, &err);
			return;
		}
		d->aq_sent = true;
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
		async_pump(d);
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
	async_pump(d);
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
	async_pump(d);
}

/* The main connection's socket is ready (revents) or a turn passed: move things along. */
static void async_io(struct yd *d, short revents)
{
	struct yb_err err = { 0 };
	if (!d->db || d->db_broken)
		return;
	if (revents & POLLOUT)
		async_pump(d);
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
	async_pump(d);
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
		async_io(d, n > 0 ? p.revents : 0);
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

/* ---- connections and leadership ---------------------------------------------------------- */

static void db_drop(struct yd *d)
{
	if (d->phase == YD_LEADER)
		yd_log("leadership given up (database connection gone); runs are left to the next leader's reconcile");
	yd_teardown(d);
	async_clear(d);
	db_close(d->db);
	db_close(d->lock_db);
	d->db = d->lock_db = NULL;
	d->db_broken = false;
	d->phase = YD_DISCONNECTED;
	d->next_connect_ms = yb_mono_ms() + YD_CONNECT_RETRY_MS;
}

static void heartbeat(struct yd *d)
{
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	const char *p[] = { d->instance, d->hostname, pid, d->phase == YD_LEADER ? "true" : "false" };
	yd_async(d, "the heartbeat", false, "SELECT yoban.yoban_heartbeat($1, $2, $3::integer, $4::boolean)",
		 4, p);
	d->next_heartbeat_ms = yb_mono_ms() + YD_HEARTBEAT_MS;
}

static int try_connect(struct yd *d)
{
	struct yb_err err = { 0 };
	char *ci = NULL;
	int rc;
	d->next_connect_ms = yb_mono_ms() + YD_CONNECT_RETRY_MS;
	if (d->embedded) {
		/* The embedded cluster: started when it is not running. */
		if ((rc = db_cluster_ensure_running(d->site->state_dir, NULL, &err)) < 0) {
			yd_log("cannot start the embedded database under '%s': %s", d->site->state_dir, err.msg);
			return rc;
		}
	}
	if (db_conninfo_with(d->conninfo, "connect_timeout", "5", &ci, &err) < 0)
		ci = xstrdup(d->conninfo);
	if ((rc = db_connect(ci, &d->db, &err)) < 0 || (rc = db_connect(ci, &d->lock_db, &err)) < 0) {
		free(ci);
		yd_log("cannot connect to the database: %s (retrying every %d s)", err.msg,
		       YD_CONNECT_RETRY_MS / 1000);
		db_close(d->db);
		d->db = NULL;
		return rc;
	}
	free(ci);
	const struct db_migration *m;
	size_t n;
	bool owned = false;
	if ((rc = db_exec(d->db, "SET statement_timeout = '15s'", 0, NULL, NULL, &err)) < 0 ||
	    (rc = db_exec(d->lock_db, "SET statement_timeout = '5s'", 0, NULL, NULL, &err)) < 0 ||
	    (rc = db_migrations_default(&m, &n, &owned, &err)) < 0)
		goto fail;
	rc = db_schema_check(d->db, m, n, &err);
	if (owned)
		db_migrations_free((struct db_migration *)m, n);
	if (rc < 0 || (rc = db_listen(d->db, DB_REQUESTS_CHANNEL, &err)) < 0)
		goto fail;
	d->phase = YD_STANDBY;
	d->next_lock_try_ms = 0;
	yd_log("connected to the database as instance '%s'", d->instance);
	heartbeat(d);
	return 0;
fail:
	yd_log("database not usable: %s", err.msg);
	db_close(d->db);
	db_close(d->lock_db);
	d->db = d->lock_db = NULL;
	return rc;
}

static void try_lead(struct yd *d)
{
	struct yb_err err = { 0 };
	char *v = NULL;
	const char *p[] = { YD_LOCK_KEY };
	d->next_lock_try_ms = yb_mono_ms() + YD_LOCK_RETRY_MS;
	int rc = db_query_value(d->lock_db, "SELECT pg_try_advisory_lock($1::bigint)", 1, p, &v, &err);
	if (rc < 0) {
		yd_log("cannot ask for the leader lock: %s", err.msg);
		d->db_broken = true;
		return;
	}
	bool got = v && !strcmp(v, "t");
	free(v);
	if (!got)
		return;
	d->phase = YD_LEADER;
	yd_log("leader: holding the advisory lock; catching up and reconciling");
	heartbeat(d);
	/* A standby's runbooks may be older than the files (reloads went to the old leader). */
	yd_reload(d);
	yd_leader_start(d);
}

/* Is the lock session still there? A dead one means someone else may lead now. */
static void check_lock(struct yd *d)
{
	char *v = NULL;
	if (db_query_value(d->lock_db, "SELECT 1", 0, NULL, &v, NULL) < 0) {
		yd_log("the leader lock's session is gone");
		d->db_broken = true;
	}
	free(v);
}

/* ---- the loop ---------------------------------------------------------------------------- */

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static void reap_children(void)
{
	int status;
	while (waitpid(-1, &status, WNOHANG) > 0)
		;
}

static int run_loop(struct yd *d)
{
	sigset_t blocked, empty;
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGHUP);
	sigaddset(&blocked, SIGTERM);
	sigaddset(&blocked, SIGINT);
	sigaddset(&blocked, SIGCHLD);
	sigprocmask(SIG_BLOCK, &blocked, NULL);
	sigemptyset(&empty);

	struct pollfd *pfd = NULL;
	struct yd_conn **pconn = NULL;
	size_t cap = 0;

	yd_reload(d);
	for (;;) {
		/* Phase 1: signals. */
		if (yd_sig_chld) {
			yd_sig_chld = 0;
			reap_children();
		}
		if (yd_sig_term) {
			yd_log("stopping on a signal: no new fires; jobs in flight go on and are re-attached by the next leader");
			break;
		}
		if (yd_sig_hup || d->reload_wanted) {
			yd_sig_hup = 0;
			d->reload_wanted = false;
			yd_log("reloading runbooks");
			yd_reload(d);
		}
		int64_t now = yb_mono_ms();

		/* Phase 2: the database's state. */
		if (d->db_broken)
			db_drop(d);
		if (d->phase == YD_DISCONNECTED && now >= d->next_connect_ms)
			try_connect(d);
		if (d->phase == YD_STANDBY && now >= d->next_lock_try_ms)
			try_lead(d);
		if (d->phase != YD_DISCONNECTED && now >= d->next_heartbeat_ms) {
			if (d->phase == YD_LEADER)
				check_lock(d);
			heartbeat(d);
		}
		if (d->db_broken)
			continue;

		/* Phase 3: due work (fires, admission, retries, next steps), then flush. */
		if (d->phase == YD_LEADER) {
			if (d->requests_pending)
				yd_handle_requests(d);
			yd_fire_due(d);
			d->advance_wanted = false;
			yd_runs_advance(d);
			yd_flush_chunks(d);
		}
		if (d->db_broken)
			continue;

		/* Phase 4: sleep until something happens or the next timer. */
		/* The turn's run transitions and job rows go out together (one commit each kind). */
		yd_decisions_flush(d);
		if (d->db_broken)
			continue;
		size_t n_conns = 0;
		for (struct yd_conn *c = d->conns; c; c = c->next)
			n_conns++;
		if (n_conns + 1 > cap) {
			cap = n_conns + 8;
			pfd = xrealloc(pfd, cap * sizeof(*pfd));
			pconn = xrealloc(pconn, cap * sizeof(*pconn));
		}
		size_t np = 0;
		int64_t wait = 1000;
		now = yb_mono_ms();
		if (d->phase == YD_DISCONNECTED)
			wait = min64(wait, d->next_connect_ms - now);
		if (d->phase == YD_STANDBY)
			wait = min64(wait, d->next_lock_try_ms - now);
		if (d->phase != YD_DISCONNECTED) {
			wait = min64(wait, d->next_heartbeat_ms - now);
			pfd[np] = (struct pollfd){ .fd = db_fd(d->db),
						   .events = POLLIN | (d->aq_flushing ? POLLOUT : 0) };
			pconn[np++] = NULL;
		}
		if (d->phase == YD_LEADER) {
			struct yd_entry *top = yd_heap_top(d);
			if (top && top->next_fire != INT64_MAX) {
				int64_t ms = top->next_fire * 1000 - yb_wall_us() / 1000;
				wait = min64(wait, ms < 0 ? 0 : ms);
			}
			wait = min64(wait, yd_runs_timeout_ms(d));
			for (struct yd_conn *c = d->conns; c; c = c->next) {
				int fd = -1, tmo = -1;
				short ev = 0;
				rclient_poll(c->rc, &fd, &ev, &tmo);
				if (tmo >= 0)
					wait = min64(wait, tmo);
				pfd[np] = (struct pollfd){ .fd = fd, .events = ev };
				pconn[np++] = c;
			}
		}
		if (d->phase != YD_DISCONNECTED) {
			/* A notification read during a statement sits in libpq, not in the socket. */
			struct db_notify note;
			while (db_next_notify(d->db, &note) == 1)
				d->requests_pending = true;
			if (d->phase != YD_LEADER)
				d->requests_pending = false;
			if (d->requests_pending || d->advance_wanted)
				wait = 0;
		}
		if (wait < 0)
			wait = 0;
		struct timespec ts = { wait / 1000, (wait % 1000) * 1000000 };
		int n = ppoll(pfd, np, &ts, &empty);
		if (n < 0 && errno != EINTR) {
			yd_log("poll: %s", strerror(errno));
			break;
		}
		if (n < 0)
			continue;

		/* Phase 5: I/O: notifications, then runners (their callbacks store output and exits). */
		for (size_t i = 0; i < np; i++) {
			if (pconn[i])
				continue;
			/* Results of queued statements, and notifications. */
			async_io(d, pfd[i].revents);
			if (d->db_broken)
				break;
			struct db_notify note;
			while (db_next_notify(d->db, &note) == 1)
				d->requests_pending = true;
		}
		if (d->db_broken)
			continue;
		if (d->phase == YD_LEADER && d->requests_pending)
			yd_handle_requests(d);
		for (size_t i = 0; i < np && !d->db_broken; i++) {
			if (!pconn[i] || d->phase != YD_LEADER)
				continue;
			struct yb_err err = { 0 };
			struct yd_conn *c = pconn[i];
			if (rclient_step(c->rc, pfd[i].fd >= 0 ? pfd[i].revents : 0, &err) < 0 &&
			    rclient_state(c->rc) == RC_FAILED) {
				/* Handled by yd_runs_advance: it fails the jobs of a failed connection. */
			}
		}
		if (d->phase == YD_LEADER && !d->db_broken)
			yd_flush_chunks(d);
	}
	/* Drain: store what arrived, say goodbye, let a standby take over at once. */
	if (d->phase == YD_LEADER && !d->db_broken)
		yd_flush_chunks(d);
	if (d->db && !d->db_broken) {
		enum yd_phase was = d->phase;
		d->phase = YD_STANDBY;
		heartbeat(d);
		d->phase = was;
		yd_async_drain(d);
	}
	yd_teardown(d);
	async_clear(d);
	db_close(d->db);
	db_close(d->lock_db);
	d->db = d->lock_db = NULL;
	free(pfd);
	free(pconn);
	yd_log("stopped");
	return 0;
}

static bool is_embedded(const char *conninfo, const char *state_dir)
{
	char *host = NULL;
	bool yes = false;
	if (!state_dir || !db_cluster_exists(state_dir))
		return false;
	if (db_conninfo_get(conninfo, "host", &host, NULL) == 0) {
		char *run = xasprintf("%s/run", state_dir);
		yes = !strcmp(host, run);
		free(run);
	}
	free(host);
	return yes;
}

static const char usage[] =
	"usage: yoband [--config FILE] [--foreground]\n"
	"\n"
	"The Yoban scheduler daemon: fires runbooks on their schedules, dispatches their steps to\n"
	"yoban-runner on the inventory's hosts, stores output and exits in PostgreSQL, and acts on\n"
	"operators' requests (yoban trigger, cancel, rerun, reload) at once.\n"
	"\n"
	"  -c, --config FILE  the site config (default: $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
	"  -f, --foreground   stay in the foreground (yoband never forks; accepted for unit files)\n"
	"  -h, --help         this text\n"
	"\n"
	"Several yoband may run against one database: one leads (a PostgreSQL advisory lock), the\n"
	"others wait and take over within seconds when it dies. SIGHUP (or `yoban reload`) reloads\n"
	"the runbooks; SIGTERM stops (jobs in flight go on and are re-attached by the next leader).\n"
	"The log goes to stderr, one line per event. See docs/daemon.md.\n";

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	int ch;
	while ((ch = getopt_long(argc, argv, "c:fh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'f':
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "yoband: unexpected argument '%s'\n%s", argv[optind], usage);
		return 2;
	}
	struct yb_err err = { 0 };
	char *path = NULL;
	if (!config && !getenv("YOBAN_CONFIG") && access("/etc/yoban/yoban.yaml", F_OK) != 0) {
		fprintf(stderr, "yoband: error: no site config (give --config FILE or set YOBAN_CONFIG)\n");
		return 2;
	}
	if (rb_config_find(config, NULL, &path, &err) < 0) {
		fprintf(stderr, "yoband: error: %s\n", err.msg);
		return 2;
	}
	struct yd d;
	memset(&d, 0, sizeof(d));
	d.config_path = path;
	if (rb_site_load(path, &d.site, &err) < 0) {
		fprintf(stderr, "yoband: error: %s\n", err.msg);
		free(path);
		return 1;
	}
	if (gethostname(d.hostname, sizeof(d.hostname) - 1) < 0)
		strcpy(d.hostname, "localhost");
	unsigned char rnd[3];
	char rhex[7];
	yb_random_bytes(rnd, sizeof(rnd));
	yb_hex(rnd, sizeof(rnd), rhex);
	snprintf(d.instance, sizeof(d.instance), "%s-%d-%s", d.hostname, (int)getpid(), rhex);
	/* The embedded cluster: no database named, or the one under state_dir (as `yoban init`
	 * writes it). Then the daemon starts it when needed and logs in as its own role. */
	char *base = d.site->database ? xstrdup(d.site->database)
				      : db_cluster_conninfo(d.site->state_dir, DB_CLUSTER_DBNAME);
	d.embedded = !d.site->database || is_embedded(base, d.site->state_dir);
	char *user = NULL;
	if (d.embedded && db_conninfo_get(base, "user", &user, NULL) < 0 &&
	    db_conninfo_with(base, "user", DB_DAEMON_LOGIN, &d.conninfo, &err) == 0)
		free(base);
	else
		d.conninfo = base;
	free(user);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	yd_log("starting: config '%s', instance '%s'", path ? path : "(defaults)", d.instance);
	int status = run_loop(&d);
	yd_entries_free(&d);
	if (d.base)
		yd_set_unref(d.base);
	rb_site_free(d.site);
	free(d.conninfo);
	free(path);
	return status;
}
