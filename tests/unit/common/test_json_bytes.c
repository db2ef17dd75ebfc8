/*
 * test_json_bytes.c: bytes that are not UTF-8 (Shift_JIS names, binary output, a stray 0xff in
 * an environment value) go through JSON without loss, and text for people never makes a dump
 * fail.
 */
#include "digest.h"
#include "json.h"
#include "yb.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* yb_json_bytes, dumped, parsed back and read: the same bytes. */
static void round_trip(const void *p, size_t n, bool expect_string)
{
	struct yb_json *v = yb_json_bytes(p, n);
	ck_assert(yb_json_is_string(v) == expect_string);
	char *text = yb_json_dump(v, 0);
	struct yb_json *back = NULL;
	struct yb_err err = { 0 };
	ck_assert_int_eq(yb_json_parse(text, strlen(text), &back, &err), 0);
	unsigned char *bytes = NULL;
	size_t len = 0;
	ck_assert_int_eq(yb_json_bytes_value(back, &bytes, &len, &err), 0);
	ck_assert_uint_eq(len, n);
	ck_assert(memcmp(bytes, p, n) == 0);
	ck_assert_int_eq(bytes[len], 0);
	free(bytes);
	free(text);
	yb_json_free(back);
	yb_json_free(v);
}

START_TEST(utf8_stays_a_string)
{
	round_trip("", 0, true);
	round_trip("plain ascii", 11, true);
	round_trip("住民記録 夜間バッチ", strlen("住民記録 夜間バッチ"), true);
	round_trip("\xf0\x9f\x8c\x99 moon", 9, true);
}
END_TEST

START_TEST(other_bytes_become_base64)
{
	/* "住民" in Shift_JIS */
	static const unsigned char sjis[] = { 0x8f, 0x5a, 0x96, 0xaf };
	round_trip(sjis, sizeof(sjis), false);
	round_trip("\xff", 1, false);
	round_trip("a\0b", 3, false);                 /* NUL inside */
	round_trip("\xc0\xaf", 2, false);             /* overlong '/' */
	round_trip("\xed\xa0\x80", 3, false);         /* a surrogate */
	round_trip("\xf4\x90\x80\x80", 4, false);     /* past U+10FFFF */
	round_trip("\xe3\x81", 2, false);             /* cut short */
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	round_trip(all, sizeof(all), false);

	struct yb_json *v = yb_json_bytes("\xff", 1);
	char *text = yb_json_dump(v, 0);
	ck_assert_str_eq(text, "{\"base64\":\"/w==\"}");
	free(text);
	yb_json_free(v);
}
END_TEST

START_TEST(bytes_value_refuses_other_shapes)
{
	static const char *const bad[] = {
		"42", "null", "[\"x\"]", "{\"base64\": 1}", "{\"base64\": \"***\"}",
		"{\"base64\": \"/w==\", \"extra\": 1}", "{\"b64\": \"/w==\"}", "{\"base64\": \"/w\"}",
	};
	for (size_t i = 0; i < YB_ARRAY_LEN(bad); i++) {
		struct yb_json *v = NULL;
		struct yb_err err = { 0 };
		ck_assert_int_eq(yb_json_parse(bad[i], strlen(bad[i]), &v, &err), 0);
		unsigned char *out = (unsigned char *)"untouched";
		size_t n = 99;
		ck_assert_msg(yb_json_bytes_value(v, &out, &n, &err) == YB_EINVAL, "%s", bad[i]);
		ck_assert_str_eq((char *)out, "untouched");
		ck_assert_uint_eq(n, 99);
		yb_json_free(v);
	}
}
END_TEST

START_TEST(text_for_people_never_fails)
{
	/* yb_json_str used to keep invalid bytes as they were, and the dump then failed (abort). */
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "name", yb_json_str("bad\xff" "byte"));
	yb_json_set(o, "cut", yb_json_strn("\xe3\x81", 2));
	yb_json_set(o, "nul", yb_json_strn("a\0b", 3));
	char *text = yb_json_dump(o, 0);
	ck_assert_str_eq(text, "{\"name\":\"bad\xef\xbf\xbd" "byte\",\"cut\":\"\xef\xbf\xbd\xef\xbf\xbd\","
			       "\"nul\":\"a\xef\xbf\xbd" "b\"}");
	struct yb_json *back = NULL;
	ck_assert_int_eq(yb_json_parse(text, strlen(text), &back, NULL), 0); /* it parses back */
	yb_json_free(back);
	free(text);
	yb_json_free(o);
}
END_TEST

START_TEST(base64_decode_is_strict)
{
	unsigned char *out = NULL;
	size_t n = 0;
	struct yb_err err = { 0 };
	ck_assert_int_eq(yb_base64_decode("aGVsbG8=", &out, &n, &err), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq((char *)out, "hello");
	free(out);
	ck_assert_int_eq(yb_base64_decode("aGVsbG8", &out, &n, &err), YB_EINVAL);
	ck_assert_int_eq(yb_base64_decode("aGVs bG8=", &out, &n, &err), YB_EINVAL);
	char *enc = yb_base64("", 0);
	ck_assert_str_eq(enc, "");
	free(enc);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("json bytes");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, utf8_stays_a_string);
	tcase_add_test(tc, other_bytes_become_base64);
	tcase_add_test(tc, bytes_value_refuses_other_shapes);
	tcase_add_test(tc, text_for_people_never_fails);
	tcase_add_test(tc, base64_decode_is_strict);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
