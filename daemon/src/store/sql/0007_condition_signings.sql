-- Schema version 7: the keeper's single-flight record of condition jobs (the last task it signed per
-- job, with the reference block it was checked at), written with the signing record so that a
-- restarted keeper keeps refusing the job's next task while that one may still land.
CREATE TABLE condition_signings (
    job_id          BLOB    NOT NULL PRIMARY KEY CHECK (length(job_id) = 32),
    sequence        INTEGER NOT NULL CHECK (sequence >= 0),
    reference_block INTEGER NOT NULL CHECK (reference_block >= 0),
    signed_at_ms    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
