-- Run in every database of the tools suite right after CREATE EXTENSION:
-- what the example specs need before they can be registered.  With the
-- secret checks of issue 10, a {"secret": name} needs the secret to exist
-- with the provider's host among its hosts; before them, telemetry_set_secret
-- takes no hosts.
DO $$
DECLARE
	s record;
BEGIN
	FOR s IN SELECT * FROM (VALUES
		('checkout_webhook', '127.0.0.1'),
		('support_segment', '127.0.0.1'),
		('support_webhook', '127.0.0.1'),
		('support_hook_token', '127.0.0.1')) AS v(name, host)
	LOOP
		IF to_regprocedure('telemetry_set_secret(text,text,text[])') IS NOT NULL THEN
			EXECUTE 'SELECT telemetry_set_secret($1, $2, $3)' USING s.name, 'test-' || s.name, ARRAY[s.host];
		ELSE
			EXECUTE 'SELECT telemetry_set_secret($1, $2)' USING s.name, 'test-' || s.name;
		END IF;
	END LOOP;
END
$$;
