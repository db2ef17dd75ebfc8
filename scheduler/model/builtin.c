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
