//! The `[p2p]` section: which transport carries proposals and signatures, and the operators'
//! network node (keeper-p2p) when it is used. Every error names its field (`p2p.listen`, ...).

use std::path::{Path, PathBuf};

use keeper_p2p::Multiaddr;
use serde::Deserialize;

use super::{invalid, ConfigError};

/// What carries proposals and signatures between operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// One aggregator's HTTP endpoint (`[aggregator] listen/url`).
    #[default]
    Http,
    /// The operators' gossip network: any operator proposes and submits, by the rotation rule.
    P2p,
    /// Both: the aggregator serves HTTP too, and keepers take proposals from either.
    Both,
}

impl Transport {
    pub fn uses_http(self) -> bool {
        matches!(self, Self::Http | Self::Both)
    }

    pub fn uses_p2p(self) -> bool {
        matches!(self, Self::P2p | Self::Both)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::P2p => "p2p",
            Self::Both => "both",
        }
    }
}

/// `[p2p]` as written in the file; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileP2p {
    pub transport: Option<Transport>,
    pub listen: Option<Vec<String>>,
    pub external_addresses: Option<Vec<String>>,
    pub bootstrap: Option<Vec<String>>,
    pub key_file: Option<PathBuf>,
    pub takeover_blocks: Option<u64>,
    pub max_connections: Option<u32>,
    pub max_proposal_bytes: Option<usize>,
    pub max_signature_bytes: Option<usize>,
}

/// The validated `[p2p]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct P2pConfig {
    pub transport: Transport,
    /// Where the node listens (`/ip4/0.0.0.0/tcp/9010` by default).
    pub listen: Vec<Multiaddr>,
    /// Addresses put in the signed record instead of the bound ones (behind NAT).
    pub external_addresses: Vec<Multiaddr>,
    /// Peers dialled at start and redialled while disconnected.
    pub bootstrap: Vec<Multiaddr>,
    /// The node's libp2p key (its peer id); created 0600 on first start. Default `<data_dir>/p2p.key`.
    pub key_file: PathBuf,
    /// Blocks a proposer or submitter has before the next in the rotation takes over.
    pub takeover_blocks: u64,
    pub max_connections: u32,
    pub max_proposal_bytes: usize,
    pub max_signature_bytes: usize,
}

/// The default listen address: all interfaces, a fixed port operators can open in a firewall.
pub const DEFAULT_LISTEN: &str = "/ip4/0.0.0.0/tcp/9010";
/// Default takeover deadline: three blocks (a few seconds on a 1-2 s chain; one missed block is not a takeover).
pub const DEFAULT_TAKEOVER_BLOCKS: u64 = 3;

impl P2pConfig {
    /// The network crate's node configuration for this section.
    pub fn node_config(&self, network: keeper_p2p::NetworkId) -> keeper_p2p::NodeConfig {
        let mut config = keeper_p2p::NodeConfig::new(network, self.listen.clone());
        config.external_addresses = self.external_addresses.clone();
        config.bootstrap = self.bootstrap.clone();
        config.max_connections = self.max_connections;
        config.limits.max_proposal_bytes = self.max_proposal_bytes;
        config.limits.max_signature_bytes = self.max_signature_bytes;
        config
    }
}

pub(super) fn resolve_p2p(file: FileP2p, data_dir: &Path) -> Result<P2pConfig, ConfigError> {
    let transport = file.transport.unwrap_or_default();
    let listen = addresses("p2p.listen", file.listen.unwrap_or_else(|| vec![DEFAULT_LISTEN.to_owned()]))?;
    if listen.is_empty() {
        return Err(invalid("p2p.listen", "name at least one address to listen on"));
    }
    let external_addresses = addresses("p2p.external_addresses", file.external_addresses.unwrap_or_default())?;
    if external_addresses.len() > keeper_p2p::record::MAX_RECORD_ADDRESSES {
        return Err(invalid(
            "p2p.external_addresses",
            format!("at most {} addresses fit in a peer record", keeper_p2p::record::MAX_RECORD_ADDRESSES),
        ));
    }
    let bootstrap = addresses("p2p.bootstrap", file.bootstrap.unwrap_or_default())?;
    let key_file = file.key_file.unwrap_or_else(|| data_dir.join("p2p.key"));
    let takeover_blocks = file.takeover_blocks.unwrap_or(DEFAULT_TAKEOVER_BLOCKS);
    if !(1..=16).contains(&takeover_blocks) {
        return Err(invalid("p2p.takeover_blocks", format!("{takeover_blocks} is not in 1..=16")));
    }
    let max_connections = file.max_connections.unwrap_or(256);
    if !(1..=10_000).contains(&max_connections) {
        return Err(invalid("p2p.max_connections", format!("{max_connections} is not in 1..=10000")));
    }
    let defaults = keeper_p2p::Limits::default();
    let max_proposal_bytes = file.max_proposal_bytes.unwrap_or(defaults.max_proposal_bytes);
    if !(1024..=keeper_p2p::config::MAX_ENVELOPE_BYTES_CAP - keeper_p2p::config::ENVELOPE_OVERHEAD)
        .contains(&max_proposal_bytes)
    {
        return Err(invalid("p2p.max_proposal_bytes", format!("{max_proposal_bytes} is not in 1024..=4 MiB")));
    }
    let max_signature_bytes = file.max_signature_bytes.unwrap_or(defaults.max_signature_bytes);
    if !(256..=65_536).contains(&max_signature_bytes) {
        return Err(invalid("p2p.max_signature_bytes", format!("{max_signature_bytes} is not in 256..=65536")));
    }
    Ok(P2pConfig {
        transport,
        listen,
        external_addresses,
        bootstrap,
        key_file,
        takeover_blocks,
        max_connections,
        max_proposal_bytes,
        max_signature_bytes,
    })
}

fn addresses(field: &'static str, texts: Vec<String>) -> Result<Vec<Multiaddr>, ConfigError> {
    texts
        .iter()
        .map(|text| text.parse::<Multiaddr>().map_err(|e| invalid(field, format!("{text:?} is not a multiaddr: {e}"))))
        .collect()
}
