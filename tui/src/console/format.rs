//! Short renderings of hashes, amounts and times for narrow columns.

use alloy::primitives::{Address, U256};

/// `0x9c12…ab34` for a long hex string; short strings unchanged.
pub fn short_hash(hex: &str) -> String {
    if hex.len() <= 14 {
        return hex.to_owned();
    }
    format!("{}…{}", &hex[..6], &hex[hex.len() - 4..])
}

pub fn short_addr(address: &Address) -> String {
    short_hash(&address.to_string())
}

/// The last six characters of a libp2p peer id: every ed25519 id starts `12D3KooW`, so the tail
/// is what tells peers apart.
pub fn short_peer_id(peer_id: &str) -> String {
    let chars: Vec<char> = peer_id.chars().collect();
    chars[chars.len().saturating_sub(6)..].iter().collect()
}

/// Wei as ether with 4 decimals (`1.0000 ETH`), truncated.
pub fn eth(wei: U256) -> String {
    let unit = U256::from(10u64).pow(U256::from(18));
    let whole = wei / unit;
    let frac = (wei % unit) / U256::from(100_000_000_000_000u64);
    format!("{whole}.{:04} ETH", frac.to::<u64>())
}

/// `HH:MM:SS` (UTC) of a unix time in milliseconds.
pub fn clock(at_ms: i64) -> String {
    let secs = at_ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// A duration in milliseconds as `850ms`, `12s`, `3m`, `2h`, `4d`.
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    match ms {
        0..=999 => format!("{ms}ms"),
        1_000..=59_999 => format!("{}s", ms / 1000),
        60_000..=3_599_999 => format!("{}m", ms / 60_000),
        3_600_000..=86_399_999 => format!("{}h", ms / 3_600_000),
        _ => format!("{}d", ms / 86_400_000),
    }
}

/// The daemon's roles in `width` columns: in full when they fit, else abbreviated
/// (`sched, keep, aggr, chal`), rather than cut mid-word.
pub fn roles(roles: &[String], width: usize) -> String {
    let full = roles.join(", ");
    if full.chars().count() <= width {
        return full;
    }
    let short: Vec<&str> = roles
        .iter()
        .map(|role| match role.as_str() {
            "scheduler" => "sched",
            "keeper" => "keep",
            "aggregator" => "aggr",
            "challenger" => "chal",
            other => other,
        })
        .collect();
    let joined = short.join(", ");
    if joined.chars().count() <= width {
        joined
    } else {
        short.join(",")
    }
}

/// `text` in at most `width` characters: whole words, then `…` (never a word cut in half, so a
/// reason reads as far as it goes).
pub fn fit_words(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut out = String::new();
    for word in text.split(' ') {
        let next = if out.is_empty() { word.to_owned() } else { format!("{out} {word}") };
        if next.chars().count() + 1 > width {
            break;
        }
        out = next;
    }
    format!("{out}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders() {
        assert_eq!(eth(U256::from(1_500_000_000_000_000_000u128)), "1.5000 ETH");
        assert_eq!(eth(U256::from(62_836_048u64)), "0.0000 ETH");
        assert_eq!(clock(3_723_000), "01:02:03");
        assert_eq!(duration(61_000), "1m");
        assert_eq!(short_hash("0x9c1234567890abcdef"), "0x9c12…cdef");
        assert_eq!(short_peer_id("12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo"), "CVe2Xo");
        assert_eq!(short_peer_id("abc"), "abc");
    }
}
