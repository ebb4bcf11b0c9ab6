-- 0003: access requests, approvers' decisions and grants (docs/access.md).
--
-- Portable SQL as in 0001. Lists (fields, reasons, masks, filters) are JSON
-- text written and read only by the application.

-- One row per access request: who asked for which dataset, for what case.
CREATE TABLE access_requests (
    id                 TEXT   NOT NULL PRIMARY KEY,
    requester          TEXT   NOT NULL REFERENCES principals (name),
    dataset            TEXT   NOT NULL,
    purpose            TEXT   NOT NULL,
    legal_basis        TEXT   NOT NULL,
    case_number        TEXT   NOT NULL,
    fields             TEXT   NOT NULL,
    row_filter         TEXT   NOT NULL,
    duration_seconds   BIGINT NOT NULL CHECK (duration_seconds >= 0),
    max_pulls          BIGINT NOT NULL CHECK (max_pulls >= 0),
    state              TEXT   NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'expired', 'withdrawn')),
    approvals_required BIGINT NOT NULL CHECK (approvals_required >= 0),
    reasons            TEXT   NOT NULL,
    policy_revision    TEXT   NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

CREATE INDEX access_requests_requester ON access_requests (requester, created_at);
CREATE INDEX access_requests_state ON access_requests (state, created_at);

-- One row per approver and request: an approval or a denial. The primary
-- key makes one person's decision count once.
CREATE TABLE access_decisions (
    request_id TEXT   NOT NULL REFERENCES access_requests (id),
    approver   TEXT   NOT NULL REFERENCES principals (name),
    approved   BIGINT NOT NULL CHECK (approved IN (0, 1)),
    reason     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (request_id, approver)
);

-- One row per grant: what an approved request allows, and how much of it
-- was used.
CREATE TABLE grants (
    id            TEXT   NOT NULL PRIMARY KEY,
    request_id    TEXT   NOT NULL UNIQUE REFERENCES access_requests (id),
    holder        TEXT   NOT NULL REFERENCES principals (name),
    dataset       TEXT   NOT NULL,
    fields        TEXT   NOT NULL,
    mask          TEXT   NOT NULL,
    row_filter    TEXT   NOT NULL,
    max_rows      BIGINT NOT NULL CHECK (max_rows >= 0),
    max_pulls     BIGINT NOT NULL CHECK (max_pulls >= 0),
    pulls         BIGINT NOT NULL CHECK (pulls >= 0 AND pulls <= max_pulls),
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT NOT NULL,
    revoke_reason TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE INDEX grants_holder ON grants (holder, created_at);
