/*
 * util.c: errors, allocation, clocks, durations and whole-file I/O: the small things every other
 * file leans on (see yb.h for the conventions).
 */
#define _GNU_SOURCE
#include "yb.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int yb_err_set(struct yb_err *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		err->code = code;
	}
	return code;
}

int yb_err_prefix(struct yb_err *err, const char *fmt, ...)
{
	if (!err)
		return YB_EINVAL;
	char head[YB_ERR_MSG_MAX], old[YB_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	size_t n = strlen(head);
	if (n > sizeof(err->msg) - 3)
		n = sizeof(err->msg) - 3;
	memcpy(err->msg, head, n);
	memcpy(err->msg + n, ": ", 2);
	size_t room = sizeof(err->msg) - n - 2;
	size_t old_len = strnlen(old, room - 1);
	memcpy(err->msg + n + 2, old, old_len);
	err->msg[n + 2 + old_len] = '\0';
	return err->code;
}

void yb_err_clear(struct yb_err *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}

const char *yb_code_name(int code)
{
	switch (code) {
	case YB_OK: return "ok";
	case YB_EINVAL: return "invalid input";
	case YB_ENOMEM: return "too large";
	case YB_EIO: return "i/o error";
	case YB_ENOENT: return "not found";
	case YB_EPROTO: return "protocol error";
	case YB_ETIMEDOUT: return "timed out";
	case YB_ERANGE: return "out of range";
	case YB_EEXIST: return "already exists";
	case YB_EAGAIN: return "try again";
	case YB_EPERM: return "refused";
	case YB_EDB: return "database error";
	case YB_ESSH: return "ssh error";
	case YB_ECLOSED: return "connection closed";
	}
	return "unknown error";
}

static _Noreturn void oom(size_t n)
{
	fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		oom(strlen(s));
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (!p)
		oom(n);
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom(0);
	return s;
}

_Noreturn void yb_bug(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "BUG at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

int64_t yb_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t yb_mono_ms(void) { return yb_mono_ns() / 1000000; }

int64_t yb_wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int yb_parse_duration_ms(const char *text, int64_t *out_ms, struct yb_err *err)
{
	const char *p = text;
	int64_t total = 0;
	int parts = 0;

	if (!p || !*p)
		return yb_err_set(err, YB_EINVAL, "empty duration (write it like '90s', '30m', '2h', '7d')");
	while (*p) {
		if (*p < '0' || *p > '9')
			goto bad;
		int64_t n = 0;
		while (*p >= '0' && *p <= '9') {
			if (n > INT64_MAX / 10 - 10)
				return yb_err_set(err, YB_ERANGE, "duration '%s' is too long", text);
			n = n * 10 + (*p++ - '0');
		}
		int64_t unit;
		if (p[0] == 'm' && p[1] == 's') {
			unit = 1;
			p += 2;
		} else {
			switch (*p) {
			case 's': unit = 1000; break;
			case 'm': unit = 60 * 1000; break;
			case 'h': unit = 3600 * 1000; break;
			case 'd': unit = 86400 * 1000; break;
			case 'w': unit = 7 * 86400 * 1000LL; break;
			default: goto bad;
			}
			p++;
		}
		if (n > (INT64_MAX / 4 - total) / unit)
			return yb_err_set(err, YB_ERANGE, "duration '%s' is too long", text);
		total += n * unit;
		parts++;
	}
	if (parts == 0)
		goto bad;
	*out_ms = total;
	return 0;
bad:
	return yb_err_set(err, YB_EINVAL,
			  "bad duration '%s' (write a number and a unit: '1500ms', '90s', '30m', '2h', '7d')",
			  text);
}

void yb_format_duration(int64_t ms, char *out, size_t out_size)
{
	static const struct { int64_t ms; const char *unit; } units[] = {
		{ 86400000, "d" }, { 3600000, "h" }, { 60000, "m" }, { 1000, "s" }, { 1, "ms" },
	};
	size_t used = 0;
	if (ms == 0) {
		snprintf(out, out_size, "0s");
		return;
	}
	out[0] = '\0';
	for (size_t i = 0; i < YB_ARRAY_LEN(units) && ms > 0; i++) {
		if (ms >= units[i].ms) {
			int n = snprintf(out + used, out_size > used ? out_size - used : 0, "%" PRId64 "%s",
					 ms / units[i].ms, units[i].unit);
			if (n > 0)
				used += (size_t)n;
			ms %= units[i].ms;
		}
	}
}

/* Reads fd to its end, at most max_bytes (one byte more proves the file too large). */
static int read_fd(int fd, const char *path, size_t max_bytes, char **out, size_t *out_len,
		   struct yb_err *err)
{
	/* Room for max_bytes + 1, so that reading one byte past the cap proves the file too large. */
	size_t limit = max_bytes + 1, cap = limit < 4096 ? limit : 4096, len = 0;
	char *data = xmalloc(cap + 1);
	int rc = 0;
	for (;;) {
		if (len == cap) {
			if (cap == limit)
				break;
			cap = cap > limit / 2 ? limit : cap * 2;
			data = xrealloc(data, cap + 1);
		}
		ssize_t n = read(fd, data + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = yb_err_set(err, YB_EIO, "cannot read '%s': %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max_bytes) {
		rc = yb_err_set(err, YB_ENOMEM, "'%s' is larger than %zu bytes", path, max_bytes);
		goto out;
	}
	data[len] = '\0';
	*out = data;
	if (out_len)
		*out_len = len;
	data = NULL;
out:
	free(data);
	return rc;
}

int yb_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len, struct yb_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return yb_err_set(err, errno == ENOENT ? YB_ENOENT : YB_EIO, "cannot open '%s': %s", path,
				  strerror(errno));
	int rc = read_fd(fd, path, max_bytes, out, out_len, err);
	close(fd);
	return rc;
}

const char *yb_file_type_name(unsigned mode)
{
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISDIR(mode))
		return "a folder";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISLNK(mode))
		return "a symbolic link";
	return "not a file";
}

int yb_read_regular(const char *path, size_t max_bytes, unsigned flags, char **out,
		    size_t *out_len, struct yb_err *err)
{
	/* O_NONBLOCK: opening a FIFO or a device never waits for a writer or a carrier; the type
	 * is then checked on what was opened (fstat), so it cannot change in between. */
	int oflags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	if (flags & YB_READ_NOFOLLOW)
		oflags |= O_NOFOLLOW;
	int fd = open(path, oflags);
	if (fd < 0) {
		int e = errno;
		if (e == ELOOP && (flags & YB_READ_NOFOLLOW))
			return yb_err_set(err, YB_EPERM, "'%s' is a symbolic link: Yoban reads only "
					  "regular files here, not links to them", path);
		return yb_err_set(err, e == ENOENT ? YB_ENOENT : e == EACCES ? YB_EPERM : YB_EIO,
				  "cannot open '%s': %s", path, strerror(e));
	}
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) < 0) {
		rc = yb_err_set(err, YB_EIO, "cannot examine '%s': %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = yb_err_set(err, YB_EINVAL, "'%s' is %s, not a regular file: Yoban reads only "
				"regular files", path, yb_file_type_name(st.st_mode));
		goto out;
	}
	if ((flags & YB_READ_PRIVATE) && st.st_uid != 0 && st.st_uid != geteuid()) {
		rc = yb_err_set(err, YB_EPERM, "'%s' is owned by uid %u: a private file must be owned by "
				"root or by the user reading it (uid %u)", path, (unsigned)st.st_uid,
				(unsigned)geteuid());
		goto out;
	}
	if ((flags & YB_READ_PRIVATE) && (st.st_mode & 077)) {
		rc = yb_err_set(err, YB_EPERM, "'%s' has mode %04o: a private file must give group and "
				"others no access (chmod 600)", path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if ((uint64_t)st.st_size > (uint64_t)max_bytes) {
		rc = yb_err_set(err, YB_ENOMEM, "'%s' is larger than %zu bytes", path, max_bytes);
		goto out;
	}
	rc = read_fd(fd, path, max_bytes, out, out_len, err);
out:
	close(fd);
	return rc;
}

int yb_write_file_atomic(const char *path, const void *data, size_t len, int mode, struct yb_err *err)
{
	char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	char *dir_copy = xstrdup(path);
	int rc = 0, fd = -1;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		rc = yb_err_set(err, YB_EIO, "cannot create '%s': %s", tmp, strerror(errno));
		goto out;
	}
	const char *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = yb_err_set(err, YB_EIO, "cannot write '%s': %s", tmp, strerror(errno));
			goto out;
		}
		p += n;
		left -= (size_t)n;
	}
	if (fsync(fd) < 0) {
		rc = yb_err_set(err, YB_EIO, "cannot fsync '%s': %s", tmp, strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = yb_err_set(err, YB_EIO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
		goto out;
	}
	int dfd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	free(dir_copy);
	return rc;
}
