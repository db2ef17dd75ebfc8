/*
 * proctree.c: finding a job's processes in /proc and ending them (proctree.h).
 *
 * The one idea: find, then pin, then check, then signal. A pid read from /proc names a process
 * only for as long as that process lives, so each one is pinned with a pidfd first and looked at
 * again (its parent, or its environment) while pinned; the signal goes through the pidfd, which
 * can only reach the process it was opened on. Without pidfds (kernels before 5.3) kill() is used
 * after the same check, which leaves a window of microseconds.
 */
#define _GNU_SOURCE
#include "proctree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define STAT_MAX 1024
#define ENVIRON_MAX (8u << 20) /* more than any execve can pass */
#define DESCENDANT_WALKS_MAX 16 /* a tree still changing after that is ended in the next round */

struct pstat {
	pid_t pid, ppid, pgid;
	char state;
	char comm[16];
};

struct pidset {
	pid_t *v;
	size_t n, cap;
};

static void pidset_add(struct pidset *s, pid_t p)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = xrealloc(s->v, s->cap * sizeof(pid_t));
	}
	s->v[s->n++] = p;
}

static bool pidset_has(const struct pidset *s, pid_t p)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == p)
			return true;
	return false;
}

static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n;
	do
		n = read(fd, buf, cap - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses. */
static int read_stat(pid_t pid, struct pstat *out)
{
	char path[64], buf[STAT_MAX];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return -1;
	char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren || close_paren < open_paren)
		return -1;
	struct pstat st = { .pid = pid };
	size_t len = (size_t)(close_paren - open_paren - 1);
	if (len >= sizeof(st.comm))
		len = sizeof(st.comm) - 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)open_paren[1 + i];
		st.comm[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	int ppid = 0, pgid = 0;
	if (sscanf(close_paren + 1, " %c %d %d", &st.state, &ppid, &pgid) != 3)
		return -1;
	st.ppid = ppid;
	st.pgid = pgid;
	*out = st;
	return 0;
}

static bool is_pid_name(const char *name)
{
	if (!*name)
		return false;
	for (const char *p = name; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

static void log_add(struct proctree_log *log, const struct pstat *st)
{
	if (!log)
		return;
	/* signalled again: the name it has now is the one it ended under (a process that was
	 * SIGTERMed as "setsid" and SIGKILLed after its exec is logged as the program it ran) */
	for (size_t i = 0; i < log->n_kept; i++)
		if (log->kept[i].pid == st->pid)
			snprintf(log->kept[i].comm, sizeof(log->kept[0].comm), "%s", st->comm);
	for (size_t i = 0; i < log->n_seen; i++)
		if (log->seen[i] == st->pid)
			return;
	if (log->n_seen < PROCTREE_SEEN_MAX)
		log->seen[log->n_seen++] = st->pid;
	log->n++;
	if (log->n_kept < PROCTREE_LOG_MAX) {
		log->kept[log->n_kept].pid = st->pid;
		snprintf(log->kept[log->n_kept].comm, sizeof(log->kept[0].comm), "%s", st->comm);
		log->n_kept++;
	}
}

/* Pins pid, checks it with check(pid, ctx) while pinned, and signals it (unless it is in group
 * skip_pgid, or sig is 0). 1 if it was there and passed the check. */
static int pin_check_signal(pid_t pid, int sig, pid_t skip_pgid,
			    bool (*check)(pid_t, struct pstat *, void *), void *ctx,
			    struct proctree_log *log)
{
	int fd = pidfd_open(pid, 0);
	if (fd < 0 && errno != ENOSYS)
		return 0; /* gone */
	struct pstat st;
	int done = 0;
	if (read_stat(pid, &st) == 0 && st.state != 'Z' && check(pid, &st, ctx)) {
		bool quiet = sig == 0 || (skip_pgid > 0 && st.pgid == skip_pgid);
		int rc = quiet ? 0 : fd >= 0 ? pidfd_send_signal(fd, sig, NULL, 0) : kill(pid, sig);
		if (rc == 0) {
			log_add(log, &st);
			done = 1;
		}
	}
	if (fd >= 0)
		close(fd);
	return done;
}

/* ---- descendants ---- */

/* Appends the children of pid, as its tasks' children files list them; -1 if the kernel has no
 * such files (CONFIG_PROC_CHILDREN), 0 otherwise (a process gone meanwhile has none). */
static int children_of(pid_t pid, struct pidset *out)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!is_pid_name(e->d_name))
			continue;
		char *file = xasprintf("/proc/%d/task/%s/children", (int)pid, e->d_name);
		int fd = open(file, O_RDONLY | O_CLOEXEC);
		free(file);
		if (fd < 0) {
			if (errno == ENOENT && pid == getpid())
				rc = -1;
			continue;
		}
		/* "pid pid pid " */
		char buf[4096], num[16];
		size_t num_len = 0;
		ssize_t n;
		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			for (ssize_t i = 0; i < n; i++) {
				if (buf[i] >= '0' && buf[i] <= '9' && num_len < sizeof(num) - 1) {
					num[num_len++] = buf[i];
				} else if (num_len) {
					num[num_len] = '\0';
					pidset_add(out, (pid_t)atoi(num));
					num_len = 0;
				}
			}
		}
		if (num_len) {
			num[num_len] = '\0';
			pidset_add(out, (pid_t)atoi(num));
		}
		close(fd);
	}
	closedir(d);
	return rc;
}

/* Every process whose ancestry leads to root, from all of /proc. */
static void descendants_by_scan(pid_t root, struct pidset *out)
{
	struct pidset pids = { 0 }, parents = { 0 };
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		struct pstat st;
		if (is_pid_name(e->d_name) && read_stat((pid_t)atoi(e->d_name), &st) == 0) {
			pidset_add(&pids, st.pid);
			pidset_add(&parents, st.ppid);
		}
	}
	if (d)
		closedir(d);
	/* out grows until no process has its parent in it (or is root's child) */
	bool grew = true;
	while (grew) {
		grew = false;
		for (size_t i = 0; i < pids.n; i++) {
			if (pids.v[i] == 0 || !(parents.v[i] == root || pidset_has(out, parents.v[i])))
				continue;
			pidset_add(out, pids.v[i]);
			pids.v[i] = 0; /* taken */
			grew = true;
		}
	}
	free(pids.v);
	free(parents.v);
}

/* One walk down from us, breadth first; adds to out the pids it had not found before and
 * returns how many; -1 if the kernel has no children files. */
static int walk_once(pid_t self, struct pidset *out)
{
	struct pidset pass = { 0 };
	int added = 0;
	if (children_of(self, &pass) < 0) {
		free(pass.v);
		return -1;
	}
	for (size_t i = 0; i < pass.n; i++) /* pass grows as we go */
		children_of(pass.v[i], &pass);
	for (size_t i = 0; i < pass.n; i++) {
		if (!pidset_has(out, pass.v[i])) {
			pidset_add(out, pass.v[i]);
			added++;
		}
	}
	free(pass.v);
	return added;
}

/* A process whose parent exits while we walk is moved to us (the subreaper) meanwhile: if we
 * read our own children before it came and its old parent's after it left, one walk misses it
 * (a daemonising double fork, a setsid'd child of a shell being killed). Its old parent was seen,
 * so by the time that walk ends it is already ours: walks are repeated until one finds nothing
 * new. A process seen by two walks is in out once, so it is signalled once. */
static void descendants(struct pidset *out)
{
	pid_t self = getpid();
	for (int pass = 0; pass < DESCENDANT_WALKS_MAX; pass++) {
		int added = walk_once(self, out);
		if (added < 0) {
			out->n = 0;
			descendants_by_scan(self, out);
			return;
		}
		if (added == 0)
			return;
	}
}

/* While pinned: its parent is us or one of the descendants found. */
static bool still_descendant(pid_t pid, struct pstat *st, void *ctx)
{
	(void)pid;
	return st->ppid == getpid() || pidset_has(ctx, st->ppid);
}

int proctree_signal_descendants(int sig, pid_t skip_pgid, struct proctree_log *log)
{
	struct pidset found = { 0 };
	int n = 0;
	descendants(&found);
	for (size_t i = 0; i < found.n; i++)
		n += pin_check_signal(found.v[i], sig, skip_pgid, still_descendant, &found, log);
	free(found.v);
	return n;
}

struct group_ctx {
	struct pidset *found;
	pid_t pgid;
};

/* While pinned: a descendant, and in the group. */
static bool in_group(pid_t pid, struct pstat *st, void *ctx)
{
	struct group_ctx *g = ctx;
	return st->pgid == g->pgid && still_descendant(pid, st, g->found);
}

int proctree_log_group(pid_t pgid, struct proctree_log *log)
{
	struct pidset found = { 0 };
	int n = 0;
	descendants(&found);
	struct group_ctx g = { &found, pgid };
	for (size_t i = 0; i < found.n; i++)
		n += pin_check_signal(found.v[i], 0, 0, in_group, &g, log);
	free(found.v);
	return n;
}

/* ---- marked processes ---- */

char *proctree_marker(const char *state_dir, const char *job)
{
	return xasprintf(PROCTREE_MARKER "=%s:%s", job, state_dir);
}

/* While pinned: ours, and its environment holds the marker (one NUL-separated entry). */
static bool has_marker(pid_t pid, struct pstat *st, void *ctx)
{
	const char *marker = ctx;
	char path[64];
	struct stat sb;
	(void)st;
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (stat(path, &sb) < 0 || sb.st_uid != getuid())
		return false;
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	size_t cap = 64u << 10, len = 0;
	char *buf = xmalloc(cap + 1);
	ssize_t n;
	while ((n = read(fd, buf + len, cap - len)) > 0) {
		len += (size_t)n;
		if (len == cap && cap < ENVIRON_MAX) {
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		} else if (len == cap) {
			break;
		}
	}
	close(fd);
	buf[len] = '\0';
	bool found = false;
	size_t mlen = strlen(marker);
	for (size_t i = 0; i < len && !found; i += strlen(buf + i) + 1)
		found = strlen(buf + i) == mlen && !memcmp(buf + i, marker, mlen);
	free(buf);
	return found;
}

int proctree_signal_marked(const char *marker, int sig, struct proctree_log *log)
{
	int n = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		pid_t pid = is_pid_name(e->d_name) ? (pid_t)atoi(e->d_name) : 0;
		if (pid > 0 && pid != getpid())
			n += pin_check_signal(pid, sig, 0, has_marker, (void *)marker, log);
	}
	if (d)
		closedir(d);
	return n;
}
