/*
 * db_cluster.c: the embedded PostgreSQL cluster under the state folder (initdb, pg_ctl).
 *
 *   STATE/pg/              the data folder (owned by the server's OS user, 0700)
 *   STATE/pg/server.log    what the server says (pg_ctl -l)
 *   STATE/run/             the Unix socket (0755, socket 0777); no TCP at all
 *
 * One idea: whoever calls, the server runs as the OS user that owns STATE/pg. Run as root,
 * Yoban creates the cluster for an unprivileged system user ("yoban", made with useradd --system
 * when absent) because PostgreSQL refuses to run as root; run as anyone else, the cluster is
 * theirs. Every initdb and pg_ctl is a fork + exec with a fixed argv and a clean environment,
 * privileges dropped in the child: no shell of ours, no inherited descriptors.
 *
 * Authentication is "peer" over the socket with the map "yoban" (pg_ident.conf): the cluster's
 * creator and the server's OS user may log in as the superuser "postgres" and as the daemon's
 * login "yoband"; every other local user only as the role of their own name, never as those two
 * (Debian's OS user "postgres" is nobody special here). Run as root, the state folder must be one
 * root alone controls (db_state_dir_check). A `yoban db stop` is remembered in STATE/db-stopped
 * so that db_cluster_ensure_running (yoband) leaves the cluster stopped until `yoban db start`.
 * pg_ctl hands its -D and -l paths to /bin/sh inside double quotes, so the state folder is
 * limited to characters that are plain there.
 */
#define _GNU_SOURCE
#include "db_admin.h"

#include "buf.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OUTPUT_MAX (64u << 10)
#define DEFAULT_SERVER_USER "yoban"
#define SOCKET_NAME ".s.PGSQL.5432"

struct os_user {
	uid_t uid;
	gid_t gid;
	char name[64];
};

struct cluster {
	char *state_dir;
	char *pg_dir;
	char *run_dir;
	char *log_path;
	char bin_dir[512];
	struct os_user server; /* who runs initdb, pg_ctl and the server */
};

static bool path_is_plain(const char *path)
{
	for (const char *p = path; *p; p++) {
		char ch = *p;
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || strchr("/._-+@,:=~", ch);
		if (!ok)
			return false;
	}
	return *path == '/';
}

static bool name_is_plain(const char *name)
{
	if (!*name || strlen(name) > 32)
		return false;
	for (const char *p = name; *p; p++) {
		char ch = *p;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '-' || ch == '.'))
			return false;
	}
	return true;
}

static int lookup_user_name(const char *name, struct os_user *out, struct yb_err *err)
{
	struct passwd *pw = getpwnam(name);
	if (!pw)
		return yb_err_set(err, YB_ENOENT, "no OS user '%s'", name);
	out->uid = pw->pw_uid;
	out->gid = pw->pw_gid;
	snprintf(out->name, sizeof(out->name), "%s", pw->pw_name);
	return 0;
}

static int lookup_user_uid(uid_t uid, struct os_user *out, struct yb_err *err)
{
	struct passwd *pw = getpwuid(uid);
	if (!pw)
		return yb_err_set(err, YB_ENOENT, "uid %u has no name in the user database", (unsigned)uid);
	out->uid = pw->pw_uid;
	out->gid = pw->pw_gid;
	snprintf(out->name, sizeof(out->name), "%s", pw->pw_name);
	return 0;
}

/* In the child: become user (when we are root), leave no descriptor but 0, 1, 2. */
static void child_setup(const struct os_user *user, int out_fd)
{
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0 && devnull != 0) {
		dup2(devnull, 0);
		close(devnull);
	}
	if (out_fd >= 0) {
		dup2(out_fd, 1);
		dup2(out_fd, 2);
		if (out_fd > 2)
			close(out_fd);
	}
	if (close_range(3, ~0U, 0) != 0)
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
	if (geteuid() == 0 && user) {
		if (initgroups(user->name, user->gid) != 0 || setgid(user->gid) != 0 ||
		    setuid(user->uid) != 0) {
			fprintf(stderr, "cannot become OS user '%s': %s\n", user->name, strerror(errno));
			_exit(126);
		}
	}
	umask(077);
	if (chdir("/") != 0)
		_exit(126);
}

/* Runs argv[0] (an absolute path) as user with a clean environment; output (stdout and stderr)
 * goes to *output, capped. Returns the exit status (>= 0), or an error. */
static int run_as(const struct os_user *user, char *const argv[], struct yb_buf *output,
		  struct yb_err *err)
{
	static char *const env[] = { "PATH=/usr/bin:/bin:/usr/sbin:/sbin", "LC_ALL=C", "LANG=C",
				     "HOME=/", NULL };
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) != 0)
		return yb_err_set(err, YB_EIO, "pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return yb_err_set(err, YB_EIO, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		close(pipefd[0]);
		child_setup(user, pipefd[1]);
		execve(argv[0], argv, env);
		fprintf(stderr, "cannot run '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	char chunk[4096];
	for (;;) {
		ssize_t n = read(pipefd[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (output)
			yb_buf_append(output, chunk, (size_t)n); /* past the cap: dropped */
	}
	close(pipefd[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return yb_err_set(err, YB_EIO, "waitpid: %s", strerror(errno));
	if (WIFSIGNALED(status))
		return yb_err_set(err, YB_EIO, "'%s' was killed by signal %d", argv[0], WTERMSIG(status));
	return WEXITSTATUS(status);
}

/* The last lines of a text, for error messages. */
static const char *tail_lines(const char *text, int lines)
{
	size_t n = strlen(text);
	while (n > 0 && text[n - 1] == '\n')
		n--;
	const char *p = text + n;
	while (p > text && lines > 0) {
		p--;
		if (*p == '\n')
			lines--;
	}
	return p == text ? p : p + 1;
}

static void log_tail(const char *path, char *out, size_t out_size)
{
	char *text = NULL;
	size_t len;
	out[0] = '\0';
	if (yb_read_regular(path, 16u << 20, 0, &text, &len, NULL) == 0) {
		snprintf(out, out_size, "%s", tail_lines(text, 5));
		for (char *p = out; *p; p++)
			if (*p == '\n')
				*p = ' ';
	}
	free(text);
}

static int find_bin_dir(const struct db_cluster_opts *o, char *out, size_t out_size,
			struct yb_err *err)
{
	static const char *const candidates[] = {
		"/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin",
		"/usr/lib/postgresql/14/bin", "/usr/lib/postgresql/13/bin", "/usr/pgsql-17/bin",
		"/usr/pgsql-16/bin", "/usr/pgsql-15/bin", "/usr/local/pgsql/bin", "/usr/bin",
	};
	const char *dir = o && o->bin_dir ? o->bin_dir : getenv("YOBAN_PG_BINDIR");
	char probe[600];
	if (dir && *dir) {
		snprintf(probe, sizeof(probe), "%s/pg_ctl", dir);
		if (access(probe, X_OK) != 0)
			return yb_err_set(err, YB_ENOENT, "no pg_ctl in '%s'", dir);
		snprintf(out, out_size, "%s", dir);
		return 0;
	}
	for (size_t i = 0; i < YB_ARRAY_LEN(candidates); i++) {
		snprintf(probe, sizeof(probe), "%s/initdb", candidates[i]);
		if (access(probe, X_OK) == 0) {
			snprintf(out, out_size, "%s", candidates[i]);
			return 0;
		}
	}
	return yb_err_set(err, YB_ENOENT,
			  "cannot find PostgreSQL's initdb and pg_ctl (install postgresql-15, or set "
			  "YOBAN_PG_BINDIR to their folder)");
}

static void cluster_release(struct cluster *cl)
{
	free(cl->state_dir);
	free(cl->pg_dir);
	free(cl->run_dir);
	free(cl->log_path);
	memset(cl, 0, sizeof(*cl));
}

static int cluster_paths(struct cluster *cl, const char *state_dir, const struct db_cluster_opts *o,
			 struct yb_err *err)
{
	memset(cl, 0, sizeof(*cl));
	if (!path_is_plain(state_dir))
		return yb_err_set(err, YB_EINVAL,
				  "state folder '%s' must be an absolute path of letters, digits and "
				  "/ . _ - + @ , : = ~ (pg_ctl passes it through a shell)",
				  state_dir);
	size_t n = strlen(state_dir);
	while (n > 1 && state_dir[n - 1] == '/')
		n--;
	cl->state_dir = xstrndup(state_dir, n);
	cl->pg_dir = xasprintf("%s/pg", cl->state_dir);
	cl->run_dir = xasprintf("%s/run", cl->state_dir);
	cl->log_path = xasprintf("%s/server.log", cl->pg_dir);
	struct sockaddr_un addr;
	if (strlen(cl->run_dir) + 1 + strlen(SOCKET_NAME) >= sizeof(addr.sun_path)) {
		int rc = yb_err_set(err, YB_EINVAL,
				    "state folder '%s' is too long for a Unix socket path (at most %zu "
				    "characters): choose a shorter one",
				    state_dir, sizeof(addr.sun_path) - sizeof("/run/" SOCKET_NAME));
		cluster_release(cl);
		return rc;
	}
	int rc = find_bin_dir(o, cl->bin_dir, sizeof(cl->bin_dir), err);
	if (rc < 0)
		cluster_release(cl);
	return rc;
}

/* The existing cluster runs as the owner of its data folder. */
static int cluster_owner(struct cluster *cl, struct yb_err *err)
{
	struct stat st;
	if (stat(cl->pg_dir, &st) != 0)
		return yb_err_set(err, YB_ENOENT,
				  "no database cluster under '%s' (create one with 'yoban init --state-dir %s')",
				  cl->state_dir, cl->state_dir);
	int rc = lookup_user_uid(st.st_uid, &cl->server, err);
	if (rc < 0)
		return rc;
	if (geteuid() != 0 && geteuid() != st.st_uid)
		return yb_err_set(err, YB_EPERM,
				  "the cluster under '%s' belongs to OS user '%s': run this as root or as '%s'",
				  cl->state_dir, cl->server.name, cl->server.name);
	return 0;
}

char *db_cluster_conninfo(const char *state_dir, const char *dbname)
{
	size_t n = strlen(state_dir);
	while (n > 1 && state_dir[n - 1] == '/')
		n--;
	char *run = xasprintf("%.*s/run", (int)n, state_dir);
	char *host = db_conninfo_quote(run);
	char *db = db_conninfo_quote(dbname);
	/* Plain values need no quotes, and read better in yoban.yaml. */
	bool plain = path_is_plain(run) && name_is_plain(dbname);
	char *s = plain ? xasprintf("host=%s dbname=%s", run, dbname)
			: xasprintf("host=%s dbname=%s", host, db);
	free(run);
	free(host);
	free(db);
	return s;
}

bool db_cluster_exists(const char *state_dir)
{
	char *path = xasprintf("%s/pg/PG_VERSION", state_dir);
	bool yes = access(path, F_OK) == 0;
	free(path);
	return yes;
}

/* useradd --system when the server user is absent (root only). */
static int ensure_server_user(const char *name, struct os_user *out, struct yb_err *err)
{
	if (lookup_user_name(name, out, NULL) == 0)
		return 0;
	if (!name_is_plain(name))
		return yb_err_set(err, YB_EINVAL, "bad OS user name '%s'", name);
	const char *useradd = access("/usr/sbin/useradd", X_OK) == 0 ? "/usr/sbin/useradd"
								     : "/sbin/useradd";
	char *const argv[] = { (char *)useradd, "--system", "--no-create-home", "--home-dir",
			       "/nonexistent", "--shell", "/usr/sbin/nologin", "--user-group",
			       "--comment", "Yoban embedded PostgreSQL", (char *)name, NULL };
	struct yb_buf out_text;
	yb_buf_init(&out_text, OUTPUT_MAX);
	int rc = run_as(NULL, argv, &out_text, err);
	if (rc >= 0 && lookup_user_name(name, out, NULL) == 0) {
		rc = 0; /* made, or made meanwhile by someone else */
	} else if (rc >= 0) {
		rc = yb_err_set(err, YB_EIO, "cannot create the system user '%s' with useradd: %s", name,
				tail_lines(out_text.data ? out_text.data : "", 2));
	}
	yb_buf_release(&out_text);
	return rc;
}

/* Can user reach (search) path? Asked in a child that has become user. */
static bool user_can_enter(const struct os_user *user, const char *path)
{
	if (geteuid() != 0 || user->uid == 0)
		return access(path, X_OK) == 0;
	pid_t pid = fork();
	if (pid < 0)
		return true; /* cannot tell: let initdb say it */
	if (pid == 0) {
		child_setup(user, -1);
		_exit(access(path, X_OK) == 0 ? 0 : 1);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return true;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Makes path (mode, owner); an existing folder gets them too unless owner is NULL (the state
 * folder: an admin's folder keeps the mode they chose, and user_can_enter says if it will do). */
static int make_dir(const char *path, mode_t mode, const struct os_user *owner, struct yb_err *err)
{
	bool made = mkdir(path, mode) == 0;
	if (!made && errno != EEXIST)
		return yb_err_set(err, YB_EIO, "cannot create '%s': %s", path, strerror(errno));
	/* Through a descriptor opened without following links: root never chmods or chowns what
	 * a symbolic link put in the folder's place points to. */
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return yb_err_set(err, YB_EIO, "cannot open the folder '%s': %s", path,
				  errno == ELOOP ? "it is a symbolic link" : strerror(errno));
	int rc = 0;
	if ((made || owner) && fchmod(fd, mode) != 0)
		rc = yb_err_set(err, YB_EIO, "cannot chmod '%s': %s", path, strerror(errno));
	else if (owner && geteuid() == 0 && fchown(fd, owner->uid, owner->gid) != 0)
		rc = yb_err_set(err, YB_EIO, "cannot give '%s' to '%s': %s", path, owner->name,
				strerror(errno));
	close(fd);
	return rc;
}

/* Runs fn(arg) in a child that has become user: what root must do inside a folder the server's
 * user owns is done as that user, so no link put there can make root read or write elsewhere.
 * The child's error message comes back through a pipe. */
static int call_as(const struct os_user *user, int (*fn)(void *arg, struct yb_err *err), void *arg,
		   struct yb_err *err)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) != 0)
		return yb_err_set(err, YB_EIO, "pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return yb_err_set(err, YB_EIO, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		struct yb_err child_err = { 0 };
		close(pipefd[0]);
		child_setup(user, pipefd[1]);
		if (fn(arg, &child_err) < 0) {
			fputs(child_err.msg, stderr);
			_exit(1);
		}
		_exit(0);
	}
	close(pipefd[1]);
	char msg[YB_ERR_MSG_MAX];
	size_t used = 0;
	for (;;) {
		ssize_t n = read(pipefd[0], msg + used, sizeof(msg) - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
		if (used == sizeof(msg) - 1)
			break;
	}
	msg[used] = '\0';
	close(pipefd[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return yb_err_set(err, YB_EIO, "waitpid: %s", strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	return yb_err_set(err, YB_EIO, "as OS user '%s': %s", user->name,
			  *msg ? msg : "the child process failed");
}

static int write_owned(const char *path, const char *text, struct yb_err *err)
{
	return yb_write_file_atomic(path, text, strlen(text), 0600, err);
}

/* pg_ident.conf: the map "yoban". The creator and the server's OS user may be the superuser and
 * the daemon's login; everyone else only the role of their own name, and never "postgres" or
 * "yoband" by that rule: Debian's OS user "postgres" (or an OS user someone names "yoband") is
 * nobody special here. PostgreSQL's regular expressions know (?!...); parentheses inside a
 * lookahead do not capture, so \1 is the name. */
static int write_ident(struct cluster *cl, const struct os_user *admin, struct yb_err *err)
{
	char *ident_path = xasprintf("%s/pg_ident.conf", cl->pg_dir);
	struct yb_buf b;
	yb_buf_init(&b, 0);
	yb_buf_appendf(&b, "# yoban: who may log in as whom over the socket (peer authentication).\n"
			   "# Written by yoban (scheduler/db/db_cluster.c); docs/database.md lists it.\n"
			   "# MAPNAME  SYSTEM-USERNAME  PG-USERNAME\n");
	const struct os_user *admins[] = { admin, &cl->server };
	for (size_t i = 0; i < YB_ARRAY_LEN(admins); i++) {
		if (i == 1 && admins[1]->uid == admins[0]->uid)
			break;
		yb_buf_appendf(&b, "yoban  %s  %s\nyoban  %s  %s\n", admins[i]->name,
			       DB_CLUSTER_SUPERUSER, admins[i]->name, DB_DAEMON_LOGIN);
	}
	yb_buf_appendf(&b, "# everyone else: only the role of their own name, never %s or %s\n"
			   "yoban  /^(?!(%s|%s)$)(.*)$  \\1\n",
		       DB_CLUSTER_SUPERUSER, DB_DAEMON_LOGIN, DB_CLUSTER_SUPERUSER, DB_DAEMON_LOGIN);
	int rc = write_owned(ident_path, b.data, err);
	yb_buf_release(&b);
	free(ident_path);
	return rc;
}

struct configure_args {
	struct cluster *cl;
	const struct os_user *admin;
};

static int configure(void *arg, struct yb_err *err)
{
	struct configure_args *a = arg;
	struct cluster *cl = a->cl;
	const struct os_user *admin = a->admin;
	char *conf_path = xasprintf("%s/postgresql.conf", cl->pg_dir);
	char *hba_path = xasprintf("%s/pg_hba.conf", cl->pg_dir);
	char *conf = NULL;
	size_t conf_len;
	struct yb_buf b;
	yb_buf_init(&b, 0);
	int rc = yb_read_regular(conf_path, 16u << 20, 0, &conf, &conf_len, err);
	if (rc < 0)
		goto out;
	yb_buf_append(&b, conf, conf_len);
	yb_buf_appendf(&b,
		       "\n# ---- yoban: the embedded cluster (scheduler/db_cluster.c) ----\n"
		       "listen_addresses = ''                 # Unix socket only, no TCP\n"
		       "unix_socket_directories = '%s'\n"
		       "unix_socket_permissions = 0777        # who may log in is peer's business\n"
		       "port = 5432\n"
		       "max_connections = 50\n"
		       "log_line_prefix = '%%m [%%p] %%q%%u@%%d '\n"
		       "log_connections = on\n",
		       cl->run_dir);
	if ((rc = write_owned(conf_path, b.data, err)) < 0)
		goto out;

	yb_buf_reset(&b);
	yb_buf_appendf(&b, "# yoban: local (Unix socket) connections only, peer authentication through\n"
			   "# the map \"yoban\" in pg_ident.conf; no TCP (listen_addresses is empty).\n"
			   "# TYPE  DATABASE  USER  METHOD\n"
			   "local   all       all   peer map=yoban\n");
	if ((rc = write_owned(hba_path, b.data, err)) < 0)
		goto out;

	rc = write_ident(cl, admin, err);
out:
	yb_buf_release(&b);
	free(conf);
	free(conf_path);
	free(hba_path);
	return rc;
}

/* ---- run as root: only a folder root alone controls ----------------------------------------
 * Root writes yoban.yaml into the state folder and later reads it back (yoband, the CLI), and
 * root-run commands act on what lies there. A folder another user owns or may write (or one of
 * its parents: they could rename it away and put their own in its place) would let that user
 * choose what root reads. A sticky parent (/tmp) is fine: others cannot rename what root made. */

static int refuse_folder(const char *path, const char *state_dir, const struct stat *st,
			 const char *problem, struct yb_err *err)
{
	struct os_user owner;
	char who[96];
	if (lookup_user_uid(st->st_uid, &owner, NULL) == 0)
		snprintf(who, sizeof(who), "'%s'", owner.name);
	else
		snprintf(who, sizeof(who), "uid %u", (unsigned)st->st_uid);
	bool self = !strcmp(path, state_dir);
	return yb_err_set(err, YB_EPERM,
			  "%s '%s'%s%s%s belongs to OS user %s, mode %04o: %s, so root will not keep a "
			  "database and yoban.yaml there (make it root's and closed to others: chown "
			  "root:root '%s' && chmod go-w '%s'; or choose a folder under one root owns, "
			  "e.g. /var/lib/yoban)",
			  self ? "the state folder" : "the folder", path,
			  self ? "" : " (a parent of the state folder '", self ? "" : state_dir,
			  self ? "" : "')", who,
			  (unsigned)(st->st_mode & 07777), problem, path, path);
}

int db_state_dir_check(const char *state_dir, struct yb_err *err)
{
	if (geteuid() != 0)
		return 0;
	if (state_dir[0] != '/')
		return yb_err_set(err, YB_EINVAL, "state folder '%s' is not an absolute path", state_dir);
	char *path = xstrdup(state_dir);
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	char *full = xstrdup(path);
	int rc = 0;
	/* From the folder itself up to "/"; parts that do not exist yet are made by root. */
	for (;;) {
		struct stat st;
		bool self = !strcmp(path, full);
		if (stat(path, &st) == 0) {
			bool group_w = (st.st_mode & S_IWGRP) && st.st_gid != 0;
			bool other_w = st.st_mode & S_IWOTH;
			if (!S_ISDIR(st.st_mode)) {
				rc = yb_err_set(err, YB_EINVAL, "'%s' is not a folder", path);
				break;
			}
			if (st.st_uid != 0) {
				rc = refuse_folder(path, full, &st, "another user owns it", err);
				break;
			}
			if ((group_w || other_w) && (self || !(st.st_mode & S_ISVTX))) {
				rc = refuse_folder(path, full, &st, other_w ? "every user may write it"
									   : "its group may write it", err);
				break;
			}
		} else if (errno != ENOENT) {
			rc = yb_err_set(err, YB_EIO, "cannot inspect '%s': %s", path, strerror(errno));
			break;
		}
		if (!strcmp(path, "/"))
			break;
		char *slash = strrchr(path, '/');
		if (slash == path)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	free(full);
	free(path);
	return rc;
}

int db_cluster_create(const char *state_dir, const struct db_cluster_opts *o, struct yb_err *err)
{
	struct cluster cl;
	struct os_user admin;
	struct yb_buf output;
	yb_buf_init(&output, OUTPUT_MAX);
	int rc = cluster_paths(&cl, state_dir, o, err);
	if (rc < 0)
		return rc;
	if (db_cluster_exists(cl.state_dir)) {
		rc = yb_err_set(err, YB_EEXIST, "'%s' already holds a database cluster", cl.pg_dir);
		goto out;
	}
	if (o && o->admin_user)
		rc = lookup_user_name(o->admin_user, &admin, err);
	else
		rc = lookup_user_uid(getuid(), &admin, err);
	if (rc < 0)
		goto out;
	if (geteuid() == 0) {
		const char *name = o && o->server_user ? o->server_user : DEFAULT_SERVER_USER;
		if ((rc = ensure_server_user(name, &cl.server, err)) < 0)
			goto out;
		if (cl.server.uid == 0) {
			rc = yb_err_set(err, YB_EINVAL, "PostgreSQL cannot run as root ('%s')", name);
			goto out;
		}
	} else if ((rc = lookup_user_uid(geteuid(), &cl.server, err)) < 0) {
		goto out;
	}
	if ((rc = db_state_dir_check(cl.state_dir, err)) < 0)
		goto out;
	if (!name_is_plain(admin.name) || !name_is_plain(cl.server.name)) {
		rc = yb_err_set(err, YB_EINVAL, "OS user names '%s', '%s' cannot go into pg_ident.conf",
				admin.name, cl.server.name);
		goto out;
	}

	if ((rc = make_dir(cl.state_dir, 0755, NULL, err)) < 0)
		goto out;
	if (!user_can_enter(&cl.server, cl.state_dir)) {
		rc = yb_err_set(err, YB_EPERM,
				"OS user '%s' (who runs the server) cannot enter '%s': give it search "
				"permission on the folder and its parents (chmod o+x), or choose another",
				cl.server.name, cl.state_dir);
		goto out;
	}
	if ((rc = make_dir(cl.pg_dir, 0700, &cl.server, err)) < 0 ||
	    (rc = make_dir(cl.run_dir, 0755, &cl.server, err)) < 0)
		goto out;

	char *initdb = xasprintf("%s/initdb", cl.bin_dir);
	char *const argv[] = { initdb, "-D", cl.pg_dir, "-U", DB_CLUSTER_SUPERUSER,
			       "--auth-local=peer", "--auth-host=reject", "--encoding=UTF8",
			       "--locale=C.UTF-8", "--no-instructions", NULL };
	rc = run_as(&cl.server, argv, &output, err);
	free(initdb);
	if (rc > 0) {
		rc = yb_err_set(err, YB_EIO, "initdb failed (exit %d): %s", rc,
				tail_lines(output.data ? output.data : "", 4));
		goto out;
	}
	if (rc < 0)
		goto out;
	struct configure_args args = { &cl, &admin };
	rc = call_as(&cl.server, configure, &args, err);
out:
	yb_buf_release(&output);
	cluster_release(&cl);
	return rc;
}

/* ---- a deliberate stop stays stopped ------------------------------------------------------
 * `yoban db stop` writes STATE/db-stopped (when, by whom) BEFORE it stops the server, so that a
 * yoband that notices the stop and calls db_cluster_ensure_running finds the marker and waits
 * instead of starting the cluster again; db_cluster_start removes it. */

static char *marker_path(const struct cluster *cl)
{
	return xasprintf("%s/" DB_CLUSTER_STOP_MARKER, cl->state_dir);
}

/* The marker's "key: value" line for key, or "?". */
static void marker_field(const char *text, const char *key, char *out, size_t out_size)
{
	size_t n = strlen(key);
	snprintf(out, out_size, "?");
	for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, key, n) || line[n] != ':')
			continue;
		const char *v = line + n + 1;
		while (*v == ' ')
			v++;
		size_t len = strcspn(v, "\n");
		for (size_t i = 0; i < len; i++) /* the marker is ours, but a terminal reads this */
			if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
				len = i;
		snprintf(out, out_size, "%.*s", (int)len, v);
		return;
	}
}

/* YB_ECLOSED with the story when the marker is there; 0 when it is not. */
static int marker_check(const struct cluster *cl, struct yb_err *err)
{
	char *path = marker_path(cl), *text = NULL;
	size_t len;
	int rc = 0;
	struct stat st;
	if (lstat(path, &st) == 0) {
		char at[64], by[96];
		if (!S_ISREG(st.st_mode) || yb_read_regular(path, 4096, 0, &text, &len, NULL) < 0)
			text = xstrdup("");
		marker_field(text, "stopped_at", at, sizeof(at));
		marker_field(text, "stopped_by", by, sizeof(by));
		rc = yb_err_set(err, YB_ECLOSED,
				"the database cluster under '%s' was stopped by 'yoban db stop' at %s by OS "
				"user '%s' and stays stopped until someone runs 'yoban db start' (which "
				"removes %s)", cl->state_dir, at, by, path);
	}
	free(text);
	free(path);
	return rc;
}

static int marker_remove(const struct cluster *cl, struct yb_err *err)
{
	char *path = marker_path(cl);
	int rc = 0;
	if (unlink(path) != 0 && errno != ENOENT)
		rc = yb_err_set(err, YB_EIO, "the cluster under '%s' runs, but '%s' cannot be removed "
				"(%s): yoband will not start it again after a stop until it is gone",
				cl->state_dir, path, strerror(errno));
	free(path);
	return rc;
}

static int read_pid(const struct cluster *cl, pid_t *pid)
{
	char *path = xasprintf("%s/postmaster.pid", cl->pg_dir);
	char *text = NULL;
	size_t len;
	int rc = yb_read_regular(path, 4096, 0, &text, &len, NULL);
	free(path);
	if (rc < 0)
		return rc;
	long v = strtol(text, NULL, 10);
	free(text);
	if (v <= 0)
		return YB_EINVAL;
	*pid = (pid_t)v;
	return 0;
}

static int pg_ctl(struct cluster *cl, char *const args[], struct yb_buf *output, struct yb_err *err)
{
	char *argv[16];
	size_t n = 0;
	argv[n++] = xasprintf("%s/pg_ctl", cl->bin_dir);
	argv[n++] = "-D";
	argv[n++] = cl->pg_dir;
	for (size_t i = 0; args[i]; i++) {
		BUG_ON(n >= YB_ARRAY_LEN(argv) - 1);
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	int rc = run_as(&cl->server, argv, output, err);
	free(argv[0]);
	return rc;
}

static int status_of(struct cluster *cl, bool *running, pid_t *pid, struct yb_err *err)
{
	char *const args[] = { "status", NULL };
	int rc = pg_ctl(cl, args, NULL, err);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		pid_t p = 0;
		read_pid(cl, &p);
		*running = true;
		if (pid)
			*pid = p;
		return 0;
	}
	if (rc == 3) {
		*running = false;
		if (pid)
			*pid = 0;
		return 0;
	}
	return yb_err_set(err, YB_EIO, "pg_ctl status failed on '%s' (exit %d)", cl->pg_dir, rc);
}

int db_cluster_status(const char *state_dir, const struct db_cluster_opts *o, bool *running,
		      pid_t *pid, struct yb_err *err)
{
	struct cluster cl;
	int rc = cluster_paths(&cl, state_dir, o, err);
	if (rc < 0)
		return rc;
	if ((rc = cluster_owner(&cl, err)) == 0)
		rc = status_of(&cl, running, pid, err);
	cluster_release(&cl);
	return rc;
}

int db_cluster_start(const char *state_dir, const struct db_cluster_opts *o, struct yb_err *err)
{
	struct cluster cl;
	struct yb_buf output;
	bool running;
	yb_buf_init(&output, OUTPUT_MAX);
	int rc = cluster_paths(&cl, state_dir, o, err);
	if (rc < 0)
		return rc;
	if ((rc = cluster_owner(&cl, err)) < 0 || (rc = status_of(&cl, &running, NULL, err)) < 0)
		goto out;
	if (running) {
		rc = yb_err_set(err, YB_EEXIST, "the database cluster under '%s' is already running",
				cl.state_dir);
		goto out;
	}
	/* The socket folder may have been cleaned away (a tmpfs, a tidy admin): make it again. */
	if ((rc = make_dir(cl.run_dir, 0755, &cl.server, err)) < 0)
		goto out;
	char *const args[] = { "-l", cl.log_path, "-w", "-t", "120", "-s", "start", NULL };
	rc = pg_ctl(&cl, args, &output, err);
	if (rc > 0) {
		char tail[600];
		log_tail(cl.log_path, tail, sizeof(tail));
		rc = yb_err_set(err, YB_EIO, "the database server under '%s' did not start: %s%s%s",
				cl.state_dir, tail_lines(output.data ? output.data : "", 2),
				*tail ? "; server.log: " : "", tail);
	}
out:
	if (rc == 0 || rc == YB_EEXIST) { /* it runs: a stop marker is history */
		struct yb_err merr = { 0 };
		if (marker_remove(&cl, &merr) < 0 && rc == 0)
			rc = yb_err_set(err, YB_EIO, "%s", merr.msg);
	}
	yb_buf_release(&output);
	cluster_release(&cl);
	return rc;
}

int db_cluster_stop(const char *state_dir, const struct db_cluster_opts *o, struct yb_err *err)
{
	struct cluster cl;
	struct yb_buf output;
	bool running;
	yb_buf_init(&output, OUTPUT_MAX);
	int rc = cluster_paths(&cl, state_dir, o, err);
	if (rc < 0)
		return rc;
	if ((rc = cluster_owner(&cl, err)) < 0 || (rc = status_of(&cl, &running, NULL, err)) < 0)
		goto out;
	if (!running) {
		rc = yb_err_set(err, YB_ENOENT, "the database cluster under '%s' is not running",
				cl.state_dir);
		goto out;
	}
	char *const args[] = { "-m", "fast", "-w", "-t", "120", "-s", "stop", NULL };
	rc = pg_ctl(&cl, args, &output, err);
	if (rc > 0)
		rc = yb_err_set(err, YB_EIO, "the database server under '%s' did not stop: %s",
				cl.state_dir, tail_lines(output.data ? output.data : "", 2));
out:
	yb_buf_release(&output);
	cluster_release(&cl);
	return rc;
}

/* Rewrites pg_ident.conf (as the server's user) for a cluster made by an older yoban, and has a
 * running server read it again. */
struct ident_args {
	struct cluster *cl;
	const struct os_user *admin;
};

static int ident_in_child(void *arg, struct yb_err *err)
{
	struct ident_args *a = arg;
	return write_ident(a->cl, a->admin, err);
}

int db_cluster_write_map(const char *state_dir, const struct db_cluster_opts *o, struct yb_err *err)
{
	struct cluster cl;
	struct os_user admin;
	bool running = false;
	int rc = cluster_paths(&cl, state_dir, o, err);
	if (rc < 0)
		return rc;
	if ((rc = cluster_owner(&cl, err)) < 0)
		goto out;
	if (o && o->admin_user)
		rc = lookup_user_name(o->admin_user, &admin, err);
	else
		rc = lookup_user_uid(getuid(), &admin, err);
	if (rc < 0)
		goto out;
	if (!name_is_plain(admin.name) || !name_is_plain(cl.server.name)) {
		rc = yb_err_set(err, YB_EINVAL, "OS user names '%s', '%s' cannot go into pg_ident.conf",
				admin.name, cl.server.name);
		goto out;
	}
	struct ident_args args = { &cl, &admin };
	if ((rc = call_as(&cl.server, ident_in_child, &args, err)) < 0 ||
	    (rc = status_of(&cl, &running, NULL, err)) < 0 || !running)
		goto out;
	char *const reload[] = { "-s", "reload", NULL };
	rc = pg_ctl(&cl, reload, NULL, err);
	if (rc > 0)
		rc = yb_err_set(err, YB_EIO, "pg_ctl reload failed on '%s' (exit %d)", cl.pg_dir, rc);
out:
	cluster_release(&cl);
	return rc;
}

int db_cluster_stop_note(const char *state_dir, struct yb_err *err)
{
	struct cluster cl = { 0 };
	size_t n = strlen(state_dir);
	while (n > 1 && state_dir[n - 1] == '/')
		n--;
	cl.state_dir = xstrndup(state_dir, n);
	int rc = marker_check(&cl, err);
	free(cl.state_dir);
	return rc;
}

int db_cluster_stop_held(const char *state_dir, const struct db_cluster_opts *o, struct yb_err *err)
{
	struct cluster cl;
	int rc = cluster_paths(&cl, state_dir, o, err);
	if (rc < 0)
		return rc;
	if ((rc = cluster_owner(&cl, err)) < 0)
		goto out;
	struct os_user me;
	char at[32], *path = marker_path(&cl);
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (lookup_user_uid(getuid(), &me, NULL) < 0)
		snprintf(me.name, sizeof(me.name), "uid %u", (unsigned)getuid());
	char *text = xasprintf("# yoban: `yoban db stop` stopped this cluster on purpose; yoband leaves it\n"
			       "# stopped until `yoban db start` (which removes this file).\n"
			       "stopped_at: %s\nstopped_by: %s\n", at, me.name);
	rc = yb_write_file_atomic(path, text, strlen(text), 0644, err);
	free(text);
	if (rc < 0) {
		char why[YB_ERR_MSG_MAX];
		snprintf(why, sizeof(why), "%s", err->msg);
		yb_err_set(err, rc, "cannot record the stop in '%s' (%s), so nothing was stopped: a "
			   "running yoband would start the cluster again (run this as root or as the "
			   "owner of '%s')", path, why, cl.state_dir);
		free(path);
		goto out;
	}
	free(path);
	rc = db_cluster_stop(state_dir, o, err); /* YB_ENOENT (not running): the marker stays */
	if (rc < 0 && rc != YB_ENOENT) {
		struct yb_err ignored = { 0 };
		marker_remove(&cl, &ignored); /* it still runs: no stop to remember */
	}
out:
	cluster_release(&cl);
	return rc;
}

int db_cluster_ensure_running(const char *state_dir, const struct db_cluster_opts *o,
			      struct yb_err *err)
{
	struct cluster cl;
	int rc = cluster_paths(&cl, state_dir, o, err);
	if (rc < 0)
		return rc;
	rc = marker_check(&cl, err);
	cluster_release(&cl);
	if (rc < 0)
		return rc;
	rc = db_cluster_start(state_dir, o, err);
	if (rc == YB_EEXIST) {
		yb_err_clear(err);
		return 0;
	}
	return rc;
}

int db_site_conninfo(const char *database, const char *state_dir, const char *login, char **out,
		     bool *embedded, struct yb_err *err)
{
	char *conninfo = NULL, *host = NULL, *user = NULL;
	bool is_embedded = false;
	int rc = 0;
	if (!database) {
		if (!state_dir)
			return yb_err_set(err, YB_EINVAL, "no database and no state_dir in the config");
		conninfo = db_cluster_conninfo(state_dir, DB_CLUSTER_DBNAME);
		is_embedded = true;
	} else {
		conninfo = xstrdup(database);
		if (state_dir && db_conninfo_get(database, "host", &host, NULL) == 0) {
			size_t n = strlen(state_dir);
			while (n > 1 && state_dir[n - 1] == '/')
				n--;
			is_embedded = !strncmp(host, state_dir, n) && !strcmp(host + n, "/run");
		}
	}
	char *probe = NULL; /* is it a connection string at all? */
	if ((rc = db_conninfo_get(conninfo, "dbname", &probe, err)) == YB_EINVAL)
		goto out;
	free(probe);
	rc = 0;
	if (is_embedded && login && db_conninfo_get(conninfo, "user", &user, NULL) < 0) {
		char *with = NULL;
		if ((rc = db_conninfo_with(conninfo, "user", login, &with, err)) < 0)
			goto out;
		free(conninfo);
		conninfo = with;
	}
	*out = conninfo;
	*embedded = is_embedded;
	conninfo = NULL;
out:
	free(conninfo);
	free(host);
	free(user);
	return rc;
}
