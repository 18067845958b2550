//! What the job commands print, the same from either backend: human text on stdout (messages on
//! stderr), or the API's types as JSON with `--json`.

use keeper_shared::api::{CreateJobResponse, JobList, JobView, JobWriteResponse};

use crate::exit::CliResult;
use crate::output::{self, print_fields, print_json, tx_line, Table};

pub fn created(json: bool, created: &CreateJobResponse) -> CliResult {
    if json {
        return print_json(created);
    }
    // The id alone on stdout's first line, for `id=$(keeperctl job create ... | head -1)`.
    crate::output::line(format_args!("{}", created.job_id));
    eprintln!("created job {} (forwarder {}): {}", created.job_id, created.forwarder, tx_line(&created.tx));
    Ok(())
}

pub fn job_write(json: bool, done: &str, answer: &JobWriteResponse) -> CliResult {
    if json {
        return print_json(answer);
    }
    crate::output::line(format_args!("job {} {done}: {}", answer.job_id, tx_line(&answer.tx)));
    Ok(())
}

pub fn job(json: bool, job: &JobView) -> CliResult {
    if json {
        return print_json(job);
    }
    let mut fields = vec![
        ("job", job.id.to_string()),
        ("status", job.status.to_string()),
        ("owner", job.owner.to_string()),
        ("forwarder", job.forwarder.to_string()),
        ("escrow", output::ether(job.balance_wei)),
        ("watermark", format!("{} (every task below is done for good)", job.watermark)),
        ("next due", next_due(job)),
    ];
    fields.push(("failed", format!("{} tasks (the target reverted; `task list --state failed`)", job.tasks_failed)));
    fields.extend(output::spec_lines(&job.spec));
    fields.push(("as of block", job.updated_at_block.to_string()));
    if let Some(warning) = &job.warning {
        fields.push(("warning", warning.clone()));
    }
    print_fields(&fields);
    if let Some(warning) = &job.warning {
        eprintln!("warning: job {}: {warning}", job.id);
    }
    Ok(())
}

/// `all`: the list is every page (no "more" hint).
pub fn jobs(json: bool, list: &JobList, all: bool) -> CliResult {
    if json {
        return print_json(list);
    }
    let mut table = Table::new(&["ID", "STATUS", "ESCROW", "NEXT DUE", "TRIGGER", "ACTION"]);
    for job in &list.jobs {
        table.row(vec![
            job.id.to_string(),
            job.status.to_string(),
            output::ether(job.balance_wei),
            next_due(job),
            output::trigger(&job.spec.trigger),
            output::action(&job.spec.action),
        ]);
    }
    if table.is_empty() {
        eprintln!("no jobs");
    } else {
        table.print();
    }
    if let (Some(next), false) = (list.next, all) {
        eprintln!("more: --after {next} (or --all)");
    }
    Ok(())
}

fn next_due(job: &JobView) -> String {
    if job.is_unfunded() {
        return "unfunded (top the escrow up)".to_owned();
    }
    match &job.next_due {
        None => "-".to_owned(),
        Some(next) => {
            let when = match (next.at_secs, next.at_block) {
                (Some(secs), _) => output::time_secs(secs),
                (None, Some(block)) => format!("block {block}"),
                (None, None) => String::new(),
            };
            let now = if next.due_now { " (due now)" } else { "" };
            format!("task {} {when}{now}", next.sequence)
        }
    }
}
