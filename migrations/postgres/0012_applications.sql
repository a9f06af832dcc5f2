-- Applications to the municipality of the home (art. 9.7, 12) and their decisions: routing
-- metadata only (the kind, the days, the outcome code); the request and the reason are sealed.
-- Why a case ended, a code from a closed list (art. 9.11, 10).

CREATE TABLE applications (
    id           TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL REFERENCES cases(id),
    municipality TEXT NOT NULL,
    kind         TEXT NOT NULL,
    applied_at   TEXT NOT NULL,
    due_on       TEXT NOT NULL,
    outcome      TEXT,
    decided_on   TEXT,
    decided_at   TEXT
);
CREATE INDEX applications_by_case ON applications(case_id);
CREATE INDEX applications_open ON applications(due_on) WHERE decided_at IS NULL;

ALTER TABLE cases ADD COLUMN end_reason TEXT;

-- The item a sealed field belongs to when a case holds several of its kind (an application,
-- a decision on it, a signal): a slice serves the latest file of each field of each item.
ALTER TABLE sealed_fields ADD COLUMN item_id TEXT;
