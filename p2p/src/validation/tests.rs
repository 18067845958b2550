use std::time::Duration;

use alloy::primitives::{address, B256};
use alloy::signers::local::PrivateKeySigner;

use super::*;
use crate::config::NetworkId;
use crate::envelope::Envelope;
use crate::registry::StaticRegistry;

const NOW_MS: u64 = 1_800_000_000_000;
const HEAD: u64 = 1000;

fn network() -> NetworkId {
    NetworkId { chain_id: 31337, task_manager: address!("0x00000000000000000000000000000000000000aa") }
}

struct Case {
    signer: PrivateKeySigner,
    registry: StaticRegistry,
    limits: Limits,
}

impl Case {
    fn new() -> Self {
        let signer = PrivateKeySigner::random();
        let registry = StaticRegistry::new([signer.address()], HEAD);
        let limits = Limits {
            max_proposal_bytes: 100,
            max_signature_bytes: 10,
            max_dispute_bytes: 50,
            max_reference_age_blocks: 20,
            max_reference_lead_blocks: 2,
            max_clock_skew: Duration::from_secs(5),
        };
        Self { signer, registry, limits }
    }

    fn envelope(&self, topic: Topic, block: u64) -> Envelope {
        Envelope {
            topic,
            reference_block_number: block,
            reference_block_hash: StaticRegistry::hash_of(block),
            created_at_ms: NOW_MS,
            payload: vec![1; 10],
        }
    }

    fn check(&self, envelope: Envelope, expected: Option<Topic>) -> Check {
        let signed = envelope.sign(&network(), &self.signer).unwrap();
        check_envelope(&signed, expected, &self.registry, &self.limits, NOW_MS)
    }
}

#[test]
fn a_registered_authors_fresh_message_passes() {
    let case = Case::new();
    assert_eq!(case.check(case.envelope(Topic::Proposals, HEAD), Some(Topic::Proposals)), Check::Pass);
    assert_eq!(case.check(case.envelope(Topic::Signatures, HEAD - 20), None), Check::Pass);
}

#[test]
fn topic_and_size_are_checked() {
    let case = Case::new();
    assert_eq!(
        case.check(case.envelope(Topic::Signatures, HEAD), Some(Topic::Proposals)),
        Check::Reject(InvalidReason::WrongTopic)
    );
    let mut big = case.envelope(Topic::Signatures, HEAD);
    big.payload = vec![0; 11];
    assert_eq!(case.check(big.clone(), None), Check::Reject(InvalidReason::Oversize));
    big.topic = Topic::Proposals;
    assert_eq!(case.check(big, None), Check::Pass, "the limit is the topic's");
}

#[test]
fn time_and_reference_block_are_checked() {
    let case = Case::new();
    let mut future = case.envelope(Topic::Proposals, HEAD);
    future.created_at_ms = NOW_MS + 5_001;
    assert_eq!(case.check(future, None), Check::Reject(InvalidReason::FromFuture));
    assert_eq!(case.check(case.envelope(Topic::Proposals, HEAD + 2), None), Check::Ignore, "we may lag");
    assert_eq!(case.check(case.envelope(Topic::Proposals, HEAD + 3), None), Check::Reject(InvalidReason::FromFuture));
    assert_eq!(case.check(case.envelope(Topic::Proposals, HEAD - 21), None), Check::Reject(InvalidReason::TooOld));
    let mut forked = case.envelope(Topic::Proposals, HEAD - 1);
    forked.reference_block_hash = B256::repeat_byte(1);
    assert_eq!(case.check(forked, None), Check::Reject(InvalidReason::WrongReferenceBlock));
}

#[test]
fn unregistered_authors_are_refused() {
    let mut case = Case::new();
    case.registry = StaticRegistry::new([PrivateKeySigner::random().address()], HEAD);
    assert_eq!(case.check(case.envelope(Topic::Proposals, HEAD), None), Check::Reject(InvalidReason::UnknownOperator));
}

#[test]
fn reason_labels_and_indices_are_distinct() {
    let labels: std::collections::HashSet<_> = InvalidReason::CRATE_REASONS.iter().map(|r| r.label()).collect();
    assert_eq!(labels.len(), InvalidReason::CRATE_REASONS.len());
    assert!(!labels.contains("application"));
    for (i, reason) in InvalidReason::CRATE_REASONS.iter().enumerate() {
        assert_eq!(reason.index(), i);
    }
    assert_eq!(InvalidReason::Application("x").index(), InvalidReason::CRATE_REASONS.len());
}
