//! Typed reads of keystore JSON fields.
//!
//! Keystores are parsed through this reader rather than `#[derive(Deserialize)]` so that
//! every rejection names the dotted path of the field it is about
//! (`crypto.kdf.params.n`), which serde's own errors do not.

use serde_json::{Map, Value};

use super::{KeystoreError, Result};

/// A JSON object together with its dotted path from the document root.
pub(crate) struct JsonObject<'a> {
    map: &'a Map<String, Value>,
    at: String,
}

impl<'a> JsonObject<'a> {
    /// The document root, which must be an object.
    pub(crate) fn root(value: &'a Value) -> Result<Self> {
        match value {
            Value::Object(map) => Ok(Self { map, at: String::new() }),
            other => Err(KeystoreError::InvalidField {
                field: "(root)".into(),
                reason: format!("expected an object, found {}", kind(other)),
            }),
        }
    }

    /// Dotted path of `key` inside this object.
    pub(crate) fn path_of(&self, key: &str) -> String {
        if self.at.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.at)
        }
    }

    /// An error saying `key` holds an unacceptable value.
    pub(crate) fn invalid(&self, key: &str, reason: impl Into<String>) -> KeystoreError {
        KeystoreError::InvalidField { field: self.path_of(key), reason: reason.into() }
    }

    pub(crate) fn value(&self, key: &str) -> Result<&'a Value> {
        self.map.get(key).ok_or_else(|| KeystoreError::MissingField { field: self.path_of(key) })
    }

    pub(crate) fn object(&self, key: &str) -> Result<JsonObject<'a>> {
        match self.value(key)? {
            Value::Object(map) => Ok(JsonObject { map, at: self.path_of(key) }),
            other => Err(self.wrong_type(key, "an object", other)),
        }
    }

    pub(crate) fn string(&self, key: &str) -> Result<&'a str> {
        match self.value(key)? {
            Value::String(s) => Ok(s),
            other => Err(self.wrong_type(key, "a string", other)),
        }
    }

    /// A string field the format allows to be absent.
    pub(crate) fn optional_string(&self, key: &str) -> Result<Option<&'a str>> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong_type(key, "a string", other)),
        }
    }

    pub(crate) fn u32(&self, key: &str) -> Result<u32> {
        let value = self.value(key)?;
        value
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| self.wrong_type(key, "an unsigned 32-bit integer", value))
    }

    /// A hex string (no `0x` prefix, as both keystore formats write it) of any length.
    pub(crate) fn hex(&self, key: &str) -> Result<Vec<u8>> {
        let text = self.string(key)?;
        hex::decode(text).map_err(|e| self.invalid(key, format!("not a hex string: {e}")))
    }

    /// A hex string that must decode to exactly `N` bytes.
    pub(crate) fn hex_array<const N: usize>(&self, key: &str) -> Result<[u8; N]> {
        let bytes = self.hex(key)?;
        let len = bytes.len();
        <[u8; N]>::try_from(bytes).map_err(|_| self.invalid(key, format!("expected {N} bytes, found {len}")))
    }

    /// A `function` name that must be one of `supported`.
    pub(crate) fn function(&self, key: &str, supported: &[&str]) -> Result<&'a str> {
        let name = self.string(key)?;
        if supported.contains(&name) {
            Ok(name)
        } else {
            Err(KeystoreError::UnsupportedFunction {
                field: self.path_of(key),
                found: name.to_owned(),
                supported: supported.join(", "),
            })
        }
    }

    /// Checks an integer `version` field.
    pub(crate) fn version(&self, key: &str, expected: u32) -> Result<()> {
        let value = self.value(key)?;
        if value.as_u64() == Some(u64::from(expected)) {
            Ok(())
        } else {
            Err(KeystoreError::UnsupportedVersion { found: value.to_string(), expected })
        }
    }

    fn wrong_type(&self, key: &str, expected: &str, found: &Value) -> KeystoreError {
        let found = match found {
            // Numbers are never secret in a keystore and the value says more than the type.
            Value::Number(n) => format!("the number {n}"),
            other => kind(other).to_owned(),
        };
        self.invalid(key, format!("expected {expected}, found {found}"))
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_name_the_dotted_field_path() {
        let doc = json!({ "crypto": { "kdf": { "params": { "n": "big" } } } });
        let root = JsonObject::root(&doc).unwrap();
        let params = root.object("crypto").and_then(|c| c.object("kdf")).and_then(|k| k.object("params")).unwrap();
        match params.u32("n") {
            Err(KeystoreError::InvalidField { field, reason }) => {
                assert_eq!(field, "crypto.kdf.params.n");
                assert!(reason.contains("expected an unsigned 32-bit integer"), "{reason}");
            }
            other => panic!("unexpected {other:?}"),
        }
        match params.u32("r") {
            Err(KeystoreError::MissingField { field }) => assert_eq!(field, "crypto.kdf.params.r"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn numbers_out_of_u32_range_are_rejected() {
        let doc = json!({ "a": -1, "b": 4294967296u64, "c": 1.5, "d": 4294967295u64 });
        let root = JsonObject::root(&doc).unwrap();
        assert!(root.u32("a").is_err());
        assert!(root.u32("b").is_err());
        assert!(root.u32("c").is_err());
        assert_eq!(root.u32("d").unwrap(), u32::MAX);
    }

    #[test]
    fn hex_array_checks_length() {
        let doc = json!({ "iv": "00ff", "bad": "0xzz" });
        let root = JsonObject::root(&doc).unwrap();
        assert_eq!(root.hex_array::<2>("iv").unwrap(), [0x00, 0xff]);
        assert!(matches!(
            root.hex_array::<16>("iv"),
            Err(KeystoreError::InvalidField { ref field, .. }) if field == "iv"
        ));
        assert!(matches!(
            root.hex("bad"),
            Err(KeystoreError::InvalidField { ref field, .. }) if field == "bad"
        ));
    }

    #[test]
    fn root_must_be_an_object() {
        assert!(matches!(JsonObject::root(&json!([1, 2])), Err(KeystoreError::InvalidField { .. })));
    }
}
