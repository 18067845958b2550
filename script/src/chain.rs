//! What a script may read of the chain, all at one block: the task's reference block. A [`ChainReader`] is bound
//! to that block; tests and keeperctl supply their own, keepers use [`AlloyChain`], which names the block by hash
//! with `requireCanonical` (EIP-1898), so a reorg makes a read fail instead of silently answering from another
//! block.

use std::future::Future;

use alloy::eips::{BlockId, RpcBlockHash};
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::transports::{RpcError, TransportError};
use thiserror::Error;

/// The reference block a script runs against (its number, hash and time are host functions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BlockContext {
    pub number: u64,
    pub hash: B256,
    /// Unix time of the block.
    pub timestamp: u64,
}

/// The result of a read-only call, as the script sees it (`keeper_v1.call`'s status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallResult {
    /// The call returned this data.
    Success(Bytes),
    /// The call reverted with this data (empty for a bare `revert()`).
    Reverted(Bytes),
    /// The call halted without a revert (out of gas, invalid opcode): deterministic at a fixed block and gas.
    Halted,
}

/// A read the node could not answer: not the script's doing, so the run fails and the keeper signs nothing.
#[derive(Debug, Error)]
#[error("chain read `{read}` at block {block} ({hash}): {source}")]
pub struct ChainError {
    pub read: &'static str,
    pub block: u64,
    pub hash: B256,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// The chain at one block, read only.
pub trait ChainReader: Send + Sync {
    /// The block every read is made at.
    fn block(&self) -> BlockContext;
    /// `eth_call` of `to` with `data` from the zero address with `gas`.
    fn call(&self, to: Address, data: Bytes, gas: u64) -> impl Future<Output = Result<CallResult, ChainError>> + Send;
    /// The balance of `address`, in wei.
    fn balance(&self, address: Address) -> impl Future<Output = Result<U256, ChainError>> + Send;
    /// The size of `address`'s code, in bytes.
    fn code_size(&self, address: Address) -> impl Future<Output = Result<u64, ChainError>> + Send;
    /// The storage word of `address` at `slot`.
    fn storage(&self, address: Address, slot: B256) -> impl Future<Output = Result<B256, ChainError>> + Send;
}

/// A [`ChainReader`] over an alloy provider, every read at the block by hash (required canonical).
#[derive(Debug, Clone)]
pub struct AlloyChain<P> {
    provider: P,
    block: BlockContext,
}

impl<P: Provider> AlloyChain<P> {
    pub fn new(provider: P, block: BlockContext) -> Self {
        Self { provider, block }
    }

    fn block_id(&self) -> BlockId {
        BlockId::Hash(RpcBlockHash::from_hash(self.block.hash, Some(true)))
    }

    fn error(&self, read: &'static str, source: TransportError) -> ChainError {
        ChainError { read, block: self.block.number, hash: self.block.hash, source: Box::new(source) }
    }
}

impl<P: Provider> ChainReader for AlloyChain<P> {
    fn block(&self) -> BlockContext {
        self.block
    }

    async fn call(&self, to: Address, data: Bytes, gas: u64) -> Result<CallResult, ChainError> {
        let request = TransactionRequest::default().from(Address::ZERO).to(to).input(data.into()).gas_limit(gas);
        match self.provider.call(request).block(self.block_id()).await {
            Ok(returned) => Ok(CallResult::Success(returned)),
            Err(error) => classify_call_error(&error).ok_or_else(|| self.error("call", error)),
        }
    }

    async fn balance(&self, address: Address) -> Result<U256, ChainError> {
        self.provider.get_balance(address).block_id(self.block_id()).await.map_err(|e| self.error("balance", e))
    }

    async fn code_size(&self, address: Address) -> Result<u64, ChainError> {
        let code = self
            .provider
            .get_code_at(address)
            .block_id(self.block_id())
            .await
            .map_err(|e| self.error("code_size", e))?;
        Ok(code.len() as u64)
    }

    async fn storage(&self, address: Address, slot: B256) -> Result<B256, ChainError> {
        let word = self
            .provider
            .get_storage_at(address, slot.into())
            .block_id(self.block_id())
            .await
            .map_err(|e| self.error("storage", e))?;
        Ok(word.into())
    }
}

/// A node's error response that is the called contract's doing (a revert or a halt), as opposed to the
/// node's own failure (`None`).
pub fn classify_call_error(error: &TransportError) -> Option<CallResult> {
    let RpcError::ErrorResp(payload) = error else { return None };
    if payload.code == 3 || payload.message.contains("revert") {
        return Some(CallResult::Reverted(payload.as_revert_data().unwrap_or_default()));
    }
    let message = payload.message.to_lowercase();
    let halted = ["out of gas", "outofgas", "invalid opcode", "invalidfeopcode", "stack underflow", "stack overflow"];
    halted.iter().any(|m| message.contains(m)).then_some(CallResult::Halted)
}

#[cfg(test)]
mod tests {
    use alloy::primitives::bytes;

    use super::*;

    fn response(code: i64, message: &str, data: Option<&str>) -> TransportError {
        let json = match data {
            Some(d) => format!(r#"{{"code":{code},"message":"{message}","data":"{d}"}}"#),
            None => format!(r#"{{"code":{code},"message":"{message}"}}"#),
        };
        TransportError::ErrorResp(serde_json::from_str(&json).expect("error payload"))
    }

    #[test]
    fn only_the_contracts_failures_are_call_results() {
        assert_eq!(
            classify_call_error(&response(3, "execution reverted", Some("0x12345678"))),
            Some(CallResult::Reverted(bytes!("12345678")))
        );
        assert_eq!(classify_call_error(&response(-32603, "EVM error OutOfGas(Basic)", None)), Some(CallResult::Halted));
        assert_eq!(classify_call_error(&response(-32000, "header not found", None)), None);
        assert_eq!(classify_call_error(&TransportError::NullResp), None);
    }
}
