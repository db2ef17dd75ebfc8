/*
 * cmd_evidence.c: `yoban evidence export RUN -o FILE [--force]` and `yoban evidence verify FILE`:
 * one run's evidence as a self-contained bundle, and its offline check.
 *
 * Options and messages only: writing and reading bundles is scheduler/report/bundle*.c. export
 * needs the database (read access); verify never opens it, so an auditor can check a bundle on a
 * machine that has nothing but the yoban binary.
 */
#include "bundle.h"
#include "cmd_db_common.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const struct yb_cmd cmd_evidence;

/* Progress on a terminal only: files, bytes and rate, redrawn at most 5 times a second. */
struct progress {
	int64_t start_ms, last_ms;
	bool shown;
};

static void show_progress(void *ctx, uint64_t bytes, size_t files)
{
	struct progress *p = ctx;
	int64_t now = yb_mono_ms();
	if (now - p->last_ms < 200)
		return;
	p->last_ms = now;
	char b[32], rate[32], n[32];
	snprintf(n, sizeof(n), "%llu", (unsigned long long)bytes);
	opdb_format_bytes(n, b, sizeof(b));
	double secs = (double)(now - p->start_ms) / 1000.0;
	snprintf(n, sizeof(n), "%llu", (unsigned long long)(secs > 0 ? (double)bytes / secs : 0));
	opdb_format_bytes(n, rate, sizeof(rate));
	fprintf(stderr, "\r  %zu files, %s written, %s/s   ", files, b, rate);
	p->shown = true;
}

static void print_report(const char *file, const struct yb_bundle_report *r, const char *verb)
{
	printf("%s %s: run %lld of runbook '%s' (site %s)\n", verb, file, (long long)r->run_id,
	       r->runbook, r->site);
	printf("  exported %s by %s\n", r->exported_at, r->exported_by);
	printf("  chain entries %zu (seq %lld..%lld), records %zu, files %zu (%zu outputs, %zu "
	       "artifacts)\n", r->entries, (long long)r->first_seq, (long long)r->last_seq,
	       r->records, r->files, r->outputs, r->artifacts);
	if (r->partial)
		printf("  %zu outputs were cut by the runner's cap: their length is checked, not their "
		       "digest\n", r->partial);
	printf("  chain head at export: seq %lld, hash %s\n", (long long)r->head_seq, r->head_hash);
}

static int do_export(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'C' }, { "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' }, { NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *file = NULL;
	bool force = false;
	char run_id[24];
	int status, opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "o:f", longopts, NULL)) != -1) {
		switch (opt) {
		case 'C': config = optarg; break;
		case 'o': file = optarg; break;
		case 'f': force = true; break;
		default:
			return cli_usage_error(&cmd_evidence, "unknown option or missing value '%s'",
					       argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(&cmd_evidence, "export takes one RUN (e.g. yoban evidence export "
				       "12 -o run-12.tar.zst)");
	if (!file || !*file || !strcmp(file, "-"))
		return cli_usage_error(&cmd_evidence, "give the bundle's file with -o FILE (e.g. "
				       "run-12.tar.zst)");
	if ((status = opdb_parse_run_id(&cmd_evidence, argv[optind], run_id, sizeof(run_id))) != 0)
		return status;

	struct db_conn *c = NULL;
	if ((status = opdb_open(config, &c)) != 0)
		return status;
	struct progress prog = { .start_ms = yb_mono_ms() };
	struct yb_bundle_export o = {
		.run_id = strtoll(run_id, NULL, 10), .file = file, .force = force,
		.progress = isatty(STDERR_FILENO) ? show_progress : NULL, .progress_ctx = &prog,
	};
	struct yb_bundle_report rep = { 0 };
	struct yb_err err = { 0 };
	int rc = yb_bundle_export(c, &o, &rep, &err);
	if (prog.shown)
		fprintf(stderr, "\n");
	if (rc == YB_EDB) {
		status = opdb_report(c, &err, "yoban_reviewer");
	} else if (rc < 0) {
		cli_error("%s", err.msg);
		status = YB_EXIT_FAIL;
	} else {
		print_report(file, &rep, "wrote and verified");
		status = YB_EXIT_OK;
	}
	yb_bundle_report_release(&rep);
	db_close(c);
	return status;
}

static int do_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'F' }, { NULL, 0, NULL, 0 },
	};
	bool json = false;
	int opt, status;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'F':
			if ((status = cli_parse_format(&cmd_evidence, optarg, &json)) != 0)
				return status;
			break;
		default:
			return cli_usage_error(&cmd_evidence, "unknown option or missing value '%s'",
					       argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(&cmd_evidence, "verify takes one FILE (a bundle made by 'yoban "
				       "evidence export')");
	const char *file = argv[optind];
	struct yb_bundle_report rep = { 0 };
	struct yb_err err = { 0 };
	int rc = yb_bundle_verify_file(file, &rep, &err);
	if (json) {
		struct yb_json *o;
		if (rc < 0) {
			o = yb_json_object();
			yb_json_set(o, "ok", yb_json_bool(false));
			yb_json_set(o, "file", yb_json_str(file));
			yb_json_set(o, "error", yb_json_str(err.msg));
		} else {
			o = yb_bundle_report_json(&rep);
			yb_json_set(o, "file", yb_json_str(file));
		}
		yb_json_print(o, YB_JSON_PRETTY);
		yb_json_free(o);
	} else if (rc < 0) {
		cli_error("%s", err.msg);
	} else {
		print_report(file, &rep, "OK");
	}
	yb_bundle_report_release(&rep);
	return rc < 0 ? YB_EXIT_FAIL : YB_EXIT_OK;
}

static int run(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error(&cmd_evidence, "give export or verify (see 'yoban evidence "
				       "--help')");
	if (!strcmp(argv[1], "export"))
		return do_export(argc - 1, argv + 1);
	if (!strcmp(argv[1], "verify"))
		return do_verify(argc - 1, argv + 1);
	return cli_usage_error(&cmd_evidence, "unknown subcommand '%s' (export or verify)", argv[1]);
}

const struct yb_cmd cmd_evidence = {
	.name = "evidence",
	.summary = "export a run's evidence as a bundle, and verify a bundle offline",
	.help =
		"usage: yoban evidence export RUN -o FILE [--force] [--config FILE]\n"
		"       yoban evidence verify FILE [--format json]\n"
		"\n"
		"export writes run RUN's evidence into FILE, one self-contained tar.zst bundle: a\n"
		"manifest (every file's size and SHA-256, the evidence chain's head), run.json (the run,\n"
		"its transitions, jobs, requests, approvals, gate decisions, artifacts, incidents,\n"
		"notices and effort, each as its latest chain entry holds it), chain.jsonl (the run's\n"
		"chain entries with their payloads), each job's output, each artifact (CSV) and a\n"
		"README (ja/en). It reads one snapshot of the database, writes FILE.tmp, verifies it\n"
		"as 'evidence verify' would, and only then renames it to FILE (mode 0600). Needs read\n"
		"access (yoban_reviewer, yoban_operator, yoban_approver or yoban_admin).\n"
		"\n"
		"verify checks a bundle without the database: safe to open (regular files only, no\n"
		"absolute or '..' names, no duplicates, size caps; nothing is extracted), every file\n"
		"against the manifest, every chain entry's payload digest and hash, consecutive\n"
		"entries' links, each output and artifact against its job's or artifact's chain entry,\n"
		"and run.json against the chain. A bundle whose every digest was recomputed by a forger\n"
		"passes: compare its chain head with a signed checkpoint or 'yoban verify' for that\n"
		"(docs/evidence-bundles.md).\n"
		"\n"
		"  -o, --output FILE  the bundle to write (export)\n"
		"  -f, --force        replace FILE if it exists (export)\n"
		"  --format json      the verdict as JSON (verify)\n"
		"  --config FILE      the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"\n"
		"Exit status: 0 written / verified, 1 refused (no such run, no chain entries, FILE\n"
		"exists, not allowed) or the bundle does not verify (the first problem is named), 2\n"
		"usage error.\n",
	.run = run,
};
