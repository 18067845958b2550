use keeper_shared::bls::{SecretKey, SigningDomain};

use super::*;

fn batch() -> Batch {
    let context = BatchContext {
        chain_id: 31337,
        task_manager: Address::repeat_byte(0x7a),
        reference_block_number: 42,
        reference_block_hash: B256::repeat_byte(0x42),
    };
    let leaves = vec![
        TaskLeaf {
            task: TaskId { job_id: U256::MAX, sequence: 3 },
            spec_hash: B256::repeat_byte(3),
            response_hash: B256::repeat_byte(1),
        },
        TaskLeaf {
            task: TaskId { job_id: U256::from(7), sequence: u64::MAX },
            spec_hash: B256::repeat_byte(4),
            response_hash: B256::repeat_byte(2),
        },
    ];
    Batch::new(context, leaves).unwrap()
}

fn code<T: fmt::Debug>(result: Result<T, ApiError>) -> (ErrorCode, Option<String>) {
    let err = result.unwrap_err();
    (err.code, err.field)
}

#[test]
fn proposal_view_round_trips_through_json() {
    let batch = batch();
    let view = ProposalView::from_batch(&batch);
    let json = serde_json::to_string(&view).unwrap();
    assert!(json.contains("\"referenceBlockNumber\":42"), "{json}");
    assert!(json.contains(&format!("\"jobId\":\"{}\"", U256::MAX)), "job ids are decimal strings: {json}");
    let back: ProposalView = serde_json::from_str(&json).unwrap();
    assert_eq!(back.to_batch().unwrap(), batch);
}

#[test]
fn a_proposal_that_lies_about_its_digest_or_root_is_refused() {
    let view = ProposalView::from_batch(&batch());

    let mut tampered_leaf = view.clone();
    tampered_leaf.leaves[0].response_hash = B256::repeat_byte(9).to_string();
    assert_eq!(code(tampered_leaf.to_batch()), (ErrorCode::InvalidValue, Some("root".into())));

    let mut other_block = view.clone();
    other_block.reference_block_number += 1;
    assert_eq!(code(other_block.to_batch()), (ErrorCode::InvalidValue, Some("digest".into())));

    let mut bad_hex = view.clone();
    bad_hex.leaves[1].job_id = "seven".into();
    assert_eq!(code(bad_hex.to_batch()), (ErrorCode::InvalidValue, Some("leaves[1].jobId".into())));

    let mut duplicate = view;
    duplicate.leaves[1] = duplicate.leaves[0].clone();
    assert_eq!(code(duplicate.to_batch()), (ErrorCode::InvalidValue, Some("leaves".into())));
}

#[test]
fn signature_posts_are_parsed_field_by_field() {
    let key = SecretKey::random(&mut rand::thread_rng());
    let digest = B256::repeat_byte(5);
    let signed = SignedBatch {
        operator: Address::repeat_byte(0xab),
        digest,
        signature: key.sign(digest.as_slice(), SigningDomain::Batch),
    };
    let post = SignaturePost::from_signed(&signed);
    assert_eq!(post.parse().unwrap(), signed);

    let with = |f: &dyn Fn(&mut SignaturePost)| {
        let mut p = post.clone();
        f(&mut p);
        code(p.parse())
    };
    let sig = |s: &str| (ErrorCode::InvalidHex, Some(s.to_string()));
    assert_eq!(with(&|p| p.operator = "ab".repeat(20)), sig("operator"), "0x is required");
    assert_eq!(with(&|p| p.digest = "0xzz".into()), sig("digest"));
    assert_eq!(with(&|p| p.operator = "0xabcd".into()), (ErrorCode::InvalidLength, Some("operator".into())));
    assert_eq!(
        with(&|p| p.signature = format!("0x{}", "00".repeat(48))),
        (ErrorCode::InvalidLength, Some("signature".into()))
    );
    // 96 zero bytes: no compression flag.
    assert_eq!(
        with(&|p| p.signature = format!("0x{}", "00".repeat(96))),
        (ErrorCode::InvalidPoint, Some("signature".into()))
    );
    // The point at infinity, correctly encoded, is still refused.
    let infinity = format!("0xc0{}", "00".repeat(95));
    assert_eq!(with(&|p| p.signature = infinity.clone()), (ErrorCode::InvalidPoint, Some("signature".into())));
}

/// A compressed G2 encoding of a point on the curve but outside the prime-order subgroup: the first
/// `x = k` (k small) with a square `x^3 + 4(1 + u)`; a random curve point is in the subgroup with
/// probability about 2^-380, so the first one found is not.
fn off_subgroup_g2() -> [u8; 96] {
    for k in 1u8..=255 {
        let mut bytes = [0u8; 96];
        bytes[0] = 0x80; // compressed; x = x.c1 || x.c0 with c1 = 0, c0 = k
        bytes[95] = k;
        if let Err(BlsError::NotInSubgroup { .. }) = Signature::from_compressed(&bytes) {
            return bytes;
        }
    }
    panic!("no on-curve x found among 255 candidates");
}

#[test]
fn a_point_outside_the_subgroup_is_an_invalid_point() {
    let post = SignaturePost {
        operator: Address::ZERO.to_string(),
        digest: B256::ZERO.to_string(),
        signature: format!("0x{}", hex::encode(off_subgroup_g2())),
    };
    let err = post.parse().unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidPoint);
    assert!(err.message.contains("subgroup"), "{}", err.message);
}

#[test]
fn integers_are_decimal_or_hex() {
    assert_eq!(parse_u256("x", "12").unwrap(), U256::from(12));
    assert_eq!(parse_u256("x", "0x0c").unwrap(), U256::from(12));
    for bad in ["", "0x", "-1", "1e3", " 1", "0xg1"] {
        assert_eq!(code(parse_u256("x", bad)).0, ErrorCode::InvalidValue, "{bad:?}");
    }
    let too_big = format!("1{}", "0".repeat(78));
    assert_eq!(code(parse_u256("x", &too_big)).0, ErrorCode::InvalidValue);
}

#[test]
fn cursors_round_trip_and_junk_is_refused() {
    let cursor = Cursor::new(0xdead_beef, 17);
    assert_eq!(cursor.to_string().parse::<Cursor>().unwrap(), cursor);
    for bad in ["", "17", "deadbeef-17", "00000000deadbeef-", "00000000deadbeef-x", "000000000000000g-1"] {
        assert_eq!(code(bad.parse::<Cursor>()), (ErrorCode::InvalidCursor, Some("after".into())), "{bad:?}");
    }
}

#[test]
fn disputes_are_parsed_and_bounded() {
    let dispute = Dispute {
        operator: Address::repeat_byte(1),
        digest: B256::repeat_byte(2),
        tasks: vec![
            DisputedTask {
                task: TaskId { job_id: U256::from(1), sequence: 2 },
                reason: DisputeReason::ResponseMismatch,
                own_response_hash: Some(B256::repeat_byte(3)),
                detail: None,
            },
            DisputedTask {
                task: TaskId { job_id: U256::from(1), sequence: 3 },
                reason: DisputeReason::NotDue,
                own_response_hash: None,
                detail: Some("next due at block 50".into()),
            },
        ],
    };
    let post = DisputePost::from_dispute(&dispute);
    let json = serde_json::to_string(&post).unwrap();
    assert!(json.contains("\"reason\":\"response_mismatch\""), "{json}");
    assert_eq!(serde_json::from_str::<DisputePost>(&json).unwrap().parse().unwrap(), dispute);

    let mut empty = post.clone();
    empty.leaves.clear();
    assert_eq!(code(empty.parse()), (ErrorCode::InvalidValue, Some("leaves".into())));
    let mut twice = post.clone();
    twice.leaves[1].sequence = 2;
    assert_eq!(code(twice.parse()), (ErrorCode::InvalidValue, Some("leaves[1]".into())));
    let mut long = post.clone();
    long.leaves[0].detail = Some("x".repeat(MAX_DISPUTE_DETAIL_CHARS + 1));
    assert_eq!(code(long.parse()), (ErrorCode::InvalidValue, Some("leaves[0].detail".into())));
    let mut bad_hash = post;
    bad_hash.leaves[0].own_response_hash = Some("0x12".into());
    assert_eq!(code(bad_hash.parse()), (ErrorCode::InvalidLength, Some("leaves[0].ownResponseHash".into())));

    let unknown_field = r#"{"operator":"0x","digest":"0x","leaves":[],"extra":1}"#;
    assert!(serde_json::from_str::<DisputePost>(unknown_field).unwrap_err().to_string().contains("extra"));
}

#[test]
fn error_codes_serialise_as_their_names_and_unknown_ones_are_tolerated() {
    for code in [
        ErrorCode::BadJson,
        ErrorCode::BodyTooLarge,
        ErrorCode::InvalidHex,
        ErrorCode::InvalidLength,
        ErrorCode::InvalidPoint,
        ErrorCode::InvalidValue,
        ErrorCode::InvalidCursor,
        ErrorCode::UnknownDigest,
        ErrorCode::ProposalClosed,
        ErrorCode::UnknownOperator,
        ErrorCode::InvalidSignature,
        ErrorCode::ConflictingSignature,
        ErrorCode::RateLimited,
        ErrorCode::UnknownTask,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::BadRequest,
        ErrorCode::HeadersTooLarge,
        ErrorCode::UriTooLong,
        ErrorCode::Timeout,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ] {
        assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{}\"", code.as_str()));
        assert_eq!(serde_json::from_str::<ErrorCode>(&format!("\"{code}\"")).unwrap(), code);
        assert!((400..600).contains(&code.http_status()));
    }
    assert_eq!(serde_json::from_str::<ErrorCode>("\"from_the_future\"").unwrap(), ErrorCode::Unknown);
    let body: ApiError = serde_json::from_str(r#"{"code":"invalid_hex","message":"digest: bad"}"#).unwrap();
    assert_eq!(body, ApiError::new(ErrorCode::InvalidHex, "digest: bad"));
}
