/*
 * config.c: the site files (yoban.yaml, inventory.yaml, calendars/NAME.yaml) and loading a whole set:
 * where the config is, which files are read, in what order they are checked.
 *
 * The one idea: files are recognised by name and place, not by content. yoban.yaml is the site
 * config, inventory.yaml the inventory, a .yaml file under a calendars/ folder a calendar, and every
 * other .yaml/.yml a runbook. Each file is read once (by its real path) however it was named, and
 * relative paths inside yoban.yaml are relative to the folder yoban.yaml is in.
 */
#include "runbook_priv.h"

#include <dirent.h>
#include <stdio.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tz.h"

#define MAX_WALK_DEPTH 16
/* A site with more files than this is refused with an error, never silently cut short. */
#define MAX_FILES 1000000

/* ---- paths -------------------------------------------------------------------------------- */

static char *path_join(const char *dir, const char *name)
{
	if (!dir || name[0] == '/')
		return xstrdup(name);
	size_t n = strlen(dir);
	if (n && dir[n - 1] == '/')
		return xasprintf("%s%s", dir, name);
	return xasprintf("%s/%s", dir, name);
}

static char *dir_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int rb_config_find(const char *explicit_path, const char *near_path, char **out,
		   struct yb_err *err)
{
	const char *env = getenv("YOBAN_CONFIG");
	if (explicit_path || (env && *env)) {
		const char *p = explicit_path ? explicit_path : env;
		if (!is_file(p))
			return yb_err_set(err, YB_ENOENT, "config file '%s'%s does not exist", p,
					  explicit_path ? "" : " (from $YOBAN_CONFIG)");
		*out = xstrdup(p);
		return 0;
	}
	if (near_path) {
		char buf[PATH_MAX];
		if (realpath(near_path, buf)) {
			char *dir = is_dir(buf) ? xstrdup(buf) : dir_name(buf);
			for (int depth = 0; depth < 64; depth++) {
				char *cand = path_join(dir, "yoban.yaml");
				if (is_file(cand)) {
					free(dir);
					*out = cand;
					return 0;
				}
				free(cand);
				if (!strcmp(dir, "/"))
					break;
				char *up = dir_name(dir);
				free(dir);
				dir = up;
			}
			free(dir);
		}
	}
	*out = is_file("/etc/yoban/yoban.yaml") ? xstrdup("/etc/yoban/yoban.yaml") : NULL;
	return 0;
}

/* ---- the site config ---------------------------------------------------------------------- */

static const char *const site_keys[] = { "database", "state_dir", "runbooks", "inventory",
					 "calendars", "ssh", "timezone", "notify", "contract",
					 "maintenance", NULL };
static const char *const ssh_keys[] = { "key", "known_hosts", NULL };
static const char *const site_notify_keys[] = { "channels", NULL };
static const char *const channel_keys[] = { "smtp", "command", "webhook", NULL };
static const char *const smtp_keys[] = { "url", "from", "to", NULL };
static const char *const contract_keys[] = { "period", "hours_per_day", "days_per_month", "caps",
					     "sla", NULL };
static const char *const period_keys[] = { "from", "to", NULL };
static const char *const cap_keys[] = { "per_month", "total", NULL };
static const char *const caps_keys[] = { "service", "incident", "modification", NULL };
static const char *const sla_keys[] = { "report", "start", "recover", "availability", NULL };
static const char *const maint_keys[] = { "name", "from", "to", "action", "runbooks", NULL };
static const char *const maint_actions[] = { "hold", "skip", NULL };

static void site_defaults(struct rb_site *s, const char *dir)
{
	s->dir = dir ? xstrdup(dir) : NULL;
	s->state_dir = xstrdup("/var/lib/yoban");
	s->runbooks_dir = dir ? path_join(dir, "runbooks") : xstrdup("/etc/yoban/runbooks");
	s->inventory_path = dir ? path_join(dir, "inventory.yaml") : NULL;
	s->calendars_dir = dir ? path_join(dir, "calendars") : NULL;
	s->default_timezone = xstrdup("Asia/Tokyo");
	s->contract.hours_per_day = 8;
	s->contract.days_per_month = 20;
	for (int i = 0; i < RB_EFFORT_N; i++)
		s->contract.caps[i] = (struct rb_effort_cap){ -1, -1 };
}

static void site_release(struct rb_site *s)
{
	free(s->path);
	free(s->dir);
	free(s->database);
	free(s->state_dir);
	free(s->runbooks_dir);
	free(s->inventory_path);
	free(s->calendars_dir);
	free(s->ssh_key);
	free(s->ssh_known_hosts);
	free(s->default_timezone);
	for (size_t i = 0; i < s->n_channels; i++) {
		struct rb_channel *c = &s->channels[i];
		free(c->name);
		free(c->smtp_url);
		free(c->smtp_from);
		rb_strv_free(c->smtp_to, c->n_smtp_to);
		rb_strv_free(c->argv, c->argc);
		free(c->webhook_url);
	}
	free(s->channels);
	for (size_t i = 0; i < s->n_maintenance; i++) {
		free(s->maintenance[i].name);
		rb_strv_free(s->maintenance[i].runbooks, s->maintenance[i].n_runbooks);
	}
	free(s->maintenance);
	memset(s, 0, sizeof(*s));
}

void rb_site_free(struct rb_site *site)
{
	if (!site)
		return;
	site_release(site);
	free(site);
}

/* A path as written, made absolute against the site's folder. */
static void site_path(const struct rbx *x, const struct rb_site *s, const struct yn_node *n,
		      const char *what, char **out)
{
	char *text = NULL;
	if (!rbx_str(x, n, what, &text))
		return;
	free(*out);
	*out = path_join(s->dir, text);
	free(text);
}

static void parse_channel(const struct rbx *x, struct rb_channel *c, const struct yn_node *n)
{
	if (!rbx_is_map(x, n, "channel"))
		return;
	rbx_keys(x, n, channel_keys, " in a notify channel");
	if (n->n_pairs != 1) {
		rbx_err(x, n, "notify channel '%s' needs exactly one of smtp, command or webhook",
			c->name);
		if (n->n_pairs == 0)
			return;
	}
	const struct yn_node *v;
	if ((v = yn_get(n, "smtp"))) {
		c->kind = RB_CHANNEL_SMTP;
		if (!rbx_is_map(x, v, "smtp"))
			return;
		rbx_keys(x, v, smtp_keys, " in 'smtp'");
		if (rbx_require(x, v, "url", " in 'smtp'", " (e.g. \"smtp://mail.example.lg.jp\")"))
			rbx_str(x, yn_get(v, "url"), "url", &c->smtp_url);
		if (rbx_require(x, v, "from", " in 'smtp'", NULL))
			rbx_str(x, yn_get(v, "from"), "from", &c->smtp_from);
		if (rbx_require(x, v, "to", " in 'smtp'", " (a list of addresses)"))
			rbx_strlist(x, yn_get(v, "to"), "to", &c->smtp_to, &c->n_smtp_to);
	} else if ((v = yn_get(n, "command"))) {
		c->kind = RB_CHANNEL_COMMAND;
		if (rbx_strlist(x, v, "command", &c->argv, &c->argc) && c->argc == 0)
			rbx_err(x, v, "'command' is empty: give the program and its arguments");
	} else if ((v = yn_get(n, "webhook"))) {
		c->kind = RB_CHANNEL_WEBHOOK;
		if (rbx_str(x, v, "webhook", &c->webhook_url) &&
		    strncmp(c->webhook_url, "https://", 8) && strncmp(c->webhook_url, "http://", 7))
			rbx_err(x, v, "'webhook' must be an http:// or https:// URL");
	}
}

static void parse_contract(const struct rbx *x, struct rb_contract *c, const struct yn_node *n)
{
	if (!rbx_is_map(x, n, "contract"))
		return;
	c->present = true;
	rbx_keys(x, n, contract_keys, " in 'contract'");
	const struct yn_node *v;
	if ((v = yn_get(n, "period")) && rbx_is_map(x, v, "period")) {
		rbx_keys(x, v, period_keys, " in 'period'");
		if (rbx_require(x, v, "from", " in 'period'", NULL))
			rbx_date(x, yn_get(v, "from"), "from", &c->period_from_day);
		if (rbx_require(x, v, "to", " in 'period'", NULL))
			rbx_date(x, yn_get(v, "to"), "to", &c->period_to_day);
		if (c->period_to_day && c->period_to_day < c->period_from_day)
			rbx_err(x, yn_get(v, "to"), "the contract period ends before it starts");
	}
	if ((v = yn_get(n, "hours_per_day")))
		rbx_num(x, v, "hours_per_day", 1, 24, &c->hours_per_day);
	if ((v = yn_get(n, "days_per_month")))
		rbx_num(x, v, "days_per_month", 1, 31, &c->days_per_month);
	if ((v = yn_get(n, "caps")) && rbx_is_map(x, v, "caps")) {
		rbx_keys(x, v, caps_keys, " in 'caps'");
		for (int i = 0; i < RB_EFFORT_N; i++) {
			const struct yn_node *cap = yn_get(v, rb_effort_category_name(i)), *f;
			if (!cap || !rbx_is_map(x, cap, rb_effort_category_name(i)))
				continue;
			rbx_keys(x, cap, cap_keys, " in a cap");
			if ((f = yn_get(cap, "per_month")))
				rbx_num(x, f, "per_month", 0, 1e6, &c->caps[i].per_month);
			if ((f = yn_get(cap, "total")))
				rbx_num(x, f, "total", 0, 1e6, &c->caps[i].total);
		}
	}
	if ((v = yn_get(n, "sla")) && rbx_is_map(x, v, "sla")) {
		rbx_keys(x, v, sla_keys, " in 'sla'");
		const struct yn_node *f;
		if ((f = yn_get(v, "report")))
			rbx_duration(x, f, "report", &c->sla_report_ms);
		if ((f = yn_get(v, "start")))
			rbx_duration(x, f, "start", &c->sla_start_ms);
		if ((f = yn_get(v, "recover")))
			rbx_duration(x, f, "recover", &c->sla_recover_ms);
		if ((f = yn_get(v, "availability")))
			rbx_num(x, f, "availability", 0, 100, &c->sla_availability);
	}
}

static void parse_instant(const struct rbx *x, const struct yn_node *n, const char *what,
			  const struct tz *zone, int64_t *out)
{
	if (!n || n->type != YN_SCALAR || yn_is_null(n)) {
		rbx_err(x, n, "'%s' must be a time like \"2026-08-22T21:00+09:00\", not %s", what,
			yn_type_phrase(n));
		return;
	}
	struct yb_err err = { 0 };
	if (tz_parse_iso(n->text, zone, out, &err) < 0)
		rbx_err(x, n, "'%s': '%.60s' is not a time (write it as ISO 8601, e.g. "
			      "\"2026-08-22T21:00+09:00\")", what, n->text);
}

static void parse_maintenance(const struct rbx *x, struct rb_site *s, const struct yn_node *n)
{
	if (n->type != YN_SEQ) {
		rbx_err(x, n, "'maintenance' must be a list of windows, not %s", yn_type_phrase(n));
		return;
	}
	const struct tz *zone;
	if (tz_load(s->default_timezone, &zone, NULL) < 0)
		zone = tz_utc();
	s->maintenance = xcalloc(n->n_items + 1, sizeof(*s->maintenance));
	for (size_t i = 0; i < n->n_items; i++) {
		const struct yn_node *w = n->items[i], *v;
		if (!rbx_is_map(x, w, "maintenance window"))
			continue;
		struct rb_maintenance *m = &s->maintenance[s->n_maintenance++];
		m->pos = (struct rb_pos){ s->path, w->line, w->col };
		rbx_keys(x, w, maint_keys, " in a maintenance window");
		if (rbx_require(x, w, "name", " in a maintenance window", NULL))
			rbx_str(x, yn_get(w, "name"), "name", &m->name);
		if (rbx_require(x, w, "from", " in a maintenance window", NULL))
			parse_instant(x, yn_get(w, "from"), "from", zone, &m->from);
		if (rbx_require(x, w, "to", " in a maintenance window", NULL))
			parse_instant(x, yn_get(w, "to"), "to", zone, &m->to);
		if (m->from && m->to && m->to <= m->from)
			rbx_err(x, yn_get(w, "to"), "the window ends before it starts");
		int e;
		if ((v = yn_get(w, "action")) && rbx_enum(x, v, "action", maint_actions, &e))
			m->action = (enum rb_maint_action)e;
		if ((v = yn_get(w, "runbooks")))
			rbx_strlist(x, v, "runbooks", &m->runbooks, &m->n_runbooks);
	}
}

/* Fills s (already holding the defaults for its folder) from the tree. */
static void parse_site(const struct rbx *x, struct rb_site *s, const struct yn_node *root)
{
	const struct yn_node *v;
	if (!root || yn_is_null(root))
		return;
	if (root->type != YN_MAP) {
		rbx_err(x, root, "yoban.yaml must be a mapping (key: value lines), not %s",
			yn_type_phrase(root));
		return;
	}
	rbx_keys(x, root, site_keys, "");
	if ((v = yn_get(root, "database")))
		rbx_str(x, v, "database", &s->database);
	if ((v = yn_get(root, "state_dir")))
		site_path(x, s, v, "state_dir", &s->state_dir);
	if ((v = yn_get(root, "runbooks")))
		site_path(x, s, v, "runbooks", &s->runbooks_dir);
	if ((v = yn_get(root, "inventory")))
		site_path(x, s, v, "inventory", &s->inventory_path);
	if ((v = yn_get(root, "calendars")))
		site_path(x, s, v, "calendars", &s->calendars_dir);
	if ((v = yn_get(root, "timezone"))) {
		char *name = NULL;
		const struct tz *zone;
		if (rbx_str(x, v, "timezone", &name)) {
			if (tz_load(name, &zone, NULL) < 0) {
				rbx_err(x, v, "unknown time zone '%.60s' (names are those of "
					      "/usr/share/zoneinfo, e.g. 'Asia/Tokyo')", name);
				free(name);
			} else {
				free(s->default_timezone);
				s->default_timezone = name;
			}
		}
	}
	if ((v = yn_get(root, "ssh")) && rbx_is_map(x, v, "ssh")) {
		rbx_keys(x, v, ssh_keys, " in 'ssh'");
		const struct yn_node *k;
		if ((k = yn_get(v, "key")))
			site_path(x, s, k, "key", &s->ssh_key);
		if ((k = yn_get(v, "known_hosts")))
			site_path(x, s, k, "known_hosts", &s->ssh_known_hosts);
	}
	if ((v = yn_get(root, "notify")) && rbx_is_map(x, v, "notify")) {
		rbx_keys(x, v, site_notify_keys, " in 'notify'");
		const struct yn_node *ch = yn_get(v, "channels");
		if (ch && rbx_is_map(x, ch, "channels")) {
			s->channels = xcalloc(ch->n_pairs + 1, sizeof(*s->channels));
			for (size_t i = 0; i < ch->n_pairs; i++) {
				struct rb_channel *c = &s->channels[s->n_channels++];
				c->name = xstrdup(ch->pairs[i].key->text);
				c->pos = (struct rb_pos){ s->path, ch->pairs[i].key->line,
							  ch->pairs[i].key->col };
				parse_channel(x, c, ch->pairs[i].value);
			}
		}
	}
	if ((v = yn_get(root, "contract")))
		parse_contract(x, &s->contract, v);
	if ((v = yn_get(root, "maintenance")))
		parse_maintenance(x, s, v);
}

static int read_yaml(const char *path, struct yn_node **out, char **data_out, size_t *len_out,
		     struct rb_diags *d)
{
	char *data = NULL;
	size_t len = 0;
	struct yb_err err = { 0 };
	int rc = yb_read_file(path, RB_MAX_FILE_BYTES, &data, &len, &err);
	if (rc == YB_ENOMEM) {
		rb_diag_add(d, RB_SEV_ERROR, path, 0, 0, "file is larger than %u bytes: split it",
			    RB_MAX_FILE_BYTES);
		return rc;
	}
	if (rc < 0) {
		rb_diag_add(d, RB_SEV_ERROR, path, 0, 0, "%s", err.msg);
		return rc;
	}
	struct yn_node *root = NULL;
	if ((rc = yn_parse(path, data, len, &root, d)) < 0) {
		free(data);
		return rc;
	}
	*out = root;
	if (data_out) {
		*data_out = data;
		*len_out = len;
	} else {
		free(data);
	}
	return 0;
}

/* The tree of a file: from data when given (len bytes), else read from path. */
static int get_tree(const char *path, const char *data, size_t len, struct yn_node **out,
		    struct rb_diags *d)
{
	if (data)
		return yn_parse(path, data, len, out, d);
	return read_yaml(path, out, NULL, NULL, d);
}

/* Reads yoban.yaml into s. */
static void load_site(const char *path, const char *data, size_t len, struct rb_site *s,
		      struct rb_diags *d)
{
	char abs[PATH_MAX];
	char *dir;
	if (realpath(path, abs)) {
		dir = dir_name(abs);
	} else {
		dir = dir_name(path);
	}
	site_defaults(s, dir);
	free(dir);
	s->path = xstrdup(path);
	struct yn_node *root = NULL;
	if (get_tree(path, data, len, &root, d) < 0)
		return;
	struct rbx x = { path, d };
	parse_site(&x, s, root);
	yn_free(root);
}

int rb_site_load(const char *path, struct rb_site **out, struct yb_err *err)
{
	struct rb_diags d;
	rb_diags_init(&d);
	struct rb_site *s = xcalloc(1, sizeof(*s));
	int rc = 0;
	if (path)
		load_site(path, NULL, 0, s, &d);
	else
		site_defaults(s, NULL);
	if (d.n_errors) {
		rb_diags_sort(&d);
		rc = rb_diags_to_err(&d, err);
		rb_site_free(s);
	} else {
		*out = s;
	}
	rb_diags_release(&d);
	return rc;
}

/* ---- inventory ---------------------------------------------------------------------------- */

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
	if (!rb_name_valid(h->name))
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

static void load_inventory(struct rb_set *set, const char *path, const char *data, size_t len,
			   struct rb_diags *d)
{
	struct yn_node *root = NULL;
	set->n_inventory_files++;
	if (!set->inventory.path)
		set->inventory.path = xstrdup(path);
	if (get_tree(path, data, len, &root, d) < 0)
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
		set->inventory.hosts = xrealloc(set->inventory.hosts,
						(set->inventory.n_hosts + hosts->n_pairs + 1) *
							sizeof(*set->inventory.hosts));
		for (size_t i = 0; i < hosts->n_pairs; i++) {
			const struct yn_node *k = hosts->pairs[i].key;
			const struct rb_host *dup = rb_set_host(set, k->text);
			if (dup) {
				rbx_err(&x, k, "host '%.60s' is already defined at %s:%d:%d", k->text,
					dup->pos.file, dup->pos.line, dup->pos.col);
				continue;
			}
			struct rb_host *h = &set->inventory.hosts[set->inventory.n_hosts++];
			memset(h, 0, sizeof(*h));
			parse_host(&x, h, k, hosts->pairs[i].value);
			/* the position's file must outlive this function: keep a copy */
			set->owned_strings = xrealloc(set->owned_strings, (set->n_owned_strings + 1) *
									  sizeof(char *));
			set->owned_strings[set->n_owned_strings] = xstrdup(path);
			h->pos.file = set->owned_strings[set->n_owned_strings++];
		}
	}
	yn_free(root);
}

/* ---- calendars ---------------------------------------------------------------------------- */

static const char *const calendar_keys[] = { "name", "description", "base", "closed_weekdays",
					     "closed_yearly", "closed", "open", NULL };
static const char *const bases[] = { "jp", "none", NULL };
static const char *const weekdays[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };

static bool parse_md(const char *s, int *m, int *d)
{
	if (strlen(s) != 5 || s[2] != '-')
		return false;
	for (int i = 0; i < 5; i++)
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return false;
	*m = atoi(s);
	*d = atoi(s + 3);
	return *m >= 1 && *m <= 12 && *d >= 1 && *d <= yb_days_in_month(2024, *m);
}

static void date_list(const struct rbx *x, struct calendar *cal, const struct yn_node *n,
		      const char *what, bool open)
{
	if (n->type != YN_SEQ) {
		rbx_err(x, n, "'%s' must be a list of dates like [2026-08-14], not %s", what,
			yn_type_phrase(n));
		return;
	}
	for (size_t i = 0; i < n->n_items; i++) {
		int64_t days;
		if (!rbx_date(x, n->items[i], what, &days))
			continue;
		int y, m, d;
		yb_civil_from_days(days, &y, &m, &d);
		if (open)
			cal_add_open(cal, y, m, d);
		else
			cal_add_closed(cal, y, m, d);
	}
}

static void load_calendar(struct rb_set *set, const char *path, const char *data, size_t len,
			  struct rb_diags *d)
{
	struct yn_node *root = NULL;
	set->n_calendar_files++;
	if (get_tree(path, data, len, &root, d) < 0)
		return;
	struct rbx x = { path, d };
	if (!root || yn_is_null(root) || !rbx_is_map(&x, root, "calendar")) {
		if (!root || yn_is_null(root))
			rb_diag_add(d, RB_SEV_ERROR, path, 0, 0,
				    "the calendar is empty: it needs at least 'name'");
		yn_free(root);
		return;
	}
	rbx_keys(&x, root, calendar_keys, "");
	const struct yn_node *v = yn_get(root, "name");
	char *name = NULL;
	if (!v) {
		rbx_err(&x, root, "missing required key 'name' (the name runbooks use in "
				  "schedule.calendar)");
		yn_free(root);
		return;
	}
	if (!rbx_str(&x, v, "name", &name)) {
		yn_free(root);
		return;
	}
	if (!rb_name_valid(name))
		rbx_err(&x, v, "calendar name '%.60s' may use only a-z, 0-9 and '-'", name);
	if (!strcmp(name, "jp") || rb_set_calendar(set, name)) {
		rbx_err(&x, v, "calendar '%s' is already defined%s: choose another name", name,
			!strcmp(name, "jp") ? " (built in: the national holidays)" : "");
		free(name);
		yn_free(root);
		return;
	}
	set->calendars = xrealloc(set->calendars, (set->n_calendars + 1) * sizeof(*set->calendars));
	struct calendar *cal = &set->calendars[set->n_calendars++];
	cal_init(cal, name);
	cal->base_jp = true;
	free(name);
	int e;
	if ((v = yn_get(root, "base")) && rbx_enum(&x, v, "base", bases, &e))
		cal->base_jp = e == 0;
	if ((v = yn_get(root, "closed_weekdays"))) {
		if (v->type != YN_SEQ) {
			rbx_err(&x, v, "'closed_weekdays' must be a list like [sat, sun], not %s",
				yn_type_phrase(v));
		} else {
			for (size_t i = 0; i < v->n_items; i++)
				if (rbx_enum(&x, v->items[i], "closed_weekdays", weekdays, &e))
					cal->closed_weekdays |= 1u << e;
		}
	}
	if ((v = yn_get(root, "closed_yearly"))) {
		if (v->type != YN_SEQ) {
			rbx_err(&x, v, "'closed_yearly' must be a list like [\"12-29..01-03\"], not %s",
				yn_type_phrase(v));
		} else {
			cal->closed_yearly = xcalloc(v->n_items + 1, sizeof(*cal->closed_yearly));
			for (size_t i = 0; i < v->n_items; i++) {
				const struct yn_node *it = v->items[i];
				struct cal_yearly r;
				const char *dots = it->type == YN_SCALAR ? strstr(it->text, "..") : NULL;
				bool ok = false;
				if (it->type == YN_SCALAR && !dots) {
					ok = parse_md(it->text, &r.from_month, &r.from_day);
					r.to_month = r.from_month, r.to_day = r.from_day;
				} else if (dots && dots - it->text == 5) {
					char from[6];
					memcpy(from, it->text, 5);
					from[5] = 0;
					ok = parse_md(from, &r.from_month, &r.from_day) &&
					     parse_md(dots + 2, &r.to_month, &r.to_day);
				}
				if (!ok) {
					rbx_err(&x, it, "'closed_yearly' entries are \"MM-DD..MM-DD\" "
							"(e.g. \"12-29..01-03\") or \"MM-DD\", not %s%.40s%s",
						it->type == YN_SCALAR ? "'" : "",
						it->type == YN_SCALAR ? it->text : yn_type_phrase(it),
						it->type == YN_SCALAR ? "'" : "");
					continue;
				}
				cal->closed_yearly[cal->n_closed_yearly++] = r;
			}
		}
	}
	if ((v = yn_get(root, "closed")))
		date_list(&x, cal, v, "closed", false);
	if ((v = yn_get(root, "open")))
		date_list(&x, cal, v, "open", true);
	yn_free(root);
}

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
	if (!is_dir(real)) {
		if (!is_file(real)) {
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
		char *child = path_join(path, names[i]);
		char creal[PATH_MAX];
		if (realpath(child, creal) && (is_dir(creal) || yaml_name(names[i])))
			walk_dirs(child, depth + 1, false, out, dirs, d);
		free(child);
	}
	rb_strv_free(names, n);
}

static bool in_calendars_folder(const char *real)
{
	char *dir = dir_name(real);
	bool yes = !strcmp(base_name(dir), "calendars");
	free(dir);
	return yes;
}

void rb_set_free(struct rb_set *set)
{
	if (!set)
		return;
	site_release(&set->site);
	free(set->inventory.path);
	for (size_t i = 0; i < set->inventory.n_hosts; i++)
		host_release(&set->inventory.hosts[i]);
	free(set->inventory.hosts);
	for (size_t i = 0; i < set->n_calendars; i++)
		cal_release(&set->calendars[i]);
	free(set->calendars);
	for (size_t i = 0; i < set->n_runbooks; i++)
		rb_runbook_free(set->runbooks[i]);
	free(set->runbooks);
	for (size_t i = 0; i < set->n_context; i++)
		rb_runbook_free(set->context[i]);
	free(set->context);
	rb_strv_free(set->owned_strings, set->n_owned_strings);
	free(set->rb_slots);
	free(set);
}

/* Moves every problem of from after those of to, as if they had been added there. */
static void diags_append(struct rb_diags *to, struct rb_diags *from)
{
	for (size_t i = 0; i < from->n; i++) {
		struct rb_diag *g = &from->items[i];
		if (to->n >= RB_MAX_DIAGS) {
			to->n_dropped++;
			free(g->file);
			free(g->msg);
			continue;
		}
		if (to->n == to->cap) {
			to->cap = to->cap ? 2 * to->cap : 16;
			to->items = xrealloc(to->items, to->cap * sizeof(*to->items));
		}
		g->seq = to->n;
		to->items[to->n++] = *g;
	}
	to->n_errors += from->n_errors;
	to->n_dropped += from->n_dropped;
	free(from->items);
	memset(from, 0, sizeof(*from));
}

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
	if (set->site.path && is_dir(set->site.runbooks_dir))
		walk(set->site.runbooks_dir, 1, false, &cands, &quiet);
	for (size_t i = 0; i < opts->n_paths; i++) {
		char *dir = is_dir(opts->paths[i]) ? NULL : dir_name(opts->paths[i]);
		if (dir)
			walk(dir, MAX_WALK_DEPTH, false, &cands, &quiet);
		free(dir);
	}
	for (size_t i = 0; i < cands.n; i++) {
		if (seen(given, cands.real[i]))
			continue;
		char *data = NULL;
		size_t len = 0;
		if (yb_read_file(cands.display[i], RB_MAX_FILE_BYTES, &data, &len, NULL) < 0)
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
		load_site(opts->config_path, NULL, 0, &set->site, diags);
		set->n_site_files = 1;
		if (realpath(opts->config_path, real))
			file_list_add(&done, opts->config_path, real);
	} else {
		site_defaults(&set->site, NULL);
	}

	/* 2. which files: the given paths, else the site's runbooks folder */
	if (opts->n_paths) {
		for (size_t i = 0; i < opts->n_paths; i++)
			walk(opts->paths[i], 0, true, &files, diags);
	} else if (!opts->no_runbooks && is_dir(set->site.runbooks_dir)) {
		walk(set->site.runbooks_dir, 0, true, &files, diags);
	}

	/* 3. the inventory and calendars named by the site, then those among the files */
	if (set->site.inventory_path && realpath(set->site.inventory_path, real) && is_file(real)) {
		file_list_add(&done, set->site.inventory_path, real);
		load_inventory(set, set->site.inventory_path, NULL, 0, diags);
	} else if (set->site.path && set->site.inventory_path && opts->config_path) {
		/* a default that is not there is fine; one that was written must exist */
	}
	if (set->site.calendars_dir && is_dir(set->site.calendars_dir)) {
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
		const char *base = base_name(files.real[i]);
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
			load_site(files.display[i], NULL, 0, &other, diags);
			site_release(&other);
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
		struct yb_err err = { 0 };
		int r = yb_read_file(files.display[i], RB_MAX_FILE_BYTES, &data, &len, &err);
		if (r == YB_ENOMEM) {
			rb_diag_add(diags, RB_SEV_ERROR, files.display[i], 0, 0,
				    "file is larger than %u bytes: split it", RB_MAX_FILE_BYTES);
			continue;
		} else if (r < 0) {
			rb_diag_add(diags, RB_SEV_ERROR, files.display[i], 0, 0, "%s", err.msg);
			continue;
		}
		struct rb_runbook *rb = NULL;
		struct yn_node *tree = NULL;
		if (rb_runbook_parse_tree(files.display[i], data, len, &rb, &tree, diags) == 0) {
			/* The checks against the site's hosts, calendars and channels need the tree;
			 * run them now so that the tree goes at once (a rehearsal's stays for step 5).
			 * Their problems wait in cross so that the order (and what the cap keeps) is
			 * the same as when every file is parsed first. */
			rb_runbook_check_set(set, rb, tree, &cross);
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
	diags_append(diags, &cross);
	set_index(set);

	/* 4b. a rehearsal among the given files may name a runbook that was not given */
	if (opts->n_paths)
		load_context(set, opts, &files);

	/* 5. the checks across files */
	rb_set_check_names(set, trees, diags);
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
	for (size_t i = 0; i < set->inventory.n_hosts; i++)
		if (set->inventory.hosts[i].name && !strcmp(set->inventory.hosts[i].name, name))
			return &set->inventory.hosts[i];
	return NULL;
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
		load_site(display_name, data, len, &set->site, diags);
		break;
	case RB_FILE_INVENTORY:
		site_defaults(&set->site, NULL);
		load_inventory(set, display_name, data, len, diags);
		break;
	case RB_FILE_CALENDAR:
		site_defaults(&set->site, NULL);
		load_calendar(set, display_name, data, len, diags);
		break;
	}
	rb_set_free(set);
	return diags->n_errors > before ? YB_EINVAL : 0;
}
