-- The lease (art. 4): its kind (the triangle lease of the client, the corporation and the
-- municipality, or a regular one), the day it was converted to a regular lease, and the day
-- the corporation established each of the conversion's three conditions. Dates and codes only.
ALTER TABLE cases ADD COLUMN lease_kind TEXT;
ALTER TABLE cases ADD COLUMN lease_converted_on TEXT;

CREATE TABLE lease_conditions (
    case_id   TEXT NOT NULL REFERENCES cases(id),
    condition TEXT NOT NULL,
    met_on    TEXT NOT NULL,
    PRIMARY KEY (case_id, condition)
);

-- That a signal was given (art. 9.9, 12), by whom and when, for the monitor (art. 17); its
-- kind and text stay sealed.
CREATE TABLE signals (
    id           TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL REFERENCES cases(id),
    org_id       TEXT NOT NULL,
    signalled_at TEXT NOT NULL
);
CREATE INDEX signals_by_time ON signals(signalled_at);
