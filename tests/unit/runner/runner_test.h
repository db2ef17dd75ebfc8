/*
 * runner_test.h: the runner as the scheduler sees it, for the suites of tests/unit/runner: the real
 * yoban-runner on a socketpair with a fresh state folder, frames sent and collected, each byte
 * checked to arrive once and in order. Every helper is static inline: each suite uses some.
 */
#ifndef YB_RUNNER_TEST_H
#define YB_RUNNER_TEST_H

#define _GNU_SOURCE
#include "buf.h"
#include "digest.h"
#include "journal.h"
#include "json.h"
#include "mask.h"
#include "wire.h"
#include "yb.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define RUNNER YB_BIN_DIR "/yoban-runner"
#define WAIT_MS 60000 /* a safety net against hangs, never a measurement */

/* ---- each test adopts the supervisors it causes ----
 * Supervisors are double-forked away from serve and end up with the nearest child subreaper.
 * Being that subreaper, each test reaps them at its end instead of leaving zombies to a pid 1
 * that may not reap (as in some containers). */

static inline void adopt_orphans(void)
{
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
}

static inline void reap_orphans(void)
{
	for (int tries = 0; tries < 300; tries++) {
		pid_t p = waitpid(-1, NULL, WNOHANG);
		if (p < 0)
			return; /* none left */
		if (p == 0)
			usleep(10000); /* one still finishing its exit record */
	}
}

/* ---- a test state folder ---- */

static inline char *state_new(void)
{
	char *dir = xstrdup("/tmp/yb-runner-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	return dir;
}

static inline void state_free(char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	free(dir);
}

/* ---- the runner on a socketpair ---- */

struct rn {
	pid_t pid;
	int fd;
	int err_fd; /* its stderr */
	struct wire_reader rd;
};

static inline void rn_spawn(struct rn *r, const char *state_dir)
{
	int sv[2], ep[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(pipe2(ep, O_CLOEXEC), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(sv[1], 0);
		dup2(sv[1], 1);
		dup2(ep[1], 2);
		/* An ASan build of the runner keeps freed blocks in a quarantine (256 MiB by default)
		 * that counts in its RSS; a small one keeps the memory tests about the runner's own
		 * buffers. Use-after-free is still caught within the last 8 MiB freed. */
		const char *asan = getenv("ASAN_OPTIONS");
		char *opts = xasprintf("%s%squarantine_size_mb=8", asan ? asan : "", asan && *asan ? ":" : "");
		setenv("ASAN_OPTIONS", opts, 1);
		execl(RUNNER, "yoban-runner", "serve", "--state-dir", state_dir, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	close(ep[1]);
	r->pid = pid;
	r->fd = sv[0];
	r->err_fd = ep[0];
	wire_reader_init(&r->rd);
}

static inline void rn_send_raw(struct rn *r, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(r->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return; /* the runner may have closed on us: the test checks what it said */
		p += n;
		len -= (size_t)n;
	}
}

/* Sends a control frame; steals o. */
static inline void rn_send(struct rn *r, uint8_t type, struct yb_json *o)
{
	struct yb_buf b;
	struct yb_err err;
	yb_buf_init(&b, 0);
	ck_assert_int_eq(wire_put_json(&b, type, o, &err), 0);
	rn_send_raw(r, b.data, b.len);
	yb_buf_release(&b);
	yb_json_free(o);
}

/* 1: a frame (valid until the next call); 0: end of file; -1: the safety net. */
static inline int rn_frame(struct rn *r, struct wire_frame *f)
{
	struct yb_err err;
	int64_t deadline = yb_mono_ms() + WAIT_MS;
	for (;;) {
		int rc = wire_reader_next(&r->rd, f, &err);
		ck_assert_msg(rc >= 0, "the runner sent a bad frame: %s", err.msg);
		if (rc == 1)
			return 1;
		struct pollfd p = { .fd = r->fd, .events = POLLIN };
		int left = (int)(deadline - yb_mono_ms());
		if (left <= 0 || poll(&p, 1, left) == 0)
			return -1;
		char buf[65536];
		ssize_t n = read(r->fd, buf, sizeof(buf));
		if (n <= 0)
			return 0;
		ck_assert_int_eq(wire_reader_feed(&r->rd, buf, (size_t)n, &err), 0);
	}
}

/* The next control frame, parsed; fails on OUTPUT or end of file. */
static inline struct yb_json *rn_json(struct rn *r, uint8_t *type)
{
	struct wire_frame f;
	struct yb_err err;
	ck_assert_int_eq(rn_frame(r, &f), 1);
	ck_assert_msg(f.type != WIRE_OUTPUT, "unexpected OUTPUT");
	struct yb_json *v = NULL;
	ck_assert_msg(wire_parse_json(&f, &v, &err) == 0, "%s", err.msg);
	*type = f.type;
	return v;
}

static inline struct yb_json *hello_obj(int proto)
{
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "proto", yb_json_int(proto));
	yb_json_set(o, "program", yb_json_str("yoban"));
	yb_json_set(o, "version", yb_json_str("0.1.0"));
	return o;
}

static inline void rn_hello(struct rn *r)
{
	uint8_t type;
	rn_send(r, WIRE_HELLO, hello_obj(WIRE_PROTO));
	struct yb_json *v = rn_json(r, &type);
	ck_assert_uint_eq(type, WIRE_HELLO);
	ck_assert_int_eq(yb_json_get_int(v, "proto", 0), WIRE_PROTO);
	ck_assert_str_eq(yb_json_get_str(v, "program"), "yoban-runner");
	yb_json_free(v);
}

/* Waits for the runner to exit and returns its wait status. */
static inline int rn_wait(struct rn *r)
{
	int status = 0;
	ck_assert_int_eq(waitpid(r->pid, &status, 0), r->pid);
	close(r->fd);
	close(r->err_fd);
	wire_reader_release(&r->rd);
	return status;
}

/* Closes our end (the runner sees end of file) and expects a clean exit. */
static inline void rn_close(struct rn *r)
{
	shutdown(r->fd, SHUT_WR);
	int status = rn_wait(r);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "runner status 0x%x", status);
}

static inline void rn_stderr(struct rn *r, char *out, size_t size)
{
	size_t len = 0;
	ssize_t n;
	while (len < size - 1 && (n = read(r->err_fd, out + len, size - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
}

static inline struct yb_json *job_obj(const char *job)
{
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "job", yb_json_str(job));
	return o;
}

static inline struct yb_json *shell_job(const char *job, const char *script)
{
	struct yb_json *o = job_obj(job);
	yb_json_set(o, "shell", yb_json_str(script));
	return o;
}

/* ---- collecting jobs ---- */

struct jobout {
	char job[WIRE_MAX_JOB_ID + 1];
	struct yb_buf stream[3];
	struct yb_buf all;
	uint64_t next_off;
	bool acked;
	struct yb_json *exit;
	char error[32];
};

static inline void jobs_init(struct jobout *j, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		memset(&j[i], 0, sizeof(j[i]));
		for (int s = 0; s < 3; s++)
			yb_buf_init(&j[i].stream[s], 0);
		yb_buf_init(&j[i].all, 0);
	}
}

static inline void jobs_release(struct jobout *j, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (int s = 0; s < 3; s++)
			yb_buf_release(&j[i].stream[s]);
		yb_buf_release(&j[i].all);
		yb_json_free(j[i].exit);
	}
}

static inline struct jobout *jobs_find(struct jobout *j, size_t n, const char *job)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(j[i].job, job))
			return &j[i];
	ck_abort_msg("a frame for job '%s' nobody asked about", job);
	return NULL;
}

/* Reads frames until every job has an EXIT or an ERROR (or until stop_after_bytes of output
 * arrived for jobs[0], when non-zero). Checks that each byte arrives once, in order. */
static inline void rn_collect(struct rn *r, struct jobout *j, size_t n, uint64_t stop_after_bytes)
{
	struct yb_err err;
	for (;;) {
		size_t open = 0;
		for (size_t i = 0; i < n; i++)
			open += !j[i].exit && !j[i].error[0];
		if (!open)
			return;
		if (stop_after_bytes && j[0].all.len >= stop_after_bytes)
			return;
		struct wire_frame f;
		int rc = rn_frame(r, &f);
		ck_assert_msg(rc == 1, "connection ended (%d) with %zu jobs open", rc, open);
		if (f.type == WIRE_OUTPUT) {
			struct wire_output o;
			ck_assert_int_eq(wire_parse_output(&f, &o, &err), 0);
			struct jobout *jo = jobs_find(j, n, o.job);
			ck_assert_msg(jo->acked, "OUTPUT for '%s' before its ACK", o.job);
			ck_assert_msg(o.offset == jo->next_off, "job '%s': offset %llu, expected %llu",
				      o.job, (unsigned long long)o.offset, (unsigned long long)jo->next_off);
			ck_assert_ptr_null(jo->exit);
			size_t before = jo->all.len;
			ck_assert_int_eq(wire_output_data(&o, &jo->all, &err), 0);
			yb_buf_append(&jo->stream[o.stream], jo->all.data + before, o.raw_len);
			jo->next_off += o.raw_len;
			continue;
		}
		struct yb_json *v = NULL;
		ck_assert_int_eq(wire_parse_json(&f, &v, &err), 0);
		const char *job = yb_json_get_str(v, "job");
		ck_assert_msg(job != NULL, "connection-level frame %s: %s", wire_type_name(f.type),
			      yb_json_get_str(v, "message"));
		struct jobout *jo = jobs_find(j, n, job);
		if (f.type == WIRE_ACK) {
			ck_assert_str_eq(yb_json_get_str(v, "op"), "start");
			ck_assert_int_gt(yb_json_get_int(v, "pid", 0), 0);
			jo->acked = true;
		} else if (f.type == WIRE_EXIT) {
			ck_assert_ptr_null(jo->exit);
			ck_assert_int_eq(yb_json_get_int(v, "spool_bytes", -1), (int64_t)jo->next_off);
			jo->exit = yb_json_ref(v);
		} else if (f.type == WIRE_ERROR) {
			snprintf(jo->error, sizeof(jo->error), "%s", yb_json_get_str(v, "code"));
		} else {
			ck_abort_msg("unexpected %s frame", wire_type_name(f.type));
		}
		yb_json_free(v);
	}
}

static inline void sha_hex(const void *data, size_t len, char out[65])
{
	yb_sha256_hex(data ? data : "", len, out);
}

/* The EXIT's byte counts and digests match what arrived. */
static inline void check_digests(const struct jobout *jo)
{
	char hex[65];
	ck_assert_ptr_nonnull(jo->exit);
	ck_assert_int_eq(yb_json_get_int(jo->exit, "stdout_bytes", -1), (int64_t)jo->stream[1].len);
	ck_assert_int_eq(yb_json_get_int(jo->exit, "stderr_bytes", -1), (int64_t)jo->stream[2].len);
	sha_hex(jo->stream[1].data, jo->stream[1].len, hex);
	ck_assert_str_eq(yb_json_get_str(jo->exit, "stdout_sha256"), hex);
	sha_hex(jo->stream[2].data, jo->stream[2].len, hex);
	ck_assert_str_eq(yb_json_get_str(jo->exit, "stderr_sha256"), hex);
}

static inline void run_one(const char *state, struct yb_json *start, struct jobout *jo)
{
	struct rn r;
	rn_spawn(&r, state);
	rn_hello(&r);
	jobs_init(jo, 1);
	snprintf(jo->job, sizeof(jo->job), "%s", yb_json_get_str(start, "job"));
	rn_send(&r, WIRE_START, start);
	rn_collect(&r, jo, 1, 0);
	rn_close(&r);
}

static inline bool pid_gone(pid_t pid)
{
	return kill(pid, 0) < 0 && errno == ESRCH;
}

static inline pid_t read_pid(const char *dir, const char *name)
{
	char *path = xasprintf("%s/%s", dir, name), *text = NULL;
	struct yb_err err;
	ck_assert_msg(yb_read_file(path, 64, &text, NULL, &err) == 0, "%s", err.msg);
	pid_t pid = (pid_t)atoi(text);
	ck_assert_int_gt(pid, 1);
	free(text);
	free(path);
	return pid;
}

/* ---- small things ---- */

static inline void write_file(const char *path, const void *data, size_t len)
{
	struct yb_err err;
	ck_assert_msg(yb_write_file_atomic(path, data, len, 0600, &err) == 0, "%s", err.msg);
}

static inline struct yb_json *attach_obj(const char *job, uint64_t offset)
{
	struct yb_json *o = job_obj(job);
	yb_json_set(o, "offset", yb_json_int((int64_t)offset));
	return o;
}

/* ---- processes only one test runs ---- */

/* A link to sleep named ybmPIDx (the name is its comm too), for pgrep to find. The tests run it
 * for 120 s, ten times what they need: a test that fails midway leaves nothing for long. */
static inline char *marker_prog(const char *state, char tag, char *name, size_t size)
{
	snprintf(name, size, "ybm%d%c", (int)getpid() % 1000000, tag);
	char *path = xasprintf("%s/%s", state, name);
	const char *sleep_bin = access("/bin/sleep", X_OK) == 0 ? "/bin/sleep" : "/usr/bin/sleep";
	ck_assert_int_eq(symlink(sleep_bin, path), 0);
	return path;
}

static inline bool marker_alive(const char *name)
{
	/* "[y]bm...": matches the name, but not this very command line; zombies (dead, waiting for
	 * the reaper the test stands in for) do not count */
	char *cmd = xasprintf("pgrep -r RSDTt -f '[%c]%s' >/dev/null", name[0], name + 1);
	int st = system(cmd);
	free(cmd);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) <= 1, "pgrep failed (status 0x%x)", st);
	return WEXITSTATUS(st) == 0;
}

/* The marker program itself runs: a live process is called name (its comm). marker_alive
 * also matches the command lines of the step's shell and of a setsid that has not yet exec'd
 * the marker, so it cannot say that the marker started. */
static inline bool marker_running(const char *name)
{
	char *cmd = xasprintf("pgrep -r RSDTt -x '%s' >/dev/null", name);
	int st = system(cmd);
	free(cmd);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) <= 1, "pgrep failed (status 0x%x)", st);
	return WEXITSTATUS(st) == 0;
}

static inline void wait_marker_alive(const char *name)
{
	for (int i = 0; i < 500 && !marker_running(name); i++)
		usleep(10000);
	ck_assert_msg(marker_running(name), "'%s' never started", name);
}

#endif
