//! Numbers as decimal strings in JSON: job ids, wei amounts and other values that may exceed 2^53,
//! which JSON numbers cannot carry exactly. Used with `#[serde(with = "...")]`.

use alloy::primitives::U256;

/// A decimal number (no sign, no `0x`), as job ids appear in paths, queries and JSON.
pub fn parse_decimal_u256(text: &str) -> Option<U256> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    U256::from_str_radix(text, 10).ok()
}

/// Serde for a `U256` as a decimal string.
pub mod u256 {
    use alloy::primitives::U256;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &U256, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<U256, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_decimal_u256(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a decimal number")))
    }
}

/// Serde for an optional `U256` as a decimal string or `null`.
pub mod opt_u256 {
    use alloy::primitives::U256;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<U256>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => serializer.collect_str(value),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<U256>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| {
                super::parse_decimal_u256(&text)
                    .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a decimal number")))
            })
            .transpose()
    }
}

/// Serde for a `u128` as a decimal string.
pub mod u128 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &u128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u128, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(|_| serde::de::Error::custom(format!("{text:?} is not a decimal number")))
    }
}
