/*
 * json.h: JSON values, through jansson (common/json.c is the only file that includes jansson.h).
 *
 * A struct yb_json is reference counted: the _new functions and yb_json_parse return a value the
 * caller owns and releases with yb_json_free. The setters *steal* the value they are given (so
 * `yb_json_set(obj, "k", yb_json_str("v"))` leaks nothing); the getters borrow (do not free what
 * they return). Getters return NULL / the default when the key is absent or of another type.
 */
#ifndef YB_JSON_H
#define YB_JSON_H

#include "yb.h"

struct yb_json;

struct yb_json *yb_json_object(void);
struct yb_json *yb_json_array(void);
/* Text for people. NULL s gives JSON null. Bytes that are not UTF-8 (and NUL) become U+FFFD each,
 * so a dump never fails and always parses back; where the exact bytes must come back, use yb_json_bytes. */
struct yb_json *yb_json_str(const char *s);
struct yb_json *yb_json_strn(const char *s, size_t n);
/* Bytes, losslessly: a JSON string when they are UTF-8 without NUL, else {"base64": "..."}
 * (standard base64 of the exact bytes). Argument vectors, environment values, parameters and
 * output travel this way: Shift_JIS names and binary output are normal in this domain. */
struct yb_json *yb_json_bytes(const void *p, size_t n);
/* Reads what yb_json_bytes wrote (or any JSON string) into a new buffer with a NUL after the
 * bytes (not counted in *n); the caller frees it. YB_EINVAL for any other value. */
int yb_json_bytes_value(const struct yb_json *v, unsigned char **out, size_t *n,
			struct yb_err *err);
/* True when p[0..n) is valid UTF-8 (no overlongs, no surrogates) without NUL. */
bool yb_utf8_valid(const void *p, size_t n);
struct yb_json *yb_json_int(int64_t v);
struct yb_json *yb_json_real(double v);
struct yb_json *yb_json_bool(bool v);
struct yb_json *yb_json_null(void);
struct yb_json *yb_json_ref(struct yb_json *v);      /* one more reference */
void yb_json_free(struct yb_json *v);

void yb_json_set(struct yb_json *obj, const char *key, struct yb_json *value); /* steals value */
void yb_json_push(struct yb_json *arr, struct yb_json *value);                 /* steals value */

/* Parses text (not necessarily NUL-terminated). */
int yb_json_parse(const char *text, size_t len, struct yb_json **out, struct yb_err *err);
/* Compact (flags 0) or indented (YB_JSON_PRETTY) text; the caller frees it. Keys keep their
 * insertion order. */
#define YB_JSON_PRETTY 1
char *yb_json_dump(const struct yb_json *v, int flags);
/* Prints v to stdout followed by a newline. */
void yb_json_print(const struct yb_json *v, int flags);

bool yb_json_is_object(const struct yb_json *v);
bool yb_json_is_array(const struct yb_json *v);
bool yb_json_is_string(const struct yb_json *v);
bool yb_json_is_int(const struct yb_json *v);
bool yb_json_is_null(const struct yb_json *v);
/* Deep equality (jansson's json_equal): objects by their members in any order, arrays in order,
 * an integer never equal to a real. Two NULLs are equal; NULL and a value are not. */
bool yb_json_equal(const struct yb_json *a, const struct yb_json *b);
struct yb_json *yb_json_get(const struct yb_json *obj, const char *key);
const char *yb_json_get_str(const struct yb_json *obj, const char *key);
int64_t yb_json_get_int(const struct yb_json *obj, const char *key, int64_t dflt);
bool yb_json_get_bool(const struct yb_json *obj, const char *key, bool dflt);
size_t yb_json_len(const struct yb_json *arr);
struct yb_json *yb_json_at(const struct yb_json *arr, size_t i);
const char *yb_json_string_value(const struct yb_json *v);
int64_t yb_json_int_value(const struct yb_json *v);
/* Iterates an object's members in order: returns false at the end. *iter starts as NULL. */
bool yb_json_next_member(const struct yb_json *obj, void **iter, const char **key,
			 struct yb_json **value);

#endif
