/*
 * main.c (yoban-notify): the delivery worker, a process of its own so that no mail server,
 * webhook or phone tool can ever slow the scheduler's loop.
 *
 * It logs in as yoband does (DB_DAEMON_LOGIN on the embedded cluster), LISTENs on yoban_notify,
 * and loops: plan new events, deliver what is due (one transaction each), escalate incidents past
 * the SLA report time, then sleep until a NOTIFY, the next retry, or 5 s. Several workers may run
 * at once: FOR UPDATE SKIP LOCKED gives each delivery to one of them. SIGTERM/SIGINT end it
 * between deliveries; SIGHUP re-reads yoban.yaml. A lost database connection is retried every 5 s.
 */
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "db_admin.h"
#include "http.h"
#include "runbook.h"
#include "worker.h"
#include "yb_version.h"

#define IDLE_MS 5000

static volatile sig_atomic_t stop_flag, reload_flag;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_flag = 1;
	else
		stop_flag = 1;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: yoban-notify [--config FILE] [--once] [--verbose]\n"
		     "\n"
		     "Delivers Yoban's notices (failures, timeouts, lost runs, missed fires, escalations)\n"
		     "from the outbox in PostgreSQL through the channels of yoban.yaml's notify block:\n"
		     "smtp, webhook, command. Retries with backoff, records every attempt, falls over to\n"
		     "the next channel after the last retry, and escalates incidents not acknowledged\n"
		     "within contract.sla.report. See docs/notifications.md.\n"
		     "\n"
		     "  --config FILE  the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		     "  --once         deliver what is due now, then exit (retries wait for the next run)\n"
		     "  --verbose      log every event planned, also those nobody is told about\n");
}

static int load_site(const char *config, struct rb_site **out)
{
	struct yb_err err = { 0 };
	char *path = NULL;
	int rc = rb_config_find(config, NULL, &path, &err);
	if (rc == 0)
		rc = rb_site_load(path, out, &err);
	free(path);
	if (rc < 0)
		fprintf(stderr, "yoban-notify: %s\n", err.msg);
	return rc;
}

static int connect_db(const struct rb_site *site, struct db_conn **out, struct yb_err *err)
{
	char *conninfo = NULL;
	bool embedded = false;
	int rc = db_site_conninfo(site->database, site->state_dir, DB_DAEMON_LOGIN, &conninfo,
				  &embedded, err);
	if (rc == 0)
		rc = db_connect(conninfo, out, err);
	free(conninfo);
	if (rc == 0 && site->default_timezone) {
		/* Times in notices read as the site's clock (2026-11-22T02:03:00+09:00). */
		const char *p[] = { site->default_timezone };
		if ((rc = db_exec(*out, "SELECT pg_catalog.set_config('TimeZone', $1, false)", 1, p,
				  NULL, err)) < 0) {
			db_close(*out);
			*out = NULL;
		}
	}
	if (rc == 0 && (rc = db_listen(*out, WORKER_CHANNEL, err)) < 0) {
		db_close(*out);
		*out = NULL;
	}
	return rc;
}

/* One round: everything planned and everything due delivered. <0: the database failed. */
static int round_once(struct worker *w, struct yb_err *err)
{
	int rc;
	while ((rc = worker_plan(w, err)) > 0 && !stop_flag)
		;
	if (rc < 0)
		return rc;
	if ((rc = worker_escalate(w, err)) < 0)
		return rc;
	while ((rc = worker_plan(w, err)) > 0 && !stop_flag) /* the escalations' events */
		;
	if (rc < 0)
		return rc;
	while (!stop_flag && (rc = worker_deliver_one(w, err)) > 0)
		;
	return rc < 0 ? rc : 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' }, { "once", no_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },      { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },      { NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	bool once = false, verbose = false;
	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "c:hv", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 'o': once = true; break;
		case 'v': verbose = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("yoban-notify " YB_VERSION "\n"); return 0;
		default:
			fprintf(stderr, "yoban-notify: unknown option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "yoban-notify: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	struct rb_site *site = NULL;
	if (load_site(config, &site) < 0)
		return 2;
	struct yb_err err = { 0 };
	if (http_global_init(&err) < 0) {
		fprintf(stderr, "yoban-notify: %s\n", err.msg);
		rb_site_free(site);
		return 1;
	}
	struct sigaction sa = { 0 };
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct worker w = { .site = site, .verbose = verbose };
	char host[64] = "";
	gethostname(host, sizeof(host) - 1);
	snprintf(w.instance, sizeof(w.instance), "%s:%d", host, (int)getpid());
	int status = 0;
	while (!stop_flag) {
		if (reload_flag) {
			reload_flag = 0;
			struct rb_site *fresh = NULL;
			if (load_site(config, &fresh) == 0) {
				rb_site_free(site);
				site = fresh;
				w.site = fresh;
				fprintf(stderr, "yoban-notify: yoban.yaml read again\n");
			}
		}
		if (!w.conn) {
			if (connect_db(site, &w.conn, &err) < 0) {
				fprintf(stderr, "yoban-notify: cannot reach the database: %s%s\n", err.msg,
					once ? "" : " (trying again in 5s)");
				if (once) {
					status = 1;
					break;
				}
				sleep(5);
				continue;
			}
			fprintf(stderr, "yoban-notify: %s delivering\n", w.instance);
		}
		if (round_once(&w, &err) < 0) {
			fprintf(stderr, "yoban-notify: %s\n", err.msg);
			if (!db_connected(w.conn)) {
				db_close(w.conn);
				w.conn = NULL;
			}
			if (once) {
				status = 1;
				break;
			}
			sleep(1);
			continue;
		}
		if (once)
			break;
		int64_t wait = worker_next_due_ms(&w, IDLE_MS, &err);
		if (wait < 0)
			continue;
		struct pollfd p = { db_fd(w.conn), POLLIN, 0 };
		if (wait > 0 && poll(&p, 1, (int)wait) > 0) {
			struct db_notify note;
			db_consume(w.conn, &err);
			while (db_next_notify(w.conn, &note) == 1)
				;
		}
	}
	db_close(w.conn);
	rb_site_free(site);
	return status;
}
