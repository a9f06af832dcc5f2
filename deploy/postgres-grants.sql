-- Grants for the broker's role, after `sluis migrate` ran as sluis_owner (see
-- postgres-setup.sql). Run again after every upgrade that adds tables.
-- Variables (psql -v): broker (default sluis_broker).
\if :{?broker}
\else
\set broker sluis_broker
\endif

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"broker";
GRANT SELECT ON _sqlx_migrations TO :"broker";
GRANT SELECT, INSERT, UPDATE, DELETE
    ON organisations, users, api_keys, cases, case_parties, sealed_fields, sealed_field_recipients,
       sealed_chunks, case_states, consents, notifications, evaluations, case_monitor,
       monitor_reports, person_keys, applications, messages,
       message_recipients, lease_conditions, signals
    TO :"broker";
-- The access log: append and read only.
GRANT SELECT, INSERT ON audit_events, audit_nodes, audit_checkpoints TO :"broker";
-- Deletion receipts: kept, append only.
GRANT SELECT, INSERT ON deletion_receipts TO :"broker";
GRANT SELECT, UPDATE ON audit_head TO :"broker";
-- Expired events (their place and hashes) are read only: the owner role expires them
-- (`sluis audit expire`); the broker may not delete from the log.
GRANT SELECT ON audit_expired, audit_leaves TO :"broker";
