-- Schema version 5: the slashing-protection record keys a signed response by task AND the spec hash its
-- leaf named. The chain proves equivocation per (task, spec) (docs/protocol.md: an equivocation's offence
-- id binds the spec hash), so a keeper may sign a new response for a task after its job's owner changed
-- the spec (the batch it signed under the old spec was skipped as SpecMismatch); keyed by task alone, the
-- record refused that for good and the task was never performed. Responses recorded before this step (or
-- imported from a record without spec hashes) get the zero hash, which means "under an unknown spec" and
-- conflicts with every spec (no keccak output is zero). The table is rebuilt (a new key) with its
-- append-only triggers.
CREATE TABLE signed_responses_v5 (
    chain_id      INTEGER NOT NULL CHECK (chain_id >= 0),
    task_manager  BLOB    NOT NULL CHECK (length(task_manager) = 20),
    job_id        BLOB    NOT NULL CHECK (length(job_id) = 32),
    sequence      INTEGER NOT NULL CHECK (sequence >= 0),
    -- the spec hash of the leaf; 32 zero bytes: unknown (conflicts with every spec)
    spec_hash     BLOB    NOT NULL CHECK (length(spec_hash) = 32),
    response_hash BLOB    NOT NULL CHECK (length(response_hash) = 32),
    -- the batch in which it was first signed; NULL when it came from an imported record
    first_digest  BLOB    CHECK (first_digest IS NULL OR length(first_digest) = 32),
    signed_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (chain_id, task_manager, job_id, sequence, spec_hash)
) STRICT, WITHOUT ROWID;
INSERT INTO signed_responses_v5
    SELECT chain_id, task_manager, job_id, sequence, zeroblob(32), response_hash, first_digest, signed_at_ms
    FROM signed_responses;
DROP TABLE signed_responses;
ALTER TABLE signed_responses_v5 RENAME TO signed_responses;
CREATE TRIGGER signed_responses_no_update BEFORE UPDATE ON signed_responses
BEGIN SELECT RAISE(ABORT, 'signed_responses is append-only (slashing protection)'); END;
CREATE TRIGGER signed_responses_no_delete BEFORE DELETE ON signed_responses
BEGIN SELECT RAISE(ABORT, 'signed_responses is append-only (slashing protection)'); END;
