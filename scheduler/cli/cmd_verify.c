/*
 * cmd_verify.c: `yoban verify [--from SEQ] [--checkpoint FILE [--public-key FILE|HEX]]`: re-walks
 * the evidence chain and the records it covers (the checks are scheduler/report/verify.c) and
 * names the first bad row; exit 0 and one line with the head when all is sound.
 */
#include "cmd_db_common.h"
#include "verify.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const struct yb_cmd cmd_verify;

struct progress {
	int64_t start_ms, last_ms;
	bool shown;
};

/* On a terminal only: entries per second and the time left, rewritten in place. */
static void show_progress(void *ctx, int64_t done, int64_t total)
{
	struct progress *p = ctx;
	int64_t now = yb_mono_ms();
	if (now - p->last_ms < 200 || total <= 0)
		return;
	p->last_ms = now;
	double secs = (double)(now - p->start_ms) / 1000.0;
	double rate = secs > 0 ? (double)done / secs : 0;
	double left = rate > 0 ? (double)(total - done) / rate : 0;
	fprintf(stderr, "\rverify: %" PRId64 "/%" PRId64 " entries, %.0f/s, %.0f s left\033[K", done,
		total, rate, left);
	p->shown = true;
}

static void print_json(const struct yb_verify_report *rep, const struct yb_checkpoint *cp)
{
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "ok", yb_json_bool(rep->ok));
	yb_json_set(o, "problem", rep->problem ? yb_json_str(rep->problem) : yb_json_null());
	yb_json_set(o, "head_seq", yb_json_int(rep->head_seq));
	yb_json_set(o, "head_hash", rep->head_seq ? yb_json_str(rep->head_hash) : yb_json_null());
	yb_json_set(o, "entries", yb_json_int(rep->entries));
	yb_json_set(o, "records", yb_json_int(rep->records));
	yb_json_set(o, "outputs", yb_json_int(rep->outputs));
	if (cp) {
		struct yb_json *k = yb_json_object();
		yb_json_set(k, "seq", yb_json_int(cp->seq));
		yb_json_set(k, "hash", yb_json_str(cp->hash));
		yb_json_set(k, "signed_at", yb_json_str(cp->signed_at));
		yb_json_set(k, "public_key", yb_json_str(cp->public_key));
		yb_json_set(k, "extended", yb_json_bool(rep->ok && rep->checkpoint_ok));
		yb_json_set(o, "checkpoint", k);
	} else {
		yb_json_set(o, "checkpoint", yb_json_null());
	}
	yb_json_print(o, YB_JSON_PRETTY);
	yb_json_free(o);
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'C' }, { "database", required_argument, NULL, 'D' },
		{ "from", required_argument, NULL, 'f' }, { "checkpoint", required_argument, NULL, 'k' },
		{ "public-key", required_argument, NULL, 'p' }, { "format", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *database = NULL, *cpfile = NULL, *keyarg = NULL;
	struct yb_verify_opts o = { .from = 1 };
	struct yb_checkpoint cp;
	unsigned char pinned[YB_SIGN_PUBLIC_LEN];
	struct yb_verify_report rep = { 0 };
	struct progress prog = { 0 };
	struct db_conn *c = NULL;
	struct yb_err err = { 0 };
	bool json = false;
	int status, opt;
	char *end;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'C': config = optarg; break;
		case 'D': database = optarg; break;
		case 'k': cpfile = optarg; break;
		case 'p': keyarg = optarg; break;
		case 'f':
			o.from = strtoll(optarg, &end, 10);
			if (*end || o.from < 1)
				return cli_usage_error(&cmd_verify, "--from takes a sequence number >= 1, "
						       "not '%s'", optarg);
			break;
		case 'F':
			if ((status = cli_parse_format(&cmd_verify, optarg, &json)) != 0)
				return status;
			break;
		default:
			return cli_usage_error(&cmd_verify, "unknown option or missing value '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cli_usage_error(&cmd_verify, "unexpected argument '%s'", argv[optind]);
	if (keyarg && !cpfile)
		return cli_usage_error(&cmd_verify, "--public-key pins the key of a --checkpoint");
	if (cpfile) {
		if (yb_checkpoint_load(cpfile, &cp, &err) < 0) {
			cli_error("%s", err.msg);
			return YB_EXIT_FAIL;
		}
		o.checkpoint = &cp;
	}
	if (keyarg) {
		if (yb_checkpoint_load_public(keyarg, pinned, &err) < 0) {
			cli_error("%s", err.msg);
			return YB_EXIT_FAIL;
		}
		o.pinned_key = pinned;
	}
	if (isatty(STDERR_FILENO) && !json) {
		prog.start_ms = yb_mono_ms();
		o.progress = show_progress;
		o.ctx = &prog;
	}
	if ((status = opdb_connect(config, database, &c)) != 0)
		return status;
	if (yb_verify_run(c, &o, &rep, &err) < 0) {
		if (prog.shown)
			fprintf(stderr, "\r\033[K");
		status = opdb_report(c, &err, "yoban_reviewer");
		goto out;
	}
	if (prog.shown)
		fprintf(stderr, "\r\033[K");
	if (json) {
		print_json(&rep, o.checkpoint);
	} else if (rep.ok) {
		printf("evidence chain OK: head %" PRId64 " %s, %" PRId64 " entries walked, %" PRId64
		       " records and %" PRId64 " outputs match", rep.head_seq,
		       rep.head_seq ? rep.head_hash : "(empty)", rep.entries, rep.records, rep.outputs);
		if (o.checkpoint)
			printf("; extends checkpoint %" PRId64 " signed %s by key %.16s", cp.seq,
			       cp.signed_at, cp.public_key);
		printf("\n");
	} else {
		printf("evidence chain NOT OK: %s\n", rep.problem);
	}
	status = rep.ok ? YB_EXIT_OK : YB_EXIT_FAIL;
out:
	yb_verify_report_release(&rep);
	db_close(c);
	return status;
}

const struct yb_cmd cmd_verify = {
	.name = "verify",
	.summary = "check the evidence chain and the records it covers; name the first bad row",
	.help =
		"usage: yoban verify [--from SEQ] [--checkpoint FILE [--public-key FILE|HEX]]\n"
		"                    [--format text|json] [--config FILE] [--database CONNINFO]\n"
		"\n"
		"Re-walks the evidence chain (docs/evidence.md) in order, recomputing every entry's\n"
		"payload digest and hash and its link to the entry before, then checks the records it\n"
		"covers: each record's latest entry equals the record as it is now, no chained record\n"
		"was deleted, every evidence record has an entry, and each ended job's stored output\n"
		"hashes to its chained stdout_sha256/stderr_sha256. Reads one snapshot: a running\n"
		"yoband does not disturb it. Progress is shown when standard error is a terminal.\n"
		"\n"
		"  --from SEQ           walk from entry SEQ (trusting the hash of SEQ-1), and compare only\n"
		"                       records and outputs whose latest entry is at or after SEQ\n"
		"  --checkpoint FILE    a signed head from 'yoban checkpoint': its signature must hold,\n"
		"                       and the chain must still have that entry with that hash (a\n"
		"                       truncated or rewritten chain is named)\n"
		"  --public-key K       the key that must have signed the checkpoint: 64 hex digits or\n"
		"                       the KEYFILE.pub of 'yoban checkpoint keygen'\n"
		"  --format json        the verdict as JSON\n"
		"  --config FILE        the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"  --database CONNINFO  connect with this instead of the site config's database\n"
		"\n"
		"Needs read access (yoban_reviewer, yoban_operator, yoban_approver or yoban_admin).\n"
		"Exit status: 0 sound, 1 a problem (the first is named) or no access, 2 usage error.\n",
	.run = run,
};
