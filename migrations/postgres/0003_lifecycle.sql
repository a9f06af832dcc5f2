-- The case lifecycle, consent records, notifications and evaluations. All routing metadata:
-- dates, states, organisation ids, codes — no field values.

ALTER TABLE cases ADD COLUMN queue_position BIGINT;
ALTER TABLE cases ADD COLUMN referred_at TEXT;
ALTER TABLE cases ADD COLUMN matched_at TEXT;
ALTER TABLE cases ADD COLUMN matched_by TEXT;
ALTER TABLE cases ADD COLUMN home_municipality TEXT;
ALTER TABLE cases ADD COLUMN home_kind TEXT;
ALTER TABLE cases ADD COLUMN key_handover TEXT;

-- Every state a case passed, in order.
CREATE TABLE case_states (
    case_id     TEXT NOT NULL REFERENCES cases(id),
    seq         BIGINT NOT NULL,
    state       TEXT NOT NULL,
    at          TEXT NOT NULL,
    by_org      TEXT NOT NULL,
    PRIMARY KEY (case_id, seq)
);

-- Consent declarations (toestemmingsverklaringen); maps onto ISO/IEC TS 27560 and FHIR Consent.
CREATE TABLE consents (
    id                  TEXT PRIMARY KEY,
    case_id             TEXT NOT NULL REFERENCES cases(id),
    client_pseudonym    TEXT,
    signed_on           TEXT NOT NULL,
    valid_until         TEXT NOT NULL,
    purpose             TEXT NOT NULL,
    roles               TEXT NOT NULL,
    categories          TEXT NOT NULL,
    document_sha256     TEXT NOT NULL,
    status              TEXT NOT NULL,
    recorded_at         TEXT NOT NULL,
    recorded_by_user    TEXT NOT NULL,
    recorded_by_org     TEXT NOT NULL,
    withdrawn_at        TEXT,
    withdrawn_by_user   TEXT,
    withdrawn_by_org    TEXT
);
CREATE INDEX consents_by_case ON consents(case_id);

-- Per-organisation inbox: what changed for it, never what the change was.
CREATE TABLE notifications (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    case_id     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    detail      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX notifications_by_org ON notifications(org_id, created_at);

-- Half-yearly evaluations in the first year after the key handover (art. 9.10).
CREATE TABLE evaluations (
    case_id     TEXT NOT NULL REFERENCES cases(id),
    period      BIGINT NOT NULL,
    due_on      TEXT NOT NULL,
    received_at TEXT,
    PRIMARY KEY (case_id, period)
);
