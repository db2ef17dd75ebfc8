/*
 * leader.c: the database connections, leadership (the advisory lock), the heartbeat, the log.
 *
 * The one idea: whatever goes wrong with the database (a restart, a lost connection, a lost
 * advisory lock) is handled like a restart of the daemon: everything in memory is dropped (the
 * runners' jobs live on in their journals) and the next leader turn reconciles from the rows.
 * A daemon is disconnected, a standby (connected, trying the lock every 3 s) or the leader; on
 * taking the lead it records its revisions, reconciles the runs in flight and catches up on the
 * fires missed (yd_leader_start), then serves.
 */
#define _GNU_SOURCE
#include "yoband.h"
#include "db_admin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The advisory lock the leader holds: "yoband" as a number. */
#define YD_LOCK_KEY "121111098097110100"
#define YD_HEARTBEAT_MS 10000
#define YD_LOCK_RETRY_MS 3000
#define YD_CONNECT_RETRY_MS 2000

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

/* ---- connections and leadership ---------------------------------------------------------- */

void yd_db_drop(struct yd *d)
{
	if (d->phase == YD_LEADER)
		yd_log("leadership given up (database connection gone); runs are left to the next leader's reconcile");
	yd_teardown(d);
	yd_queue_clear(d);
	db_close(d->db);
	db_close(d->lock_db);
	d->db = d->lock_db = NULL;
	d->db_broken = false;
	d->phase = YD_DISCONNECTED;
	d->next_connect_ms = yb_mono_ms() + YD_CONNECT_RETRY_MS;
}

void yd_heartbeat(struct yd *d)
{
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	const char *p[] = { d->instance, d->hostname, pid, d->phase == YD_LEADER ? "true" : "false" };
	yd_async(d, "the heartbeat", false, "SELECT yoban.yoban_heartbeat($1, $2, $3::integer, $4::boolean)",
		 4, p);
	d->next_heartbeat_ms = yb_mono_ms() + YD_HEARTBEAT_MS;
}

int yd_db_connect(struct yd *d)
{
	struct yb_err err = { 0 };
	char *ci = NULL;
	int rc;
	d->next_connect_ms = yb_mono_ms() + YD_CONNECT_RETRY_MS;
	if (d->embedded) {
		/* The embedded cluster: started when it is not running. */
		if ((rc = db_cluster_ensure_running(d->site->state_dir, NULL, &err)) < 0) {
			/* A deliberate `yoban db stop` stays stopped: say so once, then wait quietly. */
			if (rc == YB_ECLOSED) {
				if (!d->db_held_logged)
					yd_log("waiting: %s", err.msg);
				d->db_held_logged = true;
			} else {
				yd_log("cannot start the embedded database under '%s': %s",
				       d->site->state_dir, err.msg);
			}
			return rc;
		}
		if (d->db_held_logged)
			yd_log("the embedded database under '%s' may run again: connecting",
			       d->site->state_dir);
		d->db_held_logged = false;
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
	yd_heartbeat(d);
	return 0;
fail:
	yd_log("database not usable: %s", err.msg);
	db_close(d->db);
	db_close(d->lock_db);
	d->db = d->lock_db = NULL;
	return rc;
}

void yd_lead_try(struct yd *d)
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
	yd_heartbeat(d);
	/* A standby's runbooks may be older than the files (reloads went to the old leader). */
	int64_t t0 = yb_mono_ms();
	yd_reload(d);
	yd_log("leader: runbooks reloaded in %lld ms", (long long)(yb_mono_ms() - t0));
	yd_leader_start(d);
}

void yd_db_close(struct yd *d)
{
	if (d->db && !d->db_broken) {
		enum yd_phase was = d->phase;
		d->phase = YD_STANDBY;
		yd_heartbeat(d);
		d->phase = was;
		yd_async_drain(d);
	}
	yd_teardown(d);
	yd_queue_clear(d);
	db_close(d->db);
	db_close(d->lock_db);
	d->db = d->lock_db = NULL;
}

/* Is the lock session still there? A dead one means someone else may lead now. */
void yd_lock_check(struct yd *d)
{
	char *v = NULL;
	if (db_query_value(d->lock_db, "SELECT 1", 0, NULL, &v, NULL) < 0) {
		yd_log("the leader lock's session is gone");
		d->db_broken = true;
	}
	free(v);
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

void yd_leader_start(struct yd *d)
{
	int64_t t0 = yb_mono_ms();
	for (size_t i = 0; i < d->n_entries && !d->db_broken; i++)
		yd_rev_record(d, d->entries[i]->rev);
	int64_t t1 = yb_mono_ms();
	yd_reconcile(d);
	int64_t t2 = yb_mono_ms();
	if (!d->db_broken)
		yd_catch_up(d);
	if (!d->db_broken)
		d->requests_pending = true;
	int64_t t3 = yb_mono_ms();
	yd_log("leader: serving after %lld ms (revisions %lld ms, reconcile %lld ms, catch-up %lld ms)",
	       (long long)(t3 - t0), (long long)(t1 - t0), (long long)(t2 - t1), (long long)(t3 - t2));
}

/* The embedded cluster: no database named, or the one under state_dir (as `yoban init` writes
 * it). Then the daemon starts it when needed and logs in as its own role. */
void yd_db_setup(struct yd *d)
{
	struct yb_err err = { 0 };
	char *base = d->site->database ? xstrdup(d->site->database)
				      : db_cluster_conninfo(d->site->state_dir, DB_CLUSTER_DBNAME);
	d->embedded = !d->site->database || is_embedded(base, d->site->state_dir);
	char *user = NULL;
	if (d->embedded && db_conninfo_get(base, "user", &user, NULL) < 0 &&
	    db_conninfo_with(base, "user", DB_DAEMON_LOGIN, &d->conninfo, &err) == 0)
		free(base);
	else
		d->conninfo = base;
	free(user);
}
