/*
 * list.c: the `list` step behind `yoban backups`: the generations of one or more repositories,
 * newest first and numbered from 0, as a table or JSON. It reads; it takes no lock (a gen- folder
 * is always whole, see repo.h) and re-verifies nothing: "verified" is the last verification's
 * record (verify.json).
 */
#include "steps.h"

#include <stdio.h>
#include <string.h>

#include "repo.h"

static void human(uint64_t n, char *out, size_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	size_t u = 0;
	while (v >= 1024 && u + 1 < YB_ARRAY_LEN(units)) {
		v /= 1024;
		u++;
	}
	snprintf(out, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static struct yb_json *gen_json(const struct repo_gen *g, size_t i)
{
	struct yb_json *o = yb_json_object();
	char when[32];
	yb_json_set(o, "generation", yb_json_int((int64_t)i));
	yb_json_set(o, "name", yb_json_str(g->name));
	yb_json_set(o, "readable", yb_json_bool(g->readable));
	if (!g->readable) {
		yb_json_set(o, "error", yb_json_str(g->error));
		return o;
	}
	repo_format_time(g->m.created_us, when, sizeof(when));
	yb_json_set(o, "created_at", yb_json_str(when));
	yb_json_set(o, "source", yb_json_bytes(g->m.source, strlen(g->m.source)));
	yb_json_set(o, "data_bytes", yb_json_int((int64_t)g->m.data_bytes));
	yb_json_set(o, "data_sha256", yb_json_str(g->m.data_sha256));
	yb_json_set(o, "content_bytes", yb_json_int((int64_t)g->m.content_bytes));
	yb_json_set(o, "files", yb_json_int((int64_t)g->m.n_entries));
	yb_json_set(o, "manifest_sha256", yb_json_str(g->manifest_sha256));
	if (g->verified_at_us) {
		repo_format_time(g->verified_at_us, when, sizeof(when));
		yb_json_set(o, "verified_at", yb_json_str(when));
		yb_json_set(o, "verified_ok", yb_json_bool(g->verified_ok));
		yb_json_set(o, "verified_how", yb_json_str(g->verify_how));
	} else {
		yb_json_set(o, "verified_at", yb_json_null());
	}
	return o;
}

static void print_table(const char *path, const char *step, const struct repo_gen *gens, size_t n)
{
	printf("repository %s%s%s%s: %zu generation%s\n", path, step ? " (step '" : "",
	       step ? step : "", step ? "')" : "", n, n == 1 ? "" : "s");
	if (!n)
		return;
	printf("  %-4s %-21s %-10s %-10s %-7s %-14s %s\n", "GEN", "CREATED", "STORED", "CONTENT",
	       "FILES", "MANIFEST", "VERIFIED");
	for (size_t i = 0; i < n; i++) {
		const struct repo_gen *g = &gens[i];
		if (!g->readable) {
			printf("  %-4zu %s: unreadable: %s\n", i, g->name, g->error);
			continue;
		}
		char when[32], ver[48] = "never", stored[16], content[16], sha[16];
		repo_format_time(g->m.created_us, when, sizeof(when));
		if (g->verified_at_us) {
			repo_format_time(g->verified_at_us, ver, sizeof(ver));
			strcat(ver, g->verified_ok ? " ok" : " FAILED");
		}
		human(g->m.data_bytes, stored, sizeof(stored));
		human(g->m.content_bytes, content, sizeof(content));
		snprintf(sha, sizeof(sha), "%.12s", g->manifest_sha256);
		printf("  %-4zu %-21s %-10s %-10s %-7zu %-14s %s\n", i, when, stored, content,
		       g->m.n_entries, sha, ver);
	}
}

int step_list(const struct yb_json *spec, struct yb_json *ev, struct yb_err *err)
{
	struct yb_json *repos = yb_json_get(spec, "repositories");
	bool json = yb_json_get_str(spec, "format") && !strcmp(yb_json_get_str(spec, "format"), "json");
	int rc = 0;
	if (!yb_json_is_array(repos) || yb_json_len(repos) == 0)
		return yb_err_set(err, YB_EINVAL, "list spec: needs 'repositories', an array of "
				  "{\"path\": ..., \"step\": ...}");
	struct yb_json *out = yb_json_array();
	for (size_t r = 0; r < yb_json_len(repos); r++) {
		struct yb_json *one = yb_json_at(repos, r);
		const char *path = yb_json_get_str(one, "path"), *step = yb_json_get_str(one, "step");
		struct repo_gen *gens = NULL;
		size_t n = 0;
		struct yb_json *o = yb_json_object();
		yb_json_set(o, "path", yb_json_str(path));
		if (step)
			yb_json_set(o, "step", yb_json_str(step));
		struct yb_err one_err = { 0 };
		int lrc = path ? repo_list(path, &gens, &n, &one_err) : YB_EINVAL;
		if (lrc == YB_ENOENT) {
			/* no backup has run yet: an empty list, not an error */
			yb_json_set(o, "generations", yb_json_array());
			if (!json)
				printf("repository %s: no generations yet (the folder does not exist)\n", path);
		} else if (lrc < 0) {
			if (!path)
				yb_err_set(&one_err, YB_EINVAL, "a repository without 'path'");
			yb_json_set(o, "error", yb_json_str(one_err.msg));
			if (!json)
				printf("repository %s: %s\n", path ? path : "?", one_err.msg);
			if (rc == 0)
				rc = yb_err_set(err, one_err.code, "%s", one_err.msg);
		} else {
			struct yb_json *a = yb_json_array();
			for (size_t i = 0; i < n; i++)
				yb_json_push(a, gen_json(&gens[i], i));
			yb_json_set(o, "generations", a);
			if (!json)
				print_table(path, step, gens, n);
		}
		repo_gens_free(gens, n);
		yb_json_push(out, o);
	}
	if (json) {
		struct yb_json *doc = yb_json_object();
		yb_json_set(doc, "repositories", yb_json_ref(out));
		yb_json_print(doc, YB_JSON_PRETTY);
		yb_json_free(doc);
	}
	yb_json_set(ev, "repositories", yb_json_int((int64_t)yb_json_len(repos)));
	yb_json_free(out);
	return rc;
}
