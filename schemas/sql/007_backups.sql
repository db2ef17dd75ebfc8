-- 007_backups: the evidence of backups, verifications, prunes, restores and off-site copies
-- (issue 10), for the monthly report's backup section.
--
-- One row per event, written by the daemon from a backup/offsite/restore step's evidence line
-- (the job's last stdout line, "yoban-evidence {...}", see docs/backups.md); the whole line is
-- kept in detail, the figures a report needs are columns. Append-only like the audit: nobody holds
-- UPDATE or DELETE, and a trigger refuses them anyway. A prune is one row per generation removed
-- (the generation that was committed just before is in detail.committed).

CREATE TYPE yoban.backup_event AS ENUM ('backup', 'verify', 'prune', 'restore', 'offsite');

CREATE TABLE yoban.backup_evidence (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	recorded_at timestamptz NOT NULL DEFAULT now(),
	event yoban.backup_event NOT NULL,
	run_id bigint REFERENCES yoban.runs (id),
	job_id bigint REFERENCES yoban.jobs (id),
	runbook text NOT NULL CHECK (runbook ~ '^[a-z0-9][a-z0-9-]{0,127}$'),
	step text NOT NULL,
	host text NOT NULL,
	repository text NOT NULL,
	generation text CHECK (generation ~ '^gen-[0-9]{6,}-[0-9]{8}T[0-9]{6}Z$'),
	ok boolean NOT NULL,
	error text,
	manifest_sha256 text CHECK (manifest_sha256 ~ '^[0-9a-f]{64}$'),
	data_bytes bigint CHECK (data_bytes >= 0),
	data_sha256 text CHECK (data_sha256 ~ '^[0-9a-f]{64}$'),
	content_bytes bigint CHECK (content_bytes >= 0),
	files bigint CHECK (files >= 0),
	verified_at timestamptz,
	destination text,     -- restore: the folder; offsite: host:path/name
	remote_sha256 text CHECK (remote_sha256 ~ '^[0-9a-f]{64}$'), -- offsite: read back there
	requested_by text,    -- restore: who asked
	detail jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(detail) = 'object'),
	CHECK (ok OR error IS NOT NULL)
);
CREATE INDEX backup_evidence_at ON yoban.backup_evidence (recorded_at);
CREATE INDEX backup_evidence_runbook ON yoban.backup_evidence (runbook, step, recorded_at);

CREATE TRIGGER backup_evidence_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
	ON yoban.backup_evidence FOR EACH STATEMENT EXECUTE FUNCTION yoban.yoban_append_only();

REVOKE ALL ON yoban.backup_evidence FROM PUBLIC;
GRANT SELECT ON yoban.backup_evidence
	TO yoban_operator, yoban_approver, yoban_reviewer, yoban_admin, yoban_daemon;
GRANT INSERT ON yoban.backup_evidence TO yoban_daemon;

-- `yoban restore` runs a restore job through the runner itself (it must work when the scheduler
-- is down); when it can reach the database it records what was restored, where, by whom and how
-- it ended, through this function (an operator's only write path).
CREATE FUNCTION yoban.yoban_record_restore(runbook text, step text, host text, repository text,
	generation integer, destination text, job text, ok boolean, error text, detail jsonb)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	id bigint;
BEGIN
	PERFORM yoban.yoban_require_role('yoban_operator', 'yoban_admin');
	IF detail IS NULL OR pg_catalog.jsonb_typeof(detail) <> 'object' THEN
		RAISE EXCEPTION 'detail must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO yoban.backup_evidence (event, runbook, step, host, repository, ok, error,
		destination, requested_by, detail)
	VALUES ('restore', runbook, step, host, repository, ok,
		CASE WHEN ok THEN NULL ELSE coalesce(error, 'failed') END, destination, session_user,
		detail || pg_catalog.jsonb_build_object('generation', generation, 'job', job))
	RETURNING backup_evidence.id INTO id;
	INSERT INTO yoban.audit (action, detail)
	VALUES ('restore', pg_catalog.jsonb_build_object('runbook', runbook, 'step', step, 'host', host,
		'generation', generation, 'to', destination, 'job', job, 'ok', ok));
	RETURN id;
END
$$;
ALTER FUNCTION yoban.yoban_record_restore(text, text, text, text, integer, text, text, boolean,
	text, jsonb) OWNER TO yoban_definer;
REVOKE ALL ON FUNCTION yoban.yoban_record_restore(text, text, text, text, integer, text, text,
	boolean, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION yoban.yoban_record_restore(text, text, text, text, integer, text, text,
	boolean, text, jsonb) TO yoban_operator, yoban_admin;
GRANT INSERT ON yoban.backup_evidence, yoban.audit TO yoban_definer;
GRANT SELECT (id) ON yoban.backup_evidence TO yoban_definer; -- for INSERT ... RETURNING id
