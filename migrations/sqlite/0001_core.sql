-- Sluis core schema (SQLite). Field values are stored only as age ciphertext.
-- Times are RFC 3339 UTC text with milliseconds, so text order is time order.

CREATE TABLE organisations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    recipient   TEXT,
    disabled    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    org_id        TEXT NOT NULL REFERENCES organisations(id),
    role          TEXT NOT NULL,
    password_hash TEXT,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    digest      TEXT NOT NULL,
    revoked     INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL
);

CREATE TABLE cases (
    id          TEXT PRIMARY KEY,
    form        TEXT NOT NULL,
    state       TEXT NOT NULL,
    created_by  TEXT NOT NULL REFERENCES organisations(id),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE case_parties (
    case_id     TEXT NOT NULL REFERENCES cases(id),
    org_id      TEXT NOT NULL REFERENCES organisations(id),
    role        TEXT NOT NULL,
    added_at    TEXT NOT NULL,
    added_by    TEXT NOT NULL,
    PRIMARY KEY (case_id, org_id)
);
CREATE INDEX case_parties_by_org ON case_parties(org_id);

-- One row per age file: one field sealed to exactly the organisations in sealed_field_recipients.
CREATE TABLE sealed_fields (
    id              TEXT PRIMARY KEY,
    case_id         TEXT NOT NULL REFERENCES cases(id),
    field_id        TEXT NOT NULL,
    category        TEXT NOT NULL,
    ciphertext      BLOB NOT NULL,
    policy_version  TEXT NOT NULL,
    sealed_at       TEXT NOT NULL,
    sealed_by       TEXT NOT NULL,
    seq             INTEGER NOT NULL
);
CREATE INDEX sealed_fields_by_case ON sealed_fields(case_id);

CREATE TABLE sealed_field_recipients (
    sealed_field_id TEXT NOT NULL REFERENCES sealed_fields(id),
    case_id         TEXT NOT NULL,
    org_id          TEXT NOT NULL REFERENCES organisations(id),
    PRIMARY KEY (sealed_field_id, org_id)
);
CREATE INDEX sealed_field_recipients_slice ON sealed_field_recipients(case_id, org_id);
