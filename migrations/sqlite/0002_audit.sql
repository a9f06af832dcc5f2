-- The access log. Append-only: the triggers refuse UPDATE and DELETE.
-- Hashes are hex; see src/audit.rs for the canonical encoding they cover.

CREATE TABLE audit_events (
    seq               INTEGER PRIMARY KEY,
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

-- One row: the last sequence number and chain hash. Every append updates it first, which
-- serialises appends (SQLite's write lock; PostgreSQL's row lock, also across replicas).
CREATE TABLE audit_head (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    seq         INTEGER NOT NULL,
    chain_hash  TEXT NOT NULL,
    time        TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, chain_hash, time) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', '');

CREATE TABLE audit_checkpoints (
    size        INTEGER NOT NULL,
    root_hash   TEXT NOT NULL,
    time        INTEGER NOT NULL,
    note        TEXT NOT NULL,
    PRIMARY KEY (size, time)
);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;

ALTER TABLE cases ADD COLUMN client_pseudonym TEXT;
