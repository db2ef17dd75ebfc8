/*
 * runbook_priv.h: what runbook.c, config.c and plan.c share inside the yb_runbook module and
 * nobody else uses: the checking helpers that turn YAML nodes into typed values while reporting
 * every problem with its position, and the set-loading internals.
 *
 * Each rbx_* getter either stores a value and returns true, or reports "'what' must be ..., not
 * ..." at the node and returns false, leaving the output alone (so defaults survive).
 */
#ifndef YB_RUNBOOK_PRIV_H
#define YB_RUNBOOK_PRIV_H

#include "runbook.h"
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

/* Levenshtein distance, capped (returns cap+1 when larger). */
int rb_edit_distance(const char *a, const char *b, int cap);
/* The candidate closest to word if close enough to be a typo, else NULL. */
const char *rb_closest(const char *word, const char *const *cands, size_t n);

void rb_strv_free(char **v, size_t n);

/* runbook.c: parse one runbook and hand back its tree for the cross-file checks. */
int rb_runbook_parse_tree(const char *display_name, const char *data, size_t len,
			  struct rb_runbook **out, struct yn_node **tree, struct rb_diags *diags);
/* runbook.c: the checks that need the whole set (hosts, calendars, channels, rehearsals,
 * procedures). base_dir is the runbook file's folder for relative procedure paths. */
void rb_runbook_check_set(struct rb_set *set, struct rb_runbook *rb, const struct yn_node *tree,
			  struct rb_diags *diags);
/* runbook.c: after every runbook is in the set: duplicate names, rehearsal targets. */
void rb_set_check_names(struct rb_set *set, struct yn_node *const *trees, struct rb_diags *diags);

/* config.c: one site file from memory, checked and thrown away (for the fuzz target). */
enum rb_site_file { RB_FILE_SITE = 0, RB_FILE_INVENTORY, RB_FILE_CALENDAR };
int rb_site_file_parse(enum rb_site_file which, const char *display_name, const char *data,
		       size_t len, struct rb_diags *diags);

#endif
