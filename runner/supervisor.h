/*
 * supervisor.h: the detached process that runs one job (its spec: spec.h).
 *
 * supervisor_launch makes the job's folder (journal_create_job: the empty spool, the spec's
 * digest, the control FIFO) and forks a supervisor: in its own session and process group (serve's
 * child only while serve lives), child subreaper of the step. The supervisor writes the spec
 * (secrets redacted, fsynced) before anything else, so it is durable before serve ACKs the START,
 * and runs the step in its own process group (argv through execvp, or /bin/sh -c script), with
 * exactly the environment given plus PATH, HOME and LANG when absent and the job's marker
 * (proctree.h); reads its stdout and stderr, masks the secrets, spools the output up to
 * output_cap (the rest is counted, not kept), enforces the timeout and cancellation (SIGTERM to
 * every process of the job, SIGKILL to all after the grace), and when the step's main process
 * ends kills every process of the job still there (in its group or not), fsyncs the spool and
 * writes exit.json, naming what it killed. It never talks to serve again after its one-line
 * report, so a dropped connection or a killed serve changes nothing for the job.
 */
#ifndef YB_SUPERVISOR_H
#define YB_SUPERVISOR_H

#include "spec.h"
#include "yb.h"

/* Starts the job (see above); does not wait on the disk. If the job id is already journaled:
 * YB_EEXIST when with the same spec digest, YB_EPERM when with another (journal_create_job).
 * On success *report_fd is the read end of a pipe (non-blocking) on which the supervisor writes
 * one line, "pid N" once spec.json is durable and the step runs, or
 * "err MESSAGE" if it could not be started (the folder is then removed), then closes it. The
 * supervisor is the caller's child: the caller reaps it (waitpid) when it ends. */
int supervisor_launch(const char *state_dir, const struct job_spec *spec, int *report_fd,
		      struct yb_err *err);
/* Reads that line: 0 with *pid, or YB_EIO with the supervisor's message. */
int supervisor_parse_report(const char *text, size_t len, int64_t *pid, struct yb_err *err);

#endif
