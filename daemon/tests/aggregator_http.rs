//! The keeper <-> aggregator exchange over real HTTP on 127.0.0.1, in process: a collector on a
//! temporary store, four keepers with real BLS keys driving it through the real client, the
//! errors every kind of bad request gets, and a restart on the same database.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use keeper_shared::batch::{Batch, BatchContext, TaskId, TaskLeaf};
use keeper_shared::bls::{PublicKey, SecretKey, SigningDomain};
use keeperd::aggregator::server::{self, Collector, CollectorConfig, CollectorEvent};
use keeperd::http::{self, HttpLimits};
use keeperd::keeper::client::{AggregatorClient, ClientConfig, ClientError};
use keeperd::protocol::{ApiError, Dispute, DisputeReason, DisputedTask, ErrorCode, SignatureStatus, SignedBatch};
use keeperd::quorum::{Operator, OperatorSet, QuorumThreshold};
use keeperd::store::{SharedStore, Store};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

struct Keeper {
    address: Address,
    key: SecretKey,
}

fn keepers() -> Vec<Keeper> {
    let mut rng = StdRng::seed_from_u64(42);
    (1..=4u8).map(|i| Keeper { address: Address::repeat_byte(0x10 + i), key: SecretKey::random(&mut rng) }).collect()
}

/// Equal weights: 3 of 4 is 75%, above the two-thirds threshold; 2 of 4 is not.
fn operator_set(keepers: &[Keeper]) -> Arc<OperatorSet> {
    let operators = keepers.iter().map(|k| Operator {
        address: k.address,
        public_key: k.key.public_key(),
        weight: U256::from(1_000),
    });
    Arc::new(OperatorSet::new(operators, U256::from(4_000)).unwrap())
}

fn batch(block: u64, jobs: &[u64]) -> Batch {
    let context = BatchContext {
        chain_id: 31337,
        task_manager: Address::repeat_byte(0x7a),
        reference_block_number: block,
        reference_block_hash: B256::from(U256::from(block + 1_000)),
    };
    let leaves = jobs
        .iter()
        .map(|&job| TaskLeaf {
            task: TaskId { job_id: U256::from(job), sequence: block },
            spec_hash: B256::from(U256::from(job * 5)),
            response_hash: B256::from(U256::from(job * 7)),
        })
        .collect();
    Batch::new(context, leaves).unwrap()
}

fn sign(keeper: &Keeper, batch: &Batch) -> SignedBatch {
    SignedBatch {
        operator: keeper.address,
        digest: batch.digest(),
        signature: keeper.key.sign(batch.digest().as_slice(), SigningDomain::Batch),
    }
}

struct Running {
    url: String,
    collector: Collector,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl Running {
    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap();
    }
}

async fn start(store: Store, limits: HttpLimits) -> Running {
    let config = CollectorConfig { quorum: QuorumThreshold::TWO_THIRDS, ..CollectorConfig::default() };
    let collector = Collector::new(SharedStore::new(store), config).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let router = server::router(collector.clone(), &limits);
    let task = tokio::spawn(http::serve(listener, router, limits, shutdown.clone()));
    Running { url, collector, shutdown, task }
}

fn client(url: &str) -> AggregatorClient {
    AggregatorClient::new(url, ClientConfig::default()).unwrap()
}

fn rejected_code(result: Result<impl std::fmt::Debug, ClientError>) -> ErrorCode {
    match result {
        Err(err @ ClientError::Rejected { .. }) => {
            assert!(!err.is_retryable());
            err.code().unwrap()
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn keepers_fetch_sign_and_reach_quorum_and_a_restart_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keeperd.db");
    let keepers = keepers();
    let set = operator_set(&keepers);
    let proposal = batch(100, &[1, 2, 3]);

    let running = start(Store::open(&db).unwrap(), HttpLimits::default()).await;
    let mut events = running.collector.subscribe();
    let published = running.collector.publish(proposal.clone(), set.clone()).await.unwrap();
    assert!(published.newly_stored);
    assert!(!published.quorum_reached);

    // Each keeper fetches the open proposals, finds the batch (rebuilt and digest-checked), signs, posts.
    let mut cursor = None;
    for (i, keeper) in keepers.iter().enumerate().take(3) {
        let client = client(&running.url);
        let fetched = client.proposals(None, None).await.unwrap();
        assert_eq!(fetched.batches, vec![proposal.clone()]);
        assert!(!fetched.has_more);
        cursor = Some(fetched.cursor);
        let receipt = client.post_signature(&sign(keeper, &proposal)).await.unwrap();
        assert_eq!(receipt.status, SignatureStatus::Added);
        assert_eq!(receipt.quorum_reached, i == 2, "quorum at the third of four equal weights, not before");
    }
    let seen: Vec<CollectorEvent> = std::iter::from_fn(|| events.try_recv().ok()).collect();
    let reached = seen.iter().filter(|e| matches!(e, CollectorEvent::QuorumReached { .. })).count();
    let accepted = seen.iter().filter(|e| matches!(e, CollectorEvent::SignatureAccepted { .. })).count();
    assert_eq!((reached, accepted), (1, 3), "{seen:?}");

    // Re-sending is harmless; the fourth signer still counts.
    let first = client(&running.url);
    let again = first.post_signature(&sign(&keepers[0], &proposal)).await.unwrap();
    assert_eq!(again.status, SignatureStatus::AlreadyPresent);
    let fourth = first.post_signature(&sign(&keepers[3], &proposal)).await.unwrap();
    assert_eq!((fourth.status, fourth.quorum_reached), (SignatureStatus::Added, true));
    let state = running.collector.quorum_state(proposal.digest()).unwrap();
    assert_eq!(state.signers.len(), 4);
    assert_eq!(state.signed_weight, U256::from(4_000));

    // The cursor hides what was seen; a new proposal shows up alone.
    let cursor = cursor.unwrap();
    assert!(first.proposals(Some(&cursor), None).await.unwrap().batches.is_empty());
    let second = batch(101, &[4]);
    running.collector.publish(second.clone(), set.clone()).await.unwrap();
    let newer = first.proposals(Some(&cursor), None).await.unwrap();
    assert_eq!(newer.batches, vec![second.clone()]);
    assert_eq!(first.proposal(second.digest()).await.unwrap(), second);
    assert_eq!(first.status().await.unwrap().open_proposals, 2);

    // Paging: one at a time.
    let page = first.proposals(None, Some(1)).await.unwrap();
    assert_eq!((page.batches.len(), page.has_more), (1, true));
    let rest = first.proposals(Some(&page.cursor), Some(1)).await.unwrap();
    assert_eq!((rest.batches, rest.has_more), (vec![second.clone()], false));

    // Two keepers sign the second proposal before the restart: below quorum.
    for keeper in &keepers[..2] {
        first.post_signature(&sign(keeper, &second)).await.unwrap();
    }

    // Restart: stop the server, drop the collector (closing the database), reopen the same file.
    let Running { collector, shutdown, task, .. } = running;
    shutdown.cancel();
    task.await.unwrap();
    drop(events);
    drop(collector);
    let running = start(Store::open(&db).unwrap(), HttpLimits::default()).await;
    let stored = running.collector.stored_proposals(100).await.unwrap();
    assert_eq!(stored, vec![proposal.clone(), second.clone()]);
    assert!(running.collector.stored_proposals(102).await.unwrap().is_empty());
    let mut restored = Vec::new();
    for batch in stored {
        restored.push(running.collector.publish(batch, set.clone()).await.unwrap());
    }
    assert_eq!(
        restored.iter().map(|p| (p.newly_stored, p.restored_signatures, p.quorum_reached)).collect::<Vec<_>>(),
        vec![(false, 4, true), (false, 2, false)]
    );

    // The new instance serves both; a cursor of the old instance lists everything again.
    let client = client(&running.url);
    let listed = client.proposals(Some(&cursor), None).await.unwrap();
    assert_eq!(listed.batches, vec![proposal.clone(), second.clone()]);
    let receipt = client.post_signature(&sign(&keepers[2], &second)).await.unwrap();
    assert_eq!((receipt.status, receipt.quorum_reached), (SignatureStatus::Added, true));

    // The certificate verifies as the task manager checks it: the set's aggregate key minus the non-signers.
    let certificate = running.collector.certificate(second.digest()).unwrap();
    assert_eq!(certificate.signers.len(), 3);
    assert_eq!(certificate.non_signers.len(), 1);
    assert_eq!(certificate.non_signers[0].operator, keepers[3].address);
    let non_signers: Vec<PublicKey> = certificate.non_signers.iter().map(|n| n.public_key).collect();
    let signers_key = set.aggregate_public_key().unwrap().subtract(&non_signers).unwrap();
    certificate.signature.verify(&signers_key, second.digest().as_slice(), SigningDomain::Batch).unwrap();

    // Closing takes it off the book; keepers are told it is closed.
    let closed = running.collector.close(second.digest()).unwrap();
    assert_eq!(closed.batch, second);
    assert_eq!(rejected_code(client.proposal(second.digest()).await), ErrorCode::ProposalClosed);
    assert_eq!(rejected_code(client.post_signature(&sign(&keepers[3], &second)).await), ErrorCode::ProposalClosed);
    running.stop().await;
}

#[tokio::test]
async fn bad_requests_get_their_status_and_code() {
    let dir = tempfile::tempdir().unwrap();
    let keepers = keepers();
    let set = operator_set(&keepers);
    let proposal = batch(7, &[1, 2]);
    let limits = HttpLimits { max_body_bytes: 4 * 1024, ..HttpLimits::default() };
    let running = start(Store::open(dir.path().join("db")).unwrap(), limits).await;
    running.collector.publish(proposal.clone(), set).await.unwrap();
    let raw = reqwest::Client::new();
    let signatures = format!("{}/v1/signatures", running.url);

    let good = sign(&keepers[0], &proposal);
    let good_hex = format!("0x{}", hex::encode(good.signature.to_compressed()));
    let body = |operator: &str, digest: &str, signature: &str| {
        format!(r#"{{"operator":"{operator}","digest":"{digest}","signature":"{signature}"}}"#)
    };
    let (operator, digest) = (good.operator.to_string(), good.digest.to_string());
    let off_curve = format!("0x{}", "00".repeat(96));
    let wrong_key = format!("0x{}", hex::encode(sign(&keepers[1], &proposal).signature.to_compressed()));
    let unknown_digest = B256::repeat_byte(0xee).to_string();
    let stranger = Address::repeat_byte(0x99).to_string();

    let cases: Vec<(String, u16, ErrorCode, Option<&str>)> = vec![
        ("{".into(), 400, ErrorCode::BadJson, None),
        (r#"{"operator":"0x00"}"#.into(), 400, ErrorCode::BadJson, None),
        (format!(r#"{{"padding":"{}"}}"#, "a".repeat(8 * 1024)), 413, ErrorCode::BodyTooLarge, None),
        (body(&operator, &digest, "0xzz"), 400, ErrorCode::InvalidHex, Some("signature")),
        (body(&operator, "0x1234", &good_hex), 400, ErrorCode::InvalidLength, Some("digest")),
        (body(&operator, &digest, &off_curve), 400, ErrorCode::InvalidPoint, Some("signature")),
        (body(&operator, &digest, &wrong_key), 422, ErrorCode::InvalidSignature, Some("operator")),
        (body(&operator, &unknown_digest, &good_hex), 404, ErrorCode::UnknownDigest, Some("digest")),
        (body(&stranger, &digest, &good_hex), 403, ErrorCode::UnknownOperator, Some("operator")),
    ];
    for (request, status, code, field) in cases {
        let response = raw.post(&signatures).body(request.clone()).send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{request:.80}");
        let error: ApiError = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(error.code, code, "{request:.80}: {}", error.message);
        assert_eq!(error.field.as_deref(), field, "{request:.80}");
        assert!(!error.message.is_empty());
    }
    let state = running.collector.quorum_state(proposal.digest()).unwrap();
    assert!(state.signers.is_empty(), "nothing bad was counted");
    assert_eq!((state.rejections.invalid_signature, state.rejections.unknown_operator), (1, 1));

    // A valid signature, then a different one from the same operator: the first is kept.
    let keeper = client(&running.url);
    keeper.post_signature(&good).await.unwrap();
    let other = SignedBatch { signature: keepers[0].key.sign(b"other", SigningDomain::Batch), ..good };
    assert_eq!(rejected_code(keeper.post_signature(&other).await), ErrorCode::ConflictingSignature);
    assert_eq!(running.collector.quorum_state(proposal.digest()).unwrap().signers, vec![keepers[0].address]);

    // Other routes, methods and queries.
    let get = |path: &str| raw.get(format!("{}{path}", running.url)).send();
    for (path, status, code) in [
        ("/v1/nothing", 404, ErrorCode::NotFound),
        ("/v1/signatures", 405, ErrorCode::MethodNotAllowed),
        ("/v1/proposals?after=junk", 400, ErrorCode::InvalidCursor),
        ("/v1/proposals?limit=0", 400, ErrorCode::InvalidValue),
        ("/v1/proposals?limit=x", 400, ErrorCode::InvalidValue),
        ("/v1/proposals?color=blue", 400, ErrorCode::InvalidValue),
        ("/v1/proposals/0x12", 400, ErrorCode::InvalidLength),
    ] {
        let response = get(path).await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{path}");
        let error: ApiError = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(error.code, code, "{path}: {}", error.message);
    }
    assert_eq!(rejected_code(keeper.proposal(B256::repeat_byte(3)).await), ErrorCode::UnknownDigest);

    // Disputes: recorded once, announced, and refused for a task that is not in the batch.
    let mut events = running.collector.subscribe();
    let leaf = proposal.leaves()[1];
    let dispute = Dispute {
        operator: keepers[2].address,
        digest: proposal.digest(),
        tasks: vec![DisputedTask {
            task: leaf.task,
            reason: DisputeReason::ResponseMismatch,
            own_response_hash: Some(B256::repeat_byte(1)),
            detail: None,
        }],
    };
    assert_eq!(keeper.post_dispute(&dispute).await.unwrap().recorded, 1);
    assert_eq!(keeper.post_dispute(&dispute).await.unwrap().recorded, 0, "a repeat records nothing");
    assert_eq!(events.try_recv().unwrap(), CollectorEvent::DisputeReceived(dispute.clone()));
    assert!(events.try_recv().is_err());
    assert_eq!(running.collector.disputes(proposal.digest()).unwrap(), vec![dispute.clone()]);
    let mut elsewhere = dispute.clone();
    elsewhere.tasks[0].task.sequence += 1;
    match keeper.post_dispute(&elsewhere).await {
        Err(ClientError::Rejected { status: 422, code: ErrorCode::UnknownTask, field, .. }) => {
            assert_eq!(field.as_deref(), Some("leaves[0]"))
        }
        other => panic!("{other:?}"),
    }
    let from_stranger = Dispute { operator: Address::repeat_byte(0x99), ..dispute };
    assert_eq!(rejected_code(keeper.post_dispute(&from_stranger).await), ErrorCode::UnknownOperator);

    running.stop().await;
}

#[tokio::test]
async fn an_aggregator_that_is_down_is_retryable() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let client = AggregatorClient::new(&format!("http://127.0.0.1:{port}"), ClientConfig::default()).unwrap();
    let err = client.status().await.unwrap_err();
    assert!(matches!(err, ClientError::Unreachable { .. }), "{err:?}");
    assert!(err.is_retryable());

    for bad in ["ftp://127.0.0.1", "not a url", "http://127.0.0.1/?x=1"] {
        assert!(matches!(AggregatorClient::new(bad, ClientConfig::default()), Err(ClientError::InvalidUrl { .. })));
    }
}

#[tokio::test]
async fn a_client_that_never_completes_its_headers_gets_a_json_408() {
    let dir = tempfile::tempdir().unwrap();
    let limits = HttpLimits { header_read_timeout: Duration::from_millis(200), ..HttpLimits::default() };
    let running = start(Store::open(dir.path().join("db")).unwrap(), limits).await;
    let mut stream = TcpStream::connect(running.url.trim_start_matches("http://")).await.unwrap();
    stream.write_all(b"GET /v1/status HTTP/1.1\r\n").await.unwrap(); // and then nothing
    let mut buffer = Vec::new();
    // The bound only keeps a broken server from hanging the test; the server closes far sooner.
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut buffer)).await;
    assert!(read.is_ok(), "the server kept a silent connection open");
    let text = String::from_utf8(buffer).unwrap();
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
    let body: ApiError = serde_json::from_str(text.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(body.code, ErrorCode::Timeout, "{text}");
    running.stop().await;
}
