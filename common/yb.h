/*
 * yb.h: the conventions every Yoban file shares.
 *
 * Errors: a function returns 0 (or a non-negative count) on success and a negative YB_E* code
 * on failure; when it fails it writes a message for people into a caller-supplied struct yb_err
 * (which may be NULL when the caller does not want the words). Output parameters are set only on
 * success. Messages are lowercase, without a final period, name the subject in quotes and, when
 * there is one, the way out.
 *
 * Out of memory is not an error a caller handles: xmalloc and friends abort with a message.
 * A broken invariant is a BUG(), which aborts with file:line.
 */
#ifndef YB_H
#define YB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum yb_code {
	YB_OK = 0,
	YB_EINVAL = -1,    /* bad input: syntax, type, value */
	YB_ENOMEM = -2,    /* a capped buffer would grow past its cap */
	YB_EIO = -3,       /* a system call failed; msg has strerror */
	YB_ENOENT = -4,    /* a named thing does not exist */
	YB_EPROTO = -5,    /* a peer broke the wire protocol */
	YB_ETIMEDOUT = -6, /* a deadline passed */
	YB_ERANGE = -7,    /* a value outside its range, or no such instant */
	YB_EEXIST = -8,    /* already there */
	YB_EAGAIN = -9,    /* would block: call again when the fd is ready */
	YB_EPERM = -10,    /* refused: permission, host key, role */
	YB_EDB = -11,      /* PostgreSQL said no */
	YB_ESSH = -12,     /* libssh2 said no */
	YB_ECLOSED = -13,  /* the peer closed the connection */
};

#define YB_ERR_MSG_MAX 1024

struct yb_err {
	int code;
	char msg[YB_ERR_MSG_MAX];
};

/* Writes a formatted message into err (if not NULL) and returns code, so that callers can write
 * `return yb_err_set(err, YB_EINVAL, "bad '%s'", s);`. */
int yb_err_set(struct yb_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefixes the message already in err with a formatted context ("loading 'x': ..."). */
int yb_err_prefix(struct yb_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void yb_err_clear(struct yb_err *err);
/* A short name for a code: "invalid input", "i/o error", ... */
const char *yb_code_name(int code);

/* Allocation that never returns NULL: on exhaustion it prints and aborts. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A broken invariant: prints file:line and the message, then aborts. */
#define BUG(...) yb_bug(__FILE__, __LINE__, __VA_ARGS__)
#define BUG_ON(cond) do { if (cond) BUG("%s", #cond); } while (0)
_Noreturn void yb_bug(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define YB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Clocks: monotonic for timeouts and durations, wall for schedules. */
int64_t yb_mono_ms(void);
int64_t yb_mono_ns(void);
int64_t yb_wall_us(void);

/* Parses "90s", "30m", "2h", "7d", "1500ms" (also "1h30m") into milliseconds. */
int yb_parse_duration_ms(const char *text, int64_t *out_ms, struct yb_err *err);
/* Formats milliseconds the way a runbook would write them ("2h", "1h30m", "90s"). */
void yb_format_duration(int64_t ms, char *out, size_t out_size);

/* Reads a whole file, at most max_bytes; YB_ENOMEM if larger. The result is NUL-terminated. */
int yb_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len, struct yb_err *err);
/* Reads a whole regular file, at most max_bytes, without ever blocking on what the path names:
 * opened with O_NONBLOCK (and O_NOFOLLOW with YB_READ_NOFOLLOW), then fstat. Anything but a
 * regular file (a FIFO, a device, a socket, a folder) is YB_EINVAL with a message naming the
 * file and the rule; larger than max_bytes is YB_ENOMEM; a symbolic link with YB_READ_NOFOLLOW
 * is YB_EPERM. Every file Yoban reads from a site (runbooks, site files, procedure documents,
 * secrets) goes through here. The result is NUL-terminated. */
#define YB_READ_NOFOLLOW 1u
/* ...and, with YB_READ_PRIVATE, a file owned by anyone but root or the effective user, or with
 * any permission for group or others, is YB_EPERM (for secrets and keys). */
#define YB_READ_PRIVATE 2u
int yb_read_regular(const char *path, size_t max_bytes, unsigned flags, char **out,
		    size_t *out_len, struct yb_err *err);
/* "a regular file", "a folder", "a FIFO", "a socket", ... for a stat mode. */
const char *yb_file_type_name(unsigned mode);
/* Writes a file atomically: temp file in the same folder, fsync, rename, fsync of the folder. */
int yb_write_file_atomic(const char *path, const void *data, size_t len, int mode, struct yb_err *err);

#endif
