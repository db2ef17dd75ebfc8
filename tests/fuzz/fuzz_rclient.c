/*
 * fuzz_rclient.c: whatever a runner (or something pretending to be one) sends, the client either
 * follows it or fails with YB_EPROTO: never a crash, a leak, or output delivered twice. The input
 * is the byte stream from the "runner", cut into reads at every 0xFF byte of a short prefix, fed
 * through a transport whose operations read from the fuzz input. Two jobs are in flight (one
 * started, one attached at offset 5) so OUTPUT, EXIT, ACK and ERROR frames all find a job.
 */
#include "rclient.h"
#include "transport.h"
#include "wire.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

struct feed {
	const uint8_t *data;
	size_t len, pos;
};

static struct feed feed;
static uint64_t delivered[2];

static int f_connect(struct transport *t, struct yb_err *err) { return 0; }
static short f_events(const struct transport *t, bool want_write) { return POLLIN; }
static int f_timeout(const struct transport *t) { return -1; }
static int f_tick(struct transport *t, struct yb_err *err) { return 0; }
static void f_close(struct transport *t) { t->fd = -1; }
static void f_free(struct transport *t) { }

static long f_read(struct transport *t, void *buf, size_t cap, struct yb_err *err)
{
	if (feed.pos >= feed.len)
		return yb_err_set(err, YB_ECLOSED, "end of input");
	size_t n = feed.len - feed.pos;
	if (n > cap)
		n = cap;
	if (n > 777)
		n = 777; /* frames cut across reads */
	memcpy(buf, feed.data + feed.pos, n);
	feed.pos += n;
	return (long)n;
}

static long f_write(struct transport *t, const void *buf, size_t len, struct yb_err *err)
{
	return (long)len;
}

static const struct transport_ops fuzz_ops = {
	.connect_step = f_connect, .events = f_events, .timeout_ms = f_timeout, .tick = f_tick,
	.read = f_read, .write = f_write, .close = f_close, .free = f_free,
};

static void on_output(void *ctx, const char *job, int stream, uint64_t offset, const void *data,
		      size_t len)
{
	int i = !strcmp(job, "b");
	if (offset != delivered[i])
		abort(); /* a gap or a repeat got through */
	delivered[i] += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a valid HELLO first, so that the interesting frames are reached */
	static const uint8_t hello[] = { 0, 0, 0, 12, WIRE_HELLO, '{', '"', 'p', 'r', 'o', 't', 'o', '"',
					 ':', '1', '}' };
	uint8_t *buf = malloc(sizeof(hello) + size + 1);
	memcpy(buf, hello, sizeof(hello));
	if (size)
		memcpy(buf + sizeof(hello), data, size);
	feed = (struct feed){ .data = buf, .len = sizeof(hello) + size };
	delivered[0] = 0;
	delivered[1] = 5;

	struct transport *t = calloc(1, sizeof(*t));
	t->ops = &fuzz_ops;
	t->fd = 0;
	t->target.name = "fuzz";
	strcpy(t->describe, "'fuzz'");
	struct rclient_callbacks cb = { .output = on_output };
	struct rclient_options o = { .max_attempts = 1 };
	struct rclient *rc = rclient_new(t, &cb, NULL, &o);
	struct yb_json *spec = yb_json_object();
	yb_json_set(spec, "shell", yb_json_str("true"));
	rclient_start(rc, "a", spec, NULL);
	rclient_attach(rc, "b", 5, NULL);
	yb_json_free(spec);
	for (int i = 0; i < 64 && rclient_state(rc) != RC_FAILED && feed.pos < feed.len; i++)
		rclient_step(rc, POLLIN, NULL);
	rclient_free(rc); /* frees t through its ops */
	free(buf);
	return 0;
}
