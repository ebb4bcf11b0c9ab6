-- 0001: principals, their roles and certificates; batch records.
--
-- Portable SQL for SQLite and PostgreSQL: TEXT and BIGINT only; every *_at
-- column is microseconds since the Unix epoch, UTC; enumerations are CHECK
-- constraints; no AUTOINCREMENT, no STRICT, no driver-specific types.

-- A principal is anyone or anything that calls the gateway: an agency's
-- system, a person, a gateway endpoint or a supervision model.
CREATE TABLE principals (
    name         TEXT   NOT NULL PRIMARY KEY,
    kind         TEXT   NOT NULL CHECK (kind IN ('agency', 'user', 'server', 'model')),
    agency       TEXT   NOT NULL,
    status       TEXT   NOT NULL CHECK (status IN ('active', 'disabled')),
    display_name TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

-- Roles are checked by the application, not by a CHECK constraint, so that
-- a new role needs no table rebuild on SQLite.
CREATE TABLE principal_roles (
    principal TEXT NOT NULL REFERENCES principals (name),
    role      TEXT NOT NULL,
    PRIMARY KEY (principal, role)
);

-- A certificate is identified by its fingerprint: hex SM3 of its DER.
CREATE TABLE certificates (
    fingerprint TEXT   NOT NULL PRIMARY KEY,
    principal   TEXT   NOT NULL REFERENCES principals (name),
    purpose     TEXT   NOT NULL CHECK (purpose IN ('sign', 'enc')),
    key_id      TEXT   NOT NULL,
    serial      TEXT   NOT NULL,
    not_before  BIGINT NOT NULL,
    not_after   BIGINT NOT NULL,
    status      TEXT   NOT NULL CHECK (status IN ('active', 'revoked')),
    pem         TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    CHECK (not_before < not_after)
);

CREATE INDEX certificates_principal_key ON certificates (principal, key_id);

-- A batch is keyed as the envelope defines it: the sender's batch ID is
-- unique per dataset and sender. rejected_rows is a JSON array of
-- {"row", "field", "reason"} objects: field names and reasons, never values.
CREATE TABLE batches (
    dataset            TEXT   NOT NULL,
    principal          TEXT   NOT NULL REFERENCES principals (name),
    batch_id           TEXT   NOT NULL,
    state              TEXT   NOT NULL CHECK (state IN ('received', 'committed', 'rejected')),
    row_count          BIGINT NOT NULL CHECK (row_count >= 0),
    rejected_row_count BIGINT NOT NULL CHECK (rejected_row_count >= 0 AND rejected_row_count <= row_count),
    rejected_rows      TEXT   NOT NULL,
    evidence_ref       TEXT   NOT NULL,
    envelope_sm3       TEXT   NOT NULL,
    content_sm3        TEXT   NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    PRIMARY KEY (dataset, principal, batch_id)
);

CREATE INDEX batches_dataset_state ON batches (dataset, state, created_at);
