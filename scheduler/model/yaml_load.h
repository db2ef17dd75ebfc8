/*
 * yaml_load.h: a small YAML node tree with the line and column of every node, for the runbook
 * loader. yaml_load.c is the only file that includes yaml.h; the rest of the code sees
 * these plain structs. It needs only the diagnostics (diag.h), nothing of the runbook model.
 *
 * What is refused, each with a diagnostic naming file:line:col: syntax errors (libyaml's problem
 * mark), aliases (no "billion laughs": write the value out), more than one document, nesting
 * deeper than RB_MAX_DEPTH, more than RB_MAX_NODES nodes, files larger than RB_MAX_FILE_BYTES, and
 * non-scalar mapping keys. A duplicate key is reported (naming the first one's line) and the later
 * value dropped, so that the rest of the file can still be checked.
 *
 * Scalars stay text: the loader decides what a value means where it is used (YAML 1.1's "on" is
 * the string "on", never a boolean).
 */
#ifndef YB_YAML_LOAD_H
#define YB_YAML_LOAD_H

#include "diag.h"

/* Caps: a YAML file larger than this, or nested deeper, is refused with a diagnostic. */
#define RB_MAX_FILE_BYTES (4u << 20)
#define RB_MAX_DEPTH 64
#define RB_MAX_NODES 200000

enum yn_type { YN_SCALAR = 0, YN_SEQ, YN_MAP };

struct yn_pair;

struct yn_node {
	enum yn_type type;
	int line, col; /* 1-based */
	bool plain;    /* a plain (unquoted, non-block) scalar */
	char *text;    /* scalar: NUL-terminated (may hold NULs: len is the truth) */
	size_t len;
	struct yn_node **items; /* sequence */
	size_t n_items;
	struct yn_pair *pairs;  /* mapping, in file order, without duplicates */
	size_t n_pairs;
	size_t cap;             /* room in items or pairs */
};

struct yn_pair {
	struct yn_node *key; /* always a scalar */
	struct yn_node *value;
};

/* Parses data (a whole file, len bytes). *out is the document's root, or NULL for an empty file.
 * Returns 0, or YB_EINVAL with diagnostics (errors for every refused thing) in diags. Duplicate
 * keys are reported as errors but do not make the parse fail (the tree is still usable). */
int yn_parse(const char *file, const char *data, size_t len, struct yn_node **out,
	     struct rb_diags *diags);
void yn_free(struct yn_node *node);

/* A plain empty, "~" or "null" scalar (how YAML writes nothing). */
bool yn_is_null(const struct yn_node *node);
/* "a list", "a mapping", "nothing", "a number", "true/false", "a string": for "must be X, not Y". */
const char *yn_type_phrase(const struct yn_node *node);
/* The value under key in a mapping, or NULL. */
const struct yn_node *yn_get(const struct yn_node *map, const char *key);
const struct yn_pair *yn_get_pair(const struct yn_node *map, const char *key);

#endif
