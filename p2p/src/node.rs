//! A running node: one tokio task owns the libp2p swarm; a cheap [`NodeHandle`] sends it
//! commands, and validated messages come out as [`NodeEvent`]s.
//!
//! On every new connection both sides send a `Hello` with their signed record; a peer is
//! *verified* once its own record (naming its own peer id, signed by a registered operator) has
//! come over that authenticated connection. A peer that fails this is refused: its application
//! score drops below gossipsub's graylist (all it sends is ignored) and it is disconnected.
//! Gossip is only taken from verified peers; each message is then checked ([`crate::validation`])
//! before it is forwarded. After verifying a peer, a node asks it for the messages of the
//! recent reference blocks it lacks (catch-up); it does so again periodically and on request.

mod behaviour;
mod peers;
mod scoring;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256};
use alloy::signers::local::PrivateKeySigner;
use libp2p::futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, TopicHash};
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::SwarmEvent;
use libp2p::{identity::Keypair, multiaddr::Protocol, noise, ping, tcp, yamux, Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use self::behaviour::{Behaviour, BehaviourEvent};
use self::peers::RecordBook;
use crate::config::{NodeConfig, Topic};
use crate::envelope::{Envelope, MessageId, SignedEnvelope};
use crate::error::{NodeError, RecordError};
use crate::metrics::NetworkMetrics;
use crate::record::{PeerRecord, SignedPeerRecord};
use crate::registry::OperatorRegistry;
use crate::sync::{catch_up_start, MessageLog, SyncRequest, SyncResponse, MAX_KNOWN_IDS, MAX_RESPONSE_BYTES};
use crate::time::{unix_millis, unix_seconds};
use crate::validation::{check_envelope, Check, InvalidReason, MessageValidator, Verdict};

/// How long `spawn` waits for the listeners to bind.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);
/// Catch-up rounds in a row with one peer while its answers say "truncated".
const MAX_CATCH_UP_ROUNDS: u32 = 8;

/// How a message reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageSource {
    /// Gossip, forwarded to us by this peer.
    Gossip { from: PeerId },
    /// A catch-up answer from this peer.
    CatchUp { from: PeerId },
}

/// A message that passed every check, once per message id.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    pub message: SignedEnvelope,
    pub source: MessageSource,
    /// Our clock at receipt minus the author's stamp (0 if the stamp is ahead of us).
    pub latency_ms: u64,
}

#[derive(Debug, Clone)]
pub enum NodeEvent {
    Message(ReceivedMessage),
    /// A peer presented a valid record of a registered operator.
    PeerVerified {
        peer: PeerId,
        operator: Address,
    },
    /// A peer's record was refused (or it sent none); it is being disconnected.
    PeerRefused {
        peer: PeerId,
        reason: String,
    },
    /// Our last connection to a peer closed.
    PeerDisconnected {
        peer: PeerId,
    },
}

/// A peer as the node sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerInfo {
    pub peer: PeerId,
    /// The operator whose record the peer presented, once verified.
    pub operator: Option<Address>,
    /// Gossipsub's score of the peer (negative: penalised).
    pub score: Option<f64>,
    /// Topics the peer told us it subscribes to.
    pub topics: Vec<Topic>,
    /// Topics for which the peer is in our gossip mesh.
    pub mesh: Vec<Topic>,
}

enum Command {
    Publish { envelope: Envelope, reply: oneshot::Sender<Result<MessageId, NodeError>> },
    PublishEncoded { topic: Topic, bytes: Vec<u8>, reply: oneshot::Sender<Result<(), NodeError>> },
    Dial { address: Multiaddr, reply: oneshot::Sender<Result<(), NodeError>> },
    CatchUp { since_block: Option<u64>, reply: oneshot::Sender<usize> },
    Peers { reply: oneshot::Sender<Vec<PeerInfo>> },
    ListenAddresses { reply: oneshot::Sender<Vec<Multiaddr>> },
    Record { reply: oneshot::Sender<SignedPeerRecord> },
    Shutdown,
}

/// Drives a running node. Cheap to clone; the node stops on [`NodeHandle::shutdown`] or when the
/// last handle is dropped.
#[derive(Clone)]
pub struct NodeHandle {
    commands: mpsc::UnboundedSender<Command>,
    metrics: Arc<NetworkMetrics>,
    peer_id: PeerId,
    operator: Address,
}

impl std::fmt::Debug for NodeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeHandle").field("peer_id", &self.peer_id).field("operator", &self.operator).finish()
    }
}

impl NodeHandle {
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The operator whose key signs our record and messages.
    pub fn operator(&self) -> Address {
        self.operator
    }

    pub fn metrics(&self) -> &Arc<NetworkMetrics> {
        &self.metrics
    }

    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, NodeError> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(command(reply)).map_err(|_| NodeError::Stopped)?;
        answer.await.map_err(|_| NodeError::Stopped)
    }

    /// Signs `payload` as ours for the reference block and publishes it. It is also kept for
    /// catch-up, so peers that are not connected now get it later.
    pub async fn publish(
        &self,
        topic: Topic,
        reference_block_number: u64,
        reference_block_hash: B256,
        payload: Vec<u8>,
    ) -> Result<MessageId, NodeError> {
        let envelope =
            Envelope { topic, reference_block_number, reference_block_hash, created_at_ms: unix_millis(), payload };
        self.ask(|reply| Command::Publish { envelope, reply }).await?
    }

    /// Publishes wire bytes as they are, unchecked: to re-publish an envelope received earlier,
    /// and in tests to act as a misbehaving peer. Honest code uses [`NodeHandle::publish`].
    pub async fn publish_encoded(&self, topic: Topic, bytes: Vec<u8>) -> Result<(), NodeError> {
        self.ask(|reply| Command::PublishEncoded { topic, bytes, reply }).await?
    }

    pub async fn dial(&self, address: Multiaddr) -> Result<(), NodeError> {
        self.ask(|reply| Command::Dial { address, reply }).await?
    }

    /// Asks every verified peer for messages from `since_block` on (default: the age window
    /// behind our head) that we lack. Returns how many peers were asked.
    pub async fn catch_up(&self, since_block: Option<u64>) -> Result<usize, NodeError> {
        self.ask(|reply| Command::CatchUp { since_block, reply }).await
    }

    /// Connected peers.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, NodeError> {
        self.ask(|reply| Command::Peers { reply }).await
    }

    pub async fn listen_addresses(&self) -> Result<Vec<Multiaddr>, NodeError> {
        self.ask(|reply| Command::ListenAddresses { reply }).await
    }

    /// Our current signed record.
    pub async fn record(&self) -> Result<SignedPeerRecord, NodeError> {
        self.ask(|reply| Command::Record { reply }).await
    }

    /// Stops the node (its connections close).
    pub fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown);
    }
}

/// Starts a node on the current tokio runtime: binds its listeners, signs its record, subscribes
/// to the topics and dials the bootstrap peers.
pub async fn spawn(
    config: NodeConfig,
    keypair: Keypair,
    signer: PrivateKeySigner,
    registry: Arc<dyn OperatorRegistry>,
    validator: Arc<dyn MessageValidator>,
) -> Result<(NodeHandle, mpsc::UnboundedReceiver<NodeEvent>), NodeError> {
    config.validate()?;
    let peer_id = keypair.public().to_peer_id();
    let mut swarm = build_swarm(&config, keypair)?;
    let mut topics = HashMap::new();
    for topic in Topic::ALL {
        let ident = IdentTopic::new(config.network.topic_name(topic));
        swarm.behaviour_mut().gossipsub.subscribe(&ident).map_err(|e| NodeError::Gossip(e.to_string()))?;
        topics.insert(ident.hash(), topic);
    }
    let listen_addresses = listen(&mut swarm, &config.listen).await?;
    let operator = signer.address();
    let record = sign_record(&config, &listen_addresses, &signer, peer_id)?;
    let (events, events_rx) = mpsc::unbounded_channel();
    let mut node = NodeTask {
        log: MessageLog::new(config.log_capacity),
        config,
        swarm,
        signer,
        registry,
        validator,
        metrics: Arc::new(NetworkMetrics::default()),
        events,
        record,
        listen_addresses,
        book: RecordBook::default(),
        topics,
        hellos: HashMap::new(),
        catch_ups: HashMap::new(),
        refused: HashSet::new(),
        bootstrap_peers: HashMap::new(),
    };
    let (commands_tx, commands_rx) = mpsc::unbounded_channel();
    let handle = NodeHandle { commands: commands_tx, metrics: node.metrics.clone(), peer_id, operator };
    node.redial();
    info!(%peer_id, %operator, addresses = ?node.listen_addresses, "p2p node started");
    tokio::spawn(node.run(commands_rx));
    Ok((handle, events_rx))
}

fn build_swarm(config: &NodeConfig, keypair: Keypair) -> Result<Swarm<Behaviour>, NodeError> {
    let behaviour_config = config.clone();
    let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .map_err(|e| NodeError::Transport(e.to_string()))?
        .with_behaviour(|key| Behaviour::new(&behaviour_config, key))
        .map_err(|e| NodeError::Gossip(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    Ok(swarm)
}

/// Starts every listener and waits until each has an address (port 0 becomes a real port).
async fn listen(swarm: &mut Swarm<Behaviour>, addresses: &[Multiaddr]) -> Result<Vec<Multiaddr>, NodeError> {
    let mut listeners = HashMap::new();
    for address in addresses {
        let id = swarm
            .listen_on(address.clone())
            .map_err(|e| NodeError::Listen { address: address.clone(), reason: e.to_string() })?;
        listeners.insert(id, address.clone());
    }
    let mut bound = Vec::new();
    let mut pending: HashSet<_> = listeners.keys().copied().collect();
    let wait = async {
        while !pending.is_empty() {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { listener_id, address } => {
                    pending.remove(&listener_id);
                    bound.push(address);
                }
                SwarmEvent::ListenerClosed { listener_id, reason, .. } => {
                    let address = listeners.get(&listener_id).cloned().unwrap_or_else(Multiaddr::empty);
                    let reason = match reason {
                        Ok(()) => "closed".to_string(),
                        Err(e) => e.to_string(),
                    };
                    return Err(NodeError::Listen { address, reason });
                }
                SwarmEvent::ListenerError { listener_id, error } => {
                    let address = listeners.get(&listener_id).cloned().unwrap_or_else(Multiaddr::empty);
                    return Err(NodeError::Listen { address, reason: error.to_string() });
                }
                _ => {}
            }
        }
        Ok(())
    };
    match tokio::time::timeout(LISTEN_TIMEOUT, wait).await {
        Ok(result) => result?,
        Err(_) => {
            let address = addresses.first().cloned().unwrap_or_else(Multiaddr::empty);
            return Err(NodeError::Listen { address, reason: "no address bound within 10 s".into() });
        }
    }
    Ok(bound)
}

/// Our record: the configured external addresses, else the ones we listen on.
fn sign_record(
    config: &NodeConfig,
    listen_addresses: &[Multiaddr],
    signer: &PrivateKeySigner,
    peer_id: PeerId,
) -> Result<SignedPeerRecord, NodeError> {
    let addresses = if config.external_addresses.is_empty() {
        listen_addresses.iter().take(crate::record::MAX_RECORD_ADDRESSES).cloned().collect()
    } else {
        config.external_addresses.clone()
    };
    let record = PeerRecord {
        operator: signer.address(),
        peer_id,
        addresses,
        sequence: unix_millis(),
        expires_at: unix_seconds() + config.record_ttl.as_secs(),
    };
    Ok(record.sign(&config.network, signer)?)
}

/// The peer id at the end of an address (`…/p2p/<id>`), if any.
fn peer_of(address: &Multiaddr) -> Option<PeerId> {
    address.iter().find_map(|p| match p {
        Protocol::P2p(peer) => Some(peer),
        _ => None,
    })
}

/// Why a gossip or catch-up message was dropped, or that it was new.
enum Outcome {
    Accepted(SignedEnvelope),
    Duplicate(Topic),
    Ignored(Topic),
    Rejected(Option<Topic>, InvalidReason),
}

struct NodeTask {
    config: NodeConfig,
    swarm: Swarm<Behaviour>,
    signer: PrivateKeySigner,
    registry: Arc<dyn OperatorRegistry>,
    validator: Arc<dyn MessageValidator>,
    metrics: Arc<NetworkMetrics>,
    events: mpsc::UnboundedSender<NodeEvent>,
    record: SignedPeerRecord,
    listen_addresses: Vec<Multiaddr>,
    book: RecordBook,
    log: MessageLog,
    topics: HashMap<TopicHash, Topic>,
    /// Our outstanding hellos, by request.
    hellos: HashMap<OutboundRequestId, PeerId>,
    /// Our outstanding catch-up requests: the peer and the round.
    catch_ups: HashMap<OutboundRequestId, (PeerId, u32)>,
    /// Peers we refused, disconnected once our answer is out.
    refused: HashSet<PeerId>,
    /// Bootstrap addresses without a peer id, and the peer found there.
    bootstrap_peers: HashMap<Multiaddr, PeerId>,
}

impl NodeTask {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut redial = tokio::time::interval(self.config.redial_interval);
        let catch_up_every = self.config.catch_up_interval.unwrap_or(Duration::from_secs(24 * 3600));
        let mut catch_up = tokio::time::interval_at(tokio::time::Instant::now() + catch_up_every, catch_up_every);
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    None | Some(Command::Shutdown) => break,
                    Some(command) => self.on_command(command),
                },
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                _ = redial.tick() => {
                    self.recheck_registrations();
                    self.refresh_record();
                    self.redial();
                }
                _ = catch_up.tick(), if self.config.catch_up_interval.is_some() => self.periodic_catch_up(),
            }
        }
        info!(peer = %self.swarm.local_peer_id(), "p2p node stopped");
    }

    fn emit(&self, event: NodeEvent) {
        // A dropped receiver means the daemon no longer listens; the node keeps serving peers.
        let _ = self.events.send(event);
    }

    /// Re-signs our record once half its lifetime has passed and says hello again.
    fn refresh_record(&mut self) {
        let half_life = self.config.record_ttl.as_secs() / 2;
        if self.record.record().expires_at.saturating_sub(unix_seconds()) > half_life {
            return;
        }
        match sign_record(&self.config, &self.listen_addresses, &self.signer, *self.swarm.local_peer_id()) {
            Ok(record) => {
                self.record = record;
                let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
                for peer in peers {
                    self.send_hello(peer);
                }
            }
            Err(e) => warn!(error = %e, "p2p: cannot re-sign our peer record"),
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { envelope, reply } => {
                let _ = reply.send(self.publish(envelope));
            }
            Command::PublishEncoded { topic, bytes, reply } => {
                let _ = reply.send(self.gossip(topic, bytes));
            }
            Command::Dial { address, reply } => {
                let result = self
                    .swarm
                    .dial(address.clone())
                    .map_err(|e| NodeError::Listen { address, reason: format!("dial: {e}") });
                let _ = reply.send(result);
            }
            Command::CatchUp { since_block, reply } => {
                let peers = self.heard_peers();
                for peer in &peers {
                    self.request_catch_up(*peer, since_block, 0);
                }
                let _ = reply.send(peers.len());
            }
            Command::Peers { reply } => {
                let _ = reply.send(self.peer_infos());
            }
            Command::ListenAddresses { reply } => {
                let _ = reply.send(self.listen_addresses.clone());
            }
            Command::Record { reply } => {
                let _ = reply.send(self.record.clone());
            }
            Command::Shutdown => {}
        }
    }

    fn peer_infos(&self) -> Vec<PeerInfo> {
        let gossipsub = &self.swarm.behaviour().gossipsub;
        let subscriptions: HashMap<PeerId, Vec<Topic>> = gossipsub
            .all_peers()
            .map(|(peer, hashes)| (*peer, hashes.iter().filter_map(|h| self.topics.get(*h).copied()).collect()))
            .collect();
        let mut mesh: HashMap<PeerId, Vec<Topic>> = HashMap::new();
        for (hash, topic) in &self.topics {
            for peer in gossipsub.mesh_peers(hash) {
                mesh.entry(*peer).or_default().push(*topic);
            }
        }
        self.swarm
            .connected_peers()
            .map(|peer| PeerInfo {
                peer: *peer,
                operator: self.book.operator_of(peer),
                score: gossipsub.peer_score(peer),
                topics: subscriptions.get(peer).cloned().unwrap_or_default(),
                mesh: mesh.get(peer).cloned().unwrap_or_default(),
            })
            .collect()
    }

    fn publish(&mut self, envelope: Envelope) -> Result<MessageId, NodeError> {
        let topic = envelope.topic;
        let max = self.config.limits.max_payload_bytes(topic);
        if envelope.payload.len() > max {
            return Err(NodeError::PayloadTooLarge { topic, len: envelope.payload.len(), max });
        }
        let signed = envelope.sign(&self.config.network, &self.signer)?;
        self.log.insert(&signed);
        self.gossip(topic, signed.encoded().to_vec())?;
        self.metrics.published(topic);
        Ok(signed.id())
    }

    fn gossip(&mut self, topic: Topic, bytes: Vec<u8>) -> Result<(), NodeError> {
        let ident = IdentTopic::new(self.config.network.topic_name(topic));
        match self.swarm.behaviour_mut().gossipsub.publish(ident, bytes) {
            Ok(_) => Ok(()),
            // Nobody to send it to now: it stays in the log, and peers get it by catch-up.
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                debug!(%topic, "p2p: published with no peer connected; kept for catch-up");
                Ok(())
            }
            Err(gossipsub::PublishError::Duplicate) => Ok(()),
            Err(e) => Err(NodeError::Publish { topic, reason: e.to_string() }),
        }
    }

    /// Dials bootstrap peers and recorded operators we are not connected to.
    fn redial(&mut self) {
        let local = *self.swarm.local_peer_id();
        for address in self.config.bootstrap.clone() {
            let peer = peer_of(&address).or_else(|| self.bootstrap_peers.get(&address).copied());
            match peer {
                Some(peer) if peer == local || self.swarm.is_connected(&peer) => {}
                Some(peer) => {
                    let opts = DialOpts::peer_id(peer)
                        .addresses(vec![address.clone()])
                        .condition(PeerCondition::DisconnectedAndNotDialing)
                        .build();
                    self.dial(opts);
                }
                None => self.dial(DialOpts::unknown_peer_id().address(address.clone()).build()),
            }
        }
        if self.config.discover {
            for (peer, addresses) in self.book.dialable(unix_seconds()) {
                if peer != local && !self.swarm.is_connected(&peer) && !addresses.is_empty() {
                    let opts = DialOpts::peer_id(peer)
                        .addresses(addresses)
                        .condition(PeerCondition::DisconnectedAndNotDialing)
                        .build();
                    self.dial(opts);
                }
            }
        }
    }

    fn dial(&mut self, opts: DialOpts) {
        if let Err(e) = self.swarm.dial(opts) {
            debug!(error = %e, "p2p: dial not started");
        }
    }

    fn send_hello(&mut self, peer: PeerId) {
        let request = SyncRequest::Hello { record: self.record.encoded().to_vec() };
        let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
        self.hellos.insert(id, peer);
    }

    /// Verified peers that are not graylisted. Catch-up goes only to them: gossipsub ignores what a
    /// graylisted peer sends, and its catch-up answers would bring back the invalid messages that
    /// put it there (a byzantine peer's own log), each to be validated again.
    fn heard_peers(&self) -> Vec<PeerId> {
        let gossipsub = &self.swarm.behaviour().gossipsub;
        self.book
            .verified_peers()
            .into_iter()
            .filter(|peer| gossipsub.peer_score(peer).is_none_or(|score| score >= scoring::GRAYLIST_THRESHOLD))
            .collect()
    }

    fn request_catch_up(&mut self, peer: PeerId, since_block: Option<u64>, round: u32) {
        if !self.heard_peers().contains(&peer) {
            return;
        }
        let head = self.registry.head_block();
        let since_block =
            since_block.unwrap_or_else(|| catch_up_start(head, self.config.limits.max_reference_age_blocks));
        let known = self.log.known_since(since_block, MAX_KNOWN_IDS);
        let id = self.swarm.behaviour_mut().sync.send_request(&peer, SyncRequest::CatchUp { since_block, known });
        self.catch_ups.insert(id, (peer, round));
        self.metrics.catch_up_requested();
    }

    /// Asks one verified peer (chosen at random) for what we may have missed; prunes the log.
    fn periodic_catch_up(&mut self) {
        let head = self.registry.head_block();
        self.log.prune(catch_up_start(head, self.config.limits.max_reference_age_blocks));
        let peers = self.heard_peers();
        if peers.is_empty() {
            return;
        }
        let peer = peers[rand::random::<u32>() as usize % peers.len()];
        self.request_catch_up(peer, None, 0);
    }

    /// Refuses a peer: graylisted, told, disconnected.
    fn refuse(&mut self, peer: PeerId, reason: String) {
        warn!(%peer, %reason, "p2p: peer refused");
        self.metrics.record_rejected();
        self.book.forget_peer(&peer);
        scoring::refuse(&mut self.swarm.behaviour_mut().gossipsub, &peer);
        self.refused.insert(peer);
        self.update_peer_gauges();
        self.emit(NodeEvent::PeerRefused { peer, reason });
    }

    /// Refuses verified peers whose operator has left the set since.
    fn recheck_registrations(&mut self) {
        let head = self.registry.head_block();
        let gone: Vec<_> =
            self.book.verified().into_iter().filter(|(_, op)| !self.registry.is_registered(*op, head)).collect();
        for (peer, operator) in gone {
            self.refuse(peer, format!("operator {operator} is no longer registered"));
            self.disconnect_refused(&peer);
        }
    }

    fn disconnect_refused(&mut self, peer: &PeerId) {
        if self.refused.remove(peer) {
            let _ = self.swarm.disconnect_peer_id(*peer);
        }
    }

    fn update_peer_gauges(&self) {
        let connected = self.swarm.connected_peers().count();
        self.metrics.set_peers(connected, self.book.verified_peers().len());
    }

    /// A record presented by `peer` itself.
    fn accept_presented_record(&mut self, peer: PeerId, bytes: &[u8]) -> Result<(), RecordError> {
        let record = SignedPeerRecord::verify(bytes, &self.config.network, self.registry.as_ref(), unix_seconds())?;
        if record.peer_id() != peer {
            return Err(RecordError::PeerMismatch {
                operator: record.operator(),
                record: Box::new(record.peer_id()),
                connection: Box::new(peer),
            });
        }
        if record.operator() == self.signer.address() {
            // Our own key on another peer id: a copy of our key, or an old instance of us.
            return Err(RecordError::InvalidField {
                field: "operator",
                reason: "this node's own operator on another peer".into(),
            });
        }
        let operator = record.operator();
        let newly = self.book.verify_peer(peer, record)?;
        scoring::verified(&mut self.swarm.behaviour_mut().gossipsub, &peer);
        self.metrics.record_accepted();
        self.update_peer_gauges();
        if newly {
            info!(%peer, %operator, "p2p: peer verified");
            self.emit(NodeEvent::PeerVerified { peer, operator });
        }
        Ok(())
    }

    /// Records relayed by a peer: kept for dialling only.
    fn learn_records(&mut self, records: &[Vec<u8>]) {
        let now = unix_seconds();
        let own = self.signer.address();
        for bytes in records {
            match SignedPeerRecord::verify(bytes, &self.config.network, self.registry.as_ref(), now) {
                Ok(record) if record.operator() != own => self.book.learn(record),
                Ok(_) => {}
                Err(e) => debug!(error = %e, "p2p: relayed record dropped"),
            }
        }
    }

    fn validate(&mut self, bytes: &[u8], expected_topic: Option<Topic>) -> Outcome {
        let message = match SignedEnvelope::decode(bytes, &self.config.network, self.config.limits.max_envelope_bytes())
        {
            Ok(message) => message,
            Err(reason) => return Outcome::Rejected(expected_topic, reason),
        };
        let topic = message.topic();
        if self.log.contains(&message.id()) {
            return Outcome::Duplicate(topic);
        }
        match check_envelope(&message, expected_topic, self.registry.as_ref(), &self.config.limits, unix_millis()) {
            Check::Pass => {}
            Check::Ignore => return Outcome::Ignored(topic),
            Check::Reject(reason) => return Outcome::Rejected(Some(topic), reason),
        }
        match self.validator.validate(&message) {
            Verdict::Accept => {
                self.log.insert(&message);
                Outcome::Accepted(message)
            }
            Verdict::Ignore => Outcome::Ignored(topic),
            Verdict::Reject(label) => Outcome::Rejected(Some(topic), InvalidReason::Application(label)),
        }
    }

    fn deliver(&mut self, message: SignedEnvelope, source: MessageSource) {
        let now = unix_millis();
        let latency_ms = now.saturating_sub(message.envelope().created_at_ms);
        let caught_up = matches!(source, MessageSource::CatchUp { .. });
        self.metrics.accepted(message.topic(), caught_up);
        if !caught_up {
            self.metrics.latency(message.topic(), latency_ms);
        }
        self.emit(NodeEvent::Message(ReceivedMessage { message, source, latency_ms }));
    }

    fn on_gossip(&mut self, from: PeerId, id: gossipsub::MessageId, message: gossipsub::Message) {
        let topic = self.topics.get(&message.topic).copied();
        self.metrics.received(topic);
        let gossip = &mut self.swarm.behaviour_mut().gossipsub;
        let Some(topic) = topic else {
            gossip.report_message_validation_result(&id, &from, MessageAcceptance::Reject);
            self.metrics.invalid(None, InvalidReason::UnknownTopic);
            return;
        };
        if !self.book.is_verified(&from) {
            // Its hello may still be on the way; catch-up recovers what we drop here.
            gossip.report_message_validation_result(&id, &from, MessageAcceptance::Ignore);
            self.metrics.ignored(topic);
            return;
        }
        let outcome = self.validate(&message.data, Some(topic));
        let gossip = &mut self.swarm.behaviour_mut().gossipsub;
        match outcome {
            Outcome::Accepted(envelope) => {
                if gossip.report_message_validation_result(&id, &from, MessageAcceptance::Accept) {
                    self.metrics.forwarded(topic);
                }
                self.deliver(envelope, MessageSource::Gossip { from });
            }
            Outcome::Duplicate(topic) => {
                // Valid and known (e.g. caught up before gossip brought it): pass it on.
                if gossip.report_message_validation_result(&id, &from, MessageAcceptance::Accept) {
                    self.metrics.forwarded(topic);
                }
                self.metrics.duplicate(topic);
            }
            Outcome::Ignored(topic) => {
                gossip.report_message_validation_result(&id, &from, MessageAcceptance::Ignore);
                self.metrics.ignored(topic);
            }
            Outcome::Rejected(topic, reason) => {
                debug!(peer = %from, %reason, "p2p: gossip message rejected");
                gossip.report_message_validation_result(&id, &from, MessageAcceptance::Reject);
                self.metrics.invalid(topic, reason);
            }
        }
    }

    fn on_catch_up_answer(&mut self, from: PeerId, envelopes: Vec<Arc<Vec<u8>>>, truncated: bool, round: u32) {
        let mut invalid = 0u32;
        for bytes in envelopes {
            let outcome = self.validate(&bytes, None);
            match outcome {
                Outcome::Accepted(message) => {
                    self.metrics.received(Some(message.topic()));
                    self.deliver(message, MessageSource::CatchUp { from });
                }
                Outcome::Duplicate(topic) => {
                    self.metrics.received(Some(topic));
                    self.metrics.duplicate(topic);
                }
                Outcome::Ignored(topic) => {
                    self.metrics.received(Some(topic));
                    self.metrics.ignored(topic);
                }
                Outcome::Rejected(topic, reason) => {
                    self.metrics.received(topic);
                    self.metrics.invalid(topic, reason);
                    invalid += 1;
                }
            }
        }
        if invalid > 0 {
            warn!(peer = %from, invalid, "p2p: catch-up answer carried invalid messages");
            scoring::penalise(&mut self.swarm.behaviour_mut().gossipsub, &mut self.book, &from, invalid);
        }
        if truncated && round + 1 < MAX_CATCH_UP_ROUNDS {
            self.request_catch_up(from, None, round + 1);
        }
    }

    fn on_sync_request(&mut self, peer: PeerId, request: SyncRequest, channel: ResponseChannel<SyncResponse>) {
        let response = match request {
            SyncRequest::Hello { record } => match self.accept_presented_record(peer, &record) {
                Ok(()) => SyncResponse::Hello {
                    record: self.record.encoded().to_vec(),
                    records: self.book.shareable(unix_seconds()),
                },
                Err(e) => {
                    self.refuse(peer, e.to_string());
                    SyncResponse::Refused
                }
            },
            SyncRequest::CatchUp { since_block, known } if self.book.is_verified(&peer) => {
                let known: HashSet<MessageId> = known.into_iter().collect();
                let (envelopes, truncated) =
                    self.log.answer(since_block, &known, self.config.catch_up_max_messages, MAX_RESPONSE_BYTES);
                self.metrics.catch_up_served();
                SyncResponse::CatchUp { envelopes, truncated }
            }
            SyncRequest::CatchUp { .. } => SyncResponse::Refused,
        };
        if self.swarm.behaviour_mut().sync.send_response(channel, response).is_err() {
            debug!(%peer, "p2p: could not answer (connection closed)");
        }
    }

    fn on_sync_response(&mut self, peer: PeerId, request_id: OutboundRequestId, response: SyncResponse) {
        if self.hellos.remove(&request_id).is_some() {
            match response {
                SyncResponse::Hello { record, records } => match self.accept_presented_record(peer, &record) {
                    Ok(()) => {
                        self.learn_records(&records);
                        self.request_catch_up(peer, None, 0);
                        if self.config.discover {
                            self.redial();
                        }
                    }
                    Err(e) => {
                        self.refuse(peer, e.to_string());
                        self.disconnect_refused(&peer);
                    }
                },
                SyncResponse::Refused => warn!(%peer, "p2p: peer refused our record"),
                SyncResponse::CatchUp { .. } => {
                    self.refuse(peer, "answered a hello with a catch-up".into());
                    self.disconnect_refused(&peer);
                }
            }
            return;
        }
        if let Some((_, round)) = self.catch_ups.remove(&request_id) {
            match response {
                SyncResponse::CatchUp { envelopes, truncated } => {
                    self.on_catch_up_answer(peer, envelopes, truncated, round)
                }
                SyncResponse::Refused => debug!(%peer, "p2p: catch-up refused"),
                SyncResponse::Hello { .. } => debug!(%peer, "p2p: catch-up answered with a hello"),
            }
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.on_gossip(propagation_source, message_id, message),
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(_)) => {}
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => match event {
                request_response::Event::Message { peer, message, .. } => match message {
                    request_response::Message::Request { request, channel, .. } => {
                        self.on_sync_request(peer, request, channel)
                    }
                    request_response::Message::Response { request_id, response } => {
                        self.on_sync_response(peer, request_id, response)
                    }
                },
                request_response::Event::OutboundFailure { peer, request_id, error, .. } => {
                    if self.hellos.remove(&request_id).is_some() {
                        // No record from it: a peer that does not speak our protocol, or a dead link.
                        debug!(%peer, %error, "p2p: hello failed");
                        if self.swarm.is_connected(&peer) && !self.book.is_verified(&peer) {
                            self.refuse(peer, format!("no record: {error}"));
                            self.disconnect_refused(&peer);
                        }
                    } else if self.catch_ups.remove(&request_id).is_some() {
                        debug!(%peer, %error, "p2p: catch-up request failed");
                    }
                }
                request_response::Event::InboundFailure { peer, .. } => self.disconnect_refused(&peer),
                request_response::Event::ResponseSent { peer, .. } => self.disconnect_refused(&peer),
            },
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event { peer, connection, result: Err(error) })) => {
                debug!(%peer, %error, "p2p: ping failed; closing the connection");
                self.swarm.close_connection(connection);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Limits(never)) => match never {},
            SwarmEvent::ConnectionEstablished { peer_id, endpoint, num_established, .. } => {
                if endpoint.is_dialer() {
                    let address = endpoint.get_remote_address();
                    if self.config.bootstrap.contains(address) {
                        self.bootstrap_peers.insert(address.clone(), peer_id);
                    }
                }
                if num_established.get() == 1 {
                    debug!(peer = %peer_id, "p2p: connected");
                    self.send_hello(peer_id);
                }
                self.update_peer_gauges();
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                self.book.forget_peer(&peer_id);
                self.refused.remove(&peer_id);
                self.update_peer_gauges();
                self.emit(NodeEvent::PeerDisconnected { peer: peer_id });
            }
            SwarmEvent::NewListenAddr { address, .. } if !self.listen_addresses.contains(&address) => {
                self.listen_addresses.push(address);
            }
            _ => {}
        }
    }
}
