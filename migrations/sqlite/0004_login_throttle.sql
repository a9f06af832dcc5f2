-- Failed logins are counted from the access log (per user and per source address) to slow and
-- refuse credential stuffing, the same on every replica.
CREATE INDEX audit_events_by_action ON audit_events(action, outcome, time);
