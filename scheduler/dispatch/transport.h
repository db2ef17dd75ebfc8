/*
 * transport.h: a byte stream to one yoban-runner, opened without blocking.
 *
 * A transport carries the wire protocol (common/wire.h) and nothing else: it does not parse
 * frames. Two kinds share one interface:
 *   local  spawns `yoban-runner serve [--state-dir DIR]` as a child over a socketpair;
 *   ssh    one libssh2 session to the host (scheduler/dispatch/transport_ssh.c, over the
 *          libssh2 wrapper common/ssh.c), public-key authentication, the host key checked against the
 *          pinned SHA-256 fingerprint or a known_hosts file, then one channel exec'ing the runner.
 *
 * Everything is driven by the caller's poll loop: transport_fd() and transport_events() say what
 * to wait for, transport_connect_step() advances the connection (returns YB_EAGAIN until it is
 * open), transport_read()/transport_write() move bytes and return YB_EAGAIN instead of blocking.
 * After an error or transport_close() the same transport can connect again (a new session).
 *
 * Errors that retrying cannot fix (host key unknown or mismatched, authentication refused, bad
 * target) are returned as YB_EPERM or YB_EINVAL; everything else (refused, reset, timed out,
 * closed) is worth a reconnect.
 */
#ifndef YB_TRANSPORT_H
#define YB_TRANSPORT_H

#include "yb.h"

enum transport_kind { TRANSPORT_LOCAL = 1, TRANSPORT_SSH = 2 };

/* Everything one connection needs, filled by the caller (the CLI from the inventory and the
 * site config). Strings are owned by the caller and must outlive the transport; NULL means
 * "the default". */
struct transport_target {
	const char *name;        /* the inventory's host name, for messages */
	enum transport_kind kind;
	const char *runner_path; /* the runner program; local default transport_default_runner(),
				  * ssh default "yoban-runner" (run as "PROG serve [--state-dir DIR]") */
	const char *state_dir;   /* --state-dir for the runner (local and ssh); NULL: runner default */
	/* ssh */
	const char *address;     /* host name or IP address */
	int port;                /* 0: 22 */
	const char *user;        /* NULL: the current user's name */
	const char *host_key;    /* "SHA256:<base64 without padding>" as `ssh-keygen -lf` prints */
	const char *known_hosts; /* an OpenSSH known_hosts file, used when host_key is NULL */
	const char *key_path;    /* private key (OpenSSH format; ed25519, ecdsa or rsa) */
	const char *key_passphrase;
	const char *remote_command; /* the whole exec'd line, overriding runner_path and state_dir */
	int connect_timeout_ms;  /* 0: 10 s, for the TCP connect and the SSH handshake together */
	int keepalive_s;         /* 0: 15 s; SSH keepalive interval */
};

struct transport;

/* Makes a transport for target (no I/O yet). YB_EINVAL if the target is incomplete. */
int transport_new(const struct transport_target *target, struct transport **out, struct yb_err *err);
void transport_free(struct transport *t);

/* Advances the connection. 0: open (bytes can flow); YB_EAGAIN: wait for transport_fd() with
 * transport_events() (or transport_timeout_ms()) and call again; <0: failed (err says why). */
int transport_connect_step(struct transport *t, struct yb_err *err);
bool transport_is_open(const struct transport *t);

/* The descriptor to poll (-1 when there is none) and the poll events wanted now. want_write is
 * whether the caller has bytes waiting to be written. */
int transport_fd(const struct transport *t);
short transport_events(const struct transport *t, bool want_write);
/* Milliseconds until the transport needs a call even without I/O (connect deadline, keepalive);
 * -1: none. */
int transport_timeout_ms(const struct transport *t);
/* Periodic duties (SSH keepalive, connect deadline); call when transport_timeout_ms() expires or
 * after each poll. <0 on a dead connection. */
int transport_tick(struct transport *t, struct yb_err *err);

/* Reads up to cap bytes: >0 bytes read; YB_EAGAIN nothing now; YB_ECLOSED the peer closed;
 * other <0: an error. */
long transport_read(struct transport *t, void *buf, size_t cap, struct yb_err *err);
/* Writes up to len bytes: >=0 bytes taken (possibly fewer than len); YB_EAGAIN; <0 an error. */
long transport_write(struct transport *t, const void *buf, size_t len, struct yb_err *err);

/* Drops the connection (the runner's jobs live on); the transport can connect again. */
void transport_close(struct transport *t);

/* A line about the far end for messages: "'batch-01' (ssh yoban@10.0.0.1:22)". */
const char *transport_describe(const struct transport *t);
/* The last words the runner (or the remote shell) wrote on stderr, for error messages; "" if none. */
const char *transport_stderr_tail(const struct transport *t);
/* The local runner's pid (0 when none or not local): tests and benchmarks measure it. */
int transport_local_pid(const struct transport *t);

/* Where the local transport finds yoban-runner: $YOBAN_RUNNER, else beside /proc/self/exe, else
 * "yoban-runner" (searched in PATH). The result is static storage. */
const char *transport_default_runner(void);

/* SSH host key fingerprint of a raw key blob: "SHA256:" + base64 without padding. */
void transport_fingerprint(const void *key, size_t len, char *out, size_t out_size);

/* Private to the transport files: the per-kind operations. */
struct transport_ops {
	int (*connect_step)(struct transport *t, struct yb_err *err);
	short (*events)(const struct transport *t, bool want_write);
	int (*timeout_ms)(const struct transport *t);
	int (*tick)(struct transport *t, struct yb_err *err);
	long (*read)(struct transport *t, void *buf, size_t cap, struct yb_err *err);
	long (*write)(struct transport *t, const void *buf, size_t len, struct yb_err *err);
	void (*close)(struct transport *t);
	void (*free)(struct transport *t);
};

#define TRANSPORT_STDERR_TAIL 2048

struct transport {
	const struct transport_ops *ops;
	struct transport_target target;
	int fd;
	bool open;
	char describe[256];
	char stderr_tail[TRANSPORT_STDERR_TAIL];
	int local_pid;
	void *impl;
};

void transport_note_stderr(struct transport *t, const char *data, size_t len);
int transport_local_init(struct transport *t, struct yb_err *err);
int transport_ssh_init(struct transport *t, struct yb_err *err);

#endif
