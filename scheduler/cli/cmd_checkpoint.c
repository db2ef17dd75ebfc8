/*
 * cmd_checkpoint.c: `yoban checkpoint keygen -o KEYFILE` and `yoban checkpoint -o FILE --key
 * KEYFILE`: an Ed25519 key pair kept off the database host, and a signed head of the evidence
 * chain (formats in scheduler/report/checkpoint.h) recorded with yoban_record_checkpoint.
 */
#include "cmd_db_common.h"
#include "checkpoint.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct yb_cmd cmd_checkpoint;

static const char head_sql[] =
	"SELECT c.seq, encode(c.hash, 'hex'), s.id,"
	" to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
	" FROM yoban.evidence_chain c CROSS JOIN yoban.site s ORDER BY c.seq DESC LIMIT 1";

static int keygen(int argc, char **argv)
{
	const char *file = NULL;
	unsigned char pk[YB_SIGN_PUBLIC_LEN];
	char hex[2 * YB_SIGN_PUBLIC_LEN + 1];
	struct yb_err err = { 0 };

	for (int i = 2; i < argc; i++) {
		if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc)
			file = argv[++i];
		else
			return cli_usage_error(&cmd_checkpoint, "keygen: unexpected '%s'", argv[i]);
	}
	if (!file)
		return cli_usage_error(&cmd_checkpoint, "keygen needs -o KEYFILE");
	if (yb_checkpoint_keygen(file, pk, &err) < 0) {
		cli_error("%s", err.msg);
		return YB_EXIT_FAIL;
	}
	yb_hex(pk, sizeof pk, hex);
	printf("secret key %s (mode 0600: keep it off the database host)\npublic key %s.pub: %s\n",
	       file, file, hex);
	return YB_EXIT_OK;
}

static int sign(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'C' }, { "database", required_argument, NULL, 'D' },
		{ "output", required_argument, NULL, 'o' }, { "key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *database = NULL, *file = NULL, *keyfile = NULL;
	unsigned char sk[YB_SIGN_SECRET_LEN];
	struct yb_checkpoint cp = { 0 };
	struct db_conn *c = NULL;
	struct db_result *r = NULL;
	struct yb_err err = { 0 };
	char *json = NULL;
	int status, opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'C': config = optarg; break;
		case 'D': database = optarg; break;
		case 'o': file = optarg; break;
		case 'k': keyfile = optarg; break;
		default:
			return cli_usage_error(&cmd_checkpoint, "unknown option or missing value '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cli_usage_error(&cmd_checkpoint, "unexpected argument '%s'", argv[optind]);
	if (!file || !keyfile)
		return cli_usage_error(&cmd_checkpoint, "give -o FILE and --key KEYFILE");
	if (yb_checkpoint_load_secret(keyfile, sk, &err) < 0) {
		cli_error("%s", err.msg);
		return YB_EXIT_FAIL;
	}
	if ((status = opdb_connect(config, database, &c)) != 0)
		goto out;
	if ((status = opdb_query(c, head_sql, 0, NULL, &r, "yoban_reviewer")) != 0)
		goto out;
	if (db_result_rows(r) == 0) {
		cli_error("the evidence chain is empty: nothing to sign yet");
		status = YB_EXIT_FAIL;
		goto out;
	}
	cp.seq = strtoll(db_result_get(r, 0, 0), NULL, 10);
	snprintf(cp.hash, sizeof cp.hash, "%s", db_result_get(r, 0, 1));
	snprintf(cp.site, sizeof cp.site, "%s", db_result_get(r, 0, 2));
	snprintf(cp.signed_at, sizeof cp.signed_at, "%s", db_result_get(r, 0, 3));
	yb_checkpoint_sign(&cp, sk);
	char seq[24];
	snprintf(seq, sizeof seq, "%" PRId64, cp.seq);
	const char *p[] = { seq, cp.hash, cp.signed_at, cp.public_key, cp.signature };
	db_result_free(r);
	r = NULL;
	if ((status = opdb_query(c, "SELECT yoban.yoban_record_checkpoint($1::bigint, $2, "
				 "$3::timestamptz, $4, $5)", 5, p, &r, "yoban_reviewer")) != 0)
		goto out;
	json = yb_checkpoint_json(&cp);
	if (yb_write_file_atomic(file, json, strlen(json), 0644, &err) < 0) {
		cli_error("%s", err.msg);
		status = YB_EXIT_FAIL;
		goto out;
	}
	printf("checkpoint %s: entry %" PRId64 " %s signed %s by key %s\n", file, cp.seq, cp.hash,
	       cp.signed_at, cp.public_key);
	status = YB_EXIT_OK;
out:
	yb_wipe(sk, sizeof sk);
	free(json);
	db_result_free(r);
	db_close(c);
	return status;
}

static int run(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "keygen"))
		return keygen(argc, argv);
	return sign(argc, argv);
}

const struct yb_cmd cmd_checkpoint = {
	.name = "checkpoint",
	.summary = "sign the evidence chain's head with a key kept off the database host",
	.help =
		"usage: yoban checkpoint keygen -o KEYFILE\n"
		"       yoban checkpoint -o FILE --key KEYFILE [--config FILE] [--database CONNINFO]\n"
		"\n"
		"keygen makes an Ed25519 key pair: KEYFILE (the secret key, mode 0600) and KEYFILE.pub.\n"
		"It never overwrites a file. Keep KEYFILE off the database host (docs/evidence.md).\n"
		"\n"
		"The second form signs the evidence chain's head as it is now and writes FILE, JSON:\n"
		"format, site, seq, hash, signed_at (UTC), public_key and signature (hex). The\n"
		"signature covers the text \"yoban-checkpoint/1\\nsite SITE\\nseq SEQ\\nhash HASH\\n"
		"signed_at TIME\\n\". The head is also recorded in yoban.checkpoints (the public key and\n"
		"the signature only; the secret key never reaches the database). 'yoban verify\n"
		"--checkpoint FILE' later proves the chain still extends it: a truncated chain or a\n"
		"rewritten one is found.\n"
		"\n"
		"  -o, --output FILE    where to write the checkpoint (replaced atomically)\n"
		"  --key KEYFILE        the secret key file (must be private to its owner)\n"
		"  --config FILE        the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"  --database CONNINFO  connect with this instead of the site config's database\n"
		"\n"
		"Needs yoban_operator, yoban_reviewer or yoban_admin.\n"
		"Exit status: 0 written, 1 refused or failed, 2 usage error.\n",
	.run = run,
};
