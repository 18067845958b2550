//! What ships besides the code: `keeperd --version` and the systemd unit in packaging/.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::PathBuf;
use std::process::Command;

const UNIT: &str = include_str!("../../packaging/keeperd.service");
/// Where the unit expects the binary (the README's install step puts it there).
const INSTALLED_BINARY: &str = "/usr/local/bin/keeperd";

/// The unit's directives in order (a directive may repeat), continuation lines joined, comments
/// and section headers dropped.
fn directives(unit: &str) -> Vec<(String, String)> {
    let mut joined = Vec::new();
    let mut pending = String::new();
    for line in unit.lines() {
        let line = line.trim();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('[')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head);
                pending.push(' ');
            }
            None => {
                pending.push_str(line);
                joined.push(std::mem::take(&mut pending));
            }
        }
    }
    joined
        .into_iter()
        .map(|line| {
            let (key, value) = line.split_once('=').unwrap_or_else(|| panic!("not a directive: {line}"));
            (key.trim().to_owned(), value.trim().to_owned())
        })
        .collect()
}

fn values<'a>(directives: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    directives.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
}

fn exec_start() -> Vec<String> {
    let all = directives(UNIT);
    let exec = values(&all, "ExecStart");
    assert_eq!(exec.len(), 1, "one ExecStart: {exec:?}");
    exec[0].split_whitespace().map(str::to_owned).collect()
}

/// The value of `--flag` on the unit's command line.
fn flag_value(args: &[String], flag: &str) -> String {
    let at = args.iter().position(|a| a == flag).unwrap_or_else(|| panic!("ExecStart lacks {flag}: {args:?}"));
    args.get(at + 1).unwrap_or_else(|| panic!("{flag} has no value")).clone()
}

#[test]
fn version_names_the_package_and_the_commit_or_says_dev_build() {
    let output = Command::new(env!("CARGO_BIN_EXE_keeperd")).arg("--version").output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.trim(), format!("keeperd {}", keeper_shared::version::long()));
    let expected = match option_env!("KEEPER_GIT_COMMIT") {
        Some(commit) if !commit.trim().is_empty() => format!("(commit {})", commit.trim()),
        _ => "(dev build, unknown commit)".to_owned(),
    };
    assert!(stdout.contains(env!("CARGO_PKG_VERSION")) && stdout.contains(&expected), "{stdout}");
}

#[test]
fn unit_sets_every_hardening_directive() {
    let all = directives(UNIT);
    for (key, value) in [
        ("User", "keeperd"),
        ("Restart", "on-failure"),
        ("StateDirectory", "keeperd"),
        ("RuntimeDirectory", "keeperd"),
        ("RuntimeDirectoryMode", "0700"),
        ("LogsDirectory", "keeperd"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectKernelLogs", "yes"),
        ("ProtectControlGroups", "yes"),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
        ("SystemCallFilter", "@system-service"),
        ("MemoryDenyWriteExecute", "yes"),
        ("CapabilityBoundingSet", ""),
    ] {
        assert!(values(&all, key).contains(&value), "{key}={value} missing; the unit has {:?}", values(&all, key));
    }
}

#[test]
fn unit_paths_live_in_the_directories_systemd_makes_and_the_password_is_a_credential() {
    let args = exec_start();
    assert_eq!(args[..2], [INSTALLED_BINARY, "run"]);
    assert_eq!(flag_value(&args, "--data-dir"), "/var/lib/keeperd", "StateDirectory=keeperd");
    assert_eq!(flag_value(&args, "--api-socket"), "/run/keeperd/keeperd.sock", "RuntimeDirectory=keeperd");
    assert_eq!(flag_value(&args, "--log-dir"), "/var/log/keeperd", "LogsDirectory=keeperd");
    assert!(flag_value(&args, "--config").starts_with("/etc/keeperd/"), "ConfigurationDirectory=keeperd");

    // Every file read from the credentials directory is one LoadCredential provides.
    let all = directives(UNIT);
    let credentials: Vec<&str> =
        values(&all, "LoadCredential").into_iter().map(|v| v.split_once(':').expect("name:path").0).collect();
    let from_credentials: Vec<&String> = args.iter().filter(|a| a.starts_with("%d/")).collect();
    assert!(from_credentials.contains(&&format!("%d/{}", "keystore-password")), "{args:?}");
    assert_eq!(flag_value(&args, "--password-file"), "%d/keystore-password");
    for arg in from_credentials {
        assert!(credentials.contains(&&arg[3..]), "{arg} is no LoadCredential ({credentials:?})");
    }
}

#[test]
fn unit_flags_are_keeperd_run_flags() {
    let help = Command::new(env!("CARGO_BIN_EXE_keeperd")).args(["run", "--help"]).output().unwrap();
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    let flags: Vec<String> = exec_start().into_iter().filter(|a| a.starts_with("--")).collect();
    assert!(flags.len() >= 7, "{flags:?}");
    for flag in flags {
        assert!(help.contains(&format!("{flag} <")), "`keeperd run` has no {flag}:\n{help}");
    }
}

/// `systemd-analyze` on PATH, if this machine has it (CI images often lack systemd).
fn systemd_analyze() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("systemd-analyze")).find(|p| p.is_file())
}

#[test]
fn systemd_analyze_verifies_the_unit() {
    let Some(analyze) = systemd_analyze() else {
        println!("SKIPPED: systemd-analyze is not on PATH; the unit was only checked statically");
        return;
    };
    // verify insists the ExecStart binary exists: point it at the one cargo built.
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("keeperd.service");
    std::fs::write(&unit, UNIT.replace(INSTALLED_BINARY, env!("CARGO_BIN_EXE_keeperd"))).unwrap();
    let verify = run(Command::new(&analyze).arg("verify").arg(&unit));
    assert!(verify.status.success(), "systemd-analyze verify failed:\n{}", stderr(&verify));
    // Unknown or misspelled directives are only warnings: none is allowed.
    assert!(verify.stderr.is_empty(), "systemd-analyze verify warned:\n{}", stderr(&verify));

    // The exposure score, for the record (`--offline` needs systemd 250+).
    let security = run(Command::new(&analyze).args(["security", "--offline=true"]).arg(&unit));
    let stdout = String::from_utf8_lossy(&security.stdout);
    match stdout.lines().find(|l| l.contains("Overall exposure level")) {
        Some(line) => println!("{}", line.trim_start_matches('→').trim()),
        None => println!("systemd-analyze security gave no score: {}", stderr(&security)),
    }
}

fn run(command: &mut Command) -> std::process::Output {
    command.output().unwrap_or_else(|e| panic!("running {command:?}: {e}"))
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
