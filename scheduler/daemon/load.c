/*
 * load.c: the runbooks the daemon schedules, their revisions, and the timer heap.
 *
 * The one idea: a reload never makes things worse. The whole set is loaded first; when it does not
 * validate, the site config and inventory are loaded alone and then each runbook file on its own,
 * so one broken file keeps its previous revision scheduled (its error is logged and written to the
 * audit table as 'runbook:invalid') while the others move on. Runs hold their own revision, so a
 * reload never changes a run in flight.
 */
#include "yoband.h"

#include <dirent.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "digest.h"
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

/* Once recorded, the bytes are in the database: a revision keeps only its id and digest. */
static void rev_recorded(struct yd_rev *r, int64_t id)
{
	r->id = id;
	free(r->content);
	r->content = NULL;
	r->content_len = 0;
	yd_log("revision %lld of runbook '%s' recorded (sha256 %.12s)", (long long)r->id, r->name, r->sha256);
}

int yd_rev_record(struct yd *d, struct yd_rev *r)
{
	if (r->id > 0)
		return 0;
	BUG_ON(!r->content);
	char *hex = yd_bytea_hex(r->content, r->content_len);
	const char *p[] = { r->name, hex };
	char *v = yd_value(d, "SELECT yoban.yoban_record_revision($1, $2::bytea)", 2, p);
	free(hex);
	if (!v)
		return YB_EDB;
	rev_recorded(r, strtoll(v, NULL, 10));
	free(v);
	return 0;
}

/* Revisions recorded in one statement at most (and about as many bytes of parameters). */
#define RECORD_BATCH 1000
#define RECORD_BATCH_BYTES (8u << 20)

/* One element of a PostgreSQL array literal, double-quoted ("{...}" text of a text[] parameter). */
static void array_elem(struct yb_buf *b, const char *text)
{
	yb_buf_append(b, b->len > 1 ? ",\"" : "\"", b->len > 1 ? 2 : 1);
	for (const char *c = text; *c; c++) {
		if (*c == '"' || *c == '\\')
			yb_buf_append(b, "\\", 1);
		yb_buf_append(b, c, 1);
	}
	yb_buf_append(b, "\"", 1);
}

/* Sets the ids of revs[0..n) (rows "ordinal, id") from res; false when a row is missing. */
static bool take_ids(struct db_result *res, struct yd_rev **revs, size_t n)
{
	for (int i = 0; i < db_result_rows(res); i++) {
		const char *ord = db_result_get(res, i, 0), *id = db_result_get(res, i, 1);
		long long k = ord ? strtoll(ord, NULL, 10) : 0;
		if (k >= 1 && (size_t)k <= n && id && revs[k - 1]->id <= 0)
			rev_recorded(revs[k - 1], strtoll(id, NULL, 10));
	}
	for (size_t i = 0; i < n; i++)
		if (revs[i]->id <= 0)
			return false;
	return true;
}

/* Records revs[0..n) in two statements: which of them the database has already (same runbook,
 * same digest: their ids), then the others, each still through yoban_record_revision. One
 * transaction each instead of one per revision: a start with 100,000 runbooks is two hundred
 * statements, not 100,000 commits. */
static int record_batch(struct yd *d, struct yd_rev **revs, size_t n)
{
	struct yb_buf names, digests;
	struct db_result *res = NULL;
	int rc = 0;
	yb_buf_init(&names, 0);
	yb_buf_init(&digests, 0);
	yb_buf_append(&names, "{", 1);
	yb_buf_append(&digests, "{", 1);
	for (size_t i = 0; i < n; i++) {
		array_elem(&names, revs[i]->name);
		array_elem(&digests, revs[i]->sha256);
	}
	yb_buf_append(&names, "}", 1);
	yb_buf_append(&digests, "}", 1);
	const char *p[] = { names.data, digests.data };
	rc = yd_exec(d, "SELECT t.i, r.id FROM unnest($1::text[], $2::text[]) WITH ORDINALITY "
			"AS t(runbook, sha256, i) JOIN yoban.runbook_revisions r "
			"ON r.runbook = t.runbook AND r.sha256 = t.sha256", 2, p, &res, NULL);
	if (rc < 0 || take_ids(res, revs, n))
		goto out;
	db_result_free(res);
	res = NULL;
	/* the others: their bytes, hex, as a text[] (names again, in the same order) */
	yb_buf_reset(&digests);
	yb_buf_append(&digests, "{", 1);
	size_t n_new = 0;
	for (size_t i = 0; i < n; i++) {
		if (revs[i]->id > 0)
			continue;
		BUG_ON(!revs[i]->content);
		char *hex = xmalloc(2 * revs[i]->content_len + 1);
		yb_hex((const unsigned char *)revs[i]->content, revs[i]->content_len, hex);
		array_elem(&digests, hex);
		free(hex);
		revs[n_new++] = revs[i];
	}
	yb_buf_append(&digests, "}", 1);
	yb_buf_reset(&names);
	yb_buf_append(&names, "{", 1);
	for (size_t i = 0; i < n_new; i++)
		array_elem(&names, revs[i]->name);
	yb_buf_append(&names, "}", 1);
	const char *q[] = { names.data, digests.data };
	rc = yd_exec(d, "SELECT t.i, yoban.yoban_record_revision(t.runbook, decode(t.hex, 'hex')) "
			"FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(runbook, hex, i)",
		     2, q, &res, NULL);
	if (rc == 0 && !take_ids(res, revs, n_new))
		rc = YB_EDB;
out:
	db_result_free(res);
	yb_buf_release(&names);
	yb_buf_release(&digests);
	return rc < 0 ? YB_EDB : 0;
}

/* Every entry's revision that is not recorded yet, in batches. */
static void record_all(struct yd *d)
{
	struct yd_rev *batch[RECORD_BATCH];
	size_t n = 0, bytes = 0;
	for (size_t i = 0; i <= d->n_entries && d->db && !d->db_broken; i++) {
		struct yd_rev *r = i < d->n_entries ? d->entries[i]->rev : NULL;
		if (r && r->id <= 0) {
			batch[n++] = r;
			bytes += 2 * r->content_len + strlen(r->name) + 8;
		}
		if (n && (n == RECORD_BATCH || bytes >= RECORD_BATCH_BYTES || !r)) {
			if (record_batch(d, batch, n) < 0)
				yd_log("%zu revision(s) not recorded yet: recorded one by one when they run", n);
			n = bytes = 0;
		}
	}
	yd_gates_record(d);
	yd_contract_record(d);
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

/* The entries by name: open addressing over indexes into d->entries (+ 1, 0 is empty). One
 * daemon per process, so the index lives here rather than in struct yd; it belongs to the
 * struct yd it was built for and is rebuilt whenever entries move. */
static struct {
	const struct yd *d;
	size_t *slots;
	size_t n_slots;
} index_;

/* The fingerprint of the last clean full load (see "nothing changed" below). */
static struct {
	const struct yd *d;
	bool valid;
	uint64_t h;
	int64_t at; /* when that load started, wall seconds */
} last_;

static size_t name_hash(const char *s)
{
	size_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void index_put(size_t k)
{
	size_t i = name_hash(index_.d->entries[k]->name) & (index_.n_slots - 1);
	while (index_.slots[i])
		i = (i + 1) & (index_.n_slots - 1);
	index_.slots[i] = k + 1;
}

static void index_rebuild(struct yd *d)
{
	free(index_.slots);
	index_.d = d;
	index_.n_slots = 64;
	while (index_.n_slots < 2 * d->n_entries + 2)
		index_.n_slots *= 2;
	index_.slots = xcalloc(index_.n_slots, sizeof(*index_.slots));
	for (size_t k = 0; k < d->n_entries; k++)
		index_put(k);
}

/* d->entries[n_entries - 1] was just added. */
static void index_added(struct yd *d)
{
	if (index_.d != d || 2 * d->n_entries + 2 > index_.n_slots)
		index_rebuild(d);
	else
		index_put(d->n_entries - 1);
}

struct yd_entry *yd_entry_find(struct yd *d, const char *name)
{
	if (index_.d != d)
		index_rebuild(d);
	for (size_t i = name_hash(name) & (index_.n_slots - 1); index_.slots[i];
	     i = (i + 1) & (index_.n_slots - 1))
		if (!strcmp(d->entries[index_.slots[i] - 1]->name, name))
			return d->entries[index_.slots[i] - 1];
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
	if (index_.d == d) {
		free(index_.slots);
		memset(&index_, 0, sizeof(index_));
	}
	if (last_.d == d)
		memset(&last_, 0, sizeof(last_));
}

/* Writes a reload problem where `yoban status` can show it (when connected). */
static void audit(struct yd *d, const char *action, struct yb_json *detail)
{
	char *text = yb_json_dump(detail, 0);
	yb_json_free(detail);
	if (d->db && !d->db_broken) {
		char request_id[24];
		snprintf(request_id, sizeof(request_id), "%lld", (long long)d->reload_request_id);
		const char *p[] = { action, text, d->reload_request_id ? request_id : NULL };
		yd_exec(d, "INSERT INTO yoban.audit (action, detail, request_id) "
			   "VALUES ($1, $2::jsonb, $3::bigint)", 3, p, NULL, NULL);
	}
	free(text);
}

/* Takes the runbook rb of set s (read from path) as the newest revision of its entry. Its bytes
 * come from the load (rb->bytes, taken), else are read again and must still match. */
static void adopt(struct yd *d, struct yd_set *s, struct rb_runbook *rb)
{
	struct yb_err err = { 0 };
	char *content = NULL;
	size_t len = 0;
	char sha[YB_SHA256_HEX_LEN];
	if (rb->bytes) {
		content = rb->bytes;
		len = rb->n_bytes;
		rb->bytes = NULL;
		rb->n_bytes = 0;
		memcpy(sha, rb->revision, sizeof(sha));
	} else if (yb_read_regular(rb->path, RB_MAX_FILE_BYTES, 0, &content, &len, &err) < 0) {
		yd_log("runbook '%s': %s (previous revision kept)", rb->name, err.msg);
		return;
	} else {
		content = xrealloc(content, len + 1); /* kept until recorded: not the read buffer's size */
		yb_sha256_hex(content, len, sha);
		if (strcmp(sha, rb->revision)) {
			yd_log("runbook '%s': '%s' changed while it was loaded; it is read again on the next reload",
			       rb->name, rb->path);
			free(content);
			return;
		}
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
		if (r->id > 0) {
			free(content); /* in the database already */
		} else {
			r->content = content;
			r->content_len = len;
		}
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
		index_added(d);
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
	/* recorded by record_all at the end of the reload, in batches */
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

/* ---- nothing changed since the last reload? ------------------------------------------------
 * A reload of 100,000 runbooks takes seconds and, for a moment, two sets of them in memory; the
 * new leader reloads right after its own start. So a clean full load remembers a fingerprint of
 * what it read (every file's and folder's inode, size, mtime and ctime under the runbooks and
 * calendars folders, the site config, the inventory, the procedure documents), and a reload that
 * finds the same fingerprint stops there. A file whose ctime is within a second of the load it
 * would be compared with counts as changed (the clock's tick is coarser than a rewrite). */

struct fingerprint {
	uint64_t h;
	bool racy;
};

static void fp_bytes(struct fingerprint *f, const void *data, size_t n)
{
	const unsigned char *b = data;
	for (size_t i = 0; i < n; i++)
		f->h = (f->h ^ b[i]) * 1099511628211ULL;
}

static void fp_path(struct fingerprint *f, const char *path, int64_t since, int depth)
{
	struct stat st;
	fp_bytes(f, path, strlen(path) + 1);
	if (stat(path, &st) < 0) {
		fp_bytes(f, "-", 1);
		return;
	}
	int64_t v[6] = { (int64_t)st.st_dev, (int64_t)st.st_ino, (int64_t)st.st_size,
			 (int64_t)st.st_mtim.tv_sec, (int64_t)st.st_mtim.tv_nsec,
			 (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec };
	fp_bytes(f, v, sizeof(v));
	if (st.st_ctim.tv_sec >= since - 1 || st.st_mtim.tv_sec >= since - 1)
		f->racy = true;
	if (!S_ISDIR(st.st_mode) || depth > 8)
		return;
	DIR *dh = opendir(path);
	if (!dh) {
		f->racy = true;
		return;
	}
	struct dirent *de;
	while ((de = readdir(dh))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *child = xasprintf("%s/%s", path, de->d_name);
		fp_path(f, child, since, depth + 1);
		free(child);
	}
	closedir(dh);
}

static struct fingerprint fp_take(struct yd *d, int64_t since)
{
	struct fingerprint f = { .h = 1469598103934665603ULL };
	const struct rb_site *site = &d->base->set->site;
	if (d->config_path)
		fp_path(&f, d->config_path, since, 9);
	if (site->inventory_path)
		fp_path(&f, site->inventory_path, since, 9);
	if (site->runbooks_dir)
		fp_path(&f, site->runbooks_dir, since, 0);
	if (site->calendars_dir)
		fp_path(&f, site->calendars_dir, since, 0);
	for (size_t i = 0; i < d->n_entries; i++) {
		const struct rb_runbook *rb = d->entries[i]->rev->rb;
		if (rb->procedure_path)
			fp_path(&f, rb->procedure_path, since, 9);
	}
	return f;
}

void yd_reload(struct yd *d)
{
	struct rb_diags diags;
	struct rb_set *set = NULL;
	struct rb_load_opts o = { .config_path = d->config_path, .keep_bytes = true };
	int64_t started = yb_wall_us() / 1000000;
	if (last_.d == d && last_.valid && d->base) {
		struct fingerprint f = fp_take(d, last_.at);
		if (!f.racy && f.h == last_.h) {
			yd_log("runbooks, calendars and site files unchanged since the last reload");
			record_all(d);
			return;
		}
	}
	last_.valid = false;
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
		/* every entry now holds a runbook of this set: a fingerprint of it can stand for it */
		bool all_here = true;
		for (size_t i = 0; i < d->n_entries && all_here; i++)
			all_here = d->entries[i]->seen && d->entries[i]->rev->set == s;
		if (all_here) {
			struct fingerprint f = fp_take(d, started);
			last_.d = d;
			last_.valid = !f.racy;
			last_.h = f.h;
			last_.at = started;
		}
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
		struct rb_load_opts fo = { .config_path = d->config_path, .paths = paths, .n_paths = 1,
					   .keep_bytes = true };
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
prune:;
	bool pruned = false;
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
		pruned = true;
	}
	if (pruned)
		index_rebuild(d);
	record_all(d);
	/* a reload frees a whole set of runbooks: give the pages back */
	malloc_trim(0);
}
