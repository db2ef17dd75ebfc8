/*
 * builtin.c: the job argv of a built-in step kind (see builtin.h). The one idea: the spec is
 * complete, so the runner needs no inventory, no site config and no second source of truth; what
 * it ran is exactly what its journal's spec.json shows.
 */
#include "builtin.h"

#include <stdlib.h>
#include <string.h>

bool rb_step_is_builtin(const struct rb_step *s)
{
	return s->kind == RB_STEP_BACKUP || s->kind == RB_STEP_OFFSITE || s->kind == RB_STEP_RESTORE;
}

int rb_builtin_argv(const struct rb_inventory *inventory, const struct rb_runbook *rb,
		    const struct rb_step *s, struct yb_json **out, struct yb_err *err)
{
	struct yb_json *spec = yb_json_object();
	const char *kind = rb_step_kind_name(s->kind);
	yb_json_set(spec, "runbook", yb_json_str(rb->name));
	yb_json_set(spec, "step", yb_json_str(s->name));
	switch (s->kind) {
	case RB_STEP_BACKUP:
		yb_json_set(spec, "repository", yb_json_str(s->backup.repository));
		if (s->backup.source)
			yb_json_set(spec, "source", yb_json_str(s->backup.source));
		else
			yb_json_set(spec, "command", yb_json_str(s->backup.command));
		yb_json_set(spec, "generations", yb_json_int(s->backup.generations));
		yb_json_set(spec, "compression", yb_json_int(s->backup.compression));
		yb_json_set(spec, "verify", yb_json_bool(s->backup.verify));
		break;
	case RB_STEP_RESTORE:
		yb_json_set(spec, "repository", yb_json_str(s->restore.repository));
		yb_json_set(spec, "generation", yb_json_int(s->restore.generation));
		yb_json_set(spec, "to", yb_json_str(s->restore.to));
		break;
	case RB_STEP_OFFSITE: {
		const struct rb_host *h = NULL;
		for (size_t i = 0; inventory && i < inventory->n_hosts; i++)
			if (!strcmp(inventory->hosts[i].name, s->offsite.dest_host))
				h = &inventory->hosts[i];
		if (!h || h->transport != RB_TRANSPORT_SSH || !h->address) {
			yb_json_free(spec);
			return yb_err_set(err, YB_ENOENT, "step '%s': the off-site destination '%s' is not "
					  "an ssh host of the inventory", s->name, s->offsite.dest_host);
		}
		char *name = xasprintf("%s-%s", rb->name, s->name);
		struct yb_json *d = yb_json_object();
		yb_json_set(d, "host", yb_json_str(h->name));
		yb_json_set(d, "address", yb_json_str(h->address));
		yb_json_set(d, "port", yb_json_int(h->port ? h->port : 22));
		yb_json_set(d, "user", yb_json_str(h->user ? h->user : "yoban"));
		if (h->host_key)
			yb_json_set(d, "host_key", yb_json_str(h->host_key));
		if (h->known_hosts)
			yb_json_set(d, "known_hosts", yb_json_str(h->known_hosts));
		yb_json_set(d, "path", yb_json_str(s->offsite.dest_path));
		yb_json_set(spec, "repository", yb_json_str(s->offsite.repository));
		yb_json_set(spec, "name", yb_json_str(name));
		yb_json_set(spec, "public_key", yb_json_str(s->offsite.key_file));
		yb_json_set(spec, "keep", yb_json_int(s->offsite.keep));
		yb_json_set(spec, "verify", yb_json_bool(s->offsite.verify));
		yb_json_set(spec, "destination", d);
		free(name);
		break;
	}
	default:
		yb_json_free(spec);
		return yb_err_set(err, YB_EINVAL, "step '%s' (%s) is not a built-in step kind", s->name,
				  kind);
	}
	char *text = yb_json_dump(spec, 0);
	struct yb_json *argv = yb_json_array();
	yb_json_push(argv, yb_json_str("yoban-runner"));
	yb_json_push(argv, yb_json_str("step"));
	yb_json_push(argv, yb_json_str(kind));
	yb_json_push(argv, yb_json_str("--spec"));
	yb_json_push(argv, yb_json_str(text));
	free(text);
	yb_json_free(spec);
	*out = argv;
	return 0;
}

/* ---- evidence ---- */

int rb_evidence_find(const char *out, size_t len, struct yb_json **evidence, struct yb_err *err)
{
	const char *found = NULL;
	size_t found_len = 0, plen = strlen(RB_EVIDENCE_PREFIX);
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(out + at, '\n', len - at);
		size_t line = nl ? (size_t)(nl - (out + at)) : len - at;
		if (line >= plen && !memcmp(out + at, RB_EVIDENCE_PREFIX, plen)) {
			found = out + at + plen;
			found_len = line - plen;
		}
		at += line + 1;
	}
	if (!found)
		return yb_err_set(err, YB_ENOENT, "the step wrote no evidence line ('%s{...}' on "
				  "stdout)", RB_EVIDENCE_PREFIX);
	struct yb_json *v = NULL;
	int rc = yb_json_parse(found, found_len, &v, err);
	if (rc < 0)
		return yb_err_prefix(err, "the step's evidence line");
	if (!yb_json_is_object(v) || !yb_json_get_str(v, "kind")) {
		yb_json_free(v);
		return yb_err_set(err, YB_EINVAL, "the step's evidence line is not an object with 'kind'");
	}
	*evidence = v;
	return 0;
}

static void copy_str(struct yb_json *row, const char *col, const struct yb_json *ev, const char *key)
{
	const char *v = yb_json_get_str(ev, key);
	if (v)
		yb_json_set(row, col, yb_json_str(v));
}

static void copy_int(struct yb_json *row, const char *col, const struct yb_json *ev, const char *key)
{
	struct yb_json *v = yb_json_get(ev, key);
	if (v && yb_json_is_int(v))
		yb_json_set(row, col, yb_json_int(yb_json_int_value(v)));
}

static struct yb_json *new_row(const char *event, const struct yb_json *ev, bool ok)
{
	struct yb_json *row = yb_json_object();
	yb_json_set(row, "event", yb_json_str(event));
	copy_str(row, "repository", ev, "repository");
	yb_json_set(row, "ok", yb_json_bool(ok));
	if (!ok)
		yb_json_set(row, "error", yb_json_str(yb_json_get_str(ev, "error") ?
							 yb_json_get_str(ev, "error") : "failed"));
	return row;
}

struct yb_json *rb_evidence_rows(const struct yb_json *ev)
{
	struct yb_json *rows = yb_json_array();
	const char *kind = yb_json_get_str(ev, "kind");
	bool ok = yb_json_get_bool(ev, "ok", false);
	struct yb_json *row;
	if (!kind)
		return rows;
	if (!strcmp(kind, "backup") || !strcmp(kind, "offsite") || !strcmp(kind, "restore")) {
		row = new_row(kind, ev, ok);
		copy_str(row, "manifest_sha256", ev, "manifest_sha256");
		if (!strcmp(kind, "restore")) {
			copy_str(row, "generation", ev, "name");
			copy_str(row, "destination", ev, "to");
			copy_int(row, "files", ev, "files");
			copy_int(row, "content_bytes", ev, "content_bytes");
		} else {
			copy_str(row, "generation", ev, "generation");
		}
		if (!strcmp(kind, "backup")) {
			copy_int(row, "data_bytes", ev, "data_bytes");
			copy_str(row, "data_sha256", ev, "data_sha256");
			copy_int(row, "content_bytes", ev, "content_bytes");
			copy_int(row, "files", ev, "files");
			copy_str(row, "verified_at", ev, "verified_at");
		}
		if (!strcmp(kind, "offsite")) {
			copy_str(row, "destination", ev, "destination");
			copy_str(row, "remote_sha256", ev, "remote_sha256");
		}
		yb_json_set(row, "detail", yb_json_ref((struct yb_json *)ev));
		yb_json_push(rows, row);
		struct yb_json *pruned = yb_json_get(ev, "pruned");
		for (size_t i = 0; ok && i < yb_json_len(pruned); i++) {
			const char *name = yb_json_string_value(yb_json_at(pruned, i));
			if (!name)
				continue;
			row = new_row("prune", ev, true);
			struct yb_json *d = yb_json_object();
			yb_json_set(d, "kind", yb_json_str(kind));
			copy_str(d, "committed", ev, "generation");
			if (!strcmp(kind, "backup")) {
				yb_json_set(row, "generation", yb_json_str(name));
			} else { /* an off-site copy's file name */
				yb_json_set(row, "destination", yb_json_str(name));
			}
			yb_json_set(row, "detail", d);
			yb_json_push(rows, row);
		}
	} else if (!strcmp(kind, "verify")) {
		struct yb_json *gens = yb_json_get(ev, "generations");
		for (size_t i = 0; i < yb_json_len(gens); i++) {
			struct yb_json *g = yb_json_at(gens, i);
			bool g_ok = yb_json_get_bool(g, "ok", false);
			row = new_row("verify", g, g_ok);
			copy_str(row, "repository", ev, "repository");
			copy_str(row, "generation", g, "name");
			copy_str(row, "manifest_sha256", g, "manifest_sha256");
			yb_json_set(row, "detail", yb_json_ref(g));
			yb_json_push(rows, row);
		}
		if (!yb_json_len(gens) && !ok) {
			row = new_row("verify", ev, false);
			yb_json_set(row, "detail", yb_json_ref((struct yb_json *)ev));
			yb_json_push(rows, row);
		}
	}
	return rows;
}
