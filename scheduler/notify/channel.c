/*
 * channel.c: one attempt to deliver one notice through one channel of the site's notify block.
 *
 * smtp: the mail of notice_mail through libcurl (http.c), with STARTTLS (required when the
 * channel authenticates, unless `tls: optional`) and the password read from the site's secrets
 * folder at each attempt (never kept). webhook: the notice's JSON POSTed with an Idempotency-Key
 * header. command: argv run directly (no shell) in its own process group, the JSON on its stdin,
 * YOBAN_NOTICE_KEY and YOBAN_EVENT in its environment, killed at the timeout; exit 0 is delivered.
 * Every kind ends within the channel's timeout, so a hanging receiver costs one timeout, no more.
 */
#include "channel.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http.h"

#define COMMAND_ANSWER_MAX 2000

/* The envelope address of a From: "Yoban <yoban@city.lg.jp>" -> "yoban@city.lg.jp". */
static char *envelope_of(const char *from)
{
	const char *lt = strchr(from, '<');
	if (!lt)
		return xstrdup(from);
	size_t k = strcspn(lt + 1, ">");
	return xstrndup(lt + 1, k);
}

static int deliver_smtp(const struct rb_site *site, const struct rb_channel *ch,
			const struct notice *n, char **answer, struct yb_err *err)
{
	char *password = NULL;
	size_t password_len = 0;
	int rc;
	if (ch->smtp_password_file) {
		if ((rc = rb_secret_read(site, ch->smtp_password_file, RB_MAX_SECRET_BYTES, &password,
					 &password_len, err)) < 0)
			return yb_err_prefix(err, "channel '%s': ", ch->name);
		while (password_len && (password[password_len - 1] == '\n' ||
					password[password_len - 1] == '\r'))
			password[--password_len] = 0;
	}
	struct smtp_auth auth = { ch->smtp_user, password, ch->smtp_tls_required };
	char *mail = notice_mail(n, ch->smtp_from, (const char *const *)ch->smtp_to, ch->n_smtp_to);
	char *envelope = envelope_of(ch->smtp_from);
	rc = smtp_send(ch->smtp_url, &auth, envelope, (const char *const *)ch->smtp_to,
		       ch->n_smtp_to, mail, ch->timeout_ms, answer, err);
	free(envelope);
	free(mail);
	if (password) {
		explicit_bzero(password, password_len);
		free(password);
	}
	return rc;
}

static int deliver_webhook(const struct rb_channel *ch, const struct notice *n, char **answer,
			   struct yb_err *err)
{
	struct yb_json *j = notice_json(n);
	char *body = yb_json_dump(j, 0);
	char *key = xstrdup(yb_json_get_str(j, "idempotency_key"));
	char *h_key = xasprintf("Idempotency-Key: %s", key);
	char *h_event = xasprintf("X-Yoban-Event: %s", n->event);
	const char *headers[] = { h_key, h_event, NULL };
	int rc = http_post_json(ch->webhook_url, headers, body, ch->timeout_ms, answer, err);
	free(h_key);
	free(h_event);
	free(key);
	free(body);
	yb_json_free(j);
	return rc;
}

/* The child: stdin from the pipe, stdout and stderr to the other, its own process group. */
static _Noreturn void exec_command(const struct rb_channel *ch, int in_fd, int out_fd,
				   const char *key, const char *event)
{
	setpgid(0, 0);
	dup2(in_fd, 0);
	dup2(out_fd, 1);
	dup2(out_fd, 2);
	if (in_fd > 2)
		close(in_fd);
	if (out_fd > 2)
		close(out_fd);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setenv("YOBAN_NOTICE_KEY", key, 1);
	setenv("YOBAN_EVENT", event, 1);
	execvp(ch->argv[0], ch->argv);
	fprintf(stderr, "cannot run '%s': %s\n", ch->argv[0], strerror(errno));
	_exit(127);
}

static int deliver_command(const struct rb_channel *ch, const struct notice *n, char **answer,
			   struct yb_err *err)
{
	struct yb_json *j = notice_json(n);
	char *body = yb_json_dump(j, 0);
	char *key = xstrdup(yb_json_get_str(j, "idempotency_key"));
	yb_json_free(j);
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, rc = 0;
	struct yb_buf got;
	yb_buf_init(&got, 0);
	pid_t pid = -1;
	if (pipe(in) < 0 || pipe(out) < 0) {
		rc = yb_err_set(err, YB_EIO, "channel '%s': pipe: %s", ch->name, strerror(errno));
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		fcntl(in[i], F_SETFD, FD_CLOEXEC);
		fcntl(out[i], F_SETFD, FD_CLOEXEC);
	}
	if ((pid = fork()) < 0) {
		rc = yb_err_set(err, YB_EIO, "channel '%s': fork: %s", ch->name, strerror(errno));
		goto out;
	}
	if (pid == 0)
		exec_command(ch, in[0], out[1], key, n->event);
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	size_t sent = 0, len = strlen(body);
	int64_t deadline = yb_mono_ms() + ch->timeout_ms;
	bool timed_out = false;
	while (out[0] >= 0) {
		int64_t left = deadline - yb_mono_ms();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd p[2] = { { out[0], POLLIN, 0 }, { in[1], POLLOUT, 0 } };
		int np = in[1] >= 0 ? 2 : 1;
		if (poll(p, (nfds_t)np, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
			break;
		if (np == 2 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(in[1], body + sent, len - sent);
			if (w > 0)
				sent += (size_t)w;
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || sent == len) {
				close(in[1]); /* all written, or the command stopped reading */
				in[1] = -1;
			}
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			char chunk[512];
			ssize_t r = read(out[0], chunk, sizeof(chunk));
			if (r > 0 && got.len < COMMAND_ANSWER_MAX)
				yb_buf_append(&got, chunk, (size_t)r < COMMAND_ANSWER_MAX - got.len ?
					      (size_t)r : COMMAND_ANSWER_MAX - got.len);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
				close(out[0]);
				out[0] = -1;
			}
		}
	}
	int status = 0;
	if (timed_out) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
	}
	/* Output closed: the command is ending; wait for it within the deadline, then kill it. */
	for (;;) {
		pid_t w = waitpid(pid, &status, timed_out ? 0 : WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (w == 0 && yb_mono_ms() >= deadline) {
			timed_out = true;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
		} else if (w == 0) {
			usleep(10000);
		}
	}
	while (got.len && (got.data[got.len - 1] == '\n' || got.data[got.len - 1] == '\r'))
		got.data[--got.len] = 0;
	if (timed_out) {
		rc = yb_err_set(err, YB_ETIMEDOUT, "channel '%s': '%s' did not finish within %llds "
				"and was killed", ch->name, ch->argv[0], (long long)(ch->timeout_ms / 1000));
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rc = yb_err_set(err, YB_EIO, "channel '%s': '%s' %s %d%s%.300s", ch->name, ch->argv[0],
				WIFEXITED(status) ? "exited with" : "was killed by signal",
				WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
				got.len ? ": " : "", got.len ? got.data : "");
	} else {
		*answer = xasprintf("exit 0%s%s", got.len ? ": " : "", got.len ? got.data : "");
	}
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	yb_buf_release(&got);
	free(key);
	free(body);
	return rc;
}

int channel_deliver(const struct rb_site *site, const struct rb_channel *ch,
		    const struct notice *n, char **answer, struct yb_err *err)
{
	switch (ch->kind) {
	case RB_CHANNEL_SMTP:
		return deliver_smtp(site, ch, n, answer, err);
	case RB_CHANNEL_WEBHOOK:
		return deliver_webhook(ch, n, answer, err);
	case RB_CHANNEL_COMMAND:
		return deliver_command(ch, n, answer, err);
	}
	BUG("channel kind %d", (int)ch->kind);
}

const char *channel_kind_name(enum rb_channel_kind kind)
{
	switch (kind) {
	case RB_CHANNEL_SMTP: return "smtp";
	case RB_CHANNEL_WEBHOOK: return "webhook";
	case RB_CHANNEL_COMMAND: return "command";
	}
	return "?";
}

const struct rb_channel *channel_find(const struct rb_site *site, const char *name)
{
	for (size_t i = 0; i < site->n_channels; i++)
		if (!strcmp(site->channels[i].name, name))
			return &site->channels[i];
	return NULL;
}
