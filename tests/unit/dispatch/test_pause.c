/*
 * test_pause.c: rclient_pause, the back-pressure yoband applies when it cannot store output as
 * fast as it comes. Against the real yoban-runner over the local transport: a job printing 8 MiB
 * is paused from inside the output callback after its first chunk; while paused nothing more is
 * delivered, the socket is not polled for input, and the job still ends on the runner (its output
 * waits in the spool); a paused connection is not dropped for its silence; once resumed, every
 * byte arrives once and in order, then the exit.
 */
#include "buf.h"
#include "digest.h"
#include "json.h"
#include "rclient.h"
#include "transport.h"
#include "wire.h"

#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RUNNER YB_BIN_DIR "/yoban-runner"
#define BYTES (8u << 20)

static char state_dir[256];

struct pctx {
	struct rclient *rc;
	bool pause_on_first;
	int chunks;
	uint64_t bytes, next;
	bool in_order;
	struct yb_sha256 h;
	bool exited, failed;
	struct rclient_exit ex;
};

static void cb_output(void *ctx, const char *job, int stream, uint64_t offset, const void *data,
		      size_t len)
{
	struct pctx *p = ctx;
	(void)job;
	(void)stream;
	p->in_order &= offset == p->next;
	p->next = offset + len;
	p->bytes += len;
	p->chunks++;
	yb_sha256_update(&p->h, data, len);
	if (p->pause_on_first) {
		p->pause_on_first = false;
		rclient_pause(p->rc, true);
	}
}

static void cb_exit(void *ctx, const char *job, const struct rclient_exit *ex)
{
	struct pctx *p = ctx;
	(void)job;
	p->exited = true;
	p->ex = *ex;
}

static void cb_job_error(void *ctx, const char *job, const char *code, const char *message)
{
	struct pctx *p = ctx;
	fprintf(stderr, "job %s refused: %s: %s\n", job, code, message);
	p->failed = true;
}

static const struct rclient_callbacks callbacks = {
	.output = cb_output, .exit = cb_exit, .job_error = cb_job_error,
};

/* Steps the client for ms milliseconds (or until the exit when until_exit). */
static void drive(struct pctx *p, int ms, bool until_exit)
{
	struct yb_err err = { 0 };
	int64_t end = yb_mono_ms() + ms;
	while (yb_mono_ms() < end && !(until_exit && (p->exited || p->failed))) {
		ck_assert_msg(rclient_wait(p->rc, 100, &err) == 0, "client failed: %s", err.msg);
		ck_assert_int_ne(rclient_state(p->rc), RC_FAILED);
	}
}

START_TEST(paused_connection_delivers_nothing_then_everything)
{
	struct pctx p = { .pause_on_first = true, .in_order = true };
	yb_sha256_init(&p.h);
	struct transport_target target = { .name = "local", .kind = TRANSPORT_LOCAL,
					   .runner_path = RUNNER, .state_dir = state_dir };
	struct transport *t = NULL;
	struct yb_err err = { 0 };
	ck_assert_msg(transport_new(&target, &t, &err) == 0, "transport_new: %s", err.msg);
	/* a short ping interval: a paused connection silent for 3 intervals must not be dropped */
	struct rclient_options o = { .max_attempts = 3, .ping_interval_ms = 300 };
	p.rc = rclient_new(t, &callbacks, &p, &o);

	/* 8 MiB of bytes that do not compress, known in advance (a file the job prints) */
	char file[300];
	snprintf(file, sizeof(file), "%s/data.bin", state_dir);
	char *data = malloc(BYTES);
	yb_random_bytes(data, BYTES);
	FILE *f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, BYTES, f), BYTES);
	fclose(f);
	struct yb_sha256 want;
	yb_sha256_init(&want);
	yb_sha256_update(&want, data, BYTES);
	free(data);

	struct yb_json *spec = yb_json_object(), *argv = yb_json_array();
	yb_json_push(argv, yb_json_str("/bin/cat"));
	yb_json_push(argv, yb_json_str(file));
	yb_json_set(spec, "argv", argv);
	char id[64];
	snprintf(id, sizeof(id), "pause-%d", (int)getpid());
	ck_assert_msg(rclient_start(p.rc, id, spec, &err) == 0, "start: %s", err.msg);
	yb_json_free(spec);

	int64_t deadline = yb_mono_ms() + 30000;
	while (!p.chunks && yb_mono_ms() < deadline)
		drive(&p, 100, false);
	ck_assert_int_eq(p.chunks, 1);
	ck_assert(rclient_paused(p.rc));

	/* paused: the socket is not polled for input, and nothing more comes for 1.5 s (more than
	 * the three ping intervals after which a silent connection is dropped) */
	int fd, tmo;
	short ev;
	rclient_poll(p.rc, &fd, &ev, &tmo);
	ck_assert_int_eq(ev & POLLIN, 0);
	drive(&p, 1500, false);
	ck_assert_int_eq(p.chunks, 1);
	ck_assert(!p.exited);
	ck_assert_int_eq(rclient_connections(p.rc), 1);

	/* resumed: the rest, in order, each byte once, then the exit */
	rclient_pause(p.rc, false);
	ck_assert(!rclient_paused(p.rc));
	drive(&p, 60000, true);
	ck_assert(!p.failed);
	ck_assert(p.exited);
	ck_assert(p.in_order);
	ck_assert_uint_eq(p.bytes, BYTES);
	ck_assert_int_eq(rclient_connections(p.rc), 1);
	unsigned char got[YB_SHA256_LEN], exp[YB_SHA256_LEN];
	char exp_hex[2 * YB_SHA256_LEN + 1];
	yb_sha256_final(&p.h, got);
	yb_sha256_final(&want, exp);
	ck_assert(memcmp(got, exp, sizeof(got)) == 0);
	yb_hex(exp, sizeof(exp), exp_hex);
	ck_assert_str_eq(p.ex.stdout_sha256, exp_hex);
	ck_assert(p.ex.has_status && p.ex.status == 0);
	rclient_free(p.rc);
}
END_TEST

int main(void)
{
	snprintf(state_dir, sizeof(state_dir), "/tmp/yb-pause-state.XXXXXX");
	if (!mkdtemp(state_dir)) {
		perror("test_pause: mkdtemp");
		return 1;
	}
	Suite *s = suite_create("rclient_pause");
	TCase *tc = tcase_create("local");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, paused_connection_delivers_nothing_then_everything);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", state_dir);
	if (system(cmd) != 0)
		failed++;
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
