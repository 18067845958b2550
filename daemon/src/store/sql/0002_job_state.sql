-- Schema version 2: the job cache keeps what the scheduler needs to decide a task is worth proposing
-- without a call to the chain: the owner, the forwarder, the escrow balance and the exactly-once
-- watermark, all as of `updated_at_block`. The spec column now holds the ABI encoding of the job's
-- `JobSpec` (as in the `JobCreated` / `JobUpdated` events).
ALTER TABLE jobs ADD COLUMN owner BLOB CHECK (owner IS NULL OR length(owner) = 20);
ALTER TABLE jobs ADD COLUMN forwarder BLOB CHECK (forwarder IS NULL OR length(forwarder) = 20);
ALTER TABLE jobs ADD COLUMN balance BLOB CHECK (balance IS NULL OR length(balance) = 32);
ALTER TABLE jobs ADD COLUMN next_sequence INTEGER NOT NULL DEFAULT 0 CHECK (next_sequence >= 0);
