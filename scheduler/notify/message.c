/*
 * message.c: the words of a notice. One struct notice gives the subject, the bilingual body, the
 * JSON for webhooks and commands, and the mail; nothing here reads a clock except the mail's
 * Date header, so a notice re-sent after a crash says the same thing under the same Message-ID.
 *
 * The body is for a person woken at 2 a.m.: what failed, where, when, the exit, the last lines of
 * stderr, and the command that shows the rest (`yoban show N`).
 */
#include "message.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "digest.h"

struct event_words {
	const char *event, *ja, *en;
};

static const struct event_words words[] = {
	{ "failure", "異常終了", "FAILED" },
	{ "timeout", "タイムアウト", "TIMED OUT" },
	{ "lost", "消失 (応答なし)", "LOST" },
	{ "missed", "起動漏れ", "MISSED FIRE" },
	{ "success", "正常終了", "succeeded" },
	{ "escalation", "未対応エスカレーション", "ESCALATION: not acknowledged" },
	{ "approval_needed", "承認待ち", "approval needed" },
	{ "approved", "承認済み", "approved" },
	{ "rejected", "却下", "rejected" },
	{ "cap_warning", "工数上限の警告", "effort cap warning" },
	{ "test", "テスト送信", "test message" },
};

static const struct event_words *event_words(const char *event)
{
	for (size_t i = 0; i < YB_ARRAY_LEN(words); i++)
		if (event && !strcmp(words[i].event, event))
			return &words[i];
	static const struct event_words unknown = { "", "通知", "notice" };
	return &unknown;
}

char *notice_tail(const char *text, size_t len)
{
	size_t start = len, lines = 0;
	if (start && text[start - 1] == '\n')
		start--;
	while (start > 0 && len - start < NOTICE_STDERR_MAX) {
		if (text[start - 1] == '\n' && ++lines == NOTICE_STDERR_LINES)
			break;
		start--;
	}
	/* Start on a character boundary: skip UTF-8 continuation bytes cut by the cap. */
	while (start < len && ((unsigned char)text[start] & 0xC0) == 0x80)
		start++;
	size_t n = len - start;
	char *out = xmalloc(n + 1); /* stderr may hold NUL bytes: copied, then shown as '?' */
	memcpy(out, text + start, n);
	out[n] = 0;
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)out[i];
		size_t k = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 :
			   (c & 0xF8) == 0xF0 ? 4 : 0;
		if (k == 0 || i + k > n || !yb_utf8_valid(out + i, k) ||
		    (k == 1 && c < 0x20 && c != '\n' && c != '\t')) {
			out[i++] = '?';
			continue;
		}
		i += k;
	}
	return out;
}

static bool is_cap_warning(const struct notice *n)
{
	return n->event && !strcmp(n->event, "cap_warning") && n->cap.category;
}

/* The category as city staff read it. */
static const char *category_ja(const char *c)
{
	return !strcmp(c, "service") ? "運用・保守作業" : !strcmp(c, "modification") ? "改修作業" :
	       !strcmp(c, "incident") ? "障害対応" : c;
}

static bool cap_monthly(const struct notice *n)
{
	return n->cap.scope && !strcmp(n->cap.scope, "month");
}

char *notice_subject(const struct notice *n)
{
	const struct event_words *w = event_words(n->event);
	if (is_cap_warning(n)) {
		const char *th = n->cap.threshold ? n->cap.threshold : "?";
		if (cap_monthly(n))
			return xasprintf("[yoban] %s %s: %s %s%% of the monthly cap (%s) / %s 月間上限の %s%%",
					 w->ja, w->en, n->cap.category, th, n->cap.month ? n->cap.month : "?",
					 category_ja(n->cap.category), th);
		return xasprintf("[yoban] %s %s: %s %s%% of the contract's total cap / %s 契約上限の %s%%",
				 w->ja, w->en, n->cap.category, th, category_ja(n->cap.category), th);
	}
	if (n->run_id)
		return xasprintf("[yoban] %s %s: %s (run %lld)", w->ja, w->en,
				 n->runbook ? n->runbook : "?", (long long)n->run_id);
	if (n->runbook)
		return xasprintf("[yoban] %s %s: %s", w->ja, w->en, n->runbook);
	return xasprintf("[yoban] %s %s", w->ja, w->en);
}

static void line(struct yb_buf *b, const char *label, const char *value)
{
	if (value && *value)
		yb_buf_appendf(b, "  %-22s %s\n", label, value);
}

char *notice_text(const struct notice *n)
{
	const struct event_words *w = event_words(n->event);
	struct yb_buf b;
	yb_buf_init(&b, 0);
	char run[32] = "", incident[32] = "", exitv[64] = "";
	if (n->run_id)
		snprintf(run, sizeof(run), "%lld", (long long)n->run_id);
	if (n->incident_id)
		snprintf(incident, sizeof(incident), "%lld", (long long)n->incident_id);
	if (n->exit_signal && *n->exit_signal)
		snprintf(exitv, sizeof(exitv), "signal %s", n->exit_signal);
	else if (n->exit_status && *n->exit_status)
		snprintf(exitv, sizeof(exitv), "%s", n->exit_status);

	if (is_cap_warning(n)) {
		const struct notice_cap *c = &n->cap;
		const char *th = c->threshold ? c->threshold : "?";
		char where_ja[96], where_en[96], used[128], limit[64], entry[192];
		if (cap_monthly(n)) {
			snprintf(where_ja, sizeof(where_ja), "%s の月間上限", c->month ? c->month : "?");
			snprintf(where_en, sizeof(where_en), "its monthly cap for %s", c->month ? c->month : "?");
		} else {
			snprintf(where_ja, sizeof(where_ja), "契約期間の上限");
			snprintf(where_en, sizeof(where_en), "the contract's total cap");
		}
		yb_buf_appendf(&b, "%s (%s) の工数が%sの %s%% に達しました。\n"
				   "Effort in %s has reached %s %% of %s.\n\n",
			       category_ja(c->category), c->category, where_ja, th, c->category, th,
			       where_en);
		snprintf(used, sizeof(used), "%s 人月 person-months (%s h), %s %%",
			 c->person_months ? c->person_months : "?", c->hours ? c->hours : "?",
			 c->percent ? c->percent : "?");
		snprintf(limit, sizeof(limit), "%s 人月 person-months", c->limit ? c->limit : "?");
		snprintf(entry, sizeof(entry), "#%s: %s h, %s, %s", c->entry ? c->entry : "?",
			 c->entry_hours ? c->entry_hours : "?", c->person ? c->person : "?",
			 c->work_date ? c->work_date : "?");
		char cat[96], period[64] = "";
		snprintf(cat, sizeof(cat), "%s (%s)", category_ja(c->category), c->category);
		if (c->period_from || c->period_to)
			snprintf(period, sizeof(period), "%s - %s", c->period_from ? c->period_from : "",
				 c->period_to ? c->period_to : "");
		line(&b, "作業区分 category:", cat);
		line(&b, "上限 cap:", cap_monthly(n) ? "月間 monthly" : "契約期間の合計 contract total");
		line(&b, "対象月 month:", cap_monthly(n) ? c->month : NULL);
		line(&b, "契約期間 period:", cap_monthly(n) ? NULL : period);
		line(&b, "実績 used:", used);
		line(&b, "上限値 cap value:", limit);
		line(&b, "記録 entry:", entry);
		line(&b, "実行 run:", run);
		line(&b, "送信元 from:", n->site_host);
		yb_buf_appendf(&b, "\n工数の内訳 / the figures:\n");
		if (cap_monthly(n) && c->month)
			yb_buf_appendf(&b, "  yoban effort summary --month %s\n  yoban effort list --month %s\n",
				       c->month, c->month);
		else
			yb_buf_appendf(&b, "  yoban effort summary\n  yoban effort list\n");
		return yb_buf_detach(&b, NULL);
	}
	if (!strcmp(n->event, "test"))
		yb_buf_appendf(&b, "Yoban からのテスト送信です。この通知経路は届いています。\n"
				   "This is a test message from Yoban: this channel reaches you.\n\n");
	else
		yb_buf_appendf(&b, "Yoban が %s を検知しました。\n"
				   "Yoban detected: %s.\n\n", w->ja, w->en);
	if (n->fallover_from)
		yb_buf_appendf(&b, "通知経路 '%s' で届けられなかったため、この経路で送ります。\n"
				   "Channel '%s' could not deliver this notice; it comes this way instead.\n\n",
			       n->fallover_from, n->fallover_from);
	line(&b, "ランブック runbook:", n->runbook);
	line(&b, "件名 title:", n->title);
	line(&b, "実行 run:", run);
	line(&b, "環境 mode:", n->mode);
	line(&b, "状態 state:", n->state);
	line(&b, "理由 reason:", n->reason);
	line(&b, "予定 scheduled for:", n->scheduled_for);
	line(&b, "開始 started:", n->started_at);
	line(&b, "終了 ended:", n->ended_at);
	line(&b, "ステップ step:", n->step);
	line(&b, "ホスト host:", n->host);
	line(&b, "終了コード exit:", exitv);
	line(&b, "エラー error:", n->error);
	line(&b, "障害 incident:", incident);
	line(&b, "検知 detected:", n->detected_at);
	line(&b, "報告期限 report by:", n->report_due);
	line(&b, "着手期限 start by:", n->start_due);
	line(&b, "復旧期限 recover by:", n->recover_due);
	line(&b, "送信元 from:", n->site_host);
	if (n->stderr_tail && *n->stderr_tail) {
		yb_buf_appendf(&b, "\n標準エラー出力の末尾 / last lines of stderr:\n");
		const char *p = n->stderr_tail;
		while (*p) {
			const char *nl = strchr(p, '\n');
			size_t k = nl ? (size_t)(nl - p) : strlen(p);
			yb_buf_appendf(&b, "  | %.*s\n", (int)k, p);
			p += k + (nl ? 1 : 0);
		}
	}
	yb_buf_appendf(&b, "\n詳細 / more:\n");
	if (n->run_id)
		yb_buf_appendf(&b, "  yoban show %lld\n  yoban logs %lld\n", (long long)n->run_id,
			       (long long)n->run_id);
	if (n->incident_id)
		yb_buf_appendf(&b, "  yoban incident show %lld\n"
				   "  yoban incident ack %lld --comment '対応開始 / working on it'\n",
			       (long long)n->incident_id, (long long)n->incident_id);
	if (!n->run_id && !n->incident_id)
		yb_buf_appendf(&b, "  yoban notifications --failed\n");
	return yb_buf_detach(&b, NULL);
}

char *notice_key(const struct notice *n)
{
	if (n->id)
		return xasprintf("yoban-notice-%lld", (long long)n->id);
	return xasprintf("yoban-test-%lld", (long long)yb_wall_us());
}

static void set_str(struct yb_json *o, const char *key, const char *v)
{
	if (v)
		yb_json_set(o, key, yb_json_str(v));
}

struct yb_json *notice_json(const struct notice *n)
{
	struct yb_json *o = yb_json_object();
	char *key = notice_key(n), *subject = notice_subject(n), *text = notice_text(n);
	if (n->id)
		yb_json_set(o, "id", yb_json_int(n->id));
	yb_json_set(o, "idempotency_key", yb_json_str(key));
	set_str(o, "event", n->event);
	yb_json_set(o, "subject", yb_json_str(subject));
	yb_json_set(o, "text", yb_json_str(text));
	set_str(o, "runbook", n->runbook);
	set_str(o, "title", n->title);
	if (n->run_id)
		yb_json_set(o, "run_id", yb_json_int(n->run_id));
	if (n->incident_id)
		yb_json_set(o, "incident_id", yb_json_int(n->incident_id));
	set_str(o, "mode", n->mode);
	set_str(o, "state", n->state);
	set_str(o, "reason", n->reason);
	set_str(o, "scheduled_for", n->scheduled_for);
	set_str(o, "started_at", n->started_at);
	set_str(o, "ended_at", n->ended_at);
	set_str(o, "detected_at", n->detected_at);
	set_str(o, "step", n->step);
	set_str(o, "host", n->host);
	set_str(o, "error", n->error);
	if (n->exit_status && *n->exit_status)
		yb_json_set(o, "exit_status", yb_json_int(strtoll(n->exit_status, NULL, 10)));
	if (n->exit_signal && *n->exit_signal)
		yb_json_set(o, "exit_signal", yb_json_int(strtoll(n->exit_signal, NULL, 10)));
	set_str(o, "stderr_tail", n->stderr_tail);
	set_str(o, "fallover_from", n->fallover_from);
	set_str(o, "report_due", n->report_due);
	set_str(o, "start_due", n->start_due);
	set_str(o, "recover_due", n->recover_due);
	if (is_cap_warning(n)) {
		struct yb_json *c = yb_json_object();
		set_str(c, "category", n->cap.category);
		set_str(c, "cap", n->cap.scope);
		set_str(c, "month", n->cap.month);
		set_str(c, "period_from", n->cap.period_from);
		set_str(c, "period_to", n->cap.period_to);
		set_str(c, "threshold", n->cap.threshold);
		set_str(c, "hours", n->cap.hours);
		set_str(c, "person_months", n->cap.person_months);
		set_str(c, "cap_person_months", n->cap.limit);
		set_str(c, "percent", n->cap.percent);
		set_str(c, "entry", n->cap.entry);
		set_str(c, "person", n->cap.person);
		set_str(c, "work_date", n->cap.work_date);
		set_str(c, "entry_hours", n->cap.entry_hours);
		yb_json_set(o, "cap_warning", c);
	}
	if (n->run_id) {
		char *see = xasprintf("yoban show %lld", (long long)n->run_id);
		yb_json_set(o, "see", yb_json_str(see));
		free(see);
	}
	free(key);
	free(subject);
	free(text);
	return o;
}

/* RFC 2047: =?UTF-8?B?...?= words of at most 45 bytes of text each (60 of base64), cut on
 * character boundaries, folded. */
static void encoded_header(struct yb_buf *b, const char *name, const char *value)
{
	yb_buf_appendf(b, "%s:", name);
	size_t len = strlen(value), at = 0;
	while (at < len) {
		size_t k = len - at < 45 ? len - at : 45;
		while (at + k < len && ((unsigned char)value[at + k] & 0xC0) == 0x80)
			k--;
		char *b64 = yb_base64(value + at, k);
		yb_buf_appendf(b, "%s=?UTF-8?B?%s?=", at ? "\r\n " : " ", b64);
		free(b64);
		at += k;
	}
	yb_buf_append(b, "\r\n", 2);
}

/* The domain of an address ("yoban@city.lg.jp" or "Yoban <yoban@city.lg.jp>"): letters,
 * digits, '.' and '-' only, else "yoban.invalid". */
static char *domain_of(const char *from)
{
	const char *lt = strchr(from, '<');
	const char *at = strchr(lt ? lt : from, '@');
	if (!at)
		return xstrdup("yoban.invalid");
	size_t k = strspn(at + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-");
	return k ? xstrndup(at + 1, k) : xstrdup("yoban.invalid");
}

/* A header value from configuration: CR and LF would start a header of their own. */
static void plain_header(struct yb_buf *b, const char *name, const char *value)
{
	yb_buf_appendf(b, "%s: ", name);
	for (const char *p = value; *p; p++)
		if (*p != '\r' && *p != '\n')
			yb_buf_append(b, p, 1);
	yb_buf_append(b, "\r\n", 2);
}

/* From: with a display name that is not ASCII ("夜番 <yoban@city.lg.jp>") as an RFC 2047 word. */
static void from_header(struct yb_buf *b, const char *from)
{
	const char *lt = strchr(from, '<');
	bool ascii = true;
	for (const char *p = from; lt && p < lt; p++)
		ascii = ascii && (unsigned char)*p < 0x80;
	if (ascii) {
		plain_header(b, "From", from);
		return;
	}
	const char *name = from, *end = lt;
	while (*name == ' ')
		name++;
	while (end > name && end[-1] == ' ')
		end--;
	char *b64 = yb_base64(name, (size_t)(end - name));
	struct yb_buf v;
	yb_buf_init(&v, 0);
	yb_buf_appendf(&v, "=?UTF-8?B?%s?= %s", b64, lt);
	plain_header(b, "From", v.data);
	yb_buf_release(&v);
	free(b64);
}

char *notice_mail(const struct notice *n, const char *from, const char *const *to, size_t n_to)
{
	struct yb_buf b;
	yb_buf_init(&b, 0);
	char *subject = notice_subject(n), *text = notice_text(n), *key = notice_key(n);
	char *domain = domain_of(from);
	from_header(&b, from);
	struct yb_buf all;
	yb_buf_init(&all, 0);
	for (size_t i = 0; i < n_to; i++)
		yb_buf_appendf(&all, "%s%s", i ? ", " : "", to[i]);
	plain_header(&b, "To", all.len ? all.data : "undisclosed-recipients:;");
	yb_buf_release(&all);
	encoded_header(&b, "Subject", subject);
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	yb_buf_appendf(&b, "Date: %s\r\n", date);
	yb_buf_appendf(&b, "Message-ID: <%s@%s>\r\n", key, domain);
	yb_buf_appendf(&b, "X-Yoban-Idempotency-Key: %s\r\n", key);
	if (n->event)
		yb_buf_appendf(&b, "X-Yoban-Event: %s\r\n", n->event);
	yb_buf_appendf(&b, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
			   "Content-Transfer-Encoding: base64\r\n\r\n");
	char *body = yb_base64(text, strlen(text));
	for (size_t at = 0, len = strlen(body); at < len; at += 76)
		yb_buf_appendf(&b, "%.76s\r\n", body + at);
	free(body);
	free(subject);
	free(text);
	free(key);
	free(domain);
	return yb_buf_detach(&b, NULL);
}
