//! Peer scoring: gossipsub's score with our parameters, plus an application score for what
//! gossipsub cannot see (refused records, invalid catch-up answers).
//!
//! Invalid gossip (P4) weighs -5 per message and topic, squared: two invalid messages on a topic
//! put a fresh peer below the gossip threshold (-10: we stop gossiping ids to it), five below the
//! graylist (-80: everything it sends is ignored); spread over both topics it takes a few more. The penalty decays by 1 % a second (half-life about a
//! minute). Positive topic scores are capped at 10, so a good history buys little slack.
//! IP colocation is not penalised: peers are authenticated by registration, and operators may
//! share hosts (and test beds share 127.0.0.1).

use std::time::Duration;

use libp2p::gossipsub::{self, PeerScoreParams, PeerScoreThresholds, TopicHash, TopicScoreParams};
use libp2p::PeerId;

use super::peers::RecordBook;

/// The application score of a peer whose record was refused: far below the graylist.
pub(crate) const REFUSED_SCORE: f64 = -1000.0;
/// The application score lost per invalid message in a catch-up answer.
pub(crate) const CATCH_UP_PENALTY: f64 = 20.0;

pub(crate) const GOSSIP_THRESHOLD: f64 = -10.0;
pub(crate) const PUBLISH_THRESHOLD: f64 = -40.0;
pub(crate) const GRAYLIST_THRESHOLD: f64 = -80.0;

pub(crate) fn params(topics: &[TopicHash]) -> (PeerScoreParams, PeerScoreThresholds) {
    let topic = TopicScoreParams {
        topic_weight: 1.0,
        // P1: time in mesh, up to +2.
        time_in_mesh_weight: 0.01,
        time_in_mesh_quantum: Duration::from_secs(1),
        time_in_mesh_cap: 200.0,
        // P2: first deliveries, up to +8.
        first_message_deliveries_weight: 0.1,
        first_message_deliveries_decay: 0.99,
        first_message_deliveries_cap: 80.0,
        // P3/P3b off: a quiet network (a few messages per block) would punish honest peers.
        mesh_message_deliveries_weight: 0.0,
        mesh_message_deliveries_decay: 0.5,
        mesh_message_deliveries_cap: 100.0,
        mesh_message_deliveries_threshold: 1.0,
        mesh_message_deliveries_window: Duration::from_millis(10),
        mesh_message_deliveries_activation: Duration::from_secs(5),
        mesh_failure_penalty_weight: 0.0,
        mesh_failure_penalty_decay: 0.5,
        // P4: invalid messages.
        invalid_message_deliveries_weight: -5.0,
        invalid_message_deliveries_decay: 0.99,
    };
    let params = PeerScoreParams {
        topics: topics.iter().map(|t| (t.clone(), topic.clone())).collect(),
        topic_score_cap: 10.0,
        app_specific_weight: 1.0,
        ip_colocation_factor_weight: 0.0,
        decay_interval: Duration::from_secs(1),
        ..PeerScoreParams::default()
    };
    let thresholds = PeerScoreThresholds {
        gossip_threshold: GOSSIP_THRESHOLD,
        publish_threshold: PUBLISH_THRESHOLD,
        graylist_threshold: GRAYLIST_THRESHOLD,
        accept_px_threshold: 10.0,
        opportunistic_graft_threshold: 3.0,
    };
    (params, thresholds)
}

pub(crate) fn verified(gossipsub: &mut gossipsub::Behaviour, peer: &PeerId) {
    gossipsub.set_application_score(peer, 0.0);
}

pub(crate) fn refuse(gossipsub: &mut gossipsub::Behaviour, peer: &PeerId) {
    gossipsub.set_application_score(peer, REFUSED_SCORE);
}

/// Lowers a peer's application score for `count` more invalid messages it answered with.
pub(crate) fn penalise(gossipsub: &mut gossipsub::Behaviour, book: &mut RecordBook, peer: &PeerId, count: u32) {
    let total = book.add_penalty(peer, count);
    gossipsub.set_application_score(peer, -(total as f64) * CATCH_UP_PENALTY);
}
