-- 002_runs: what happened: runbook revisions, runs and their history, jobs, output, requests,
-- audit and daemon heartbeats. Times are timestamptz. Nobody but the daemon writes here directly;
-- operators go through the SECURITY DEFINER functions of 003_functions.sql.
--
-- Exactly once: a scheduled fire (trigger 'schedule' or 'catchup') is identified by
-- (runbook, scheduled_for, mode); the partial unique index runs_fire_key makes a second row for
-- the same fire impossible, whichever scheduler, restart or retry tries to insert it.

CREATE TYPE yoban.run_trigger AS ENUM ('schedule', 'manual', 'rerun', 'catchup');
CREATE TYPE yoban.run_mode AS ENUM ('production', 'staging');
-- pending: claimed, not started; queued: waiting for a concurrency slot or a lock;
-- running; cancelling: asked to stop, jobs still winding down; then one terminal state.
CREATE TYPE yoban.run_state AS ENUM ('pending', 'queued', 'running', 'cancelling',
	'succeeded', 'failed', 'timed_out', 'cancelled', 'lost', 'skipped');
CREATE TYPE yoban.job_state AS ENUM ('pending', 'dispatched', 'running',
	'succeeded', 'failed', 'timed_out', 'cancelled', 'lost');
CREATE TYPE yoban.request_kind AS ENUM ('trigger', 'cancel', 'rerun', 'reload');
CREATE TYPE yoban.output_stream AS ENUM ('stdout', 'stderr');

-- One row per distinct content of a runbook file, recorded when the daemon loads it.
CREATE TABLE yoban.runbook_revisions (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	runbook text NOT NULL CHECK (runbook ~ '^[a-z0-9][a-z0-9-]{0,127}$'),
	sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	content bytea NOT NULL,
	loaded_at timestamptz NOT NULL DEFAULT now(),
	loaded_by text NOT NULL DEFAULT session_user,
	UNIQUE (runbook, sha256),
	CONSTRAINT runbook_revisions_digest CHECK (sha256 = encode(sha256(content), 'hex'))
);

-- Requests from operators: written only by yoban_trigger/_cancel/_rerun/_reload, handled by the
-- daemon (handled_at, result).
CREATE TABLE yoban.requests (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind yoban.request_kind NOT NULL,
	args jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(args) = 'object'),
	requested_by text NOT NULL DEFAULT session_user,
	created_at timestamptz NOT NULL DEFAULT now(),
	handled_at timestamptz,
	handled_by text,          -- the daemon instance that handled it
	ok boolean,
	result jsonb,
	CHECK ((handled_at IS NULL) = (ok IS NULL))
);
CREATE INDEX requests_unhandled ON yoban.requests (id) WHERE handled_at IS NULL;

CREATE TABLE yoban.runs (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	runbook text NOT NULL CHECK (runbook ~ '^[a-z0-9][a-z0-9-]{0,127}$'),
	revision_id bigint REFERENCES yoban.runbook_revisions (id),
	trigger yoban.run_trigger NOT NULL,
	mode yoban.run_mode NOT NULL DEFAULT 'production',
	scheduled_for timestamptz,
	state yoban.run_state NOT NULL DEFAULT 'pending',
	requested_by text NOT NULL DEFAULT session_user,
	request_id bigint REFERENCES yoban.requests (id),
	rerun_of bigint REFERENCES yoban.runs (id),
	rerun_from_step text,
	params jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(params) = 'object'),
	reason text,              -- why it ended as it did (skipped on a closed day, lost, ...)
	created_at timestamptz NOT NULL DEFAULT now(),
	started_at timestamptz,
	ended_at timestamptz,
	CHECK (trigger NOT IN ('schedule', 'catchup') OR scheduled_for IS NOT NULL),
	CHECK ((trigger = 'rerun') = (rerun_of IS NOT NULL))
);
CREATE UNIQUE INDEX runs_fire_key ON yoban.runs (runbook, scheduled_for, mode)
	WHERE trigger IN ('schedule', 'catchup');
CREATE INDEX runs_runbook_created ON yoban.runs (runbook, created_at DESC);
CREATE INDEX runs_in_flight ON yoban.runs (id)
	WHERE state IN ('pending', 'queued', 'running', 'cancelling');

-- Every state change of a run, written in the same statement as the change itself
-- (yoban_run_transition), so the history and the run never disagree.
CREATE TABLE yoban.run_transitions (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	run_id bigint NOT NULL REFERENCES yoban.runs (id),
	from_state yoban.run_state,            -- NULL for the creation of the run
	to_state yoban.run_state NOT NULL,
	reason text,
	at timestamptz NOT NULL DEFAULT now(),
	by_user text NOT NULL DEFAULT session_user
);
CREATE INDEX run_transitions_run ON yoban.run_transitions (run_id, id);

-- A job is one step of a run on one host, one attempt.
CREATE TABLE yoban.jobs (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	run_id bigint NOT NULL REFERENCES yoban.runs (id),
	step text NOT NULL,
	step_index integer NOT NULL CHECK (step_index >= 0),
	host text NOT NULL,
	attempt integer NOT NULL DEFAULT 1 CHECK (attempt >= 1),
	runner_job_id text,                    -- the runner's journal id, for re-ATTACH
	state yoban.job_state NOT NULL DEFAULT 'pending',
	exit_status integer,
	exit_signal integer,
	error text,
	created_at timestamptz NOT NULL DEFAULT now(),
	started_at timestamptz,
	ended_at timestamptz,
	user_cpu_us bigint,
	sys_cpu_us bigint,
	max_rss_kb bigint,
	stdout_bytes bigint NOT NULL DEFAULT 0,
	stderr_bytes bigint NOT NULL DEFAULT 0,
	stdout_sha256 text CHECK (stdout_sha256 ~ '^[0-9a-f]{64}$'),
	stderr_sha256 text CHECK (stderr_sha256 ~ '^[0-9a-f]{64}$'),
	dropped_bytes bigint NOT NULL DEFAULT 0,
	UNIQUE (run_id, step_index, host, attempt)
);
CREATE UNIQUE INDEX jobs_runner_job ON yoban.jobs (host, runner_job_id)
	WHERE runner_job_id IS NOT NULL;

-- Output as the runner sent it: zstd frames, keyed by the offset of their first byte in the
-- uncompressed stream, so a re-ATTACH from an offset can never store a byte twice.
CREATE TABLE yoban.output_chunks (
	job_id bigint NOT NULL REFERENCES yoban.jobs (id),
	stream yoban.output_stream NOT NULL,
	"offset" bigint NOT NULL CHECK ("offset" >= 0),
	raw_len integer NOT NULL CHECK (raw_len > 0),
	zstd bytea NOT NULL,
	received_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (job_id, stream, "offset")
);

-- Who did what. Append-only: nobody holds UPDATE or DELETE, and a trigger refuses them anyway.
CREATE TABLE yoban.audit (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at timestamptz NOT NULL DEFAULT now(),
	actor text NOT NULL DEFAULT session_user,
	action text NOT NULL,
	run_id bigint REFERENCES yoban.runs (id),
	request_id bigint REFERENCES yoban.requests (id),
	detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_at ON yoban.audit (at);

CREATE FUNCTION yoban.yoban_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RAISE EXCEPTION 'table "%" is append-only', TG_TABLE_NAME
		USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON yoban.audit
	FOR EACH STATEMENT EXECUTE FUNCTION yoban.yoban_append_only();
CREATE TRIGGER run_transitions_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
	ON yoban.run_transitions FOR EACH STATEMENT EXECUTE FUNCTION yoban.yoban_append_only();

-- One row per daemon instance, refreshed by yoban_heartbeat.
CREATE TABLE yoban.heartbeats (
	instance text PRIMARY KEY,
	host text NOT NULL,
	pid integer NOT NULL,
	leader boolean NOT NULL DEFAULT false,
	started_at timestamptz NOT NULL DEFAULT now(),
	at timestamptz NOT NULL DEFAULT now()
);

-- Privileges: nothing for PUBLIC; reading for the people; writing for the daemon only.
REVOKE ALL ON ALL TABLES IN SCHEMA yoban FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA yoban FROM PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA yoban
	TO yoban_operator, yoban_approver, yoban_reviewer, yoban_admin, yoban_daemon;
GRANT INSERT, UPDATE ON yoban.runbook_revisions, yoban.runs, yoban.jobs, yoban.heartbeats
	TO yoban_daemon;
GRANT INSERT ON yoban.output_chunks, yoban.run_transitions, yoban.audit TO yoban_daemon;
GRANT UPDATE (handled_at, handled_by, ok, result) ON yoban.requests TO yoban_daemon;
GRANT DELETE ON yoban.heartbeats TO yoban_daemon;
-- The definer functions write requests and audit and look runs up, nothing more.
GRANT SELECT ON yoban.runs, yoban.runbook_revisions TO yoban_definer;
GRANT INSERT ON yoban.requests, yoban.audit TO yoban_definer;
GRANT SELECT (id) ON yoban.requests TO yoban_definer; -- for INSERT ... RETURNING id
