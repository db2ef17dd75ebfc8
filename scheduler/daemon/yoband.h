/*
 * yoband.h: the daemon's private model, shared by the files of scheduler/daemon/ and nothing
 * else. The declarations at the end are grouped by the file that defines them.
 *
 * Words (see docs/glossary.md): an *entry* is a runbook the daemon schedules (its latest good
 * revision); a *revision* is one content of a runbook file, recorded in runbook_revisions; a
 * *run* is one execution of one revision; a *job* is one step of a run on one host, one attempt.
 *
 * Ownership: struct yd owns entries, runs and runner connections. A run holds a reference on the
 * revision it executes (struct yd_rev), so a reload never changes a run in flight. A revision
 * holds a reference on the loaded set it came from (struct yd_set), or owns a runbook parsed from
 * the database's copy of the file (after a restart).
 */
#ifndef YB_YOBAND_H
#define YB_YOBAND_H

#include "buf.h"
#include "db.h"
#include "json.h"
#include "outcome.h"
#include "rclient.h"
#include "runbook.h"
#include "wire.h"
#include "yb.h"

#include <signal.h>

/* A loaded set (rb_set) shared by everything made from it. */
struct yd_set {
	int refs;
	struct rb_set *set;
};

/* One revision of one runbook: what runs execute. */
struct yd_rev {
	int refs;
	int64_t id;              /* runbook_revisions.id; 0 until recorded */
	char *name;
	char sha256[YB_SHA256_HEX_LEN];
	char *content;           /* the file's bytes (kept until recorded) */
	size_t content_len;
	struct yd_set *set;      /* rb points into it ... */
	struct rb_runbook *owned; /* ... or is owned (parsed from the database's copy) */
	const struct rb_runbook *rb;
};

/* A scheduled runbook. */
struct yd_entry {
	char *name;
	char *path;              /* the file it was loaded from */
	struct yd_rev *rev;      /* the latest revision that validated */
	int64_t cursor;          /* the last fire handled (seconds); fires after it are due */
	int64_t next_fire;       /* INT64_MAX: none */
	int heap_idx;            /* -1 when not in the heap */
	bool seen;               /* reload bookkeeping */
	char *error;             /* why the file's newest content is not scheduled, or NULL */
};

/* JP_STARTING: the job row is on its way to the database; START follows once it is written. */
enum yd_job_phase { JP_WAIT, JP_STARTING, JP_LIVE, JP_DONE };

struct yd_run;

struct yd_job {
	struct yd_run *run;
	int64_t id;              /* jobs.id */
	char runner_id[WIRE_MAX_JOB_ID + 1];
	char *host;
	int host_idx, step_idx, attempt;
	enum yd_job_phase phase;
	enum yd_job_result result; /* when JP_DONE */
	uint64_t queued;         /* output bytes taken so far (stored or waiting to be) */
	bool acked;
	bool exit_pending;       /* the exit row is on its way: done when it is written */
	int64_t retry_at_ms;     /* JP_WAIT: monotonic time of the next attempt */
	struct yb_json *spec;    /* JP_STARTING: the START payload, sent once the row is written */
	char spec_sha256[65];    /* the runner's digest of the spec (ACK, or the row); "" unknown */
	int64_t dispatch_by_ms;  /* JP_LIVE, not acknowledged: fails as unreachable after this */
	/* Lost while processes of it still ran (unknown-running, a lost EXIT with processes): the
	 * run holds its runbook's slot and its locks until the runner says nothing is left, or an
	 * operator releases it (yoban release). Probed with ATTACH every YD_PROBE_MS. */
	bool holds;
	bool probing;            /* an ATTACH asking about it is out */
	int64_t probe_at_ms;
	int64_t processes;       /* what the runner said last: processes still running */
	struct yb_json *cancel_said; /* a CANCEL's answer, kept for the job's evidence */
	/* a built-in step (backup, offsite, restore): the tail of its stdout, where its evidence
	 * line ("yoban-evidence {...}") is, recorded into backup_evidence with its exit */
	struct yb_buf *stdout_tail;
};

struct yd_run {
	int64_t id;
	char *runbook;
	struct yd_rev *rev;
	bool staging;
	char trigger[16];
	int64_t scheduled_for;   /* seconds */
	struct yb_json *params;  /* resolved, name -> value */
	enum yd_run_state state;
	int step;                /* the current step index */
	bool step_started;
	enum yd_job_result failed; /* the first failure (failed, timed_out) or YD_JOB_NONE */
	char *fail_reason;
	int64_t hold_until;      /* seconds (wall): held by a maintenance window until then */
	bool cancel_sent;
	/* A transition is on its way to the database (compare-and-set): the run waits, and
	 * admission counts it as already in moving_to. */
	bool busy;
	enum yd_run_state moving_to;
	char *cancel_req;        /* a cancel asked for while busy: applied when the answer is in */
	struct yd_job **jobs;    /* the current step's jobs, every attempt */
	size_t n_jobs;
	struct yd_run *next;
};

/* One runner connection per inventory host, reused by every job on that host. */
struct yd_conn {
	struct yd *d;            /* the owner, for the callbacks */
	char *host;
	struct rclient *rc;
	char last_error[256];    /* why the connection last went down, "" if never */
	char *runner_path, *state_dir, *address, *user, *host_key, *known_hosts, *key_path;
	struct yd_conn *next;
};

struct yd_out_batch; /* output chunks collected into one INSERT (output.c) */

enum yd_phase { YD_DISCONNECTED, YD_STANDBY, YD_LEADER };

struct yd_move;    /* a run transition waiting to be sent (runs.c) */
struct yd_req;     /* an operator's request read, waiting to be acted on (requests.c) */

/* A job row waiting to be sent: START follows once it is written (and the runner id, made by the
 * statement from the site's id and the run's nonce, has come back). */
struct yd_job_ref {
	int64_t run_id;
	int step_idx, host_idx, attempt;
};

#define YD_PROBE_MS 3000       /* how often a lost job still holding its slot is asked about */

/* A statement queued on the main connection without waiting for it. Statements run one at a
 * time. Stores (output, acks, heartbeats, exits) keep their order; deciding statements (urgent:
 * claims, transitions, job rows) go ahead of stores not yet sent, in their own order, and their
 * continuation then(d, ctx, result) gets the result (NULL when the server refused it). A later
 * blocking statement first waits for all of them. */
struct yd_stmt {
	char *sql;
	char **params;
	int n_params;
	char *what;              /* for messages */
	bool reconcile_on_error; /* a failure means stored state is behind: start over */
	/* Called when the statement succeeded (never for a failed one); must not run statements. */
	void (*done)(struct yd *d, int64_t arg);
	int64_t arg;
	bool urgent;
	void (*then)(struct yd *d, void *ctx, struct db_result *r);
	void *ctx;               /* freed after then, or when the queue is dropped ... */
	void (*ctx_free)(void *ctx); /* ... with this, or free() when NULL */
	struct db_result *res;   /* the result so far, for then */
	bool refused;            /* the server refused it (its end may not have arrived yet) */
	int *lengths;            /* binary parameters (yd_async_owned): their lengths ... */
	bool *binary;            /* ... and which are binary; NULL: all text */
	size_t out_bytes;        /* output bytes carried (counted as waiting until sent) */
	struct yd_stmt *next;
};

struct yd {
	const char *config_path;
	char instance[96];
	char hostname[64];
	char *conninfo;
	bool embedded;           /* the cluster under state_dir: started by the daemon when needed */
	struct rb_site *site;    /* as read at start (database, state_dir) */

	struct yd_set *base;     /* the newest set whose site config and inventory loaded */
	struct yd_entry **entries;
	size_t n_entries;
	struct yd_entry **heap;  /* min-heap by next_fire */
	size_t n_heap;
	bool reload_wanted;

	enum yd_phase phase;
	struct db_conn *db;      /* statements, LISTEN */
	struct db_conn *lock_db; /* holds the advisory lock, nothing else */
	bool db_broken;
	bool db_held_logged;
	int64_t reload_request_id; /* while a `yoban reload` request is handled: its id */      /* told the log that `yoban db stop` holds the cluster */
	int64_t next_connect_ms, next_lock_try_ms, next_heartbeat_ms;

	struct yd_stmt *aq_head, *aq_tail; /* queued statements; aq_head is in flight when aq_sent */
	bool aq_sent, aq_flushing;

	/* Deciding statements made during a turn, sent together (one statement, one commit, for each
	 * kind) by yd_decisions_flush before the loop sleeps or a blocking statement runs. */
	struct yd_move **moves;
	size_t n_moves, cap_moves;
	struct yd_job_ref **job_rows;
	size_t n_job_rows, cap_job_rows;

	struct yd_run *runs;
	struct yd_conn *conns;
	/* Output on its way to the database (output.c): the INSERT being collected, the bytes
	 * waiting in memory (collected or queued, not yet sent), the output INSERTs queued and not
	 * sent, whether runner connections were paused for it, and how often. */
	struct yd_out_batch *out_batch;
	struct yb_buf *out_z;
	size_t out_waiting;
	int out_unsent;
	bool out_paused;
	uint64_t out_pauses;
	int64_t out_pause_logged_ms;
	bool requests_pending;
	/* Requests: read by one statement (req_reading), acted on in the next turn (reqs), each
	 * open until its answer is written (req_open); no new read before then (req_again). */
	struct yd_req *reqs;
	size_t n_reqs;
	bool req_reading, req_again;
	int req_open;
	bool advance_wanted;     /* something finished: advance the runs without sleeping */
	bool draining;
};

/* main.c: set by the signal handlers */
extern volatile sig_atomic_t yd_sig_hup, yd_sig_term, yd_sig_chld;

/* queue.c: the statement queue (see its opening comment) */
/* Runs a statement on the main connection, after everything queued; a broken connection sets
 * d->db_broken. */
int yd_exec(struct yd *d, const char *sql, int n, const char *const *params, struct db_result **out,
	    struct yb_err *err);
/* The first value of the first row, copied; NULL on error or SQL NULL. */
char *yd_value(struct yd *d, const char *sql, int n, const char *const *params);
/* Queues a statement on the main connection; its result is only checked. */
void yd_async(struct yd *d, const char *what, bool reconcile_on_error, const char *sql, int n,
	      const char *const *params);
/* The same with a completion: done(d, arg) once the statement succeeded. */
void yd_async_then(struct yd *d, const char *what, bool reconcile_on_error, const char *sql, int n,
		   const char *const *params, void (*done)(struct yd *d, int64_t arg), int64_t arg);
/* A deciding statement: queued ahead of the stores not yet sent; then(d, ctx, result) runs when
 * its result is in (result NULL: refused by the server; never called when the connection broke:
 * everything in memory is dropped then). then may queue statements but must not block; ctx (may
 * be NULL) is freed afterwards (or when the queue is dropped) with ctx_free, or free() when that
 * is NULL. */
void yd_decide(struct yd *d, const char *what, const char *sql, int n, const char *const *params,
	       void (*then)(struct yd *d, void *ctx, struct db_result *r), void *ctx,
	       void (*ctx_free)(void *ctx));
/* A store whose parameters are handed over (values[i] malloc'd, lengths and binary as for
 * db_send_bin; all three freed by the queue), carrying out_bytes of output (output.c). */
void yd_async_owned(struct yd *d, const char *what, bool reconcile_on_error, const char *sql, int n,
		    char **values, int *lengths, bool *binary, size_t out_bytes);
/* Waits (bounded by the statement timeout) until every queued statement is done, after sending
 * the turn's decisions and the output collected. */
int yd_async_drain(struct yd *d);
/* The main connection's socket is ready (revents) or a turn passed: results come in, their
 * continuations run. */
void yd_queue_io(struct yd *d, short revents);
/* Drops every queued statement (the connection is gone). */
void yd_queue_clear(struct yd *d);
/* Parameter text: a number; a PostgreSQL array literal ({"a",NULL}) built with yd_arr_open,
 * yd_arr_add (v NULL: SQL NULL) and closed with "}"; bytea as "\\x..." hex. */
const char *yd_idtext(char *buf, int64_t v);
void yd_arr_open(struct yb_buf *b);
void yd_arr_add(struct yb_buf *b, const char *v);
char *yd_bytea_hex(const void *data, size_t len);

/* leader.c: connections, leadership, heartbeat, the log */
void yd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The conninfo, and whether it is the embedded cluster (from the site config). */
void yd_db_setup(struct yd *d);
int yd_db_connect(struct yd *d);       /* disconnected -> standby */
void yd_db_drop(struct yd *d);         /* a broken connection: forget everything, disconnected */
void yd_lead_try(struct yd *d);        /* standby -> leader when the lock is free */
void yd_lock_check(struct yd *d);      /* leader: is the lock's session still there? */
void yd_heartbeat(struct yd *d);
/* Stopping: says goodbye (heartbeat, leader = false), waits for what is queued, closes. */
void yd_db_close(struct yd *d);
void yd_leader_start(struct yd *d);   /* revisions, reconcile, catch-up, requests */

/* load.c: runbooks, revisions, the timer heap */
void yd_reload(struct yd *d);
void yd_set_unref(struct yd_set *s);
void yd_rev_unref(struct yd_rev *r);
struct yd_rev *yd_rev_ref(struct yd_rev *r);
/* Records the revision in the database when it is not yet (needs a connection). */
int yd_rev_record(struct yd *d, struct yd_rev *r);
/* A revision by id, from an entry or parsed from the database's copy. */
struct yd_rev *yd_rev_by_id(struct yd *d, int64_t id, const char *runbook, struct yb_err *err);
struct yd_entry *yd_entry_find(struct yd *d, const char *name);
void yd_heap_update(struct yd *d, struct yd_entry *e);
struct yd_entry *yd_heap_top(struct yd *d);
void yd_entries_free(struct yd *d);
const struct rb_host *yd_host(struct yd *d, const char *name);

/* runs.c: runs in memory and their state machine */
const char *yd_run_state_name(enum yd_run_state s);
enum yd_run_state yd_run_state_parse(const char *s);
bool yd_run_state_final(enum yd_run_state s);
int64_t yd_now_s(void);                /* wall clock, seconds */
/* A run in memory (kept in id order); takes rev and params. */
struct yd_run *yd_run_new(struct yd *d, int64_t id, const char *runbook, struct yd_rev *rev,
			  bool staging, const char *trigger, int64_t scheduled_for,
			  struct yb_json *params, enum yd_run_state state);
struct yd_run *yd_run_find(struct yd *d, int64_t id);
void yd_runs_gc(struct yd *d);         /* frees the runs that reached a final state */
/* The state a run is in, or is on its way to (its transition is being written). */
enum yd_run_state yd_run_eff(const struct yd_run *r);
void yd_job_free(struct yd_job *j);
void yd_run_clear_jobs(struct yd_run *run);
/* Collects a transition: the run is busy until it is written, then acted on. */
void yd_run_move(struct yd *d, struct yd_run *run, enum yd_run_state to, const char *reason);
/* The same for a final state: the run leaves memory whether or not the database took it. */
void yd_run_finish(struct yd *d, struct yd_run *run, enum yd_run_state to, const char *reason);
void yd_run_cancel(struct yd *d, struct yd_run *run, const char *why);
void yd_run_advance(struct yd *d, struct yd_run *run); /* as far as it can go now */
bool yd_step_index(const struct rb_runbook *rb, const char *name, int *out);
void yd_runs_advance(struct yd *d);   /* every run: admission, retries, next steps */
int yd_runs_timeout_ms(struct yd *d);  /* until the next retry is due */
/* Queues the run transitions and job rows collected so far (one statement, one commit). */
void yd_decisions_flush(struct yd *d);
void yd_teardown(struct yd *d);       /* forgets runs and runner connections (jobs live on) */

/* admission.c */
/* Pending or queued: may it start now? (Moves it to queued, running or a final state.) */
bool yd_run_admit(struct yd *d, struct yd_run *run);
/* The maintenance window covering runbook at t, or NULL. */
const struct rb_maintenance *yd_maintenance_at(struct yd *d, const char *runbook, int64_t t);

/* jobs.c: job specs, runner connections, output and exits */
const struct tz *yd_zone_of(const struct rb_runbook *rb);
/* The run's parameters: given values, else defaults ({{scheduled_date}} expanded). */
struct yb_json *yd_params_resolve(const struct rb_runbook *rb, const struct yb_json *given,
				  int64_t scheduled_for, struct yb_err *err);
char **yd_run_hosts(const struct yd_run *run, size_t *n);
/* The START payload; NULL with err when something cannot be prepared (a secret file). */
struct yb_json *yd_job_spec(const struct yd *d, const struct yd_run *run,
			    const struct rb_step *step, const struct yd_job *j, struct yb_err *err);
/* The runner connection to a host, made on first use; NULL with err for an unknown host. */
struct yd_conn *yd_conn_get(struct yd *d, const char *hostname, struct yb_err *err);
void yd_conn_free(struct yd_conn *c);
void yd_conns_check(struct yd *d);     /* fails the live jobs of connections that gave up */
/* Dispatch deadlines (a job that never reached its runner fails as unreachable) and the probes
 * of lost jobs that hold their run's slot. */
void yd_jobs_check(struct yd *d);
/* The job's runner id, or a description while it has none yet (the row is not written). */
const char *yd_job_label(const struct yd_job *j, char *buf, size_t size);
/* Does the run keep its slot and locks (a lost job of it may still have processes)? */
bool yd_run_holds(const struct yd_run *run);
/* The first job of run that holds its slot, or NULL. */
struct yd_job *yd_run_holder(const struct yd_run *run);
/* `yoban cancel` of a lost run holding its slot: CANCEL of what is left of its jobs (the runner
 * kills what carries their marker); released when the answer says nothing is left. */
void yd_run_kill_leftovers(struct yd *d, struct yd_run *run, const char *by);
/* Releases the jobs of run that hold its slot (by: "runner", or the operator's login). */
void yd_run_release(struct yd *d, struct yd_run *run, const char *by, const char *comment);
/* Cancelling: a job that never reached its runner (host unreachable) is cancelled here at once;
 * false when its START may have reached the runner (then CANCEL goes as usual). */
bool yd_job_cancel_unsent(struct yd *d, struct yd_job *j);
/* The runner has no journal for a live job (unknown-job, unknown-running): it is lost, and holds
 * its run's slot while processes of it run. */
void yd_job_lost(struct yd *d, struct yd_job *j, struct yd_conn *c, const struct rclient_report *r);
/* A runner's report about a lost job holding its slot (a probe's answer): true when handled. */
bool yd_lost_report(struct yd *d, struct yd_conn *c, const char *job, const struct rclient_report *r);
/* An EXIT for a lost job holding its slot (its journal was still there): true when handled. */
bool yd_lost_exit(struct yd *d, struct yd_conn *c, const char *job, const struct rclient_exit *ex);
/* Reconcile: the lost jobs still holding their run's slot, back in memory (one statement). */
void yd_lost_reload(struct yd *d);
struct yd_job *yd_job_add(struct yd_run *run, int host_idx, const char *host, int attempt);
/* Records a job that ended without a runner (unsupported kind, unknown host, bad secret). */
void yd_job_fail_now(struct yd *d, struct yd_job *j, enum yd_job_result result, const char *error);
/* Collects the job row; START follows once it is written. Tentative: the run's move to running
 * is not written yet; false when the job cannot start, and nothing is recorded. */
bool yd_job_start_ex(struct yd *d, struct yd_job *j, bool tentative);
void yd_job_start(struct yd *d, struct yd_job *j);
struct yd_job *yd_job_ref_find(struct yd *d, const struct yd_job_ref *ref, struct yd_run **run);
/* The job row is written (id) or not (NULL): START, unless the run is being cancelled. */
void yd_job_row_written(struct yd *d, const struct yd_job_ref *ref, const char *id,
			const char *runner_id, bool answered);

/* output.c: output chunks into yoban.output_chunks, with a bound on what waits in memory */
/* A piece of a job's output from connection c (already trimmed to what is new). */
void yd_output_chunk(struct yd *d, struct yd_conn *c, int64_t job_id, int stream, uint64_t offset,
		     const void *data, size_t len);
/* Queues the chunks collected: now when forced (a job's exit follows, or stopping), else once no
 * output INSERT waits to be sent. */
void yd_output_flush(struct yd *d, bool force);
int yd_flush_chunks(struct yd *d);     /* yd_output_flush(d, false); YB_EIO: connection broken */
/* bytes of output left memory for the database (sent, or dropped): resumes paused runners
 * once what waits is under the low mark. */
void yd_output_sent(struct yd *d, size_t bytes);
void yd_output_clear(struct yd *d);    /* drops what was collected (the connection is gone) */

/* fires.c */
void yd_fire_due(struct yd *d);       /* claims fires whose time has come */
void yd_catch_up(struct yd *d);       /* claims the fires missed while no one led */

/* reconcile.c */
void yd_reconcile(struct yd *d);      /* takes over the runs in flight from their rows */

/* requests.c */
void yd_handle_requests(struct yd *d);
void yd_reqs_free(struct yd *d);

/* gates.c: approvals and the staging gate (the rules are the database's: 008_approvals.sql) */
void yd_gates_record(struct yd *d);   /* tells the database each runbook's gate */
/* contract.c */
void yd_contract_record(struct yd *d); /* the site's contract: into yoban.contract (leader) */
void yd_approvals_due(struct yd *d);  /* starts the approved requests whose time has come */

#endif
