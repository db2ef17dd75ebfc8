/*
 * sql_csv.c: result sets as CSV (RFC 4180), the form the sql step's evidence takes (sql.h).
 *
 * The one idea: the bytes are the evidence, so they must be the same every time for the same
 * rows, and a reader must be able to tell SQL NULL from the empty string. Records end in CRLF;
 * a field is quoted only when it must be (a comma, a quote, CR or LF in it) or when it is the
 * empty string; NULL is the empty field. A record is appended whole or not at all, so a capped
 * CSV never ends in half a row.
 */
#include "sql.h"

#include <string.h>

void sql_csv_init(struct sql_csv *c, size_t cap)
{
	yb_buf_init(&c->buf, 0);
	c->cap = cap;
	c->rows = 0;
}

void sql_csv_release(struct sql_csv *c)
{
	yb_buf_release(&c->buf);
	c->rows = 0;
}

static bool needs_quotes(const char *v)
{
	return !*v || strpbrk(v, ",\"\r\n") != NULL;
}

static void put_field(struct yb_buf *b, const char *v)
{
	if (!v)
		return;
	if (!needs_quotes(v)) {
		yb_buf_append(b, v, strlen(v));
		return;
	}
	yb_buf_append(b, "\"", 1);
	for (const char *p = v; *p; p++) {
		if (*p == '"')
			yb_buf_append(b, "\"", 1);
		yb_buf_append(b, p, 1);
	}
	yb_buf_append(b, "\"", 1);
}

int sql_csv_record(struct sql_csv *c, const char *const *values, int n, bool header,
		   struct yb_err *err)
{
	size_t before = c->buf.len;
	for (int i = 0; i < n; i++) {
		if (i)
			yb_buf_append(&c->buf, ",", 1);
		put_field(&c->buf, values[i]);
	}
	yb_buf_append(&c->buf, "\r\n", 2);
	if (c->buf.len > c->cap) {
		c->buf.len = before;
		if (c->buf.data)
			c->buf.data[before] = '\0';
		return yb_err_set(err, YB_ENOMEM, "the result set is larger than %zu bytes as CSV "
				  "(after %lld rows): narrow the query", c->cap, (long long)c->rows);
	}
	if (!header)
		c->rows++;
	return 0;
}
