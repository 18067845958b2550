//! Two nodes on two hosts (network namespaces on a bridge, plus an idle host standing for the
//! chain): gossip both ways, then a partition (one host's link down) during which a message is
//! published, then the heal: the cut-off node gets the message by catch-up and gossip resumes.
//! Skips, saying so, where namespaces cannot be made (not root).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use alloy::signers::local::PrivateKeySigner;
use keeper_p2p::testbed::{HostProcess, Testbed, TestbedError};

const WAIT: Duration = Duration::from_secs(60);
const PORT: u16 = 9000;

struct NodeProcess {
    _process: HostProcess,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    name: &'static str,
}

impl NodeProcess {
    fn start(
        bed: &Testbed,
        host: &'static str,
        key: &PrivateKeySigner,
        operators: &str,
        bootstrap: Option<String>,
    ) -> Self {
        let address = bed.host(host).unwrap().address;
        let mut command = bed.command(host, env!("CARGO_BIN_EXE_keeper-p2p-node")).unwrap();
        command
            .args(["--listen", &format!("/ip4/0.0.0.0/tcp/{PORT}")])
            .args(["--external", &format!("/ip4/{address}/tcp/{PORT}")])
            .args(["--operators", operators, "--ping-ms", "300", "--redial-ms", "300"])
            .env("KEEPER_P2P_NODE_KEY", hex::encode(key.to_bytes()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        if let Some(bootstrap) = bootstrap {
            command.args(["--bootstrap", &bootstrap]);
        }
        let mut process = bed.spawn(command).unwrap();
        let stdin = process.child().stdin.take().unwrap();
        let stdout = process.child().stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { _process: process, stdin, lines, name: host }
    }

    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Reads lines until one starts with `prefix`; returns it.
    fn expect(&mut self, prefix: &str) -> String {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(line) => assert!(!line.starts_with("error"), "{}: {line}", self.name),
                Err(e) => panic!("{}: no line starting with {prefix:?} ({e})", self.name),
            }
        }
    }
}

#[test]
fn two_hosts_gossip_partition_and_heal() {
    let bed = match Testbed::new(&["chain", "op1", "op2"]) {
        Ok(bed) => bed,
        Err(TestbedError::Unavailable(reason)) => {
            println!("SKIPPED two_hosts_gossip_partition_and_heal: {reason}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let (k1, k2) = (PrivateKeySigner::random(), PrivateKeySigner::random());
    let operators = format!("{},{}", k1.address(), k2.address());
    let mut n1 = NodeProcess::start(&bed, "op1", &k1, &operators, None);
    let op1 = bed.host("op1").unwrap().address;
    let mut n2 = NodeProcess::start(&bed, "op2", &k2, &operators, Some(format!("/ip4/{op1}/tcp/{PORT}")));
    n1.expect("verified");
    n2.expect("verified");

    // Gossip both ways (a publish right after verification can beat the subscription exchange;
    // then it arrives by catch-up, which is also fine: what matters is that it arrives).
    n1.send("publish proposals 100 hello-from-op1");
    let line = n2.expect("message");
    assert!(line.ends_with(&format!("proposals {} hello-from-op1", k1.address())), "{line}");
    n2.send("publish signatures 100 hello-from-op2");
    let line = n1.expect("message");
    assert!(line.ends_with(&format!("signatures {} hello-from-op2", k2.address())), "{line}");

    // Partition: op2's link goes down; both notice through unanswered pings.
    bed.set_link("op2", false).unwrap();
    n1.expect("disconnected");
    n2.expect("disconnected");
    n1.send("publish signatures 100 during-partition");
    n1.expect("published");

    // Heal: the nodes redial, say hello, and op2 catches up on what it missed.
    bed.set_link("op2", true).unwrap();
    n2.expect("verified");
    let line = n2.expect("message");
    assert!(line.starts_with("message catch-up signatures"), "{line}");
    assert!(line.ends_with("during-partition"), "{line}");
    n1.expect("verified");

    n2.send("publish proposals 100 after-heal");
    let line = n1.expect("message");
    assert!(line.ends_with("after-heal"), "{line}");
    println!("netns: gossip, partition and heal across two namespaces passed");
}
