//! The commands that talk to keeperd's control API (the job commands, which can also go to the
//! chain, are `crate::job`), and what every command needs: the [`Context`] and argument parsing.

use std::path::PathBuf;
use std::time::Duration;

use alloy::primitives::U256;
use keeper_shared::api::job_spec::validate_funding;
use keeper_shared::api::{
    self, DepositRequest, EmptyRequest, Event, EventRecord, OperatorList, OperatorWriteResponse, OutcomeKind,
    RecentEventsQuery, RegisterOperatorRequest, StatusResponse, TaskCursor, TaskDetail, TaskList, TasksQuery,
};
use keeperctl::client::{default_socket, Client, StreamItem};

use crate::cli::{EventsArgs, OperatorCommand, TaskCommand};
use crate::exit::{CliError, CliResult, Exit};
use crate::jobspec::{self, parse_amount, parse_job_id, Defaults};
use crate::output::{self, print_fields, print_json, tx_line, Table};

/// `--from`/`--to` of `task list`, as unix seconds.
fn time_flag(flag: &str, text: Option<&str>) -> Result<Option<u64>, CliError> {
    let now = Defaults::local().now_secs;
    text.map(|text| jobspec::parse_past_time(flag, text, now).map_err(CliError::invalid)).transpose()
}

/// Writes wait for their transaction's receipt: never give up on them sooner than this.
const MIN_WRITE_TIMEOUT: Duration = Duration::from_secs(120);

/// What every daemon command needs.
#[derive(Debug, Clone)]
pub struct Context {
    pub socket: PathBuf,
    pub timeout: Duration,
    pub json: bool,
}

impl Context {
    pub fn new(socket: Option<PathBuf>, timeout: Duration, json: bool) -> Self {
        Self { socket: socket.unwrap_or_else(default_socket), timeout, json }
    }

    pub fn client(&self) -> CliResult<Client> {
        Ok(Client::new(&self.socket)?.with_timeout(self.timeout))
    }

    pub fn write_client(&self) -> CliResult<Client> {
        Ok(Client::new(&self.socket)?.with_timeout(self.timeout.max(MIN_WRITE_TIMEOUT)))
    }
}

pub fn job_id(text: &str) -> CliResult<U256> {
    parse_job_id(text).map_err(CliError::invalid)
}

pub fn amount(field: &'static str, text: &str, allow_zero: bool) -> CliResult<U256> {
    let wei = parse_amount(text)
        .map_err(|e| CliError::invalid(api::ApiError::field(api::ErrorCode::InvalidValue, field, e)))?;
    validate_funding(field, wei, allow_zero).map_err(CliError::invalid)?;
    Ok(wei)
}

// ---------------------------------------------------------------------------------------------
// status
// ---------------------------------------------------------------------------------------------

pub async fn status(context: &Context) -> CliResult {
    let status: StatusResponse = context.client()?.status().await?;
    if context.json {
        return print_json(&status);
    }
    let head = match &status.head {
        Some(head) => format!("block {} {} ({})", head.number, head.hash, output::time_secs(head.timestamp_secs)),
        None => "no block processed yet".to_owned(),
    };
    let sync = match (status.sync.chain_block, status.sync.blocks_behind) {
        (Some(chain), Some(behind)) => {
            let progress = match (status.sync.processed_block, status.sync.percent) {
                (Some(processed), Some(percent)) if behind > 0 => format!("block {processed}, {percent}%; "),
                _ => String::new(),
            };
            format!("{} ({progress}chain at {chain}, {behind} behind)", status.sync.state)
        }
        _ => status.sync.state.to_string(),
    };
    let counts: Vec<String> =
        status.health.database.task_counts.iter().map(|c| format!("{} {}", c.count, c.state)).collect();
    let database = match (&status.health.database.error, status.health.database.ok) {
        (_, true) => format!("ok; tasks: {}", if counts.is_empty() { "none".to_owned() } else { counts.join(", ") }),
        (Some(error), false) => format!("FAILING: {error}"),
        (None, false) => "FAILING".to_owned(),
    };
    let scheduler = match (status.health.scheduler.running, status.health.scheduler.head_age_secs) {
        (true, Some(age)) => format!("running, head {age}s old"),
        (true, None) => "running".to_owned(),
        (false, _) => "NOT RUNNING".to_owned(),
    };
    print_fields(&[
        ("keeperd", status.version.clone()),
        ("roles", status.roles.join(", ")),
        ("operator", status.operator.map(|a| a.to_string()).unwrap_or_else(|| "none".to_owned())),
        ("chain", format!("{} (acting {} blocks deep)", status.chain_id, status.confirmations)),
        ("head", head),
        ("sync", sync),
        ("scheduler", scheduler),
        ("database", database),
    ]);
    let mut rpc = Table::new(&["RPC ENDPOINT", "STATE", "LATENCY", "REQUESTS", "FAILURES", "LAST ERROR"]);
    for endpoint in &status.health.rpc {
        rpc.row(vec![
            endpoint.endpoint.clone(),
            endpoint.state.to_string(),
            endpoint.last_latency_ms.map(|ms| format!("{ms}ms")).unwrap_or_else(|| "-".into()),
            endpoint.requests_total.to_string(),
            endpoint.failures_total.to_string(),
            endpoint.last_error.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    crate::output::line(format_args!(""));
    rpc.print();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// task
// ---------------------------------------------------------------------------------------------

pub async fn task(context: &Context, command: TaskCommand) -> CliResult {
    let client = context.client()?;
    match command {
        TaskCommand::List(args) => {
            let after = match &args.after {
                Some(text) => Some(text.parse::<TaskCursor>().map_err(CliError::invalid)?),
                None => None,
            };
            let mut query = TasksQuery {
                state: args.state,
                job: args.job.as_deref().map(job_id).transpose()?,
                from: time_flag("--from", args.from.as_deref())?,
                to: time_flag("--to", args.to.as_deref())?,
                after,
                limit: args.limit,
            };
            let mut list: TaskList = client.tasks(&query).await?;
            while let (true, Some(next)) = (args.all, &list.next) {
                query.after = Some(next.parse::<TaskCursor>().map_err(|e| eyre::eyre!("the daemon's cursor: {e}"))?);
                let page = client.tasks(&query).await?;
                list.tasks.extend(page.tasks);
                list.next = page.next;
            }
            if context.json {
                return print_json(&list);
            }
            let mut table = Table::new(&["JOB", "SEQ", "STATE", "DUE", "UPDATED"]);
            for task in &list.tasks {
                let due = match (task.due_at_ms, task.due_block) {
                    (Some(ms), _) => output::time_ms(ms),
                    (None, Some(block)) => format!("block {block}"),
                    (None, None) => "-".into(),
                };
                table.row(vec![
                    task.job_id.to_string(),
                    task.sequence.to_string(),
                    task.state.to_string(),
                    due,
                    output::time_ms(task.updated_at_ms),
                ]);
            }
            if table.is_empty() {
                eprintln!("no tasks");
            } else {
                table.print();
            }
            if let (Some(next), false) = (&list.next, args.all) {
                eprintln!("more: --after {next} (or --all)");
            }
            Ok(())
        }
        TaskCommand::Show { job, sequence } => {
            let job = job_id(&job)?;
            let detail: TaskDetail = client.task(job, sequence).await?;
            if context.json {
                return print_json(&detail);
            }
            let task = &detail.task;
            print_fields(&[
                ("task", format!("job {} sequence {}", task.job_id, task.sequence)),
                ("state", task.state.to_string()),
                (
                    "due",
                    task.due_at_ms
                        .map(output::time_ms)
                        .or(task.due_block.map(|b| format!("block {b}")))
                        .unwrap_or_default(),
                ),
                ("response hash", task.response_hash.map(|h| h.to_string()).unwrap_or_else(|| "-".into())),
            ]);
            if let Some(reason) = detail.reason() {
                print_fields(&[("reason", reason.to_owned())]);
            }
            crate::output::line(format_args!(""));
            let mut table = Table::new(&["AT", "FROM", "TO", "DETAIL"]);
            for step in &detail.history {
                table.row(vec![
                    output::time_ms(step.at_ms),
                    step.from.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                    step.to.to_string(),
                    step.detail.clone().unwrap_or_default(),
                ]);
            }
            table.print();
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// events
// ---------------------------------------------------------------------------------------------

pub async fn events(context: &Context, args: &EventsArgs) -> CliResult {
    let client = context.client()?;
    let limit = args.limit.clamp(1, api::MAX_LIMIT);
    let recent = client.recent_events(&RecentEventsQuery { limit: Some(limit) }).await?;
    let mut printed = 0u64;
    let done = |printed: u64| args.count.is_some_and(|count| printed >= count);
    for record in &recent.events {
        if done(printed) {
            return Ok(());
        }
        print_event(context.json, record)?;
        printed += 1;
    }
    if !args.follow || done(printed) {
        return Ok(());
    }
    let mut stream = client.events(recent.events.last().map(|r| r.id));
    let mut connected_once = false;
    while let Some(item) = stream.next().await {
        match item {
            Ok(StreamItem::Event(record)) => {
                connected_once = true;
                print_event(context.json, &record)?;
                printed += 1;
                if done(printed) {
                    return Ok(());
                }
            }
            Ok(StreamItem::Missed(n)) => eprintln!("(missed {n} events: the daemon dropped them for this slow reader)"),
            Ok(StreamItem::Reconnected) => eprintln!("(reconnected to keeperd)"),
            // The first connection failing is an error; later drops are retried (the daemon restarting).
            Err(error) if !connected_once && !error.is_unreachable() => return Err(error.into()),
            Err(error) if !connected_once && recent.events.is_empty() => return Err(error.into()),
            Err(error) => eprintln!("(event stream: {error}; retrying)"),
        }
    }
    Ok(())
}

fn print_event(json: bool, record: &EventRecord) -> CliResult {
    if json {
        return print_json(record);
    }
    let what = match &record.event {
        Event::NewHead { block } => format!("new head  block {} {}", block.number, block.hash),
        Event::TaskOutcome { job_id, sequence, batch, outcome } => {
            let outcome = match outcome {
                OutcomeKind::Performed { success: true, gas_used, fee_wei } => {
                    format!("performed ({gas_used} gas, fee {})", output::ether(*fee_wei))
                }
                OutcomeKind::Performed { success: false, gas_used, .. } => {
                    format!("performed, target reverted ({gas_used} gas)")
                }
                OutcomeKind::NotExecuted => "not executed".to_owned(),
                OutcomeKind::Skipped { reason } => format!("skipped (reason {reason})"),
            };
            format!("task      job {job_id} sequence {sequence}: {outcome} in batch {batch}")
        }
        Event::TaskState { job_id, sequence, from, to, detail } => {
            let from = from.map(|f| f.to_string()).unwrap_or_else(|| "new".to_owned());
            let detail = detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
            format!("task      job {job_id} sequence {sequence}: {from} -> {to}{detail}")
        }
        Event::Job { job_id, change, status, balance_wei, block } => {
            format!("job       {job_id} {change} at block {block}: {status}, escrow {}", output::ether(*balance_wei))
        }
        Event::Health { subsystem, healthy, detail } => {
            let state = if *healthy { "healthy" } else { "UNHEALTHY" };
            let detail = detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
            format!("health    {subsystem} {state}{detail}")
        }
        Event::Unknown => "an event this keeperctl does not know (a newer keeperd?)".to_owned(),
    };
    crate::output::line(format_args!("{} #{:<6} {what}", output::time_ms(record.at_ms), record.id));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// operator
// ---------------------------------------------------------------------------------------------

pub async fn operator(context: &Context, command: OperatorCommand) -> CliResult {
    match command {
        OperatorCommand::Register(args) => {
            let request = RegisterOperatorRequest {
                metadata_uri: args.metadata_uri,
                allocation_delay_blocks: args.allocation_delay,
                magnitude: args.magnitude,
            };
            let answer: OperatorWriteResponse =
                context.write_client()?.post(api::OPERATOR_REGISTER_PATH, &request).await?;
            print_operator_write(context.json, &answer)
        }
        OperatorCommand::Deposit(args) => {
            let request = DepositRequest { strategy: args.strategy, amount: args.amount };
            let answer: OperatorWriteResponse =
                context.write_client()?.post(api::OPERATOR_DEPOSIT_PATH, &request).await?;
            print_operator_write(context.json, &answer)
        }
        OperatorCommand::Deregister => {
            let answer: OperatorWriteResponse =
                context.write_client()?.post(api::OPERATOR_DEREGISTER_PATH, &EmptyRequest {}).await?;
            print_operator_write(context.json, &answer)
        }
        OperatorCommand::Show => {
            let list: OperatorList = context.client()?.get(api::OPERATORS_PATH).await?;
            if context.json {
                return print_json(&list);
            }
            let mut table =
                Table::new(&["OPERATOR", "LOCAL", "REGISTERED", "STAKE", "SIGNED", "MISSED", "LATENCY", "LAST SEEN"]);
            for op in &list.operators {
                table.row(vec![
                    op.address.to_string(),
                    if op.local { "yes".into() } else { "".into() },
                    if op.registered { "yes".into() } else { "no".into() },
                    op.stake.to_string(),
                    op.signed.to_string(),
                    op.missed.to_string(),
                    op.signature_latency_ms.map_or_else(|| "-".into(), |ms| format!("{ms} ms")),
                    op.last_seen_ms.map(output::time_ms).unwrap_or_else(|| "-".into()),
                ]);
            }
            if table.is_empty() {
                eprintln!("no operators");
            } else {
                table.print();
            }
            Ok(())
        }
    }
}

fn print_operator_write(json: bool, answer: &OperatorWriteResponse) -> CliResult {
    if json {
        print_json(answer)?;
    } else {
        crate::output::line(format_args!("operator {}", answer.operator));
        for step in &answer.steps {
            let name =
                serde_json::to_value(step.step).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            match (&step.tx, &step.skipped) {
                (Some(tx), _) => crate::output::line(format_args!("  {name}: {}", tx_line(tx))),
                (None, Some(why)) => crate::output::line(format_args!("  {name}: skipped ({why})")),
                (None, None) => crate::output::line(format_args!("  {name}")),
            }
        }
    }
    incomplete(answer)
}

/// An unfinished (de)registration is not a success: exit 5, saying when to run it again.
fn incomplete(answer: &OperatorWriteResponse) -> CliResult {
    if answer.complete {
        return Ok(());
    }
    let when = answer.retry_at_block.map_or_else(|| "later".to_owned(), |block| format!("at block {block} or later"));
    Err(CliError::new(Exit::Incomplete, eyre::eyre!("incomplete: run the same command again {when}")))
}

/// `keeperctl tui`: the console (`keeperctl::console`) on the same client.
pub async fn console(context: &Context) -> CliResult {
    keeperctl::console::run(context.client()?).await.map_err(|e| eyre::eyre!("console: {e}").into())
}

#[cfg(test)]
mod tests {
    use alloy::primitives::Address;

    use super::*;

    #[test]
    fn an_unfinished_registration_exits_5_naming_the_block() {
        let mut answer = OperatorWriteResponse {
            operator: Address::ZERO,
            complete: false,
            steps: Vec::new(),
            retry_at_block: Some(42),
        };
        let error = incomplete(&answer).unwrap_err();
        assert_eq!(error.exit.code(), 5);
        assert_eq!(error.report.to_string(), "incomplete: run the same command again at block 42 or later");
        answer.complete = true;
        assert!(incomplete(&answer).is_ok());
    }
}
