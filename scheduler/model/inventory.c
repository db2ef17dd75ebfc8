/*
 * inventory.c: the inventory (inventory.yaml): the hosts steps run on, each with its transport
 * (ssh with a pinned host key, or local), its environment (production or staging) and where its
 * runner is.
 *
 * The one idea: a host is never trusted blindly: an ssh host without a host_key fingerprint is an
 * error, not a warning, and a key that is not an OpenSSH SHA-256 fingerprint is refused here,
 * long before a connection is made.
 */
#include "runbook_priv.h"

#include <stdlib.h>
#include <string.h>

static const char *const inventory_keys[] = { "hosts", NULL };
static const char *const host_keys[] = { "transport", "address", "port", "user", "environment",
					 "host_key", "known_hosts", "runner", "state_dir", NULL };
static const char *const transports[] = { "ssh", "local", NULL };
static const char *const environments[] = { "production", "staging", NULL };

static bool fingerprint_valid(const char *s)
{
	if (strncmp(s, "SHA256:", 7))
		return false;
	s += 7;
	if (strlen(s) != 43)
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '+' || *s == '/'))
			return false;
	return true;
}

static void host_release(struct rb_host *h)
{
	free(h->name);
	free(h->address);
	free(h->user);
	free(h->host_key);
	free(h->known_hosts);
	free(h->runner);
	free(h->state_dir);
}

static void parse_host(const struct rbx *x, struct rb_host *h, const struct yn_node *k,
		       const struct yn_node *n)
{
	h->name = xstrdup(k->text);
	h->port = RB_DEFAULT_SSH_PORT;
	h->pos = (struct rb_pos){ NULL, k->line, k->col };
	if (!yb_host_name_valid(h->name))
		rbx_err(x, k, "host name '%.60s' may use only a-z, 0-9 and '-'", h->name);
	if (!rbx_is_map(x, n, "host"))
		return;
	rbx_keys(x, n, host_keys, " in a host");
	const struct yn_node *v;
	int e;
	if ((v = yn_get(n, "transport")) && rbx_enum(x, v, "transport", transports, &e))
		h->transport = (enum rb_transport)e;
	if ((v = yn_get(n, "environment")) && rbx_enum(x, v, "environment", environments, &e))
		h->environment = (enum rb_environment)e;
	else if (!v)
		rbx_err(x, n, "host '%s' needs 'environment' (production or staging)", h->name);
	int64_t port;
	if ((v = yn_get(n, "port")) && rbx_int(x, v, "port", 1, 65535, &port))
		h->port = (int)port;
	if ((v = yn_get(n, "address")))
		rbx_str(x, v, "address", &h->address);
	if ((v = yn_get(n, "user")))
		rbx_str(x, v, "user", &h->user);
	if ((v = yn_get(n, "host_key")) && rbx_str(x, v, "host_key", &h->host_key) &&
	    !fingerprint_valid(h->host_key))
		rbx_err(x, v, "'host_key' must be an OpenSSH SHA-256 fingerprint like "
			      "\"SHA256:\" and 43 base64 characters (ssh-keyscan HOST | "
			      "ssh-keygen -lf -)");
	if ((v = yn_get(n, "known_hosts")))
		rbx_str(x, v, "known_hosts", &h->known_hosts);
	if ((v = yn_get(n, "runner")))
		rbx_str(x, v, "runner", &h->runner);
	if ((v = yn_get(n, "state_dir")))
		rbx_str(x, v, "state_dir", &h->state_dir);
	if (!h->runner)
		h->runner = xstrdup(RB_DEFAULT_RUNNER);
	if (h->transport == RB_TRANSPORT_SSH) {
		if (!h->user)
			h->user = xstrdup("yoban");
		if (!yn_get(n, "address"))
			rbx_err(x, n, "ssh host '%s' needs 'address' (or transport: local)", h->name);
		if (!yn_get(n, "host_key"))
			rbx_err(x, n, "ssh host '%s' needs 'host_key' (its fingerprint, from "
				      "ssh-keyscan HOST | ssh-keygen -lf -): hosts are never trusted "
				      "blindly", h->name);
	} else {
		const char *const remote_only[] = { "address", "port", "user", "host_key",
						    "known_hosts" };
		for (size_t i = 0; i < YB_ARRAY_LEN(remote_only); i++)
			if ((v = yn_get(n, remote_only[i])))
				rbx_err(x, yn_get_pair(n, remote_only[i])->key,
					"'%s' is for ssh hosts: a local host has none", remote_only[i]);
	}
}

void rb_inventory_read(struct rb_inventory *inv, const char *path, const char *data, size_t len,
		       struct rb_diags *d)
{
	struct yn_node *root = NULL;
	if (!inv->path)
		inv->path = xstrdup(path);
	if (rb_read_tree(path, data, len, &root, d) < 0)
		return;
	struct rbx x = { path, d };
	if (!root || yn_is_null(root)) {
		yn_free(root);
		return;
	}
	if (!rbx_is_map(&x, root, "inventory")) {
		yn_free(root);
		return;
	}
	rbx_keys(&x, root, inventory_keys, "");
	const struct yn_node *hosts = yn_get(root, "hosts");
	if (hosts && rbx_is_map(&x, hosts, "hosts")) {
		inv->hosts = xrealloc(inv->hosts, (inv->n_hosts + hosts->n_pairs + 1) *
							  sizeof(*inv->hosts));
		for (size_t i = 0; i < hosts->n_pairs; i++) {
			const struct yn_node *k = hosts->pairs[i].key;
			const struct rb_host *dup = rb_inventory_host(inv, k->text);
			if (dup) {
				rbx_err(&x, k, "host '%.60s' is already defined at %s:%d:%d", k->text,
					dup->pos.file, dup->pos.line, dup->pos.col);
				continue;
			}
			struct rb_host *h = &inv->hosts[inv->n_hosts++];
			memset(h, 0, sizeof(*h));
			parse_host(&x, h, k, hosts->pairs[i].value);
			/* the position's file must outlive this function: keep a copy */
			inv->files = xrealloc(inv->files, (inv->n_files + 1) * sizeof(char *));
			inv->files[inv->n_files] = xstrdup(path);
			h->pos.file = inv->files[inv->n_files++];
		}
	}
	yn_free(root);
}

const struct rb_host *rb_inventory_host(const struct rb_inventory *inv, const char *name)
{
	for (size_t i = 0; i < inv->n_hosts; i++)
		if (inv->hosts[i].name && !strcmp(inv->hosts[i].name, name))
			return &inv->hosts[i];
	return NULL;
}

void rb_inventory_release(struct rb_inventory *inv)
{
	free(inv->path);
	for (size_t i = 0; i < inv->n_hosts; i++)
		host_release(&inv->hosts[i]);
	free(inv->hosts);
	rb_strv_free(inv->files, inv->n_files);
	memset(inv, 0, sizeof(*inv));
}
