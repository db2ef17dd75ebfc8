-- 010_artifacts: the evidence a built-in step returns with its exit, and what a data patch did.
--
-- An `sql` step (docs/data-patches.md) returns its before and after result sets as CSV (RFC 4180);
-- yoband stores each as one artifact of the job, with its row count and SHA-256, before the job's
-- exit is written (so before the runner is told to forget it). The content is kept whole (a step
-- caps each set at 1 MiB) and the digest is checked against it by the table itself. What became
-- of the patch's transaction (committed, rolled back, or unknown with its txid when it could not
-- be settled) is one sql_results row per job. Both tables are append-only evidence: the daemon
-- may insert, nobody may change or remove a row.

CREATE TABLE yoban.artifacts (
	job_id bigint NOT NULL REFERENCES yoban.jobs (id),
	name text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_-]{0,63}$'),
	media_type text NOT NULL DEFAULT 'text/csv',
	content bytea NOT NULL,
	bytes bigint NOT NULL CHECK (bytes = octet_length(content)),
	rows bigint CHECK (rows >= 0),
	sha256 text NOT NULL CHECK (sha256 = encode(sha256(content), 'hex')),
	stored_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (job_id, name)
);

CREATE TABLE yoban.sql_results (
	job_id bigint PRIMARY KEY REFERENCES yoban.jobs (id),
	outcome text NOT NULL CHECK (outcome IN ('committed', 'rolled back', 'unknown', 'not started')),
	txid bigint,
	patch_rows bigint,
	expect_rows bigint,
	settled boolean NOT NULL DEFAULT false, -- decided afterwards from txid_status on the target
	message text NOT NULL,
	recorded_at timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER artifacts_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON yoban.artifacts
	FOR EACH STATEMENT EXECUTE FUNCTION yoban.yoban_append_only();
CREATE TRIGGER sql_results_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON yoban.sql_results
	FOR EACH STATEMENT EXECUTE FUNCTION yoban.yoban_append_only();

REVOKE ALL ON yoban.artifacts, yoban.sql_results FROM PUBLIC;
GRANT SELECT ON yoban.artifacts, yoban.sql_results
	TO yoban_operator, yoban_approver, yoban_reviewer, yoban_admin, yoban_daemon;
GRANT INSERT ON yoban.artifacts, yoban.sql_results TO yoban_daemon;
