/*
 * diag.c: the loader's diagnostics: collected (capped at RB_MAX_DIAGS, the rest counted), sorted
 * by file and place, and written out for people ("FILE:LINE:COL: error: MESSAGE") or as JSON.
 *
 * The one idea: a diagnostic is made where the problem is seen and printed much later, so it
 * owns copies of its file name and message; a path under the current folder is kept as the
 * user would type it. Both quote text from files, so both are escaped when they are made:
 * control characters and broken UTF-8 never reach a terminal or a JSON document raw.
 */
#include "diag.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"

void rb_diags_init(struct rb_diags *d)
{
	memset(d, 0, sizeof(*d));
}

void rb_diags_release(struct rb_diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->items[i].file);
		free(d->items[i].msg);
	}
	free(d->items);
	memset(d, 0, sizeof(*d));
}

/* An absolute path under the current folder is shown relative to it, as the user would type it. */
static const char *display_path(const char *file)
{
	static char cwd[4096];
	static size_t cwd_len;
	if (!file)
		return "-";
	if (file[0] != '/')
		return file;
	if (!cwd_len) {
		if (!getcwd(cwd, sizeof(cwd) - 1))
			return file;
		cwd_len = strlen(cwd);
	}
	if (cwd_len > 1 && !strncmp(file, cwd, cwd_len) && file[cwd_len] == '/')
		return file + cwd_len + 1;
	return file;
}

/* The length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c, min;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, c = s[0] & 0x1f, min = 0x80;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, c = s[0] & 0x0f, min = 0x800;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, c = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Text from a file, made safe to print: control characters (C0, DEL and C1, which a terminal
 * would obey: ESC [ 2 J clears the screen) are shown as \x1b or \u009b, and a byte that is not
 * part of valid UTF-8 (a cut or foreign sequence) as \xHH, so a diagnostic never drives the
 * terminal and is always valid UTF-8 (for --format json). Caller frees. */
static char *escape_text(const char *text)
{
	size_t n = strlen(text);
	const unsigned char *s = (const unsigned char *)text;
	char *out = xmalloc(6 * n + 1), *o = out;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len;
		if (s[i] < 0x20 || s[i] == 0x7f) {
			o += sprintf(o, "\\x%02x", s[i]);
			i++;
		} else if (s[i] < 0x80) {
			*o++ = (char)s[i++];
		} else if (!(len = utf8_len(s + i, n - i, &cp))) {
			o += sprintf(o, "\\x%02x", s[i]);
			i++;
		} else if (cp <= 0x9f) {
			o += sprintf(o, "\\u%04x", (unsigned)cp);
			i += len;
		} else {
			memcpy(o, s + i, len);
			o += len;
			i += len;
		}
	}
	*o = 0;
	return out;
}

void rb_diag_add(struct rb_diags *d, enum rb_severity sev, const char *file, int line, int col,
		 const char *fmt, ...)
{
	if (sev == RB_SEV_ERROR)
		d->n_errors++;
	if (d->n >= RB_MAX_DIAGS) {
		d->n_dropped++;
		return;
	}
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 16;
		d->items = xrealloc(d->items, d->cap * sizeof(*d->items));
	}
	d->items[d->n] = (struct rb_diag){ .file = escape_text(display_path(file)),
					   .line = line,
					   .col = col,
					   .severity = sev,
					   .msg = escape_text(msg),
					   .seq = d->n };
	d->n++;
}

static int diag_cmp(const void *a, const void *b)
{
	const struct rb_diag *x = a, *y = b;
	int c = strcmp(x->file, y->file);
	if (c)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void rb_diags_sort(struct rb_diags *d)
{
	if (d->n > 1)
		qsort(d->items, d->n, sizeof(*d->items), diag_cmp);
}

static const char *sev_name(enum rb_severity s)
{
	return s == RB_SEV_WARNING ? "warning" : "error";
}

void rb_diags_print(const struct rb_diags *d, FILE *out)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct rb_diag *g = &d->items[i];
		if (g->line > 0)
			fprintf(out, "%s:%d:%d: %s: %s\n", g->file, g->line, g->col,
				sev_name(g->severity), g->msg);
		else
			fprintf(out, "%s: %s: %s\n", g->file, sev_name(g->severity), g->msg);
	}
	if (d->n_dropped)
		fprintf(out, "yoban: %zu more problems not shown: fix the ones above first\n",
			d->n_dropped);
}

struct yb_json *rb_diags_json(const struct rb_diags *d)
{
	struct yb_json *arr = yb_json_array();
	for (size_t i = 0; i < d->n; i++) {
		const struct rb_diag *g = &d->items[i];
		struct yb_json *o = yb_json_object();
		yb_json_set(o, "file", yb_json_str(g->file));
		yb_json_set(o, "line", yb_json_int(g->line));
		yb_json_set(o, "column", yb_json_int(g->col));
		yb_json_set(o, "severity", yb_json_str(sev_name(g->severity)));
		yb_json_set(o, "message", yb_json_str(g->msg));
		yb_json_push(arr, o);
	}
	return arr;
}

int rb_diags_to_err(const struct rb_diags *d, struct yb_err *err)
{
	const struct rb_diag *first = NULL;
	for (size_t i = 0; i < d->n && !first; i++)
		if (d->items[i].severity == RB_SEV_ERROR)
			first = &d->items[i];
	if (!first)
		return yb_err_set(err, YB_EINVAL, "invalid input");
	char more[64] = "";
	if (d->n_errors > 1)
		snprintf(more, sizeof(more), " (and %zu more)", d->n_errors - 1);
	if (first->line > 0)
		return yb_err_set(err, YB_EINVAL, "%s:%d:%d: %s%s", first->file, first->line,
				  first->col, first->msg, more);
	return yb_err_set(err, YB_EINVAL, "%s: %s%s", first->file, first->msg, more);
}

/* Moves every problem of from after those of to, as if they had been added there. */
void rb_diags_append(struct rb_diags *to, struct rb_diags *from)
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
