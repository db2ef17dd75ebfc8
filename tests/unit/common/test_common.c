/*
 * test_common.c: the shared pieces every module leans on: durations, capped buffers, atomic
 * files, SHA-256 and the JSON wrapper.
 */
#include "buf.h"
#include "digest.h"
#include "json.h"
#include "yb.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

START_TEST(duration_parses_units)
{
	static const struct { const char *text; int64_t ms; } ok[] = {
		{ "90s", 90000 }, { "30m", 1800000 }, { "2h", 7200000 }, { "7d", 604800000 },
		{ "1500ms", 1500 }, { "1h30m", 5400000 }, { "0s", 0 }, { "1w", 604800000 },
	};
	for (size_t i = 0; i < YB_ARRAY_LEN(ok); i++) {
		int64_t ms = -1;
		struct yb_err err = { 0 };
		ck_assert_int_eq(yb_parse_duration_ms(ok[i].text, &ms, &err), 0);
		ck_assert_int_eq(ms, ok[i].ms);
	}
}
END_TEST

START_TEST(duration_refuses_bad_input)
{
	static const char *bad[] = { "", "30", "m", "30 m", "-5m", "5x", "1.5h", "99999999999999999999d" };
	for (size_t i = 0; i < YB_ARRAY_LEN(bad); i++) {
		int64_t ms = 42;
		struct yb_err err = { 0 };
		ck_assert_int_lt(yb_parse_duration_ms(bad[i], &ms, &err), 0);
		ck_assert_int_eq(ms, 42); /* output untouched on failure */
		ck_assert_msg(strlen(err.msg) > 0, "no message for '%s'", bad[i]);
	}
	struct yb_err err = { 0 };
	int64_t ms;
	yb_parse_duration_ms("5x", &ms, &err);
	ck_assert_ptr_nonnull(strstr(err.msg, "'5x'"));
	ck_assert_ptr_nonnull(strstr(err.msg, "30m"));
}
END_TEST

START_TEST(duration_formats_back)
{
	char out[32];
	yb_format_duration(5400000, out, sizeof(out));
	ck_assert_str_eq(out, "1h30m");
	yb_format_duration(90000, out, sizeof(out));
	ck_assert_str_eq(out, "1m30s");
	yb_format_duration(0, out, sizeof(out));
	ck_assert_str_eq(out, "0s");
}
END_TEST

START_TEST(buf_respects_its_cap)
{
	struct yb_buf b;
	yb_buf_init(&b, 10);
	ck_assert_int_eq(yb_buf_append(&b, "12345", 5), 0);
	ck_assert_int_eq(yb_buf_append(&b, "67890", 5), 0);
	ck_assert_int_eq(yb_buf_append(&b, "x", 1), YB_ENOMEM);
	ck_assert_uint_eq(b.len, 10);
	ck_assert_str_eq(b.data, "1234567890");
	ck_assert_ptr_null(yb_buf_reserve(&b, 1));
	yb_buf_consume(&b, 4);
	ck_assert_str_eq(b.data, "567890");
	ck_assert_int_eq(yb_buf_appendf(&b, "%d", 1234), 0);
	ck_assert_str_eq(b.data, "5678901234");
	ck_assert_int_eq(yb_buf_appendf(&b, "%d", 5), YB_ENOMEM);
	yb_buf_release(&b);
}
END_TEST

START_TEST(sha256_known_vectors)
{
	char hex[YB_SHA256_HEX_LEN];
	yb_sha256_hex("abc", 3, hex);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	struct yb_sha256 h;
	unsigned char d[YB_SHA256_LEN];
	yb_sha256_init(&h);
	yb_sha256_update(&h, "a", 1);
	yb_sha256_update(&h, "bc", 2);
	yb_sha256_final(&h, d);
	yb_hex(d, sizeof(d), hex);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	char b64[64];
	yb_base64_nopad((const unsigned char *)"\xff\xfe", 2, b64, sizeof(b64));
	ck_assert_str_eq(b64, "//4");
}
END_TEST

START_TEST(atomic_write_replaces_whole_file)
{
	char dir[] = "/tmp/yb-test-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char *path = xasprintf("%s/f.json", dir);
	struct yb_err err = { 0 };
	ck_assert_int_eq(yb_write_file_atomic(path, "first", 5, 0600, &err), 0);
	ck_assert_int_eq(yb_write_file_atomic(path, "second", 6, 0600, &err), 0);
	char *data;
	size_t len;
	ck_assert_int_eq(yb_read_file(path, 1024, &data, &len, &err), 0);
	ck_assert_str_eq(data, "second");
	free(data);
	ck_assert_int_eq(yb_read_file(path, 3, &data, &len, &err), YB_ENOMEM);
	ck_assert_int_eq(yb_read_file("/nonexistent/x", 3, &data, &len, &err), YB_ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "'/nonexistent/x'"));
	/* no temp file left behind */
	char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	struct stat st;
	ck_assert_int_ne(stat(tmp, &st), 0);
	/* a folder that does not exist: error, nothing written */
	char *bad = xasprintf("%s/missing/f", dir);
	ck_assert_int_eq(yb_write_file_atomic(bad, "x", 1, 0600, &err), YB_EIO);
	unlink(path);
	rmdir(dir);
	free(bad);
	free(tmp);
	free(path);
}
END_TEST

START_TEST(json_round_trip)
{
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "job", yb_json_str("j-1"));
	yb_json_set(o, "n", yb_json_int(-42));
	struct yb_json *a = yb_json_array();
	yb_json_push(a, yb_json_str("x"));
	yb_json_push(a, yb_json_bool(true));
	yb_json_set(o, "list", a);
	char *text = yb_json_dump(o, 0);
	ck_assert_str_eq(text, "{\"job\":\"j-1\",\"n\":-42,\"list\":[\"x\",true]}");
	struct yb_json *back;
	struct yb_err err = { 0 };
	ck_assert_int_eq(yb_json_parse(text, strlen(text), &back, &err), 0);
	ck_assert_str_eq(yb_json_get_str(back, "job"), "j-1");
	ck_assert_int_eq(yb_json_get_int(back, "n", 0), -42);
	ck_assert_int_eq(yb_json_get_int(back, "missing", 7), 7);
	ck_assert_ptr_null(yb_json_get_str(back, "n"));
	ck_assert_uint_eq(yb_json_len(yb_json_get(back, "list")), 2);
	void *it = NULL;
	const char *key;
	struct yb_json *val;
	int members = 0;
	while (yb_json_next_member(back, &it, &key, &val))
		members++;
	ck_assert_int_eq(members, 3);
	yb_json_free(back);
	ck_assert_int_eq(yb_json_parse("{\"a\":", 5, &back, &err), YB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "line 1"));
	free(text);
	yb_json_free(o);
}
END_TEST

START_TEST(err_prefix_keeps_message)
{
	struct yb_err err = { 0 };
	yb_err_set(&err, YB_ENOENT, "no such host '%s'", "db-01");
	ck_assert_int_eq(yb_err_prefix(&err, "runbook '%s'", "nightly"), YB_ENOENT);
	ck_assert_str_eq(err.msg, "runbook 'nightly': no such host 'db-01'");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("common");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, duration_parses_units);
	tcase_add_test(tc, duration_refuses_bad_input);
	tcase_add_test(tc, duration_formats_back);
	tcase_add_test(tc, buf_respects_its_cap);
	tcase_add_test(tc, sha256_known_vectors);
	tcase_add_test(tc, atomic_write_replaces_whole_file);
	tcase_add_test(tc, json_round_trip);
	tcase_add_test(tc, err_prefix_keeps_message);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
