/*
 * builtin.h: the job argv of a built-in step kind (backup, offsite, restore), as the scheduler
 * sends it to a runner: ["yoban-runner", "step", KIND, "--spec", JSON]. The runner runs it with
 * its own binary in its step mode (runner/steps/steps.h; docs/runner.md, "built-in step kinds"),
 * under its supervisor like any `run` step. The spec is everything the step needs, resolved here
 * from the runbook and the inventory (an offsite destination's address, user and pinned host
 * key); the step's last stdout line is its evidence ("yoban-evidence {JSON}").
 */
#ifndef YB_BUILTIN_H
#define YB_BUILTIN_H

#include "json.h"
#include "runbook.h"

/* True for the kinds the runner runs in its step mode. */
bool rb_step_is_builtin(const struct rb_step *s);
/* The argv (a JSON array) for step s of rb; inventory resolves an offsite destination host.
 * YB_ENOENT when that host is not in the inventory. *out only on success. */
int rb_builtin_argv(const struct rb_inventory *inventory, const struct rb_runbook *rb,
		    const struct rb_step *s, struct yb_json **out, struct yb_err *err);

/* ---- evidence ----
 * After a built-in step's job has ended, its evidence is the last stdout line that starts with
 * "yoban-evidence " (see docs/backups.md). rb_evidence_find finds and parses it in the job's
 * stored stdout (or its tail); rb_evidence_rows turns it into the rows of
 * yoban.backup_evidence (schemas/sql/007_backups.sql): one per event (a backup and each
 * generation it pruned, a restore, an off-site copy and each copy it pruned, each generation a
 * verify read), as a JSON array of objects named like the table's columns, which
 * RB_EVIDENCE_INSERT_SQL inserts in one statement with the run's and job's identity:
 *   $1 run_id, $2 job_id, $3 runbook, $4 step, $5 host, $6 the rows (jsonb). */
#define RB_EVIDENCE_PREFIX "yoban-evidence "
int rb_evidence_find(const char *out, size_t len, struct yb_json **evidence, struct yb_err *err);
struct yb_json *rb_evidence_rows(const struct yb_json *evidence);

#define RB_EVIDENCE_INSERT_SQL                                                                     \
	"INSERT INTO yoban.backup_evidence (event, run_id, job_id, runbook, step, host, repository, " \
	"generation, ok, error, manifest_sha256, data_bytes, data_sha256, content_bytes, files, "    \
	"verified_at, destination, remote_sha256, detail) "                                          \
	"SELECT r.event::yoban.backup_event, $1::bigint, $2::bigint, $3, $4, $5, r.repository, "     \
	"r.generation, r.ok, r.error, r.manifest_sha256, r.data_bytes, r.data_sha256, "              \
	"r.content_bytes, r.files, r.verified_at, r.destination, r.remote_sha256, r.detail "         \
	"FROM jsonb_to_recordset($6::jsonb) AS r(event text, repository text, generation text, "     \
	"ok boolean, error text, manifest_sha256 text, data_bytes bigint, data_sha256 text, "        \
	"content_bytes bigint, files bigint, verified_at timestamptz, destination text, "            \
	"remote_sha256 text, detail jsonb)"

#endif
