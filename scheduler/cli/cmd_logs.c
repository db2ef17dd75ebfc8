/*
 * cmd_logs.c: `yoban logs RUN [--step S] [--follow]`: a run's stored output, in order.
 *
 * Output lives in yoban.output_chunks: one row per chunk keyed by (job, stream, offset), where the
 * offset is the position of the chunk's first byte in the job's *combined* output (stdout and
 * stderr share one spool, see common/wire.h), so ordering by offset gives back the interleaving
 * the step produced. A chunk is a zstd frame (column zstd), or its bytes as they are (column raw,
 * when they did not compress: migration 009). The command reads them job by job (steps in order,
 * then attempt, then host), a page at a time, decompresses each zstd frame (capped at the chunk's
 * raw_len) or takes the raw bytes, and writes stdout chunks to stdout and stderr chunks to
 * stderr. Per job it remembers the next
 * offset, so a page boundary or a later poll never prints a byte twice.
 *
 * --follow: yoband sends no notification for output, so the command polls: every 100 ms while
 * output arrives, backing off to 1 s when nothing new comes, until the run has ended and one more
 * pass found nothing.
 */
#include "cmd_db_common.h"
#include "compress.h"
#include "digest.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const struct yb_cmd cmd_logs;

#define PAGE_CHUNKS "64"
#define MAX_CHUNK_RAW (64u << 20) /* no chunk expands past this, whatever the row claims */
#define POLL_MIN_MS 100
#define POLL_MAX_MS 1000

static const char run_sql[] = "SELECT r.state::text FROM yoban.runs r WHERE r.id = $1::bigint";
static const char jobs_sql[] =
	"SELECT j.id, j.step, j.host, j.attempt, j.state::text FROM yoban.jobs j"
	" WHERE j.run_id = $1::bigint AND ($2::text IS NULL OR j.step = $2)"
	" ORDER BY j.step_index, j.attempt, j.host, j.id";
static const char chunks_sql[] =
	"SELECT c.stream::text, c.\"offset\", c.raw_len, c.zstd, c.raw FROM yoban.output_chunks c"
	" WHERE c.job_id = $1::bigint AND c.\"offset\" >= $2::bigint"
	" ORDER BY c.\"offset\" LIMIT " PAGE_CHUNKS;

struct job_cursor {
	char id[24];
	char *label;          /* "step 'x' on 'h', attempt 1" */
	long long next;       /* next offset in the job's combined output */
	bool header_done;
};

struct logs_ctx {
	struct db_conn *c;
	bool json, quiet, many;
	struct job_cursor *jobs;
	size_t n_jobs;
	struct yb_buf raw, z;
};

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* bytea text output ("\x0a1b...") into z. */
static int bytea_decode(const char *text, struct yb_buf *z, struct yb_err *err)
{
	yb_buf_reset(z);
	if (text[0] != '\\' || text[1] != 'x')
		return yb_err_set(err, YB_EPROTO, "bytea not in hex format");
	size_t n = strlen(text + 2);
	if (n % 2)
		return yb_err_set(err, YB_EPROTO, "odd bytea hex length");
	char *p = yb_buf_reserve(z, n / 2);
	if (!p)
		return yb_err_set(err, YB_ENOMEM, "chunk too large");
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(text[2 + 2 * i]), lo = hexval(text[3 + 2 * i]);
		if (hi < 0 || lo < 0)
			return yb_err_set(err, YB_EPROTO, "bad bytea hex");
		p[i] = (char)(hi << 4 | lo);
	}
	yb_buf_commit(z, n / 2);
	return 0;
}

/* The chunk of row i into x->raw: the zstd frame decompressed, or the raw bytes as they are;
 * either way exactly raw_len bytes. */
static int chunk_bytes(struct logs_ctx *x, struct db_result *r, int i, long long raw_len,
		       struct yb_err *err)
{
	const char *z = db_result_get(r, i, 3), *raw = db_result_get(r, i, 4);
	int rc;
	if (z && raw)
		return yb_err_set(err, YB_EPROTO, "both zstd and raw are set");
	if (!z && !raw)
		return yb_err_set(err, YB_EPROTO, "neither zstd nor raw is set");
	if (raw) {
		if ((rc = bytea_decode(raw, &x->raw, err)) < 0)
			return rc;
	} else {
		if ((rc = bytea_decode(z, &x->z, err)) < 0)
			return rc;
		yb_buf_reset(&x->raw);
		if ((rc = yb_zstd_decompress(&x->raw, x->z.data, x->z.len, (size_t)raw_len, err)) < 0)
			return rc;
	}
	if (x->raw.len != (size_t)raw_len)
		return yb_err_set(err, YB_EPROTO, "it holds %zu bytes, not the recorded raw_len %lld",
				  x->raw.len, raw_len);
	return 0;
}

/* Prints one page of new chunks of job j; returns the number printed, or YB_EXIT_FAIL negated. */
static int job_page(struct logs_ctx *x, struct job_cursor *j)
{
	char next[24];
	snprintf(next, sizeof(next), "%lld", j->next);
	const char *p[] = { j->id, next };
	struct db_result *r = NULL;
	if (opdb_query(x->c, chunks_sql, 2, p, &r, "yoban_reviewer") != 0)
		return -YB_EXIT_FAIL;
	int n = db_result_rows(r);
	for (int i = 0; i < n; i++) {
		struct yb_err err = { 0 };
		int s = !strcmp(db_result_get(r, i, 0), "stderr");
		long long offset = strtoll(db_result_get(r, i, 1), NULL, 10);
		long long raw_len = strtoll(db_result_get(r, i, 2), NULL, 10);
		if (raw_len <= 0 || raw_len > (long long)MAX_CHUNK_RAW ||
		    chunk_bytes(x, r, i, raw_len, &err) < 0) {
			cli_error("job %s, %s at offset %lld: stored chunk unreadable: %s", j->id,
				  s ? "stderr" : "stdout", offset, err.msg[0] ? err.msg : "its raw_len is out of range");
			db_result_free(r);
			return -YB_EXIT_FAIL;
		}
		if (offset > j->next && !x->json)
			fprintf(stderr, "yoban logs: [%lld bytes of job %s's output missing before offset "
				"%lld]\n", offset - j->next, j->id, offset);
		if (x->json) {
			struct yb_json *o = yb_json_object();
			yb_json_set(o, "job_id", yb_json_int(strtoll(j->id, NULL, 10)));
			yb_json_set(o, "job", yb_json_str(j->label));
			yb_json_set(o, "stream", yb_json_str(s ? "stderr" : "stdout"));
			yb_json_set(o, "offset", yb_json_int(offset));
			/* text for people; base64 only when the bytes are not UTF-8, so nothing is lost */
			yb_json_set(o, "text", yb_json_strn(x->raw.data ? x->raw.data : "", x->raw.len));
			if (!yb_utf8_valid(x->raw.data ? x->raw.data : "", x->raw.len)) {
				char *b64 = yb_base64(x->raw.data, x->raw.len);
				yb_json_set(o, "base64", yb_json_str(b64));
				free(b64);
			}
			char *line = yb_json_dump(o, 0);
			printf("%s\n", line);
			free(line);
			yb_json_free(o);
			fflush(stdout);
		} else {
			if (!j->header_done && x->many && !x->quiet) {
				fflush(stdout);
				fprintf(stderr, "==> %s <==\n", j->label);
			}
			j->header_done = true;
			FILE *f = s ? stderr : stdout;
			fwrite(x->raw.data, 1, x->raw.len, f);
			fflush(f);
		}
		j->next = offset + raw_len;
	}
	db_result_free(r);
	return n;
}

/* Reads the run's jobs again (new ones appear while it runs). */
static int load_jobs(struct logs_ctx *x, const char *run_id, const char *step)
{
	const char *p[] = { run_id, step };
	struct db_result *r = NULL;
	if (opdb_query(x->c, jobs_sql, 2, p, &r, "yoban_reviewer") != 0)
		return YB_EXIT_FAIL;
	for (int i = 0; i < db_result_rows(r); i++) {
		const char *id = db_result_get(r, i, 0);
		bool known = false;
		for (size_t k = 0; k < x->n_jobs && !known; k++)
			known = !strcmp(x->jobs[k].id, id);
		if (known)
			continue;
		x->jobs = xrealloc(x->jobs, (x->n_jobs + 1) * sizeof(*x->jobs));
		struct job_cursor *j = &x->jobs[x->n_jobs++];
		memset(j, 0, sizeof(*j));
		snprintf(j->id, sizeof(j->id), "%s", id);
		j->label = xasprintf("step '%s' on '%s', attempt %s (job %s)", db_result_get(r, i, 1),
				     db_result_get(r, i, 2), db_result_get(r, i, 3), id);
	}
	db_result_free(r);
	return 0;
}

/* One pass over every job, all pages; returns the chunks printed or -status. */
static int pass(struct logs_ctx *x)
{
	int total = 0;
	for (size_t k = 0; k < x->n_jobs; k++) {
		int n;
		do {
			if ((n = job_page(x, &x->jobs[k])) < 0)
				return n;
			total += n;
		} while (n > 0);
	}
	return total;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "step", required_argument, NULL, 's' },   { "follow", no_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "config", required_argument, NULL, 'C' }, { "format", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *step = NULL;
	bool follow = false;
	char run_id[24];
	int status, opt;
	struct logs_ctx x = { 0 };
	char *state = NULL;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "fq", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': step = optarg; break;
		case 'f': follow = true; break;
		case 'q': x.quiet = true; break;
		case 'C': config = optarg; break;
		case 'F':
			if (cli_parse_format(&cmd_logs, optarg, &x.json) != 0)
				return YB_EXIT_USAGE;
			break;
		default:
			return cli_usage_error(&cmd_logs, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(&cmd_logs, "give one RUN id");
	if ((status = opdb_parse_run_id(&cmd_logs, argv[optind], run_id, sizeof(run_id))) != 0)
		return status;
	if ((status = opdb_open(config, &x.c)) != 0)
		return status;
	yb_buf_init(&x.raw, MAX_CHUNK_RAW);
	yb_buf_init(&x.z, 2 * (size_t)MAX_CHUNK_RAW);

	const char *p[] = { run_id };
	int64_t pause = POLL_MIN_MS;
	for (;;) {
		struct yb_err err = { 0 };
		free(state);
		state = NULL;
		int rc = db_query_value(x.c, run_sql, 1, p, &state, &err);
		if (rc == YB_ENOENT) {
			cli_error("no run %s (see 'yoban runs' for the run ids)", run_id);
			status = YB_EXIT_FAIL;
			goto out;
		}
		if (rc < 0) {
			status = opdb_report(x.c, &err, "yoban_reviewer");
			goto out;
		}
		bool ended = opdb_state_final(state);
		if ((status = load_jobs(&x, run_id, step)) != 0)
			goto out;
		x.many = x.n_jobs > 1;
		int printed = pass(&x);
		if (printed < 0) {
			status = -printed;
			goto out;
		}
		if (!follow || (ended && printed == 0))
			break;
		pause = printed > 0 ? POLL_MIN_MS : (pause * 2 > POLL_MAX_MS ? POLL_MAX_MS : pause * 2);
		if (!ended)
			sleep_ms(pause);
	}
	if (step && x.n_jobs == 0 && !x.quiet)
		fprintf(stderr, "yoban logs: run %s has no job of a step '%s'%s\n", run_id, step,
			opdb_state_final(state) ? "" : " (yet)");
	status = YB_EXIT_OK;
out:
	for (size_t k = 0; k < x.n_jobs; k++)
		free(x.jobs[k].label);
	free(x.jobs);
	free(state);
	yb_buf_release(&x.raw);
	yb_buf_release(&x.z);
	db_close(x.c);
	return status;
}

const struct yb_cmd cmd_logs = {
	.name = "logs",
	.summary = "a run's stored output (stdout to stdout, stderr to stderr), or follow it",
	.help =
		"usage: yoban logs RUN [--step NAME] [--follow] [--quiet] [--config FILE]\n"
		"                  [--format text|json]\n"
		"\n"
		"Prints the output yoband stored for run RUN, job by job (steps in order, then attempt,\n"
		"then host): what a step wrote to stdout goes to stdout, what it wrote to stderr goes to\n"
		"stderr. When the run has more than one job, a line '==> step 'S' on 'HOST', attempt N\n"
		"(job ID) <==' on stderr marks where each job's output begins (--quiet leaves it out).\n"
		"Needs read access (yoban_reviewer, yoban_operator, yoban_approver or yoban_admin).\n"
		"\n"
		"  --step NAME    only this step's jobs\n"
		"  -f, --follow   keep printing new output until the run has ended (polls the database\n"
		"                 every 100 ms while output arrives, backing off to 1 s when idle)\n"
		"  -q, --quiet    no job headers\n"
		"  --config FILE  the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"  --format json  one JSON object per chunk and line: job_id, job, stream, offset, text;\n"
		"                 a chunk that is not UTF-8 (Shift_JIS, binary) shows each bad byte as\n"
		"                 U+FFFD in text and carries its exact bytes in base64\n"
		"\n"
		"Exit status: 0 printed, 1 no such run, unreadable chunk or not allowed, 2 usage.\n",
	.run = run,
};
