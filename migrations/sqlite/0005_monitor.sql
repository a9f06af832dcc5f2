-- The annual monitor (art. 17): the two coded facts a care organisation declares at submission
-- (client group and municipality of origin, from closed lists in the policy), and the counts
-- parties report per period. Routing metadata, never field values; read only in aggregates.

CREATE TABLE case_monitor (
    case_id             TEXT PRIMARY KEY REFERENCES cases(id),
    client_group        TEXT,
    origin_municipality TEXT
);

CREATE TABLE monitor_reports (
    org_id      TEXT NOT NULL REFERENCES organisations(id),
    period      TEXT NOT NULL,
    indicator   TEXT NOT NULL,
    value       INTEGER NOT NULL,
    reported_at TEXT NOT NULL,
    reported_by TEXT NOT NULL,
    PRIMARY KEY (org_id, period, indicator)
);
