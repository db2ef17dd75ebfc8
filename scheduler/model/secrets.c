/*
 * secrets.c: where a step's secrets may come from: only regular files inside the site's secrets
 * folder (yoban.yaml `secrets_dir`, default /etc/yoban/secrets), owned by root or by the user
 * reading them, with no access for group or others. A runbook that names /etc/shadow, a path
 * with '..', a symbolic link leading out of the folder, a FIFO, or a file others can read does
 * not load; yoband reads each file again by the same rule when it dispatches the step.
 *
 * The one idea: the rule is checked on what is opened, not on the name: the path is resolved
 * (realpath) and must lie inside the folder's own resolved path, and the file is then opened
 * without following links and without blocking, and fstat decides the rest (yb_read_regular).
 */
#include "runbook_priv.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The folder without trailing slashes ("/" stays "/"). */
static char *folder(const struct rb_site *site)
{
	const char *dir = site->secrets_dir ? site->secrets_dir : RB_DEFAULT_SECRETS_DIR;
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	return xstrndup(dir, n);
}

static bool has_dotdot(const char *path)
{
	for (const char *p = path; (p = strstr(p, "..")); p += 2)
		if ((p == path || p[-1] == '/') && (p[2] == 0 || p[2] == '/'))
			return true;
	return false;
}

/* Is path inside dir (a proper descendant)? */
static bool inside(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (!strcmp(dir, "/"))
		return path[0] == '/' && path[1];
	return !strncmp(path, dir, n) && path[n] == '/' && path[n + 1];
}

int rb_secret_resolve(const struct rb_site *site, const char *written, char **out,
		      struct yb_err *err)
{
	char *dir = folder(site);
	char *path = NULL;
	int rc = 0;
	if (!written[0]) {
		rc = yb_err_set(err, YB_EINVAL, "secret file '' names no file: name a file in the "
				"secrets folder '%s'", dir);
		goto out;
	}
	if (has_dotdot(written)) {
		rc = yb_err_set(err, YB_EPERM, "secret file '%s' must not contain '..': name a file "
				"inside the secrets folder '%s'", written, dir);
		goto out;
	}
	path = rb_path_join(dir, written);
	if (!inside(path, dir)) {
		rc = yb_err_set(err, YB_EPERM, "secret file '%s' is outside the secrets folder '%s': "
				"secrets are read only from there (yoban.yaml: secrets_dir)", written,
				dir);
		goto out;
	}
	*out = path;
	path = NULL;
out:
	free(path);
	free(dir);
	return rc;
}

/* The resolved path, checked to stay inside the folder; YB_ENOENT / YB_EAGAIN (permission
 * denied) when this user cannot see the file. */
static int real_inside(const struct rb_site *site, const char *path, char real[PATH_MAX],
		       struct yb_err *err)
{
	char *dir = folder(site);
	char real_dir[PATH_MAX];
	int rc = 0;
	if (!realpath(path, real)) {
		int e = errno;
		rc = yb_err_set(err, e == ENOENT ? YB_ENOENT : e == EACCES ? YB_EAGAIN : YB_EIO,
				"secret file '%s' cannot be opened: %s", path, strerror(e));
		goto out;
	}
	if (!realpath(dir, real_dir)) {
		int e = errno;
		rc = yb_err_set(err, e == EACCES ? YB_EAGAIN : YB_EIO, "the secrets folder '%s' cannot "
				"be opened: %s", dir, strerror(e));
		goto out;
	}
	if (!inside(real, real_dir) && strcmp(real, real_dir)) /* the folder itself: "a folder" */
		rc = yb_err_set(err, YB_EPERM, "secret file '%s' leads outside the secrets folder "
				"'%s' (through a symbolic link, to '%s'): secrets are read only from "
				"there", path, dir, real);
out:
	free(dir);
	return rc;
}

int rb_secret_read(const struct rb_site *site, const char *path, size_t max_bytes, char **out,
		   size_t *out_len, struct yb_err *err)
{
	char *resolved = NULL;
	char real[PATH_MAX];
	int rc = rb_secret_resolve(site, path, &resolved, err);
	if (rc < 0)
		return rc;
	if ((rc = real_inside(site, resolved, real, err)) < 0)
		goto out;
	if (access(real, R_OK) < 0 && errno == EACCES) {
		rc = yb_err_set(err, YB_EAGAIN, "secret file '%s' cannot be read by this user",
				resolved);
		goto out;
	}
	struct yb_err why = { 0 };
	rc = yb_read_regular(real, max_bytes, YB_READ_NOFOLLOW | YB_READ_PRIVATE, out, out_len,
			     &why);
	if (rc < 0)
		yb_err_set(err, rc, "secret file '%s' is refused: %s", resolved, why.msg);
out:
	free(resolved);
	return rc;
}

int rb_secret_check(const struct rb_site *site, const char *path, bool *unverifiable,
		    struct yb_err *err)
{
	char *data = NULL;
	size_t len = 0;
	*unverifiable = false;
	int rc = rb_secret_read(site, path, RB_MAX_SECRET_BYTES, &data, &len, err);
	if (rc == YB_ENOENT || rc == YB_EAGAIN) {
		*unverifiable = true;
		rc = 0;
	}
	if (data) {
		memset(data, 0, len);
		free(data);
	}
	return rc;
}
