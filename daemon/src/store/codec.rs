//! How Rust values are laid out in columns (see the conventions at the top of `sql/0001_initial.sql`),
//! and the checked conversions back, each failing with the table and column it read.

use std::time::{SystemTime, UNIX_EPOCH};

use alloy::primitives::{Address, B256, U256};
use rusqlite::Row;

use super::error::{Result, StoreError};

/// SQLite integers are signed; a u64 beyond `i64::MAX` is refused rather than wrapped, so ordering
/// and equality in SQL stay those of the unsigned value.
pub(crate) fn u64_to_sql(table: &'static str, column: &'static str, value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| StoreError::invalid(table, column, format!("{value} exceeds {}", i64::MAX)))
}

pub(crate) fn u64_col(row: &Row<'_>, table: &'static str, column: &'static str) -> Result<u64> {
    let value: i64 = row.get(column)?;
    u64::try_from(value).map_err(|_| StoreError::invalid(table, column, format!("negative value {value}")))
}

pub(crate) fn opt_u64_col(row: &Row<'_>, table: &'static str, column: &'static str) -> Result<Option<u64>> {
    let value: Option<i64> = row.get(column)?;
    value
        .map(|v| u64::try_from(v).map_err(|_| StoreError::invalid(table, column, format!("negative value {v}"))))
        .transpose()
}

fn fixed<const N: usize>(bytes: &[u8], table: &'static str, column: &'static str) -> Result<[u8; N]> {
    <[u8; N]>::try_from(bytes)
        .map_err(|_| StoreError::invalid(table, column, format!("expected {N} bytes, found {}", bytes.len())))
}

pub(crate) fn b256_col(row: &Row<'_>, table: &'static str, column: &'static str) -> Result<B256> {
    let bytes: Vec<u8> = row.get(column)?;
    Ok(B256::from(fixed::<32>(&bytes, table, column)?))
}

pub(crate) fn opt_b256_col(row: &Row<'_>, table: &'static str, column: &'static str) -> Result<Option<B256>> {
    let bytes: Option<Vec<u8>> = row.get(column)?;
    bytes.map(|b| Ok(B256::from(fixed::<32>(&b, table, column)?))).transpose()
}

pub(crate) fn u256_col(row: &Row<'_>, table: &'static str, column: &'static str) -> Result<U256> {
    let bytes: Vec<u8> = row.get(column)?;
    Ok(U256::from_be_bytes(fixed::<32>(&bytes, table, column)?))
}

pub(crate) fn address_col(row: &Row<'_>, table: &'static str, column: &'static str) -> Result<Address> {
    let bytes: Vec<u8> = row.get(column)?;
    Ok(Address::from(fixed::<20>(&bytes, table, column)?))
}

/// Big-endian, so BLOB comparison in SQL is numeric comparison.
pub(crate) fn u256_to_sql(value: U256) -> [u8; 32] {
    value.to_be_bytes::<32>()
}

/// Current wall-clock time in unix milliseconds (0 if the clock is before 1970).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)).unwrap_or(0)
}

/// A TEXT column holding a `keeper_shared::named_enum!` enum's name (the table's CHECK constraint
/// lists them), read back with its `parse`.
pub(crate) fn enum_col<T>(
    row: &Row<'_>,
    table: &'static str,
    column: &'static str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T> {
    let text: String = row.get(column)?;
    parse(&text).ok_or_else(|| StoreError::invalid(table, column, format!("unknown value {text:?}")))
}
