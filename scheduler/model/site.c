/*
 * site.c: the site config, yoban.yaml: where it is (--config, $YOBAN_CONFIG, the nearest one
 * above the runbooks, /etc/yoban), its defaults, and its keys (database, folders, ssh, time zone,
 * notify channels, contract, maintenance windows).
 *
 * The one idea: relative paths inside yoban.yaml are relative to the folder yoban.yaml is in, so
 * a site folder can be moved or copied whole; every default is a path in that folder.
 */
#include "runbook_priv.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tz.h"

int rb_config_find(const char *explicit_path, const char *near_path, char **out,
		   struct yb_err *err)
{
	const char *env = getenv("YOBAN_CONFIG");
	if (explicit_path || (env && *env)) {
		const char *p = explicit_path ? explicit_path : env;
		struct stat st;
		if (stat(p, &st) < 0)
			return yb_err_set(err, errno == ENOENT ? YB_ENOENT : YB_EIO,
					  "config file '%s'%s %s", p,
					  explicit_path ? "" : " (from $YOBAN_CONFIG)",
					  errno == ENOENT ? "does not exist" : strerror(errno));
		if (!S_ISREG(st.st_mode))
			return yb_err_set(err, YB_EINVAL, "config file '%s'%s is %s, not a regular file: "
					  "give the path of a yoban.yaml", p,
					  explicit_path ? "" : " (from $YOBAN_CONFIG)",
					  yb_file_type_name(st.st_mode));
		*out = xstrdup(p);
		return 0;
	}
	if (near_path) {
		char buf[PATH_MAX];
		if (realpath(near_path, buf)) {
			char *dir = rb_is_dir(buf) ? xstrdup(buf) : rb_dir_name(buf);
			for (int depth = 0; depth < 64; depth++) {
				char *cand = rb_path_join(dir, "yoban.yaml");
				if (rb_is_file(cand)) {
					free(dir);
					*out = cand;
					return 0;
				}
				free(cand);
				if (!strcmp(dir, "/"))
					break;
				char *up = rb_dir_name(dir);
				free(dir);
				dir = up;
			}
			free(dir);
		}
	}
	*out = rb_is_file("/etc/yoban/yoban.yaml") ? xstrdup("/etc/yoban/yoban.yaml") : NULL;
	return 0;
}

/* ---- the site config ---------------------------------------------------------------------- */

static const char *const site_keys[] = { "database", "state_dir", "runbooks", "inventory",
					 "calendars", "secrets_dir", "ssh", "timezone", "notify",
					 "contract", "maintenance", "approval", NULL };
static const char *const site_approval_keys[] = { "emergency_lead_time", NULL };
static const char *const ssh_keys[] = { "key", "known_hosts", NULL };
static const char *const site_notify_keys[] = { "channels", "default", "escalation", NULL };
static const char *const channel_keys[] = { "smtp", "command", "webhook", "timeout", "retry", NULL };
static const char *const smtp_keys[] = { "url", "from", "to", "user", "password_file", "tls", NULL };
static const char *const retry_keys[] = { "attempts", "delay", NULL };
static const char *const tls_modes[] = { "required", "optional", NULL };
static const char *const contract_keys[] = { "period", "hours_per_day", "days_per_month", "caps",
					     "sla", "team", NULL };
static const char *const period_keys[] = { "from", "to", NULL };
static const char *const cap_keys[] = { "per_month", "total", NULL };
static const char *const caps_keys[] = { "service", "incident", "modification", NULL };
static const char *const sla_keys[] = { "report", "start", "recover", "availability", NULL };
static const char *const maint_keys[] = { "name", "from", "to", "action", "runbooks", NULL };
static const char *const maint_actions[] = { "hold", "skip", NULL };

void rb_site_defaults(struct rb_site *s, const char *dir)
{
	s->dir = dir ? xstrdup(dir) : NULL;
	s->state_dir = xstrdup("/var/lib/yoban");
	s->runbooks_dir = dir ? rb_path_join(dir, "runbooks") : xstrdup("/etc/yoban/runbooks");
	s->inventory_path = dir ? rb_path_join(dir, "inventory.yaml") : NULL;
	s->calendars_dir = dir ? rb_path_join(dir, "calendars") : NULL;
	s->secrets_dir = xstrdup(RB_DEFAULT_SECRETS_DIR);
	s->default_timezone = xstrdup(RB_DEFAULT_TIMEZONE);
	s->contract.hours_per_day = 8;
	s->contract.days_per_month = 20;
	s->contract.team = xstrdup(RB_DEFAULT_TEAM);
	for (int i = 0; i < RB_EFFORT_N; i++)
		s->contract.caps[i] = (struct rb_effort_cap){ -1, -1 };
}

void rb_site_release(struct rb_site *s)
{
	free(s->path);
	free(s->dir);
	free(s->database);
	free(s->state_dir);
	free(s->runbooks_dir);
	free(s->inventory_path);
	free(s->calendars_dir);
	free(s->secrets_dir);
	free(s->ssh_key);
	free(s->ssh_known_hosts);
	free(s->default_timezone);
	free(s->contract.team);
	for (size_t i = 0; i < s->n_channels; i++) {
		struct rb_channel *c = &s->channels[i];
		free(c->name);
		free(c->smtp_url);
		free(c->smtp_from);
		rb_strv_free(c->smtp_to, c->n_smtp_to);
		free(c->smtp_user);
		free(c->smtp_password_file);
		rb_strv_free(c->argv, c->argc);
		free(c->webhook_url);
	}
	free(s->channels);
	rb_strv_free(s->default_channels, s->n_default_channels);
	rb_strv_free(s->escalation_channels, s->n_escalation_channels);
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
	rb_site_release(site);
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
	*out = rb_path_join(s->dir, text);
	free(text);
}

static void parse_channel(const struct rbx *x, const struct rb_site *s, struct rb_channel *c,
			  const struct yn_node *n)
{
	c->timeout_ms = RB_CHANNEL_TIMEOUT_MS;
	c->retry = (struct rb_retry){ RB_CHANNEL_ATTEMPTS, RB_CHANNEL_RETRY_DELAY_MS };
	if (!rbx_is_map(x, n, "channel"))
		return;
	rbx_keys(x, n, channel_keys, " in a notify channel");
	int n_kinds = !!yn_get(n, "smtp") + !!yn_get(n, "command") + !!yn_get(n, "webhook");
	if (n_kinds != 1) {
		rbx_err(x, n, "notify channel '%s' needs exactly one of smtp, command or webhook",
			c->name);
		if (n_kinds == 0)
			return;
	}
	const struct yn_node *v;
	if ((v = yn_get(n, "timeout")) && rbx_duration(x, v, "timeout", &c->timeout_ms) &&
	    (c->timeout_ms < 1000 || c->timeout_ms > 10 * 60 * 1000))
		rbx_err(x, v, "a channel's timeout is from 1s to 10m");
	if ((v = yn_get(n, "retry")) && rbx_is_map(x, v, "retry")) {
		rbx_keys(x, v, retry_keys, " in 'retry'");
		const struct yn_node *f;
		int64_t i;
		if ((f = yn_get(v, "attempts")) && rbx_int(x, f, "attempts", 1, 20, &i))
			c->retry.attempts = (int)i;
		if ((f = yn_get(v, "delay")))
			rbx_duration(x, f, "delay", &c->retry.delay_ms);
	}
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
		if (c->smtp_url && strncmp(c->smtp_url, "smtp://", 7) &&
		    strncmp(c->smtp_url, "smtps://", 8))
			rbx_err(x, yn_get(v, "url"), "'url' must be smtp://HOST[:PORT] (STARTTLS) or "
				"smtps://HOST[:PORT] (TLS from the start)");
		const struct yn_node *f;
		if ((f = yn_get(v, "user")))
			rbx_str(x, f, "user", &c->smtp_user);
		if ((f = yn_get(v, "password_file"))) {
			char *written = NULL;
			struct yb_err e = { 0 };
			if (rbx_str(x, f, "password_file", &written) &&
			    rb_secret_resolve(s, written, &c->smtp_password_file, &e) < 0)
				rbx_err(x, f, "%s", e.msg);
			free(written);
		}
		if ((c->smtp_user != NULL) != (c->smtp_password_file != NULL))
			rbx_err(x, v, "'user' and 'password_file' go together in 'smtp'");
		c->smtp_tls_required = c->smtp_password_file != NULL;
		int mode;
		if ((f = yn_get(v, "tls")) && rbx_enum(x, f, "tls", tls_modes, &mode))
			c->smtp_tls_required = mode == 0;
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

/* A team name: what `yoban effort list --person` shows for scheduled runs' effort. */
static bool team_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._@-", s[i]))
			return false;
	return true;
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
			if (i == RB_EFFORT_INCIDENT) {
				rbx_err(x, cap, "incident recovery is never capped: remove 'incident' from "
					"'caps' (its hours are counted, not limited)");
				continue;
			}
			if ((f = yn_get(cap, "per_month")))
				rbx_num(x, f, "per_month", 0, 1e6, &c->caps[i].per_month);
			if ((f = yn_get(cap, "total")))
				rbx_num(x, f, "total", 0, 1e6, &c->caps[i].total);
		}
	}
	if ((v = yn_get(n, "team"))) {
		char *team = NULL;
		if (rbx_str(x, v, "team", &team)) {
			if (!team_name_ok(team))
				rbx_err(x, v, "'team' must be 1 to 63 letters, digits, '.', '_', '@' or '-', "
					"starting with a letter or digit (the name effort of scheduled runs is "
					"logged to), not '%s'", team);
			free(c->team);
			c->team = team;
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
	if ((v = yn_get(root, "secrets_dir")))
		site_path(x, s, v, "secrets_dir", &s->secrets_dir);
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
				parse_channel(x, s, c, ch->pairs[i].value);
			}
		}
		const struct yn_node *names;
		if ((names = yn_get(v, "default")))
			rbx_strlist(x, names, "default", &s->default_channels,
				    &s->n_default_channels);
		if ((names = yn_get(v, "escalation")))
			rbx_strlist(x, names, "escalation", &s->escalation_channels,
				    &s->n_escalation_channels);
		for (size_t i = 0; i < s->n_default_channels + s->n_escalation_channels; i++) {
			const char *name = i < s->n_default_channels ?
				s->default_channels[i] : s->escalation_channels[i - s->n_default_channels];
			bool known = false;
			for (size_t k = 0; k < s->n_channels; k++)
				known = known || !strcmp(s->channels[k].name, name);
			if (!known)
				rbx_err(x, i < s->n_default_channels ? yn_get(v, "default") :
					yn_get(v, "escalation"), "unknown notify channel '%.60s' (define it "
					"under notify.channels)", name);
		}
	}
	if ((v = yn_get(root, "approval")) && rbx_is_map(x, v, "approval")) {
		/* what `yoban request --emergency` waits after its last approval (default 0s) */
		rbx_keys(x, v, site_approval_keys, " in 'approval'");
		const struct yn_node *k;
		if ((k = yn_get(v, "emergency_lead_time")))
			rbx_duration(x, k, "emergency_lead_time", &s->emergency_lead_time_ms);
	}
	if ((v = yn_get(root, "contract")))
		parse_contract(x, &s->contract, v);
	if ((v = yn_get(root, "maintenance")))
		parse_maintenance(x, s, v);
}

/* Reads yoban.yaml into s. */
void rb_site_read(const char *path, const char *data, size_t len, struct rb_site *s,
		      struct rb_diags *d)
{
	char abs[PATH_MAX];
	char *dir;
	if (realpath(path, abs)) {
		dir = rb_dir_name(abs);
	} else {
		dir = rb_dir_name(path);
	}
	rb_site_defaults(s, dir);
	free(dir);
	s->path = xstrdup(path);
	struct yn_node *root = NULL;
	if (rb_read_tree(path, data, len, &root, d) < 0)
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
		rb_site_read(path, NULL, 0, s, &d);
	else
		rb_site_defaults(s, NULL);
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
