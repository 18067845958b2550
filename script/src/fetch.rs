//! Fetching a script's code by URL: `https://` and `http://`, and `ipfs://CID/path` through a configured gateway.
//! Everything from the network is untrusted: the size is checked against the limit before and while the body
//! arrives (a server announcing or sending gigabytes is cut off at the limit), the whole fetch (redirects and a
//! trickling body included) has one deadline, redirects are bounded, and the bytes are returned only when their
//! keccak256 equals the job's `codeHash`. No decompression is negotiated, so the limit is on the bytes
//! received.

use std::time::Duration;

use alloy::primitives::{keccak256, Bytes, B256};
use reqwest::{redirect, Client, Url};
use thiserror::Error;

use crate::config::FetchConfig;

/// Why code could not be fetched. Each names the URL the job gives.
#[derive(Debug, Error)]
pub enum FetchError {
    #[error("code URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("code URL `{url}`: scheme `{scheme}` is not supported (https, http, ipfs)")]
    UnsupportedScheme { url: String, scheme: String },
    #[error("code at `{url}` is unreachable: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("code at `{url}`: the server answered HTTP {status}")]
    HttpStatus { url: String, status: u16 },
    #[error("code at `{url}` is larger than the limit of {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("code at `{url}`: not fetched within {timeout_ms} ms")]
    Timeout { url: String, timeout_ms: u64 },
    #[error("code at `{url}`: more than {max} redirects")]
    TooManyRedirects { url: String, max: u32 },
    #[error("code at `{url}` does not match the job's code hash: expected {expected}, got {actual}")]
    HashMismatch { url: String, expected: B256, actual: B256 },
    #[error("HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// The gateway setting as a base URL (`http` or `https`, nothing after the path).
pub fn gateway_base(gateway: &str) -> Result<Url, String> {
    let url = Url::parse(gateway).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme `{}` is not http or https", url.scheme()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("a gateway base has no query or fragment".to_owned());
    }
    Ok(url)
}

/// Fetches code with the configured limits.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: Client,
    config: FetchConfig,
    gateway: Url,
}

impl Fetcher {
    /// A fetcher for `config` (validate it first: `ScriptConfig::validate`).
    pub fn new(config: &FetchConfig) -> Result<Self, FetchError> {
        let gateway = gateway_base(&config.ipfs_gateway)
            .map_err(|reason| FetchError::InvalidUrl { url: config.ipfs_gateway.clone(), reason })?;
        let timeout = Duration::from_millis(config.timeout_ms);
        let client = Client::builder()
            .redirect(redirect::Policy::limited(config.max_redirects as usize))
            .connect_timeout(timeout)
            .timeout(timeout)
            .user_agent(concat!("keeper-network/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(FetchError::Client)?;
        Ok(Self { client, config: config.clone(), gateway })
    }

    /// The HTTP URL a code URL is fetched from.
    pub fn resolve(&self, url: &str) -> Result<Url, FetchError> {
        let invalid = |reason: String| FetchError::InvalidUrl { url: url.to_owned(), reason };
        let parsed = Url::parse(url).map_err(|e| invalid(e.to_string()))?;
        match parsed.scheme() {
            "http" | "https" => Ok(parsed),
            "ipfs" => {
                let cid = parsed.host_str().filter(|cid| !cid.is_empty()).ok_or_else(|| invalid("no CID".into()))?;
                let mut resolved = self.gateway.clone();
                let base = self.gateway.path().trim_end_matches('/');
                resolved.set_path(&format!("{base}/ipfs/{cid}{}", parsed.path()));
                Ok(resolved)
            }
            scheme => Err(FetchError::UnsupportedScheme { url: url.to_owned(), scheme: scheme.to_owned() }),
        }
    }

    /// Fetches the code at `url` and returns it only if it hashes to `code_hash`.
    pub async fn fetch(&self, url: &str, code_hash: B256) -> Result<Bytes, FetchError> {
        let resolved = self.resolve(url)?;
        let timeout_ms = self.config.timeout_ms;
        // One deadline over everything, beside the client's own: a body trickled a byte at a time ends here.
        let body = tokio::time::timeout(Duration::from_millis(timeout_ms), self.download(url, resolved))
            .await
            .map_err(|_| FetchError::Timeout { url: url.to_owned(), timeout_ms })??;
        let actual = keccak256(&body);
        if actual != code_hash {
            return Err(FetchError::HashMismatch { url: url.to_owned(), expected: code_hash, actual });
        }
        Ok(body)
    }

    async fn download(&self, url: &str, resolved: Url) -> Result<Bytes, FetchError> {
        let limit = self.config.max_module_bytes;
        let transport = |source: reqwest::Error| {
            if source.is_redirect() {
                FetchError::TooManyRedirects { url: url.to_owned(), max: self.config.max_redirects }
            } else if source.is_timeout() {
                FetchError::Timeout { url: url.to_owned(), timeout_ms: self.config.timeout_ms }
            } else {
                FetchError::Unreachable { url: url.to_owned(), source }
            }
        };
        let mut response = self.client.get(resolved).send().await.map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::HttpStatus { url: url.to_owned(), status: status.as_u16() });
        }
        if response.content_length().is_some_and(|length| length > limit) {
            return Err(FetchError::TooLarge { url: url.to_owned(), limit });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(FetchError::TooLarge { url: url.to_owned(), limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetcher(gateway: &str) -> Fetcher {
        Fetcher::new(&FetchConfig { ipfs_gateway: gateway.into(), ..FetchConfig::default() }).expect("fetcher")
    }

    #[test]
    fn ipfs_urls_go_through_the_gateway() {
        let f = fetcher("https://gateway.example");
        assert_eq!(
            f.resolve("ipfs://bafyabc/job.wasm").unwrap().as_str(),
            "https://gateway.example/ipfs/bafyabc/job.wasm"
        );
        assert_eq!(f.resolve("ipfs://bafyabc").unwrap().as_str(), "https://gateway.example/ipfs/bafyabc");
        let f = fetcher("http://127.0.0.1:8080/base/");
        assert_eq!(f.resolve("ipfs://bafyabc/a").unwrap().as_str(), "http://127.0.0.1:8080/base/ipfs/bafyabc/a");
        assert_eq!(f.resolve("https://host/x.wasm").unwrap().as_str(), "https://host/x.wasm");
    }

    #[test]
    fn other_schemes_and_garbage_are_refused() {
        let f = fetcher("https://gateway.example");
        assert!(
            matches!(f.resolve("file:///etc/passwd"), Err(FetchError::UnsupportedScheme { scheme, .. }) if scheme == "file")
        );
        assert!(matches!(f.resolve("not a url"), Err(FetchError::InvalidUrl { .. })));
        assert!(matches!(f.resolve("ipfs:///path"), Err(FetchError::InvalidUrl { .. })));
        assert!(gateway_base("ftp://x").is_err());
        assert!(gateway_base("https://x/?q=1").is_err());
    }
}
