/*
 * transport.c: the kind-independent half of a transport (see transport.h): construction,
 * dispatch to the local or ssh operations, the stderr tail kept for error messages, and the
 * host key fingerprint in the form `ssh-keygen -lf` prints, so an operator can compare the two.
 */
#include "transport.h"

#include "digest.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int transport_new(const struct transport_target *target, struct transport **out, struct yb_err *err)
{
	struct transport *t = xcalloc(1, sizeof(*t));
	int rc;

	t->target = *target;
	t->fd = -1;
	if (!t->target.name)
		t->target.name = t->target.address ? t->target.address : "local";
	switch (target->kind) {
	case TRANSPORT_LOCAL:
		rc = transport_local_init(t, err);
		break;
	case TRANSPORT_SSH:
		rc = transport_ssh_init(t, err);
		break;
	default:
		rc = yb_err_set(err, YB_EINVAL, "host '%s': unknown transport (use 'local' or 'ssh')",
				t->target.name);
	}
	if (rc < 0) {
		free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void transport_free(struct transport *t)
{
	if (!t)
		return;
	t->ops->close(t);
	t->ops->free(t);
	free(t);
}

int transport_connect_step(struct transport *t, struct yb_err *err)
{
	if (t->open)
		return 0;
	int rc = t->ops->connect_step(t, err);
	if (rc == 0)
		t->open = true;
	return rc;
}

bool transport_is_open(const struct transport *t)
{
	return t->open;
}

int transport_fd(const struct transport *t)
{
	return t->fd;
}

short transport_events(const struct transport *t, bool want_write)
{
	if (t->fd < 0)
		return 0;
	return t->ops->events(t, want_write);
}

int transport_timeout_ms(const struct transport *t)
{
	return t->ops->timeout_ms(t);
}

int transport_tick(struct transport *t, struct yb_err *err)
{
	return t->ops->tick(t, err);
}

long transport_read(struct transport *t, void *buf, size_t cap, struct yb_err *err)
{
	if (!t->open)
		return yb_err_set(err, YB_ECLOSED, "%s: not connected", t->describe);
	return t->ops->read(t, buf, cap, err);
}

long transport_write(struct transport *t, const void *buf, size_t len, struct yb_err *err)
{
	if (!t->open)
		return yb_err_set(err, YB_ECLOSED, "%s: not connected", t->describe);
	return t->ops->write(t, buf, len, err);
}

void transport_close(struct transport *t)
{
	t->ops->close(t);
	t->open = false;
}

const char *transport_describe(const struct transport *t)
{
	return t->describe;
}

const char *transport_stderr_tail(const struct transport *t)
{
	return t->stderr_tail;
}

int transport_local_pid(const struct transport *t)
{
	return t->local_pid;
}

/* Keeps the last TRANSPORT_STDERR_TAIL-1 bytes, printable only, without trailing newlines. */
void transport_note_stderr(struct transport *t, const char *data, size_t len)
{
	size_t have = strlen(t->stderr_tail);
	size_t room = TRANSPORT_STDERR_TAIL - 1;
	if (len >= room) {
		data += len - room;
		len = room;
		have = 0;
	} else if (have + len > room) {
		size_t drop = have + len - room;
		memmove(t->stderr_tail, t->stderr_tail + drop, have - drop);
		have -= drop;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];
		t->stderr_tail[have++] = (c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f)) ? (char)c : '?';
	}
	while (have > 0 && t->stderr_tail[have - 1] == '\n')
		have--;
	t->stderr_tail[have] = '\0';
}

const char *transport_default_runner(void)
{
	static char path[4096];
	const char *env = getenv("YOBAN_RUNNER");
	if (env && *env)
		return env;
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n > 0) {
		path[n] = '\0';
		char *slash = strrchr(path, '/');
		if (slash && (size_t)(slash - path) + sizeof("/yoban-runner") <= sizeof(path)) {
			strcpy(slash, "/yoban-runner");
			if (access(path, X_OK) == 0)
				return path;
		}
	}
	return "yoban-runner";
}

void transport_fingerprint(const void *key, size_t len, char *out, size_t out_size)
{
	unsigned char digest[YB_SHA256_LEN];
	char b64[64];
	yb_sha256(key, len, digest);
	yb_base64_nopad(digest, sizeof(digest), b64, sizeof(b64));
	snprintf(out, out_size, "SHA256:%s", b64);
}
