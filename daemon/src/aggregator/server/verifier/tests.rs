//! The verifier's policy on offenders (isolation, allowance, score) with synthetic clocks, what a
//! round costs in pairing checks with and without an offender, and the collector refusing an
//! offender over its allowance.

use alloy::primitives::U256;
use keeper_shared::batch::{Batch, BatchContext, TaskId, TaskLeaf};
use keeper_shared::bls::SecretKey;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;
use crate::aggregator::server::{Collector, CollectorConfig, CollectorError};
use crate::protocol::SignedBatch;
use crate::quorum::{Operator, OperatorSet, SignatureRejected};
use crate::store::{SharedStore, Store};

const DIGEST: B256 = B256::repeat_byte(0xd1);

struct Member {
    address: Address,
    key: SecretKey,
}

fn members(count: usize) -> Vec<Member> {
    let mut rng = StdRng::seed_from_u64(21);
    (0..count)
        .map(|i| Member {
            address: Address::from_word(B256::from(U256::from(i + 1))),
            key: SecretKey::random(&mut rng),
        })
        .collect()
}

fn item(member: &Member, digest: B256) -> Item {
    Item {
        operator: member.address,
        key: member.key.public_key(),
        digest,
        signature: member.key.sign(digest.as_slice(), SigningDomain::Batch),
    }
}

fn policy() -> OffenderPolicy {
    OffenderPolicy { isolation: Duration::from_secs(600), burst: 2, refill: Duration::from_secs(10) }
}

#[test]
fn an_offender_is_verified_alone_within_its_allowance_until_it_served_its_time() {
    let mut offenders = Offenders::new(policy());
    let (honest, offender) = (Address::repeat_byte(1), Address::repeat_byte(2));
    let start = Instant::now();
    assert_eq!(offenders.admit(offender, start), Admission::Shared);
    assert_eq!(offenders.record_invalid(offender, start), 1);

    assert_eq!(offenders.admit(offender, start), Admission::Alone);
    assert_eq!(offenders.admit(offender, start), Admission::Alone);
    assert_eq!(
        offenders.admit(offender, start + Duration::from_secs(4)),
        Admission::RateLimited { retry_after: Duration::from_secs(6) }
    );
    assert_eq!(offenders.admit(honest, start), Admission::Shared, "others are not affected");
    // One more per 10 s, never more than the burst.
    assert_eq!(offenders.admit(offender, start + Duration::from_secs(10)), Admission::Alone);
    assert!(matches!(offenders.admit(offender, start + Duration::from_secs(11)), Admission::RateLimited { .. }));
    let later = start + Duration::from_secs(300);
    assert_eq!(offenders.admit(offender, later), Admission::Alone);
    assert_eq!(offenders.admit(offender, later), Admission::Alone);
    assert!(matches!(offenders.admit(offender, later), Admission::RateLimited { .. }));

    // Each invalid signature raises the score and restarts the isolation.
    assert_eq!(offenders.record_invalid(offender, later), 2);
    assert!(offenders.admit(offender, start + Duration::from_secs(899)) != Admission::Shared);
    // Served: a clean record, back in the shared rounds.
    let served = start + Duration::from_secs(900);
    assert_eq!(offenders.admit(offender, served), Admission::Shared);
    assert_eq!(offenders.record_invalid(offender, served), 1, "the score starts again");
}

#[test]
fn a_round_with_all_valid_signatures_takes_one_pairing_check() {
    let m = members(64);
    let mut rng = StdRng::seed_from_u64(1);
    let other = B256::repeat_byte(0xd2);
    let items: Vec<Item> = m.iter().enumerate().map(|(i, member)| item(member, [DIGEST, other][i % 2])).collect();
    let outcome = verify_round(&items, &vec![Admission::Shared; items.len()], &mut rng);
    assert_eq!(outcome, RoundOutcome { verdicts: vec![Verdict::Valid; 64], pairing_checks: 1 });
}

/// A first invalid signature costs its round a few checks; once its sender is isolated, each of
/// its signatures costs one check of its own and the honest ones are back to one check.
#[test]
fn an_isolated_offender_no_longer_multiplies_the_work_of_a_round() {
    let m = members(64);
    let mut rng = StdRng::seed_from_u64(2);
    let mut items: Vec<Item> = m.iter().map(|member| item(member, DIGEST)).collect();
    items[17].signature = m[17].key.sign(b"not the digest", SigningDomain::Batch);
    let mut expected = vec![Verdict::Valid; 64];
    expected[17] = Verdict::Invalid;

    let shared = verify_round(&items, &vec![Admission::Shared; 64], &mut rng);
    assert_eq!(shared.verdicts, expected);
    assert_eq!(shared.pairing_checks, 4, "first offence: named with three more checks");

    let mut admissions = vec![Admission::Shared; 64];
    admissions[17] = Admission::Alone;
    let isolated = verify_round(&items, &admissions, &mut rng);
    assert_eq!(isolated.verdicts, expected);
    assert_eq!(isolated.pairing_checks, 2, "one for the honest 63, one for the offender");

    // Over its allowance: refused without a check.
    admissions[17] = Admission::RateLimited { retry_after: Duration::from_secs(3) };
    let limited = verify_round(&items, &admissions, &mut rng);
    expected[17] = Verdict::RateLimited { retry_after: Duration::from_secs(3) };
    assert_eq!(limited, RoundOutcome { verdicts: expected, pairing_checks: 1 });
}

fn operator_set(m: &[Member]) -> Arc<OperatorSet> {
    let operators = m.iter().map(|member| Operator {
        address: member.address,
        public_key: member.key.public_key(),
        weight: U256::from(1),
    });
    Arc::new(OperatorSet::new(operators, U256::from(m.len())).unwrap())
}

fn proposal() -> Batch {
    let context = BatchContext {
        chain_id: 31337,
        task_manager: Address::repeat_byte(0x77),
        reference_block_number: 9,
        reference_block_hash: B256::repeat_byte(9),
    };
    let leaf = TaskLeaf {
        task: TaskId { job_id: U256::from(1), sequence: 0 },
        spec_hash: B256::repeat_byte(2),
        response_hash: B256::repeat_byte(3),
    };
    Batch::new(context, vec![leaf]).unwrap()
}

fn signed(member: &Member, digest: B256) -> SignedBatch {
    SignedBatch {
        operator: member.address,
        digest,
        signature: member.key.sign(digest.as_slice(), SigningDomain::Batch),
    }
}

/// A collector with metrics and one open proposal signed by `m`, whose offenders may have two
/// signatures verified and no more (the refill is far beyond a test's duration).
async fn collector_with_proposal(m: &[Member]) -> (Collector, Arc<Metrics>, B256) {
    let metrics = Arc::new(Metrics::new().unwrap());
    let offenders =
        OffenderPolicy { isolation: Duration::from_secs(3600), burst: 2, refill: Duration::from_secs(3600) };
    let config = CollectorConfig { offenders, metrics: Some(metrics.clone()), ..CollectorConfig::default() };
    let collector = Collector::new(SharedStore::new(Store::open_in_memory().unwrap()), config).unwrap();
    let digest = collector.publish(proposal(), operator_set(m)).await.unwrap().digest;
    (collector, metrics, digest)
}

fn invalid_signature(result: Result<crate::protocol::SignatureReceipt, CollectorError>, operator: Address) -> bool {
    matches!(result, Err(CollectorError::Signature(SignatureRejected::InvalidSignature { operator: o, .. })) if o == operator)
}

#[tokio::test]
async fn the_collector_rate_limits_an_operator_that_keeps_sending_invalid_signatures() {
    let m = members(4);
    let (collector, metrics, digest) = collector_with_proposal(&m).await;
    let wrong = |member: &Member| SignedBatch { digest, ..signed(member, B256::repeat_byte(0xee)) };

    assert!(invalid_signature(collector.submit_signature(wrong(&m[0])).await, m[0].address));
    // Its allowance: two more verified (alone), whatever they are.
    assert!(invalid_signature(collector.submit_signature(wrong(&m[0])).await, m[0].address));
    assert!(invalid_signature(collector.submit_signature(wrong(&m[0])).await, m[0].address));
    let limited = collector.submit_signature(signed(&m[0], digest)).await.unwrap_err();
    assert!(matches!(limited, CollectorError::RateLimited { operator, .. } if operator == m[0].address), "{limited:?}");
    assert_eq!(crate::protocol::ApiError::from(&limited).code.http_status(), 429);
    // Others are unaffected, and the offender's rejections are counted once each.
    collector.submit_signature(signed(&m[1], digest)).await.unwrap();
    assert_eq!(collector.quorum_state(digest).unwrap().rejections.invalid_signature, 3);

    let label = m[0].address.to_string();
    assert_eq!(metrics.signatures_invalid.with_label_values(&[label.as_str()]).get(), 3);
    assert_eq!(metrics.signatures_rate_limited.with_label_values(&[label.as_str()]).get(), 1);
    assert_eq!(metrics.signatures_received.with_label_values(&["rate_limited"]).get(), 1);
    assert_eq!(metrics.signatures_received.with_label_values(&["added"]).get(), 1);
    // Every signature that was verified took one check: 3 offender's + 1 honest.
    assert_eq!(metrics.signature_pairing_checks.get(), 4);
}

#[test]
fn a_round_takes_one_shared_signature_per_operator_and_merges_copies() {
    let m = members(4);
    let mut offenders = Offenders::new(policy());
    let now = Instant::now();
    let digests: Vec<B256> = (1..=3).map(B256::repeat_byte).collect();
    // Operator 0 sends three different signatures and one of them twice; the others one each.
    let waiting = vec![
        (item(&m[0], digests[0]), "0a"),
        (item(&m[1], digests[0]), "1"),
        (item(&m[0], digests[1]), "0b"),
        (item(&m[0], digests[0]), "0a again"),
        (item(&m[2], digests[0]), "2"),
        (item(&m[0], digests[2]), "0c"),
        (item(&m[3], digests[0]), "3"),
    ];
    let (round, later) = form_round(waiting, &mut offenders, now, 128);
    assert_eq!(round.waiters, vec![vec!["0a", "0a again"], vec!["1"], vec!["2"], vec!["3"]]);
    assert_eq!(round.admissions, vec![Admission::Shared; 4]);
    assert_eq!(later.iter().map(|(_, w)| *w).collect::<Vec<_>>(), vec!["0b", "0c"]);

    // Had "0a" failed, operator 0's others come as an offender's: alone within the allowance.
    offenders.record_invalid(m[0].address, now);
    let (round, later) = form_round(later, &mut offenders, now, 128);
    assert_eq!(round.admissions, vec![Admission::Alone, Admission::Alone]);
    assert!(later.is_empty());

    // The size bound holds; what does not fit waits, in order.
    let waiting: Vec<(Item, usize)> = m.iter().enumerate().map(|(i, member)| (item(member, digests[0]), i)).collect();
    let mut clean = Offenders::new(policy());
    let (round, later) = form_round(waiting, &mut clean, now, 3);
    assert_eq!(round.waiters, vec![vec![0], vec![1], vec![2]]);
    assert_eq!(later.into_iter().map(|(_, w)| w).collect::<Vec<_>>(), vec![3]);
}

/// Ten different invalid signatures sent at once by one operator, beside honest ones: one of them
/// is checked in a shared round, the allowance's worth alone, the rest refused unverified, however
/// the requests fall into rounds; the honest signatures all count.
#[tokio::test]
async fn a_flood_of_invalid_signatures_costs_one_shared_check_and_the_allowance() {
    let m = members(4);
    let (collector, metrics, digest) = collector_with_proposal(&m).await;

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10u8 {
        let wrong = SignedBatch { digest, ..signed(&m[0], B256::repeat_byte(0xe0 + i)) };
        let collector = collector.clone();
        tasks.spawn(async move { (true, collector.submit_signature(wrong).await) });
    }
    for member in &m[1..] {
        let collector = collector.clone();
        let honest = signed(member, digest);
        tasks.spawn(async move { (false, collector.submit_signature(honest).await) });
    }
    let (mut invalid, mut limited) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        match joined.unwrap() {
            (false, result) => assert!(result.is_ok(), "{result:?}"),
            (true, Err(CollectorError::Signature(SignatureRejected::InvalidSignature { .. }))) => invalid += 1,
            (true, Err(CollectorError::RateLimited { .. })) => limited += 1,
            (true, other) => panic!("{other:?}"),
        }
    }
    assert_eq!((invalid, limited), (3, 7), "one shared, two alone, seven refused");
    assert_eq!(collector.quorum_state(digest).unwrap().signers.len(), 3);
    // At most: a round per honest signature, one for the offender's shared one, the two levels of
    // bisection that name it in a round of four, and its two alone.
    assert!(metrics.signature_pairing_checks.get() <= 8, "{}", metrics.signature_pairing_checks.get());
}
