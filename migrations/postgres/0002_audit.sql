-- The access log. Append-only: the triggers refuse UPDATE, DELETE and TRUNCATE; in production
-- the broker's role also lacks those grants (deploy/postgres-setup.sql).
-- Hashes are hex; see src/audit.rs for the canonical encoding they cover.

CREATE TABLE audit_events (
    seq               BIGINT PRIMARY KEY,
    time              TEXT NOT NULL,
    action            TEXT NOT NULL,
    outcome           TEXT NOT NULL,
    reason            TEXT,
    user_id           TEXT,
    role              TEXT,
    org_id            TEXT,
    on_behalf_of      TEXT,
    purpose           TEXT,
    case_id           TEXT,
    client_pseudonym  TEXT,
    fields            TEXT NOT NULL,
    categories        TEXT NOT NULL,
    recipients        TEXT NOT NULL,
    consent_id        TEXT,
    policy_rule       TEXT,
    request_id        TEXT,
    source            TEXT,
    user_agent        TEXT,
    leaf_hash         TEXT NOT NULL,
    chain_hash        TEXT NOT NULL
);
CREATE INDEX audit_events_by_case ON audit_events(case_id);
CREATE INDEX audit_events_by_client ON audit_events(client_pseudonym);
CREATE INDEX audit_events_by_org ON audit_events(org_id, time);

CREATE TABLE audit_head (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    seq         BIGINT NOT NULL,
    chain_hash  TEXT NOT NULL,
    time        TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, chain_hash, time) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', '');

CREATE TABLE audit_checkpoints (
    size        BIGINT NOT NULL,
    root_hash   TEXT NOT NULL,
    time        BIGINT NOT NULL,
    note        TEXT NOT NULL,
    PRIMARY KEY (size, time)
);

CREATE FUNCTION sluis_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION sluis_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION sluis_append_only();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION sluis_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION sluis_append_only();

ALTER TABLE cases ADD COLUMN client_pseudonym TEXT;
