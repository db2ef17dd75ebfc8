-- 005_hardening: a job is only ever the job yoband started; lost is not free (issue 8, §1 and §6).
--
-- Job identity. A runner job id used to be r<run>-s<step>-a<attempt>-h<host>: predictable, and the
-- same in every database, so a job made by hand (`yoban exec --job-id`) or by another site sharing
-- a runner's state folder could be taken for the run's step. Now each database has a random site
-- id (yoban.site, one row, made here once), each run a random nonce (runs.nonce, made with the
-- row), and yoband builds a job's id from both in the statement that writes the job row:
--   r<run>-s<step>-a<attempt>-h<host>-<site>-<nonce>     (at most 98 characters, [A-Za-z0-9-])
-- The row is the truth afterwards: reconcile follows the stored runner_job_id, never a rebuilt
-- one. spec_sha256 is the runner's digest of the job's spec (from its ACK), sent again with every
-- ATTACH, CANCEL and FORGET, so a job the runner holds under that id with another spec is never
-- followed, cancelled or forgotten.
--
-- Lost is not free. A job whose runner journal is gone while processes of it still run is
-- recorded 'lost' with holds_slot = true: its run keeps the runbook's concurrency slot and its
-- locks until the runner says nothing of the job is left (released_by = 'runner') or an operator
-- releases it with yoban_release (released_by = that login, recorded in requests and audit).
-- evidence keeps what the runner said: what it killed (killed_count, killed), what was still
-- running (processes, pids) and CANCEL's answers.

CREATE TABLE yoban.site (
	one boolean PRIMARY KEY DEFAULT true CHECK (one),
	id text NOT NULL CHECK (id ~ '^[0-9a-f]{16}$'),
	created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO yoban.site (id)
	VALUES (pg_catalog.substr(pg_catalog.replace(pg_catalog.gen_random_uuid()::text, '-', ''), 1, 16));

-- 96 random bits per run; existing rows get their own (a volatile default is evaluated per row).
ALTER TABLE yoban.runs ADD COLUMN nonce text NOT NULL
	DEFAULT pg_catalog.substr(pg_catalog.replace(pg_catalog.gen_random_uuid()::text, '-', ''), 1, 24)
	CHECK (nonce ~ '^[0-9a-f]{24}$');

ALTER TABLE yoban.jobs
	ADD COLUMN spec_sha256 text CHECK (spec_sha256 ~ '^[0-9a-f]{64}$'),
	ADD COLUMN evidence jsonb CHECK (evidence IS NULL OR jsonb_typeof(evidence) = 'object'),
	ADD COLUMN holds_slot boolean NOT NULL DEFAULT false,
	ADD COLUMN released_at timestamptz,
	ADD COLUMN released_by text,
	ADD COLUMN release_comment text,
	ADD CONSTRAINT jobs_holds_lost CHECK (NOT holds_slot OR state = 'lost');
CREATE INDEX jobs_holding ON yoban.jobs (run_id) WHERE holds_slot;

ALTER TYPE yoban.request_kind ADD VALUE IF NOT EXISTS 'release';

-- An operator frees the slot and locks a lost run holds, without the runner's word (the host is
-- gone, or the leftover processes are known to be harmless). Recorded as a request and an audit
-- row naming session_user; yoband acts on it (and says in the answer what it released).
CREATE FUNCTION yoban.yoban_release(run bigint, comment text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	st yoban.run_state;
BEGIN
	PERFORM yoban.yoban_require_role('yoban_operator', 'yoban_admin');
	SELECT r.state INTO st FROM yoban.runs r WHERE r.id = run;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no run %', run USING ERRCODE = 'no_data_found';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM yoban.jobs j WHERE j.run_id = run AND j.holds_slot) THEN
		RAISE EXCEPTION 'run % holds no slot (it is %): nothing to release', run, st
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'release is for a lost run whose processes may still run; cancel stops a run in flight';
	END IF;
	IF comment IS NOT NULL AND pg_catalog.length(comment) > 1000 THEN
		RAISE EXCEPTION 'the comment is longer than 1000 characters' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN yoban.yoban_request('release',
		pg_catalog.jsonb_build_object('run', run, 'comment', comment), run);
END
$$;
ALTER FUNCTION yoban.yoban_release(bigint, text) OWNER TO yoban_definer;
REVOKE ALL ON FUNCTION yoban.yoban_release(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION yoban.yoban_release(bigint, text) TO yoban_operator, yoban_admin;
GRANT SELECT (run_id, holds_slot) ON yoban.jobs TO yoban_definer;

REVOKE ALL ON yoban.site FROM PUBLIC;
GRANT SELECT ON yoban.site
	TO yoban_operator, yoban_approver, yoban_reviewer, yoban_admin, yoban_daemon;
