//! Several nodes in one process on 127.0.0.1 (free ports): records accepted and refused, gossip
//! delivery, catch-up of a late joiner, a misbehaving or unregistered peer scored down and not
//! forwarded, oversize refused. Waits are bounded (a test fails after 30 s instead of hanging);
//! no assertion depends on timing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{address, B256};
use alloy::signers::local::PrivateKeySigner;
use keeper_p2p::validation::AcceptAll;
use keeper_p2p::{
    Envelope, Keypair, MessageSource, MessageValidator, Multiaddr, NetworkId, NodeConfig, NodeError, NodeEvent,
    NodeHandle, PeerId, ReceivedMessage, SignedEnvelope, StaticRegistry, Topic, Verdict,
};
use tokio::sync::mpsc::UnboundedReceiver;

const HEAD: u64 = 100;
const WAIT: Duration = Duration::from_secs(30);

fn network() -> NetworkId {
    NetworkId { chain_id: 31337, task_manager: address!("0x00000000000000000000000000000000000000aa") }
}

struct TestNode {
    handle: NodeHandle,
    events: UnboundedReceiver<NodeEvent>,
    address: Multiaddr,
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

fn config(bootstrap: Vec<Multiaddr>) -> NodeConfig {
    let mut config = NodeConfig::new(network(), vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()]);
    config.bootstrap = bootstrap;
    config.heartbeat = Duration::from_millis(100);
    config.redial_interval = Duration::from_millis(500);
    config.catch_up_interval = None;
    config.limits.max_proposal_bytes = 1024;
    config
}

async fn start_with(
    signer: &PrivateKeySigner,
    registry: &Arc<StaticRegistry>,
    config: NodeConfig,
    validator: Arc<dyn MessageValidator>,
) -> TestNode {
    let (handle, events) =
        keeper_p2p::spawn(config, Keypair::generate_ed25519(), signer.clone(), registry.clone(), validator)
            .await
            .unwrap();
    let listen = handle.listen_addresses().await.unwrap();
    let address = format!("{}/p2p/{}", listen[0], handle.peer_id()).parse().unwrap();
    TestNode { handle, events, address }
}

async fn start(signer: &PrivateKeySigner, registry: &Arc<StaticRegistry>, bootstrap: Vec<Multiaddr>) -> TestNode {
    start_with(signer, registry, config(bootstrap), Arc::new(AcceptAll)).await
}

/// Polls `check` until it holds; panics naming `what` after [`WAIT`].
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `node` has verified exactly these operators and each subscribes to every topic.
async fn until_verified(node: &TestNode, operators: &[&PrivateKeySigner]) {
    let mut expected: Vec<_> = operators.iter().map(|s| s.address()).collect();
    expected.sort();
    until("peers verified and subscribed", || async {
        let peers = node.handle.peers().await.unwrap();
        let mut verified: Vec<_> =
            peers.iter().filter(|p| p.topics.len() == Topic::ALL.len()).filter_map(|p| p.operator).collect();
        verified.sort();
        verified == expected
    })
    .await;
}

/// Waits until `peer` is in `node`'s mesh of every topic (so `node` forwards to it).
async fn until_meshed(node: &TestNode, peer: PeerId) {
    until("mesh", || async {
        node.handle.peers().await.unwrap().iter().any(|p| p.peer == peer && p.mesh.len() == Topic::ALL.len())
    })
    .await;
}

/// The next message event, skipping others.
async fn next_message(node: &mut TestNode) -> ReceivedMessage {
    let wait = async {
        loop {
            match node.events.recv().await {
                Some(NodeEvent::Message(message)) => return message,
                Some(_) => {}
                None => panic!("node stopped"),
            }
        }
    };
    tokio::time::timeout(WAIT, wait).await.expect("timed out waiting for a message")
}

async fn next_refusal(node: &mut TestNode) -> (PeerId, String) {
    let wait = async {
        loop {
            match node.events.recv().await {
                Some(NodeEvent::PeerRefused { peer, reason }) => return (peer, reason),
                Some(_) => {}
                None => panic!("node stopped"),
            }
        }
    };
    tokio::time::timeout(WAIT, wait).await.expect("timed out waiting for a refusal")
}

fn hash(block: u64) -> B256 {
    StaticRegistry::hash_of(block)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_operators_verify_each_other_and_an_outsider_is_refused() {
    let [a, b, c, outsider] = std::array::from_fn(|_| PrivateKeySigner::random());
    let registry = Arc::new(StaticRegistry::new([a.address(), b.address(), c.address()], HEAD));
    let mut node_a = start(&a, &registry, vec![]).await;
    let node_b = start(&b, &registry, vec![node_a.address.clone()]).await;
    // C knows only A; it finds B through the records A shares.
    let node_c = start(&c, &registry, vec![node_a.address.clone()]).await;
    until_verified(&node_a, &[&b, &c]).await;
    until_verified(&node_b, &[&a, &c]).await;
    until_verified(&node_c, &[&a, &b]).await;

    let node_x = start(&outsider, &registry, vec![node_a.address.clone()]).await;
    let (peer, reason) = next_refusal(&mut node_a).await;
    assert_eq!(peer, node_x.handle.peer_id());
    assert!(reason.contains("not registered"), "{reason}");
    assert!(node_a.handle.metrics().snapshot().records_rejected >= 1);
    until("the outsider disconnected", || async { node_x.handle.peers().await.unwrap().is_empty() }).await;
    assert!(node_a.handle.peers().await.unwrap().iter().all(|p| p.peer != peer || p.operator.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gossip_reaches_every_operator() {
    let [a, b, c] = std::array::from_fn(|_| PrivateKeySigner::random());
    let registry = Arc::new(StaticRegistry::new([a.address(), b.address(), c.address()], HEAD));
    let mut node_a = start(&a, &registry, vec![]).await;
    let mut node_b = start(&b, &registry, vec![node_a.address.clone()]).await;
    let mut node_c = start(&c, &registry, vec![node_a.address.clone()]).await;
    until_verified(&node_a, &[&b, &c]).await;
    until_verified(&node_b, &[&a, &c]).await;
    until_verified(&node_c, &[&a, &b]).await;

    let id = node_a.handle.publish(Topic::Proposals, HEAD, hash(HEAD), b"batch".to_vec()).await.unwrap();
    for node in [&mut node_b, &mut node_c] {
        let received = next_message(node).await;
        assert_eq!(received.message.id(), id);
        assert_eq!(received.message.author(), a.address());
        assert_eq!(received.message.topic(), Topic::Proposals);
        assert_eq!(received.message.payload(), b"batch");
        assert!(matches!(received.source, MessageSource::Gossip { .. }));
    }
    node_b.handle.publish(Topic::Signatures, HEAD, hash(HEAD), b"sig-b".to_vec()).await.unwrap();
    for node in [&mut node_a, &mut node_c] {
        let received = next_message(node).await;
        assert_eq!((received.message.author(), received.message.payload()), (b.address(), &b"sig-b"[..]));
    }
    let a_metrics = node_a.handle.metrics().snapshot();
    assert_eq!(a_metrics.proposals.published, 1);
    assert_eq!(a_metrics.signatures.accepted, 1);
    assert_eq!(a_metrics.peers_verified, 2);
    let c_metrics = node_c.handle.metrics().snapshot();
    assert_eq!(c_metrics.proposals.accepted, 1);
    assert_eq!(*c_metrics.proposals.latency_buckets.last().unwrap(), 1, "one latency observation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joiner_catches_up_then_follows_gossip() {
    let [a, b, c] = std::array::from_fn(|_| PrivateKeySigner::random());
    let registry = Arc::new(StaticRegistry::new([a.address(), b.address(), c.address()], HEAD));
    let node_a = start(&a, &registry, vec![]).await;
    let mut node_b = start(&b, &registry, vec![node_a.address.clone()]).await;
    until_verified(&node_a, &[&b]).await;
    until_verified(&node_b, &[&a]).await;
    let mut published = Vec::new();
    for (i, topic) in [Topic::Proposals, Topic::Signatures, Topic::Signatures].into_iter().enumerate() {
        published.push(node_a.handle.publish(topic, HEAD - 1, hash(HEAD - 1), vec![i as u8]).await.unwrap());
        next_message(&mut node_b).await;
    }

    let mut node_c = start(&c, &registry, vec![node_a.address.clone()]).await;
    let mut caught_up = Vec::new();
    for _ in 0..published.len() {
        let received = next_message(&mut node_c).await;
        assert!(matches!(received.source, MessageSource::CatchUp { .. }), "{:?}", received.source);
        caught_up.push(received.message.id());
    }
    assert_eq!(caught_up, published, "oldest first, each once");
    until_verified(&node_c, &[&a, &b]).await;
    until_verified(&node_b, &[&a, &c]).await;
    let id = node_b.handle.publish(Topic::Signatures, HEAD, hash(HEAD), b"after".to_vec()).await.unwrap();
    let received = next_message(&mut node_c).await;
    assert_eq!(received.message.id(), id);
    let metrics = node_c.handle.metrics().snapshot();
    assert_eq!(metrics.proposals.caught_up + metrics.signatures.caught_up, 3);
    assert_eq!(metrics.proposals.accepted + metrics.signatures.accepted, 4);
}

/// Rejects payloads that start with "bad", as the daemon would a bad BLS signature.
struct RejectsBad;

impl MessageValidator for RejectsBad {
    fn validate(&self, message: &SignedEnvelope) -> Verdict {
        if message.payload().starts_with(b"bad") {
            Verdict::Reject("bad_payload")
        } else {
            Verdict::Accept
        }
    }
}

/// M (registered, misbehaving) — A — B in a line: what A refuses never reaches B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misbehaving_operator_is_scored_down_and_not_forwarded() {
    let [a, b, m] = std::array::from_fn(|_| PrivateKeySigner::random());
    let registry = Arc::new(StaticRegistry::new([a.address(), b.address(), m.address()], HEAD));
    let mut line = config(vec![]);
    line.discover = false;
    let node_a = start_with(&a, &registry, line.clone(), Arc::new(RejectsBad)).await;
    let mut to_a = line.clone();
    to_a.bootstrap = vec![node_a.address.clone()];
    let mut node_b = start_with(&b, &registry, to_a.clone(), Arc::new(AcceptAll)).await;
    // M allows itself larger proposals than the others do.
    let mut loose = to_a.clone();
    loose.limits.max_proposal_bytes = 4096;
    let node_m = start_with(&m, &registry, loose, Arc::new(AcceptAll)).await;
    until_verified(&node_a, &[&b, &m]).await;
    until_verified(&node_b, &[&a]).await;
    until_verified(&node_m, &[&a]).await;
    until_meshed(&node_a, node_b.handle.peer_id()).await;

    // Four kinds of invalid message from a registered operator, one at a time, then a fifth
    // (scoring: four invalid messages put M at the graylist threshold, five below it).
    let forked = Envelope {
        topic: Topic::Signatures,
        reference_block_number: HEAD,
        reference_block_hash: B256::repeat_byte(0xee),
        created_at_ms: 0,
        payload: b"sig".to_vec(),
    }
    .sign(&network(), &m)
    .unwrap();
    let invalid_at_a = || async {
        let s = node_a.handle.metrics().snapshot();
        s.signatures.invalid_total() + s.proposals.invalid_total()
    };
    node_m.handle.publish_encoded(Topic::Signatures, forked.encoded().to_vec()).await.unwrap();
    until("A refused the forked reference block", || async { invalid_at_a().await == 1 }).await;
    node_m.handle.publish_encoded(Topic::Proposals, b"garbage".to_vec()).await.unwrap();
    until("A refused the garbage", || async { invalid_at_a().await == 2 }).await;
    node_m.handle.publish(Topic::Proposals, HEAD, hash(HEAD), vec![7; 2048]).await.unwrap();
    until("A refused the oversize proposal", || async { invalid_at_a().await == 3 }).await;
    node_m.handle.publish(Topic::Signatures, HEAD, hash(HEAD), b"bad signature".to_vec()).await.unwrap();
    until("A's validator refused the bad signature", || async { invalid_at_a().await == 4 }).await;
    node_m.handle.publish_encoded(Topic::Proposals, b"more garbage".to_vec()).await.unwrap();
    until("A refused the fifth", || async { invalid_at_a().await == 5 }).await;
    let s = node_a.handle.metrics().snapshot();
    assert_eq!(s.signatures.invalid_by("wrong_reference_block"), 1);
    assert_eq!(s.proposals.invalid_by("malformed"), 2);
    assert_eq!(s.proposals.invalid_by("oversize"), 1);
    assert_eq!(s.signatures.invalid_by("application"), 1);
    // More garbage until A graylists M; each is processed while M is above the threshold.
    let m_score = || async {
        let peers = node_a.handle.peers().await.unwrap();
        peers.iter().find(|p| p.peer == node_m.handle.peer_id()).and_then(|p| p.score).unwrap()
    };
    let mut invalid = 5;
    while m_score().await >= -80.0 {
        assert!(invalid < 20, "M is still not graylisted after {invalid} invalid messages");
        node_m.handle.publish_encoded(Topic::Proposals, vec![invalid as u8; 40]).await.unwrap();
        invalid += 1;
        until("A refused more garbage", || async { invalid_at_a().await == invalid }).await;
    }
    assert!(invalid <= 7, "graylisted after {invalid} invalid messages (5 per topic, squared)");

    // Graylisted: even a valid message of M's is dropped by A's gossip layer now.
    node_m.handle.publish(Topic::Signatures, HEAD, hash(HEAD), b"valid but ignored".to_vec()).await.unwrap();
    let marker = node_a.handle.publish(Topic::Signatures, HEAD, hash(HEAD), b"marker".to_vec()).await.unwrap();
    // A sends to B over one ordered stream: had A forwarded anything of M's, B would see it first.
    let received = next_message(&mut node_b).await;
    assert_eq!(received.message.id(), marker);
    let b_metrics = node_b.handle.metrics().snapshot();
    assert_eq!(b_metrics.proposals.received + b_metrics.signatures.received, 1, "B got only the marker");
    assert_eq!(b_metrics.signatures.invalid_total() + b_metrics.proposals.invalid_total(), 0);
    let a_metrics = node_a.handle.metrics().snapshot();
    assert_eq!(a_metrics.signatures.accepted, 0, "A delivered nothing of M's");
    // Nor does A ask M for catch-up: its answer would carry back the invalid messages.
    assert_eq!(node_a.handle.catch_up(None).await.unwrap(), 1, "A asks B alone");
}

/// X (unregistered) — A — B in a line: X is refused at the handshake, and nothing it publishes
/// reaches B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unregistered_peers_messages_do_not_propagate() {
    let [a, b, x] = std::array::from_fn(|_| PrivateKeySigner::random());
    let registry = Arc::new(StaticRegistry::new([a.address(), b.address()], HEAD));
    let mut line = config(vec![]);
    line.discover = false;
    let mut node_a = start_with(&a, &registry, line.clone(), Arc::new(AcceptAll)).await;
    line.bootstrap = vec![node_a.address.clone()];
    let mut node_b = start_with(&b, &registry, line.clone(), Arc::new(AcceptAll)).await;
    until_verified(&node_b, &[&a]).await;
    until_meshed(&node_a, node_b.handle.peer_id()).await;
    // X runs with a registry that lists it, so it believes in itself and publishes.
    let x_registry = Arc::new(StaticRegistry::new([a.address(), b.address(), x.address()], HEAD));
    let node_x = start_with(&x, &x_registry, line, Arc::new(AcceptAll)).await;
    let (peer, _) = next_refusal(&mut node_a).await;
    assert_eq!(peer, node_x.handle.peer_id());
    for i in 0..3u8 {
        // Published while (or after) A refuses it; nothing may get through either way.
        let _ = node_x.handle.publish(Topic::Proposals, HEAD, hash(HEAD), vec![i]).await;
    }
    let marker = node_a.handle.publish(Topic::Proposals, HEAD, hash(HEAD), b"marker".to_vec()).await.unwrap();
    let received = next_message(&mut node_b).await;
    assert_eq!(received.message.id(), marker);
    assert_eq!(node_a.handle.metrics().snapshot().proposals.accepted, 0);
    assert_eq!(node_b.handle.metrics().snapshot().proposals.received, 1);
}

/// A registry whose set can change, as the chain's does.
struct ChangingRegistry {
    operators: std::sync::Mutex<Vec<alloy::primitives::Address>>,
}

impl keeper_p2p::OperatorRegistry for ChangingRegistry {
    fn head_block(&self) -> u64 {
        HEAD
    }

    fn block_hash(&self, number: u64) -> Option<B256> {
        (number <= HEAD).then(|| StaticRegistry::hash_of(number))
    }

    fn is_registered(&self, operator: alloy::primitives::Address, _number: u64) -> bool {
        self.operators.lock().unwrap().contains(&operator)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deregistered_operators_peer_is_refused() {
    let [a, b] = std::array::from_fn(|_| PrivateKeySigner::random());
    let registry = Arc::new(ChangingRegistry { operators: std::sync::Mutex::new(vec![a.address(), b.address()]) });
    let spawn = |signer: &PrivateKeySigner, bootstrap| {
        keeper_p2p::spawn(
            config(bootstrap),
            Keypair::generate_ed25519(),
            signer.clone(),
            registry.clone(),
            Arc::new(AcceptAll),
        )
    };
    let (handle_a, events_a) = spawn(&a, vec![]).await.unwrap();
    let listen = handle_a.listen_addresses().await.unwrap();
    let mut node_a = TestNode {
        address: format!("{}/p2p/{}", listen[0], handle_a.peer_id()).parse().unwrap(),
        handle: handle_a,
        events: events_a,
    };
    let (handle_b, events_b) = spawn(&b, vec![node_a.address.clone()]).await.unwrap();
    let node_b = TestNode { address: node_a.address.clone(), handle: handle_b, events: events_b };
    until_verified(&node_a, &[&b]).await;

    registry.operators.lock().unwrap().retain(|o| *o != b.address());
    let (peer, reason) = next_refusal(&mut node_a).await;
    assert_eq!(peer, node_b.handle.peer_id());
    // Refused by the periodic re-check, or by a hello answer still on its way when B left.
    assert!(reason.contains("no longer registered") || reason.contains("is not registered"), "{reason}");
    until("B disconnected", || async { node_a.handle.peers().await.unwrap().is_empty() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_payloads_are_refused_at_publish() {
    let a = PrivateKeySigner::random();
    let registry = Arc::new(StaticRegistry::new([a.address()], HEAD));
    let node = start(&a, &registry, vec![]).await;
    let error = node.handle.publish(Topic::Proposals, HEAD, hash(HEAD), vec![0; 1025]).await.unwrap_err();
    assert!(matches!(error, NodeError::PayloadTooLarge { topic: Topic::Proposals, len: 1025, max: 1024 }), "{error}");
    node.handle.publish(Topic::Proposals, HEAD, hash(HEAD), vec![0; 1024]).await.unwrap();
}
