/*
 * json.c: the jansson wrapper. Jansson's json_t is our struct yb_json; this file is the only one
 * that sees that, so the rest of the code speaks yb_json_* and the library could be swapped here.
 */
#include "json.h"

#include "buf.h"
#include "digest.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define J(v) ((json_t *)(v))
#define Y(v) ((struct yb_json *)(v))

static json_t *checked(json_t *v)
{
	if (!v)
		BUG("jansson allocation failed");
	return v;
}

struct yb_json *yb_json_object(void) { return Y(checked(json_object())); }
struct yb_json *yb_json_array(void) { return Y(checked(json_array())); }
bool yb_utf8_valid(const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t need;
		uint32_t cp;
		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			need = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			need = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			need = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i <= need)
			return false;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		static const uint32_t min_for[4] = { 0, 0x80, 0x800, 0x10000 };
		if (cp < min_for[need] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

/* The bytes with each byte of an invalid sequence (and NUL) replaced by U+FFFD. */
static json_t *lossy_string(const char *s, size_t n)
{
	struct yb_buf b;
	yb_buf_init(&b, 0);
	size_t i = 0;
	while (i < n) {
		size_t len = 1;
		unsigned char c = (unsigned char)s[i];
		if (c >= 0xc0 && c < 0xf8)
			len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
		if (len <= n - i && yb_utf8_valid(s + i, len)) {
			yb_buf_append(&b, s + i, len);
		} else {
			yb_buf_append(&b, "\xef\xbf\xbd", 3);
			len = 1;
		}
		i += len;
	}
	json_t *v = checked(json_stringn(b.data ? b.data : "", b.len));
	yb_buf_release(&b);
	return v;
}

struct yb_json *yb_json_str(const char *s)
{
	if (!s)
		return Y(json_null());
	return yb_json_strn(s, strlen(s));
}
struct yb_json *yb_json_strn(const char *s, size_t n)
{
	/* NUL too is replaced: a parser (ours included) refuses \u0000 */
	return yb_utf8_valid(s, n) ? Y(checked(json_stringn(s, n))) : Y(lossy_string(s, n));
}

struct yb_json *yb_json_bytes(const void *p, size_t n)
{
	if (yb_utf8_valid(p, n))
		return Y(checked(json_stringn(p, n)));
	struct yb_json *o = yb_json_object();
	char *b64 = yb_base64(p, n);
	yb_json_set(o, "base64", yb_json_str(b64));
	free(b64);
	return o;
}

int yb_json_bytes_value(const struct yb_json *v, unsigned char **out, size_t *n,
			struct yb_err *err)
{
	if (v && json_is_string(J(v))) {
		size_t len = json_string_length(J(v));
		unsigned char *copy = xmalloc(len + 1);
		memcpy(copy, json_string_value(J(v)), len);
		copy[len] = '\0';
		*out = copy;
		*n = len;
		return 0;
	}
	json_t *b64 = v && json_is_object(J(v)) && json_object_size(J(v)) == 1
			      ? json_object_get(J(v), "base64") : NULL;
	if (!b64 || !json_is_string(b64))
		return yb_err_set(err, YB_EINVAL,
				  "expected a string or {\"base64\": \"...\"} for bytes");
	return yb_base64_decode(json_string_value(b64), out, n, err);
}

struct yb_json *yb_json_int(int64_t v) { return Y(checked(json_integer((json_int_t)v))); }
struct yb_json *yb_json_real(double v) { return Y(checked(json_real(v))); }
struct yb_json *yb_json_bool(bool v) { return Y(json_boolean(v)); }
struct yb_json *yb_json_null(void) { return Y(json_null()); }
struct yb_json *yb_json_ref(struct yb_json *v) { return Y(json_incref(J(v))); }
void yb_json_free(struct yb_json *v) { json_decref(J(v)); }

void yb_json_set(struct yb_json *obj, const char *key, struct yb_json *value)
{
	if (json_object_set_new(J(obj), key, J(value)) < 0)
		BUG("json_object_set_new('%s') failed", key);
}

void yb_json_push(struct yb_json *arr, struct yb_json *value)
{
	if (json_array_append_new(J(arr), J(value)) < 0)
		BUG("json_array_append_new failed");
}

int yb_json_parse(const char *text, size_t len, struct yb_json **out, struct yb_err *err)
{
	json_error_t jerr;
	json_t *v = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
	if (!v)
		return yb_err_set(err, YB_EINVAL, "bad JSON at line %d column %d: %s", jerr.line,
				  jerr.column, jerr.text);
	*out = Y(v);
	return 0;
}

bool yb_json_equal(const struct yb_json *a, const struct yb_json *b)
{
	if (!a || !b)
		return a == b;
	return json_equal(J(a), J(b)) != 0;
}

char *yb_json_dump(const struct yb_json *v, int flags)
{
	size_t jflags = JSON_PRESERVE_ORDER | JSON_ENCODE_ANY;
	if (flags & YB_JSON_PRETTY)
		jflags |= JSON_INDENT(2);
	else
		jflags |= JSON_COMPACT;
	char *text = json_dumps(J(v), jflags);
	if (!text)
		BUG("json_dumps failed");
	return text;
}

void yb_json_print(const struct yb_json *v, int flags)
{
	char *s = yb_json_dump(v, flags);
	fputs(s, stdout);
	fputc('\n', stdout);
	free(s);
}

bool yb_json_is_object(const struct yb_json *v) { return v && json_is_object(J(v)); }
bool yb_json_is_array(const struct yb_json *v) { return v && json_is_array(J(v)); }
bool yb_json_is_string(const struct yb_json *v) { return v && json_is_string(J(v)); }
bool yb_json_is_null(const struct yb_json *v) { return v && json_is_null(J(v)); }
bool yb_json_is_int(const struct yb_json *v) { return v && json_is_integer(J(v)); }

struct yb_json *yb_json_get(const struct yb_json *obj, const char *key)
{
	return obj && json_is_object(J(obj)) ? Y(json_object_get(J(obj), key)) : NULL;
}

const char *yb_json_get_str(const struct yb_json *obj, const char *key)
{
	return json_string_value(J(yb_json_get(obj, key)));
}

int64_t yb_json_get_int(const struct yb_json *obj, const char *key, int64_t dflt)
{
	json_t *v = J(yb_json_get(obj, key));
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

bool yb_json_get_bool(const struct yb_json *obj, const char *key, bool dflt)
{
	json_t *v = J(yb_json_get(obj, key));
	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

size_t yb_json_len(const struct yb_json *arr) { return json_array_size(J(arr)); }
struct yb_json *yb_json_at(const struct yb_json *arr, size_t i) { return Y(json_array_get(J(arr), i)); }
const char *yb_json_string_value(const struct yb_json *v) { return json_string_value(J(v)); }
int64_t yb_json_int_value(const struct yb_json *v) { return (int64_t)json_integer_value(J(v)); }

bool yb_json_next_member(const struct yb_json *obj, void **iter, const char **key,
			 struct yb_json **value)
{
	void *it = *iter ? json_object_iter_next(J(obj), *iter) : json_object_iter(J(obj));
	if (!it)
		return false;
	*iter = it;
	*key = json_object_iter_key(it);
	*value = Y(json_object_iter_value(it));
	return true;
}
