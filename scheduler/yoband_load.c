/*
 * yoband_load.c: the runbooks the daemon schedules, their revisions, and the timer heap.
 *
 * The one idea: a reload never makes things worse. The whole set is loaded first; when it does not
 * validate, the site config and inventory are loaded alone and then each runbook file on its own,
 * so one broken file keeps its previous revision scheduled (its error is logged and written to the
 * audit table as 'runbook:invalid') while the others move on. Runs hold their own revision, so a
 * reload never changes a run in flight.
 */
#include "yoband.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tz.h"

/* ---- references -------------------------------------------------------------------------- */

void yd_set_unref(struct yd_set *s)
{
	if (s && --s->refs == 0) {
		rb_set_free(s->set);
		free(s);
	}
}

struct yd_rev *yd_rev_ref(struct yd_rev *r)
{
	r->refs++;
	return r;
}

void yd_rev_unref(struct yd_rev *r)
{
	if (!r || --r->refs > 0)
		return;
	if (r->set)
		yd_set_unref(r->set);
	if (r->owned)
		rb_runbook_free(r->owned);
	free(r->name);
	free(r->content);
	free(r);
}

int yd_rev_record(struct yd *d, struct yd_rev *r)
{
	if (r->id > 0)
		return 0;
	char *hex = yd_bytea_hex(r->content, r->content_len);
	const char *p[] = { r->name, hex };
	char *v = yd_value(d, "SELECT yoban.yoban_record_revision($1, $2::bytea)", 2, p);
	free(hex);
	if (!v)
		return YB_EDB;
	r->id = strtoll(v, NULL, 10);
	free(v);
	yd_log("revision %lld of runbook '%s' recorded (sha256 %.12s)", (long long)r->id, r->name, r->sha256);
	return 0;
}

struct yd_rev *yd_rev_by_id(struct yd *d, int64_t id, const char *runbook, struct yb_err *err)
{
	for (size_t i = 0; i < d->n_entries; i++)
		if (d->entries[i]->rev->id == id)
			return yd_rev_ref(d->entries[i]->rev);
	char idtext[24];
	snprintf(idtext, sizeof(idtext), "%lld", (long long)id);
	const char *p[] = { idtext };
	struct db_result *res = NULL;
	struct yd_rev *r = NULL;
	if (yd_exec(d, "SELECT runbook, sha256, encode(content, 'hex') FROM yoban.runbook_revisions "
		       "WHERE id = $1::bigint", 1, p, &res, err) < 0)
		return NULL;
	if (db_result_rows(res) != 1) {
		yb_err_set(err, YB_ENOENT, "revision %lld of runbook '%s' is not in the database",
			   (long long)id, runbook);
		goto out;
	}
	const char *hex = db_result_get(res, 0, 2);
	size_t len = strlen(hex) / 2;
	char *content = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		content[i] = (char)v;
	}
	content[len] = 0;
	struct rb_diags diags;
	rb_diags_init(&diags);
	struct rb_runbook *rb = NULL;
	char *display = xasprintf("%s (revision %lld)", runbook, (long long)id);
	if (rb_runbook_parse(display, content, len, &rb, &diags) < 0) {
		rb_diags_to_err(&diags, err);
		free(content);
	} else {
		r = xcalloc(1, sizeof(*r));
		r->refs = 1;
		r->id = id;
		r->name = xstrdup(db_result_get(res, 0, 0));
		snprintf(r->sha256, sizeof(r->sha256), "%s", db_result_get(res, 0, 1));
		r->content = content;
		r->content_len = len;
		r->owned = rb;
		r->rb = rb;
	}
	free(display);
	rb_diags_release(&diags);
out:
	db_result_free(res);
	return r;
}

const struct rb_host *yd_host(struct yd *d, const char *name)
{
	return d->base ? rb_set_host(d->base->set, name) : NULL;
}

/* ---- the heap of next fires ---------------------------------------------------------------- */

static void heap_swap(struct yd *d, size_t a, size_t b)
{
	struct yd_entry *t = d->heap[a];
	d->heap[a] = d->heap[b];
	d->heap[b] = t;
	d->heap[a]->heap_idx = (int)a;
	d->heap[b]->heap_idx = (int)b;
}

static void heap_sift(struct yd *d, size_t i)
{
	while (i > 0 && d->heap[(i - 1) / 2]->next_fire > d->heap[i]->next_fire) {
		heap_swap(d, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < d->n_heap && d->heap[l]->next_fire < d->heap[m]->next_fire)
			m = l;
		if (r < d->n_heap && d->heap[r]->next_fire < d->heap[m]->next_fire)
			m = r;
		if (m == i)
			break;
		heap_swap(d, i, m);
		i = m;
	}
}

static void heap_remove(struct yd *d, struct yd_entry *e)
{
	if (e->heap_idx < 0)
		return;
	size_t i = (size_t)e->heap_idx;
	heap_swap(d, i, d->n_heap - 1);
	d->n_heap--;
	e->heap_idx = -1;
	if (i < d->n_heap)
		heap_sift(d, i);
}

/* Recomputes e->next_fire from its cursor and puts it in its place. */
void yd_heap_update(struct yd *d, struct yd_entry *e)
{
	struct yb_err err = { 0 };
	int64_t next = INT64_MAX;
	const struct rb_runbook *rb = e->rev->rb;
	if (rb->has_schedule && sched_next(&rb->schedule, e->cursor, &next, &err) < 0) {
		yd_log("runbook '%s' has no next fire: %s", e->name, err.msg);
		next = INT64_MAX;
	}
	e->next_fire = next;
	if (next == INT64_MAX) {
		heap_remove(d, e);
		return;
	}
	if (e->heap_idx < 0) {
		d->heap = xrealloc(d->heap, (d->n_heap + 1) * sizeof(*d->heap));
		d->heap[d->n_heap] = e;
		e->heap_idx = (int)d->n_heap++;
	}
	heap_sift(d, (size_t)e->heap_idx);
}

struct yd_entry *yd_heap_top(struct yd *d)
{
	return d->n_heap ? d->heap[0] : NULL;
}

/* ---- entries ----------------------------------------------------------------------------- */

struct yd_entry *yd_entry_find(struct yd *d, const char *name)
{
	for (size_t i = 0; i < d->n_entries; i++)
		if (!strcmp(d->entries[i]->name, name))
			return d->entries[i];
	return NULL;
}

static void entry_free(struct yd_entry *e)
{
	yd_rev_unref(e->rev);
	free(e->name);
	free(e->path);
	free(e->error);
	free(e);
}

void yd_entries_free(struct yd *d)
{
	for (size_t i = 0; i < d->n_entries; i++)
		entry_free(d->entries[i]);
	free(d->entries);
	free(d->heap);
	d->entries = NULL;
	d->heap = NULL;
	d->n_entries = d->n_heap = 0;
}

/* Writes a reload problem where `yoban status` can show it (when connected). */
static void audit(struct yd *d, const char *action, struct yb_json *detail)
{
	char *text = yb_json_dump(detail, 0);
	yb_json_free(detail);
	if (d->db && !d->db_broken) {
		const char *p[] = { action, text };
		yd_exec(d, "INSERT INTO yoban.audit (action, detail) VALUES ($1, $2::jsonb)", 2, p, NULL,
			NULL);
	}
	free(text);
}

/* Takes the runbook rb of set s (read from path) as the newest revision of its entry. */
static void adopt(struct yd *d, struct yd_set *s, const struct rb_runbook *rb)
{
	struct yb_err err = { 0 };
	char *content = NULL;
	size_t len = 0;
	char sha[YB_SHA256_HEX_LEN];
	if (yb_read_file(rb->path, RB_MAX_FILE_BYTES, &content, &len, &err) < 0) {
		yd_log("runbook '%s': %s (previous revision kept)", rb->name, err.msg);
		return;
	}
	yb_sha256_hex(content, len, sha);
	if (strcmp(sha, rb->revision)) {
		yd_log("runbook '%s': '%s' changed while it was loaded; it is read again on the next reload",
		       rb->name, rb->path);
		free(content);
		return;
	}
	struct yd_entry *e = yd_entry_find(d, rb->name);
	if (e && !strcmp(e->rev->sha256, sha)) {
		/* Same bytes, same revision (and id); but the set moves on, since a calendar or the
		 * site's time zone may have changed: a new object for the timers, runs keep theirs. */
		e->seen = true;
		free(e->error);
		e->error = NULL;
		if (e->rev->set == s) {
			free(content);
			return;
		}
		struct yd_rev *r = xcalloc(1, sizeof(*r));
		r->refs = 1;
		r->id = e->rev->id;
		r->name = xstrdup(rb->name);
		memcpy(r->sha256, sha, sizeof(sha));
		r->content = content;
		r->content_len = len;
		r->set = s;
		s->refs++;
		r->rb = rb;
		yd_rev_unref(e->rev);
		e->rev = r;
		free(e->path);
		e->path = xstrdup(rb->path);
		yd_heap_update(d, e);
		return;
	}
	struct yd_rev *r = xcalloc(1, sizeof(*r));
	r->refs = 1;
	r->name = xstrdup(rb->name);
	memcpy(r->sha256, sha, sizeof(sha));
	r->content = content;
	r->content_len = len;
	r->set = s;
	s->refs++;
	r->rb = rb;
	int64_t now = yb_wall_us() / 1000000;
	if (!e) {
		e = xcalloc(1, sizeof(*e));
		e->name = xstrdup(rb->name);
		e->heap_idx = -1;
		e->cursor = now;
		d->entries = xrealloc(d->entries, (d->n_entries + 1) * sizeof(*d->entries));
		d->entries[d->n_entries++] = e;
		yd_log("runbook '%s' loaded (sha256 %.12s)", rb->name, sha);
	} else {
		yd_log("runbook '%s' changed (sha256 %.12s -> %.12s); runs in flight keep their revision",
		       rb->name, e->rev->sha256, sha);
		yd_rev_unref(e->rev);
		if (e->cursor < now && d->phase != YD_LEADER)
			e->cursor = now;
	}
	free(e->path);
	e->path = xstrdup(rb->path);
	free(e->error);
	e->error = NULL;
	e->rev = r;
	e->seen = true;
	if (d->db && !d->db_broken)
		yd_rev_record(d, r);
	yd_heap_update(d, e);
}

static bool is_runbook_file(const char *name)
{
	size_t n = strlen(name);
	if (name[0] == '.')
		return false;
	if (!strcmp(name, "inventory.yaml") || !strcmp(name, "yoban.yaml"))
		return false;
	return (n > 5 && !strcmp(name + n - 5, ".yaml")) || (n > 4 && !strcmp(name + n - 4, ".yml"));
}

/* The runbook files under dir (not under a calendars/ folder), depth-first. */
static void list_files(const char *dir, char ***files, size_t *n, int depth)
{
	DIR *dh = opendir(dir);
	if (!dh || depth > 8) {
		if (dh)
			closedir(dh);
		return;
	}
	struct dirent *de;
	while ((de = readdir(dh))) {
		if (de->d_name[0] == '.')
			continue;
		char *p = xasprintf("%s/%s", dir, de->d_name);
		struct stat st;
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (strcmp(de->d_name, "calendars"))
				list_files(p, files, n, depth + 1);
			free(p);
		} else if (is_runbook_file(de->d_name)) {
			*files = xrealloc(*files, (*n + 1) * sizeof(**files));
			(*files)[(*n)++] = p;
		} else {
			free(p);
		}
	}
	closedir(dh);
}

static struct yd_set *set_wrap(struct rb_set *s)
{
	struct yd_set *w = xcalloc(1, sizeof(*w));
	w->refs = 1;
	w->set = s;
	return w;
}

static struct yb_json *diags_detail(const char *file, struct rb_diags *diags)
{
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "file", yb_json_str(file));
	yb_json_set(o, "errors", rb_diags_json(diags));
	return o;
}

static void log_diags(struct rb_diags *diags)
{
	rb_diags_sort(diags);
	for (size_t i = 0; i < diags->n && i < 20; i++) {
		const struct rb_diag *g = &diags->items[i];
		if (g->severity == RB_SEV_ERROR)
			yd_log("%s:%d:%d: error: %s", g->file, g->line, g->col, g->msg);
	}
}

void yd_reload(struct yd *d)
{
	struct rb_diags diags;
	struct rb_set *set = NULL;
	struct rb_load_opts o = { .config_path = d->config_path };
	for (size_t i = 0; i < d->n_entries; i++)
		d->entries[i]->seen = false;
	rb_diags_init(&diags);
	if (rb_set_load(&o, &set, &diags) == 0) {
		struct yd_set *s = set_wrap(set);
		if (d->base)
			yd_set_unref(d->base);
		d->base = s;
		for (size_t i = 0; i < set->n_runbooks; i++)
			adopt(d, s, set->runbooks[i]);
		rb_diags_release(&diags);
		goto prune;
	}
	/* Something does not validate: find what, file by file. */
	log_diags(&diags);
	rb_diags_release(&diags);
	rb_diags_init(&diags);
	o.no_runbooks = true;
	if (rb_set_load(&o, &set, &diags) < 0) {
		yd_log("the site config, inventory or calendars do not validate: nothing reloaded, the previous runbooks stay scheduled");
		log_diags(&diags);
		audit(d, "reload:invalid", diags_detail(d->config_path ? d->config_path : "", &diags));
		rb_diags_release(&diags);
		for (size_t i = 0; i < d->n_entries; i++)
			d->entries[i]->seen = true;
		goto prune;
	}
	rb_diags_release(&diags);
	if (d->base)
		yd_set_unref(d->base);
	d->base = set_wrap(set);
	char **files = NULL;
	size_t n_files = 0;
	list_files(set->site.runbooks_dir, &files, &n_files, 0);
	for (size_t i = 0; i < n_files; i++) {
		struct rb_set *one = NULL;
		const char *paths[] = { files[i] };
		struct rb_load_opts fo = { .config_path = d->config_path, .paths = paths, .n_paths = 1 };
		rb_diags_init(&diags);
		if (rb_set_load(&fo, &one, &diags) == 0) {
			struct yd_set *s = set_wrap(one);
			for (size_t k = 0; k < one->n_runbooks; k++)
				adopt(d, s, one->runbooks[k]);
			yd_set_unref(s);
		} else {
			/* Keep whatever this file held before. */
			bool kept = false;
			char *msg = NULL;
			struct yb_err err = { 0 };
			rb_diags_to_err(&diags, &err);
			msg = xstrdup(err.msg);
			for (size_t k = 0; k < d->n_entries; k++) {
				struct yd_entry *e = d->entries[k];
				if (e->path && !strcmp(e->path, files[i])) {
					e->seen = true;
					kept = true;
					free(e->error);
					e->error = xstrdup(msg);
					yd_log("runbook '%s': '%s' does not validate; revision %.12s stays scheduled",
					       e->name, files[i], e->rev->sha256);
				}
			}
			if (!kept)
				yd_log("'%s' does not validate and is not scheduled", files[i]);
			log_diags(&diags);
			audit(d, "runbook:invalid", diags_detail(files[i], &diags));
			free(msg);
		}
		rb_diags_release(&diags);
		free(files[i]);
	}
	free(files);
prune:
	for (size_t i = 0; i < d->n_entries;) {
		struct yd_entry *e = d->entries[i];
		if (e->seen) {
			i++;
			continue;
		}
		yd_log("runbook '%s' is gone from the runbooks folder: no longer scheduled", e->name);
		heap_remove(d, e);
		entry_free(e);
		d->entries[i] = d->entries[--d->n_entries];
	}
}
