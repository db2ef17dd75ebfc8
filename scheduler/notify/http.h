/*
 * http.h: the two transfers notices need, behind the one file that includes curl/curl.h.
 *
 * Both block for at most timeout_ms (connect included) and never read more than a few KB of the
 * other side's answer. On success *answer (caller frees) holds what the server said: the HTTP
 * status line's code and the first bytes of the body, or the SMTP server's last reply. On failure
 * err says what broke (connection refused, timeout, TLS, a 5xx reply) with the server's words.
 */
#ifndef YB_HTTP_H
#define YB_HTTP_H

#include "yb.h"

/* Once per process, before any thread exists (curl_global_init). */
int http_global_init(struct yb_err *err);

/* POSTs body (JSON) to url with Content-Type: application/json and each "Name: value" of
 * headers (NULL-terminated, may be NULL). A status outside 200-299 is YB_EIO. */
int http_post_json(const char *url, const char *const *headers, const char *body,
		   int64_t timeout_ms, char **answer, struct yb_err *err);

struct smtp_auth {
	const char *user;     /* NULL: no AUTH */
	const char *password;
	bool tls_required;    /* smtp://: STARTTLS or fail; else STARTTLS when offered */
};

/* Sends message (a whole RFC 5322 message, CRLF line ends) from `from` to every address of to
 * (n_to of them) through the server at url (smtp:// or smtps://). */
int smtp_send(const char *url, const struct smtp_auth *auth, const char *from,
	      const char *const *to, size_t n_to, const char *message, int64_t timeout_ms,
	      char **answer, struct yb_err *err);

#endif
