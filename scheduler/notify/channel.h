/*
 * channel.h: delivering a notice through one channel of yoban.yaml's notify.channels (smtp,
 * webhook, command), one attempt, within the channel's timeout. Retries, backoff and fallover
 * are the worker's (worker.h).
 */
#ifndef YB_CHANNEL_H
#define YB_CHANNEL_H

#include "message.h"
#include "runbook.h"

/* One attempt. 0 and *answer (what the other side said; caller frees), or a negative code with
 * err naming the channel and what went wrong (YB_ETIMEDOUT for a timeout). */
int channel_deliver(const struct rb_site *site, const struct rb_channel *ch,
		    const struct notice *n, char **answer, struct yb_err *err);

/* "smtp", "webhook", "command". */
const char *channel_kind_name(enum rb_channel_kind kind);
/* The site's channel of that name, or NULL. */
const struct rb_channel *channel_find(const struct rb_site *site, const char *name);

#endif
