/*
 * proctree.h: the processes of a job, found and ended.
 *
 * A job's processes are its supervisor's descendants. The supervisor is a child subreaper, so a
 * process that left the step's group or session (setsid, coreutils timeout) or was orphaned by a
 * double fork is still one: it is found by walking down from the supervisor (each process's
 * /proc/PID/task/TID/children, or all of /proc when the kernel does not offer those files).
 * Every step also carries a marker in its environment, PROCTREE_MARKER=JOB:STATE_DIR, inherited
 * by whatever it starts unless a program clears its environment: that is how serve finds what is
 * left of a job whose folder or supervisor is gone.
 *
 * A process is signalled through a pidfd opened after it was found, and only if, looked at again
 * through that pidfd's lifetime, it still is what was found (a descendant: its parent is one of
 * ours; a marked process: it carries the marker), so a pid reused in between is never signalled.
 */
#ifndef YB_PROCTREE_H
#define YB_PROCTREE_H

#include <sys/types.h>

#include "spec.h"
#include "yb.h"

#define PROCTREE_MARKER SPEC_RESERVED_ENV
#define PROCTREE_LOG_MAX 32     /* processes named in an exit record */
#define PROCTREE_SEEN_MAX 4096  /* distinct pids remembered, so that each is counted once */

/* What was signalled: each process once, the first PROCTREE_LOG_MAX by pid and name. */
struct proctree_log {
	size_t n;      /* distinct processes signalled (at most PROCTREE_SEEN_MAX are told apart) */
	size_t n_kept;
	struct {
		int pid;
		char comm[16]; /* as /proc says, bytes outside printable ASCII as '?' */
	} kept[PROCTREE_LOG_MAX];
	size_t n_seen;
	int seen[PROCTREE_SEEN_MAX];
};

/* Sends sig to every live (not zombie) descendant of the calling process and logs each (log may
 * be NULL); those in process group skip_pgid (0: none) are logged but not signalled (the caller
 * signals that group itself, and a signal twice could run a handler twice). Returns how many it
 * found alive: 0 means none is left. */
int proctree_signal_descendants(int sig, pid_t skip_pgid, struct proctree_log *log);

/* Logs every live descendant in process group pgid, signalling none: called just before the
 * caller signals the group, whose members may be gone (and unnamed) by the time a walk after
 * the signal looks. Returns how many. */
int proctree_log_group(pid_t pgid, struct proctree_log *log);

/* The marker's "NAME=VALUE" for a job of a state folder (caller frees). */
char *proctree_marker(const char *state_dir, const char *job);

/* The live processes of this user whose environment holds marker: sends them sig (0: only
 * counts) and logs each (log may be NULL). Returns how many. */
int proctree_signal_marked(const char *marker, int sig, struct proctree_log *log);

#endif
