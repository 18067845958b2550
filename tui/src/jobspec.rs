//! The job spec from `job create`/`job update` flags or a spec file, as the job domain's
//! [`JobSpec`], checked by the one validation keeperd runs too (`keeper_shared::job::validate`), with
//! each error naming the field and, for flags, the flag.

use std::path::Path;
use std::str::FromStr;

use alloy::dyn_abi::{DynSolType, JsonAbiExt};
use alloy::json_abi::Function;
use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
use keeper_shared::api::job_spec::{validate_spec, SpecContext};
use keeper_shared::api::{parse_body, ApiError, ErrorCode};
use keeper_shared::job::{Action, EventFilter, JobSpec, Trigger};

use crate::cli::SpecArgs;

/// Where a spec sits in the API's request bodies (error fields start with it).
pub const PREFIX: &str = "spec";

fn invalid(field: &str, reason: impl std::fmt::Display) -> ApiError {
    ApiError::field(ErrorCode::InvalidValue, field, reason)
}

/// `60`, `60s`, `5m`, `2h`, `1d` as seconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration (60s, 5m, 1h, 1d)"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (s, m, h, d)")),
    };
    number.checked_mul(scale).ok_or_else(|| format!("{text:?} is too long"))
}

/// An amount of wei: `123`, `123wei`, `20gwei`, `0.1ether` (`eth` too).
pub fn parse_amount(text: &str) -> Result<U256, String> {
    let text = text.trim();
    let lower = text.to_ascii_lowercase();
    let (number, decimals) = if let Some(n) = lower.strip_suffix("gwei") {
        (n, 9)
    } else if let Some(n) = lower.strip_suffix("wei") {
        (n, 0)
    } else if let Some(n) = lower.strip_suffix("ether").or_else(|| lower.strip_suffix("eth")) {
        (n, 18)
    } else {
        (lower.as_str(), 0)
    };
    let bad = || format!("{text:?} is not an amount (wei, or with a unit: 20gwei, 0.1ether)");
    let number = number.trim();
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    if fraction.len() > decimals {
        return Err(format!("{text:?} has more decimals than the unit allows (smallest: 1 wei)"));
    }
    let digits = format!("{whole}{fraction:0<decimals$}");
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Ok(U256::ZERO);
    }
    U256::from_str_radix(digits, 10).map_err(|_| format!("{text:?} is too large"))
}

/// A job id as given on the command line (decimal).
pub fn parse_job_id(text: &str) -> Result<U256, ApiError> {
    keeper_shared::api::parse_job_id("id", text)
}

fn parse_address(field: &str, text: &str) -> Result<Address, ApiError> {
    Address::from_str(text.trim())
        .map_err(|_| invalid(field, format!("{text:?} is not an address (0x + 40 hex digits)")))
}

fn parse_hex(field: &str, text: &str) -> Result<Bytes, ApiError> {
    let text = text.trim();
    let digits = text.strip_prefix("0x").unwrap_or(text);
    hex_decode(digits).map(Bytes::from).ok_or_else(|| invalid(field, format!("{text:?} is not hex bytes")))
}

fn hex_decode(digits: &str) -> Option<Vec<u8>> {
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    (0..digits.len()).step_by(2).map(|i| u8::from_str_radix(digits.get(i..i + 2)?, 16).ok()).collect()
}

fn parse_b256(field: &str, text: &str) -> Result<B256, ApiError> {
    B256::from_str(text.trim()).map_err(|_| invalid(field, format!("{text:?} is not 32 bytes of hex")))
}

/// Calldata for `signature` ('transfer(address,uint256)') with `args`, as `cast calldata` encodes it.
pub fn encode_call(field: &str, signature: &str, args: &[String]) -> Result<Bytes, ApiError> {
    let function = Function::parse(signature)
        .map_err(|e| invalid(field, format!("{signature:?} is not a function signature: {e}")))?;
    if function.inputs.len() != args.len() {
        return Err(invalid(
            "--args",
            format!("{} takes {} argument(s), {} given", function.signature(), function.inputs.len(), args.len()),
        ));
    }
    let mut values = Vec::with_capacity(args.len());
    for (i, (param, arg)) in function.inputs.iter().zip(args).enumerate() {
        let ty =
            DynSolType::parse(&param.selector_type()).map_err(|e| invalid(field, format!("parameter {i}: {e}")))?;
        values.push(
            ty.coerce_str(arg).map_err(|e| invalid("--args", format!("argument {i} ({}): {arg:?}: {e}", param.ty)))?,
        );
    }
    function.abi_encode_input(&values).map(Bytes::from).map_err(|e| invalid("--args", e))
}

/// The topic0 of an event given by signature or as 32 bytes of hex.
fn event_topic(text: &str) -> Result<B256, ApiError> {
    let text = text.trim();
    if text.starts_with("0x") {
        return parse_b256("--on-event", text);
    }
    let event = alloy::json_abi::Event::parse(text)
        .map_err(|e| invalid("--on-event", format!("{text:?} is neither an event signature nor a topic: {e}")))?;
    Ok(keccak256(event.signature()))
}

/// What the flags need from the outside world: the current time and block for defaults.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    pub now_secs: u64,
    /// The current block, if known (the default first block of an event job).
    pub block: Option<u64>,
}

impl Defaults {
    pub fn local() -> Self {
        let now_secs =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        Self { now_secs, block: None }
    }
}

/// The spec the flags (or `--file`) describe, validated (with `context`: what is known of the
/// chain). Errors name the API field and the flag.
pub fn spec_from_args(args: &SpecArgs, defaults: Defaults, context: &SpecContext) -> Result<JobSpec, ApiError> {
    let spec = match &args.file {
        Some(file) => {
            if has_spec_flags(args) {
                return Err(invalid("--file", "give the spec either as a file or as flags, not both"));
            }
            read_spec_file(file)?
        }
        None => spec_from_flags(args, defaults)?,
    };
    validate_spec(PREFIX, &spec, context).map_err(|e| if args.file.is_some() { e } else { name_flag(e) })?;
    Ok(spec)
}

fn has_spec_flags(args: &SpecArgs) -> bool {
    let SpecArgs {
        file: _,
        target,
        calldata,
        signature,
        args,
        interval,
        start,
        every_blocks,
        on_event,
        emitter,
        topics,
        start_block,
        checker,
        checker_calldata,
        checker_signature,
        upkeep,
        check_data,
        script,
        code_url,
        gas_limit,
        max_fee,
        expiry,
    } = args;
    target.is_some()
        || calldata.is_some()
        || signature.is_some()
        || !args.is_empty()
        || interval.is_some()
        || start.is_some()
        || every_blocks.is_some()
        || on_event.is_some()
        || emitter.is_some()
        || !topics.is_empty()
        || start_block.is_some()
        || checker.is_some()
        || checker_calldata.is_some()
        || checker_signature.is_some()
        || *upkeep
        || check_data.is_some()
        || script.is_some()
        || code_url.is_some()
        || *gas_limit != SpecArgs::DEFAULT_GAS_LIMIT
        || max_fee.is_some()
        || expiry.is_some()
}

impl SpecArgs {
    pub const DEFAULT_GAS_LIMIT: u32 = 300_000;
}

/// Appends the flag that sets an API field to validation errors about it.
fn name_flag(mut error: ApiError) -> ApiError {
    let flag = match error.field.as_deref().and_then(|f| f.strip_prefix("spec.")) {
        Some("trigger.period_secs") => "--interval",
        Some("trigger.period_blocks") => "--every-blocks",
        Some("trigger.emitter") => "--emitter",
        Some("action.target") => "--target",
        Some("action.data") => "--calldata/--signature",
        Some("action.check_data") => "--check-data",
        Some("action.resolver_data") => "--checker-calldata",
        Some("action.resolver") => "--checker",
        Some("action.code_url") => "--code-url",
        Some("action.code_hash") => "--script",
        Some("action.args") => "--args",
        Some("gas_limit") => "--gas-limit",
        Some("max_fee_wei") => "--max-fee",
        Some("expiry_secs") => "--expiry",
        _ => return error,
    };
    error.message = format!("{} (flag {flag})", error.message);
    error
}

fn spec_from_flags(args: &SpecArgs, defaults: Defaults) -> Result<JobSpec, ApiError> {
    let target = match &args.target {
        Some(text) => parse_address("--target", text)?,
        None => return Err(invalid("spec.action.target", "required (flag --target)")),
    };
    let trigger = if let Some(interval) = &args.interval {
        let period_secs = parse_duration(interval).map_err(|e| invalid("--interval", e))?;
        Trigger::Interval { start: args.start.unwrap_or(defaults.now_secs), period: period_secs }
    } else if let Some(period_blocks) = args.every_blocks {
        Trigger::Block { start: args.start_block.unwrap_or(0), period: period_blocks }
    } else if let Some(event) = &args.on_event {
        let emitter = match &args.emitter {
            Some(text) => parse_address("--emitter", text)?,
            None => return Err(invalid("spec.trigger.emitter", "required with --on-event (flag --emitter)")),
        };
        let mut topics = [None; 3];
        for (slot, text) in topics.iter_mut().zip(&args.topics) {
            if text.trim() != "*" {
                *slot = Some(parse_b256("--topics", text)?);
            }
        }
        let start_block = args.start_block.or(defaults.block).unwrap_or(0);
        Trigger::Event(EventFilter { start: start_block, emitter, topic0: event_topic(event)?, topics })
    } else {
        return Err(invalid("spec.trigger", "required: one of --interval, --every-blocks, --on-event"));
    };
    if args.start_block.is_some() && matches!(trigger, Trigger::Interval { .. }) {
        return Err(invalid("--start-block", "applies to --every-blocks and --on-event (use --start with --interval)"));
    }
    if !args.args.is_empty() && args.signature.is_none() && args.script.is_none() {
        return Err(invalid("--args", "needs --signature (the function's arguments) or --script (the script's)"));
    }
    let action = if let Some(path) = &args.script {
        let code_url = args
            .code_url
            .clone()
            .ok_or_else(|| invalid("spec.action.code_url", "required with --script (flag --code-url)"))?;
        let script_args = match args.args.as_slice() {
            [] => Bytes::new(),
            [hex] => parse_hex("--args", hex)?,
            _ => return Err(invalid("--args", "a script takes its arguments as one hex value")),
        };
        let module = crate::script::LocalModule::load("--script", path, keeper_script::JobKind::of_trigger(&trigger))
            .map_err(|e| invalid("--script", format!("{:#}", e.report)))?;
        Action::Script { target, args: script_args, code_url, code_hash: module.code_hash }
    } else if let Some(checker) = &args.checker {
        let resolver = parse_address("--checker", checker)?;
        let resolver_data = match (&args.checker_calldata, &args.checker_signature) {
            (Some(hex), _) => parse_hex("--checker-calldata", hex)?,
            (None, Some(signature)) => encode_call("--checker-signature", signature, &[])?,
            (None, None) => encode_call("--checker-signature", "checker()", &[])?,
        };
        Action::GelatoResolver { target, resolver, resolver_data }
    } else if args.upkeep {
        let check_data = match &args.check_data {
            Some(hex) => parse_hex("--check-data", hex)?,
            None => Bytes::new(),
        };
        Action::ChainlinkUpkeep { target, check_data }
    } else {
        let data = match (&args.calldata, &args.signature) {
            (Some(hex), _) => parse_hex("--calldata", hex)?,
            (None, Some(signature)) => encode_call("--signature", signature, &args.args)?,
            (None, None) => Bytes::new(),
        };
        Action::Call { target, data }
    };
    let max_fee_wei = match &args.max_fee {
        Some(text) => {
            let wei = parse_amount(text).map_err(|e| invalid("--max-fee", e))?;
            u128::try_from(wei).map_err(|_| invalid("spec.max_fee_wei", "must be below 2^80 (flag --max-fee)"))?
        }
        None => return Err(invalid("spec.max_fee_wei", "required (flag --max-fee, e.g. 0.001ether)")),
    };
    let expiry_secs = match &args.expiry {
        None => None,
        Some(text) => Some(match text.trim().strip_prefix('+') {
            Some(duration) => {
                defaults.now_secs.saturating_add(parse_duration(duration).map_err(|e| invalid("--expiry", e))?)
            }
            None => text
                .trim()
                .parse()
                .map_err(|_| invalid("--expiry", format!("{text:?} is not unix seconds or +DURATION")))?,
        }),
    };
    Ok(JobSpec { trigger, action, gas_limit: args.gas_limit, max_fee: max_fee_wei, expiry: expiry_secs })
}

/// A time flag: unix seconds, or `-DURATION` before `now_secs` (`-1h`, `-30m`).
pub fn parse_past_time(flag: &str, text: &str, now_secs: u64) -> Result<u64, ApiError> {
    let text = text.trim();
    match text.strip_prefix('-') {
        Some(duration) => Ok(now_secs.saturating_sub(parse_duration(duration).map_err(|e| invalid(flag, e))?)),
        None => text.parse().map_err(|_| invalid(flag, format!("{text:?} is not unix seconds or -DURATION"))),
    }
}

/// A spec file: the API's `spec` object in JSON, or the same shape in TOML (chosen by the
/// extension; `.toml` is TOML, anything else JSON). Unknown fields are refused by name.
pub fn read_spec_file(path: &Path) -> Result<JobSpec, ApiError> {
    let name = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| invalid("--file", format!("{name}: {e}")))?;
    let json = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml")) {
        let value: serde_json::Value =
            toml::from_str(&text).map_err(|e| invalid("--file", format!("{name}: not TOML: {e}")))?;
        serde_json::to_vec(&value).map_err(|e| invalid("--file", format!("{name}: {e}")))?
    } else {
        text.into_bytes()
    };
    parse_body::<JobSpec>(&json).map_err(|e| {
        let field = e.field.as_deref().map(|f| format!("spec.{f}")).unwrap_or_else(|| "spec".to_owned());
        let mut error = ApiError::field(ErrorCode::InvalidValue, field, format!("in {name}: {}", e.message));
        error.code = e.code;
        error
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn args() -> SpecArgs {
        SpecArgs {
            target: Some("0x1111111111111111111111111111111111111111".into()),
            interval: Some("60s".into()),
            max_fee: Some("0.01ether".into()),
            gas_limit: SpecArgs::DEFAULT_GAS_LIMIT,
            ..SpecArgs::default()
        }
    }

    const DEFAULTS: Defaults = Defaults { now_secs: 1_000, block: Some(77) };

    #[test]
    fn past_times_are_unix_seconds_or_a_duration_ago() {
        assert_eq!(parse_past_time("--from", "1700000000", 5_000).unwrap(), 1_700_000_000);
        assert_eq!(parse_past_time("--from", "-1h", 5_000).unwrap(), 1_400);
        assert_eq!(parse_past_time("--from", "-2h", 5_000).unwrap(), 0);
        let error = parse_past_time("--to", "yesterday", 5_000).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("--to"), "{error:?}");
        assert!(parse_past_time("--to", "-1fortnight", 5_000).is_err());
    }

    #[test]
    fn units() {
        assert_eq!(parse_duration("60s").unwrap(), 60);
        assert_eq!(parse_duration("90").unwrap(), 90);
        assert_eq!(parse_duration("5m").unwrap(), 300);
        assert_eq!(parse_duration("1d").unwrap(), 86_400);
        assert!(parse_duration("5y").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("s").is_err());
        assert_eq!(parse_amount("0.1ether").unwrap(), U256::from(10u128.pow(17)));
        assert_eq!(parse_amount("20gwei").unwrap(), U256::from(20_000_000_000u64));
        assert_eq!(parse_amount("1.5 ETH").unwrap(), U256::from(15u128 * 10u128.pow(17)));
        assert_eq!(parse_amount("123").unwrap(), U256::from(123));
        assert_eq!(parse_amount("0").unwrap(), U256::ZERO);
        assert!(parse_amount("0.5wei").unwrap_err().contains("decimals"));
        assert!(parse_amount("ten").is_err());
        assert!(parse_amount(".").is_err());
    }

    #[test]
    fn flags_make_each_kind_of_spec() {
        let spec = spec_from_args(&args(), DEFAULTS, &SpecContext::default()).unwrap();
        assert_eq!(spec.trigger, Trigger::Interval { start: 1_000, period: 60 });
        assert_eq!(spec.max_fee, 10u128.pow(16));
        assert!(matches!(&spec.action, Action::Call { data, .. } if data.is_empty()));

        let mut call = args();
        call.signature = Some("transfer(address,uint256)".into());
        call.args = vec!["0x2222222222222222222222222222222222222222".into(), "5".into()];
        let spec = spec_from_args(&call, DEFAULTS, &SpecContext::default()).unwrap();
        let Action::Call { data, .. } = &spec.action else { panic!() };
        // transfer(address,uint256)'s selector is a9059cbb (ERC-20).
        assert_eq!(&data[..4], &[0xa9, 0x05, 0x9c, 0xbb]);
        assert_eq!(data.len(), 4 + 64);
        assert_eq!(data[data.len() - 1], 5);

        let mut event = args();
        event.interval = None;
        event.on_event = Some("Transfer(address,address,uint256)".into());
        event.emitter = Some("0x3333333333333333333333333333333333333333".into());
        event.topics = vec!["*".into(), format!("0x{}", "ab".repeat(32))];
        let spec = spec_from_args(&event, DEFAULTS, &SpecContext::default()).unwrap();
        let Trigger::Event(EventFilter { start, topic0, topics, .. }) = spec.trigger else { panic!() };
        assert_eq!(start, 77);
        // keccak256("Transfer(address,address,uint256)"), the ERC-20 Transfer topic.
        assert_eq!(topic0.to_string(), "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
        assert_eq!(topics, [None, Some(B256::repeat_byte(0xab)), None]);

        let mut gelato = args();
        gelato.checker = Some("0x4444444444444444444444444444444444444444".into());
        let spec = spec_from_args(&gelato, DEFAULTS, &SpecContext::default()).unwrap();
        let Action::GelatoResolver { resolver_data, .. } = &spec.action else { panic!() };
        assert_eq!(resolver_data.len(), 4, "checker() selector");

        let mut blocks = args();
        blocks.interval = None;
        blocks.every_blocks = Some(10);
        blocks.upkeep = true;
        let spec = spec_from_args(&blocks, DEFAULTS, &SpecContext::default()).unwrap();
        assert_eq!(spec.trigger, Trigger::Block { start: 0, period: 10 });
        assert!(matches!(spec.action, Action::ChainlinkUpkeep { .. }));
    }

    #[test]
    fn errors_name_the_field_and_the_flag() {
        let check = |args: SpecArgs, field: &str, words: &str| {
            let err = spec_from_args(&args, DEFAULTS, &SpecContext::default()).unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field), "{}", err.message);
            assert!(err.message.contains(words), "{}", err.message);
        };
        let mut a = args();
        a.interval = Some("0s".into());
        check(a, "spec.trigger.period_secs", "--interval");
        let mut a = args();
        a.gas_limit = 100;
        check(a, "spec.gas_limit", "--gas-limit");
        let mut a = args();
        a.max_fee = None;
        check(a, "spec.max_fee_wei", "--max-fee");
        let mut a = args();
        a.target = Some("0x12".into());
        check(a, "--target", "not an address");
        let mut a = args();
        a.interval = None;
        check(a, "spec.trigger", "--interval");
        let mut a = args();
        a.signature = Some("harvest(uint256)".into());
        check(a, "--args", "1 argument(s), 0 given");
        let mut a = args();
        a.expiry = Some("500".into());
        check(a, "spec.expiry_secs", "before the first task");
    }

    #[test]
    fn spec_files_in_toml_and_json_with_named_errors() {
        let dir = tempfile::tempdir().unwrap();
        let toml_file = dir.path().join("job.toml");
        std::fs::write(
            &toml_file,
            r#"
gas_limit = 200000
max_fee_wei = "1000000000000000"
[trigger]
kind = "block"
start_block = 0
period_blocks = 5
[action]
kind = "call"
target = "0x1111111111111111111111111111111111111111"
data = "0xd09de08a"
"#,
        )
        .unwrap();
        let file_args =
            SpecArgs { file: Some(toml_file.clone()), gas_limit: SpecArgs::DEFAULT_GAS_LIMIT, ..Default::default() };
        let spec = spec_from_args(&file_args, DEFAULTS, &SpecContext::default()).unwrap();
        assert_eq!(spec.gas_limit, 200_000);
        assert_eq!(spec.expiry, None);

        let json_file = dir.path().join("job.json");
        let mut value = serde_json::to_value(&spec).unwrap();
        std::fs::write(&json_file, value.to_string()).unwrap();
        let file_args = SpecArgs { file: Some(json_file.clone()), ..file_args };
        assert_eq!(spec_from_args(&file_args, DEFAULTS, &SpecContext::default()).unwrap(), spec);

        value["trigger"]["period_blokcs"] = 3.into();
        std::fs::write(&json_file, value.to_string()).unwrap();
        let err = spec_from_args(&file_args, DEFAULTS, &SpecContext::default()).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("spec.trigger.period_blokcs"), "{}", err.message);

        value["trigger"] = serde_json::json!({"kind": "block", "start_block": 0, "period_blocks": 0});
        std::fs::write(&json_file, value.to_string()).unwrap();
        let err = spec_from_args(&file_args, DEFAULTS, &SpecContext::default()).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("spec.trigger.period_blocks"));

        let mut both = file_args;
        both.target = Some("0x1111111111111111111111111111111111111111".into());
        assert_eq!(
            spec_from_args(&both, DEFAULTS, &SpecContext::default()).unwrap_err().field.as_deref(),
            Some("--file")
        );
    }
}
