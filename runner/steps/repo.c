/*
 * repo.c: the backup repository (see repo.h for the layout).
 *
 * The one idea: a name is a state. Only rename(2), which is atomic, moves a folder between
 * .incoming- (not yet a generation), gen- (a whole, verified generation) and .trash- (no longer
 * one), and every rename is followed by an fsync of the repository folder; so whatever instant a
 * backup is killed at, or the disk fills, a reader sees whole generations and nothing else.
 */
#define _GNU_SOURCE
#include "repo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json.h"

#define MARKER ".yoban-repository"

void repo_format_time(int64_t us, char *out, size_t size)
{
	time_t s = (time_t)(us / 1000000);
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int repo_fsync_path(const char *path, struct yb_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return yb_err_set(err, YB_EIO, "cannot open '%s': %s", path, strerror(errno));
	int rc = 0;
	if (fsync(fd) < 0)
		rc = yb_err_set(err, YB_EIO, "cannot fsync '%s': %s", path, strerror(errno));
	close(fd);
	return rc;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

int repo_rmtree(const char *path, struct yb_err *err)
{
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		return yb_err_set(err, YB_EIO, "cannot remove '%s': %s", path, strerror(errno));
	return 0;
}

static bool folder_empty(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return false;
	struct dirent *de;
	bool empty = true;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = false;
	closedir(d);
	return empty;
}

int repo_open(const char *path, bool create, struct repo *r, struct yb_err *err)
{
	struct stat st;
	char *marker = xasprintf("%s/" MARKER, path), *lock = xasprintf("%s/.lock", path);
	int rc = 0, fd = -1;
	if (path[0] != '/') {
		rc = yb_err_set(err, YB_EINVAL, "repository '%s' must be an absolute path", path);
		goto out;
	}
	if (create && mkdir(path, 0700) < 0 && errno != EEXIST) {
		rc = yb_err_set(err, YB_EIO, "cannot create repository '%s': %s", path, strerror(errno));
		goto out;
	}
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		rc = yb_err_set(err, YB_ENOENT, "repository '%s' is not a folder", path);
		goto out;
	}
	if (access(marker, F_OK) < 0) {
		if (!create || !folder_empty(path)) {
			rc = yb_err_set(err, YB_EINVAL, "'%s' is not a Yoban backup repository (no '%s'; "
					"give an empty or new folder)", path, MARKER);
			goto out;
		}
		const char *text = "{\"format\":\"" MANIFEST_FORMAT "\"}\n";
		if ((rc = yb_write_file_atomic(marker, text, strlen(text), 0600, err)) < 0)
			goto out;
	}
	if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		rc = yb_err_set(err, YB_EIO, "cannot open '%s': %s", lock, strerror(errno));
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		rc = yb_err_set(err, YB_EAGAIN, "repository '%s' is in use by another backup (lock "
				"'%s'); wait for it to finish", path, lock);
		goto out;
	}
	r->path = xstrdup(path);
	r->lock_fd = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	free(marker);
	free(lock);
	return rc;
}

void repo_close(struct repo *r)
{
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	free(r->path);
	r->path = NULL;
	r->lock_fd = -1;
}

/* "gen-000042-..." -> 42; 0 when name is not a generation's. */
static uint64_t gen_seq(const char *name)
{
	if (strncmp(name, "gen-", 4))
		return 0;
	char *end;
	unsigned long long v = strtoull(name + 4, &end, 10);
	if (end == name + 4 || *end != '-' || strlen(end + 1) != 16 || v == 0)
		return 0;
	return v;
}

static int cmp_gen(const void *a, const void *b)
{
	uint64_t x = ((const struct repo_gen *)a)->seq, y = ((const struct repo_gen *)b)->seq;
	return x < y ? 1 : x > y ? -1 : 0;
}

static void read_gen(struct repo_gen *g)
{
	char *path = xasprintf("%s/" MANIFEST_NAME, g->dir);
	char *text = NULL;
	size_t len = 0;
	struct yb_err err = { 0 };
	if (yb_read_regular(path, MANIFEST_MAX_BYTES, YB_READ_NOFOLLOW, &text, &len, &err) < 0 ||
	    manifest_parse(text, len, &g->m, &err) < 0) {
		snprintf(g->error, sizeof(g->error), "%.250s", err.msg);
	} else {
		g->readable = true;
		yb_sha256_hex(text, len, g->manifest_sha256);
	}
	free(text);
	free(path);
	text = NULL;
	path = xasprintf("%s/verify.json", g->dir);
	struct yb_json *v = NULL;
	if (yb_read_regular(path, 4096, YB_READ_NOFOLLOW, &text, &len, NULL) == 0 &&
	    yb_json_parse(text, len, &v, NULL) == 0) {
		g->verified_at_us = yb_json_get_int(v, "at_us", 0);
		g->verified_ok = yb_json_get_bool(v, "ok", false);
		snprintf(g->verify_how, sizeof(g->verify_how), "%s",
			 yb_json_get_str(v, "how") ? yb_json_get_str(v, "how") : "");
	}
	yb_json_free(v);
	free(text);
	free(path);
}

int repo_list(const char *path, struct repo_gen **gens, size_t *n, struct yb_err *err)
{
	DIR *d = opendir(path);
	if (!d)
		return yb_err_set(err, errno == ENOENT ? YB_ENOENT : YB_EIO,
				  "cannot read repository '%s': %s", path, strerror(errno));
	struct repo_gen *v = NULL;
	size_t count = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		uint64_t seq = gen_seq(de->d_name);
		if (!seq)
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 8;
			v = xrealloc(v, cap * sizeof(*v));
		}
		struct repo_gen *g = &v[count++];
		memset(g, 0, sizeof(*g));
		g->name = xstrdup(de->d_name);
		g->dir = xasprintf("%s/%s", path, de->d_name);
		g->seq = seq;
	}
	closedir(d);
	if (count)
		qsort(v, count, sizeof(*v), cmp_gen);
	for (size_t i = 0; i < count; i++)
		read_gen(&v[i]);
	*gens = v;
	*n = count;
	return 0;
}

void repo_gens_free(struct repo_gen *gens, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(gens[i].name);
		free(gens[i].dir);
		manifest_release(&gens[i].m);
	}
	free(gens);
}

int repo_begin(struct repo *r, uint64_t *seq, char **dir, struct yb_err *err)
{
	DIR *d = opendir(r->path);
	if (!d)
		return yb_err_set(err, YB_EIO, "cannot read repository '%s': %s", r->path,
				  strerror(errno));
	uint64_t max = 0;
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d))) {
		/* every sequence number ever used, so a leftover's number is never reused */
		const char *num = !strncmp(de->d_name, "gen-", 4)	   ? de->d_name + 4
				  : !strncmp(de->d_name, ".incoming-", 10) ? de->d_name + 10
				  : !strncmp(de->d_name, ".trash-", 7)	   ? de->d_name + 7
									   : NULL;
		if (!num)
			continue;
		uint64_t v = strtoull(num, NULL, 10);
		if (v > max)
			max = v;
		if (de->d_name[0] == '.') {
			/* we hold the lock: whoever left this is gone */
			char *p = xasprintf("%s/%s", r->path, de->d_name);
			rc = repo_rmtree(p, err);
			free(p);
			if (rc < 0)
				break;
		}
	}
	closedir(d);
	if (rc < 0)
		return rc;
	char *p = xasprintf("%s/.incoming-%06llu-%d", r->path, (unsigned long long)(max + 1),
			    (int)getpid());
	if (mkdir(p, 0700) < 0) {
		rc = yb_err_set(err, YB_EIO, "cannot create '%s': %s", p, strerror(errno));
		free(p);
		return rc;
	}
	*seq = max + 1;
	*dir = p;
	return 0;
}

int repo_commit(struct repo *r, const char *dir, uint64_t seq, int64_t created_us, char **name,
		struct yb_err *err)
{
	int rc;
	time_t s = (time_t)(created_us / 1000000);
	struct tm tm;
	char stamp[32];
	gmtime_r(&s, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	char *n = xasprintf("gen-%06llu-%s", (unsigned long long)seq, stamp);
	char *to = xasprintf("%s/%s", r->path, n);
	if ((rc = repo_fsync_path(dir, err)) < 0)
		goto out;
	if (rename(dir, to) < 0) {
		rc = yb_err_set(err, YB_EIO, "cannot commit '%s' as '%s': %s", dir, to, strerror(errno));
		goto out;
	}
	if ((rc = repo_fsync_path(r->path, err)) < 0)
		goto out;
	*name = n;
	n = NULL;
out:
	free(n);
	free(to);
	return rc;
}

void repo_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

int repo_prune(struct repo *r, int keep, char ***removed, struct yb_err *err)
{
	struct repo_gen *gens = NULL;
	size_t n = 0, n_removed = 0;
	int rc = repo_list(r->path, &gens, &n, err);
	if (rc < 0)
		return rc;
	char **out = xcalloc(n + 1, sizeof(char *));
	for (size_t i = (size_t)keep; i < n; i++) {
		char *trash = xasprintf("%s/.trash-%06llu", r->path, (unsigned long long)gens[i].seq);
		if (rename(gens[i].dir, trash) < 0) {
			rc = yb_err_set(err, YB_EIO, "cannot prune '%s': %s", gens[i].dir, strerror(errno));
			free(trash);
			break;
		}
		out[n_removed++] = xstrdup(gens[i].name);
		if ((rc = repo_fsync_path(r->path, err)) < 0 || (rc = repo_rmtree(trash, err)) < 0) {
			free(trash);
			break;
		}
		free(trash);
	}
	repo_gens_free(gens, n);
	*removed = out;
	return rc;
}

int repo_write_verify(const char *gen_dir, int64_t at_us, bool ok, const char *how,
		      struct yb_err *err)
{
	struct yb_json *o = yb_json_object();
	char when[32];
	repo_format_time(at_us, when, sizeof(when));
	yb_json_set(o, "at", yb_json_str(when));
	yb_json_set(o, "at_us", yb_json_int(at_us));
	yb_json_set(o, "ok", yb_json_bool(ok));
	yb_json_set(o, "how", yb_json_str(how));
	char *text = yb_json_dump(o, 0);
	yb_json_free(o);
	char *path = xasprintf("%s/verify.json", gen_dir);
	int rc = yb_write_file_atomic(path, text, strlen(text), 0600, err);
	free(path);
	free(text);
	return rc;
}
