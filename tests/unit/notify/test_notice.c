/*
 * test_notice.c: what a notice says and where it goes, without a network: the subject and body
 * in both languages, the mail's headers (RFC 2047 subject, Message-ID from the notification id,
 * no header injection from configuration), the stderr tail cut on lines and characters, the
 * channels chosen for each event from a runbook revision and the site, the site's notify keys
 * and their refusals, and the command channel (stdin JSON, exit status, timeout).
 */
#include "channel.h"
#include "digest.h"
#include "message.h"
#include "runbook.h"
#include "worker.h"
#include "yb.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/yb-notice-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* Writes yoban.yaml with text into tmpdir and loads it. */
static int site_from(const char *text, struct rb_site **out, struct yb_err *err)
{
	char *path = xasprintf("%s/yoban.yaml", tmpdir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	int rc = rb_site_load(path, out, err);
	free(path);
	return rc;
}

static const struct notice failed_notice = {
	.id = 42, .event = "failure", .runbook = "nightly-resident-batch", .run_id = 12,
	.incident_id = 3, .mode = "production", .state = "failed", .step = "extract",
	.host = "batch-01", .exit_status = "3", .stderr_tail = "ディスク容量不足\nline two",
};

START_TEST(subject_and_body_in_both_languages)
{
	char *subject = notice_subject(&failed_notice), *text = notice_text(&failed_notice);
	ck_assert_str_eq(subject, "[yoban] 異常終了 FAILED: nightly-resident-batch (run 12)");
	ck_assert_ptr_nonnull(strstr(text, "Yoban が 異常終了 を検知しました。"));
	ck_assert_ptr_nonnull(strstr(text, "Yoban detected: FAILED."));
	ck_assert_ptr_nonnull(strstr(text, "extract"));
	ck_assert_ptr_nonnull(strstr(text, "batch-01"));
	ck_assert_ptr_nonnull(strstr(text, "  | ディスク容量不足\n  | line two\n"));
	ck_assert_ptr_nonnull(strstr(text, "yoban show 12"));
	ck_assert_ptr_nonnull(strstr(text, "yoban incident ack 3"));
	free(subject);
	free(text);
	struct notice test = { .event = "test" };
	subject = notice_subject(&test);
	ck_assert_str_eq(subject, "[yoban] テスト送信 test message");
	free(subject);
}
END_TEST

/* A cap warning reads as the figures city staff check against the contract, in both languages. */
START_TEST(cap_warning_says_the_figures)
{
	struct notice n = { .id = 7, .event = "cap_warning", .site_host = "yoban-01" };
	n.cap = (struct notice_cap){ .category = "service", .scope = "month", .month = "2026-12",
				     .threshold = "80", .hours = "384.00", .person_months = "2.40",
				     .limit = "3", .percent = "80.0", .entry = "17", .person = "alice",
				     .work_date = "2026-12-01", .entry_hours = "8.00" };
	char *subject = notice_subject(&n), *text = notice_text(&n);
	ck_assert_str_eq(subject, "[yoban] 工数上限の警告 effort cap warning: service 80% of the "
				  "monthly cap (2026-12) / 運用・保守作業 月間上限の 80%");
	ck_assert_ptr_nonnull(strstr(text, "運用・保守作業 (service) の工数が2026-12 の月間上限の 80% に達しました。"));
	ck_assert_ptr_nonnull(strstr(text, "Effort in service has reached 80 % of its monthly cap for 2026-12."));
	ck_assert_ptr_nonnull(strstr(text, "2.40 人月 person-months (384.00 h), 80.0 %"));
	ck_assert_ptr_nonnull(strstr(text, "3 人月 person-months"));
	ck_assert_ptr_nonnull(strstr(text, "#17: 8.00 h, alice, 2026-12-01"));
	ck_assert_ptr_nonnull(strstr(text, "yoban effort summary --month 2026-12"));
	ck_assert_ptr_null(strstr(text, "Yoban detected")); /* not the failure template */
	free(subject);
	free(text);
	n.cap.scope = "total";
	n.cap.month = NULL;
	n.cap.threshold = "100";
	n.cap.period_from = "2025-10-01";
	n.cap.period_to = "2027-12-31";
	subject = notice_subject(&n);
	text = notice_text(&n);
	ck_assert_str_eq(subject, "[yoban] 工数上限の警告 effort cap warning: service 100% of the "
				  "contract's total cap / 運用・保守作業 契約上限の 100%");
	ck_assert_ptr_nonnull(strstr(text, "2025-10-01 - 2027-12-31"));
	ck_assert_ptr_nonnull(strstr(text, "reached 100 % of the contract's total cap."));
	struct yb_json *j = notice_json(&n);
	struct yb_json *c = yb_json_get(j, "cap_warning");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(yb_json_get_str(c, "cap"), "total");
	ck_assert_str_eq(yb_json_get_str(c, "threshold"), "100");
	yb_json_free(j);
	free(subject);
	free(text);
}
END_TEST

START_TEST(json_carries_the_key_and_the_facts)
{
	struct yb_json *j = notice_json(&failed_notice);
	ck_assert_str_eq(yb_json_get_str(j, "idempotency_key"), "yoban-notice-42");
	ck_assert_int_eq(yb_json_get_int(j, "run_id", 0), 12);
	ck_assert_int_eq(yb_json_get_int(j, "exit_status", 0), 3);
	ck_assert_str_eq(yb_json_get_str(j, "see"), "yoban show 12");
	ck_assert_str_eq(yb_json_get_str(j, "event"), "failure");
	yb_json_free(j);
}
END_TEST

START_TEST(mail_headers)
{
	const char *to[] = { "ops@city.lg.jp", "duty@city.lg.jp" };
	char *mail = notice_mail(&failed_notice, "Yoban <yoban@city.lg.jp>\r\nBcc: evil@x", to, 2);
	ck_assert_ptr_nonnull(strstr(mail, "Message-ID: <yoban-notice-42@city.lg.jp>\r\n"));
	ck_assert_ptr_nonnull(strstr(mail, "To: ops@city.lg.jp, duty@city.lg.jp\r\n"));
	ck_assert_ptr_null(strstr(mail, "\r\nBcc:")); /* CR LF in configuration starts no header */
	ck_assert_ptr_nonnull(strstr(mail, "Subject: =?UTF-8?B?"));
	ck_assert_ptr_nonnull(strstr(mail, "Content-Type: text/plain; charset=UTF-8\r\n"));
	/* The subject decodes back to the UTF-8 text, words cut on character boundaries. */
	char *subject = notice_subject(&failed_notice);
	struct yb_buf got;
	yb_buf_init(&got, 0);
	for (const char *p = strstr(mail, "=?UTF-8?B?"); p; p = strstr(p, "=?UTF-8?B?")) {
		p += 10;
		const char *end = strstr(p, "?=");
		char *b64 = xstrndup(p, (size_t)(end - p));
		unsigned char *bytes;
		size_t len;
		ck_assert_int_eq(yb_base64_decode(b64, &bytes, &len, NULL), 0);
		ck_assert(yb_utf8_valid(bytes, len));
		yb_buf_append(&got, bytes, len);
		free(bytes);
		free(b64);
		p = end;
	}
	ck_assert_str_eq(got.data, subject);
	yb_buf_release(&got);
	free(subject);
	/* Every line ends in CRLF and none is longer than 998 bytes. */
	for (char *p = mail; *p;) {
		char *nl = strchr(p, '\n');
		ck_assert_ptr_nonnull(nl);
		ck_assert(nl > p && nl[-1] == '\r');
		ck_assert_int_le(nl - p, 998);
		p = nl + 1;
	}
	free(mail);
	mail = notice_mail(&failed_notice, "夜番 <yoban@city.lg.jp>", to, 1);
	char *b64 = yb_base64("夜番", strlen("夜番"));
	char *want = xasprintf("From: =?UTF-8?B?%s?= <yoban@city.lg.jp>\r\n", b64);
	ck_assert_ptr_nonnull(strstr(mail, want));
	ck_assert_ptr_nonnull(strstr(mail, "Message-ID: <yoban-notice-42@city.lg.jp>\r\n"));
	free(want);
	free(b64);
	free(mail);
}
END_TEST

START_TEST(stderr_tail_cut_on_lines_and_characters)
{
	struct yb_buf b;
	yb_buf_init(&b, 0);
	for (int i = 1; i <= 30; i++)
		yb_buf_appendf(&b, "line %d\n", i);
	char *tail = notice_tail(b.data, b.len);
	ck_assert_str_eq(tail, "line 11\nline 12\nline 13\nline 14\nline 15\nline 16\nline 17\n"
			       "line 18\nline 19\nline 20\nline 21\nline 22\nline 23\nline 24\n"
			       "line 25\nline 26\nline 27\nline 28\nline 29\nline 30\n");
	free(tail);
	yb_buf_reset(&b);
	/* One long line of 3-byte characters: at most NOTICE_STDERR_MAX bytes, still UTF-8. */
	for (int i = 0; i < 3000; i++)
		yb_buf_append(&b, "障", 3);
	tail = notice_tail(b.data, b.len);
	ck_assert_int_le(strlen(tail), NOTICE_STDERR_MAX);
	ck_assert(yb_utf8_valid(tail, strlen(tail)));
	free(tail);
	/* Broken bytes and terminal escapes are shown as '?'. */
	tail = notice_tail("ok \xff\x1b[2J end", 12);
	ck_assert_str_eq(tail, "ok ??[2J end");
	free(tail);
	tail = notice_tail("a\0b\n", 4); /* a NUL byte in stderr */
	ck_assert_str_eq(tail, "a?b\n");
	free(tail);
	yb_buf_release(&b);
}
END_TEST

static const char site_text[] =
	"notify:\n"
	"  channels:\n"
	"    mail: { smtp: { url: \"smtp://127.0.0.1:25\", from: a@b.jp, to: [c@d.jp] } }\n"
	"    hook: { webhook: \"http://127.0.0.1/x\", timeout: 3s, retry: { attempts: 5, delay: 2s } }\n"
	"    phone: { command: [/bin/true] }\n"
	"  default: [mail]\n"
	"  escalation: [phone]\n";

static char *choose(const struct rb_site *site, const char *event, const char *runbook)
{
	char **names;
	size_t n;
	worker_choose(site, event, runbook, runbook ? strlen(runbook) : 0, &names, &n, NULL);
	struct yb_buf b;
	yb_buf_init(&b, 0);
	for (size_t i = 0; i < n; i++)
		yb_buf_appendf(&b, "%s%s", i ? "," : "", names[i]);
	worker_names_free(names, n);
	return yb_buf_detach(&b, NULL);
}

#define RB_HEAD "version: 1\nname: x\nkind: batch\ntargets: { hosts: [h] }\n"
#define RB_STEPS "steps:\n  - name: s\n    run: 'true'\n"

START_TEST(channels_chosen_per_event)
{
	struct rb_site *site = NULL;
	struct yb_err err = { 0 };
	make_tmpdir();
	ck_assert_msg(site_from(site_text, &site, &err) == 0, "%s", err.msg);
	const struct rb_channel *hook = channel_find(site, "hook");
	ck_assert_int_eq(hook->timeout_ms, 3000);
	ck_assert_int_eq(hook->retry.attempts, 5);
	ck_assert_int_eq(channel_find(site, "mail")->retry.attempts, RB_CHANNEL_ATTEMPTS);
	ck_assert(!channel_find(site, "mail")->smtp_tls_required);

	const char *asks = RB_HEAD "notify: { on: [failure], channels: [hook, phone, gone] }\n" RB_STEPS;
	const char *silent = RB_HEAD RB_STEPS; /* default: failure and timeout, no channels */
	const char *success = RB_HEAD "notify: { on: [success], channels: [hook] }\n" RB_STEPS;
	char *got;
	ck_assert_str_eq(got = choose(site, "failure", asks), "hook,phone"); free(got);
	ck_assert_str_eq(got = choose(site, "lost", asks), "hook,phone"); free(got);
	ck_assert_str_eq(got = choose(site, "missed", asks), "hook,phone"); free(got);
	ck_assert_str_eq(got = choose(site, "timeout", asks), ""); free(got);
	ck_assert_str_eq(got = choose(site, "success", asks), ""); free(got);
	ck_assert_str_eq(got = choose(site, "timeout", silent), "mail"); free(got);
	ck_assert_str_eq(got = choose(site, "success", silent), ""); free(got);
	ck_assert_str_eq(got = choose(site, "success", success), "hook"); free(got);
	ck_assert_str_eq(got = choose(site, "failure", NULL), "mail"); free(got);
	ck_assert_str_eq(got = choose(site, "success", NULL), ""); free(got);
	ck_assert_str_eq(got = choose(site, "escalation", asks), "phone"); free(got);
	/* a cap warning has no runbook: the site's default channels */
	ck_assert_str_eq(got = choose(site, "cap_warning", NULL), "mail"); free(got);
	ck_assert_str_eq(got = choose(site, "failure", "not: [a runbook"), "mail"); free(got);
	rb_site_free(site);
}
END_TEST

static void refused(const char *text, const char *words)
{
	struct rb_site *site = NULL;
	struct yb_err err = { 0 };
	ck_assert_int_eq(site_from(text, &site, &err), YB_EINVAL);
	ck_assert_msg(strstr(err.msg, words), "[%s] not in [%s]", words, err.msg);
}

START_TEST(site_notify_refusals)
{
	make_tmpdir();
	refused("notify:\n  channels:\n    m: { smtp: { url: \"http://x\", from: a, to: [b] } }\n",
		"'url' must be smtp://");
	refused("notify:\n  channels:\n    m: { smtp: { url: \"smtp://x\", from: a, to: [b], "
		"user: u } }\n", "'user' and 'password_file' go together");
	refused("notify:\n  channels:\n    m: { command: [/bin/true] }\n  default: [nope]\n",
		"unknown notify channel 'nope'");
	refused("notify:\n  channels:\n    m: { command: [/bin/true] }\n  escalation: [nope]\n",
		"unknown notify channel 'nope'");
	refused("notify:\n  channels:\n    m: { command: [/bin/true], timeout: 1h }\n",
		"timeout is from 1s to 10m");
	refused("notify:\n  channels:\n    m: { timeout: 5s }\n", "needs exactly one of");
	refused("notify:\n  channels:\n    m: { smtp: { url: \"smtp://x\", from: a, to: [b], "
		"tls: maybe } }\n", "tls");
	/* A password file is resolved inside secrets_dir, and makes TLS required. */
	struct rb_site *site = NULL;
	struct yb_err err = { 0 };
	char *text = xasprintf("secrets_dir: %s\nnotify:\n  channels:\n    m: { smtp: { url: "
			       "\"smtp://x\", from: a, to: [b], user: u, password_file: pw } }\n",
			       tmpdir);
	ck_assert_msg(site_from(text, &site, &err) == 0, "%s", err.msg);
	char *want = xasprintf("%s/pw", tmpdir);
	ck_assert_str_eq(site->channels[0].smtp_password_file, want);
	ck_assert(site->channels[0].smtp_tls_required);
	free(want);
	free(text);
	rb_site_free(site);
}
END_TEST

static struct rb_channel a_command(char **argv, size_t argc, int64_t timeout_ms)
{
	return (struct rb_channel){ .name = "phone", .kind = RB_CHANNEL_COMMAND, .argv = argv,
				    .argc = argc, .timeout_ms = timeout_ms,
				    .retry = { 1, 0 } };
}

START_TEST(command_channel)
{
	make_tmpdir();
	struct rb_site site = { 0 };
	char *script = xasprintf("cat > %s/in.json; echo \"$YOBAN_NOTICE_KEY $YOBAN_EVENT\"", tmpdir);
	char *argv[] = { "/bin/sh", "-c", script, NULL };
	struct rb_channel ch = a_command(argv, 3, 5000);
	char *answer = NULL;
	struct yb_err err = { 0 };
	ck_assert_msg(channel_deliver(&site, &ch, &failed_notice, &answer, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(answer, "exit 0: yoban-notice-42 failure");
	free(answer);
	char *path = xasprintf("%s/in.json", tmpdir), *json = NULL;
	size_t len;
	ck_assert_int_eq(yb_read_file(path, 1 << 20, &json, &len, NULL), 0);
	struct yb_json *j = NULL;
	ck_assert_int_eq(yb_json_parse(json, len, &j, NULL), 0);
	ck_assert_int_eq(yb_json_get_int(j, "run_id", 0), 12);
	yb_json_free(j);
	free(json);
	free(path);
	free(script);

	char *fail_argv[] = { "/bin/sh", "-c", "echo no line >&2; exit 7", NULL };
	ch = a_command(fail_argv, 3, 5000);
	ck_assert_int_eq(channel_deliver(&site, &ch, &failed_notice, &answer, &err), YB_EIO);
	ck_assert_ptr_nonnull(strstr(err.msg, "exited with 7: no line"));

	char *hang_argv[] = { "/bin/sh", "-c", "exec 0<&-; sleep 30", NULL };
	ch = a_command(hang_argv, 3, 1000);
	int64_t t0 = yb_mono_ms();
	ck_assert_int_eq(channel_deliver(&site, &ch, &failed_notice, &answer, &err), YB_ETIMEDOUT);
	/* ended by the 1 s timeout, not by the command's 30 s: a bound well under 30 s that a
	 * loaded machine (ASan, the suite's other tests beside it) cannot miss by chance */
	ck_assert_int_lt(yb_mono_ms() - t0, 10000);
	ck_assert_ptr_nonnull(strstr(err.msg, "did not finish within 1s"));

	char *missing_argv[] = { "/nonexistent/call-on-duty", NULL };
	ch = a_command(missing_argv, 1, 5000);
	ck_assert_int_eq(channel_deliver(&site, &ch, &failed_notice, &answer, &err), YB_EIO);
	ck_assert_ptr_nonnull(strstr(err.msg, "exited with 127"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("notice");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, subject_and_body_in_both_languages);
	tcase_add_test(tc, cap_warning_says_the_figures);
	tcase_add_test(tc, json_carries_the_key_and_the_facts);
	tcase_add_test(tc, mail_headers);
	tcase_add_test(tc, stderr_tail_cut_on_lines_and_characters);
	tcase_add_test(tc, channels_chosen_per_event);
	tcase_add_test(tc, site_notify_refusals);
	tcase_add_test(tc, command_channel);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
