-- 0004: leads and the outbox they are forwarded from (docs/leads.md).
--
-- Portable SQL as in 0001. A lead is written once: its ID is the SM3 of its
-- model, version and evidence, so a rerun of a model finds it stored. Each
-- new lead writes an outbox row in the same transaction; the forwarder
-- publishes outbox rows and marks them sent.

CREATE TABLE leads (
    id            TEXT   NOT NULL PRIMARY KEY,
    model         TEXT   NOT NULL,
    model_version BIGINT NOT NULL CHECK (model_version >= 1),
    subject       TEXT   NOT NULL,
    title_zh      TEXT   NOT NULL,
    title_en      TEXT   NOT NULL,
    priority      BIGINT NOT NULL,
    document      TEXT   NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE INDEX leads_model ON leads (model, created_at);
CREATE INDEX leads_subject ON leads (subject);

-- One row per message to publish. seq is assigned by the application in
-- the writing transaction (the store has one writer), from 1, rising.
CREATE TABLE outbox (
    seq        BIGINT NOT NULL PRIMARY KEY CHECK (seq >= 1),
    topic      TEXT   NOT NULL,
    msg_key    TEXT   NOT NULL,
    msg_value  TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at    BIGINT NOT NULL,
    attempts   BIGINT NOT NULL CHECK (attempts >= 0),
    last_error TEXT   NOT NULL
);

CREATE INDEX outbox_unsent ON outbox (sent_at, seq);
