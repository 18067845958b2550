//! The records a node knows: the newest per operator (for dialling and sharing), and which
//! connected peers have presented their own (verified).

use std::collections::HashMap;

use alloy::primitives::Address;
use libp2p::{Multiaddr, PeerId};

use crate::error::RecordError;
use crate::record::SignedPeerRecord;
use crate::sync::MAX_SHARED_RECORDS;

#[derive(Debug, Default)]
pub(crate) struct RecordBook {
    /// The newest valid record seen per operator.
    records: HashMap<Address, SignedPeerRecord>,
    /// Connected peers that presented their own record, and its operator.
    verified: HashMap<PeerId, Address>,
    /// Invalid messages in catch-up answers, per connected peer.
    penalties: HashMap<PeerId, u32>,
}

impl RecordBook {
    /// A record `peer` presented itself (already checked to name `peer`). A newer record of the
    /// same operator replaces an older one and unverifies the operator's previous peer; an older
    /// one is refused. Returns whether the peer was not verified as this operator before.
    pub(crate) fn verify_peer(&mut self, peer: PeerId, record: SignedPeerRecord) -> Result<bool, RecordError> {
        let operator = record.operator();
        if let Some(known) = self.records.get(&operator) {
            let sequence = record.record().sequence;
            let known_sequence = known.record().sequence;
            if sequence < known_sequence && known.peer_id() != peer {
                return Err(RecordError::Stale { operator, sequence, known: known_sequence });
            }
        }
        let replace = self.records.get(&operator).is_none_or(|k| k.record().sequence <= record.record().sequence);
        if replace {
            self.records.insert(operator, record);
        }
        self.verified.retain(|p, o| *o != operator || *p == peer);
        Ok(self.verified.insert(peer, operator) != Some(operator))
    }

    /// A record relayed by someone else: kept if newer, never verifies anyone.
    pub(crate) fn learn(&mut self, record: SignedPeerRecord) {
        let newer =
            self.records.get(&record.operator()).is_none_or(|known| known.record().sequence < record.record().sequence);
        if newer {
            self.records.insert(record.operator(), record);
        }
    }

    pub(crate) fn forget_peer(&mut self, peer: &PeerId) {
        self.verified.remove(peer);
        self.penalties.remove(peer);
    }

    pub(crate) fn is_verified(&self, peer: &PeerId) -> bool {
        self.verified.contains_key(peer)
    }

    pub(crate) fn operator_of(&self, peer: &PeerId) -> Option<Address> {
        self.verified.get(peer).copied()
    }

    pub(crate) fn verified_peers(&self) -> Vec<PeerId> {
        self.verified.keys().copied().collect()
    }

    /// Verified peers with their operators.
    pub(crate) fn verified(&self) -> Vec<(PeerId, Address)> {
        self.verified.iter().map(|(p, o)| (*p, *o)).collect()
    }

    /// Unexpired records' peers and addresses.
    pub(crate) fn dialable(&self, now: u64) -> Vec<(PeerId, Vec<Multiaddr>)> {
        self.records
            .values()
            .filter(|r| r.record().expires_at > now)
            .map(|r| (r.peer_id(), r.record().addresses.clone()))
            .collect()
    }

    /// Unexpired records to hand to a peer that says hello.
    pub(crate) fn shareable(&self, now: u64) -> Vec<Vec<u8>> {
        self.records
            .values()
            .filter(|r| r.record().expires_at > now)
            .take(MAX_SHARED_RECORDS)
            .map(|r| r.encoded().to_vec())
            .collect()
    }

    pub(crate) fn add_penalty(&mut self, peer: &PeerId, count: u32) -> u32 {
        let total = self.penalties.entry(*peer).or_default();
        *total = total.saturating_add(count);
        *total
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::address;
    use alloy::signers::local::PrivateKeySigner;
    use libp2p::identity::Keypair;

    use super::*;
    use crate::config::NetworkId;
    use crate::record::PeerRecord;

    fn signed(signer: &PrivateKeySigner, peer: PeerId, sequence: u64) -> SignedPeerRecord {
        let network = NetworkId { chain_id: 1, task_manager: address!("0x00000000000000000000000000000000000000aa") };
        PeerRecord { operator: signer.address(), peer_id: peer, addresses: vec![], sequence, expires_at: 2_000_000_000 }
            .sign(&network, signer)
            .unwrap()
    }

    fn peer() -> PeerId {
        Keypair::generate_ed25519().public().to_peer_id()
    }

    #[test]
    fn a_newer_record_moves_the_operator_to_its_new_peer() {
        let operator = PrivateKeySigner::random();
        let (old, new) = (peer(), peer());
        let mut book = RecordBook::default();
        assert!(book.verify_peer(old, signed(&operator, old, 1)).unwrap());
        assert!(!book.verify_peer(old, signed(&operator, old, 1)).unwrap(), "presenting again is not new");
        assert!(book.verify_peer(new, signed(&operator, new, 2)).unwrap());
        assert!(!book.is_verified(&old), "the restarted operator's old peer no longer speaks for it");
        assert_eq!(book.operator_of(&new), Some(operator.address()));
        // The old instance presenting its older record again is refused.
        assert_eq!(
            book.verify_peer(old, signed(&operator, old, 1)),
            Err(RecordError::Stale { operator: operator.address(), sequence: 1, known: 2 })
        );
    }

    #[test]
    fn relayed_records_never_verify() {
        let operator = PrivateKeySigner::random();
        let relayed = peer();
        let mut book = RecordBook::default();
        book.learn(signed(&operator, relayed, 5));
        assert!(!book.is_verified(&relayed));
        assert_eq!(book.dialable(0), vec![(relayed, vec![])]);
        assert_eq!(book.shareable(0).len(), 1);
        assert!(book.shareable(2_000_000_000).is_empty(), "expired records are not shared");
        // An older relayed record does not replace a newer one.
        book.learn(signed(&operator, peer(), 4));
        assert_eq!(book.dialable(0)[0].0, relayed);
    }

    #[test]
    fn penalties_add_up_and_are_forgotten_with_the_peer() {
        let mut book = RecordBook::default();
        let p = peer();
        assert_eq!(book.add_penalty(&p, 2), 2);
        assert_eq!(book.add_penalty(&p, 3), 5);
        book.forget_peer(&p);
        assert_eq!(book.add_penalty(&p, 1), 1);
    }
}
