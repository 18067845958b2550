//! The console's forms: registering the local operator and creating a job. Each field is text (or
//! one of a few choices); submitting parses every field, then runs the same validation the daemon
//! runs (`keeper_shared::job::validate`, through `keeper_shared::api::job_spec`), and an error names the field it
//! is about, which the form marks and focuses.

use std::str::FromStr;

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::sol_types::SolCall;
use keeper_shared::api::job_spec::{spec_to_abi, validate_funding, validate_spec, SpecContext};
use keeper_shared::api::{parse_decimal_u256, ApiError, CreateJobRequest, RegisterOperatorRequest, FULL_MAGNITUDE};
use keeper_shared::contracts::JobManager;
use keeper_shared::job::{Action, EventFilter, JobSpec, Trigger};

/// One field of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Its name in the API request, without the `spec.` prefix (`trigger.period`), which is how
    /// validation errors find it.
    pub id: &'static str,
    pub label: &'static str,
    pub value: String,
    /// For a choice field, the values `←`/`→` cycle through.
    pub choices: &'static [&'static str],
    pub hint: &'static str,
    pub visible: bool,
}

impl Field {
    fn text(id: &'static str, label: &'static str, hint: &'static str) -> Self {
        Self { id, label, value: String::new(), choices: &[], hint, visible: true }
    }

    fn choice(id: &'static str, label: &'static str, choices: &'static [&'static str]) -> Self {
        Self { id, label, value: choices[0].to_owned(), choices, hint: "←/→ to change", visible: true }
    }

    pub fn is_choice(&self) -> bool {
        !self.choices.is_empty()
    }
}

/// A validation error, tied to a field of the form when it names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormError {
    pub field: Option<&'static str>,
    pub message: String,
}

/// Fields, the focused one, and the last error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub title: &'static str,
    pub fields: Vec<Field>,
    pub focus: usize,
    pub error: Option<FormError>,
}

impl Form {
    pub fn value(&self, id: &str) -> &str {
        self.fields.iter().find(|f| f.id == id).map(|f| f.value.trim()).unwrap_or("")
    }

    pub fn set(&mut self, id: &str, value: impl Into<String>) {
        if let Some(field) = self.fields.iter_mut().find(|f| f.id == id) {
            field.value = value.into();
        }
    }

    pub fn focused(&self) -> Option<&Field> {
        self.fields.get(self.focus)
    }

    /// Moves the focus to the next (or previous) visible field, wrapping around.
    pub fn move_focus(&mut self, forward: bool) {
        let n = self.fields.len();
        for step in 1..=n {
            let i = if forward { (self.focus + step) % n } else { (self.focus + n - step) % n };
            if self.fields[i].visible {
                self.focus = i;
                return;
            }
        }
    }

    pub fn focus_field(&mut self, id: &str) {
        if let Some(i) = self.fields.iter().position(|f| f.id == id && f.visible) {
            self.focus = i;
        }
    }

    /// Types a character into the focused text field.
    pub fn type_char(&mut self, c: char) {
        if let Some(field) = self.fields.get_mut(self.focus) {
            if !field.is_choice() {
                field.value.push(c);
            }
        }
    }

    pub fn backspace(&mut self) {
        if let Some(field) = self.fields.get_mut(self.focus) {
            if !field.is_choice() {
                field.value.pop();
            }
        }
    }

    /// Cycles the focused choice field; returns whether it changed.
    pub fn cycle(&mut self, forward: bool) -> bool {
        let Some(field) = self.fields.get_mut(self.focus) else { return false };
        if !field.is_choice() {
            return false;
        }
        let n = field.choices.len();
        let i = field.choices.iter().position(|c| *c == field.value).unwrap_or(0);
        let next = if forward { (i + 1) % n } else { (i + n - 1) % n };
        field.value = field.choices[next].to_owned();
        true
    }

    fn fail(&mut self, error: FormError) -> FormError {
        if let Some(id) = error.field {
            self.focus_field(id);
        }
        self.error = Some(error.clone());
        error
    }
}

fn field_error(field: &'static str, message: impl std::fmt::Display) -> FormError {
    FormError { field: Some(field), message: format!("{field}: {message}") }
}

// ---------------------------------------------------------------------------------------------
// Create a job
// ---------------------------------------------------------------------------------------------

pub const TRIGGER_KINDS: &[&str] = &["interval", "block", "event"];
pub const ACTION_KINDS: &[&str] = &["call", "chainlink_upkeep", "gelato_resolver", "script"];

/// The job form's fields (all of a spec's, shown by trigger and action kind) and funding.
pub fn job_form() -> Form {
    let mut form = Form {
        title: "Create a job",
        fields: vec![
            Field::choice("trigger.kind", "trigger", TRIGGER_KINDS),
            Field::text("trigger.start", "start", "unix secs (interval) or block"),
            Field::text("trigger.period", "period", "secs (interval) or blocks"),
            Field::text("trigger.emitter", "emitter", "0x address whose logs trigger"),
            Field::text("trigger.topic0", "topic0", "0x event signature hash"),
            Field::text("trigger.topic1", "topic1", "0x… or empty: any"),
            Field::text("trigger.topic2", "topic2", "0x… or empty: any"),
            Field::text("trigger.topic3", "topic3", "0x… or empty: any"),
            Field::choice("action.kind", "action", ACTION_KINDS),
            Field::text("action.target", "target", "0x contract the job calls"),
            Field::text("action.data", "calldata", "0x hex"),
            Field::text("action.resolver", "resolver", "0x checker contract"),
            Field::text("action.module", "module file", "local .wasm: checked, gives the hash"),
            Field::text("action.code_url", "code url", "where keepers fetch it"),
            Field::text("action.code_hash", "code hash", "0x keccak256, empty: the file's"),
            Field::text("gas_limit", "gas limit", "21000..=5000000"),
            Field::text("max_fee_wei", "max fee (wei)", "per task"),
            Field::text("expiry_secs", "expiry", "unix secs, empty: never"),
            Field::text("funding_wei", "funding (wei)", "escrow sent with the job"),
        ],
        focus: 0,
        error: None,
    };
    form.set("gas_limit", "300000");
    update_job_form(&mut form);
    form
}

/// Shows the fields the chosen trigger and action kinds use, and names the data field after the
/// action (`calldata`, `check data`, …) in its hint.
pub fn update_job_form(form: &mut Form) {
    let trigger = form.value("trigger.kind").to_owned();
    let action = form.value("action.kind").to_owned();
    for field in &mut form.fields {
        field.visible = match field.id {
            "trigger.period" => trigger != "event",
            "trigger.emitter" | "trigger.topic0" | "trigger.topic1" | "trigger.topic2" | "trigger.topic3" => {
                trigger == "event"
            }
            "action.resolver" => action == "gelato_resolver",
            "action.module" | "action.code_url" | "action.code_hash" => action == "script",
            _ => true,
        };
        match field.id {
            "trigger.start" => {
                field.hint = if trigger == "interval" { "unix secs of task 0" } else { "block of task 0" }
            }
            "trigger.period" => field.hint = if trigger == "interval" { "seconds > 0" } else { "blocks > 0" },
            "action.data" => {
                field.label = match action.as_str() {
                    "chainlink_upkeep" => "check data",
                    "gelato_resolver" => "resolver data",
                    "script" => "args",
                    _ => "calldata",
                }
            }
            _ => {}
        }
    }
}

/// The form's field for an API field path (`spec.trigger.period_secs` → `trigger.period`).
pub fn form_field_for(api_field: &str) -> Option<&'static str> {
    let path = api_field.strip_prefix("spec.").unwrap_or(api_field);
    Some(match path {
        "trigger.start_secs" | "trigger.start_block" => "trigger.start",
        "trigger.period_secs" | "trigger.period_blocks" => "trigger.period",
        "trigger.emitter" => "trigger.emitter",
        "trigger.topic0" => "trigger.topic0",
        "action.target" => "action.target",
        "action.data" | "action.check_data" | "action.resolver_data" | "action.args" => "action.data",
        "action.resolver" => "action.resolver",
        "action.code_url" => "action.code_url",
        "action.code_hash" => "action.code_hash",
        "gas_limit" => "gas_limit",
        "max_fee_wei" => "max_fee_wei",
        "expiry_secs" => "expiry_secs",
        "funding_wei" => "funding_wei",
        _ => return None,
    })
}

/// Turns an API error (local validation or the daemon's answer) into a form error on its field.
pub fn api_form_error(error: &ApiError) -> FormError {
    FormError { field: error.field.as_deref().and_then(form_field_for), message: error.message.clone() }
}

fn parse_u64(form: &Form, id: &'static str) -> Result<u64, FormError> {
    let text = form.value(id);
    if text.is_empty() {
        return Err(field_error(id, "required"));
    }
    text.parse().map_err(|_| field_error(id, format!("{text:?} is not a whole number")))
}

fn parse_address(form: &Form, id: &'static str) -> Result<Address, FormError> {
    let text = form.value(id);
    if text.is_empty() {
        return Err(field_error(id, "required (0x followed by 40 hex digits)"));
    }
    Address::from_str(text).map_err(|_| field_error(id, format!("{text:?} is not a 0x address of 40 hex digits")))
}

fn parse_b256(form: &Form, id: &'static str) -> Result<Option<B256>, FormError> {
    let text = form.value(id);
    if text.is_empty() {
        return Ok(None);
    }
    B256::from_str(text).map(Some).map_err(|_| field_error(id, format!("{text:?} is not 0x followed by 64 hex digits")))
}

fn parse_bytes(form: &Form, id: &'static str) -> Result<Bytes, FormError> {
    let text = form.value(id);
    if text.is_empty() || text == "0x" {
        return Ok(Bytes::new());
    }
    Bytes::from_str(text).map_err(|_| field_error(id, format!("{text:?} is not 0x-prefixed hex bytes")))
}

/// A script job's code hash: the module file's keccak256 once the file passed the keepers' interface check
/// (so a job is never registered for a module keepers would refuse), else the hash typed in; both must agree.
fn script_code_hash(form: &Form, trigger: &Trigger) -> Result<B256, FormError> {
    let typed = parse_b256(form, "action.code_hash")?;
    let path = form.value("action.module");
    if path.is_empty() {
        return Ok(typed.unwrap_or_default());
    }
    let code = std::fs::read(path).map_err(|e| field_error("action.module", format!("{path}: {e}")))?;
    let limits = *keeper_script::ScriptConfig::default().limits.of(keeper_script::JobKind::of_trigger(trigger));
    keeper_script::Sandbox::new(limits).compile(&code).map_err(|e| field_error("action.module", e))?;
    let hash = alloy::primitives::keccak256(&code);
    match typed {
        Some(typed) if typed != hash => {
            Err(field_error("action.code_hash", format!("{typed} is not the module file's hash {hash}")))
        }
        _ => Ok(hash),
    }
}

/// Reads the job form into a request: parse errors name the form field, then the shared
/// validation runs (`now_secs`: the chain's time, when known, for the expiry rule).
pub fn read_job_form(form: &mut Form, now_secs: Option<u64>) -> Result<CreateJobRequest, FormError> {
    let result = parse_job_form(form).and_then(|request| {
        let context = SpecContext { now_secs, job_manager: None };
        validate_spec("spec", &request.spec, &context).map_err(|e| api_form_error(&e))?;
        validate_funding("funding_wei", request.funding_wei, true).map_err(|e| api_form_error(&e))?;
        Ok(request)
    });
    match result {
        Ok(request) => {
            form.error = None;
            Ok(request)
        }
        Err(error) => Err(form.fail(error)),
    }
}

fn parse_job_form(form: &Form) -> Result<CreateJobRequest, FormError> {
    let start = parse_u64(form, "trigger.start")?;
    let trigger = match form.value("trigger.kind") {
        "interval" => Trigger::Interval { start, period: parse_u64(form, "trigger.period")? },
        "block" => Trigger::Block { start, period: parse_u64(form, "trigger.period")? },
        _ => Trigger::Event(EventFilter {
            start,
            emitter: parse_address(form, "trigger.emitter")?,
            topic0: parse_b256(form, "trigger.topic0")?
                .ok_or_else(|| field_error("trigger.topic0", "required (the event's signature hash)"))?,
            topics: [
                parse_b256(form, "trigger.topic1")?,
                parse_b256(form, "trigger.topic2")?,
                parse_b256(form, "trigger.topic3")?,
            ],
        }),
    };
    let target = parse_address(form, "action.target")?;
    let data = parse_bytes(form, "action.data")?;
    let action = match form.value("action.kind") {
        "call" => Action::Call { target, data },
        "chainlink_upkeep" => Action::ChainlinkUpkeep { target, check_data: data },
        "gelato_resolver" => {
            Action::GelatoResolver { target, resolver: parse_address(form, "action.resolver")?, resolver_data: data }
        }
        _ => Action::Script {
            target,
            args: data,
            code_url: form.value("action.code_url").to_owned(),
            code_hash: script_code_hash(form, &trigger)?,
        },
    };
    let gas_limit = parse_u64(form, "gas_limit")?;
    let gas_limit = u32::try_from(gas_limit).map_err(|_| field_error("gas_limit", "too large"))?;
    let fee_text = form.value("max_fee_wei");
    if fee_text.is_empty() {
        return Err(field_error("max_fee_wei", "required"));
    }
    let max_fee_wei: u128 = fee_text
        .parse()
        .map_err(|_| field_error("max_fee_wei", format!("{fee_text:?} is not a whole number of wei")))?;
    let expiry_secs = match form.value("expiry_secs") {
        "" => None,
        _ => Some(parse_u64(form, "expiry_secs")?),
    };
    let funding_text = form.value("funding_wei");
    let funding_wei = if funding_text.is_empty() {
        U256::ZERO
    } else {
        parse_decimal_u256(funding_text)
            .ok_or_else(|| field_error("funding_wei", format!("{funding_text:?} is not a whole number of wei")))?
    };
    let spec = JobSpec { trigger, action, gas_limit, max_fee: max_fee_wei, expiry: expiry_secs };
    Ok(CreateJobRequest { spec, funding_wei })
}

/// What the daemon will send for a job creation: `JobManager.createJob(spec)` with the funding
/// as value, from the daemon's operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateJobPreview {
    pub request: CreateJobRequest,
    /// ABI-encoded `createJob` calldata.
    pub calldata: Bytes,
}

pub fn preview_job(request: CreateJobRequest) -> Result<CreateJobPreview, ApiError> {
    let spec = spec_to_abi("spec", &request.spec, &SpecContext::default())?;
    let calldata = Bytes::from(JobManager::createJobCall { spec }.abi_encode());
    Ok(CreateJobPreview { request, calldata })
}

// ---------------------------------------------------------------------------------------------
// Register the local operator
// ---------------------------------------------------------------------------------------------

pub fn operator_form() -> Form {
    let mut form = Form {
        title: "Register the local operator",
        fields: vec![
            Field::text("metadata_uri", "metadata URI", "EigenLayer operator metadata (optional)"),
            Field::text("allocation_delay_blocks", "alloc. delay", "blocks (new EigenLayer operators)"),
            Field::text("magnitude", "magnitude", "1e18ths of stake; empty: all"),
        ],
        focus: 0,
        error: None,
    };
    form.set("allocation_delay_blocks", "0");
    form
}

pub fn read_operator_form(form: &mut Form) -> Result<RegisterOperatorRequest, FormError> {
    let result = (|| {
        let delay = parse_u64(form, "allocation_delay_blocks")?;
        let allocation_delay_blocks =
            u32::try_from(delay).map_err(|_| field_error("allocation_delay_blocks", "must fit in 32 bits"))?;
        let magnitude = match form.value("magnitude") {
            "" => None,
            _ => {
                let magnitude = parse_u64(form, "magnitude")?;
                if magnitude == 0 || magnitude > FULL_MAGNITUDE {
                    return Err(field_error("magnitude", format!("must be in 1..={FULL_MAGNITUDE}")));
                }
                Some(magnitude)
            }
        };
        Ok(RegisterOperatorRequest {
            metadata_uri: form.value("metadata_uri").to_owned(),
            allocation_delay_blocks,
            magnitude,
        })
    })();
    match result {
        Ok(request) => {
            form.error = None;
            Ok(request)
        }
        Err(error) => Err(form.fail(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled_job_form() -> Form {
        let mut form = job_form();
        form.set("trigger.start", "1767000000");
        form.set("trigger.period", "60");
        form.set("action.target", "0x1111111111111111111111111111111111111111");
        form.set("action.data", "0xd09de08a");
        form.set("max_fee_wei", "10000000000000000");
        form.set("funding_wei", "1000000000000000000");
        form
    }

    #[test]
    fn a_filled_form_reads_into_the_request() {
        let mut form = filled_job_form();
        let request = read_job_form(&mut form, None).unwrap();
        assert_eq!(request.spec.trigger, Trigger::Interval { start: 1_767_000_000, period: 60 });
        assert_eq!(request.spec.gas_limit, 300_000);
        assert_eq!(request.funding_wei, U256::from(10u64).pow(U256::from(18)));
        let preview = preview_job(request).unwrap();
        assert_eq!(&preview.calldata[..4], JobManager::createJobCall::SELECTOR.as_slice());
    }

    #[test]
    fn the_shared_rules_name_and_focus_the_field() {
        let mut form = filled_job_form();
        form.set("trigger.period", "0");
        let error = read_job_form(&mut form, None).unwrap_err();
        assert_eq!(error.field, Some("trigger.period"));
        assert_eq!(error.message, "spec.trigger.period_secs: must be > 0");
        assert_eq!(form.focused().map(|f| f.id), Some("trigger.period"));

        let mut form = filled_job_form();
        form.set("expiry_secs", "100");
        let error = read_job_form(&mut form, Some(200)).unwrap_err();
        assert_eq!(error.field, Some("expiry_secs"));
    }

    #[test]
    fn parse_errors_name_the_field() {
        let mut form = filled_job_form();
        form.set("action.target", "0x12");
        let error = read_job_form(&mut form, None).unwrap_err();
        assert_eq!(error.field, Some("action.target"));
        assert!(error.message.starts_with("action.target: "), "{}", error.message);
    }

    #[test]
    fn kinds_show_their_fields() {
        let mut form = job_form();
        let visible = |form: &Form, id: &str| form.fields.iter().any(|f| f.id == id && f.visible);
        assert!(!visible(&form, "trigger.emitter"));
        form.focus_field("trigger.kind");
        form.cycle(true);
        form.cycle(true);
        update_job_form(&mut form);
        assert_eq!(form.value("trigger.kind"), "event");
        assert!(visible(&form, "trigger.emitter"));
        assert!(!visible(&form, "trigger.period"));
    }

    #[test]
    fn operator_form_checks_magnitude() {
        let mut form = operator_form();
        form.set("magnitude", "0");
        assert_eq!(read_operator_form(&mut form).unwrap_err().field, Some("magnitude"));
        form.set("magnitude", "");
        assert_eq!(read_operator_form(&mut form).unwrap().magnitude, None);
    }
}
