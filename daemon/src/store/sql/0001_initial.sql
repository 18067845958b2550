-- Schema version 1 of the keeperd database.
-- Conventions: unsigned 256-bit ids and 32-byte hashes are big-endian BLOBs (so byte order is numeric
-- order), addresses are 20-byte BLOBs, u64 values are INTEGERs kept in 0..=i64::MAX, times are unix
-- milliseconds. Tables are STRICT so a wrong type is an error rather than a silent conversion.

PRAGMA application_id = 1263555140; -- 0x4B505244, "KPRD": marks the file as a keeperd database

-- Last block each chain-following stream has processed, written in the same transaction as what was
-- derived from that block, so a restart resumes exactly after it.
CREATE TABLE chain_cursor (
    stream        TEXT    NOT NULL PRIMARY KEY CHECK (length(stream) > 0),
    block_number  INTEGER NOT NULL CHECK (block_number >= 0),
    block_hash    BLOB    NOT NULL CHECK (length(block_hash) = 32),
    updated_at_ms INTEGER NOT NULL
) STRICT;

-- Cache of the job manager's jobs. The spec is opaque until the contract's format settles.
CREATE TABLE jobs (
    job_id           BLOB    NOT NULL PRIMARY KEY CHECK (length(job_id) = 32),
    spec             BLOB    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('active', 'paused', 'cancelled', 'expired')),
    updated_at_block INTEGER NOT NULL CHECK (updated_at_block >= 0),
    updated_at_ms    INTEGER NOT NULL
) STRICT;
CREATE INDEX jobs_by_status ON jobs (status, job_id);

CREATE TABLE tasks (
    job_id        BLOB    NOT NULL REFERENCES jobs (job_id),
    sequence      INTEGER NOT NULL CHECK (sequence >= 0),
    state         TEXT    NOT NULL CHECK (state IN
                      ('due', 'executed', 'signed', 'proposed', 'submitted', 'performed', 'failed', 'dropped')),
    due_at_ms     INTEGER,
    due_block     INTEGER CHECK (due_block IS NULL OR due_block >= 0),
    response_hash BLOB    CHECK (response_hash IS NULL OR length(response_hash) = 32),
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (job_id, sequence),
    CHECK (due_at_ms IS NOT NULL OR due_block IS NOT NULL)
) STRICT, WITHOUT ROWID;
-- Keyset pagination by state walks this index in (job_id, sequence) order.
CREATE INDEX tasks_by_state ON tasks (state, job_id, sequence);

-- Every state change of a task, append-only (the triggers below refuse updates and deletes).
CREATE TABLE task_history (
    id         INTEGER NOT NULL PRIMARY KEY,
    job_id     BLOB    NOT NULL,
    sequence   INTEGER NOT NULL,
    from_state TEXT    CHECK (from_state IS NULL OR from_state IN
                   ('due', 'executed', 'signed', 'proposed', 'submitted', 'performed', 'failed', 'dropped')),
    to_state   TEXT    NOT NULL CHECK (to_state IN
                   ('due', 'executed', 'signed', 'proposed', 'submitted', 'performed', 'failed', 'dropped')),
    at_ms      INTEGER NOT NULL,
    detail     TEXT,
    FOREIGN KEY (job_id, sequence) REFERENCES tasks (job_id, sequence)
) STRICT;
CREATE INDEX task_history_by_task ON task_history (job_id, sequence, id);
CREATE TRIGGER task_history_no_update BEFORE UPDATE ON task_history
BEGIN SELECT RAISE(ABORT, 'task_history is append-only'); END;
CREATE TRIGGER task_history_no_delete BEFORE DELETE ON task_history
BEGIN SELECT RAISE(ABORT, 'task_history is append-only'); END;

-- Aggregator: batches it proposed, and the keepers' signatures collected over their digests.
CREATE TABLE proposals (
    digest                 BLOB    NOT NULL PRIMARY KEY CHECK (length(digest) = 32),
    chain_id               INTEGER NOT NULL CHECK (chain_id >= 0),
    task_manager           BLOB    NOT NULL CHECK (length(task_manager) = 20),
    reference_block_number INTEGER NOT NULL CHECK (reference_block_number >= 0),
    reference_block_hash   BLOB    NOT NULL CHECK (length(reference_block_hash) = 32),
    root                   BLOB    NOT NULL CHECK (length(root) = 32),
    -- leaves in batch order, 72 bytes each: job id (32) || sequence (8, big-endian) || response hash (32)
    leaves                 BLOB    NOT NULL CHECK (length(leaves) > 0 AND length(leaves) % 72 = 0),
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

-- Transactions this daemon sent, recorded before they are broadcast, so a nonce manager restarted
-- after a crash knows every nonce it used and what each transaction was for.
-- `kind` has no CHECK so that a new kind needs no table rebuild; the code parses it.
CREATE TABLE transactions (
    id              INTEGER NOT NULL PRIMARY KEY,
    chain_id        INTEGER NOT NULL CHECK (chain_id >= 0),
    sender          BLOB    NOT NULL CHECK (length(sender) = 20),
    nonce           INTEGER NOT NULL CHECK (nonce >= 0),
    tx_hash         BLOB    NOT NULL UNIQUE CHECK (length(tx_hash) = 32),
    kind            TEXT    NOT NULL,
    payload_ref     BLOB,
    raw             BLOB,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'mined', 'reverted', 'replaced', 'dropped')),
    replaced_by     BLOB    REFERENCES transactions (tx_hash),
    block_number    INTEGER CHECK (block_number IS NULL OR block_number >= 0),
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL
) STRICT;
CREATE INDEX transactions_by_sender_nonce ON transactions (chain_id, sender, nonce);
CREATE INDEX transactions_by_payload ON transactions (payload_ref) WHERE payload_ref IS NOT NULL;
CREATE INDEX transactions_pending ON transactions (chain_id, sender, nonce) WHERE status = 'pending';

-- Slashing protection (as EIP-3076 is for validators): every response this keeper ever signed for a
-- task, in the domain (chain id, task manager) where the signature is valid. The primary key makes a
-- second, different response for the same task impossible to record; rows are never changed or removed.
CREATE TABLE signed_responses (
    chain_id      INTEGER NOT NULL CHECK (chain_id >= 0),
    task_manager  BLOB    NOT NULL CHECK (length(task_manager) = 20),
    job_id        BLOB    NOT NULL CHECK (length(job_id) = 32),
    sequence      INTEGER NOT NULL CHECK (sequence >= 0),
    response_hash BLOB    NOT NULL CHECK (length(response_hash) = 32),
    -- the batch in which it was first signed; NULL when it came from an imported record
    first_digest  BLOB    CHECK (first_digest IS NULL OR length(first_digest) = 32),
    signed_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (chain_id, task_manager, job_id, sequence)
) STRICT, WITHOUT ROWID;
CREATE TRIGGER signed_responses_no_update BEFORE UPDATE ON signed_responses
BEGIN SELECT RAISE(ABORT, 'signed_responses is append-only (slashing protection)'); END;
CREATE TRIGGER signed_responses_no_delete BEFORE DELETE ON signed_responses
BEGIN SELECT RAISE(ABORT, 'signed_responses is append-only (slashing protection)'); END;

-- Every batch digest this keeper signed.
CREATE TABLE signed_batches (
    digest                 BLOB    NOT NULL PRIMARY KEY CHECK (length(digest) = 32),
    chain_id               INTEGER NOT NULL CHECK (chain_id >= 0),
    task_manager           BLOB    NOT NULL CHECK (length(task_manager) = 20),
    reference_block_number INTEGER NOT NULL CHECK (reference_block_number >= 0),
    reference_block_hash   BLOB    NOT NULL CHECK (length(reference_block_hash) = 32),
    root                   BLOB    NOT NULL CHECK (length(root) = 32),
    leaf_count             INTEGER NOT NULL CHECK (leaf_count > 0),
    signed_at_ms           INTEGER NOT NULL
) STRICT;
CREATE INDEX signed_batches_by_domain ON signed_batches (chain_id, task_manager, reference_block_number);
CREATE TRIGGER signed_batches_no_update BEFORE UPDATE ON signed_batches
BEGIN SELECT RAISE(ABORT, 'signed_batches is append-only (slashing protection)'); END;
CREATE TRIGGER signed_batches_no_delete BEFORE DELETE ON signed_batches
BEGIN SELECT RAISE(ABORT, 'signed_batches is append-only (slashing protection)'); END;
