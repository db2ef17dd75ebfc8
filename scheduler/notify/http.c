/*
 * http.c: libcurl, for the smtp and webhook channels; the only file that includes curl/curl.h.
 *
 * Every transfer is one easy handle, blocking, bounded by CURLOPT_TIMEOUT_MS (the worker is its
 * own process, so blocking here delays no fire), with signals off (CURLOPT_NOSIGNAL) and the
 * protocols pinned to what the URL promised (no redirect to file:// or elsewhere). What the
 * server says back is kept, capped: the HTTP body's first bytes, the SMTP server's reply lines
 * (read from curl's debug callback, the only place curl hands them out).
 */
#include "http.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define ANSWER_MAX 2000

int http_global_init(struct yb_err *err)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK)
		return yb_err_set(err, YB_EIO, "libcurl could not start: %s", curl_easy_strerror(rc));
	return 0;
}

/* The answer, capped: whatever exceeds the cap is dropped, not an error. */
static size_t keep_answer(char *data, size_t size, size_t n, void *ctx)
{
	struct yb_buf *b = ctx;
	size_t len = size * n;
	size_t room = b->len < ANSWER_MAX ? ANSWER_MAX - b->len : 0;
	yb_buf_append(b, data, len < room ? len : room);
	return len;
}

/* SMTP replies arrive as "header in" lines: keep the last ones. */
static int keep_replies(CURL *h, curl_infotype type, char *data, size_t size, void *ctx)
{
	(void)h;
	struct yb_buf *b = ctx;
	if (type != CURLINFO_HEADER_IN)
		return 0;
	if (b->len + size > ANSWER_MAX)
		yb_buf_reset(b);
	yb_buf_append(b, data, size < ANSWER_MAX ? size : ANSWER_MAX);
	return 0;
}

static char *trimmed(struct yb_buf *b)
{
	while (b->len && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '\r'))
		b->data[--b->len] = 0;
	return xstrdup(b->len ? b->data : "");
}

static void common_options(CURL *h, int64_t timeout_ms, char *errbuf)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
}

int http_post_json(const char *url, const char *const *headers, const char *body,
		   int64_t timeout_ms, char **answer, struct yb_err *err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *list = curl_slist_append(NULL, "Content-Type: application/json");
	struct yb_buf got;
	yb_buf_init(&got, ANSWER_MAX + 1);
	int rc = 0;
	CURL *h = curl_easy_init();
	if (!h) {
		rc = yb_err_set(err, YB_EIO, "libcurl could not make a handle");
		goto out;
	}
	for (size_t i = 0; headers && headers[i]; i++)
		list = curl_slist_append(list, headers[i]);
	list = curl_slist_append(list, "Expect:");
	common_options(h, timeout_ms, errbuf);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(h, CURLOPT_USERAGENT, "yoban-notify");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_answer);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &got);
	CURLcode cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		rc = yb_err_set(err, cc == CURLE_OPERATION_TIMEDOUT ? YB_ETIMEDOUT : YB_EIO,
				"POST to '%s': %s", url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	char *text = trimmed(&got);
	if (status < 200 || status > 299) {
		rc = yb_err_set(err, YB_EIO, "POST to '%s': HTTP %ld %.200s", url, status, text);
		free(text);
		goto out;
	}
	*answer = xasprintf("HTTP %ld %s", status, text);
	free(text);
out:
	curl_slist_free_all(list);
	curl_easy_cleanup(h);
	yb_buf_release(&got);
	return rc;
}

struct upload {
	const char *data;
	size_t len, at;
};

static size_t read_message(char *out, size_t size, size_t n, void *ctx)
{
	struct upload *u = ctx;
	size_t room = size * n, left = u->len - u->at;
	size_t k = left < room ? left : room;
	memcpy(out, u->data + u->at, k);
	u->at += k;
	return k;
}

int smtp_send(const char *url, const struct smtp_auth *auth, const char *from,
	      const char *const *to, size_t n_to, const char *message, int64_t timeout_ms,
	      char **answer, struct yb_err *err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *rcpt = NULL;
	struct yb_buf replies;
	yb_buf_init(&replies, ANSWER_MAX + 1);
	struct upload up = { message, strlen(message), 0 };
	int rc = 0;
	CURL *h = curl_easy_init();
	if (!h) {
		rc = yb_err_set(err, YB_EIO, "libcurl could not make a handle");
		goto out;
	}
	for (size_t i = 0; i < n_to; i++)
		rcpt = curl_slist_append(rcpt, to[i]);
	common_options(h, timeout_ms, errbuf);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_message);
	curl_easy_setopt(h, CURLOPT_READDATA, &up);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up.len);
	curl_easy_setopt(h, CURLOPT_USE_SSL,
			 auth && auth->tls_required ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY);
	if (auth && auth->user) {
		curl_easy_setopt(h, CURLOPT_USERNAME, auth->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, auth->password ? auth->password : "");
	}
	curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, keep_replies);
	curl_easy_setopt(h, CURLOPT_DEBUGDATA, &replies);
	curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
	CURLcode cc = curl_easy_perform(h);
	char *text = trimmed(&replies);
	const char *last = strrchr(text, '\n');
	last = last ? last + 1 : text;
	if (cc != CURLE_OK) {
		int code = cc == CURLE_OPERATION_TIMEDOUT ? YB_ETIMEDOUT : YB_EIO;
		const char *why = errbuf[0] ? errbuf : curl_easy_strerror(cc);
		if (*last)
			rc = yb_err_set(err, code, "mail through '%s': %s (the server said: %.300s)",
					url, why, last);
		else
			rc = yb_err_set(err, code, "mail through '%s': %s", url, why);
		free(text);
		goto out;
	}
	*answer = xstrdup(*last ? last : "accepted");
	free(text);
out:
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(h);
	yb_buf_release(&replies);
	return rc;
}
