-- Schema version 4: a new task state, 'unprofitable' (the aggregator left the task out because its
-- job's maxFee cannot pay for it at the current base fee; keeper_shared::job::TaskState). The CHECK
-- lists of `tasks.state` and `task_history.{from,to}_state` name every state, so both tables are
-- rebuilt (SQLite cannot alter a CHECK): the new ones are filled and linked to each other before the
-- old ones go, so the history's foreign key to its task holds at every statement.
CREATE TABLE tasks_v4 (
    job_id        BLOB    NOT NULL REFERENCES jobs (job_id),
    sequence      INTEGER NOT NULL CHECK (sequence >= 0),
    state         TEXT    NOT NULL CHECK (state IN
                      ('due', 'executed', 'signed', 'proposed', 'submitted', 'performed', 'failed', 'dropped', 'unprofitable')),
    due_at_ms     INTEGER,
    due_block     INTEGER CHECK (due_block IS NULL OR due_block >= 0),
    response_hash BLOB    CHECK (response_hash IS NULL OR length(response_hash) = 32),
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (job_id, sequence),
    CHECK (due_at_ms IS NOT NULL OR due_block IS NOT NULL)
) STRICT, WITHOUT ROWID;
INSERT INTO tasks_v4 SELECT job_id, sequence, state, due_at_ms, due_block, response_hash, created_at_ms, updated_at_ms
    FROM tasks;

CREATE TABLE task_history_v4 (
    id         INTEGER NOT NULL PRIMARY KEY,
    job_id     BLOB    NOT NULL,
    sequence   INTEGER NOT NULL,
    from_state TEXT    CHECK (from_state IS NULL OR from_state IN
                   ('due', 'executed', 'signed', 'proposed', 'submitted', 'performed', 'failed', 'dropped', 'unprofitable')),
    to_state   TEXT    NOT NULL CHECK (to_state IN
                   ('due', 'executed', 'signed', 'proposed', 'submitted', 'performed', 'failed', 'dropped', 'unprofitable')),
    at_ms      INTEGER NOT NULL,
    detail     TEXT,
    FOREIGN KEY (job_id, sequence) REFERENCES tasks_v4 (job_id, sequence)
) STRICT;
INSERT INTO task_history_v4 SELECT id, job_id, sequence, from_state, to_state, at_ms, detail FROM task_history;

DROP TABLE task_history;
DROP TABLE tasks;
-- Renaming rewrites task_history_v4's foreign key to name `tasks`.
ALTER TABLE tasks_v4 RENAME TO tasks;
ALTER TABLE task_history_v4 RENAME TO task_history;

CREATE INDEX tasks_by_state ON tasks (state, job_id, sequence);
CREATE INDEX task_history_by_task ON task_history (job_id, sequence, id);
CREATE TRIGGER task_history_no_update BEFORE UPDATE ON task_history
BEGIN SELECT RAISE(ABORT, 'task_history is append-only'); END;
CREATE TRIGGER task_history_no_delete BEFORE DELETE ON task_history
BEGIN SELECT RAISE(ABORT, 'task_history is append-only'); END;
