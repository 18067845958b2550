//! The daemon's check of gossip payloads ([`keeper_p2p::MessageValidator`]), after the crate's
//! own (size, signature, registered author, known reference block). A proposal must decode to a
//! batch of this network at the envelope's reference block, and come from an operator that has
//! been on duty for that block by the rotation; a signature or a dispute must be by the operator it
//! names.

use std::sync::Arc;

use alloy::primitives::Address;
use keeper_p2p::{MessageValidator, OperatorRegistry, SignedEnvelope, Topic, Verdict};

use super::chain_view::ChainView;
use super::messages::{decode_dispute, decode_proposal, decode_signature};

pub struct PayloadValidator {
    pub view: Arc<ChainView>,
    pub chain_id: u64,
    pub task_manager: Address,
    pub takeover_blocks: u64,
}

/// Label of a proposal from an operator not (yet) on duty for its reference block.
pub const NOT_ON_DUTY: &str = "not_on_duty";

impl PayloadValidator {
    /// Whether `author` has held a slot of reference block `number`'s rotation by our head: the
    /// leader from the start, each takeover once its slot has begun.
    fn has_been_on_duty(&self, author: Address, number: u64) -> Option<bool> {
        let schedule = self.view.schedule(number, self.takeover_blocks)?;
        let head = self.view.head_block().max(number);
        let first = schedule.first_turn(author)?;
        Some(first <= head)
    }
}

impl MessageValidator for PayloadValidator {
    fn validate(&self, message: &SignedEnvelope) -> Verdict {
        match message.topic() {
            Topic::Proposals => {
                if let Err(e) = decode_proposal(message, self.chain_id, self.task_manager) {
                    return Verdict::Reject(e.label());
                }
                let number = message.envelope().reference_block_number;
                match self.has_been_on_duty(message.author(), number) {
                    Some(true) => Verdict::Accept,
                    Some(false) => Verdict::Reject(NOT_ON_DUTY),
                    // The crate found the block and the author; a set without stake is not the sender's fault.
                    None => Verdict::Ignore,
                }
            }
            Topic::Signatures => match decode_signature(message) {
                Ok(_) => Verdict::Accept,
                Err(e) => Verdict::Reject(e.label()),
            },
            Topic::Disputes => match decode_dispute(message) {
                Ok(_) => Verdict::Accept,
                Err(e) => Verdict::Reject(e.label()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{B256, U256};
    use alloy::signers::local::PrivateKeySigner;
    use keeper_p2p::rotation::OperatorStake;
    use keeper_p2p::{Envelope, NetworkId};
    use keeper_shared::batch::{Batch, BatchContext, TaskId, TaskLeaf};
    use keeper_shared::bls::{SecretKey, SigningDomain};

    use super::*;
    use crate::p2p::messages::{encode_dispute, encode_proposal, encode_signature};
    use crate::protocol::{Dispute, DisputeReason, DisputedTask, SignedBatch};

    const NUMBER: u64 = 100;
    const TASK_MANAGER: Address = Address::repeat_byte(9);

    struct Bed {
        validator: PayloadValidator,
        signers: Vec<PrivateKeySigner>,
        network: NetworkId,
        hash: B256,
    }

    impl Bed {
        fn new() -> Self {
            let signers: Vec<PrivateKeySigner> = (0..4).map(|_| PrivateKeySigner::random()).collect();
            let hash = B256::repeat_byte(7);
            let view = Arc::new(ChainView::default());
            let stakes =
                signers.iter().map(|s| OperatorStake { operator: s.address(), stake: U256::from(10u64) }).collect();
            view.set_for_test(NUMBER, hash, stakes);
            let validator = PayloadValidator { view, chain_id: 31337, task_manager: TASK_MANAGER, takeover_blocks: 2 };
            Self { validator, signers, network: NetworkId { chain_id: 31337, task_manager: TASK_MANAGER }, hash }
        }

        fn batch(&self) -> Batch {
            let context = BatchContext {
                chain_id: 31337,
                task_manager: TASK_MANAGER,
                reference_block_number: NUMBER,
                reference_block_hash: self.hash,
            };
            let leaf = TaskLeaf {
                task: TaskId { job_id: U256::from(1u64), sequence: 1 },
                spec_hash: B256::repeat_byte(1),
                response_hash: B256::repeat_byte(2),
            };
            Batch::new(context, vec![leaf]).unwrap()
        }

        fn envelope(&self, topic: Topic, payload: Vec<u8>, author: &PrivateKeySigner) -> SignedEnvelope {
            Envelope {
                topic,
                reference_block_number: NUMBER,
                reference_block_hash: self.hash,
                created_at_ms: 1,
                payload,
            }
            .sign(&self.network, author)
            .unwrap()
        }

        /// The operators in the rotation order of the reference block.
        fn order(&self) -> Vec<&PrivateKeySigner> {
            let schedule = self.validator.view.schedule(NUMBER, 2).unwrap();
            schedule.order().iter().map(|a| self.signers.iter().find(|s| s.address() == *a).unwrap()).collect()
        }
    }

    #[test]
    fn a_proposal_is_accepted_from_the_leader_and_refused_from_one_not_yet_on_duty() {
        let bed = Bed::new();
        let order = bed.order();
        let proposal = encode_proposal(&bed.batch());
        let from_leader = bed.envelope(Topic::Proposals, proposal.clone(), order[0]);
        assert_eq!(bed.validator.validate(&from_leader), Verdict::Accept);
        // At the reference block itself only the leader has been on duty; the third's slot is 4 blocks on.
        let from_third = bed.envelope(Topic::Proposals, proposal, order[2]);
        assert_eq!(bed.validator.validate(&from_third), Verdict::Reject(NOT_ON_DUTY));
    }

    #[test]
    fn a_proposal_for_another_block_or_garbled_is_refused() {
        let bed = Bed::new();
        let leader = bed.order()[0];
        let garbled = bed.envelope(Topic::Proposals, b"{not json".to_vec(), leader);
        assert_eq!(bed.validator.validate(&garbled), Verdict::Reject("malformed_payload"));
        let mut other = bed.batch().context().to_owned();
        other.reference_block_number = NUMBER - 1;
        let elsewhere = Batch::new(other, bed.batch().leaves().to_vec()).unwrap();
        let mismatched = bed.envelope(Topic::Proposals, encode_proposal(&elsewhere), leader);
        assert_eq!(bed.validator.validate(&mismatched), Verdict::Reject("context_mismatch"));
    }

    #[test]
    fn a_signature_must_be_sent_by_the_operator_it_names() {
        let bed = Bed::new();
        let batch = bed.batch();
        let key = SecretKey::random(&mut rand::thread_rng());
        let signature = key.sign(batch.digest().as_slice(), SigningDomain::Batch);
        let signed = SignedBatch { operator: bed.signers[0].address(), digest: batch.digest(), signature };
        let own = bed.envelope(Topic::Signatures, encode_signature(&signed), &bed.signers[0]);
        assert_eq!(bed.validator.validate(&own), Verdict::Accept);
        let relabelled = bed.envelope(Topic::Signatures, encode_signature(&signed), &bed.signers[1]);
        assert_eq!(bed.validator.validate(&relabelled), Verdict::Reject("signer_mismatch"));
    }

    #[test]
    fn a_dispute_must_be_sent_by_the_operator_it_names_and_decode() {
        let bed = Bed::new();
        let batch = bed.batch();
        let leaf = batch.leaves()[0];
        let dispute = Dispute {
            operator: bed.signers[0].address(),
            digest: batch.digest(),
            tasks: vec![DisputedTask {
                task: leaf.task,
                reason: DisputeReason::NotDue,
                own_response_hash: None,
                detail: Some("not due at the reference block".into()),
            }],
        };
        let own = bed.envelope(Topic::Disputes, encode_dispute(&dispute), &bed.signers[0]);
        assert_eq!(bed.validator.validate(&own), Verdict::Accept);
        assert_eq!(crate::p2p::messages::decode_dispute(&own), Ok(dispute.clone()));
        let relabelled = bed.envelope(Topic::Disputes, encode_dispute(&dispute), &bed.signers[1]);
        assert_eq!(bed.validator.validate(&relabelled), Verdict::Reject("signer_mismatch"));
        let garbled = bed.envelope(Topic::Disputes, b"{\"operator\":1}".to_vec(), &bed.signers[0]);
        assert_eq!(bed.validator.validate(&garbled), Verdict::Reject("malformed_payload"));
    }
}
