/*
 * main.c: yoband's entry point: options, signals and the loop.
 *
 * The one idea: one thread, one ppoll() per turn, in fixed phases: signals; the database's state
 * (connect, try the lock, heartbeat: leader.c); due work when leading (requests, fires, run
 * progress, output flush); the turn's decisions sent together; the sleep until the earliest timer;
 * then I/O (statement results and notifications: queue.c; runners: jobs.c). Signal handlers only
 * set flags, and signals are blocked except inside ppoll, so none is lost between a check and the
 * sleep. The database is the only memory that matters (docs/daemon.md).
 */
#define _GNU_SOURCE
#include "yoband.h"
#include "yb_version.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
			yd_db_drop(d);
		if (d->phase == YD_DISCONNECTED && now >= d->next_connect_ms)
			yd_db_connect(d);
		if (d->phase == YD_STANDBY && now >= d->next_lock_try_ms)
			yd_lead_try(d);
		if (d->phase != YD_DISCONNECTED && now >= d->next_heartbeat_ms) {
			if (d->phase == YD_LEADER)
				yd_lock_check(d);
			yd_heartbeat(d);
		}
		if (d->db_broken)
			continue;

		/* Phase 3: due work (fires, admission, retries, next steps), then flush. */
		if (d->phase == YD_LEADER) {
			if (d->requests_pending)
				yd_handle_requests(d);
			yd_fire_due(d);
			yd_approvals_due(d);
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
			yd_queue_io(d, pfd[i].revents);
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
	yd_db_close(d);
	free(pfd);
	free(pconn);
	yd_log("stopped");
	return 0;
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
	"      --version      the version\n"
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
		{ "version", no_argument, NULL, 'V' },
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
		case 'V':
			printf("yoband %s\n", YB_VERSION);
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
	yd_db_setup(&d);

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
