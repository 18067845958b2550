//! Fetching code from hostile and well-behaved HTTP servers on 127.0.0.1, and the runner's cache across
//! restarts. Each server is a task this test owns; it is aborted when its guard drops.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{keccak256, B256};
use keeper_script::config::{CacheConfig, FetchConfig};
use keeper_script::{FetchError, Fetcher, JobKind, ScriptConfig, ScriptError, ScriptOutcome, ScriptRunner};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the server does with a request for a path.
#[derive(Clone)]
enum Reply {
    Ok(Vec<u8>),
    Status(u16),
    /// 302 to the same path with a counter appended, forever.
    RedirectForever,
    /// Announces `length` bytes and streams zeros.
    Huge {
        announce: bool,
    },
    /// Headers, then one byte every `every`.
    Trickle {
        every: Duration,
    },
}

struct TestServer {
    url: String,
    requests: Arc<AtomicU32>,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(route: impl Fn(&str) -> Reply + Send + Sync + 'static) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicU32::new(0));
    let counter = requests.clone();
    let route = Arc::new(route);
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::Relaxed);
            let route = route.clone();
            tokio::spawn(async move {
                let _ = respond(stream, &*route).await;
            });
        }
    });
    TestServer { url, requests, task }
}

async fn respond(mut stream: TcpStream, route: &(dyn Fn(&str) -> Reply + Send + Sync)) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&request);
    let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
    match route(&path) {
        Reply::Ok(body) => {
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body).await?;
        }
        Reply::Status(code) => {
            let head = format!("HTTP/1.1 {code} Nope\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            stream.write_all(head.as_bytes()).await?;
        }
        Reply::RedirectForever => {
            let head =
                format!("HTTP/1.1 302 Found\r\nlocation: {path}x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            stream.write_all(head.as_bytes()).await?;
        }
        Reply::Huge { announce } => {
            let head = if announce {
                "HTTP/1.1 200 OK\r\ncontent-length: 10000000000\r\nconnection: close\r\n\r\n"
            } else {
                "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n"
            };
            stream.write_all(head.as_bytes()).await?;
            let zeros = vec![0u8; 64 << 10];
            // Gigabytes if nobody hangs up (bounded so the task ends by itself).
            for _ in 0..(16 << 10) {
                stream.write_all(&zeros).await?;
            }
        }
        Reply::Trickle { every } => {
            stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\nconnection: close\r\n\r\n").await?;
            for _ in 0..1000 {
                stream.write_all(b"\0").await?;
                stream.flush().await?;
                tokio::time::sleep(every).await;
            }
        }
    }
    stream.shutdown().await
}

fn fetcher(config: FetchConfig) -> Fetcher {
    Fetcher::new(&config).unwrap()
}

fn code() -> Vec<u8> {
    common::wat(
        r#"(module (import "keeper_v1" "skip" (func $skip (param i32 i32))) (memory (export "memory") 1)
             (data (i32.const 0) "cached") (func (export "run") (call $skip (i32.const 0) (i32.const 6))))"#,
    )
}

#[tokio::test]
async fn fetches_code_that_matches_its_hash() {
    let body = code();
    let served = body.clone();
    let server =
        serve(move |path| if path == "/job.wasm" { Reply::Ok(served.clone()) } else { Reply::Status(404) }).await;
    let f = fetcher(FetchConfig::default());
    let url = format!("{}/job.wasm", server.url);
    assert_eq!(f.fetch(&url, keccak256(&body)).await.unwrap().as_ref(), body.as_slice());

    let error = f.fetch(&url, B256::ZERO).await.unwrap_err();
    assert!(matches!(&error, FetchError::HashMismatch { actual, .. } if *actual == keccak256(&body)), "{error}");
    assert!(error.to_string().contains("does not match the job's code hash"));

    let error = f.fetch(&format!("{}/missing.wasm", server.url), keccak256(&body)).await.unwrap_err();
    assert!(matches!(error, FetchError::HttpStatus { status: 404, .. }), "{error}");
}

#[tokio::test]
async fn ipfs_goes_through_the_configured_gateway() {
    let body = code();
    let served = body.clone();
    let server = serve(
        move |path| if path == "/ipfs/bafytest/job.wasm" { Reply::Ok(served.clone()) } else { Reply::Status(404) },
    )
    .await;
    let f = fetcher(FetchConfig { ipfs_gateway: server.url.clone(), ..FetchConfig::default() });
    assert_eq!(f.fetch("ipfs://bafytest/job.wasm", keccak256(&body)).await.unwrap().as_ref(), body.as_slice());
}

#[tokio::test]
async fn endless_redirects_stop_at_the_bound() {
    let server = serve(|_| Reply::RedirectForever).await;
    let f = fetcher(FetchConfig { max_redirects: 3, ..FetchConfig::default() });
    let error = f.fetch(&format!("{}/r", server.url), B256::ZERO).await.unwrap_err();
    assert!(matches!(error, FetchError::TooManyRedirects { max: 3, .. }), "{error}");
    assert_eq!(server.requests.load(Ordering::Relaxed), 4, "the first request and three redirects");
}

#[tokio::test]
async fn gigabytes_are_cut_off_at_the_size_limit() {
    let limit = 1 << 20;
    for announce in [true, false] {
        let server = serve(move |_| Reply::Huge { announce }).await;
        let f = fetcher(FetchConfig { max_module_bytes: limit, ..FetchConfig::default() });
        let error = f.fetch(&format!("{}/big.wasm", server.url), B256::ZERO).await.unwrap_err();
        assert!(matches!(error, FetchError::TooLarge { limit: l, .. } if l == limit), "announce {announce}: {error}");
    }
}

#[tokio::test]
async fn a_trickling_server_meets_the_deadline() {
    let server = serve(|_| Reply::Trickle { every: Duration::from_millis(20) }).await;
    let f = fetcher(FetchConfig { timeout_ms: 300, ..FetchConfig::default() });
    let error = f.fetch(&format!("{}/slow.wasm", server.url), B256::ZERO).await.unwrap_err();
    assert!(matches!(error, FetchError::Timeout { timeout_ms: 300, .. }), "{error}");
}

#[tokio::test]
async fn an_unreachable_server_is_reported_as_such() {
    // A port that was free a moment ago: nothing listens on it.
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let error = fetcher(FetchConfig::default()).fetch(&format!("http://127.0.0.1:{port}/x.wasm"), B256::ZERO).await;
    assert!(matches!(error, Err(FetchError::Unreachable { .. })), "{error:?}");
}

fn runner_config(cache: &std::path::Path) -> ScriptConfig {
    ScriptConfig {
        cache: CacheConfig { dir: Some(cache.to_owned()), ..CacheConfig::default() },
        ..ScriptConfig::default()
    }
}

#[tokio::test]
async fn the_runner_serves_from_its_disk_cache_after_a_restart_and_refetches_a_corrupt_entry() {
    let body = code();
    let hash = keccak256(&body);
    let served = body.clone();
    let server = serve(move |_| Reply::Ok(served.clone())).await;
    let url = format!("{}/job.wasm", server.url);
    let cache = tempfile::tempdir().unwrap();
    let chain = common::TableChain::at(common::block());
    let input = common::input(b"");

    let runner = ScriptRunner::new(&runner_config(cache.path())).unwrap();
    let report = runner.run(JobKind::Interval, &url, hash, &input, &chain).await.unwrap();
    assert_eq!(report.outcome, ScriptOutcome::Skip { reason: "cached".into() });
    assert_eq!(server.requests.load(Ordering::Relaxed), 1);

    // A restart: a new runner over the same directory, the server gone.
    drop(server);
    let runner = ScriptRunner::new(&runner_config(cache.path())).unwrap();
    runner.run(JobKind::Event, &url, hash, &input, &chain).await.unwrap();

    // A corrupt entry is detected and fetched again.
    let entry = cache.path().join(format!("{}.wasm", alloy::hex::encode(hash)));
    std::fs::write(&entry, b"\0asm\x01\0\0\0 torn").unwrap();
    let served = body.clone();
    let server = serve(move |_| Reply::Ok(served.clone())).await;
    let url = format!("{}/job.wasm", server.url);
    let runner = ScriptRunner::new(&runner_config(cache.path())).unwrap();
    runner.run(JobKind::Block, &url, hash, &input, &chain).await.unwrap();
    assert_eq!(server.requests.load(Ordering::Relaxed), 1);
    assert_eq!(std::fs::read(&entry).unwrap(), body);

    // A module that is not WebAssembly but matches its hash is fetched, then refused as invalid.
    let junk = b"not wasm".to_vec();
    let server = serve(move |_| Reply::Ok(b"not wasm".to_vec())).await;
    let error = runner.run(JobKind::Block, &format!("{}/junk", server.url), keccak256(&junk), &input, &chain).await;
    assert!(matches!(error, Err(ScriptError::Run(keeper_script::RunError::InvalidModule { .. }))), "{error:?}");
}

#[test]
fn an_invalid_config_is_refused_naming_the_field() {
    let mut config = ScriptConfig::default();
    config.limits.interval.wall_clock_ms = 10_000_000;
    let error = ScriptRunner::new(&config).unwrap_err();
    assert!(error.to_string().contains("`script.limits.interval.wall_clock_ms`"), "{error}");
}
