//! The libp2p behaviours a node runs, and their configuration.

use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity, ValidationMode};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{connection_limits, identity::Keypair, ping, request_response};

use super::scoring;
use crate::config::{NodeConfig, Topic};
use crate::envelope::MessageId;
use crate::sync::SyncCodec;

/// Room above the largest envelope for gossipsub's own framing and control messages.
const TRANSMIT_HEADROOM: usize = 64 * 1024;

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) limits: connection_limits::Behaviour,
    pub(crate) gossipsub: gossipsub::Behaviour,
    pub(crate) sync: request_response::Behaviour<SyncCodec>,
    pub(crate) ping: ping::Behaviour,
}

impl Behaviour {
    pub(crate) fn new(config: &NodeConfig, _key: &Keypair) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        // Messages carry their author's ECDSA signature, so gossipsub's own signing (by the
        // forwarding peer's key) would add nothing: anonymous mode, ids from the content.
        let gossip_config = gossipsub::ConfigBuilder::default()
            .validation_mode(ValidationMode::Anonymous)
            .validate_messages()
            .message_id_fn(|message| gossipsub::MessageId::new(MessageId::of(&message.data).0.as_slice()))
            .max_transmit_size(config.limits.max_envelope_bytes() + TRANSMIT_HEADROOM)
            .heartbeat_interval(config.heartbeat)
            .flood_publish(true)
            .build()
            .map_err(|e| e.to_string())?;
        let mut gossipsub = gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, gossip_config)?;
        let topics: Vec<_> = Topic::ALL.iter().map(|t| IdentTopic::new(config.network.topic_name(*t)).hash()).collect();
        let (params, thresholds) = scoring::params(&topics);
        gossipsub.with_peer_score(params, thresholds)?;

        let sync = request_response::Behaviour::with_codec(
            SyncCodec,
            [(config.network.sync_protocol(), request_response::ProtocolSupport::Full)],
            request_response::Config::default().with_request_timeout(config.request_timeout),
        );
        let ping = ping::Behaviour::new(
            ping::Config::new().with_interval(config.ping_interval).with_timeout(config.ping_timeout),
        );
        let limits = connection_limits::Behaviour::new(
            connection_limits::ConnectionLimits::default()
                .with_max_established(Some(config.max_connections))
                .with_max_established_per_peer(Some(2))
                .with_max_pending_incoming(Some(config.max_connections)),
        );
        Ok(Self { limits, gossipsub, sync, ping })
    }
}
