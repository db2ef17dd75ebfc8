-- 013_evidence_chain: the tamper-evident evidence chain (issue 12, section 1; docs/evidence.md).
--
-- Every evidence-bearing record enters one append-only chain, yoban.evidence_chain, in the same
-- transaction as the change it records, through row triggers on its table. An entry names the
-- record (source = its table, record_id = its key as text), what happened to it (action), its run
-- (run_id, NULL when it has none), and holds the record's payload: its evidence columns as jsonb,
-- times in UTC. The entry's hash is the formula of scheduler/report/chain.h, computed here in SQL
-- (yoban_chain_hash) and recomputed independently by `yoban verify` in C:
--   hash = sha256(prev_hash || int8send(seq) || lp(at) || lp(actor) || lp(source)
--                 || lp(record_id) || lp(action) || lp(run_id or '') || payload_sha256)
--   lp(t) = int4send(octet_length(convert_to(t, 'UTF8'))) || convert_to(t, 'UTF8')
--   at = to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
--   payload_sha256 = sha256(convert_to(payload::text, 'UTF8')), prev_hash of seq 1 = 32 zero bytes.
--
-- One writer at a time: yoban_chain_append takes a transaction-scoped advisory lock on a fixed key
-- before it reads the head, so two transactions can never both append seq N+1 (the chain cannot
-- fork) and a rolled-back transaction takes its entries with it (no gap). The lock is held until
-- the writing transaction ends: evidence writes are serialized, which is the price of one chain.
--
-- What is chained, and the payload of each source (yoban_evidence_payload is the one definition,
-- used by the triggers when they append and by `yoban verify` when it compares the current row):
--   requests           every row (action request), and its handling (handled) or any change;
--                      all columns: id kind args requested_by created_at handled_at handled_by
--                      ok result.                                   run_id: args.run when given
--   runs               the creation (create) and a change of these columns (update): id runbook
--                      revision_id trigger mode scheduled_for requested_by request_id rerun_of
--                      rerun_from_step params created_at. Left out: state, reason, started_at,
--                      ended_at (every state change is a run_transitions row, chained) and nonce
--                      (an ingredient of runner job ids, not evidence).
--   run_transitions    every row (insert): id run_id from_state to_state reason at by_user.
--   jobs               when the job ends (end: ended_at set, or inserted ended) and any later
--                      change of these columns (update): id run_id step step_index host attempt
--                      runner_job_id spec_sha256 state exit_status exit_signal error created_at
--                      started_at ended_at user_cpu_us sys_cpu_us max_rss_kb stdout_bytes
--                      stderr_bytes stdout_sha256 stderr_sha256 dropped_bytes evidence
--                      released_at released_by release_comment. Left out: holds_slot (a
--                      scheduling flag; its release is released_at/released_by).
--                      The output itself is not chained (output_chunks): the job's end carries
--                      stdout_sha256/stderr_sha256, and verify hashes the stored chunks.
--   artifacts          every row (insert), record_id JOB_ID/NAME: job_id name media_type bytes
--                      rows sha256 stored_at, where sha256 is computed from content (so a
--                      changed content changes the payload).               run_id: the job's
--   sql_results        every row (insert), record_id JOB_ID: job_id outcome txid patch_rows
--                      expect_rows settled message recorded_at.           run_id: the job's
--   approval_requests  the request (request), each state change (its new state) and any other
--                      change (update), record_id RUN_ID: all columns.
--   approvals, revision_approvals, gate_decisions, backup_evidence, effort_entries, audit
--                      every row (insert): all columns.
--   incidents          open (insert), then notified, escalated, ack, resolve (the column that
--                      became set), other changes update: all columns.
--   notifications      when delivered or failed (the state) and any later change: id event_id
--                      channel channel_index fallover_of hops state attempts created_at
--                      delivered_at last_error. Left out: next_attempt_at (a retry timer).
--                      run_id: the event's
--   notify_attempts    when the attempt ended (end) and any later change: all columns.
--                      run_id: the event's
-- Not chained: output_chunks (see jobs), heartbeats, leader_spans, runbook_revisions,
-- runbook_gates, notify_events (the notifications carry event_id), procedure_digests, rehearsals,
-- revision_notify, contract, site.
--
-- Payloads list their columns (never to_jsonb(row)): a column added by a later migration does not
-- change the payload of rows chained before it, so old entries still verify.
--
-- Append-only: nobody holds UPDATE, DELETE or TRUNCATE on the two tables below, and triggers
-- refuse them anyway. All of Yoban's append-only and chain triggers are ENABLE ALWAYS, so
-- session_replication_role = replica does not skip them; only a superuser's ALTER TABLE ...
-- DISABLE TRIGGER does, and that is what `yoban verify` and signed checkpoints are for.

CREATE TABLE yoban.evidence_chain (
	seq bigint PRIMARY KEY CHECK (seq >= 1),
	at timestamptz NOT NULL,
	actor text NOT NULL,
	source text NOT NULL,
	record_id text NOT NULL,
	action text NOT NULL,
	run_id bigint,
	payload jsonb NOT NULL,
	payload_sha256 bytea NOT NULL CHECK (octet_length(payload_sha256) = 32),
	prev_hash bytea NOT NULL CHECK (octet_length(prev_hash) = 32),
	hash bytea NOT NULL CHECK (octet_length(hash) = 32)
);
CREATE INDEX evidence_chain_record ON yoban.evidence_chain (source, record_id, seq);
CREATE INDEX evidence_chain_run ON yoban.evidence_chain (run_id, seq) WHERE run_id IS NOT NULL;

-- Signed chain heads (`yoban checkpoint`): the signature is checked by `yoban verify
-- --checkpoint`, the database only makes sure the head it names is the chain's.
CREATE TABLE yoban.checkpoints (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	seq bigint NOT NULL CHECK (seq >= 1),
	hash bytea NOT NULL CHECK (octet_length(hash) = 32),
	signed_at timestamptz NOT NULL,
	public_key text NOT NULL CHECK (public_key ~ '^[0-9a-f]{64}$'),
	signature text NOT NULL CHECK (signature ~ '^[0-9a-f]{128}$'),
	recorded_by text NOT NULL DEFAULT session_user,
	recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX checkpoints_seq ON yoban.checkpoints (seq);

-- ---- the hash and the payload --------------------------------------------------------------

-- The entry hash of chain.h, byte for byte.
CREATE FUNCTION yoban.yoban_chain_hash(prev_hash bytea, seq bigint, at text, actor text,
	source text, record_id text, action text, run_id text, payload_sha256 bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
	SELECT pg_catalog.sha256(prev_hash || pg_catalog.int8send(seq)
		|| pg_catalog.int4send(pg_catalog.octet_length(pg_catalog.convert_to(at, 'UTF8')))
		|| pg_catalog.convert_to(at, 'UTF8')
		|| pg_catalog.int4send(pg_catalog.octet_length(pg_catalog.convert_to(actor, 'UTF8')))
		|| pg_catalog.convert_to(actor, 'UTF8')
		|| pg_catalog.int4send(pg_catalog.octet_length(pg_catalog.convert_to(source, 'UTF8')))
		|| pg_catalog.convert_to(source, 'UTF8')
		|| pg_catalog.int4send(pg_catalog.octet_length(pg_catalog.convert_to(record_id, 'UTF8')))
		|| pg_catalog.convert_to(record_id, 'UTF8')
		|| pg_catalog.int4send(pg_catalog.octet_length(pg_catalog.convert_to(action, 'UTF8')))
		|| pg_catalog.convert_to(action, 'UTF8')
		|| pg_catalog.int4send(pg_catalog.octet_length(pg_catalog.convert_to(run_id, 'UTF8')))
		|| pg_catalog.convert_to(run_id, 'UTF8')
		|| payload_sha256)
$$;

-- The payload of one record as it is now, and the run it belongs to; both NULL when the record
-- does not exist. TimeZone and IntervalStyle are fixed so the same row always gives the same text.
CREATE FUNCTION yoban.yoban_evidence_payload(source text, record_id text,
	OUT run_id bigint, OUT payload jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' SET IntervalStyle = 'postgres' AS $$
DECLARE
	k bigint;
	nm text;
BEGIN
	IF source = 'artifacts' THEN
		k := pg_catalog.split_part(record_id, '/', 1)::bigint;
		nm := pg_catalog.substr(record_id, pg_catalog.strpos(record_id, '/') + 1);
	ELSIF record_id ~ '^[0-9]{1,18}$' THEN
		k := record_id::bigint;
	ELSE
		RETURN;
	END IF;
	CASE source
	WHEN 'requests' THEN
		SELECT CASE WHEN t.args->>'run' ~ '^[0-9]{1,18}$' THEN (t.args->>'run')::bigint END,
			pg_catalog.jsonb_build_object('id', t.id, 'kind', t.kind, 'args', t.args,
				'requested_by', t.requested_by, 'created_at', t.created_at,
				'handled_at', t.handled_at, 'handled_by', t.handled_by, 'ok', t.ok,
				'result', t.result)
		INTO run_id, payload FROM yoban.requests t WHERE t.id = k;
	WHEN 'runs' THEN
		SELECT t.id, pg_catalog.jsonb_build_object('id', t.id, 'runbook', t.runbook,
				'revision_id', t.revision_id, 'trigger', t.trigger, 'mode', t.mode,
				'scheduled_for', t.scheduled_for, 'requested_by', t.requested_by,
				'request_id', t.request_id, 'rerun_of', t.rerun_of,
				'rerun_from_step', t.rerun_from_step, 'params', t.params,
				'created_at', t.created_at)
		INTO run_id, payload FROM yoban.runs t WHERE t.id = k;
	WHEN 'run_transitions' THEN
		SELECT t.run_id, pg_catalog.jsonb_build_object('id', t.id, 'run_id', t.run_id,
				'from_state', t.from_state, 'to_state', t.to_state, 'reason', t.reason,
				'at', t.at, 'by_user', t.by_user)
		INTO run_id, payload FROM yoban.run_transitions t WHERE t.id = k;
	WHEN 'jobs' THEN
		SELECT t.run_id, pg_catalog.jsonb_build_object('id', t.id, 'run_id', t.run_id,
				'step', t.step, 'step_index', t.step_index, 'host', t.host,
				'attempt', t.attempt, 'runner_job_id', t.runner_job_id,
				'spec_sha256', t.spec_sha256, 'state', t.state,
				'exit_status', t.exit_status, 'exit_signal', t.exit_signal,
				'error', t.error, 'created_at', t.created_at,
				'started_at', t.started_at, 'ended_at', t.ended_at,
				'user_cpu_us', t.user_cpu_us, 'sys_cpu_us', t.sys_cpu_us,
				'max_rss_kb', t.max_rss_kb, 'stdout_bytes', t.stdout_bytes,
				'stderr_bytes', t.stderr_bytes, 'stdout_sha256', t.stdout_sha256,
				'stderr_sha256', t.stderr_sha256, 'dropped_bytes', t.dropped_bytes)
			|| pg_catalog.jsonb_build_object('evidence', t.evidence,
				'released_at', t.released_at, 'released_by', t.released_by,
				'release_comment', t.release_comment)
		INTO run_id, payload FROM yoban.jobs t WHERE t.id = k;
	WHEN 'artifacts' THEN
		SELECT j.run_id, pg_catalog.jsonb_build_object('job_id', t.job_id, 'name', t.name,
				'media_type', t.media_type, 'bytes', t.bytes, 'rows', t.rows,
				'sha256', pg_catalog.encode(pg_catalog.sha256(t.content), 'hex'),
				'stored_at', t.stored_at)
		INTO run_id, payload
		FROM yoban.artifacts t LEFT JOIN yoban.jobs j ON j.id = t.job_id
		WHERE t.job_id = k AND t.name = nm;
	WHEN 'sql_results' THEN
		SELECT j.run_id, pg_catalog.jsonb_build_object('job_id', t.job_id,
				'outcome', t.outcome, 'txid', t.txid, 'patch_rows', t.patch_rows,
				'expect_rows', t.expect_rows, 'settled', t.settled,
				'message', t.message, 'recorded_at', t.recorded_at)
		INTO run_id, payload
		FROM yoban.sql_results t LEFT JOIN yoban.jobs j ON j.id = t.job_id WHERE t.job_id = k;
	WHEN 'approval_requests' THEN
		SELECT t.run_id, pg_catalog.jsonb_build_object('run_id', t.run_id,
				'runbook', t.runbook, 'revision_id', t.revision_id,
				'revision_sha256', t.revision_sha256, 'procedure', t.procedure,
				'procedure_sha256', t.procedure_sha256, 'approvers', t.approvers,
				'lead_time', t.lead_time, 'emergency', t.emergency,
				'not_before', t.not_before, 'reason', t.reason,
				'requested_by', t.requested_by, 'requested_at', t.requested_at,
				'state', t.state, 'approved_at', t.approved_at,
				'start_after', t.start_after, 'decided_at', t.decided_at,
				'decision', t.decision)
		INTO run_id, payload FROM yoban.approval_requests t WHERE t.run_id = k;
	WHEN 'approvals' THEN
		SELECT t.run_id, pg_catalog.jsonb_build_object('id', t.id, 'run_id', t.run_id,
				'approver', t.approver, 'comment', t.comment,
				'revision_id', t.revision_id, 'procedure_sha256', t.procedure_sha256,
				'at', t.at)
		INTO run_id, payload FROM yoban.approvals t WHERE t.id = k;
	WHEN 'revision_approvals' THEN
		SELECT NULL::bigint, pg_catalog.jsonb_build_object('id', t.id, 'runbook', t.runbook,
				'revision_id', t.revision_id, 'procedure_sha256', t.procedure_sha256,
				'approver', t.approver, 'comment', t.comment, 'at', t.at)
		INTO run_id, payload FROM yoban.revision_approvals t WHERE t.id = k;
	WHEN 'gate_decisions' THEN
		SELECT t.run_id, pg_catalog.jsonb_build_object('id', t.id, 'at', t.at,
				'decided_by', t.decided_by, 'run_id', t.run_id, 'runbook', t.runbook,
				'revision_id', t.revision_id, 'mode', t.mode, 'gate', t.gate,
				'passed', t.passed, 'reason', t.reason)
		INTO run_id, payload FROM yoban.gate_decisions t WHERE t.id = k;
	WHEN 'backup_evidence' THEN
		SELECT t.run_id, pg_catalog.jsonb_build_object('id', t.id,
				'recorded_at', t.recorded_at, 'event', t.event, 'run_id', t.run_id,
				'job_id', t.job_id, 'runbook', t.runbook, 'step', t.step,
				'host', t.host, 'repository', t.repository,
				'generation', t.generation, 'ok', t.ok, 'error', t.error,
				'manifest_sha256', t.manifest_sha256, 'data_bytes', t.data_bytes,
				'data_sha256', t.data_sha256, 'content_bytes', t.content_bytes,
				'files', t.files, 'verified_at', t.verified_at,
				'destination', t.destination, 'remote_sha256', t.remote_sha256,
				'requested_by', t.requested_by, 'detail', t.detail)
		INTO run_id, payload FROM yoban.backup_evidence t WHERE t.id = k;
	WHEN 'incidents' THEN
		SELECT t.run_id, pg_catalog.jsonb_build_object('id', t.id, 'run_id', t.run_id,
				'runbook', t.runbook, 'event', t.event, 'summary', t.summary,
				'detected_at', t.detected_at, 'notified_at', t.notified_at,
				'escalated_at', t.escalated_at, 'acknowledged_at', t.acknowledged_at,
				'acknowledged_by', t.acknowledged_by, 'ack_comment', t.ack_comment,
				'recovered_at', t.recovered_at, 'resolved_at', t.resolved_at,
				'resolved_by', t.resolved_by, 'cause', t.cause,
				'temporary_fix', t.temporary_fix, 'permanent_fix', t.permanent_fix)
		INTO run_id, payload FROM yoban.incidents t WHERE t.id = k;
	WHEN 'effort_entries' THEN
		SELECT t.run_id, pg_catalog.jsonb_build_object('id', t.id, 'person', t.person,
				'work_date', t.work_date, 'hours', t.hours, 'category', t.category,
				'run_id', t.run_id, 'incident_id', t.incident_id, 'ticket', t.ticket,
				'note', t.note, 'corrects', t.corrects, 'source', t.source,
				'created_at', t.created_at, 'created_by', t.created_by)
		INTO run_id, payload FROM yoban.effort_entries t WHERE t.id = k;
	WHEN 'notifications' THEN
		SELECT e.run_id, pg_catalog.jsonb_build_object('id', t.id, 'event_id', t.event_id,
				'channel', t.channel, 'channel_index', t.channel_index,
				'fallover_of', t.fallover_of, 'hops', t.hops, 'state', t.state,
				'attempts', t.attempts, 'created_at', t.created_at,
				'delivered_at', t.delivered_at, 'last_error', t.last_error)
		INTO run_id, payload
		FROM yoban.notifications t LEFT JOIN yoban.notify_events e ON e.id = t.event_id
		WHERE t.id = k;
	WHEN 'notify_attempts' THEN
		SELECT e.run_id, pg_catalog.jsonb_build_object('id', t.id,
				'notification_id', t.notification_id, 'attempt', t.attempt,
				'channel', t.channel, 'started_at', t.started_at,
				'ended_at', t.ended_at, 'ok', t.ok, 'answer', t.answer,
				'worker', t.worker)
		INTO run_id, payload
		FROM yoban.notify_attempts t LEFT JOIN yoban.notifications n ON n.id = t.notification_id
			LEFT JOIN yoban.notify_events e ON e.id = n.event_id
		WHERE t.id = k;
	WHEN 'audit' THEN
		SELECT t.run_id, pg_catalog.jsonb_build_object('id', t.id, 'at', t.at,
				'actor', t.actor, 'action', t.action, 'run_id', t.run_id,
				'request_id', t.request_id, 'detail', t.detail)
		INTO run_id, payload FROM yoban.audit t WHERE t.id = k;
	ELSE
		RAISE EXCEPTION 'no evidence source "%"', source USING ERRCODE = 'invalid_parameter_value';
	END CASE;
END
$$;

-- ---- appending ---------------------------------------------------------------------------------

-- Appends one entry for a record as it is now; returns its seq (NULL when the record is gone).
-- The advisory lock (held to the end of the transaction) makes reading the head and inserting
-- seq = head + 1 one step for all writers.
CREATE FUNCTION yoban.yoban_chain_append(source text, record_id text, action text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	rec record;
	head_seq bigint;
	head_hash bytea;
	at timestamptz;
	at_text text;
	psha bytea;
	h bytea;
BEGIN
	PERFORM pg_catalog.pg_advisory_xact_lock(7955187001); -- 'yob' + 013 + 001: the chain's key
	SELECT p.run_id, p.payload INTO rec FROM yoban.yoban_evidence_payload(source, record_id) p;
	IF rec.payload IS NULL THEN
		RETURN NULL; -- gone before the commit (removed in the same transaction): nothing to chain
	END IF;
	SELECT c.seq, c.hash INTO head_seq, head_hash FROM yoban.evidence_chain c
		ORDER BY c.seq DESC LIMIT 1;
	head_seq := coalesce(head_seq, 0) + 1;
	head_hash := coalesce(head_hash, pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex'));
	at := pg_catalog.clock_timestamp();
	at_text := pg_catalog.to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
	psha := pg_catalog.sha256(pg_catalog.convert_to(rec.payload::text, 'UTF8'));
	-- computed apart from the INSERT: inside its VALUES the call costs four times as much
	h := yoban.yoban_chain_hash(head_hash, head_seq, at_text, session_user, source, record_id,
		action, coalesce(rec.run_id::text, ''), psha);
	INSERT INTO yoban.evidence_chain (seq, at, actor, source, record_id, action, run_id, payload,
		payload_sha256, prev_hash, hash)
	VALUES (head_seq, at, session_user, source, record_id, action, rec.run_id, rec.payload, psha,
		head_hash, h);
	RETURN head_seq;
END
$$;

-- The row trigger of every chained table: the record's key and what happened, then one append.
-- The triggers are constraint triggers, DEFERRABLE INITIALLY DEFERRED: they run when the writing
-- transaction commits, in the order of its changes, and read each record as it is committed.
-- So the chain's lock is taken last, after every row lock the transaction needs, and held only
-- through the commit: a transaction never waits for a row while holding it (no deadlock between
-- e.g. a notice worker that ends an attempt and then marks the incident notified, and an
-- acknowledgement that locked the incident first), and seq follows commit order.
-- SECURITY DEFINER so that whoever writes the record (yoband, a definer function) needs no right
-- on the chain itself, and nobody can append an entry of their choosing.
CREATE FUNCTION yoban.yoban_chain_record() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	k text;
	act text := CASE TG_OP WHEN 'INSERT' THEN 'insert' ELSE 'update' END;
BEGIN
	IF TG_TABLE_NAME = 'artifacts' THEN
		k := NEW.job_id::text || '/' || NEW.name;
	ELSIF TG_TABLE_NAME = 'sql_results' THEN
		k := NEW.job_id::text;
	ELSIF TG_TABLE_NAME = 'approval_requests' THEN
		k := NEW.run_id::text;
		IF TG_OP = 'INSERT' THEN
			act := 'request';
		ELSIF OLD.state IS DISTINCT FROM NEW.state THEN
			act := NEW.state::text;
		END IF;
	ELSE
		k := NEW.id::text;
		IF TG_TABLE_NAME = 'jobs' THEN
			IF TG_OP = 'INSERT' OR OLD.ended_at IS NULL THEN
				act := 'end';
			END IF;
		ELSIF TG_TABLE_NAME = 'runs' THEN
			IF TG_OP = 'INSERT' THEN
				act := 'create';
			END IF;
		ELSIF TG_TABLE_NAME = 'requests' THEN
			IF TG_OP = 'INSERT' THEN
				act := 'request';
			ELSIF OLD.handled_at IS NULL AND NEW.handled_at IS NOT NULL THEN
				act := 'handled';
			END IF;
		ELSIF TG_TABLE_NAME = 'incidents' THEN
			IF TG_OP = 'INSERT' THEN
				act := 'open';
			ELSIF OLD.resolved_at IS NULL AND NEW.resolved_at IS NOT NULL THEN
				act := 'resolve';
			ELSIF OLD.acknowledged_at IS NULL AND NEW.acknowledged_at IS NOT NULL THEN
				act := 'ack';
			ELSIF OLD.escalated_at IS NULL AND NEW.escalated_at IS NOT NULL THEN
				act := 'escalated';
			ELSIF OLD.notified_at IS NULL AND NEW.notified_at IS NOT NULL THEN
				act := 'notified';
			END IF;
		ELSIF TG_TABLE_NAME = 'notifications' THEN
			IF TG_OP = 'INSERT' OR OLD.state IS DISTINCT FROM NEW.state THEN
				act := NEW.state::text;
			END IF;
		ELSIF TG_TABLE_NAME = 'notify_attempts' THEN
			IF TG_OP = 'INSERT' OR OLD.ended_at IS NULL THEN
				act := 'end';
			END IF;
		END IF;
	END IF;
	PERFORM yoban.yoban_chain_append(TG_TABLE_NAME::text, k, act);
	RETURN NULL;
END
$$;

-- The triggers. Tables chained on every insert and every change of the row:
DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['requests', 'run_transitions', 'artifacts', 'sql_results',
			'approval_requests', 'approvals', 'revision_approvals', 'gate_decisions',
			'backup_evidence', 'incidents', 'effort_entries', 'audit'] LOOP
		EXECUTE pg_catalog.format('CREATE CONSTRAINT TRIGGER %I AFTER INSERT ON yoban.%I '
			'DEFERRABLE INITIALLY DEFERRED FOR EACH ROW '
			'EXECUTE FUNCTION yoban.yoban_chain_record()', t || '_chain_insert', t);
		EXECUTE pg_catalog.format('CREATE CONSTRAINT TRIGGER %I AFTER UPDATE ON yoban.%I '
			'DEFERRABLE INITIALLY DEFERRED FOR EACH ROW '
			'WHEN (OLD IS DISTINCT FROM NEW) EXECUTE FUNCTION yoban.yoban_chain_record()',
			t || '_chain_update', t);
	END LOOP;
END
$$;
-- runs: the creation, and a change of a payload column (not of the state: transitions carry it).
CREATE CONSTRAINT TRIGGER runs_chain_insert AFTER INSERT ON yoban.runs
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
	EXECUTE FUNCTION yoban.yoban_chain_record();
CREATE CONSTRAINT TRIGGER runs_chain_update AFTER UPDATE ON yoban.runs
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
	WHEN ((OLD.id, OLD.runbook, OLD.revision_id, OLD.trigger, OLD.mode, OLD.scheduled_for,
	       OLD.requested_by, OLD.request_id, OLD.rerun_of, OLD.rerun_from_step, OLD.params,
	       OLD.created_at) IS DISTINCT FROM
	      (NEW.id, NEW.runbook, NEW.revision_id, NEW.trigger, NEW.mode, NEW.scheduled_for,
	       NEW.requested_by, NEW.request_id, NEW.rerun_of, NEW.rerun_from_step, NEW.params,
	       NEW.created_at))
	EXECUTE FUNCTION yoban.yoban_chain_record();
-- jobs: the end, and any later change of a payload column (holds_slot alone is not one).
CREATE CONSTRAINT TRIGGER jobs_chain_insert AFTER INSERT ON yoban.jobs
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
	WHEN (NEW.ended_at IS NOT NULL) EXECUTE FUNCTION yoban.yoban_chain_record();
CREATE CONSTRAINT TRIGGER jobs_chain_update AFTER UPDATE ON yoban.jobs
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
	WHEN (NEW.ended_at IS NOT NULL AND (OLD.ended_at IS NULL OR
	      (OLD.id, OLD.run_id, OLD.step, OLD.step_index, OLD.host, OLD.attempt,
	       OLD.runner_job_id, OLD.spec_sha256, OLD.state, OLD.exit_status, OLD.exit_signal,
	       OLD.error, OLD.created_at, OLD.started_at, OLD.ended_at, OLD.user_cpu_us,
	       OLD.sys_cpu_us, OLD.max_rss_kb, OLD.stdout_bytes, OLD.stderr_bytes,
	       OLD.stdout_sha256, OLD.stderr_sha256, OLD.dropped_bytes, OLD.evidence,
	       OLD.released_at, OLD.released_by, OLD.release_comment) IS DISTINCT FROM
	      (NEW.id, NEW.run_id, NEW.step, NEW.step_index, NEW.host, NEW.attempt,
	       NEW.runner_job_id, NEW.spec_sha256, NEW.state, NEW.exit_status, NEW.exit_signal,
	       NEW.error, NEW.created_at, NEW.started_at, NEW.ended_at, NEW.user_cpu_us,
	       NEW.sys_cpu_us, NEW.max_rss_kb, NEW.stdout_bytes, NEW.stderr_bytes,
	       NEW.stdout_sha256, NEW.stderr_sha256, NEW.dropped_bytes, NEW.evidence,
	       NEW.released_at, NEW.released_by, NEW.release_comment)))
	EXECUTE FUNCTION yoban.yoban_chain_record();
-- notifications: delivered or failed, and later changes (not the retry timer).
CREATE CONSTRAINT TRIGGER notifications_chain_insert AFTER INSERT ON yoban.notifications
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
	WHEN (NEW.state <> 'pending') EXECUTE FUNCTION yoban.yoban_chain_record();
CREATE CONSTRAINT TRIGGER notifications_chain_update AFTER UPDATE ON yoban.notifications
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
	WHEN (NEW.state <> 'pending' AND
	      (OLD.id, OLD.event_id, OLD.channel, OLD.channel_index, OLD.fallover_of, OLD.hops,
	       OLD.state, OLD.attempts, OLD.created_at, OLD.delivered_at, OLD.last_error)
	      IS DISTINCT FROM
	      (NEW.id, NEW.event_id, NEW.channel, NEW.channel_index, NEW.fallover_of, NEW.hops,
	       NEW.state, NEW.attempts, NEW.created_at, NEW.delivered_at, NEW.last_error))
	EXECUTE FUNCTION yoban.yoban_chain_record();
-- notify_attempts: when the attempt ended, and later changes.
CREATE CONSTRAINT TRIGGER notify_attempts_chain_insert AFTER INSERT ON yoban.notify_attempts
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
	WHEN (NEW.ended_at IS NOT NULL) EXECUTE FUNCTION yoban.yoban_chain_record();
CREATE CONSTRAINT TRIGGER notify_attempts_chain_update AFTER UPDATE ON yoban.notify_attempts
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
	WHEN (NEW.ended_at IS NOT NULL AND OLD IS DISTINCT FROM NEW)
	EXECUTE FUNCTION yoban.yoban_chain_record();

-- Records that should have an entry and have none (a row written with the triggers disabled), in
-- the order of the sources above, at most lim of them.
CREATE FUNCTION yoban.yoban_evidence_unchained(lim integer DEFAULT 1)
RETURNS TABLE (source text, record_id text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	WITH c AS (SELECT DISTINCT e.source, e.record_id FROM yoban.evidence_chain e)
	(SELECT x.s, x.k FROM (
		SELECT 1 AS o, 'requests' AS s, t.id AS i, t.id::text AS k FROM yoban.requests t
		UNION ALL SELECT 2, 'runs', t.id, t.id::text FROM yoban.runs t
		UNION ALL SELECT 3, 'run_transitions', t.id, t.id::text FROM yoban.run_transitions t
		UNION ALL SELECT 4, 'jobs', t.id, t.id::text FROM yoban.jobs t WHERE t.ended_at IS NOT NULL
		UNION ALL SELECT 5, 'artifacts', t.job_id, t.job_id::text || '/' || t.name
			FROM yoban.artifacts t
		UNION ALL SELECT 6, 'sql_results', t.job_id, t.job_id::text FROM yoban.sql_results t
		UNION ALL SELECT 7, 'approval_requests', t.run_id, t.run_id::text
			FROM yoban.approval_requests t
		UNION ALL SELECT 8, 'approvals', t.id, t.id::text FROM yoban.approvals t
		UNION ALL SELECT 9, 'revision_approvals', t.id, t.id::text FROM yoban.revision_approvals t
		UNION ALL SELECT 10, 'gate_decisions', t.id, t.id::text FROM yoban.gate_decisions t
		UNION ALL SELECT 11, 'backup_evidence', t.id, t.id::text FROM yoban.backup_evidence t
		UNION ALL SELECT 12, 'incidents', t.id, t.id::text FROM yoban.incidents t
		UNION ALL SELECT 13, 'effort_entries', t.id, t.id::text FROM yoban.effort_entries t
		UNION ALL SELECT 14, 'notifications', t.id, t.id::text FROM yoban.notifications t
			WHERE t.state <> 'pending'
		UNION ALL SELECT 15, 'notify_attempts', t.id, t.id::text FROM yoban.notify_attempts t
			WHERE t.ended_at IS NOT NULL
		UNION ALL SELECT 16, 'audit', t.id, t.id::text FROM yoban.audit t
	) x WHERE NOT EXISTS (SELECT 1 FROM c WHERE c.source = x.s AND c.record_id = x.k)
	ORDER BY x.o, x.i LIMIT lim)
$$;

-- ---- checkpoints -------------------------------------------------------------------------------

-- Records a signed head (`yoban checkpoint`); refuses one whose hash is not the chain's at seq.
CREATE FUNCTION yoban.yoban_record_checkpoint(seq bigint, hash text, signed_at timestamptz,
	public_key text, signature text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	have bytea;
	id bigint;
BEGIN
	PERFORM yoban.yoban_require_role('yoban_operator', 'yoban_reviewer', 'yoban_admin');
	IF hash IS NULL OR hash !~ '^[0-9a-f]{64}$' THEN
		RAISE EXCEPTION 'the hash must be 64 hex digits' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT c.hash INTO have FROM yoban.evidence_chain c WHERE c.seq = yoban_record_checkpoint.seq;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'the evidence chain has no entry %', seq
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF have <> pg_catalog.decode(hash, 'hex') THEN
		RAISE EXCEPTION 'entry % of the evidence chain has hash %, not %', seq,
			pg_catalog.encode(have, 'hex'), hash
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'sign the head as it is now: yoban checkpoint -o FILE --key KEYFILE';
	END IF;
	INSERT INTO yoban.checkpoints (seq, hash, signed_at, public_key, signature)
		VALUES (seq, have, signed_at, public_key, signature)
		RETURNING checkpoints.id INTO id;
	RETURN id;
END
$$;

-- ---- append-only, always ----------------------------------------------------------------------

CREATE TRIGGER evidence_chain_append_only BEFORE UPDATE OR DELETE ON yoban.evidence_chain
	FOR EACH ROW EXECUTE FUNCTION yoban.yoban_append_only();
CREATE TRIGGER evidence_chain_no_truncate BEFORE TRUNCATE ON yoban.evidence_chain
	FOR EACH STATEMENT EXECUTE FUNCTION yoban.yoban_append_only();
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON yoban.checkpoints
	FOR EACH ROW EXECUTE FUNCTION yoban.yoban_append_only();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON yoban.checkpoints
	FOR EACH STATEMENT EXECUTE FUNCTION yoban.yoban_append_only();

-- Every append-only and chain trigger of Yoban fires whatever session_replication_role says.
DO $$
DECLARE
	t record;
BEGIN
	FOR t IN SELECT g.tgrelid::regclass AS rel, g.tgname
		 FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid
		 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		 WHERE n.nspname = 'yoban' AND NOT g.tgisinternal
		   AND (g.tgname LIKE '%append_only' OR g.tgname LIKE '%_chain_%'
			OR g.tgname LIKE '%no_truncate')
	LOOP
		EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', t.rel, t.tgname);
	END LOOP;
END
$$;

-- ---- privileges --------------------------------------------------------------------------------

REVOKE ALL ON yoban.evidence_chain, yoban.checkpoints FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON yoban.evidence_chain, yoban.checkpoints
	FROM yoban_operator, yoban_approver, yoban_reviewer, yoban_admin, yoban_daemon, yoban_definer;
GRANT SELECT ON yoban.evidence_chain, yoban.checkpoints
	TO yoban_operator, yoban_approver, yoban_reviewer, yoban_admin, yoban_daemon;
-- The chain functions run as yoban_definer: they read the evidence tables and append.
GRANT SELECT, INSERT ON yoban.evidence_chain, yoban.checkpoints TO yoban_definer;
GRANT SELECT ON yoban.requests, yoban.runs, yoban.run_transitions, yoban.jobs, yoban.artifacts,
	yoban.sql_results, yoban.approval_requests, yoban.approvals, yoban.revision_approvals,
	yoban.gate_decisions, yoban.backup_evidence, yoban.incidents, yoban.effort_entries,
	yoban.notifications, yoban.notify_events, yoban.notify_attempts, yoban.audit TO yoban_definer;

ALTER FUNCTION yoban.yoban_evidence_payload(text, text) OWNER TO yoban_definer;
ALTER FUNCTION yoban.yoban_chain_append(text, text, text) OWNER TO yoban_definer;
ALTER FUNCTION yoban.yoban_chain_record() OWNER TO yoban_definer;
ALTER FUNCTION yoban.yoban_evidence_unchained(integer) OWNER TO yoban_definer;
ALTER FUNCTION yoban.yoban_record_checkpoint(bigint, text, timestamptz, text, text)
	OWNER TO yoban_definer;
REVOKE ALL ON FUNCTION yoban.yoban_chain_hash(bytea, bigint, text, text, text, text, text, text,
	bytea), yoban.yoban_evidence_payload(text, text), yoban.yoban_chain_append(text, text, text),
	yoban.yoban_chain_record(), yoban.yoban_evidence_unchained(integer),
	yoban.yoban_record_checkpoint(bigint, text, timestamptz, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION yoban.yoban_chain_hash(bytea, bigint, text, text, text, text, text,
	text, bytea), yoban.yoban_evidence_payload(text, text), yoban.yoban_evidence_unchained(integer)
	TO yoban_operator, yoban_approver, yoban_reviewer, yoban_admin, yoban_daemon, yoban_definer;
GRANT EXECUTE ON FUNCTION yoban.yoban_record_checkpoint(bigint, text, timestamptz, text, text)
	TO yoban_operator, yoban_reviewer, yoban_admin;
GRANT EXECUTE ON FUNCTION yoban.yoban_chain_record() TO yoban_daemon, yoban_definer;

-- ---- what was there before ---------------------------------------------------------------------

-- Every existing evidence record is chained once, source by source in the order above, each in
-- key order, with the action 'migrated'.
SELECT yoban.yoban_chain_append(u.source, u.record_id, 'migrated')
FROM yoban.yoban_evidence_unchained(2147483647) u;
