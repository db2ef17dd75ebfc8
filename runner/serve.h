/*
 * serve.h: `yoban-runner serve`: the protocol of common/wire.h on two file descriptors.
 *
 * One single-threaded poll() loop: frames in, replies and OUTPUT out, jobs started through
 * supervisor_launch and followed by tailing their spools (woken by inotify on the job folders).
 * Output toward the client is bounded (SERVE_OUT_HIGH): past it, serve stops reading spools and
 * stops reading requests until the client has taken what is queued. Where no supervisor answers
 * for a job (its folder or its supervisor gone), serve finds what is left of it by the job's
 * marker (proctree.h) and says so, or kills it on CANCEL. The loop ends on end-of-file from the client (exit status 0:
 * the jobs go on) or on a protocol error (an ERROR frame, a message on stderr, status 1).
 */
#ifndef YB_SERVE_H
#define YB_SERVE_H

#include "yb.h"
#include "yb_version.h"

#define RUNNER_VERSION YB_VERSION
#define SERVE_OUT_HIGH (1u << 20)   /* queued output bytes past which serve stops producing */
#define SERVE_TICK_MS 250           /* attached spools are looked at on inotify events, and at
                                       least this often (liveness, missed events) */
#define SERVE_ZSTD_LEVEL 3

struct serve_opts {
	const char *state_dir;
	int in_fd, out_fd;
	int64_t retention_ms; /* for the start-up gc pass; 0: none */
};

/* Runs the loop; returns the process exit status (0: the client went away; 1: error). */
int serve_run(const struct serve_opts *opts);

#endif
