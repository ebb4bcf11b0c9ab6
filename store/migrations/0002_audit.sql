-- 0002: the audit log (package audit; docs/audit.md).
--
-- Portable SQL as in 0001. Hashes are lower-case hex; an entry is its
-- canonical JSON encoding, the exact bytes its Merkle leaf hashes. Rows are
-- only ever inserted, except the single tree-state row, which is replaced in
-- the transaction of each append.

-- One row per entry; seq is the leaf index, from 0 without gaps. The columns
-- after leaf_hash repeat fields of the entry for queries; verification
-- checks that they agree with it.
CREATE TABLE audit_entries (
    seq       BIGINT NOT NULL PRIMARY KEY CHECK (seq >= 0),
    entry     TEXT   NOT NULL,
    leaf_hash TEXT   NOT NULL,
    logged_at BIGINT NOT NULL,
    actor     TEXT   NOT NULL,
    action    TEXT   NOT NULL,
    dataset   TEXT   NOT NULL,
    decision  TEXT   NOT NULL CHECK (decision IN ('allow', 'deny'))
);

CREATE INDEX audit_entries_logged_at ON audit_entries (logged_at, seq);
CREATE INDEX audit_entries_actor ON audit_entries (actor, seq);
CREATE INDEX audit_entries_action ON audit_entries (action, seq);
CREATE INDEX audit_entries_dataset ON audit_entries (dataset, seq);
CREATE INDEX audit_entries_decision ON audit_entries (decision, seq);

-- The HMAC-SM3 tokens of the personal identifiers an entry concerns.
CREATE TABLE audit_tokens (
    token TEXT   NOT NULL,
    seq   BIGINT NOT NULL REFERENCES audit_entries (seq),
    PRIMARY KEY (token, seq)
);

-- Stored Merkle node hashes above the leaves (levels 4, 8, 12, …); the leaf
-- hashes are audit_entries.leaf_hash.
CREATE TABLE audit_nodes (
    level BIGINT NOT NULL CHECK (level > 0),
    idx   BIGINT NOT NULL CHECK (idx >= 0),
    hash  TEXT   NOT NULL,
    PRIMARY KEY (level, idx)
);

-- The tree state (merkle.Tree.MarshalBinary, hex): exactly one row, id 1.
CREATE TABLE audit_tree (
    id    BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    size  BIGINT NOT NULL CHECK (size >= 0),
    state TEXT   NOT NULL
);

-- Signed checkpoints, one per tree size, kept for ever.
CREATE TABLE audit_checkpoints (
    size      BIGINT NOT NULL PRIMARY KEY CHECK (size >= 0),
    note      TEXT   NOT NULL,
    signed_at BIGINT NOT NULL
);
