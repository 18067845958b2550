//! Why a target reverted, from its revert data: Solidity's `Error(string)` and `Panic(uint256)`, a
//! custom error named when its selector is one this module knows (the sample targets' and the common
//! access-control ones), else the raw bytes. keeperd records it with a failed task; keeperctl and the
//! console print it; its [`RevertReason::label`] is a metric label with a bounded set of values.

use std::fmt;

use alloy::primitives::{keccak256, Address, Bytes, U256};
use alloy::sol_types::{SolError, SolValue};

/// Custom errors named when a target reverts with one: those of `contracts/src/devnet/SampleTargets.sol`,
/// OpenZeppelin's `Ownable`/`AccessControl` (5.x) and Chainlink's `AutomationBase`. Only static argument
/// types (address, uintN, bool, bytes32) are decoded; anything else is printed as hex.
const KNOWN_ERRORS: &[&str] = &[
    "ForwarderNotAllowed(address)",
    "ForwarderAddressZero()",
    "OnlySimulatedBackend()",
    "EmptyPosition()",
    "UnknownPosition(uint256)",
    "NotUnderwater(uint256)",
    "InvalidRange(uint256,uint256)",
    "InvalidHarvest(uint256,uint256)",
    "OwnableUnauthorizedAccount(address)",
    "AccessControlUnauthorizedAccount(address,bytes32)",
    "ReentrancyGuardReentrantCall()",
];

/// Why a call reverted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevertReason {
    /// `revert("...")` / `require(cond, "...")`.
    Error(String),
    /// A Solidity panic (`assert`, overflow, division by zero, ...), its code.
    Panic(U256),
    /// A custom error this module knows, with its arguments decoded: `Name(arg, ...)`.
    Custom { name: &'static str, text: String },
    /// Revert data nothing here decodes (an unknown custom error's selector comes first).
    Unknown(Bytes),
    /// A revert without data (`revert()`, out of gas, a failed `require` without a message).
    Empty,
}

impl RevertReason {
    /// The reason in `data`, a call's revert data.
    pub fn decode(data: &[u8]) -> Self {
        if data.is_empty() {
            return Self::Empty;
        }
        if let Ok(error) = alloy::sol_types::Revert::abi_decode(data) {
            return Self::Error(error.reason);
        }
        if let Ok(panic) = alloy::sol_types::Panic::abi_decode(data) {
            return Self::Panic(panic.code);
        }
        if data.len() >= 4 {
            for signature in KNOWN_ERRORS {
                if keccak256(signature.as_bytes())[..4] == data[..4] {
                    return Self::Custom { name: error_name(signature), text: custom_text(signature, &data[4..]) };
                }
            }
        }
        Self::Unknown(Bytes::copy_from_slice(data))
    }

    /// A short, bounded name for metrics: the custom error's name, `error_string`, `panic`, `unknown`
    /// or `empty` (never the message itself, which the target chooses).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Error(_) => "error_string",
            Self::Panic(_) => "panic",
            Self::Custom { name, .. } => name,
            Self::Unknown(_) => "unknown",
            Self::Empty => "empty",
        }
    }
}

impl fmt::Display for RevertReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Error(message) => write!(f, "Error({message:?})"),
            Self::Panic(code) => write!(f, "Panic(0x{code:02x}: {})", panic_meaning(*code)),
            Self::Custom { text, .. } => f.write_str(text),
            Self::Unknown(data) => write!(f, "revert data {data}"),
            Self::Empty => f.write_str("reverted without data"),
        }
    }
}

/// What a panic code means (Solidity's documentation, "Panic via assert and Error via require").
fn panic_meaning(code: U256) -> &'static str {
    match code.saturating_to::<u64>() {
        0x00 => "generic",
        0x01 => "assert failed",
        0x11 => "arithmetic overflow or underflow",
        0x12 => "division or modulo by zero",
        0x21 => "invalid enum value",
        0x22 => "bad storage byte array encoding",
        0x31 => "pop on an empty array",
        0x32 => "array index out of bounds",
        0x41 => "out of memory",
        0x51 => "call of a zero function",
        _ => "unknown panic code",
    }
}

fn error_name(signature: &'static str) -> &'static str {
    signature.split_once('(').map_or(signature, |(name, _)| name)
}

/// `Name(arg, ...)` with each static argument decoded from its word; raw hex when the words do not fit.
fn custom_text(signature: &'static str, args: &[u8]) -> String {
    let name = error_name(signature);
    let types: Vec<&str> =
        signature[name.len() + 1..signature.len() - 1].split(',').filter(|t| !t.is_empty()).collect();
    if args.len() != types.len() * 32 {
        return format!("{name}(0x{})", alloy::hex::encode(args));
    }
    let values: Vec<String> = types
        .iter()
        .zip(args.chunks_exact(32))
        .map(|(kind, word)| match *kind {
            "address" => Address::from_slice(&word[12..]).to_string(),
            "bool" => (word[31] != 0).to_string(),
            "bytes32" => format!("0x{}", alloy::hex::encode(word)),
            _ => U256::abi_decode(word).map_or_else(|_| alloy::hex::encode(word), |v| v.to_string()),
        })
        .collect();
    format!("{name}({})", values.join(", "))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use alloy::hex;
    use alloy::primitives::address;

    use super::*;

    #[test]
    fn error_string_is_decoded() {
        let data = alloy::sol_types::Revert::from("stale performData").abi_encode();
        let reason = RevertReason::decode(&data);
        assert_eq!(reason, RevertReason::Error("stale performData".into()));
        assert_eq!(reason.to_string(), "Error(\"stale performData\")");
        assert_eq!(reason.label(), "error_string");
    }

    #[test]
    fn panic_is_decoded_with_its_meaning() {
        let data = alloy::sol_types::Panic::from(0x11).abi_encode();
        let reason = RevertReason::decode(&data);
        assert_eq!(reason, RevertReason::Panic(U256::from(0x11)));
        assert_eq!(reason.to_string(), "Panic(0x11: arithmetic overflow or underflow)");
        assert_eq!(reason.label(), "panic");
    }

    #[test]
    fn known_custom_error_is_named_with_its_arguments() {
        // ForwarderNotAllowed(address): selector keccak256("ForwarderNotAllowed(address)")[..4], one word.
        let caller = address!("00000000000000000000000000000000000000aa");
        let mut data = keccak256("ForwarderNotAllowed(address)")[..4].to_vec();
        data.extend_from_slice(&caller.into_word()[..]);
        let reason = RevertReason::decode(&data);
        assert_eq!(reason.label(), "ForwarderNotAllowed");
        assert_eq!(reason.to_string(), format!("ForwarderNotAllowed({caller})"));
        // The binding's own encoding agrees with the table.
        let bound = keeper_contracts_error(caller);
        assert_eq!(bound, data);

        let mut harvest = keccak256("InvalidHarvest(uint256,uint256)")[..4].to_vec();
        harvest.extend_from_slice(&U256::from(5).to_be_bytes::<32>());
        harvest.extend_from_slice(&U256::from(3).to_be_bytes::<32>());
        assert_eq!(RevertReason::decode(&harvest).to_string(), "InvalidHarvest(5, 3)");
    }

    fn keeper_contracts_error(caller: Address) -> Vec<u8> {
        crate::contracts::SampleCounter::ForwarderNotAllowed { caller }.abi_encode()
    }

    #[test]
    fn unknown_and_empty_revert_data_stay_raw() {
        let data = hex!("deadbeef0102");
        let reason = RevertReason::decode(&data);
        assert_eq!(reason, RevertReason::Unknown(Bytes::copy_from_slice(&data)));
        assert_eq!(reason.to_string(), "revert data 0xdeadbeef0102");
        assert_eq!(reason.label(), "unknown");
        assert_eq!(RevertReason::decode(&[]), RevertReason::Empty);
        assert_eq!(RevertReason::decode(&[]).label(), "empty");
    }
}
