/*
 * rbx.c: the helpers every parser of the model shares: getters that check a YAML node and
 * report what is wrong with it at its line and column, "did you mean" by edit distance, reading a
 * file into a tree with its problems as diagnostics, and path helpers.
 *
 * The one idea: a loader for people, not for machines. Each getter reports "'timeout' must be a
 * duration like '30m', not a list" and leaves the default in place, so that one pass over a file
 * finds everything wrong with it.
 */
#include "rbx.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "names.h"
#include "tz.h"

/* ---- did you mean ------------------------------------------------------------------------ */

size_t rb_strv_len(const char *const *v)
{
	size_t n = 0;
	while (v[n])
		n++;
	return n;
}

void rbx_did_you_mean(const char *word, const char *const *cands, size_t n, char *out,
		      size_t out_size)
{
	const char *c = yb_closest(word, cands, n);
	if (c)
		snprintf(out, out_size, " (did you mean '%s'?)", c);
	else
		out[0] = 0;
}

void rb_strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- checking helpers --------------------------------------------------------------------- */

void rbx_err(const struct rbx *x, const struct yn_node *at, const char *fmt, ...)
{
	char msg[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rb_diag_add(x->d, RB_SEV_ERROR, x->file, at ? at->line : 0, at ? at->col : 0, "%s", msg);
}

void rbx_keys(const struct rbx *x, const struct yn_node *map, const char *const *allowed,
	      const char *where)
{
	if (!map || map->type != YN_MAP)
		return;
	size_t n_allowed = rb_strv_len(allowed);
	for (size_t i = 0; i < map->n_pairs; i++) {
		const struct yn_node *k = map->pairs[i].key;
		bool known = false;
		for (size_t j = 0; j < n_allowed && !known; j++)
			known = !strcmp(k->text, allowed[j]);
		if (known)
			continue;
		const char *c = yb_closest(k->text, allowed, n_allowed);
		if (c) {
			rbx_err(x, k, "unknown key '%.80s'%s (did you mean '%s'?)", k->text, where, c);
		} else {
			char list[400] = "";
			size_t used = 0;
			for (size_t j = 0; j < n_allowed && used + 40 < sizeof(list); j++)
				used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
							 j ? ", " : "", allowed[j]);
			rbx_err(x, k, "unknown key '%.80s'%s (known keys: %s)", k->text, where, list);
		}
	}
}

bool rbx_require(const struct rbx *x, const struct yn_node *map, const char *key,
		 const char *where, const char *hint)
{
	if (yn_get_pair(map, key))
		return true;
	rbx_err(x, map, "missing required key '%s'%s%s", key, where, hint ? hint : "");
	return false;
}

bool rbx_is_map(const struct rbx *x, const struct yn_node *n, const char *what)
{
	if (n && n->type == YN_MAP)
		return true;
	rbx_err(x, n, "'%s' must be a mapping (key: value lines), not %s", what, yn_type_phrase(n));
	return false;
}

bool rbx_str(const struct rbx *x, const struct yn_node *n, const char *what, char **out)
{
	if (!n || n->type != YN_SCALAR) {
		rbx_err(x, n, "'%s' must be a string, not %s", what, yn_type_phrase(n));
		return false;
	}
	if (yn_is_null(n)) {
		rbx_err(x, n, "'%s' is empty: give it a value", what);
		return false;
	}
	free(*out);
	*out = xstrdup(n->text);
	return true;
}

bool rbx_scalar(const struct rbx *x, const struct yn_node *n, const char *what, const char *kind)
{
	if (n && n->type == YN_SCALAR && !yn_is_null(n))
		return true;
	rbx_err(x, n, "'%s' must be %s, not %s", what, kind, yn_type_phrase(n));
	return false;
}

bool rbx_int(const struct rbx *x, const struct yn_node *n, const char *what, int64_t min,
	     int64_t max, int64_t *out)
{
	if (!rbx_scalar(x, n, what, "a whole number"))
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(n->text, &end, 10);
	if (errno || end == n->text || *end || !n->plain) {
		rbx_err(x, n, "'%s' must be a whole number, not '%.60s'", what, n->text);
		return false;
	}
	if (v < min || v > max) {
		rbx_err(x, n, "'%s' must be between %lld and %lld, not %lld", what, (long long)min,
			(long long)max, v);
		return false;
	}
	*out = v;
	return true;
}

bool rbx_num(const struct rbx *x, const struct yn_node *n, const char *what, double min,
	     double max, double *out)
{
	if (!rbx_scalar(x, n, what, "a number"))
		return false;
	char *end;
	errno = 0;
	double v = strtod(n->text, &end);
	if (errno || end == n->text || *end || !n->plain || !isfinite(v) ||
	    strpbrk(n->text, "xXnNiI")) {
		rbx_err(x, n, "'%s' must be a number, not '%.60s'", what, n->text);
		return false;
	}
	if (v < min || v > max) {
		rbx_err(x, n, "'%s' must be between %g and %g, not %g", what, min, max, v);
		return false;
	}
	*out = v;
	return true;
}

bool rbx_bool(const struct rbx *x, const struct yn_node *n, const char *what, bool *out)
{
	if (n && n->type == YN_SCALAR && n->plain) {
		if (!strcmp(n->text, "true")) {
			*out = true;
			return true;
		}
		if (!strcmp(n->text, "false")) {
			*out = false;
			return true;
		}
	}
	if (n && n->type == YN_SCALAR && !yn_is_null(n))
		rbx_err(x, n, "'%s' must be true or false, not '%.60s'", what, n->text);
	else
		rbx_err(x, n, "'%s' must be true or false, not %s", what, yn_type_phrase(n));
	return false;
}

bool rbx_duration(const struct rbx *x, const struct yn_node *n, const char *what, int64_t *out)
{
	if (!rbx_scalar(x, n, what, "a duration like '30m'"))
		return false;
	int64_t ms;
	if (yb_parse_duration_ms(n->text, &ms, NULL) < 0) {
		rbx_err(x, n, "'%s': '%.60s' is not a duration (write it like '90s', '30m', '2h' or "
			      "'7d')", what, n->text);
		return false;
	}
	*out = ms;
	return true;
}

bool rbx_enum(const struct rbx *x, const struct yn_node *n, const char *what,
	      const char *const *names, int *out)
{
	size_t count = rb_strv_len(names);
	char list[300] = "";
	size_t used = 0;
	for (size_t i = 0; i < count && used + 40 < sizeof(list); i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
					 i ? (i + 1 == count ? " or " : ", ") : "", names[i]);
	if (!n || n->type != YN_SCALAR || yn_is_null(n)) {
		rbx_err(x, n, "'%s' must be one of %s, not %s", what, list, yn_type_phrase(n));
		return false;
	}
	for (size_t i = 0; i < count; i++)
		if (!strcmp(n->text, names[i])) {
			*out = (int)i;
			return true;
		}
	char hint[120];
	rbx_did_you_mean(n->text, names, count, hint, sizeof(hint));
	rbx_err(x, n, "'%s' must be %s, not '%.60s'%s", what, list, n->text, hint);
	return false;
}

bool rbx_strlist(const struct rbx *x, const struct yn_node *n, const char *what, char ***out,
		 size_t *n_out)
{
	if (!n || n->type != YN_SEQ) {
		rbx_err(x, n, "'%s' must be a list like [a, b], not %s", what, yn_type_phrase(n));
		return false;
	}
	bool ok = true;
	char **v = xcalloc(n->n_items + 1, sizeof(*v));
	size_t k = 0;
	for (size_t i = 0; i < n->n_items; i++) {
		const struct yn_node *it = n->items[i];
		if (it->type != YN_SCALAR || yn_is_null(it)) {
			rbx_err(x, it, "each entry of '%s' must be a string, not %s", what,
				yn_type_phrase(it));
			ok = false;
			continue;
		}
		v[k++] = xstrdup(it->text);
	}
	if (!ok) {
		rb_strv_free(v, k);
		return false;
	}
	rb_strv_free(*out, *n_out);
	*out = v;
	*n_out = k;
	return true;
}

static bool parse_ymd(const char *s, int *y, int *m, int *d)
{
	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
			return false;
	*y = atoi(s);
	*m = atoi(s + 5);
	*d = atoi(s + 8);
	return *y >= 1900 && *y <= 9999 && *m >= 1 && *m <= 12 && *d >= 1 &&
	       *d <= yb_days_in_month(*y, *m);
}

bool rbx_date(const struct rbx *x, const struct yn_node *n, const char *what, int64_t *out_days)
{
	if (!rbx_scalar(x, n, what, "a date like 2026-08-14"))
		return false;
	int y, m, d;
	if (!parse_ymd(n->text, &y, &m, &d)) {
		rbx_err(x, n, "'%s': '%.60s' is not a date (write it as YYYY-MM-DD, e.g. 2026-08-14)",
			what, n->text);
		return false;
	}
	*out_days = yb_days_from_civil(y, m, d);
	return true;
}

/* ---- files ------------------------------------------------------------------------------- */

int rb_read_file(const char *path, char **out, size_t *out_len, struct rb_diags *d)
{
	struct yb_err err = { 0 };
	int rc = yb_read_regular(path, RB_MAX_FILE_BYTES, 0, out, out_len, &err);
	if (rc == YB_ENOMEM)
		rb_diag_add(d, RB_SEV_ERROR, path, 0, 0, "file is larger than %u bytes: split it",
			    RB_MAX_FILE_BYTES);
	else if (rc < 0)
		rb_diag_add(d, RB_SEV_ERROR, path, 0, 0, "%s", err.msg);
	return rc;
}

int rb_read_tree(const char *path, const char *data, size_t len, struct yn_node **out,
		 struct rb_diags *d)
{
	if (data)
		return yn_parse(path, data, len, out, d);
	char *text = NULL;
	size_t n = 0;
	int rc = rb_read_file(path, &text, &n, d);
	if (rc < 0)
		return rc;
	rc = yn_parse(path, text, n, out, d);
	free(text);
	return rc;
}

/* ---- paths -------------------------------------------------------------------------------- */

char *rb_path_join(const char *dir, const char *name)
{
	if (!dir || name[0] == '/')
		return xstrdup(name);
	size_t n = strlen(dir);
	if (n && dir[n - 1] == '/')
		return xasprintf("%s%s", dir, name);
	return xasprintf("%s/%s", dir, name);
}

char *rb_dir_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

const char *rb_base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

bool rb_is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool rb_is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}
