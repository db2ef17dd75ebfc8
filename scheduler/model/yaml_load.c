/*
 * yaml_load.c: YAML text -> a tree of struct yn_node, each with its line and column. This is the
 * only file that includes yaml.h.
 *
 * The one idea: libyaml hands us events (start mapping, scalar, end mapping...) and we build the
 * tree with an explicit stack, refusing on the way what a runbook never needs and a hostile file
 * could abuse: aliases (never expanded, so no "billion laughs"), deep nesting, too many nodes,
 * more than one document. Duplicate keys are found when a mapping ends, by sorting its keys, so a
 * mapping with many keys costs n log n, not n squared.
 */
#include "yaml_load.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct frame {
	struct yn_node *node;
	struct yn_node *pending_key; /* mapping: the key waiting for its value */
	bool skip_value;             /* mapping: the key was refused, drop its value */
};

struct builder {
	const char *file;
	struct rb_diags *diags;
	struct frame stack[RB_MAX_DEPTH + 1];
	int depth;
	size_t n_nodes;
	struct yn_node *root;
	bool have_root;
	bool failed; /* a hard error: stop */
};

static struct yn_node *node_new(enum yn_type type, const yaml_mark_t *mark)
{
	struct yn_node *n = xcalloc(1, sizeof(*n));
	n->type = type;
	n->line = (int)mark->line + 1;
	n->col = (int)mark->column + 1;
	return n;
}

void yn_free(struct yn_node *node)
{
	if (!node)
		return;
	free(node->text);
	for (size_t i = 0; i < node->n_items; i++)
		yn_free(node->items[i]);
	free(node->items);
	for (size_t i = 0; i < node->n_pairs; i++) {
		yn_free(node->pairs[i].key);
		yn_free(node->pairs[i].value);
	}
	free(node->pairs);
	free(node);
}

struct keyref {
	const struct yn_node *key;
	size_t index;
};

static int keyref_cmp(const void *a, const void *b)
{
	const struct keyref *x = a, *y = b;
	size_t n = x->key->len < y->key->len ? x->key->len : y->key->len;
	int c = memcmp(x->key->text, y->key->text, n);
	if (c)
		return c;
	if (x->key->len != y->key->len)
		return x->key->len < y->key->len ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Reports every key seen before in this mapping and drops the later pair. */
static void drop_duplicates(struct builder *b, struct yn_node *map)
{
	if (map->n_pairs < 2)
		return;
	struct keyref *refs = xcalloc(map->n_pairs, sizeof(*refs));
	bool *dup = xcalloc(map->n_pairs, sizeof(*dup));
	for (size_t i = 0; i < map->n_pairs; i++)
		refs[i] = (struct keyref){ map->pairs[i].key, i };
	qsort(refs, map->n_pairs, sizeof(*refs), keyref_cmp);
	size_t first = 0;
	for (size_t i = 1; i < map->n_pairs; i++) {
		if (refs[i].key->len == refs[first].key->len &&
		    !memcmp(refs[i].key->text, refs[first].key->text, refs[i].key->len)) {
			const struct yn_node *k = refs[i].key;
			rb_diag_add(b->diags, RB_SEV_ERROR, b->file, k->line, k->col,
				    "duplicate key '%s' (first at line %d): keep one of them", k->text,
				    refs[first].key->line);
			dup[refs[i].index] = true;
		} else {
			first = i;
		}
	}
	size_t kept = 0;
	for (size_t i = 0; i < map->n_pairs; i++) {
		if (dup[i]) {
			yn_free(map->pairs[i].key);
			yn_free(map->pairs[i].value);
		} else {
			map->pairs[kept++] = map->pairs[i];
		}
	}
	map->n_pairs = kept;
	free(refs);
	free(dup);
}

/* A finished node goes into its parent (or becomes the root). */
static void attach(struct builder *b, struct yn_node *n)
{
	if (b->depth == 0) {
		if (b->have_root)
			yn_free(n);
		else
			b->root = n, b->have_root = true;
		return;
	}
	struct frame *f = &b->stack[b->depth - 1];
	struct yn_node *parent = f->node;
	if (parent->type == YN_SEQ) {
		if (parent->n_items == parent->cap) {
			parent->cap = parent->cap ? 2 * parent->cap : 4;
			parent->items = xrealloc(parent->items, parent->cap * sizeof(*parent->items));
		}
		parent->items[parent->n_items++] = n;
		return;
	}
	if (!f->pending_key && !f->skip_value) {
		if (n->type != YN_SCALAR) {
			rb_diag_add(b->diags, RB_SEV_ERROR, b->file, n->line, n->col,
				    "a mapping key must be a plain name, not %s", yn_type_phrase(n));
			yn_free(n);
			f->skip_value = true;
			return;
		}
		f->pending_key = n;
		return;
	}
	if (f->skip_value) {
		f->skip_value = false;
		yn_free(n);
		return;
	}
	if (parent->n_pairs == parent->cap) {
		parent->cap = parent->cap ? 2 * parent->cap : 4;
		parent->pairs = xrealloc(parent->pairs, parent->cap * sizeof(*parent->pairs));
	}
	parent->pairs[parent->n_pairs++] = (struct yn_pair){ f->pending_key, n };
	f->pending_key = NULL;
}

/* An alias is refused (and reported): the pair or item it stands in is left out, so that the
 * rest of the file is checked without a cascade of "must be a list, not nothing". */
static void drop_alias(struct builder *b)
{
	if (b->depth == 0)
		return;
	struct frame *f = &b->stack[b->depth - 1];
	if (f->node->type != YN_MAP)
		return;
	if (f->pending_key) {
		yn_free(f->pending_key);
		f->pending_key = NULL;
	} else if (f->skip_value) {
		f->skip_value = false;
	} else {
		f->skip_value = true;
	}
}

static bool count_node(struct builder *b, const yaml_mark_t *mark)
{
	if (++b->n_nodes > RB_MAX_NODES) {
		rb_diag_add(b->diags, RB_SEV_ERROR, b->file, (int)mark->line + 1, (int)mark->column + 1,
			    "too many YAML nodes (more than %d): split the file", RB_MAX_NODES);
		b->failed = true;
		return false;
	}
	return true;
}

static void push(struct builder *b, struct yn_node *n)
{
	if (b->depth >= RB_MAX_DEPTH) {
		rb_diag_add(b->diags, RB_SEV_ERROR, b->file, n->line, n->col,
			    "nesting deeper than %d levels: flatten the file", RB_MAX_DEPTH);
		yn_free(n);
		b->failed = true;
		return;
	}
	b->stack[b->depth++] = (struct frame){ n, NULL, false };
}

static void pop(struct builder *b)
{
	BUG_ON(b->depth == 0);
	struct frame *f = &b->stack[--b->depth];
	if (f->pending_key) { /* cannot happen with a well-formed event stream */
		yn_free(f->pending_key);
		f->pending_key = NULL;
	}
	if (f->node->type == YN_MAP)
		drop_duplicates(b, f->node);
	attach(b, f->node);
}

static void syntax_error(struct builder *b, const yaml_parser_t *p, const char *data, size_t len)
{
	const yaml_mark_t *m = &p->problem_mark;
	const char *problem = p->problem ? p->problem : "unreadable YAML";
	char hint[160] = "";
	if (m->index < len && data[m->index] == '\t')
		snprintf(hint, sizeof(hint), " (YAML indents with spaces, not tabs)");
	else if (p->context)
		snprintf(hint, sizeof(hint), " (%s that starts at line %d)", p->context,
			 (int)p->context_mark.line + 1);
	if (p->error == YAML_READER_ERROR) {
		/* reader errors carry a byte offset, not a line */
		rb_diag_add(b->diags, RB_SEV_ERROR, b->file, 0, 0,
			    "invalid YAML: %s at byte %zu (the file must be UTF-8 text)", problem,
			    p->problem_offset);
		return;
	}
	rb_diag_add(b->diags, RB_SEV_ERROR, b->file, (int)m->line + 1, (int)m->column + 1,
		    "invalid YAML: %s%s", problem, hint);
}

int yn_parse(const char *file, const char *data, size_t len, struct yn_node **out,
	     struct rb_diags *diags)
{
	struct builder b = { .file = file, .diags = diags };
	size_t errors_before = diags->n_errors;
	yaml_parser_t parser;
	yaml_event_t ev;
	int n_docs = 0;
	bool done = false;
	int rc = 0;

	if (len > RB_MAX_FILE_BYTES) {
		rb_diag_add(diags, RB_SEV_ERROR, file, 0, 0, "file is larger than %u bytes: split it",
			    RB_MAX_FILE_BYTES);
		return YB_EINVAL;
	}
	if (!yaml_parser_initialize(&parser))
		BUG("yaml_parser_initialize failed");
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);

	while (!done && !b.failed) {
		if (!yaml_parser_parse(&parser, &ev)) {
			syntax_error(&b, &parser, data, len);
			b.failed = true;
			break;
		}
		struct yn_node *n;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++n_docs > 1) {
				rb_diag_add(diags, RB_SEV_ERROR, file, (int)ev.start_mark.line + 1,
					    (int)ev.start_mark.column + 1,
					    "a second YAML document: one file holds one document "
					    "(remove the '---' or split the file)");
				b.failed = true;
			}
			break;
		case YAML_SCALAR_EVENT:
			if (!count_node(&b, &ev.start_mark))
				break;
			n = node_new(YN_SCALAR, &ev.start_mark);
			n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			n->text = xstrndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
			n->len = ev.data.scalar.length;
			/* xstrndup stops at a NUL byte: keep len honest */
			n->len = strlen(n->text);
			attach(&b, n);
			break;
		case YAML_ALIAS_EVENT:
			if (!count_node(&b, &ev.start_mark))
				break;
			rb_diag_add(diags, RB_SEV_ERROR, file, (int)ev.start_mark.line + 1,
				    (int)ev.start_mark.column + 1,
				    "aliases ('*%s') are not supported: write the value out",
				    (const char *)ev.data.alias.anchor);
			drop_alias(&b);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (!count_node(&b, &ev.start_mark))
				break;
			n = node_new(ev.type == YAML_SEQUENCE_START_EVENT ? YN_SEQ : YN_MAP,
				     &ev.start_mark);
			push(&b, n);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			pop(&b);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);

	while (b.depth > 0) { /* unwind after a hard error */
		struct frame *f = &b.stack[--b.depth];
		yn_free(f->pending_key);
		yn_free(f->node);
	}
	if (b.failed) {
		yn_free(b.root);
		rc = YB_EINVAL;
		goto out;
	}
	(void)errors_before;
	*out = b.root;
out:
	return rc;
}

bool yn_is_null(const struct yn_node *n)
{
	if (!n)
		return true;
	if (n->type != YN_SCALAR || !n->plain)
		return false;
	return !strcmp(n->text, "") || !strcmp(n->text, "~") || !strcmp(n->text, "null") ||
	       !strcmp(n->text, "Null") || !strcmp(n->text, "NULL");
}

static bool looks_number(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (!*s)
		return false;
	bool digits = false, dot = false;
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9')
			digits = true;
		else if (*s == '.' && !dot)
			dot = true;
		else
			return false;
	}
	return digits;
}

const char *yn_type_phrase(const struct yn_node *n)
{
	if (yn_is_null(n))
		return "nothing";
	switch (n->type) {
	case YN_SEQ:
		return "a list";
	case YN_MAP:
		return "a mapping";
	case YN_SCALAR:
		break;
	}
	if (n->plain && looks_number(n->text))
		return "a number";
	if (n->plain && (!strcmp(n->text, "true") || !strcmp(n->text, "false")))
		return "true/false";
	return "a string";
}

const struct yn_pair *yn_get_pair(const struct yn_node *map, const char *key)
{
	if (!map || map->type != YN_MAP)
		return NULL;
	for (size_t i = 0; i < map->n_pairs; i++)
		if (!strcmp(map->pairs[i].key->text, key))
			return &map->pairs[i];
	return NULL;
}

const struct yn_node *yn_get(const struct yn_node *map, const char *key)
{
	const struct yn_pair *p = yn_get_pair(map, key);
	return p ? p->value : NULL;
}
