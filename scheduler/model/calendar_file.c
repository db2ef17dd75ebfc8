/*
 * calendar_file.c: a site calendar (calendars/NAME.yaml): the days a site is closed beyond, or
 * instead of, the national holidays: closed weekdays, yearly ranges (12-29..01-03), single
 * closed days and days open despite the rest. The calendar model itself is scheduler/time's.
 */
#include "runbook_priv.h"

#include <stdlib.h>
#include <string.h>

#include "tz.h"

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

static bool defined(const struct calendar *cals, size_t n_cals, const char *name)
{
	for (size_t i = 0; i < n_cals; i++)
		if (!strcmp(cals[i].name, name))
			return true;
	return cal_builtin(name) != NULL;
}

void rb_calendar_read(struct calendar **cals, size_t *n_cals, const char *path, const char *data,
		      size_t len, struct rb_diags *d)
{
	struct yn_node *root = NULL;
	if (rb_read_tree(path, data, len, &root, d) < 0)
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
	if (!yb_runbook_name_valid(name))
		rbx_err(&x, v, "calendar name '%.60s' may use only a-z, 0-9 and '-'", name);
	if (!strcmp(name, "jp") || defined(*cals, *n_cals, name)) {
		rbx_err(&x, v, "calendar '%s' is already defined%s: choose another name", name,
			!strcmp(name, "jp") ? " (built in: the national holidays)" : "");
		free(name);
		yn_free(root);
		return;
	}
	*cals = xrealloc(*cals, (*n_cals + 1) * sizeof(**cals));
	struct calendar *cal = &(*cals)[(*n_cals)++];
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
