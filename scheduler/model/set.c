/*
 * set.c: loading a whole set: which files are read (the paths given, else the site's runbooks
 * folder), in what order (the site config, the inventory and calendars, then the runbooks), the
 * checks across files (hosts, calendars, channels, rehearsals, procedure documents, unique
 * names), and the lookups by name over the loaded set.
 *
 * The one idea: files are recognised by name and place, not by content. yoban.yaml is the site
 * config, inventory.yaml the inventory, a .yaml file under a calendars/ folder a calendar, and
 * every other .yaml/.yml a runbook. Each file is read once (by its real path) however it was
 * named.
 */
#include "runbook_priv.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tz.h"

#define MAX_WALK_DEPTH 16
/* A site with more files than this is refused with an error, never silently cut short. */
#define MAX_FILES 1000000
/* A procedure document (作業手順書) larger than this is refused. */
#define RB_MAX_PROCEDURE_BYTES (16u << 20)

/* ---- the set ------------------------------------------------------------------------------ */

/* The files found so far, in order, with a hash set of their real paths so that a file or
 * folder named twice (or reached twice through links) is taken once, in linear time even for a
 * site with 100,000 runbooks. */
struct file_list {
	char **display;
	char **real;
	size_t n, cap;
	size_t *slots; /* open addressing: index + 1 into real[], 0 empty */
	size_t n_slots;
	bool over; /* more than MAX_FILES were found; said once */
};

static size_t path_hash(const char *s)
{
	size_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static bool seen(const struct file_list *l, const char *real)
{
	if (!l->n_slots)
		return false;
	for (size_t i = path_hash(real) & (l->n_slots - 1);; i = (i + 1) & (l->n_slots - 1)) {
		if (!l->slots[i])
			return false;
		if (!strcmp(l->real[l->slots[i] - 1], real))
			return true;
	}
}

static void slots_insert(struct file_list *l, size_t index)
{
	size_t i = path_hash(l->real[index]) & (l->n_slots - 1);
	while (l->slots[i])
		i = (i + 1) & (l->n_slots - 1);
	l->slots[i] = index + 1;
}

static void file_list_add(struct file_list *l, const char *display, const char *real)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->display = xrealloc(l->display, l->cap * sizeof(char *));
		l->real = xrealloc(l->real, l->cap * sizeof(char *));
	}
	l->display[l->n] = xstrdup(display);
	l->real[l->n] = xstrdup(real);
	l->n++;
	if (l->n * 2 > l->n_slots) { /* keep the load under one half */
		free(l->slots);
		l->n_slots = l->n_slots ? l->n_slots * 4 : 64;
		l->slots = xcalloc(l->n_slots, sizeof(size_t));
		for (size_t i = 0; i < l->n; i++)
			slots_insert(l, i);
	} else {
		slots_insert(l, l->n - 1);
	}
}

static void file_list_release(struct file_list *l)
{
	rb_strv_free(l->display, l->n);
	rb_strv_free(l->real, l->n);
	free(l->slots);
	memset(l, 0, sizeof(*l));
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool yaml_name(const char *name)
{
	size_t n = strlen(name);
	return (n > 5 && !strcmp(name + n - 5, ".yaml")) || (n > 4 && !strcmp(name + n - 4, ".yml"));
}

/* Collects the YAML files under path (a file or a folder), sorted, into out. Folders already
 * walked (a symlink loop, a folder named twice) are walked once. */
static void load_inventory(struct rb_set *set, const char *path, const char *data, size_t len,
			   struct rb_diags *d)
{
	set->n_inventory_files++;
	rb_inventory_read(&set->inventory, path, data, len, d);
}

static void load_calendar(struct rb_set *set, const char *path, const char *data, size_t len,
			  struct rb_diags *d)
{
	set->n_calendar_files++;
	rb_calendar_read(&set->calendars, &set->n_calendars, path, data, len, d);
}

static void walk_dirs(const char *path, int depth, bool top, struct file_list *out,
		      struct file_list *dirs, struct rb_diags *d);

static void walk(const char *path, int depth, bool top, struct file_list *out,
		 struct rb_diags *d)
{
	struct file_list dirs = { 0 };
	walk_dirs(path, depth, top, out, &dirs, d);
	file_list_release(&dirs);
}

static void walk_dirs(const char *path, int depth, bool top, struct file_list *out,
		      struct file_list *dirs, struct rb_diags *d)
{
	char real[PATH_MAX];
	if (out->n >= MAX_FILES) {
		if (!out->over)
			rb_diag_add(d, RB_SEV_ERROR, path, 0, 0,
				    "more than %d YAML files: Yoban reads at most %d in one set "
				    "(remove old runbooks or split the site)", MAX_FILES, MAX_FILES);
		out->over = true;
		return;
	}
	if (!realpath(path, real)) {
		rb_diag_add(d, RB_SEV_ERROR, path, 0, 0, "cannot read: %s", strerror(errno));
		return;
	}
	if (!rb_is_dir(real)) {
		if (!rb_is_file(real)) {
			rb_diag_add(d, RB_SEV_ERROR, path, 0, 0, "not a regular file or folder");
			return;
		}
		if (top || yaml_name(path)) {
			if (!seen(out, real))
				file_list_add(out, path, real);
		}
		return;
	}
	if (depth > MAX_WALK_DEPTH || seen(dirs, real))
		return;
	file_list_add(dirs, path, real);
	DIR *dir = opendir(real);
	if (!dir) {
		rb_diag_add(d, RB_SEV_ERROR, path, 0, 0, "cannot open folder: %s", strerror(errno));
		return;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	size_t cap = 0;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = xrealloc(names, cap * sizeof(char *));
		}
		names[n++] = xstrdup(e->d_name);
	}
	closedir(dir);
	if (n)
		qsort(names, n, sizeof(char *), name_cmp);
	for (size_t i = 0; i < n; i++) {
		char *child = rb_path_join(path, names[i]);
		char creal[PATH_MAX];
		if (realpath(child, creal) && (rb_is_dir(creal) || yaml_name(names[i])))
			walk_dirs(child, depth + 1, false, out, dirs, d);
		free(child);
	}
	rb_strv_free(names, n);
}

static bool in_calendars_folder(const char *real)
{
	char *dir = rb_dir_name(real);
	bool yes = !strcmp(rb_base_name(dir), "calendars");
	free(dir);
	return yes;
}

void rb_set_free(struct rb_set *set)
{
	if (!set)
		return;
	rb_site_release(&set->site);
	rb_inventory_release(&set->inventory);
	for (size_t i = 0; i < set->n_calendars; i++)
		cal_release(&set->calendars[i]);
	free(set->calendars);
	for (size_t i = 0; i < set->n_runbooks; i++)
		rb_runbook_free(set->runbooks[i]);
	free(set->runbooks);
	for (size_t i = 0; i < set->n_context; i++)
		rb_runbook_free(set->context[i]);
	free(set->context);
	free(set->rb_slots);
	free(set);
}

/* ---- checks across the set ---------------------------------------------------------------- */

static void unknown_ref(struct rb_diags *d, const char *file, const struct yn_node *at,
			const char *what, const char *name, const char *const *cands, size_t n,
			const char *otherwise)
{
	const char *c = yb_closest(name, cands, n);
	if (c)
		rb_diag_add(d, RB_SEV_ERROR, file, at->line, at->col,
			    "unknown %s '%.80s' (did you mean '%s'?)", what, name, c);
	else
		rb_diag_add(d, RB_SEV_ERROR, file, at->line, at->col, "unknown %s '%.80s' (%s)",
			    what, name, otherwise);
}

static void check_hosts(struct rb_set *set, struct rb_runbook *rb, const struct yn_node *list,
			bool staging, struct rb_diags *d)
{
	if (!list || list->type != YN_SEQ)
		return;
	const char **names = xcalloc(set->inventory.n_hosts + 1, sizeof(*names));
	for (size_t i = 0; i < set->inventory.n_hosts; i++)
		names[i] = set->inventory.hosts[i].name;
	char otherwise[300];
	if (set->inventory.path)
		snprintf(otherwise, sizeof(otherwise), "add it to %s", set->inventory.path);
	else
		snprintf(otherwise, sizeof(otherwise),
			 "no inventory was loaded: give --config or put inventory.yaml beside "
			 "yoban.yaml");
	for (size_t i = 0; i < list->n_items; i++) {
		const struct yn_node *it = list->items[i];
		if (it->type != YN_SCALAR)
			continue;
		const struct rb_host *h = rb_set_host(set, it->text);
		if (!h) {
			unknown_ref(d, rb->path, it, "host", it->text, names, set->inventory.n_hosts,
				    otherwise);
		} else if (staging && h->environment != RB_ENV_STAGING) {
			rb_diag_add(d, RB_SEV_ERROR, rb->path, it->line, it->col,
				    "host '%s' is a production host: 'staging_hosts' takes hosts with "
				    "environment: staging", it->text);
		} else if (!staging && h->environment == RB_ENV_STAGING) {
			rb_diag_add(d, RB_SEV_ERROR, rb->path, it->line, it->col,
				    "host '%s' is a staging host: list it under 'staging_hosts'",
				    it->text);
		}
	}
	free(names);
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

/* Each step's secret files: resolved into the site's secrets folder (the step keeps the absolute
 * path) and checked by the folder's rule. */
static void check_secrets(struct rb_set *set, struct rb_runbook *rb, const struct yn_node *tree,
			  struct rb_diags *d)
{
	const struct yn_node *steps = yn_get(tree, "steps");
	for (size_t i = 0; i < rb->n_steps && steps && i < steps->n_items; i++) {
		struct rb_step *s = &rb->steps[i];
		const struct yn_node *map = yn_get(steps->items[i], "secrets");
		for (size_t k = 0; k < s->n_secrets; k++) {
			const struct yn_node *at = yn_get(map, s->secrets[k].name);
			int line = at ? at->line : s->pos.line, col = at ? at->col : s->pos.col;
			struct yb_err err = { 0 };
			char *path = NULL;
			bool unverifiable = false;
			if (rb_secret_resolve(&set->site, s->secrets[k].value, &path, &err) < 0) {
				rb_diag_add(d, RB_SEV_ERROR, rb->path, line, col, "%s", err.msg);
				continue;
			}
			free(s->secrets[k].value);
			s->secrets[k].value = path;
			if (rb_secret_check(&set->site, path, &unverifiable, &err) < 0)
				rb_diag_add(d, RB_SEV_ERROR, rb->path, line, col, "%s", err.msg);
		}
	}
}

static void check_runbook(struct rb_set *set, struct rb_runbook *rb, const struct yn_node *tree,
			  struct rb_diags *d)
{
	const struct yn_node *t = yn_get(tree, "targets");
	check_hosts(set, rb, yn_get(t, "hosts"), false, d);
	check_hosts(set, rb, yn_get(t, "staging_hosts"), true, d);

	const struct yn_node *sched = yn_get(tree, "schedule");
	const struct yn_node *cal = yn_get(sched, "calendar");
	if (rb->calendar_name && cal) {
		const struct calendar *c = rb_set_calendar(set, rb->calendar_name);
		if (c) {
			rb->schedule.cal = c;
		} else {
			const char **names = xcalloc(set->n_calendars + 2, sizeof(*names));
			for (size_t i = 0; i < set->n_calendars; i++)
				names[i] = set->calendars[i].name;
			names[set->n_calendars] = "jp";
			unknown_ref(d, rb->path, cal, "calendar", rb->calendar_name, names,
				    set->n_calendars + 1,
				    "site calendars live in calendars/*.yaml beside yoban.yaml; 'jp' is "
				    "the built-in national one");
			free(names);
		}
	}
	if (rb->timezone_defaulted && set->site.default_timezone &&
	    strcmp(set->site.default_timezone, rb->timezone)) {
		const struct tz *zone;
		if (tz_load(set->site.default_timezone, &zone, NULL) == 0) {
			free(rb->timezone);
			rb->timezone = xstrdup(set->site.default_timezone);
			rb->schedule.zone = zone;
		}
	}

	const struct yn_pair *sp = yn_get_pair(tree, "schedule");
	if (sp && rb->n_channels == 0 && set->site.n_default_channels == 0)
		rb_diag_add(d, RB_SEV_WARNING, rb->path, sp->key->line, sp->key->col,
			    "'%s' runs unattended but notifies nobody: add notify.channels so that a "
			    "failure reaches a person", rb->name);

	const struct yn_node *ch = yn_get(yn_get(tree, "notify"), "channels");
	if (ch && ch->type == YN_SEQ) {
		const char **names = xcalloc(set->site.n_channels + 1, sizeof(*names));
		for (size_t i = 0; i < set->site.n_channels; i++)
			names[i] = set->site.channels[i].name;
		for (size_t i = 0; i < ch->n_items; i++) {
			const struct yn_node *it = ch->items[i];
			if (it->type == YN_SCALAR && !rb_set_channel(set, it->text))
				unknown_ref(d, rb->path, it, "notify channel", it->text, names,
					    set->site.n_channels,
					    "define it under notify.channels in yoban.yaml");
		}
		free(names);
	}

	const struct yn_node *steps = yn_get(tree, "steps");
	for (size_t i = 0; steps && steps->type == YN_SEQ && i < steps->n_items; i++) {
		const struct yn_node *dest = yn_get(yn_get(steps->items[i], "offsite"), "destination");
		const struct yn_node *host = yn_get(dest, "host");
		if (host && host->type == YN_SCALAR && !rb_set_host(set, host->text)) {
			const char **names = xcalloc(set->inventory.n_hosts + 1, sizeof(*names));
			for (size_t k = 0; k < set->inventory.n_hosts; k++)
				names[k] = set->inventory.hosts[k].name;
			unknown_ref(d, rb->path, host, "host", host->text, names,
				    set->inventory.n_hosts, "add the off-site host to the inventory");
			free(names);
		}
	}

	check_secrets(set, rb, tree, d);

	const struct yn_node *proc = yn_get(yn_get(tree, "approval"), "procedure");
	if (rb->procedure && proc) {
		char *dir = dir_of(rb->path);
		char *path = rb->procedure[0] == '/' ? xstrdup(rb->procedure)
						     : xasprintf("%s/%s", dir, rb->procedure);
		char *text = NULL;
		size_t len = 0;
		struct yb_err err = { 0 };
		if (yb_read_regular(path, RB_MAX_PROCEDURE_BYTES, 0, &text, &len, &err) < 0) {
			rb_diag_add(d, RB_SEV_ERROR, rb->path, proc->line, proc->col,
				    "procedure document '%s' cannot be read (%s)%s", rb->procedure,
				    err.msg, err.code == YB_ENOENT ? ": paths are relative to the "
								     "runbook's folder" : "");
			free(path);
		} else {
			yb_sha256_hex(text, len, rb->procedure_sha256);
			free(rb->procedure_path);
			rb->procedure_path = path;
			if (len == 0)
				rb_diag_add(d, RB_SEV_ERROR, rb->path, proc->line, proc->col,
					    "procedure document '%s' is empty: write the procedure "
					    "(作業手順書) first", rb->procedure);
		}
		free(text);
		free(dir);
	}
}

struct named_at {
	const struct rb_runbook *rb;
	size_t index; /* place in load order */
};

static int named_at_cmp(const void *a, const void *b)
{
	const struct named_at *x = a, *y = b;
	int c = strcmp(x->rb->name, y->rb->name);
	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

static void check_names(struct rb_set *set, struct yn_node *const *trees, struct rb_diags *d)
{
	size_t n_names = set->n_runbooks + set->n_context;
	const char **names = xcalloc(n_names + 1, sizeof(*names));
	for (size_t i = 0; i < set->n_runbooks; i++)
		names[i] = set->runbooks[i]->name;
	for (size_t i = 0; i < set->n_context; i++)
		names[set->n_runbooks + i] = set->context[i]->name;
	/* Duplicate names: sorted by (name, load order), each later one points at the first. */
	struct named_at *by_name = xcalloc(set->n_runbooks + 1, sizeof(*by_name));
	for (size_t i = 0; i < set->n_runbooks; i++)
		by_name[i] = (struct named_at){ set->runbooks[i], i };
	qsort(by_name, set->n_runbooks, sizeof(*by_name), named_at_cmp);
	for (size_t i = 1, first = 0; i < set->n_runbooks; i++) {
		const struct rb_runbook *o = by_name[first].rb, *rb = by_name[i].rb;
		if (strcmp(o->name, rb->name)) {
			first = i;
			continue;
		}
		rb_diag_add(d, RB_SEV_ERROR, rb->path, rb->pos.line, rb->pos.col,
			    "runbook name '%s' is already used by %s:%d:%d: names must be "
			    "unique, rename one of them", rb->name, o->path, o->pos.line, o->pos.col);
	}
	free(by_name);
	for (size_t i = 0; i < set->n_runbooks; i++) {
		struct rb_runbook *rb = set->runbooks[i];
		if (rb->kind != RB_KIND_REHEARSAL || !rb->rehearse)
			continue;
		const struct yn_node *at = yn_get(trees[i], "rehearse");
		const struct rb_runbook *target = rb_set_runbook(set, rb->rehearse);
		if (!target) {
			names[i] = NULL; /* never suggest itself */
			unknown_ref(d, rb->path, at, "runbook", rb->rehearse, names, n_names,
				    "'rehearse' names a runbook beside it or in the site's runbooks "
				    "folder");
			names[i] = rb->name;
		} else if (target->kind == RB_KIND_REHEARSAL) {
			rb_diag_add(d, RB_SEV_ERROR, rb->path, at->line, at->col,
				    "'%s' is itself a rehearsal: rehearse the runbook it rehearses",
				    rb->rehearse);
		} else if (target->n_staging_hosts == 0) {
			rb_diag_add(d, RB_SEV_ERROR, rb->path, at->line, at->col,
				    "'%s' has no staging hosts to rehearse on: add "
				    "targets.staging_hosts to %s", rb->rehearse, target->path);
		} else {
			rb->rehearse_target = target;
		}
	}
	free(names);
}

/* ---- loading ----------------------------------------------------------------------------- */

/* The name index rb_set_runbook uses: the first runbook of each name wins, as in a scan. */
static void set_index(struct rb_set *set)
{
	free(set->rb_slots);
	set->n_rb_slots = 64;
	while (set->n_rb_slots < 2 * set->n_runbooks)
		set->n_rb_slots *= 2;
	set->rb_slots = xcalloc(set->n_rb_slots, sizeof(*set->rb_slots));
	for (size_t k = 0; k < set->n_runbooks; k++) {
		const char *name = set->runbooks[k]->name;
		if (!name)
			continue;
		size_t i = path_hash(name) & (set->n_rb_slots - 1);
		while (set->rb_slots[i] && strcmp(set->runbooks[set->rb_slots[i] - 1]->name, name))
			i = (i + 1) & (set->n_rb_slots - 1);
		if (!set->rb_slots[i])
			set->rb_slots[i] = k + 1;
	}
}

static bool wanted_by_rehearsal(const struct rb_set *set, const char *name)
{
	if (rb_set_runbook(set, name))
		return false;
	for (size_t i = 0; i < set->n_runbooks; i++)
		if (set->runbooks[i]->rehearse && !strcmp(set->runbooks[i]->rehearse, name))
			return true;
	return false;
}

/* Looks for the runbooks that given rehearsals name but that were not given, in the site's
 * runbooks folder and beside the given files. They are parsed quietly: their own problems are
 * reported when they are validated themselves. */
static void load_context(struct rb_set *set, const struct rb_load_opts *opts,
			 const struct file_list *given)
{
	bool any = false;
	for (size_t i = 0; i < set->n_runbooks && !any; i++)
		any = set->runbooks[i]->rehearse && wanted_by_rehearsal(set, set->runbooks[i]->rehearse);
	if (!any)
		return;
	struct file_list cands = { 0 };
	struct rb_diags quiet;
	rb_diags_init(&quiet);
	if (set->site.path && rb_is_dir(set->site.runbooks_dir))
		walk(set->site.runbooks_dir, 1, false, &cands, &quiet);
	for (size_t i = 0; i < opts->n_paths; i++) {
		char *dir = rb_is_dir(opts->paths[i]) ? NULL : rb_dir_name(opts->paths[i]);
		if (dir)
			walk(dir, MAX_WALK_DEPTH, false, &cands, &quiet);
		free(dir);
	}
	for (size_t i = 0; i < cands.n; i++) {
		if (seen(given, cands.real[i]))
			continue;
		char *data = NULL;
		size_t len = 0;
		if (yb_read_regular(cands.display[i], RB_MAX_FILE_BYTES, 0, &data, &len, NULL) < 0)
			continue;
		struct rb_runbook *rb = NULL;
		/* all of them: the wanted ones are found, the others offered as "did you mean" */
		if (rb_runbook_parse(cands.display[i], data, len, &rb, &quiet) == 0 &&
		    !rb_set_runbook(set, rb->name)) {
			set->context = xrealloc(set->context, (set->n_context + 1) * sizeof(*set->context));
			set->context[set->n_context++] = rb;
		} else {
			rb_runbook_free(rb);
		}
		free(data);
	}
	rb_diags_release(&quiet);
	file_list_release(&cands);
}

int rb_set_load(const struct rb_load_opts *opts, struct rb_set **out, struct rb_diags *diags)
{
	struct rb_set *set = xcalloc(1, sizeof(*set));
	struct file_list files = { 0 }, done = { 0 };
	struct yn_node **trees = NULL;
	struct rb_diags cross;
	char real[PATH_MAX];
	size_t errors_before = diags->n_errors;
	int rc = 0;

	rb_diags_init(&cross);

	/* 1. the site config */
	if (opts->config_path) {
		rb_site_read(opts->config_path, NULL, 0, &set->site, diags);
		set->n_site_files = 1;
		if (realpath(opts->config_path, real))
			file_list_add(&done, opts->config_path, real);
	} else {
		rb_site_defaults(&set->site, NULL);
	}

	/* 2. which files: the given paths, else the site's runbooks folder */
	if (opts->n_paths) {
		for (size_t i = 0; i < opts->n_paths; i++)
			walk(opts->paths[i], 0, true, &files, diags);
	} else if (!opts->no_runbooks && rb_is_dir(set->site.runbooks_dir)) {
		walk(set->site.runbooks_dir, 0, true, &files, diags);
	}

	/* 3. the inventory and calendars named by the site, then those among the files */
	/* one that is there but not a regular file (a FIFO) is read, and refused, not skipped */
	if (set->site.inventory_path && realpath(set->site.inventory_path, real) && !rb_is_dir(real)) {
		file_list_add(&done, set->site.inventory_path, real);
		load_inventory(set, set->site.inventory_path, NULL, 0, diags);
	} else if (set->site.path && set->site.inventory_path && opts->config_path) {
		/* a default that is not there is fine; one that was written must exist */
	}
	if (set->site.calendars_dir && rb_is_dir(set->site.calendars_dir)) {
		struct file_list cals = { 0 };
		walk(set->site.calendars_dir, 1, false, &cals, diags);
		for (size_t i = 0; i < cals.n; i++)
			if (!seen(&done, cals.real[i])) {
				file_list_add(&done, cals.display[i], cals.real[i]);
				load_calendar(set, cals.display[i], NULL, 0, diags);
			}
		file_list_release(&cals);
	}
	for (size_t i = 0; i < files.n; i++) {
		if (seen(&done, files.real[i]))
			continue;
		const char *base = rb_base_name(files.real[i]);
		if (!strcmp(base, "inventory.yaml") || !strcmp(base, "inventory.yml")) {
			file_list_add(&done, files.display[i], files.real[i]);
			load_inventory(set, files.display[i], NULL, 0, diags);
		} else if (in_calendars_folder(files.real[i])) {
			file_list_add(&done, files.display[i], files.real[i]);
			load_calendar(set, files.display[i], NULL, 0, diags);
		} else if (!strcmp(base, "yoban.yaml") || !strcmp(base, "yoban.yml")) {
			/* another site config: checked, counted, not used */
			struct rb_site other = { 0 };
			file_list_add(&done, files.display[i], files.real[i]);
			rb_site_read(files.display[i], NULL, 0, &other, diags);
			rb_site_release(&other);
			set->n_site_files++;
		}
	}

	/* 4. the runbooks */
	trees = xcalloc(files.n + 1, sizeof(*trees));
	set->runbooks = xcalloc(files.n + 1, sizeof(*set->runbooks));
	for (size_t i = 0; i < files.n && !opts->no_runbooks; i++) {
		if (seen(&done, files.real[i]))
			continue;
		char *data = NULL;
		size_t len = 0;
		if (rb_read_file(files.display[i], &data, &len, diags) < 0)
			continue;
		struct rb_runbook *rb = NULL;
		struct yn_node *tree = NULL;
		if (rb_runbook_parse_tree(files.display[i], data, len, &rb, &tree, diags) == 0) {
			/* The checks against the site's hosts, calendars and channels need the tree;
			 * run them now so that the tree goes at once (a rehearsal's stays for step 5).
			 * Their problems wait in cross so that the order (and what the cap keeps) is
			 * the same as when every file is parsed first. */
			check_runbook(set, rb, tree, &cross);
			if (rb->kind == RB_KIND_REHEARSAL && rb->rehearse) {
				trees[set->n_runbooks] = tree;
			} else {
				yn_free(tree);
			}
			set->runbooks[set->n_runbooks++] = rb;
			if (opts->keep_bytes) {
				rb->bytes = xrealloc(data, len + 1);
				rb->n_bytes = len;
				data = NULL;
			}
		}
		free(data);
	}
	rb_diags_append(diags, &cross);
	set_index(set);

	/* 4b. a rehearsal among the given files may name a runbook that was not given */
	if (opts->n_paths)
		load_context(set, opts, &files);

	/* 5. the checks across files */
	check_names(set, trees, diags);
	for (size_t i = 0; i < set->site.n_maintenance; i++) {
		const struct rb_maintenance *m = &set->site.maintenance[i];
		for (size_t k = 0; k < m->n_runbooks && opts->n_paths == 0 && !opts->no_runbooks; k++)
			if (!rb_set_runbook(set, m->runbooks[k]))
				rb_diag_add(diags, RB_SEV_ERROR, set->site.path, m->pos.line, m->pos.col,
					    "maintenance window '%s' names unknown runbook '%s'",
					    m->name ? m->name : "", m->runbooks[k]);
	}

	rb_diags_sort(diags);
	if (diags->n_errors > errors_before)
		rc = YB_EINVAL;
	for (size_t i = 0; i < set->n_runbooks; i++)
		yn_free(trees[i]);
	free(trees);
	file_list_release(&files);
	file_list_release(&done);
	if (rc < 0)
		rb_set_free(set);
	else
		*out = set;
	return rc;
}

/* ---- lookups ------------------------------------------------------------------------------ */

const struct rb_host *rb_set_host(const struct rb_set *set, const char *name)
{
	return rb_inventory_host(&set->inventory, name);
}

const struct calendar *rb_set_calendar(const struct rb_set *set, const char *name)
{
	for (size_t i = 0; i < set->n_calendars; i++)
		if (!strcmp(set->calendars[i].name, name))
			return &set->calendars[i];
	return cal_builtin(name);
}

const struct rb_runbook *rb_set_runbook(const struct rb_set *set, const char *name)
{
	if (set->n_rb_slots) {
		for (size_t i = path_hash(name) & (set->n_rb_slots - 1); set->rb_slots[i];
		     i = (i + 1) & (set->n_rb_slots - 1))
			if (!strcmp(set->runbooks[set->rb_slots[i] - 1]->name, name))
				return set->runbooks[set->rb_slots[i] - 1];
	} else {
		for (size_t i = 0; i < set->n_runbooks; i++)
			if (set->runbooks[i]->name && !strcmp(set->runbooks[i]->name, name))
				return set->runbooks[i];
	}
	for (size_t i = 0; i < set->n_context; i++)
		if (!strcmp(set->context[i]->name, name))
			return set->context[i];
	return NULL;
}

const struct rb_channel *rb_set_channel(const struct rb_set *set, const char *name)
{
	for (size_t i = 0; i < set->site.n_channels; i++)
		if (!strcmp(set->site.channels[i].name, name))
			return &set->site.channels[i];
	return NULL;
}

/* ---- for commands about one runbook ------------------------------------------------------- */

int rb_cli_load_one(const char *config, const char *path, struct rb_set **set_out,
		    const struct rb_runbook **rb_out)
{
	char *config_path = NULL;
	struct yb_err err = { 0 };
	struct rb_diags diags;
	struct rb_set *set = NULL;
	int status = 0;

	rb_diags_init(&diags);
	if (rb_config_find(config, path, &config_path, &err) < 0) {
		fprintf(stderr, "yoban: error: %s\n", err.msg);
		status = 2;
		goto out;
	}
	const char *paths[1] = { path };
	size_t n_paths = 1;
	struct rb_load_opts lo = { .config_path = config_path, .paths = paths, .n_paths = n_paths };
	int rc = rb_set_load(&lo, &set, &diags);
	rb_diags_print(&diags, stderr);
	if (rc < 0) {
		status = 1;
		goto out;
	}
	const struct rb_runbook *rb = set->n_runbooks ? set->runbooks[0] : NULL;
	if (!rb || rb->kind > RB_KIND_REHEARSAL) {
		fprintf(stderr, "yoban: error: '%s' holds no runbook (it is a site file)\n", path);
		rb_set_free(set);
		status = 1;
		goto out;
	}
	*set_out = set;
	*rb_out = rb;
out:
	rb_diags_release(&diags);
	free(config_path);
	return status;
}

/* ---- for the fuzz target ------------------------------------------------------------------ */

int rb_site_file_parse(enum rb_site_file which, const char *display_name, const char *data,
		       size_t len, struct rb_diags *diags)
{
	size_t before = diags->n_errors;
	struct rb_set *set = xcalloc(1, sizeof(*set));
	switch (which) {
	case RB_FILE_SITE:
		rb_site_read(display_name, data, len, &set->site, diags);
		break;
	case RB_FILE_INVENTORY:
		rb_site_defaults(&set->site, NULL);
		load_inventory(set, display_name, data, len, diags);
		break;
	case RB_FILE_CALENDAR:
		rb_site_defaults(&set->site, NULL);
		load_calendar(set, display_name, data, len, diags);
		break;
	}
	rb_set_free(set);
	return diags->n_errors > before ? YB_EINVAL : 0;
}
