//! The console's forms through keys: field editing, validation errors on the field at fault
//! (the shared job spec rules), the transaction preview, and what is sent.

mod console_support;

use alloy::primitives::U256;
use console_support::*;
use crossterm::event::KeyCode;
use keeper_shared::api::{ApiError, CreateJobRequest, ErrorCode, RegisterOperatorRequest};
use keeperctl::console::{Action, ApiEvent, App, Command, Connection, Modal};

fn jobs_view() -> App {
    let mut app = App::new();
    app.apply(ApiEvent::Tick { now_ms: NOW_MS });
    app.apply(ApiEvent::Connection(Connection::Connected));
    app.apply(ApiEvent::Status(status()));
    app.handle_key(ch('4'));
    app
}

/// Moves the focus down `n` fields.
fn down(app: &mut App, n: usize) {
    for _ in 0..n {
        app.handle_key(key(KeyCode::Tab));
    }
}

/// Opens the job form and fills a valid interval job, leaving the period empty.
fn fill_interval_job(app: &mut App) {
    app.handle_key(ch('n'));
    // trigger, start (prefilled with the head's time), period
    down(app, 2);
    type_text(app, "60");
    // action kind, target, calldata
    down(app, 2);
    type_text(app, "0x1111111111111111111111111111111111111111");
    down(app, 1);
    type_text(app, "0xd09de08a");
    // gas limit (prefilled), max fee, expiry, funding
    down(app, 2);
    type_text(app, "10000000000000000");
    down(app, 2);
    type_text(app, "1000000000000000000");
}

fn expected_request() -> CreateJobRequest {
    CreateJobRequest { spec: call_spec(60), funding_wei: U256::from(1_000_000_000_000_000_000u128) }
}

#[test]
fn job_form_shows_the_interval_fields_prefilled() {
    let mut app = jobs_view();
    app.handle_key(ch('n'));
    let text = screen(&app);
    assert!(text.contains("Create a job"), "{text}");
    assert!(text.contains(">trigger       ‹ interval ›"), "{text}");
    assert!(text.contains(" start         1767000000"), "start at the head's time: {text}");
    assert!(text.contains(" gas limit     300000"), "{text}");
    assert!(!text.contains("emitter"), "event fields hidden: {text}");
    assert!(text.contains("Tab/↑↓ field  ←→ choice  Enter check  Esc close"), "{text}");
}

#[test]
fn choosing_an_event_trigger_shows_its_fields() {
    let mut app = jobs_view();
    app.handle_key(ch('n'));
    app.handle_key(key(KeyCode::Right));
    app.handle_key(key(KeyCode::Right));
    let text = screen(&app);
    assert!(text.contains("‹ event ›"), "{text}");
    assert!(text.contains(" emitter"), "{text}");
    assert!(text.contains(" topic0"), "{text}");
    assert!(!text.contains(" period "), "{text}");
}

#[test]
fn a_zero_period_is_refused_on_its_field_by_the_shared_rules() {
    let mut app = jobs_view();
    fill_interval_job(&mut app);
    // Back from the funding to the period (7 visible fields up): replace 60 with 0.
    for _ in 0..7 {
        app.handle_key(key(KeyCode::BackTab));
    }
    app.handle_key(key(KeyCode::Backspace));
    app.handle_key(key(KeyCode::Backspace));
    type_text(&mut app, "0");
    assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::None);
    let text = screen(&app);
    assert!(text.contains("spec.trigger.period_secs: must be > 0"), "{text}");
    assert!(text.contains("!period        0▏"), "field marked and focused: {text}");
}

#[test]
fn a_bad_address_is_refused_with_its_field() {
    let mut app = jobs_view();
    app.handle_key(ch('n'));
    down(&mut app, 2);
    type_text(&mut app, "5");
    down(&mut app, 2);
    type_text(&mut app, "0x12");
    app.handle_key(key(KeyCode::Enter));
    let text = screen(&app);
    assert!(text.contains("action.target: \"0x12\" is not a 0x address of 40 hex digits"), "{text}");
    assert!(text.contains("!target"), "{text}");
}

#[test]
fn a_valid_job_is_previewed_then_sent() {
    let mut app = jobs_view();
    fill_interval_job(&mut app);
    assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::None, "Enter previews, sends nothing");
    let text = screen(&app);
    assert!(text.contains("Transaction preview"), "{text}");
    assert!(text.contains("call      JobManager.createJob(spec)"), "{text}");
    assert!(text.contains("value     1000000000000000000 wei (1.0000 ETH)"), "{text}");
    assert!(text.contains("trigger   interval every 60s from 1767000000"), "{text}");
    assert!(text.contains("max fee   10000000000000000 wei per task"), "{text}");
    assert!(text.contains("calldata"), "{text}");
    assert!(text.contains("selector 0x"), "{text}");

    // n goes back to the form with everything kept; Enter previews again.
    app.handle_key(ch('n'));
    assert!(matches!(app.modal, Some(Modal::JobForm(_))));
    app.handle_key(key(KeyCode::Enter));
    assert_eq!(app.handle_key(ch('y')), Action::Send(Command::CreateJob(Box::new(expected_request()))));
    app.apply(ApiEvent::WriteDone {
        what: "create job".to_owned(),
        result: Ok("job 6 created in block 40".to_owned()),
    });
    assert!(app.modal.is_none());
    assert!(screen(&app).contains("create job: job 6 created in block 40"));
}

#[test]
fn a_refusal_by_the_daemon_goes_back_to_the_field() {
    let mut app = jobs_view();
    fill_interval_job(&mut app);
    app.handle_key(key(KeyCode::Enter));
    app.handle_key(ch('y'));
    let refusal = ApiError::field(ErrorCode::InvalidValue, "spec.action.target", "may not be the job manager");
    app.apply(ApiEvent::WriteDone { what: "create job".to_owned(), result: Err(refusal) });
    let text = screen(&app);
    assert!(matches!(app.modal, Some(Modal::JobForm(_))), "{text}");
    assert!(text.contains("spec.action.target: may not be the job manager"), "{text}");
    assert!(text.contains("!target"), "{text}");
}

#[test]
fn escape_closes_the_form_without_sending() {
    let mut app = jobs_view();
    app.handle_key(ch('n'));
    assert_eq!(app.handle_key(key(KeyCode::Esc)), Action::None);
    assert!(app.modal.is_none());
}

#[test]
fn register_operator_validates_then_confirms() {
    let mut app = jobs_view();
    app.handle_key(ch('2'));
    app.handle_key(ch('R'));
    let text = screen(&app);
    assert!(text.contains("Register the local operator"), "{text}");
    down(&mut app, 2);
    type_text(&mut app, "0");
    app.handle_key(key(KeyCode::Enter));
    let text = screen(&app);
    assert!(text.contains("magnitude: must be in 1..=1000000000000000000"), "{text}");
    assert!(text.contains("!magnitude"), "{text}");

    app.handle_key(key(KeyCode::Backspace));
    type_text(&mut app, "500000000000000000");
    app.handle_key(key(KeyCode::Enter));
    let text = screen(&app);
    assert!(text.contains("Register 0xF3F3f3F3F3F3F3f3f3F3F3F3f3f3f3F3f3F3f3F3 with the keeper set?"), "{text}");
    assert!(text.contains("magnitude 500000000000000000 of 1e18"), "{text}");
    let expected = RegisterOperatorRequest {
        metadata_uri: String::new(),
        allocation_delay_blocks: 0,
        magnitude: Some(500_000_000_000_000_000),
    };
    assert_eq!(app.handle_key(ch('y')), Action::Send(Command::RegisterOperator(expected)));
}

/// Opens the job form and fills an interval script job whose module is the file at `module`.
fn fill_script_job(app: &mut App, module: &str) {
    app.handle_key(ch('n'));
    down(app, 2);
    type_text(app, "60");
    // action kind: call → chainlink_upkeep → gelato_resolver → script
    down(app, 1);
    for _ in 0..3 {
        app.handle_key(key(KeyCode::Right));
    }
    down(app, 1);
    type_text(app, "0x1111111111111111111111111111111111111111");
    down(app, 1);
    type_text(app, "0x2a");
    down(app, 1);
    type_text(app, module);
    down(app, 1);
    type_text(app, "https://example.org/job.wasm");
    // code hash (empty: the file's), gas limit, max fee
    down(app, 3);
    type_text(app, "10000000000000000");
}

#[test]
fn a_script_job_takes_its_code_hash_from_the_checked_module_file() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("job.wasm");
    let code = wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "run")))"#).unwrap();
    std::fs::write(&module, &code).unwrap();
    let mut app = jobs_view();
    fill_script_job(&mut app, module.to_str().unwrap());
    let text = screen(&app);
    assert!(text.contains("‹ script ›") && text.contains(" module file") && text.contains(" code url"), "{text}");
    assert!(!text.contains(" resolver"), "{text}");
    assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::None, "Enter previews");
    let Action::Send(Command::CreateJob(request)) = app.handle_key(ch('y')) else { panic!("{}", screen(&app)) };
    assert_eq!(
        request.spec.action,
        keeper_shared::job::Action::Script {
            target: alloy::primitives::Address::repeat_byte(0x11),
            args: alloy::primitives::Bytes::from(vec![0x2a]),
            code_url: "https://example.org/job.wasm".to_owned(),
            code_hash: alloy::primitives::keccak256(&code),
        }
    );
}

#[test]
fn a_module_keepers_would_refuse_is_refused_on_its_field() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("job.wasm");
    let code =
        wat::parse_str(r#"(module (import "wasi" "clock" (func)) (memory (export "memory") 1) (func (export "run")))"#)
            .unwrap();
    std::fs::write(&module, code).unwrap();
    let mut app = jobs_view();
    fill_script_job(&mut app, module.to_str().unwrap());
    assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::None);
    let text = screen(&app);
    assert!(matches!(app.modal, Some(Modal::JobForm(_))), "{text}");
    assert!(text.contains("action.module:") && text.contains("!module file"), "{text}");

    // A file that is not there names its field too.
    let mut app = jobs_view();
    fill_script_job(&mut app, "/nonexistent/job.wasm");
    app.handle_key(key(KeyCode::Enter));
    let text = screen(&app);
    assert!(text.contains("action.module: /nonexistent/job.wasm"), "{text}");
}
