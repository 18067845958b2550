-- Schema version 6: task states are checked by the code that reads them (TaskState::parse refuses an
-- unknown name), not by a CHECK listing them, so that a new state (nothing_to_do here, others later)
-- needs no table rebuild; transactions.kind is kept the same way. SQLite cannot alter a CHECK, so both
-- tables are rebuilt once. Foreign keys stay on: the history is copied aside and dropped before the
-- tasks it references, and copied back after them.
CREATE TABLE tasks_v5 AS SELECT * FROM tasks;
CREATE TABLE task_history_v5 AS SELECT * FROM task_history;

DROP TRIGGER task_history_no_update;
DROP TRIGGER task_history_no_delete;
DROP INDEX task_history_by_task;
DROP TABLE task_history;
DROP INDEX tasks_by_state;
DROP TABLE tasks;

CREATE TABLE tasks (
    job_id        BLOB    NOT NULL REFERENCES jobs (job_id),
    sequence      INTEGER NOT NULL CHECK (sequence >= 0),
    state         TEXT    NOT NULL CHECK (length(state) > 0),
    due_at_ms     INTEGER,
    due_block     INTEGER CHECK (due_block IS NULL OR due_block >= 0),
    response_hash BLOB    CHECK (response_hash IS NULL OR length(response_hash) = 32),
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (job_id, sequence),
    CHECK (due_at_ms IS NOT NULL OR due_block IS NOT NULL)
) STRICT, WITHOUT ROWID;
INSERT INTO tasks (job_id, sequence, state, due_at_ms, due_block, response_hash, created_at_ms, updated_at_ms)
    SELECT job_id, sequence, state, due_at_ms, due_block, response_hash, created_at_ms, updated_at_ms FROM tasks_v5;
CREATE INDEX tasks_by_state ON tasks (state, job_id, sequence);

CREATE TABLE task_history (
    id         INTEGER NOT NULL PRIMARY KEY,
    job_id     BLOB    NOT NULL,
    sequence   INTEGER NOT NULL,
    from_state TEXT    CHECK (from_state IS NULL OR length(from_state) > 0),
    to_state   TEXT    NOT NULL CHECK (length(to_state) > 0),
    at_ms      INTEGER NOT NULL,
    detail     TEXT,
    FOREIGN KEY (job_id, sequence) REFERENCES tasks (job_id, sequence)
) STRICT;
INSERT INTO task_history (id, job_id, sequence, from_state, to_state, at_ms, detail)
    SELECT id, job_id, sequence, from_state, to_state, at_ms, detail FROM task_history_v5;
CREATE INDEX task_history_by_task ON task_history (job_id, sequence, id);
CREATE TRIGGER task_history_no_update BEFORE UPDATE ON task_history
BEGIN SELECT RAISE(ABORT, 'task_history is append-only'); END;
CREATE TRIGGER task_history_no_delete BEFORE DELETE ON task_history
BEGIN SELECT RAISE(ABORT, 'task_history is append-only'); END;

DROP TABLE task_history_v5;
DROP TABLE tasks_v5;
