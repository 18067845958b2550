use alloy::primitives::{address, B256};
use alloy::signers::local::PrivateKeySigner;
use libp2p::futures::executor::block_on;
use libp2p::futures::io::Cursor;
use libp2p::request_response::Codec;

use super::*;
use crate::config::{NetworkId, Topic};
use crate::envelope::Envelope;

fn protocol() -> StreamProtocol {
    StreamProtocol::new("/test/1")
}

fn message(block: u64, n: u8) -> SignedEnvelope {
    let network = NetworkId { chain_id: 1, task_manager: address!("0x00000000000000000000000000000000000000aa") };
    let envelope = Envelope {
        topic: Topic::Signatures,
        reference_block_number: block,
        reference_block_hash: B256::ZERO,
        created_at_ms: 0,
        payload: vec![n],
    };
    envelope.sign(&network, &PrivateKeySigner::random()).unwrap()
}

fn request_roundtrip(request: SyncRequest) -> SyncRequest {
    let mut buffer = Cursor::new(Vec::new());
    block_on(SyncCodec.write_request(&protocol(), &mut buffer, request)).unwrap();
    buffer.set_position(0);
    block_on(SyncCodec.read_request(&protocol(), &mut buffer)).unwrap()
}

fn response_roundtrip(response: SyncResponse) -> SyncResponse {
    let mut buffer = Cursor::new(Vec::new());
    block_on(SyncCodec.write_response(&protocol(), &mut buffer, response)).unwrap();
    buffer.set_position(0);
    block_on(SyncCodec.read_response(&protocol(), &mut buffer)).unwrap()
}

#[test]
fn requests_and_answers_survive_the_codec() {
    let hello = SyncRequest::Hello { record: vec![1, 2, 3] };
    assert_eq!(request_roundtrip(hello.clone()), hello);
    let catch_up = SyncRequest::CatchUp { since_block: 9, known: vec![MessageId(B256::repeat_byte(3))] };
    assert_eq!(request_roundtrip(catch_up.clone()), catch_up);
    let answer = SyncResponse::Hello { record: vec![4], records: vec![vec![5], vec![6, 7]] };
    assert_eq!(response_roundtrip(answer.clone()), answer);
    let answer = SyncResponse::CatchUp { envelopes: vec![Arc::new(vec![8, 9])], truncated: true };
    assert_eq!(response_roundtrip(answer.clone()), answer);
    assert_eq!(response_roundtrip(SyncResponse::Refused), SyncResponse::Refused);
}

#[test]
fn oversized_frames_and_unknown_kinds_are_refused() {
    let mut frame = ((MAX_REQUEST_BYTES + 1) as u32).to_be_bytes().to_vec();
    frame.extend(vec![0u8; 16]);
    let error = block_on(SyncCodec.read_request(&protocol(), &mut Cursor::new(frame))).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);

    let body = SyncRequestData { kind: 99, record: Bytes::new(), sinceBlock: 0, known: Vec::new() }.abi_encode();
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend(body);
    let error = block_on(SyncCodec.read_request(&protocol(), &mut Cursor::new(frame))).unwrap_err();
    assert!(error.to_string().contains("unknown request kind 99"), "{error}");

    let too_many = vec![B256::ZERO; MAX_KNOWN_IDS + 1];
    let body =
        SyncRequestData { kind: KIND_CATCH_UP, record: Bytes::new(), sinceBlock: 0, known: too_many }.abi_encode();
    assert!(SyncRequest::decode(&body).is_err());
}

#[test]
fn log_dedupes_evicts_and_prunes() {
    let mut log = MessageLog::new(3);
    let messages: Vec<_> = (0..4).map(|i| message(10 + i, i as u8)).collect();
    assert!(log.insert(&messages[0]));
    assert!(!log.insert(&messages[0]), "a duplicate is not added");
    for m in &messages[1..] {
        log.insert(m);
    }
    assert_eq!(log.len(), 3);
    assert!(!log.contains(&messages[0].id()), "the oldest is evicted");
    log.prune(12);
    assert_eq!(log.len(), 2);
    assert!(!log.contains(&messages[1].id()));
    assert!(log.contains(&messages[2].id()));
}

#[test]
fn answers_skip_known_messages_and_respect_limits() {
    let mut log = MessageLog::new(100);
    let messages: Vec<_> = (0..5).map(|i| message(10 + i, i as u8)).collect();
    for m in &messages {
        log.insert(m);
    }
    let known: HashSet<_> = [messages[3].id()].into_iter().collect();
    let (answer, truncated) = log.answer(11, &known, 10, MAX_RESPONSE_BYTES);
    let expected: Vec<_> = [1, 2, 4].iter().map(|i| messages[*i].encoded().to_vec()).collect();
    assert_eq!(answer.iter().map(|e| e.as_ref().clone()).collect::<Vec<_>>(), expected);
    assert!(!truncated);
    let (answer, truncated) = log.answer(0, &HashSet::new(), 2, MAX_RESPONSE_BYTES);
    assert_eq!(answer.len(), 2);
    assert!(truncated);
    let one = messages[0].encoded().len() + 64;
    let (answer, truncated) = log.answer(0, &HashSet::new(), 10, one * 2);
    assert_eq!(answer.len(), 2);
    assert!(truncated);
    assert_eq!(log.known_since(13, 10), vec![messages[4].id(), messages[3].id()]);
}
