use keeper_shared::bls::SecretKey;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;

struct Member {
    address: Address,
    key: SecretKey,
}

fn members(n: u8) -> Vec<Member> {
    let mut rng = StdRng::seed_from_u64(7);
    (1..=n).map(|i| Member { address: Address::repeat_byte(i), key: SecretKey::random(&mut rng) }).collect()
}

fn set(members: &[Member], weights: &[u64], total: u64) -> Arc<OperatorSet> {
    let operators = members.iter().zip(weights).map(|(m, w)| Operator {
        address: m.address,
        public_key: m.key.public_key(),
        weight: U256::from(*w),
    });
    Arc::new(OperatorSet::new(operators, U256::from(total)).unwrap())
}

const DIGEST: B256 = B256::repeat_byte(0xd1);

fn sign(member: &Member, digest: B256) -> Signature {
    member.key.sign(digest.as_slice(), SigningDomain::Batch)
}

fn bps(value: u16) -> QuorumThreshold {
    QuorumThreshold::from_bps(value).unwrap()
}

#[test]
fn threshold_is_bounded_and_compares_like_the_contract() {
    assert_eq!(QuorumThreshold::from_bps(0), Err(QuorumError::InvalidThreshold { bps: 0 }));
    assert_eq!(QuorumThreshold::from_bps(10_001), Err(QuorumError::InvalidThreshold { bps: 10_001 }));
    assert!(bps(10_000).is_met(U256::from(3), U256::from(3)));
    assert!(!bps(10_000).is_met(U256::from(2), U256::from(3)));
    // 6667 bps of 3: 2 * 10000 = 20000 < 3 * 6667 = 20001, so two of three equal weights fall short.
    assert!(!QuorumThreshold::TWO_THIRDS.is_met(U256::from(2), U256::from(3)));
    assert!(bps(6_666).is_met(U256::from(2), U256::from(3)));
}

#[test]
fn operator_set_is_validated() {
    let m = members(2);
    let op =
        |i: usize, w: u64| Operator { address: m[i].address, public_key: m[i].key.public_key(), weight: U256::from(w) };
    assert_eq!(OperatorSet::new([], U256::from(1)), Err(OperatorSetError::Empty));
    assert_eq!(OperatorSet::new([op(0, 1)], U256::ZERO), Err(OperatorSetError::ZeroTotalWeight));
    assert_eq!(
        OperatorSet::new([op(0, 1), op(0, 1)], U256::from(5)),
        Err(OperatorSetError::DuplicateOperator { operator: m[0].address })
    );
    let same_key = Operator { address: m[1].address, ..op(0, 1) };
    assert_eq!(
        OperatorSet::new([op(0, 1), same_key], U256::from(5)),
        Err(OperatorSetError::DuplicateKey { first: m[0].address, second: m[1].address })
    );
    assert_eq!(
        OperatorSet::new([op(0, 3), op(1, 3)], U256::from(5)),
        Err(OperatorSetError::WeightsExceedTotal { sum: U256::from(6), total: U256::from(5) })
    );
    assert!(matches!(OperatorSet::new([op(0, 1)], U256::MAX), Err(OperatorSetError::TotalWeightTooLarge { .. })));
    assert_eq!(OperatorSet::new([op(0, 2), op(1, 3)], U256::from(5)).unwrap().len(), 2);
}

#[test]
fn quorum_is_reached_exactly_at_the_threshold() {
    let m = members(4);
    let set = set(&m, &[25, 25, 25, 25], 100);

    let mut at = Quorum::new(DIGEST, set.clone(), bps(7_500));
    let mut above = Quorum::new(DIGEST, set, bps(7_501));
    for (i, member) in m.iter().take(3).enumerate() {
        let outcome = at.add(member.address, sign(member, DIGEST)).unwrap();
        assert_eq!(outcome, Accepted::Added { reached_quorum: i == 2 }, "signer {i}");
        above.add(member.address, sign(member, DIGEST)).unwrap();
    }
    assert!(at.is_reached());
    assert_eq!(at.signed_weight(), U256::from(75));
    assert!(!above.is_reached(), "75% is below 75.01%");
    assert!(matches!(above.certificate(), Err(QuorumError::NotReached { .. })));

    // The fourth signature adds weight but does not "reach" again.
    assert_eq!(at.add(m[3].address, sign(&m[3], DIGEST)).unwrap(), Accepted::Added { reached_quorum: false });
    assert_eq!(at.state().signers.len(), 4);
}

#[test]
fn same_signature_twice_counts_once_and_a_different_one_is_refused() {
    let m = members(2);
    let mut quorum = Quorum::new(DIGEST, set(&m, &[1, 1], 2), bps(10_000));
    let first = sign(&m[0], DIGEST);
    assert_eq!(quorum.add(m[0].address, first).unwrap(), Accepted::Added { reached_quorum: false });
    assert_eq!(quorum.add(m[0].address, first).unwrap(), Accepted::AlreadyPresent);
    assert_eq!(quorum.signed_weight(), U256::from(1));

    let other = m[0].key.sign(b"another message", SigningDomain::Batch);
    assert_eq!(
        quorum.add(m[0].address, other),
        Err(SignatureRejected::ConflictingSignature { digest: DIGEST, operator: m[0].address })
    );
    assert_eq!(quorum.signatures().next(), Some((&m[0].address, &first)), "the first is kept");
    assert_eq!(quorum.rejections().conflicting_signature, 1);
    assert_eq!(quorum.signed_weight(), U256::from(1));
}

#[test]
fn invalid_signatures_and_strangers_are_rejected_and_counted() {
    let m = members(3);
    let mut quorum = Quorum::new(DIGEST, set(&m[..2], &[1, 1], 2), bps(5_000));

    let by_other_key = sign(&m[1], DIGEST);
    assert_eq!(
        quorum.add(m[0].address, by_other_key),
        Err(SignatureRejected::InvalidSignature { digest: DIGEST, operator: m[0].address })
    );
    let wrong_digest = sign(&m[0], B256::repeat_byte(2));
    assert!(matches!(quorum.add(m[0].address, wrong_digest), Err(SignatureRejected::InvalidSignature { .. })));
    let wrong_domain = m[0].key.sign(DIGEST.as_slice(), SigningDomain::ProofOfPossession);
    assert!(matches!(quorum.add(m[0].address, wrong_domain), Err(SignatureRejected::InvalidSignature { .. })));

    assert_eq!(
        quorum.add(m[2].address, sign(&m[2], DIGEST)),
        Err(SignatureRejected::UnknownOperator { digest: DIGEST, operator: m[2].address })
    );
    assert_eq!(
        quorum.rejections(),
        RejectionCounts { unknown_operator: 1, invalid_signature: 3, conflicting_signature: 0 }
    );
    assert_eq!(quorum.signed_weight(), U256::ZERO);
    // An operator whose invalid signature was refused can still sign properly.
    assert!(quorum.add(m[0].address, sign(&m[0], DIGEST)).is_ok());
}

#[test]
fn batch_verification_finds_the_bad_signature() {
    let m = members(4);
    let mut rng = StdRng::seed_from_u64(1);
    let good: Vec<(PublicKey, B256, Signature)> =
        m.iter().map(|member| (member.key.public_key(), DIGEST, sign(member, DIGEST))).collect();
    assert_eq!(verify_signatures(&good, &mut rng), vec![true; 4]);

    let mut one_bad = good.clone();
    one_bad[2].2 = sign(&m[2], B256::repeat_byte(9));
    assert_eq!(verify_signatures(&one_bad, &mut rng), vec![true, true, false, true]);
    assert_eq!(verify_signatures(&one_bad[2..3], &mut rng), vec![false]);
    assert!(verify_signatures(&[], &mut rng).is_empty());
}

#[test]
fn add_many_keeps_order_and_the_first_valid_signature() {
    let m = members(5);
    let mut quorum = Quorum::new(DIGEST, set(&m[..4], &[10, 20, 30, 40], 100), bps(5_000));
    let mut rng = StdRng::seed_from_u64(2);
    let items = vec![
        (m[0].address, sign(&m[1], DIGEST)), // wrong key
        (m[1].address, sign(&m[1], DIGEST)),
        (m[4].address, sign(&m[4], DIGEST)), // not a member
        (m[3].address, sign(&m[3], DIGEST)),
        (m[1].address, sign(&m[1], DIGEST)), // the same again in one batch
    ];
    let results = quorum.add_many(&items, &mut rng);
    assert_eq!(
        results,
        vec![
            Err(SignatureRejected::InvalidSignature { digest: DIGEST, operator: m[0].address }),
            Ok(Accepted::Added { reached_quorum: false }),
            Err(SignatureRejected::UnknownOperator { digest: DIGEST, operator: m[4].address }),
            Ok(Accepted::Added { reached_quorum: true }),
            Ok(Accepted::AlreadyPresent),
        ]
    );
    assert_eq!(quorum.signed_weight(), U256::from(60));
    assert_eq!(quorum.rejections().invalid_signature, 1);
}

#[test]
fn certificate_verifies_against_the_set_key_minus_non_signers() {
    let m = members(5);
    // The fifth member is registered with weight 0: its key is still in the registry's aggregate.
    let set = set(&m, &[10, 20, 30, 40, 0], 100);
    let mut quorum = Quorum::new(DIGEST, set.clone(), bps(6_000));
    for member in [&m[1], &m[3]] {
        quorum.add(member.address, sign(member, DIGEST)).unwrap();
    }
    let certificate = quorum.certificate().unwrap();
    assert_eq!(certificate.signers, vec![m[1].address, m[3].address]);
    assert_eq!(certificate.signed_weight, U256::from(60));
    assert_eq!(certificate.total_weight, U256::from(100));

    let mut expected: Vec<Address> = vec![m[0].address, m[2].address, m[4].address];
    expected.sort_by_key(|a| keccak256(set.get(a).unwrap().public_key.to_eip2537()));
    let listed: Vec<Address> = certificate.non_signers.iter().map(|n| n.operator).collect();
    assert_eq!(listed, expected, "every non-signer, weight 0 included, by ascending key hash");
    assert!(certificate.non_signers.windows(2).all(|w| w[0].pubkey_hash < w[1].pubkey_hash));
    for non_signer in &certificate.non_signers {
        assert_eq!(non_signer.pubkey_hash, keccak256(non_signer.public_key.to_eip2537()));
    }

    // What the task manager computes: apk at the reference block minus the non-signers' keys.
    let non_signer_keys: Vec<PublicKey> = certificate.non_signers.iter().map(|n| n.public_key).collect();
    let signers_key = set.aggregate_public_key().unwrap().subtract(&non_signer_keys).unwrap();
    certificate.signature.verify(&signers_key, DIGEST.as_slice(), SigningDomain::Batch).unwrap();
    // Leaving a non-signer out of the list breaks it, as on chain.
    let too_few = set.aggregate_public_key().unwrap().subtract(&non_signer_keys[1..]).unwrap();
    assert!(certificate.signature.verify(&too_few, DIGEST.as_slice(), SigningDomain::Batch).is_err());
}

#[test]
fn a_weight_zero_signer_adds_no_weight_but_joins_the_aggregate() {
    let m = members(3);
    let set = set(&m, &[50, 50, 0], 100);
    let mut quorum = Quorum::new(DIGEST, set.clone(), bps(5_000));
    quorum.add(m[2].address, sign(&m[2], DIGEST)).unwrap();
    assert_eq!(quorum.signed_weight(), U256::ZERO);
    assert!(!quorum.is_reached());
    quorum.add(m[0].address, sign(&m[0], DIGEST)).unwrap();
    let certificate = quorum.certificate().unwrap();
    assert_eq!(certificate.non_signers.len(), 1);
    let key = set.aggregate_public_key().unwrap().subtract(&[certificate.non_signers[0].public_key]).unwrap();
    certificate.signature.verify(&key, DIGEST.as_slice(), SigningDomain::Batch).unwrap();
}

#[test]
fn quorum_stays_reachable_until_the_refusing_members_weigh_more_than_the_rest_can_spare() {
    let members = members(4);
    let mut quorum = Quorum::new(DIGEST, set(&members, &[10, 10, 10, 10], 40), bps(6_667));
    let refusing = |indices: &[usize]| indices.iter().map(|i| members[*i].address).collect::<Vec<_>>();
    assert!(quorum.reachable_without(&refusing(&[])));
    // One of four equal members refusing leaves 30 of 40 (75% >= 66.67%).
    assert!(quorum.reachable_without(&refusing(&[0])));
    assert!(quorum.reachable_without(&refusing(&[0, 0, 0])), "one member counts once");
    // Two leave 20 of 40.
    assert!(!quorum.reachable_without(&refusing(&[0, 1])));
    // A stranger weighs nothing.
    assert!(quorum.reachable_without(&[members[0].address, Address::repeat_byte(0x77)]));
    // A member whose signature is counted is not lost by refusing afterwards.
    quorum.add(members[1].address, sign(&members[1], DIGEST)).unwrap();
    assert!(quorum.reachable_without(&refusing(&[0, 1])));
    assert!(!quorum.reachable_without(&refusing(&[0, 1, 2])));
}
