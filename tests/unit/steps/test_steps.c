/*
 * test_steps.c: the built-in backup steps, in-process. Hostile tar streams (built byte by byte
 * here, as an attacker would) against the safe extraction; the manifest parser's refusals; the
 * repository's rotation and its behaviour after a failed or killed backup; truncated zstd.
 */
#define _GNU_SOURCE
#include "archive_io.h"
#include "compress.h"
#include "json.h"
#include "manifest.h"
#include "repo.h"
#include "steps.h"
#include "yb.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a tar stream, written by hand ---- */

struct tarbuf {
	char *data;
	size_t len;
};

static void tar_add(struct tarbuf *t, const char *name, char type, const char *link,
		    const char *content)
{
	size_t size = content ? strlen(content) : 0;
	size_t blocks = 1 + (size + 511) / 512;
	t->data = xrealloc(t->data, t->len + blocks * 512 + 1024);
	char *h = t->data + t->len;
	memset(h, 0, blocks * 512);
	snprintf(h, 100, "%s", name);
	snprintf(h + 100, 8, "%07o", 0644);
	snprintf(h + 108, 8, "%07o", 0);
	snprintf(h + 116, 8, "%07o", 0);
	snprintf(h + 124, 12, "%011o", (unsigned)size);
	snprintf(h + 136, 12, "%011o", 1600000000);
	h[156] = type;
	if (link)
		snprintf(h + 157, 100, "%s", link);
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	if (type == '3' || type == '4') {
		snprintf(h + 329, 8, "%07o", 1);
		snprintf(h + 337, 8, "%07o", 3);
	}
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	if (content)
		memcpy(h + 512, content, size);
	t->len += blocks * 512;
}

static void tar_end(struct tarbuf *t)
{
	memset(t->data + t->len, 0, 1024);
	t->len += 1024;
}

struct memsrc {
	const char *data;
	size_t len;
	bool given;
};

static ssize_t mem_read(void *ctx, const void **data, struct yb_err *err)
{
	struct memsrc *m = ctx;
	if (m->given)
		return 0;
	m->given = true;
	*data = m->data;
	return (ssize_t)m->len;
}

static char tmp_root[256];

static char *fresh_dir(const char *name)
{
	if (!tmp_root[0]) {
		snprintf(tmp_root, sizeof(tmp_root), "/tmp/yb-steps-XXXXXX");
		ck_assert_ptr_nonnull(mkdtemp(tmp_root));
	}
	char *p = xasprintf("%s/%s", tmp_root, name);
	mkdir(p, 0700);
	return p;
}

static int extract(struct tarbuf *t, const char *dest, struct yb_err *err)
{
	struct memsrc m = { t->data, t->len, false };
	return aio_extract(mem_read, &m, dest, NULL, NULL, err);
}

/* Each hostile stream is refused, and nothing appears outside the destination. */
static void hostile(const char *label, void (*build)(struct tarbuf *), const char *expect)
{
	struct tarbuf t = { 0 };
	build(&t);
	tar_end(&t);
	char *base = fresh_dir(label);
	char *dest = xasprintf("%s/dest", base), *outside = xasprintf("%s/outside", base);
	mkdir(dest, 0700);
	mkdir(outside, 0700);
	struct yb_err err = { 0 };
	int rc = extract(&t, dest, &err);
	ck_assert_msg(rc < 0, "%s: hostile archive was accepted", label);
	ck_assert_msg(strstr(err.msg, expect), "%s: message '%s' lacks '%s'", label, err.msg, expect);
	DIR *d = opendir(outside);
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	ck_assert_msg(n == 0, "%s: something was written outside the destination", label);
	ck_assert_int_ne(access("/tmp/yb-steps-pwned", F_OK), 0);
	free(dest);
	free(outside);
	free(base);
	free(t.data);
}

static void b_absolute(struct tarbuf *t) { tar_add(t, "/tmp/yb-steps-pwned", '0', NULL, "x"); }
static void b_dotdot(struct tarbuf *t) { tar_add(t, "../outside/x", '0', NULL, "x"); }
static void b_dotdot_mid(struct tarbuf *t) { tar_add(t, "a/../../outside/x", '0', NULL, "x"); }
static void b_symlink_then_file(struct tarbuf *t)
{
	tar_add(t, "l", '2', "../outside", NULL);
	tar_add(t, "l/x", '0', NULL, "pwned");
}
static void b_symlink_replaces_dir(struct tarbuf *t)
{
	tar_add(t, "d/", '5', NULL, NULL);
	tar_add(t, "d", '2', "../outside", NULL);
	tar_add(t, "d/x", '0', NULL, "pwned");
}
static void b_hardlink_out(struct tarbuf *t) { tar_add(t, "h", '1', "../outside/x", NULL); }
static void b_hardlink_unknown(struct tarbuf *t) { tar_add(t, "h", '1', "etc/passwd", NULL); }
static void b_device(struct tarbuf *t) { tar_add(t, "dev", '3', NULL, NULL); }
static void b_fifo(struct tarbuf *t) { tar_add(t, "fifo", '6', NULL, NULL); }
static void b_twice(struct tarbuf *t)
{
	tar_add(t, "f", '0', NULL, "one");
	tar_add(t, "f", '0', NULL, "two");
}

START_TEST(hostile_archives_are_refused)
{
	hostile("absolute", b_absolute, "absolute");
	hostile("dotdot", b_dotdot, "'..'");
	hostile("dotdot-mid", b_dotdot_mid, "'..'");
	hostile("symlink-then-file", b_symlink_then_file, "not a folder of the archive");
	hostile("symlink-replaces-dir", b_symlink_replaces_dir, "appears twice");
	hostile("hardlink-out", b_hardlink_out, "unsafe target");
	hostile("hardlink-unknown", b_hardlink_unknown, "not a file extracted before it");
	hostile("device", b_device, "device");
	hostile("fifo", b_fifo, "device, FIFO or socket");
	hostile("twice", b_twice, "appears twice");
}
END_TEST

START_TEST(a_plain_archive_extracts)
{
	struct tarbuf t = { 0 };
	tar_add(&t, "d/", '5', NULL, NULL);
	tar_add(&t, "d/f", '0', NULL, "hello");
	tar_add(&t, "d/h", '1', "d/f", NULL);
	tar_add(&t, "s", '2', "/etc/passwd", NULL); /* a link may point anywhere; nothing goes through */
	tar_end(&t);
	char *dest = fresh_dir("plain");
	struct yb_err err = { 0 };
	ck_assert_msg(extract(&t, dest, &err) == 0, "%s", err.msg);
	char *f = xasprintf("%s/d/f", dest), *h = xasprintf("%s/d/h", dest);
	struct stat a, b;
	ck_assert_int_eq(stat(f, &a), 0);
	ck_assert_int_eq(stat(h, &b), 0);
	ck_assert_int_eq(a.st_ino, b.st_ino);
	ck_assert_int_eq(a.st_size, 5);
	ck_assert_int_eq(a.st_mtime, 1600000000);
	free(f);
	free(h);
	free(dest);
	free(t.data);
}
END_TEST

START_TEST(names_are_checked)
{
	static const char *const bad[] = { "", "/a", "a/../b", "..", ".", "./a", "a//b", "a/./b" };
	static const char *const good[] = { "a", "a/b", "dir/", "日本語/ファイル", ".hidden", "a..b" };
	for (size_t i = 0; i < YB_ARRAY_LEN(bad); i++)
		ck_assert_msg(aio_check_name(bad[i], NULL) < 0, "'%s' accepted", bad[i]);
	for (size_t i = 0; i < YB_ARRAY_LEN(good); i++)
		ck_assert_msg(aio_check_name(good[i], NULL) == 0, "'%s' refused", good[i]);
}
END_TEST

static const char *const good_manifest =
	"{\"format\":\"yoban-backup-1\",\"source\":{\"kind\":\"folder\",\"path\":\"/srv\"},"
	"\"created_us\":1,\"compression\":{\"algorithm\":\"zstd\",\"level\":3,\"threads\":2},"
	"\"data\":{\"file\":\"data.tar.zst\",\"bytes\":10,\"sha256\":"
	"\"0000000000000000000000000000000000000000000000000000000000000000\"},"
	"\"content\":{\"bytes\":20,\"sha256\":"
	"\"1111111111111111111111111111111111111111111111111111111111111111\"},"
	"\"entries\":[{\"path\":\"b\",\"type\":\"file\",\"size\":3,\"sha256\":"
	"\"2222222222222222222222222222222222222222222222222222222222222222\",\"mode\":420,"
	"\"uid\":0,\"gid\":0,\"mtime\":5,\"mtime_ns\":0},"
	"{\"path\":\"a\",\"type\":\"dir\",\"mode\":493,\"uid\":0,\"gid\":0,\"mtime\":5,\"mtime_ns\":0}]}";

START_TEST(manifest_round_trip_and_refusals)
{
	struct manifest m;
	struct yb_err err = { 0 };
	ck_assert_msg(manifest_parse(good_manifest, strlen(good_manifest), &m, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(m.n_entries, 2);
	ck_assert_str_eq(m.entries[0].path, "a"); /* sorted */
	ck_assert_ptr_nonnull(manifest_find(&m, "b"));
	ck_assert_ptr_null(manifest_find(&m, "c"));
	char *text = manifest_dump(&m);
	struct manifest again;
	ck_assert_msg(manifest_parse(text, strlen(text), &again, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(again.entries[1].sha256, m.entries[1].sha256);
	manifest_release(&again);
	free(text);
	manifest_release(&m);

	struct {
		const char *from, *to, *expect;
	} cases[] = {
		{ "yoban-backup-1", "yoban-backup-9", "format" },
		{ "\"path\":\"b\"", "\"path\":\"../b\"", "'..'" },
		{ "\"path\":\"b\"", "\"path\":\"/b\"", "absolute" },
		{ "\"path\":\"b\"", "\"path\":\"a\"", "twice" },
		{ "\"type\":\"file\"", "\"type\":\"device\"", "type" },
		{ "\"size\":3", "\"size\":-3", "size" },
		{ "\"mode\":420", "\"mode\":99999", "mode" },
		{ "2222222222222222", "zzzzzzzzzzzzzzzz", "hex" },
		{ "data.tar.zst", "data.zst", "data.file" },
	};
	for (size_t i = 0; i < YB_ARRAY_LEN(cases); i++) {
		char *bad = xstrdup(good_manifest);
		char *at = strstr(bad, cases[i].from);
		ck_assert_ptr_nonnull(at);
		char *edited = xasprintf("%.*s%s%s", (int)(at - bad), bad, cases[i].to,
					 at + strlen(cases[i].from));
		struct manifest x;
		err.msg[0] = 0;
		ck_assert_msg(manifest_parse(edited, strlen(edited), &x, &err) < 0, "case %zu accepted", i);
		ck_assert_msg(strstr(err.msg, cases[i].expect), "case %zu: '%s'", i, err.msg);
		free(edited);
		free(bad);
	}
}
END_TEST

/* ---- the repository ---- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static int backup(const char *repo, const char *src, struct yb_err *err)
{
	struct yb_json *spec = yb_json_object(), *ev = yb_json_object();
	yb_json_set(spec, "repository", yb_json_str(repo));
	yb_json_set(spec, "source", yb_json_str(src));
	yb_json_set(spec, "generations", yb_json_int(3));
	int rc = step_backup(spec, ev, err);
	yb_json_free(spec);
	yb_json_free(ev);
	return rc;
}

START_TEST(four_backups_leave_three_generations)
{
	char *src = fresh_dir("src4"), *repo = xasprintf("%s/repo4", tmp_root);
	char *f = xasprintf("%s/file", src);
	struct yb_err err = { 0 };
	for (int i = 0; i < 4; i++) {
		char text[32];
		snprintf(text, sizeof(text), "version %d\n", i);
		write_file(f, text);
		ck_assert_msg(backup(repo, src, &err) == 0, "%s", err.msg);
	}
	struct repo_gen *gens;
	size_t n;
	ck_assert_int_eq(repo_list(repo, &gens, &n, &err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(gens[0].seq, 4);
	ck_assert_uint_eq(gens[2].seq, 2);
	for (size_t i = 0; i < n; i++) {
		ck_assert(gens[i].readable && gens[i].verified_ok);
		ck_assert_msg(steps_verify_generation(gens[i].dir, false, NULL, &err) == 0, "%s", err.msg);
	}
	/* generation 2 is the second backup: "version 1" */
	char *out = xasprintf("%s/restored", tmp_root), *data = xasprintf("%s/%s", gens[2].dir,
									  gens[2].m.data_name);
	uint64_t files = 0;
	ck_assert_msg(steps_restore_data(&gens[2].m, data, out, false, &files, &err) == 0, "%s", err.msg);
	char *rf = xasprintf("%s/file", out), *text = NULL;
	size_t len;
	ck_assert_int_eq(yb_read_file(rf, 100, &text, &len, &err), 0);
	ck_assert_str_eq(text, "version 1\n");
	/* a second restore into the same (now non-empty) folder is refused */
	ck_assert_int_lt(steps_restore_data(&gens[2].m, data, out, false, &files, &err), 0);
	ck_assert_msg(strstr(err.msg, "not empty"), "%s", err.msg);
	repo_gens_free(gens, n);
	free(text);
	free(rf);
	free(out);
	free(data);
	free(f);
	free(src);
	free(repo);
}
END_TEST

START_TEST(a_failed_backup_keeps_the_generations)
{
	char *src = fresh_dir("srcf"), *repo = xasprintf("%s/repof", tmp_root);
	char *f = xasprintf("%s/file", src);
	struct yb_err err = { 0 };
	write_file(f, "good\n");
	ck_assert_int_eq(backup(repo, src, &err), 0);
	ck_assert_int_eq(backup(repo, src, &err), 0);
	/* a killed backup leaves an .incoming- folder; a missing source fails this one */
	char *left = xasprintf("%s/.incoming-000099-1", repo);
	ck_assert_int_eq(mkdir(left, 0700), 0);
	char *gone = xasprintf("%s/no-such-folder", tmp_root);
	ck_assert_int_lt(backup(repo, gone, &err), 0);
	struct repo_gen *gens;
	size_t n;
	ck_assert_int_eq(repo_list(repo, &gens, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(steps_verify_generation(gens[i].dir, false, NULL, &err) == 0, "%s", err.msg);
	repo_gens_free(gens, n);
	ck_assert_int_ne(access(left, F_OK), 0); /* the leftover was cleaned */
	/* the next good backup follows the newest generation */
	ck_assert_int_eq(backup(repo, src, &err), 0);
	ck_assert_int_eq(repo_list(repo, &gens, &n, &err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(gens[0].seq, 3);
	repo_gens_free(gens, n);
	/* a tampered data file fails verification */
	char *data = NULL;
	ck_assert_int_eq(repo_list(repo, &gens, &n, &err), 0);
	data = xasprintf("%s/%s", gens[0].dir, gens[0].m.data_name);
	int fd = open(data, O_WRONLY);
	ck_assert_int_eq(pwrite(fd, "X", 1, 20), 1);
	close(fd);
	ck_assert_int_lt(steps_verify_generation(gens[0].dir, false, NULL, &err), 0);
	repo_gens_free(gens, n);
	free(data);
	free(gone);
	free(left);
	free(f);
	free(src);
	free(repo);
}
END_TEST

START_TEST(a_foreign_folder_is_not_a_repository)
{
	char *dir = fresh_dir("foreign"), *f = xasprintf("%s/precious", dir);
	write_file(f, "mine\n");
	struct repo r;
	struct yb_err err = { 0 };
	ck_assert_int_lt(repo_open(dir, true, &r, &err), 0);
	ck_assert_msg(strstr(err.msg, "not a Yoban backup repository"), "%s", err.msg);
	free(f);
	free(dir);
}
END_TEST

static int to_buf(void *ctx, const void *data, size_t len, struct yb_err *err)
{
	return yb_buf_append(ctx, data, len) < 0 ? yb_err_set(err, YB_ENOMEM, "full") : 0;
}

START_TEST(a_truncated_zstd_stream_is_detected)
{
	struct yb_buf z, out;
	struct yb_err err;
	yb_buf_init(&z, 0);
	yb_buf_init(&out, 0);
	struct yb_zstd_enc *e = yb_zstd_enc_new(3, 2, NULL);
	char data[100000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7 % 251);
	ck_assert_int_eq(yb_zstd_enc_write(e, data, sizeof(data), to_buf, &z, &err), 0);
	ck_assert_int_eq(yb_zstd_enc_finish(e, to_buf, &z, &err), 0);
	yb_zstd_enc_free(e);
	struct yb_zstd_dec *d = yb_zstd_dec_new();
	ck_assert_int_eq(yb_zstd_dec_write(d, z.data, z.len, to_buf, &out, &err), 0);
	ck_assert_int_eq(yb_zstd_dec_finish(d, &err), 0);
	ck_assert_uint_eq(out.len, sizeof(data));
	ck_assert(!memcmp(out.data, data, sizeof(data)));
	yb_zstd_dec_free(d);
	d = yb_zstd_dec_new();
	yb_buf_reset(&out);
	ck_assert_int_eq(yb_zstd_dec_write(d, z.data, z.len - 5, to_buf, &out, &err), 0);
	ck_assert_int_lt(yb_zstd_dec_finish(d, &err), 0);
	ck_assert_msg(strstr(err.msg, "truncated"), "%s", err.msg);
	yb_zstd_dec_free(d);
	yb_buf_release(&z);
	yb_buf_release(&out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("steps");
	TCase *tc = tcase_create("steps");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, hostile_archives_are_refused);
	tcase_add_test(tc, a_plain_archive_extracts);
	tcase_add_test(tc, names_are_checked);
	tcase_add_test(tc, manifest_round_trip_and_refusals);
	tcase_add_test(tc, four_backups_leave_three_generations);
	tcase_add_test(tc, a_failed_backup_keeps_the_generations);
	tcase_add_test(tc, a_foreign_folder_is_not_a_repository);
	tcase_add_test(tc, a_truncated_zstd_stream_is_detected);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	char *cmd = xasprintf("rm -rf '%s'", tmp_root);
	if (tmp_root[0] && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp_root);
	free(cmd);
	return failed ? 1 : 0;
}
