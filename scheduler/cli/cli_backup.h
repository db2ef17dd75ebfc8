/*
 * cli_backup.h: what `yoban backups` and `yoban restore` share (in cmd_backups.c): finding a
 * runbook's backup steps and their host, and running a built-in step on that host as a job
 * through its runner (the same path as `yoban exec`: the transport from the inventory, the
 * runner's journal, output live, the job's exit status as ours).
 */
#ifndef YB_CLI_BACKUP_H
#define YB_CLI_BACKUP_H

#include "cli.h"
#include "json.h"
#include "runbook.h"

struct backup_target {
	struct rb_set *set;
	const struct rb_runbook *rb;
	const struct rb_step **steps; /* the runbook's backup steps (only --step's, if given) */
	size_t n_steps;
	const char *host;             /* --host, or the runbook's only target host */
};

/* RUNBOOK is a name (looked up in the site's runbooks) or a file. Returns an exit status: 0 with
 * *t filled, else the message has been printed. */
int backup_target_load(const struct yb_cmd *cmd, const char *config, const char *runbook,
		       const char *step, const char *host, struct backup_target *t);
void backup_target_release(struct backup_target *t);

/* Runs `yoban-runner step KIND --spec SPEC` on host as job job_id (NULL: a fresh id), with the
 * extra environment env ("K=V" strings, may be NULL), through `yoban exec`; keep leaves the
 * journal on the runner (the record of who ran what, where and when). Returns exec's status. */
int backup_run_step(const char *config, const char *host, const char *job_id, bool keep,
		    const char *kind, const struct yb_json *spec, const char *const *env);

#endif
