-- 001_roles: the group roles Yoban's privileges hang on, and the schema its objects live in.
--
-- Roles belong to the whole cluster, not to one database: another database on the same server
-- may have created them already (a staging database beside production), or may be creating them
-- at this very moment. So each role is created only when absent, and losing a race to a
-- concurrent creation (duplicate_object, unique_violation) counts as success. Every role is
-- NOLOGIN: people and the daemon log in as their own roles and are granted these.
--
-- Migrations run inside a transaction opened by `yoban db migrate`; no BEGIN/COMMIT here.
DO $$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['yoban_operator', 'yoban_approver', 'yoban_reviewer',
				 'yoban_admin', 'yoban_daemon', 'yoban_definer'] LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
			BEGIN
				EXECUTE format('CREATE ROLE %I NOLOGIN', r);
			EXCEPTION WHEN duplicate_object OR unique_violation THEN
				NULL; -- created meanwhile by a migration of another database
			END;
		END IF;
	END LOOP;
END
$$;

COMMENT ON ROLE yoban_operator IS 'yoban: triggers, cancels and reruns runbooks through the yoban_* functions';
COMMENT ON ROLE yoban_approver IS 'yoban: approves plans and data patches; reads everything';
COMMENT ON ROLE yoban_reviewer IS 'yoban: reads runs, jobs, output and audit; changes nothing';
COMMENT ON ROLE yoban_admin IS 'yoban: operator rights plus reload; reads everything';
COMMENT ON ROLE yoban_daemon IS 'yoban: the scheduler daemon (yoband) writes runs, jobs and output';
COMMENT ON ROLE yoban_definer IS 'yoban: owns the SECURITY DEFINER functions; nobody is a member';

-- The schema itself was created by `yoban db migrate` (it holds schema_migrations); here it is
-- closed to everyone and opened to Yoban's roles only.
REVOKE ALL ON SCHEMA yoban FROM PUBLIC;
GRANT USAGE ON SCHEMA yoban TO yoban_operator, yoban_approver, yoban_reviewer, yoban_admin,
	yoban_daemon, yoban_definer;
REVOKE ALL ON TABLE yoban.schema_migrations FROM PUBLIC;
GRANT SELECT ON TABLE yoban.schema_migrations TO yoban_operator, yoban_approver, yoban_reviewer,
	yoban_admin, yoban_daemon;
