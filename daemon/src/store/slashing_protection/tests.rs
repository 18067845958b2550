use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::*;
use crate::store::tests::{batch, CHAIN_ID, TASK_MANAGER};
use crate::store::Store;

fn request(batch: &Batch) -> BatchSigningRequest {
    BatchSigningRequest::from(batch)
}

/// The spec hash `crate::store::tests::batch` puts in every leaf.
const SPEC: B256 = B256::repeat_byte(0x5e);

fn task(job: u64, sequence: u64) -> TaskId {
    TaskId { job_id: U256::from(job), sequence }
}

fn count(store: &Store, table: &str) -> i64 {
    store.conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| row.get(0)).unwrap()
}

#[test]
fn signing_the_same_digest_again_is_allowed() {
    let mut store = Store::open_in_memory().unwrap();
    let b = batch(10, &[(1, 0, 0xa1), (1, 1, 0xa2)]);
    let mut sp = store.slashing_protection();
    assert_eq!(sp.check_and_record(&request(&b)).unwrap(), SigningDecision::Sign { digest: b.digest() });
    assert_eq!(sp.check_and_record(&request(&b)).unwrap(), SigningDecision::AlreadySigned { digest: b.digest() });
    assert!(sp.has_signed(b.digest()).unwrap());
    assert_eq!(count(&store, "signed_batches"), 1);
    assert_eq!(count(&store, "signed_responses"), 2);
}

#[test]
fn the_same_response_in_another_batch_is_allowed() {
    let mut store = Store::open_in_memory().unwrap();
    let first = batch(10, &[(1, 0, 0xa1), (1, 1, 0xa2)]);
    // Task (1, 1) dropped from the first proposal's signers and re-proposed at the next block.
    let second = batch(11, &[(1, 1, 0xa2), (2, 0, 0xb1)]);
    let mut sp = store.slashing_protection();
    assert!(matches!(sp.check_and_record(&request(&first)).unwrap(), SigningDecision::Sign { .. }));
    assert_eq!(sp.check_and_record(&request(&second)).unwrap(), SigningDecision::Sign { digest: second.digest() });
    let recorded = sp.signed_response(CHAIN_ID, TASK_MANAGER, task(1, 1), SPEC).unwrap().unwrap();
    assert_eq!(recorded.response_hash, B256::repeat_byte(0xa2));
    assert_eq!(recorded.first_digest, Some(first.digest()), "the first batch that signed it");
    assert_eq!(count(&store, "signed_responses"), 3);
}

#[test]
fn a_different_response_is_refused_and_nothing_of_the_batch_is_recorded() {
    let mut store = Store::open_in_memory().unwrap();
    let signed = batch(10, &[(1, 0, 0xa1), (1, 1, 0xa2)]);
    let mut sp = store.slashing_protection();
    let _ = sp.check_and_record(&request(&signed)).unwrap();

    // New tasks first, the conflicting leaf third: the first two must not be recorded either.
    let conflicting = batch(11, &[(2, 0, 0xb1), (2, 1, 0xb2), (1, 1, 0xcc)]);
    let err = sp.check_and_record(&request(&conflicting)).unwrap_err();
    match err {
        SlashingProtectionError::ConflictingResponse { job_id, sequence, previous, proposed } => {
            assert_eq!((job_id, sequence), (U256::from(1), 1));
            assert_eq!((previous, proposed), (B256::repeat_byte(0xa2), B256::repeat_byte(0xcc)));
        }
        other => panic!("expected ConflictingResponse, got {other:?}"),
    }
    assert!(!sp.has_signed(conflicting.digest()).unwrap());
    assert_eq!(sp.signed_response(CHAIN_ID, TASK_MANAGER, task(2, 0), SPEC).unwrap(), None);
    assert_eq!(sp.signed_response(CHAIN_ID, TASK_MANAGER, task(2, 1), SPEC).unwrap(), None);
    // So a later batch may still give (2, 0) and (2, 1) other responses than the refused one did.
    let later = batch(12, &[(2, 0, 0xd1), (2, 1, 0xd2)]);
    assert!(matches!(sp.check_and_record(&request(&later)).unwrap(), SigningDecision::Sign { .. }));
    assert_eq!(count(&store, "signed_batches"), 2);
    assert_eq!(count(&store, "signed_responses"), 4);
}

#[test]
fn the_record_is_per_chain_and_task_manager() {
    let mut store = Store::open_in_memory().unwrap();
    let here = batch(10, &[(1, 0, 0xa1)]);
    let mut elsewhere_context = *here.context();
    elsewhere_context.task_manager = Address::repeat_byte(0x78);
    let elsewhere = Batch::new(
        elsewhere_context,
        vec![TaskLeaf { task: task(1, 0), spec_hash: B256::repeat_byte(0x5e), response_hash: B256::repeat_byte(0xff) }],
    )
    .unwrap();
    let mut sp = store.slashing_protection();
    let _ = sp.check_and_record(&request(&here)).unwrap();
    assert!(matches!(sp.check_and_record(&request(&elsewhere)).unwrap(), SigningDecision::Sign { .. }));
}

#[test]
fn the_record_survives_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keeper.db");
    let signed = batch(10, &[(1, 0, 0xa1), (1, 1, 0xa2)]);
    {
        let mut store = Store::open(&path).unwrap();
        let _ = store.slashing_protection().check_and_record(&request(&signed)).unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    let mut sp = store.slashing_protection();
    let conflicting = batch(11, &[(1, 0, 0xee)]);
    assert!(matches!(
        sp.check_and_record(&request(&conflicting)),
        Err(SlashingProtectionError::ConflictingResponse { .. })
    ));
    assert_eq!(
        sp.check_and_record(&request(&signed)).unwrap(),
        SigningDecision::AlreadySigned { digest: signed.digest() }
    );
}

#[test]
fn values_the_record_cannot_hold_are_refused() {
    let mut store = Store::open_in_memory().unwrap();
    let beyond = batch(10, &[(1, 0, 0xa1), (1, u64::MAX, 0xa2)]);
    let err = store.slashing_protection().check_and_record(&request(&beyond)).unwrap_err();
    assert!(matches!(err, SlashingProtectionError::Store(StoreError::InvalidValue { .. })), "{err}");
    assert_eq!(count(&store, "signed_responses"), 0, "refused whole");
}

#[test]
fn the_record_cannot_be_edited_or_deleted() {
    let mut store = Store::open_in_memory().unwrap();
    let _ = store.slashing_protection().check_and_record(&request(&batch(10, &[(1, 0, 0xa1)]))).unwrap();
    for sql in [
        "UPDATE signed_responses SET response_hash = zeroblob(32)",
        "DELETE FROM signed_responses",
        "UPDATE signed_batches SET root = zeroblob(32)",
        "DELETE FROM signed_batches",
    ] {
        let err = store.conn.execute(sql, []).unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

#[test]
fn export_and_import_round_trip() {
    let mut source = Store::open_in_memory().unwrap();
    let first = batch(10, &[(1, 0, 0xa1), (1, 1, 0xa2)]);
    let second = batch(11, &[(1, 1, 0xa2), (u64::MAX, 9, 0xb1)]);
    let mut sp = source.slashing_protection();
    let _ = sp.check_and_record(&request(&first)).unwrap();
    let _ = sp.check_and_record(&request(&second)).unwrap();
    let exported = sp.export(CHAIN_ID, TASK_MANAGER).unwrap();
    assert_eq!(exported.signed_responses.len(), 3);
    assert_eq!(exported.signed_batches.len(), 2);
    let json = exported.to_json().unwrap();

    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["metadata"]["interchange_format_version"], "2");
    assert_eq!(value["signed_responses"][0]["spec_hash"], SPEC.to_string());
    assert_eq!(value["metadata"]["chain_id"], "31337");
    assert_eq!(value["signed_responses"][2]["job_id"], u64::MAX.to_string(), "decimal, in job id order");
    assert_eq!(value["signed_responses"][0]["response_hash"], B256::repeat_byte(0xa1).to_string());

    let parsed = Interchange::from_json(&json).unwrap();
    assert_eq!(parsed, exported);
    let mut target = Store::open_in_memory().unwrap();
    let mut sp = target.slashing_protection();
    let summary = sp.import(&parsed).unwrap();
    assert_eq!(
        summary,
        ImportSummary {
            responses_added: 3,
            responses_already_recorded: 0,
            batches_added: 2,
            batches_already_recorded: 0
        }
    );
    assert_eq!(sp.export(CHAIN_ID, TASK_MANAGER).unwrap(), exported);
    assert_eq!(sp.import(&parsed).unwrap().responses_already_recorded, 3, "importing twice changes nothing");

    // The moved record protects the key on its new machine.
    assert!(matches!(
        sp.check_and_record(&request(&batch(12, &[(1, 0, 0xff)]))),
        Err(SlashingProtectionError::ConflictingResponse { .. })
    ));
    assert_eq!(
        sp.check_and_record(&request(&first)).unwrap(),
        SigningDecision::AlreadySigned { digest: first.digest() }
    );
    let imported = sp.signed_response(CHAIN_ID, TASK_MANAGER, task(1, 0), SPEC).unwrap().unwrap();
    assert_eq!(imported.first_digest, None);
}

#[test]
fn an_import_that_conflicts_is_refused_whole() {
    let mut store = Store::open_in_memory().unwrap();
    let _ = store.slashing_protection().check_and_record(&request(&batch(10, &[(1, 0, 0xa1)]))).unwrap();
    let record = Interchange {
        metadata: InterchangeMetadata { chain_id: CHAIN_ID, task_manager: TASK_MANAGER },
        signed_responses: vec![
            InterchangeResponse { task: task(5, 0), spec_hash: None, response_hash: B256::repeat_byte(1) },
            InterchangeResponse { task: task(1, 0), spec_hash: Some(SPEC), response_hash: B256::repeat_byte(2) },
        ],
        signed_batches: vec![],
    };
    let err = store.slashing_protection().import(&record).unwrap_err();
    assert!(
        matches!(err, SlashingProtectionError::ImportConflict { sequence: 0, recorded, imported, .. }
            if recorded == B256::repeat_byte(0xa1) && imported == B256::repeat_byte(2)),
        "{err}"
    );
    assert_eq!(store.slashing_protection().signed_response(CHAIN_ID, TASK_MANAGER, task(5, 0), SPEC).unwrap(), None);

    // Two different responses for one task inside the same file conflict with each other.
    let contradictory = Interchange {
        signed_responses: vec![
            InterchangeResponse { task: task(6, 0), spec_hash: None, response_hash: B256::repeat_byte(1) },
            InterchangeResponse { task: task(6, 0), spec_hash: None, response_hash: B256::repeat_byte(2) },
        ],
        ..record
    };
    assert!(matches!(
        store.slashing_protection().import(&contradictory),
        Err(SlashingProtectionError::ImportConflict { .. })
    ));
    assert_eq!(count(&store, "signed_responses"), 1);
}

#[test]
fn malformed_interchange_files_are_refused() {
    let good = Interchange {
        metadata: InterchangeMetadata { chain_id: 1, task_manager: TASK_MANAGER },
        signed_responses: vec![InterchangeResponse {
            task: task(1, 2),
            spec_hash: Some(SPEC),
            response_hash: B256::repeat_byte(3),
        }],
        signed_batches: vec![],
    }
    .to_json()
    .unwrap();
    assert!(Interchange::from_json(&good).is_ok());
    let version = good.replace(r#""interchange_format_version": "2""#, r#""interchange_format_version": "3""#);
    assert!(matches!(Interchange::from_json(&version), Err(SlashingProtectionError::InterchangeVersion { .. })));
    let sign = good.replace(r#""sequence": "2""#, r#""sequence": "+2""#);
    assert!(matches!(
        Interchange::from_json(&sign),
        Err(SlashingProtectionError::InterchangeField { field: "signed_responses.sequence", .. })
    ));
    let short_hash = good.replace(&B256::repeat_byte(3).to_string(), "0x0303");
    assert!(matches!(
        Interchange::from_json(&short_hash),
        Err(SlashingProtectionError::InterchangeField { field: "signed_responses.response_hash", .. })
    ));
    let unknown = good.replacen('{', r#"{ "extra": 1,"#, 1);
    assert!(matches!(Interchange::from_json(&unknown), Err(SlashingProtectionError::InterchangeJson(_))));
    assert!(matches!(Interchange::from_json("not json"), Err(SlashingProtectionError::InterchangeJson(_))));
}

// Crash tests. The test binary re-executes itself, running only `crash_child_process` with
// CRASH_MODE set; the child signs through the real store and prints a line after each signing
// decision returns, and the parent kills it with SIGKILL at that point: no destructor runs, the
// WAL is not checkpointed, the lock is not released by the process. The parent then reopens the
// database and checks what the record holds.

const CRASH_MODE: &str = "KEEPERD_STORE_CRASH_MODE";
const CRASH_DB: &str = "KEEPERD_STORE_CRASH_DB";
const REPORT: &str = "crash-child: ";

/// Batch `i` of the many-batches child: three fresh tasks of job 1, so a partial record would show.
fn numbered_batch(i: u64) -> Batch {
    let response = u8::try_from(i % 250).unwrap() + 1;
    batch(i + 1, &[(1, 3 * i, response), (1, 3 * i + 1, response), (1, 3 * i + 2, response)])
}

fn single_batch() -> Batch {
    batch(7, &[(4, 0, 0x41), (4, 1, 0x42)])
}

/// Not a test of its own: the body of the child process (a no-op in a normal test run).
#[test]
fn crash_child_process() {
    let Ok(mode) = std::env::var(CRASH_MODE) else { return };
    let path = std::env::var(CRASH_DB).unwrap();
    let mut store = Store::open(&path).unwrap();
    let mut out = std::io::stdout();
    match mode.as_str() {
        "sign_once" => {
            let decision = store.slashing_protection().check_and_record(&request(&single_batch())).unwrap();
            writeln!(out, "{REPORT}{}", decision.digest()).unwrap();
            out.flush().unwrap();
        }
        "sign_many" => {
            for i in 0.. {
                let _ = store.slashing_protection().check_and_record(&request(&numbered_batch(i))).unwrap();
                writeln!(out, "{REPORT}{i}").unwrap();
                out.flush().unwrap();
            }
        }
        other => panic!("unknown crash mode {other}"),
    }
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

/// Owns a child process; kills it if the test fails before it is reaped.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the child in `mode` on `path`, and returns it with a reader of its report lines.
fn spawn_child(mode: &str, path: &Path) -> (ChildGuard, impl Iterator<Item = String>) {
    let test_name = concat!(module_path!(), "::crash_child_process");
    let test_name = test_name.strip_prefix(concat!(env!("CARGO_CRATE_NAME"), "::")).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CRASH_MODE, mode)
        .env(CRASH_DB, path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    // libtest may print "test ... " on the same line before the child's first report.
    let reports = stdout
        .lines()
        .map_while(|line| line.ok())
        .filter_map(|line| line.split_once(REPORT).map(|(_, report)| report.to_owned()));
    (ChildGuard(child), reports)
}

/// SIGKILLs the child and checks that it died of it.
fn kill_child(mut guard: ChildGuard) {
    guard.0.kill().unwrap();
    let status = guard.0.wait().unwrap();
    if status.signal() != Some(9) {
        let mut stderr = String::new();
        let _ = guard.0.stderr.take().map(|mut e| e.read_to_string(&mut stderr));
        panic!("child ended with {status} before it was killed; stderr:\n{stderr}");
    }
}

fn next_report(guard: &mut ChildGuard, reports: &mut impl Iterator<Item = String>) -> String {
    match reports.next() {
        Some(line) => line,
        None => {
            let mut stderr = String::new();
            let _ = guard.0.stderr.take().map(|mut e| e.read_to_string(&mut stderr));
            panic!("child exited without reporting; stderr:\n{stderr}");
        }
    }
}

#[test]
fn a_signing_decision_survives_sigkill_right_after_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keeper.db");
    let (mut child, mut reports) = spawn_child("sign_once", &path);
    let reported = next_report(&mut child, &mut reports);
    kill_child(child);

    let signed = single_batch();
    assert_eq!(reported, signed.digest().to_string());
    // The kernel released the dead child's lock, so this opens.
    let mut store = Store::open(&path).unwrap();
    let mut sp = store.slashing_protection();
    assert!(sp.has_signed(signed.digest()).unwrap());
    for leaf in signed.leaves() {
        let recorded = sp.signed_response(CHAIN_ID, TASK_MANAGER, leaf.task, leaf.spec_hash).unwrap().unwrap();
        assert_eq!(recorded.response_hash, leaf.response_hash);
    }
    let conflicting = batch(8, &[(4, 1, 0x99)]);
    assert!(matches!(
        sp.check_and_record(&request(&conflicting)),
        Err(SlashingProtectionError::ConflictingResponse { sequence: 1, .. })
    ));
    assert_eq!(
        sp.check_and_record(&request(&signed)).unwrap(),
        SigningDecision::AlreadySigned { digest: signed.digest() }
    );
}

/// Microseconds between a report and the kill, one round each.
const KILL_DELAYS_US: [u64; 10] = [0, 150, 400, 700, 1_100, 1_600, 2_300, 3_100, 4_200, 6_000];

#[test]
fn the_record_stays_whole_when_killed_while_signing_many_batches() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keeper.db");
    let mut highest_reported = 0u64;
    for (round, delay_us) in KILL_DELAYS_US.into_iter().enumerate() {
        // Each child starts again from batch 0 (re-signing what is recorded) and goes further.
        let (mut child, mut reports) = spawn_child("sign_many", &path);
        let kill_after = 10 * (round as u64 + 1);
        let mut last = 0;
        for expected in 0..=kill_after {
            last = next_report(&mut child, &mut reports).parse::<u64>().unwrap();
            assert_eq!(last, expected);
        }
        // A varying delay so the kill lands at different points of the next batch's transaction
        // (killing at once lands before its first write, every time).
        std::thread::sleep(std::time::Duration::from_micros(delay_us));
        kill_child(child);
        highest_reported = highest_reported.max(last);

        let mut store = Store::open(&path).unwrap();
        let integrity: String = store.conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap();
        assert_eq!(integrity, "ok");
        let batches = u64::try_from(count(&store, "signed_batches")).unwrap();
        let responses = u64::try_from(count(&store, "signed_responses")).unwrap();
        assert!(batches > highest_reported, "round {round}: {batches} batches, batch {highest_reported} reported");
        assert_eq!(responses, 3 * batches, "round {round}: a batch was recorded in part");
        let max_sequence: i64 =
            store.conn.query_row("SELECT max(sequence) FROM signed_responses", [], |row| row.get(0)).unwrap();
        assert_eq!(u64::try_from(max_sequence).unwrap(), 3 * batches - 1, "round {round}: the record has a gap");

        let mut sp = store.slashing_protection();
        for i in 0..batches {
            assert!(sp.has_signed(numbered_batch(i).digest()).unwrap(), "round {round}: batch {i}");
        }
        let conflicting = batch(10_000, &[(1, 3 * highest_reported + 2, 0xff)]);
        assert!(matches!(
            sp.check_and_record(&request(&conflicting)),
            Err(SlashingProtectionError::ConflictingResponse { .. })
        ));
    }
}

/// The chain proves equivocation per task and spec: after the job's spec changed, a new response for
/// the same task under the new spec may be signed; under the old spec it still may not.
#[test]
fn a_task_may_get_a_new_response_under_a_new_spec_only() {
    let mut store = Store::open_in_memory().unwrap();
    let mut sp = store.slashing_protection();
    let old = batch(10, &[(1, 0, 0xa1)]);
    let _ = sp.check_and_record(&request(&old)).unwrap();
    let leaf = |spec: B256, response: u8| TaskLeaf {
        task: task(1, 0),
        spec_hash: spec,
        response_hash: B256::repeat_byte(response),
    };
    let context = *old.context();
    let new_spec = Batch::new(context, vec![leaf(B256::repeat_byte(0x77), 0xb2)]).unwrap();
    assert!(matches!(sp.check_and_record(&request(&new_spec)).unwrap(), SigningDecision::Sign { .. }));
    let old_spec_again = Batch::new(context, vec![leaf(SPEC, 0xb2)]).unwrap();
    assert!(matches!(
        sp.check_and_record(&request(&old_spec_again)),
        Err(SlashingProtectionError::ConflictingResponse { previous, .. }) if previous == B256::repeat_byte(0xa1)
    ));
    let under_new = sp.signed_response(CHAIN_ID, TASK_MANAGER, task(1, 0), B256::repeat_byte(0x77)).unwrap().unwrap();
    assert_eq!(under_new.response_hash, B256::repeat_byte(0xb2));
    assert_eq!(
        sp.signed_response(CHAIN_ID, TASK_MANAGER, task(1, 0), SPEC).unwrap().unwrap().response_hash,
        B256::repeat_byte(0xa1)
    );
}

/// A response recorded without its spec (imported from a version 1 record, or signed before the
/// record knew specs) binds the task under every spec.
#[test]
fn a_response_of_unknown_spec_conflicts_with_every_spec() {
    let mut store = Store::open_in_memory().unwrap();
    let v1 = format!(
        r#"{{ "metadata": {{ "interchange_format_version": "1", "chain_id": "{CHAIN_ID}", "task_manager": "{TASK_MANAGER}" }},
             "signed_responses": [ {{ "job_id": "1", "sequence": "0", "response_hash": "{}" }} ] }}"#,
        B256::repeat_byte(0xa1)
    );
    let record = Interchange::from_json(&v1).unwrap();
    assert_eq!(record.signed_responses[0].spec_hash, None);
    let mut sp = store.slashing_protection();
    assert_eq!(sp.import(&record).unwrap().responses_added, 1);
    assert!(matches!(
        sp.check_and_record(&request(&batch(10, &[(1, 0, 0xb2)]))),
        Err(SlashingProtectionError::ConflictingResponse { .. })
    ));
    assert!(matches!(
        sp.check_and_record(&request(&batch(10, &[(1, 0, 0xa1)]))).unwrap(),
        SigningDecision::Sign { .. }
    ));
    let found = sp.signed_response(CHAIN_ID, TASK_MANAGER, task(1, 0), B256::repeat_byte(0x99)).unwrap().unwrap();
    assert_eq!((found.spec_hash, found.response_hash), (None, B256::repeat_byte(0xa1)));
}
