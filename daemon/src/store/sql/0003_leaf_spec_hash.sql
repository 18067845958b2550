-- Schema version 3: a signed leaf binds the hash of the job spec it was computed under
-- (docs/protocol.md), so a stored proposal's leaves are 104 bytes each. Proposals of the 72-byte form
-- were signed for task managers without spec hashes and can never be submitted to one with them: they
-- are dropped with their signatures, and both tables are rebuilt (SQLite cannot alter a CHECK).
DROP TABLE proposal_signatures;
DROP INDEX proposals_by_reference_block;
DROP TABLE proposals;

CREATE TABLE proposals (
    digest                 BLOB    NOT NULL PRIMARY KEY CHECK (length(digest) = 32),
    chain_id               INTEGER NOT NULL CHECK (chain_id >= 0),
    task_manager           BLOB    NOT NULL CHECK (length(task_manager) = 20),
    reference_block_number INTEGER NOT NULL CHECK (reference_block_number >= 0),
    reference_block_hash   BLOB    NOT NULL CHECK (length(reference_block_hash) = 32),
    root                   BLOB    NOT NULL CHECK (length(root) = 32),
    -- leaves in batch order, 104 bytes each: job id (32) || sequence (8, big-endian) || spec hash (32)
    -- || response hash (32)
    leaves                 BLOB    NOT NULL CHECK (length(leaves) > 0 AND length(leaves) % 104 = 0),
    created_at_ms          INTEGER NOT NULL
) STRICT;
CREATE INDEX proposals_by_reference_block ON proposals (reference_block_number);

CREATE TABLE proposal_signatures (
    digest         BLOB    NOT NULL REFERENCES proposals (digest),
    operator       BLOB    NOT NULL CHECK (length(operator) = 20),
    signature      BLOB    NOT NULL CHECK (length(signature) = 96),
    received_at_ms INTEGER NOT NULL,
    PRIMARY KEY (digest, operator)
) STRICT, WITHOUT ROWID;
