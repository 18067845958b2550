//! A keeper's response to a task: the `(execute, callData)` pair whose hash goes into the task's
//! leaf (`docs/protocol.md`; `TaskManager.responseHash`).

use alloy::primitives::{keccak256, Bytes, B256};
use alloy::sol_types::SolValue;

/// A keeper's response to a task: the `(execute, callData)` pair whose hash it signs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaskResponse {
    /// False: checked, nothing to do (the sequence is consumed, nothing is called or charged).
    pub execute: bool,
    /// Exactly what the job's forwarder sends to the target (empty when `execute` is false).
    pub call_data: Bytes,
}

impl TaskResponse {
    /// Send `call_data` to the target.
    pub fn perform(call_data: Bytes) -> Self {
        Self { execute: true, call_data }
    }

    /// Checked, nothing to do.
    pub fn nothing_to_do() -> Self {
        Self { execute: false, call_data: Bytes::new() }
    }

    /// The response hash signed in the task's leaf.
    pub fn hash(&self) -> B256 {
        response_hash(self.execute, &self.call_data)
    }
}

/// `keccak256(abi.encode(bool execute, bytes callData))` (docs/protocol.md; `TaskManager.responseHash`).
pub fn response_hash(execute: bool, call_data: &[u8]) -> B256 {
    keccak256((execute, Bytes::copy_from_slice(call_data)).abi_encode_params())
}

#[cfg(test)]
mod tests {
    use alloy::hex;
    use alloy::primitives::bytes;

    use super::*;

    #[test]
    fn response_hash_is_abi_encode_of_execute_and_call_data() {
        // abi.encode(true, hex"d09de08a"): the bool, the offset of the bytes (0x40), their length, the
        // data right-padded; written out by hand from the ABI specification.
        let encoded = hex!(
            "0000000000000000000000000000000000000000000000000000000000000001"
            "0000000000000000000000000000000000000000000000000000000000000040"
            "0000000000000000000000000000000000000000000000000000000000000004"
            "d09de08a00000000000000000000000000000000000000000000000000000000"
        );
        assert_eq!(response_hash(true, &hex!("d09de08a")), keccak256(encoded));
        assert_eq!(TaskResponse::perform(bytes!("d09de08a")).hash(), keccak256(encoded));
        let nothing = hex!(
            "0000000000000000000000000000000000000000000000000000000000000000"
            "0000000000000000000000000000000000000000000000000000000000000040"
            "0000000000000000000000000000000000000000000000000000000000000000"
        );
        assert_eq!(TaskResponse::nothing_to_do().hash(), keccak256(nothing));
    }
}
