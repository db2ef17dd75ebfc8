/*
 * test_transport.c: the runner client over both transports, against the real yoban-runner: a
 * local child over a socketpair, and a real sshd on loopback (tests/integration/lib/sshd.sh,
 * started once for the ssh cases). What a scheduler relies on is checked from outside: every
 * byte of every job arrives once and intact, exits carry the right status, a lost connection or
 * a killed runner is survived by re-attaching, and hostile or wrong peers are refused by name.
 */
#include "buf.h"
#include "digest.h"
#include "json.h"
#include "rclient.h"
#include "transport.h"
#include "wire.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define RUNNER YB_BIN_DIR "/yoban-runner"

/* Under AddressSanitizer, freed blocks wait in a quarantine (256 MiB by default) before reuse;
 * libssh2 allocates a buffer per SSH packet, so the quarantine alone would decide the 1 GiB
 * test's peak memory. A small quarantine keeps the measurement about our code. (Read by ASan
 * at start-up; without ASan the function is simply unused.) */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=8";
}
#define MAX_JOBS 128

/* ---- a job collector ------------------------------------------------------------------- */

struct tjob {
	char id[WIRE_MAX_JOB_ID + 1];
	struct yb_buf out, err;   /* kept unless big */
	bool big;                 /* only digest and count */
	struct yb_sha256 h;
	uint64_t bytes, last_end;
	bool acked, exited, forgotten, failed;
	char code[64];
	struct rclient_exit ex;
	int64_t pid;
};

struct tctx {
	struct tjob jobs[MAX_JOBS];
	int n;
	int64_t kill_after;       /* bytes of job 0 after which to run `on_bytes` once */
	void (*on_bytes)(struct tctx *);
	bool fired;
	int reconnects;
};

static struct tjob *tjob(struct tctx *c, const char *id)
{
	for (int i = 0; i < c->n; i++)
		if (!strcmp(c->jobs[i].id, id))
			return &c->jobs[i];
	ck_abort_msg("callback for unknown job '%s'", id);
	return NULL;
}

static struct tjob *tjob_new(struct tctx *c, const char *id, bool big)
{
	ck_assert_int_lt(c->n, MAX_JOBS);
	struct tjob *j = &c->jobs[c->n++];
	memset(j, 0, sizeof(*j));
	snprintf(j->id, sizeof(j->id), "%s", id);
	yb_buf_init(&j->out, 0);
	yb_buf_init(&j->err, 0);
	yb_sha256_init(&j->h);
	j->big = big;
	return j;
}

static void cb_output(void *ctx, const char *job, int stream, uint64_t offset, const void *data,
		      size_t len)
{
	struct tctx *c = ctx;
	struct tjob *j = tjob(c, job);
	ck_assert_uint_eq(offset, j->last_end); /* in order, no gap, no repeat */
	j->last_end = offset + len;
	j->bytes += len;
	if (stream == WIRE_STDOUT)
		yb_sha256_update(&j->h, data, len);
	if (!j->big)
		yb_buf_append(stream == WIRE_STDERR ? &j->err : &j->out, data, len);
	if (c->on_bytes && !c->fired && j == &c->jobs[0] && (int64_t)j->bytes >= c->kill_after) {
		c->fired = true;
		c->on_bytes(c);
	}
}

static void cb_exit(void *ctx, const char *job, const struct rclient_exit *ex)
{
	struct tjob *j = tjob(ctx, job);
	ck_assert_msg(!j->exited, "exit of '%s' delivered twice", job);
	j->exited = true;
	j->ex = *ex;
}

static void cb_ack(void *ctx, const char *job, const char *op, int64_t pid)
{
	struct tjob *j = tjob(ctx, job);
	if (!strcmp(op, "start")) {
		j->acked = true;
		j->pid = pid;
	} else {
		j->forgotten = true;
	}
}

static void cb_job_error(void *ctx, const char *job, const char *code, const char *message)
{
	struct tjob *j = tjob(ctx, job);
	j->failed = true;
	snprintf(j->code, sizeof(j->code), "%s", code);
}

static void cb_connected(void *ctx, bool reconnect)
{
	if (reconnect)
		((struct tctx *)ctx)->reconnects++;
}

static const struct rclient_callbacks callbacks = {
	.output = cb_output, .exit = cb_exit, .ack = cb_ack, .job_error = cb_job_error,
	.connected = cb_connected,
};

static struct tctx *ctx_new(void)
{
	return calloc(1, sizeof(struct tctx));
}

static void ctx_free(struct tctx *c)
{
	for (int i = 0; i < c->n; i++) {
		yb_buf_release(&c->jobs[i].out);
		yb_buf_release(&c->jobs[i].err);
	}
	free(c);
}

static struct rclient *client_new(const struct transport_target *target, struct tctx *c)
{
	struct transport *t = NULL;
	struct yb_err err = { 0 };
	ck_assert_msg(transport_new(target, &t, &err) == 0, "transport_new: %s", err.msg);
	struct rclient_options o = { .max_attempts = 10, .backoff_initial_ms = 100,
				     .backoff_max_ms = 1000 };
	return rclient_new(t, &callbacks, c, &o);
}

static bool all_exited(struct tctx *c)
{
	for (int i = 0; i < c->n; i++)
		if (!c->jobs[i].exited && !c->jobs[i].failed)
			return false;
	return true;
}

/* Steps until done(c) or the client fails; returns the client's final step result. */
static int drive(struct rclient *rc, struct tctx *c, bool (*done)(struct tctx *), int max_s,
		 struct yb_err *err)
{
	int64_t deadline = yb_mono_ms() + max_s * 1000LL;
	while (!done(c)) {
		int r = rclient_wait(rc, 200, err);
		if (r < 0)
			return r;
		ck_assert_msg(yb_mono_ms() < deadline, "not done after %d s", max_s);
	}
	return 0;
}

static void run_ok(struct rclient *rc, struct tctx *c, int max_s)
{
	struct yb_err err = { 0 };
	int r = drive(rc, c, all_exited, max_s, &err);
	ck_assert_msg(r == 0, "client failed: %s", err.msg);
}

static struct yb_json *spec_argv(const char *const *argv)
{
	struct yb_json *s = yb_json_object(), *a = yb_json_array();
	for (; *argv; argv++)
		yb_json_push(a, yb_json_str(*argv));
	yb_json_set(s, "argv", a);
	return s;
}

static struct yb_json *spec_sh(const char *script)
{
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	return spec_argv(argv);
}

/* Starts a job whose id is base-PID (each test runs in its own process, so ids never meet a
 * journal left by another test); returns the id. */
static const char *start(struct rclient *rc, struct tctx *c, const char *base, struct yb_json *spec,
			 bool big)
{
	struct yb_err err = { 0 };
	char id[WIRE_MAX_JOB_ID + 1];
	snprintf(id, sizeof(id), "%.40s-%d", base, (int)getpid());
	struct tjob *j = tjob_new(c, id, big);
	ck_assert_msg(rclient_start(rc, id, spec, &err) == 0, "start: %s", err.msg);
	yb_json_free(spec);
	return j->id;
}

static int exit_code(const struct tjob *j)
{
	return j->ex.has_status ? j->ex.status : j->ex.has_signal ? 128 + j->ex.signal : -1;
}

/* ---- targets ----------------------------------------------------------------------------- */

static char state_dir[256];

static void make_state_dir(void)
{
	snprintf(state_dir, sizeof(state_dir), "/tmp/yb-tt-state.XXXXXX");
	if (!mkdtemp(state_dir)) {
		perror("test_transport: mkdtemp");
		exit(1);
	}
}

static struct transport_target local_target(void)
{
	struct transport_target t = { .name = "local", .kind = TRANSPORT_LOCAL,
				      .runner_path = RUNNER, .state_dir = state_dir };
	return t;
}

/* The sshd harness, started once for the ssh test case (an unchecked fixture). */
static struct {
	pid_t pid;
	int in_fd;
	char dir[256], port[16], user[64], key[300], fp[128], known[300], runner_pidfile[300];
	char sshd_pid[16];
} sshd;

static void sshd_setup(void)
{
	int in[2], out[2];
	/* runs in the parent, outside any test: no ck_assert here */
	if (pipe(in) < 0 || pipe(out) < 0) {
		perror("test_transport: pipe");
		exit(1);
	}
	setenv("YB_BIN", YB_BIN_DIR, 1);
	sshd.pid = fork();
	if (sshd.pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execlp("bash", "bash", YB_SOURCE_DIR "/tests/integration/lib/sshd.sh", "serve", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	sshd.in_fd = in[1];
	FILE *f = fdopen(out[0], "r");
	char line[1024];
	bool ready = false;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *eq = strchr(line, '=');
		if (!strcmp(line, "READY")) {
			ready = true;
			break;
		}
		if (!eq)
			continue;
		*eq++ = '\0';
#define GRAB(name, field) if (!strcmp(line, name)) snprintf(sshd.field, sizeof(sshd.field), "%s", eq)
		GRAB("SSHD_DIR", dir);
		GRAB("SSHD_PORT", port);
		GRAB("SSHD_USER", user);
		GRAB("SSHD_KEY", key);
		GRAB("SSHD_FINGERPRINT", fp);
		GRAB("SSHD_KNOWN_HOSTS", known);
		GRAB("SSHD_RUNNER_PIDFILE", runner_pidfile);
		GRAB("SSHD_PID", sshd_pid);
#undef GRAB
	}
	fclose(f);
	if (!ready) {
		fprintf(stderr, "test_transport: the sshd harness did not start\n");
		exit(1);
	}
}

static void sshd_teardown(void)
{
	if (sshd.pid > 0) {
		close(sshd.in_fd);
		waitpid(sshd.pid, NULL, 0);
		sshd.pid = 0;
	}
}

static struct transport_target ssh_target(void)
{
	struct transport_target t = {
		.name = "loop", .kind = TRANSPORT_SSH, .address = "127.0.0.1", .port = atoi(sshd.port),
		.user = sshd.user, .host_key = sshd.fp, .key_path = sshd.key, .keepalive_s = 5,
	};
	return t;
}

static int read_pidfile(const char *path)
{
	char *text = NULL;
	size_t len;
	if (yb_read_file(path, 64, &text, &len, NULL) < 0)
		return 0;
	int pid = atoi(text);
	free(text);
	return pid;
}

/* Every sshd below the listener: the per-connection processes. */
static void kill_ssh_connections(void)
{
	int root = atoi(sshd.sshd_pid);
	int pids[512], ppids[512], n = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d)) && n < 512) {
		int pid = atoi(e->d_name);
		if (pid <= 0)
			continue;
		char path[64], buf[512];
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t got = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[got] = '\0';
		char *rp = strrchr(buf, ')');
		if (!strstr(buf, "(sshd") || !rp)
			continue;
		int ppid = 0;
		char state;
		if (sscanf(rp + 2, "%c %d", &state, &ppid) == 2) {
			pids[n] = pid;
			ppids[n++] = ppid;
		}
	}
	if (d)
		closedir(d);
	bool mark[512] = { 0 };
	for (bool changed = true; changed;) {
		changed = false;
		for (int i = 0; i < n; i++) {
			if (mark[i])
				continue;
			bool under = ppids[i] == root;
			for (int k = 0; k < n && !under; k++)
				under = mark[k] && pids[k] == ppids[i];
			if (under) {
				mark[i] = changed = true;
			}
		}
	}
	int killed = 0;
	for (int i = 0; i < n; i++)
		if (mark[i] && kill(pids[i], SIGKILL) == 0)
			killed++;
	ck_assert_msg(killed > 0, "no per-connection sshd process found to kill");
}

static long vm_hwm_kb(int pid)
{
	char path[64], line[256];
	long kb = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			kb = atol(line + 6);
	fclose(f);
	return kb;
}

/* ---- shared scenarios (run over both transports) ---------------------------------------- */

static void scenario_many_jobs(struct transport_target target, int n)
{
	struct tctx *c = ctx_new();
	struct rclient *rc = client_new(&target, c);
	for (int i = 0; i < n; i++) {
		char id[32], val[16];
		snprintf(id, sizeof(id), "many-%03d", i);
		snprintf(val, sizeof(val), "%d", i);
		struct yb_json *s = spec_sh("echo out-$N; echo err-$N >&2; exit $((N % 7))");
		struct yb_json *env = yb_json_object();
		yb_json_set(env, "N", yb_json_str(val));
		yb_json_set(s, "env", env);
		start(rc, c, id, s, false);
	}
	run_ok(rc, c, 120);
	for (int i = 0; i < n; i++) {
		struct tjob *j = &c->jobs[i];
		char want[32];
		snprintf(want, sizeof(want), "out-%d\n", i);
		ck_assert_str_eq(j->out.data ? j->out.data : "", want);
		snprintf(want, sizeof(want), "err-%d\n", i);
		ck_assert_str_eq(j->err.data ? j->err.data : "", want);
		ck_assert_int_eq(exit_code(j), i % 7);
		ck_assert(j->acked);
	}
	ck_assert_int_eq(rclient_connections(rc), 1); /* all on one connection */
	rclient_free(rc);
	ctx_free(c);
}

/* A job writing `bytes` bytes of a file we made: the digest we compute must be the file's. */
static void scenario_binary(struct transport_target target, size_t bytes)
{
	char path[] = "/tmp/yb-tt-bin.XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unsigned char *data = malloc(bytes);
	yb_random_bytes(data, bytes);
	ck_assert_int_eq(write(fd, data, bytes), (ssize_t)bytes);
	close(fd);
	chmod(path, 0644);
	unsigned char want[YB_SHA256_LEN], got[YB_SHA256_LEN];
	yb_sha256(data, bytes, want);
	free(data);

	struct tctx *c = ctx_new();
	struct rclient *rc = client_new(&target, c);
	const char *argv[] = { "cat", path, NULL };
	start(rc, c, "binary", spec_argv(argv), true);
	run_ok(rc, c, 120);
	struct tjob *j = &c->jobs[0];
	yb_sha256_final(&j->h, got);
	ck_assert_uint_eq(j->bytes, bytes);
	ck_assert_int_eq(exit_code(j), 0);
	ck_assert_mem_eq(got, want, sizeof(want));
	char hex[YB_SHA256_HEX_LEN];
	yb_hex(got, sizeof(got), hex);
	ck_assert_str_eq(j->ex.stdout_sha256, hex); /* the runner's evidence digest agrees */
	unlink(path);
	rclient_free(rc);
	ctx_free(c);
}

static struct rclient *interrupt_rc;

static void kill_local_runner(struct tctx *c)
{
	int pid = transport_local_pid(rclient_transport(interrupt_rc));
	ck_assert_int_gt(pid, 0);
	kill(pid, SIGKILL);
}

static void kill_connection(struct tctx *c)
{
	kill_ssh_connections();
}

static void kill_remote_runner(struct tctx *c)
{
	int pid = read_pidfile(sshd.runner_pidfile);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
}

/* A job printing numbered lines for a while; `interrupt` strikes after some output; every line
 * must arrive exactly once, then the exit. */
static void scenario_interrupted(struct transport_target target, void (*interrupt)(struct tctx *))
{
	struct tctx *c = ctx_new();
	struct rclient *rc = client_new(&target, c);
	interrupt_rc = rc;
	c->kill_after = 2000;
	c->on_bytes = interrupt;
	start(rc, c, "interrupted",
	      spec_sh("i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); "
		      "case $i in *0) sleep 0.02;; esac; done; echo done >&2; exit 3"), false);
	run_ok(rc, c, 120);
	struct tjob *j = &c->jobs[0];
	ck_assert(c->fired);
	ck_assert_int_ge(c->reconnects, 1);
	struct yb_buf want;
	yb_buf_init(&want, 0);
	for (int i = 0; i < 400; i++)
		yb_buf_appendf(&want, "line-%d\n", i);
	ck_assert_uint_eq(j->out.len, want.len);
	ck_assert_str_eq(j->out.data, want.data);
	ck_assert_str_eq(j->err.data, "done\n");
	ck_assert_int_eq(exit_code(j), 3);
	yb_buf_release(&want);
	rclient_free(rc);
	ctx_free(c);
}

static bool is_gone_or_zombie(int pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return true;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *rp = strrchr(buf, ')');
	return rp && rp[2] == 'Z';
}

static void scenario_timeout_kills_tree(struct transport_target target)
{
	struct tctx *c = ctx_new();
	struct rclient *rc = client_new(&target, c);
	struct yb_json *s = spec_sh("sleep 300 & echo $!; sh -c 'sleep 300' & wait");
	yb_json_set(s, "timeout_ms", yb_json_int(700));
	yb_json_set(s, "grace_ms", yb_json_int(300));
	start(rc, c, "timeout", s, false);
	run_ok(rc, c, 60);
	struct tjob *j = &c->jobs[0];
	ck_assert(j->ex.timed_out);
	ck_assert(j->ex.has_signal);
	int child = atoi(j->out.data ? j->out.data : "0");
	ck_assert_int_gt(child, 0);
	for (int i = 0; i < 100 && !is_gone_or_zombie(child); i++)
		usleep(50000);
	ck_assert_msg(is_gone_or_zombie(child), "background child %d of a timed-out job survived", child);
	rclient_free(rc);
	ctx_free(c);
}

static bool first_acked(struct tctx *c)
{
	return c->jobs[0].acked;
}

static void scenario_cancel(struct transport_target target)
{
	struct tctx *c = ctx_new();
	struct rclient *rc = client_new(&target, c);
	struct yb_err err = { 0 };
	const char *id = start(rc, c, "cancel-me", spec_sh("echo started; exec sleep 300"), false);
	ck_assert_int_eq(drive(rc, c, first_acked, 30, &err), 0);
	ck_assert_int_eq(rclient_cancel(rc, id, &err), 0);
	run_ok(rc, c, 30);
	struct tjob *j = &c->jobs[0];
	ck_assert(j->ex.cancelled);
	ck_assert(j->ex.has_signal);
	ck_assert_int_eq(j->ex.signal, SIGTERM);
	rclient_free(rc);
	ctx_free(c);
}

/* ---- local transport --------------------------------------------------------------------- */

START_TEST(local_many_jobs_on_one_connection)
{
	scenario_many_jobs(local_target(), 100);
}
END_TEST

START_TEST(local_binary_output_intact)
{
	scenario_binary(local_target(), 6u << 20);
}
END_TEST

START_TEST(local_runner_killed_then_reattached)
{
	scenario_interrupted(local_target(), kill_local_runner);
}
END_TEST

START_TEST(local_timeout_kills_process_tree)
{
	scenario_timeout_kills_tree(local_target());
}
END_TEST

START_TEST(local_cancel)
{
	scenario_cancel(local_target());
}
END_TEST

START_TEST(local_secrets_masked_and_env_passed)
{
	struct transport_target target = local_target();
	struct tctx *c = ctx_new();
	struct rclient *rc = client_new(&target, c);
	/* the value has shell metacharacters: it must arrive as data, never as code */
	struct yb_json *s = spec_sh("printf '%s|%s\\n' \"$YOBAN_PARAM_X\" \"$PASSWORD\"");
	struct yb_json *env = yb_json_object(), *sec = yb_json_array();
	yb_json_set(env, "YOBAN_PARAM_X", yb_json_str("a'; touch /tmp/yb-pwned; '$(id)"));
	yb_json_set(env, "PASSWORD", yb_json_str("hunter2-secret"));
	yb_json_push(sec, yb_json_str("hunter2-secret"));
	yb_json_set(s, "env", env);
	yb_json_set(s, "secrets", sec);
	start(rc, c, "secret", s, false);
	run_ok(rc, c, 30);
	ck_assert_str_eq(c->jobs[0].out.data, "a'; touch /tmp/yb-pwned; '$(id)|********\n");
	ck_assert_int_ne(access("/tmp/yb-pwned", F_OK), 0);
	rclient_free(rc);
	ctx_free(c);
}
END_TEST

static bool first_forgotten_or_failed(struct tctx *c)
{
	return c->jobs[0].forgotten || c->jobs[0].failed;
}

START_TEST(local_detach_attach_forget)
{
	struct transport_target target = local_target();
	struct tctx *c = ctx_new();
	struct rclient *rc = client_new(&target, c);
	struct yb_err err = { 0 };
	char id[WIRE_MAX_JOB_ID + 1];
	snprintf(id, sizeof(id), "%s", start(rc, c, "detached", spec_sh("echo one; sleep 0.3; echo two"), false));
	ck_assert_int_eq(drive(rc, c, first_acked, 30, &err), 0);
	rclient_free(rc); /* the client goes away; the job does not */
	ctx_free(c);

	c = ctx_new();
	rc = client_new(&target, c);
	tjob_new(c, id, false);
	ck_assert_int_eq(rclient_attach(rc, id, 0, &err), 0);
	run_ok(rc, c, 30);
	ck_assert_str_eq(c->jobs[0].out.data, "one\ntwo\n");
	ck_assert_int_eq(exit_code(&c->jobs[0]), 0);
	ck_assert_int_eq(rclient_forget(rc, id, &err), 0);
	ck_assert_int_eq(drive(rc, c, first_forgotten_or_failed, 30, &err), 0);
	ck_assert(c->jobs[0].forgotten);
	ck_assert_uint_eq(rclient_njobs(rc), 0);
	/* forgotten means gone: attaching again is refused by name */
	yb_buf_release(&c->jobs[0].out);
	yb_buf_release(&c->jobs[0].err);
	c->n = 0;
	tjob_new(c, id, false);
	ck_assert_int_eq(rclient_attach(rc, id, 0, &err), 0);
	ck_assert_int_eq(drive(rc, c, first_forgotten_or_failed, 30, &err), 0);
	ck_assert(c->jobs[0].failed);
	ck_assert_str_eq(c->jobs[0].code, "unknown-job");
	rclient_free(rc);
	ctx_free(c);
}
END_TEST

START_TEST(local_duplicate_job_id_refused)
{
	struct transport_target target = local_target();
	struct tctx *c = ctx_new();
	struct rclient *rc = client_new(&target, c);
	const char *id = start(rc, c, "dup", spec_sh("echo first"), false);
	run_ok(rc, c, 30);
	ck_assert_str_eq(c->jobs[0].out.data, "first\n");
	rclient_free(rc);
	/* the journal keeps the job (not forgotten); a new client reusing the id must not be
	 * handed the old job's output as if it were its own */
	struct tctx *c2 = ctx_new();
	rc = client_new(&target, c2);
	struct yb_err err = { 0 };
	tjob_new(c2, id, false);
	struct yb_json *s = spec_sh("echo second");
	ck_assert_int_eq(rclient_start(rc, id, s, &err), 0);
	yb_json_free(s);
	run_ok(rc, c2, 30);
	ck_assert(c2->jobs[0].failed);
	ck_assert_str_eq(c2->jobs[0].code, "conflict");
	ck_assert_uint_eq(c2->jobs[0].bytes, 0);
	rclient_free(rc);
	ctx_free(c);
	ctx_free(c2);
}
END_TEST

/* The runner's digest of a job's spec comes with its ACK and goes with every later ATTACH: a
 * client naming another digest is refused ("conflict", no byte), one naming the right one gets
 * the job. A job_report callback sees what the runner said (code, processes). */
static struct rclient_report last_report;
static char last_report_code[64];
static void cb_job_report(void *ctx, const char *job, const struct rclient_report *r)
{
	struct tjob *j = tjob(ctx, job);
	j->failed = true;
	snprintf(j->code, sizeof(j->code), "%s", r->code ? r->code : r->op);
	last_report = *r;
	snprintf(last_report_code, sizeof(last_report_code), "%s", j->code);
	last_report.code = last_report_code;
	last_report.frame = NULL;
	last_report.message = "";
	last_report.spec_sha256 = NULL;
}

START_TEST(local_spec_digest_guards_attach)
{
	struct transport_target target = local_target();
	struct tctx *c = ctx_new();
	struct rclient *rc = client_new(&target, c);
	struct yb_err err = { 0 };
	char id[WIRE_MAX_JOB_ID + 1], digest[65], right[65];
	snprintf(id, sizeof(id), "%s", start(rc, c, "digested", spec_sh("echo one"), false));
	ck_assert_ptr_null(rclient_job_spec_sha256(rc, id));
	run_ok(rc, c, 30);
	ck_assert(c->jobs[0].acked);
	ck_assert_ptr_nonnull(rclient_job_spec_sha256(rc, id));
	snprintf(right, sizeof(right), "%s", rclient_job_spec_sha256(rc, id));
	ck_assert_uint_eq(strspn(right, "0123456789abcdef"), 64);
	rclient_free(rc);
	ctx_free(c);

	/* the ACK's digest, as a second client learns it by starting the same spec ("exists") */
	c = ctx_new();
	rc = client_new(&target, c);
	tjob_new(c, id, false);
	struct yb_json *s = spec_sh("echo one");
	ck_assert_int_eq(rclient_start(rc, id, s, &err), 0);
	yb_json_free(s);
	run_ok(rc, c, 30);
	ck_assert_str_eq(c->jobs[0].code, "exists");
	rclient_free(rc);
	ctx_free(c);

	struct rclient_callbacks cbs = callbacks;
	cbs.job_report = cb_job_report;
	struct rclient_options o = { .max_attempts = 10, .backoff_initial_ms = 100 };
	struct transport *t = NULL;
	c = ctx_new();
	ck_assert_int_eq(transport_new(&target, &t, &err), 0);
	rc = rclient_new(t, &cbs, c, &o);
	tjob_new(c, id, false);
	memset(digest, '0', 64);
	digest[64] = 0;
	ck_assert_int_eq(rclient_attach_spec(rc, id, 0, digest, &err), 0);
	ck_assert_str_eq(rclient_job_spec_sha256(rc, id), digest);
	run_ok(rc, c, 30);
	ck_assert_str_eq(c->jobs[0].code, "conflict");
	ck_assert_uint_eq(c->jobs[0].bytes, 0);
	/* never started here: unknown-job, and nothing of it runs */
	c->jobs[0].failed = false;
	tjob_new(c, "never-started-here", false);
	ck_assert_int_eq(rclient_attach(rc, "never-started-here", 0, &err), 0);
	c->jobs[0].failed = true;
	run_ok(rc, c, 30);
	ck_assert_str_eq(c->jobs[1].code, "unknown-job");
	ck_assert_int_eq(last_report.processes, 0);
	/* the right digest: the job, whole */
	c->jobs[0].failed = false;
	c->jobs[0].code[0] = 0;
	ck_assert_int_eq(rclient_attach_spec(rc, id, 0, right, &err), 0);
	run_ok(rc, c, 30);
	ck_assert(c->jobs[0].exited);
	ck_assert_str_eq(c->jobs[0].out.data, "one\n");
	/* CANCEL alone of an id nothing carries: answered unknown-job, nothing killed, and the
	 * client lets go of it */
	tjob_new(c, "leftovers-of-nothing", false);
	ck_assert_int_eq(rclient_cancel_leftovers(rc, "leftovers-of-nothing", NULL, &err), 0);
	run_ok(rc, c, 30);
	ck_assert_str_eq(c->jobs[2].code, "unknown-job");
	ck_assert_int_eq(last_report.killed, 0);
	ck_assert_int_eq(last_report.processes, 0);
	ck_assert_int_eq(rclient_job_offset(rc, "leftovers-of-nothing"), -1);
	rclient_free(rc);
	ctx_free(c);
}
END_TEST

START_TEST(local_bad_ids_and_specs_refused)
{
	struct transport_target target = local_target();
	struct tctx *c = ctx_new();
	struct rclient *rc = client_new(&target, c);
	struct yb_err err = { 0 };
	struct yb_json *s = spec_sh("true");
	ck_assert_int_eq(rclient_start(rc, "bad id", s, &err), YB_EINVAL);
	ck_assert_int_eq(rclient_start(rc, "", s, &err), YB_EINVAL);
	ck_assert_int_eq(rclient_forget(rc, "nope", &err), YB_ENOENT);
	tjob_new(c, "twice", false);
	ck_assert_int_eq(rclient_start(rc, "twice", s, &err), 0);
	ck_assert_int_eq(rclient_start(rc, "twice", s, &err), YB_EEXIST);
	ck_assert_int_eq(rclient_forget(rc, "twice", &err), YB_EINVAL); /* not ended yet */
	yb_json_free(s);
	rclient_free(rc);
	ctx_free(c);
}
END_TEST

/* A "runner" that is a script: garbage, a bad HELLO, another protocol version. */
static int hostile_runner(const char *script, struct yb_err *err)
{
	char path[] = "/tmp/yb-tt-hostile.XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	dprintf(fd, "#!/bin/sh\n%s\n", script);
	close(fd);
	chmod(path, 0755);
	struct transport_target target = local_target();
	target.runner_path = path;
	struct tctx *c = ctx_new();
	struct rclient *rc = client_new(&target, c);
	start(rc, c, "victim", spec_sh("true"), false);
	int r = drive(rc, c, all_exited, 30, err);
	ck_assert_int_eq(rclient_state(rc), RC_FAILED);
	rclient_free(rc);
	ctx_free(c);
	unlink(path);
	return r;
}

START_TEST(local_hostile_runner_rejected)
{
	struct yb_err err = { 0 };
	/* an absurd frame length */
	ck_assert_int_eq(hostile_runner("printf '\\377\\377\\377\\377garbage'; sleep 5", &err), YB_EPROTO);
	/* a frame of unknown type */
	ck_assert_int_eq(hostile_runner("printf '\\000\\000\\000\\003\\177ab'; sleep 5", &err), YB_EPROTO);
	/* HELLO that is not JSON */
	ck_assert_int_eq(hostile_runner("printf '\\000\\000\\000\\005\\001{{{{'; sleep 5", &err), YB_EPROTO);
	/* another protocol version: refused by name */
	ck_assert_int_eq(hostile_runner("printf '\\000\\000\\000\\014\\001{\"proto\":9}'; sleep 5", &err),
			 YB_EPROTO);
	ck_assert_msg(strstr(err.msg, "protocol 9"), "message: %s", err.msg);
	/* OUTPUT before HELLO */
	ck_assert_int_eq(hostile_runner("printf '\\000\\000\\000\\002\\003x'; sleep 5", &err), YB_EPROTO);
	/* a runner that says nothing and leaves: the CLI does not retry the first connection */
	ck_assert_int_lt(hostile_runner("echo 'runner: cannot open state dir' >&2; exit 1", &err), 0);
}
END_TEST

START_TEST(local_missing_runner_named)
{
	struct transport_target target = local_target();
	target.runner_path = "/nonexistent/yoban-runner";
	struct tctx *c = ctx_new();
	struct rclient *rc = client_new(&target, c);
	struct yb_err err = { 0 };
	start(rc, c, "x", spec_sh("true"), false);
	ck_assert_int_lt(drive(rc, c, all_exited, 30, &err), 0);
	ck_assert_msg(strstr(err.msg, "/nonexistent/yoban-runner"), "message: %s", err.msg);
	rclient_free(rc);
	ctx_free(c);
}
END_TEST

START_TEST(fingerprint_like_ssh_keygen)
{
	char dir[] = "/tmp/yb-tt-fp.XXXXXX", cmd[512], b64[256] = "", want[128] = "";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "ssh-keygen -q -t ed25519 -N '' -f %s/k && cut -d' ' -f2 %s/k.pub", dir, dir);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(fgets(b64, sizeof(b64), p));
	pclose(p);
	b64[strcspn(b64, "\n")] = '\0';
	/* the raw key blob, decoded by the shell tool to keep the test independent of our code */
	unsigned char blob[256];
	snprintf(cmd, sizeof(cmd), "echo %s | base64 -d", b64);
	p = popen(cmd, "r");
	size_t n = fread(blob, 1, sizeof(blob), p);
	pclose(p);
	ck_assert_uint_eq(n, 51);
	char fp[96];
	transport_fingerprint(blob, n, fp, sizeof(fp));
	snprintf(cmd, sizeof(cmd), "ssh-keygen -lf %s/k.pub | awk '{print $2}'; rm -rf %s", dir, dir);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(fgets(want, sizeof(want), p));
	pclose(p);
	want[strcspn(want, "\n")] = '\0';
	ck_assert_str_eq(fp, want);
}
END_TEST

/* ---- ssh transport ------------------------------------------------------------------------ */

START_TEST(ssh_many_jobs_on_one_connection)
{
	scenario_many_jobs(ssh_target(), 64);
}
END_TEST

START_TEST(ssh_binary_output_intact)
{
	scenario_binary(ssh_target(), 6u << 20);
}
END_TEST

START_TEST(ssh_connection_killed_then_reattached)
{
	scenario_interrupted(ssh_target(), kill_connection);
}
END_TEST

START_TEST(ssh_runner_killed_then_reattached)
{
	scenario_interrupted(ssh_target(), kill_remote_runner);
}
END_TEST

START_TEST(ssh_timeout_kills_process_tree)
{
	scenario_timeout_kills_tree(ssh_target());
}
END_TEST

START_TEST(ssh_cancel)
{
	scenario_cancel(ssh_target());
}
END_TEST

static int ssh_fails(struct transport_target target, struct yb_err *err)
{
	struct tctx *c = ctx_new();
	struct rclient *rc = client_new(&target, c);
	start(rc, c, "x", spec_sh("true"), false);
	int r = drive(rc, c, all_exited, 60, err);
	ck_assert_int_eq(rclient_state(rc), RC_FAILED);
	rclient_free(rc);
	ctx_free(c);
	return r;
}

START_TEST(ssh_wrong_host_key_refused_naming_both)
{
	struct transport_target t = ssh_target();
	const char *wrong = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
	t.host_key = wrong;
	struct yb_err err = { 0 };
	ck_assert_int_eq(ssh_fails(t, &err), YB_EPERM);
	ck_assert_msg(strstr(err.msg, wrong) && strstr(err.msg, sshd.fp) && strstr(err.msg, "mismatch"),
		      "message: %s", err.msg);
	/* no pin and no known_hosts: unknown, refused, with the presented key to pin */
	t.host_key = NULL;
	ck_assert_int_eq(ssh_fails(t, &err), YB_EPERM);
	ck_assert_msg(strstr(err.msg, sshd.fp) && strstr(err.msg, "unknown host key"), "message: %s", err.msg);
}
END_TEST

START_TEST(ssh_known_hosts_accepted)
{
	struct transport_target t = ssh_target();
	t.host_key = NULL;
	t.known_hosts = sshd.known;
	scenario_many_jobs(t, 3);
}
END_TEST

START_TEST(ssh_auth_failure_named)
{
	char dir[] = "/tmp/yb-tt-key.XXXXXX", cmd[512], key[300];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(key, sizeof(key), "%s/other", dir);
	snprintf(cmd, sizeof(cmd), "ssh-keygen -q -t ed25519 -N '' -f %s", key);
	ck_assert_int_eq(system(cmd), 0);
	struct transport_target t = ssh_target();
	t.key_path = key;
	struct yb_err err = { 0 };
	ck_assert_int_eq(ssh_fails(t, &err), YB_EPERM);
	ck_assert_msg(strstr(err.msg, "authentication failed"), "message: %s", err.msg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(ssh_unreachable_named)
{
	struct transport_target t = ssh_target();
	t.port = 1; /* nothing listens there */
	struct yb_err err = { 0 };
	ck_assert_int_lt(ssh_fails(t, &err), 0);
	ck_assert_msg(strstr(err.msg, "cannot connect"), "message: %s", err.msg);
}
END_TEST

START_TEST(ssh_hostile_peer_rejected)
{
	/* the exec'd command is a "runner" writing garbage (the harness runs non-runner commands) */
	struct transport_target t = ssh_target();
	t.remote_command = "printf '\\000\\000\\000\\003\\001ab'; head -c 100000 /dev/urandom; sleep 5";
	struct yb_err err = { 0 };
	ck_assert_int_eq(ssh_fails(t, &err), YB_EPROTO);
	t.remote_command = "head -c 100000 /dev/urandom; sleep 5";
	ck_assert_int_eq(ssh_fails(t, &err), YB_EPROTO);
}
END_TEST

/* 1 GiB through ssh: both ends keep their memory bounded (VmHWM under 64 MiB). */
static long runner_hwm;

static void cb_exit_measure(void *ctx, const char *job, const struct rclient_exit *ex)
{
	runner_hwm = vm_hwm_kb(read_pidfile(sshd.runner_pidfile));
	cb_exit(ctx, job, ex);
}

START_TEST(ssh_one_gib_streamed_in_bounded_memory)
{
	struct transport_target target = ssh_target();
	struct tctx *c = ctx_new();
	struct transport *t = NULL;
	ck_assert_int_eq(transport_new(&target, &t, NULL), 0);
	struct rclient_callbacks cb = callbacks;
	cb.exit = cb_exit_measure;
	struct rclient *rc = rclient_new(t, &cb, c, NULL);
	const char *argv[] = { "head", "-c", "1073741824", "/dev/zero", NULL };
	struct yb_json *s = spec_argv(argv);
	yb_json_set(s, "output_cap", yb_json_int(2LL << 30));
	start(rc, c, "gib", s, true);
	long self_before = vm_hwm_kb(getpid());
	run_ok(rc, c, 280);
	struct tjob *j = &c->jobs[0];
	ck_assert_uint_eq(j->bytes, 1ULL << 30);
	ck_assert_int_eq(exit_code(j), 0);
	long self = vm_hwm_kb(getpid());
	fprintf(stderr, "1 GiB over ssh: client VmHWM %ld KiB (before %ld), runner VmHWM %ld KiB\n",
		self, self_before, runner_hwm);
	ck_assert_int_gt(runner_hwm, 0);
	ck_assert_int_lt(runner_hwm, 64 * 1024);
	ck_assert_int_lt(self, 64 * 1024);
	rclient_free(rc);
	ctx_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("transport");
	TCase *tl = tcase_create("local");
	tcase_set_timeout(tl, 120);
	tcase_add_test(tl, fingerprint_like_ssh_keygen);
	tcase_add_test(tl, local_many_jobs_on_one_connection);
	tcase_add_test(tl, local_binary_output_intact);
	tcase_add_test(tl, local_runner_killed_then_reattached);
	tcase_add_test(tl, local_timeout_kills_process_tree);
	tcase_add_test(tl, local_cancel);
	tcase_add_test(tl, local_secrets_masked_and_env_passed);
	tcase_add_test(tl, local_detach_attach_forget);
	tcase_add_test(tl, local_duplicate_job_id_refused);
	tcase_add_test(tl, local_spec_digest_guards_attach);
	tcase_add_test(tl, local_bad_ids_and_specs_refused);
	tcase_add_test(tl, local_hostile_runner_rejected);
	tcase_add_test(tl, local_missing_runner_named);
	suite_add_tcase(s, tl);

	TCase *ts = tcase_create("ssh");
	tcase_set_timeout(ts, 300);
	tcase_add_unchecked_fixture(ts, sshd_setup, sshd_teardown);
	tcase_add_test(ts, ssh_many_jobs_on_one_connection);
	tcase_add_test(ts, ssh_binary_output_intact);
	tcase_add_test(ts, ssh_connection_killed_then_reattached);
	tcase_add_test(ts, ssh_runner_killed_then_reattached);
	tcase_add_test(ts, ssh_timeout_kills_process_tree);
	tcase_add_test(ts, ssh_cancel);
	tcase_add_test(ts, ssh_wrong_host_key_refused_naming_both);
	tcase_add_test(ts, ssh_known_hosts_accepted);
	tcase_add_test(ts, ssh_auth_failure_named);
	tcase_add_test(ts, ssh_unreachable_named);
	tcase_add_test(ts, ssh_hostile_peer_rejected);
	if (!getenv("YB_SKIP_GIB"))
		tcase_add_test(ts, ssh_one_gib_streamed_in_bounded_memory);
	suite_add_tcase(s, ts);

	make_state_dir();
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (state_dir[0]) {
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", state_dir);
		if (system(cmd) != 0)
			failed++;
	}
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
