//! `keeper-devnet run` as a newcomer runs it (`make demo`): the real binaries, a real anvil.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::net::TcpStream;
use std::process::Command;

/// `keeper-devnet <args>` running the keeperd of this checkout.
fn keeper_devnet(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keeper-devnet"));
    command.args(args).env("KEEPERD_BIN", keeper_devnet::binaries::keeperd());
    command
}

/// The whole pipeline through the real binaries: anvil, EigenLayer, three `keeperd run` daemons,
/// and a sample job of every trigger and action kind (the SDK's two example scripts, served by the
/// devnet, included), each performed (the devnet itself fails if a
/// task is performed twice).
#[test]
fn devnet_keepers_perform_every_kind_of_job_and_stop_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let output =
        keeper_devnet(&["run", "--keepers", "3", "--interval", "2", "--until-performed", "1", "--duration", "240"])
            .arg("--dir")
            .arg(dir.path())
            .env("KEEPER_ANVIL", keeper_devnet::anvil::binary())
            .output()
            .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let logs = (0..3)
        .map(|i| std::fs::read_to_string(dir.path().join(format!("operator-{i}/keeperd.log"))).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(output.status.success(), "{stdout}\n{}\n{logs}", String::from_utf8_lossy(&output.stderr));
    for expected in [
        "deployed EigenLayer core",
        "wrote the deployment file",
        "key registry: 3 keepers, aggregate key matches, total weight 600 tokens",
        "started 3 keeperd daemons",
        "(interval: counter.increment())",
        "(block: counter.increment() every 10 blocks)",
        "(Chainlink-style: liquidation book checkUpkeep/performUpkeep)",
        "(Gelato-style: vault harvest when the resolver says so)",
        "(event: mirror.sync() on each oracle AnswerUpdated)",
        "script server: the SDK's examples on http://127.0.0.1:",
        "(script: time window, counter.increment() from 00:00 to 24:00 UTC)",
        "(script: price deviation, mirror.sync() when the oracle moved > 0.01%)",
        "done: stopping anvil",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
    // Each daemon's control socket, with the line to attach to it.
    for i in 0..3 {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("keeper {i}: control socket ")))
            .unwrap_or_else(|| panic!("no socket line for keeper {i}:\n{stdout}"));
        assert!(line.contains(&format!("operator-{i}/data/keeperd.sock; attach: keeperctl --socket ")), "{line}");
    }
    for kind in ["interval", "block", "Chainlink-style", "Gelato-style", "event", "script: time", "script: price"] {
        assert!(
            stdout.lines().any(|l| l.starts_with("performed: ") && l.contains(kind)),
            "{kind} not performed:\n{stdout}"
        );
    }
    // Every keeper signed, and the daemons stopped on SIGTERM (not killed).
    for i in 0..3 {
        let log = std::fs::read_to_string(dir.path().join(format!("operator-{i}/keeperd.log"))).unwrap();
        assert!(log.contains("keeper: signed batch"), "operator {i} never signed:\n{log}");
        assert!(log.contains("keeperd stopped"), "operator {i} did not stop cleanly:\n{log}");
    }
    let deployment = keeper_shared::deployment::Deployment::read(&dir.path().join("deployment.json")).unwrap();
    assert_eq!(deployment.chain_id, 31337);
    // anvil is gone once keeper-devnet has exited.
    let endpoint = stdout.lines().find_map(|l| l.split("listening on http://").nth(1)).unwrap().trim();
    let port = endpoint.rsplit(':').next().unwrap();
    assert!(
        TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).is_err(),
        "anvil still listening on {port}"
    );
}

#[test]
fn devnet_with_a_missing_anvil_is_a_clear_error() {
    let output = keeper_devnet(&["run", "--anvil", "/nonexistent/anvil"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("starting anvil from /nonexistent/anvil"), "{stderr}");
}

#[test]
fn help_and_version() {
    let version = keeper_devnet(&["--version"]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("keeper-devnet {}", keeper_shared::version::long())
    );
    let help = String::from_utf8_lossy(&keeper_devnet(&["--help"]).output().unwrap().stdout).into_owned();
    assert!(help.contains("run") && help.contains("bench-load"), "{help}");
    let bench =
        String::from_utf8_lossy(&keeper_devnet(&["bench-load", "--help"]).output().unwrap().stdout).into_owned();
    assert!(bench.contains("--transport <TRANSPORT>"), "{bench}");
    let bad = keeper_devnet(&["run", "--keepers", "0"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let bad = keeper_devnet(&["bench-load", "--transport", "pigeon"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

/// A keeperd that cannot be started is an error naming it (after anvil and the deployment are up).
#[test]
fn a_missing_keeperd_is_a_clear_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_keeper-devnet"))
        .args(["run", "--keeperd", "/nonexistent/keeperd", "--anvil"])
        .arg(keeper_devnet::anvil::binary())
        .arg("--dir")
        .arg(tempfile::tempdir().unwrap().path())
        .args(["--keepers", "1", "--duration", "1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("starting /nonexistent/keeperd"), "{stderr}");
}

/// SIGTERM (as Ctrl-C) in the middle of the walk-through stops anvil and exits non-zero.
#[test]
fn sigterm_stops_anvil_and_exits_non_zero() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let dir = tempfile::tempdir().unwrap();
    let mut child = keeper_devnet(&["run", "--dir"])
        .arg(dir.path())
        .env("KEEPER_ANVIL", keeper_devnet::anvil::binary())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let port: u16 = first.trim().rsplit(':').next().unwrap().parse().unwrap();
    // Deploying takes dozens of transactions: the signal lands while the walk-through is running.
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(status.code(), Some(1), "{first}{rest}");
    assert!(rest.contains("interrupted: stopping anvil"), "{first}{rest}");
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "anvil still listening on {port}");
}
