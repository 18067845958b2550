//! The daemon's check of gossip payloads ([`keeper_p2p::MessageValidator`]), after the crate's
//! own (size, signature, registered author, known reference block). A proposal must decode to a
//! batch of this network at the envelope's reference block, and come from an operator that has
//! been on duty for that block by the rotation; a signature must be by the operator it names.

use std::sync::Arc;

use alloy::primitives::Address;
use keeper_p2p::{MessageValidator, OperatorRegistry, SignedEnvelope, Topic, Verdict};

use super::chain_view::ChainView;
use super::messages::{decode_proposal, decode_signature};

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
        }
    }
}
