-- A case's correspondence (art. 9, 15, 16): messages and reports, routing metadata only — who
-- wrote to whom, about which category, when, and who acknowledged a report when. The text is
-- sealed (sealed_fields with item_id = the message's id).

CREATE TABLE messages (
    id        TEXT PRIMARY KEY,
    case_id   TEXT NOT NULL REFERENCES cases(id),
    kind      TEXT NOT NULL,
    sender    TEXT NOT NULL,
    about     TEXT NOT NULL,
    sent_at   TEXT NOT NULL,
    held_on   TEXT,
    reply_to  TEXT
);
CREATE INDEX messages_by_case ON messages(case_id, sent_at);

CREATE TABLE message_recipients (
    message_id      TEXT NOT NULL REFERENCES messages(id),
    org_id          TEXT NOT NULL,
    acknowledged_at TEXT,
    PRIMARY KEY (message_id, org_id)
);

-- When the organisation marked a notification read (NULL: unread).
ALTER TABLE notifications ADD COLUMN read_at TEXT;
