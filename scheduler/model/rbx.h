/*
 * rbx.h: what every parser of the model shares (runbook.c, site.c, inventory.c,
 * calendar_file.c, set.c) and nobody outside the model uses: the getters that turn YAML nodes into
 * typed values while reporting every problem with its position, "did you mean", reading a file
 * into a tree with its problems as diagnostics, and small path helpers.
 *
 * Each rbx_* getter either stores a value and returns true, or reports "'what' must be ..., not
 * ..." at the node and returns false, leaving the output alone (so defaults survive).
 */
#ifndef YB_RBX_H
#define YB_RBX_H

#include "diag.h"
#include "names.h"
#include "yaml_load.h"

struct rbx {
	const char *file;
	struct rb_diags *d;
};

void rbx_err(const struct rbx *x, const struct yn_node *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Unknown keys of a mapping, each with "did you mean" or the list of known keys. where is ""
 * (top level) or a phrase like " in 'schedule'". */
void rbx_keys(const struct rbx *x, const struct yn_node *map, const char *const *allowed,
	      const char *where);
/* Reports the missing key at the mapping's position. */
bool rbx_require(const struct rbx *x, const struct yn_node *map, const char *key,
		 const char *where, const char *hint);
bool rbx_is_map(const struct rbx *x, const struct yn_node *n, const char *what);
/* A non-empty scalar, else "'what' must be KIND, not ..." */
bool rbx_scalar(const struct rbx *x, const struct yn_node *n, const char *what, const char *kind);
bool rbx_str(const struct rbx *x, const struct yn_node *n, const char *what, char **out);
bool rbx_int(const struct rbx *x, const struct yn_node *n, const char *what, int64_t min,
	     int64_t max, int64_t *out);
bool rbx_num(const struct rbx *x, const struct yn_node *n, const char *what, double min,
	     double max, double *out);
bool rbx_bool(const struct rbx *x, const struct yn_node *n, const char *what, bool *out);
bool rbx_duration(const struct rbx *x, const struct yn_node *n, const char *what, int64_t *out);
bool rbx_enum(const struct rbx *x, const struct yn_node *n, const char *what,
	      const char *const *names, int *out);
bool rbx_strlist(const struct rbx *x, const struct yn_node *n, const char *what, char ***out,
		 size_t *n_out);
/* "YYYY-MM-DD" -> days since 1970-01-01 */
bool rbx_date(const struct rbx *x, const struct yn_node *n, const char *what, int64_t *out_days);

/* " (did you mean 'x'?)" into out, or "": the candidate of yb_closest (names.h). */
void rbx_did_you_mean(const char *word, const char *const *cands, size_t n, char *out,
		      size_t out_size);

/* Entries of a NULL-terminated list. */
size_t rb_strv_len(const char *const *v);
void rb_strv_free(char **v, size_t n);

/* Reads a whole file (at most RB_MAX_FILE_BYTES); a problem is an error diagnostic on the file.
 * The result is NUL-terminated. */
int rb_read_file(const char *path, char **out, size_t *out_len, struct rb_diags *d);
/* The tree of a file: parsed from data when given (len bytes), else read from path. *out may be
 * NULL (an empty file). */
int rb_read_tree(const char *path, const char *data, size_t len, struct yn_node **out,
		 struct rb_diags *d);

/* Paths: name joined to dir (name itself when absolute or dir NULL); the folder of a path ("."
 * when none); the last component. */
char *rb_path_join(const char *dir, const char *name);
char *rb_dir_name(const char *path);
const char *rb_base_name(const char *path);
bool rb_is_dir(const char *path);
bool rb_is_file(const char *path);

#endif
