//! A stand-alone node of the operators' network for test beds (one per network namespace): a
//! fixed operator set on a synthetic chain (`StaticRegistry`), payloads accepted as they are.
//! Not keeperd: it exists to exercise the network layer across hosts.
//!
//! Flags: `--listen MULTIADDR` (repeatable), `--external MULTIADDR` (repeatable), `--bootstrap
//! MULTIADDR` (repeatable), `--operators ADDR,ADDR,…` (the registered set), `--head N` (the chain
//! head; block N's hash is the static chain's), `--chain-id N`, `--task-manager ADDR`,
//! `--ping-ms N` (interval; the timeout is twice it), `--redial-ms N`. The operator key (hex)
//! comes from the environment variable `KEEPER_P2P_NODE_KEY`, never from a flag.
//!
//! Stdin, one command a line: `publish proposals|signatures BLOCK TEXT`, `peers`, `catch-up`,
//! `quit`. Stdout, one event a line: `listening PEER_ID`, `verified PEER OPERATOR`, `refused
//! PEER`, `disconnected PEER`, `message gossip|catch-up TOPIC AUTHOR TEXT`, `published ID`,
//! `peers VERIFIED`, `error TEXT`.

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use keeper_p2p::validation::AcceptAll;
use keeper_p2p::{Keypair, MessageSource, Multiaddr, NetworkId, NodeConfig, NodeEvent, StaticRegistry, Topic};

struct Args {
    listen: Vec<Multiaddr>,
    external: Vec<Multiaddr>,
    bootstrap: Vec<Multiaddr>,
    operators: Vec<Address>,
    head: u64,
    network: NetworkId,
    ping: Duration,
    redial: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: Vec::new(),
        external: Vec::new(),
        bootstrap: Vec::new(),
        operators: Vec::new(),
        head: 100,
        network: NetworkId { chain_id: 31337, task_manager: Address::repeat_byte(0xaa) },
        ping: Duration::from_secs(10),
        redial: Duration::from_secs(1),
    };
    let mut raw = std::env::args().skip(1);
    while let Some(flag) = raw.next() {
        let value = raw.next().ok_or_else(|| format!("{flag}: missing value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value:?}: {e}");
        match flag.as_str() {
            "--listen" => args.listen.push(value.parse().map_err(|e| bad(&e))?),
            "--external" => args.external.push(value.parse().map_err(|e| bad(&e))?),
            "--bootstrap" => args.bootstrap.push(value.parse().map_err(|e| bad(&e))?),
            "--operators" => {
                for operator in value.split(',').filter(|s| !s.is_empty()) {
                    args.operators.push(operator.parse().map_err(|e| bad(&e))?);
                }
            }
            "--head" => args.head = value.parse().map_err(|e| bad(&e))?,
            "--chain-id" => args.network.chain_id = value.parse().map_err(|e| bad(&e))?,
            "--task-manager" => args.network.task_manager = value.parse().map_err(|e| bad(&e))?,
            "--ping-ms" => args.ping = Duration::from_millis(value.parse().map_err(|e| bad(&e))?),
            "--redial-ms" => args.redial = Duration::from_millis(value.parse().map_err(|e| bad(&e))?),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if args.listen.is_empty() {
        return Err("--listen: name at least one address".into());
    }
    Ok(args)
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(e) = run().await {
        say(&format!("error {e}"));
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let args = parse_args()?;
    let key = std::env::var("KEEPER_P2P_NODE_KEY").map_err(|_| "KEEPER_P2P_NODE_KEY: not set".to_string())?;
    let signer: PrivateKeySigner = key.trim().parse().map_err(|_| "KEEPER_P2P_NODE_KEY: not a secp256k1 key")?;
    let registry = Arc::new(StaticRegistry::new(args.operators.clone(), args.head));
    let mut config = NodeConfig::new(args.network, args.listen);
    config.external_addresses = args.external;
    config.bootstrap = args.bootstrap;
    config.ping_interval = args.ping;
    config.ping_timeout = args.ping * 2;
    config.redial_interval = args.redial;
    config.heartbeat = Duration::from_millis(200);
    let (handle, mut events) =
        keeper_p2p::spawn(config, Keypair::generate_ed25519(), signer, registry, Arc::new(AcceptAll))
            .await
            .map_err(|e| e.to_string())?;
    say(&format!("listening {}", handle.peer_id()));

    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(NodeEvent::Message(received)) => {
                    let source = match received.source {
                        MessageSource::Gossip { .. } => "gossip",
                        MessageSource::CatchUp { .. } => "catch-up",
                    };
                    let m = &received.message;
                    say(&format!("message {source} {} {} {}", m.topic(), m.author(), String::from_utf8_lossy(m.payload())));
                }
                Some(NodeEvent::PeerVerified { peer, operator }) => say(&format!("verified {peer} {operator}")),
                Some(NodeEvent::PeerRefused { peer, .. }) => say(&format!("refused {peer}")),
                Some(NodeEvent::PeerDisconnected { peer }) => say(&format!("disconnected {peer}")),
                None => return Err("node stopped".into()),
            },
            line = lines.recv() => {
                let Some(line) = line else { break };
                let words: Vec<&str> = line.split_whitespace().collect();
                match words.as_slice() {
                    ["publish", topic, block, text] => {
                        let topic = match *topic {
                            "proposals" => Topic::Proposals,
                            "signatures" => Topic::Signatures,
                            "disputes" => Topic::Disputes,
                            other => { say(&format!("error unknown topic {other}")); continue; }
                        };
                        let Ok(block) = block.parse::<u64>() else { say("error bad block"); continue };
                        match handle.publish(topic, block, StaticRegistry::hash_of(block), text.as_bytes().to_vec()).await {
                            Ok(id) => say(&format!("published {id}")),
                            Err(e) => say(&format!("error {e}")),
                        }
                    }
                    ["peers"] => {
                        let peers = handle.peers().await.map_err(|e| e.to_string())?;
                        say(&format!("peers {}", peers.iter().filter(|p| p.operator.is_some()).count()));
                    }
                    ["catch-up"] => {
                        let asked = handle.catch_up(None).await.map_err(|e| e.to_string())?;
                        say(&format!("catch-up {asked}"));
                    }
                    ["quit"] => break,
                    _ => say(&format!("error unknown command {line:?}")),
                }
            }
        }
    }
    handle.shutdown();
    Ok(())
}
