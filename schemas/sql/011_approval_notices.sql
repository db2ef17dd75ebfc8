-- 011_approval_notices: the approval events of the outbox (docs/notifications.md). A request that
-- needs approval, a request fully approved and a rejection each write one yoban.notify_events row
-- in the same transaction as the change (a crash can neither lose nor invent the notice), and
-- wake yoban-notify. The worker sends them where the runbook's `notify.on` has `approval`, to its
-- channels (else the site's default). A voided request ends by the daemon's gate and is no event.

CREATE FUNCTION yoban.yoban_approval_notify() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	ev yoban.notify_event;
BEGIN
	IF TG_OP = 'INSERT' THEN
		ev := 'approval_needed';
	ELSIF NEW.state = 'approved' AND OLD.state = 'waiting' THEN
		ev := 'approved';
	ELSIF NEW.state = 'rejected' AND OLD.state <> 'rejected' THEN
		ev := 'rejected';
	ELSE
		RETURN NULL;
	END IF;
	INSERT INTO yoban.notify_events (event, run_id, runbook, revision_id, detail)
	VALUES (ev, NEW.run_id, NEW.runbook, NEW.revision_id, pg_catalog.jsonb_build_object(
		'requested_by', NEW.requested_by, 'reason', NEW.reason, 'approvers', NEW.approvers,
		'state', NEW.state::text, 'decision', NEW.decision, 'by', session_user::text));
	PERFORM pg_catalog.pg_notify('yoban_notify', 'event');
	RETURN NULL;
END
$$;
ALTER FUNCTION yoban.yoban_approval_notify() OWNER TO yoban_definer;
GRANT INSERT ON yoban.notify_events TO yoban_definer;

CREATE TRIGGER approval_requests_notify AFTER INSERT OR UPDATE OF state ON yoban.approval_requests
	FOR EACH ROW EXECUTE FUNCTION yoban.yoban_approval_notify();
REVOKE ALL ON FUNCTION yoban.yoban_approval_notify() FROM PUBLIC;
