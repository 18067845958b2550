use alloy::primitives::U256;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::bls::{BlsError, SecretKey};

const DOMAIN: SigningDomain = SigningDomain::Batch;

/// The BLS12-381 group order q.
fn order() -> U256 {
    U256::from_be_bytes(hex!("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001"))
}

fn scalar_key(value: U256) -> SecretKey {
    SecretKey::from_bytes(&value.to_be_bytes::<32>()).unwrap()
}

/// The key `q − sk`: its public key and signatures are the negations of `key`'s.
fn negated(key: &SecretKey) -> SecretKey {
    scalar_key(order() - U256::from_be_bytes(*key.to_bytes()))
}

fn keys(count: usize, rng: &mut StdRng) -> Vec<SecretKey> {
    (0..count).map(|_| SecretKey::random(rng)).collect()
}

/// Each key's valid signature over `message`.
fn signed<'m>(keys: &[SecretKey], message: &'m [u8]) -> Vec<(PublicKey, &'m [u8], Signature)> {
    keys.iter().map(|key| (key.public_key(), message, key.sign(message, DOMAIN))).collect()
}

fn alone(items: &[(PublicKey, &[u8], Signature)]) -> Vec<bool> {
    items.iter().map(|(key, message, signature)| signature.verify(key, message, DOMAIN).is_ok()).collect()
}

fn invalid_positions(verdict: &BatchVerdict) -> Vec<usize> {
    verdict.invalid().collect()
}

#[test]
fn all_valid_over_one_digest_is_one_check() {
    let mut rng = StdRng::seed_from_u64(1);
    let keys = keys(64, &mut rng);
    let items = signed(&keys, b"proposal digest");
    let verdict = Signature::verify_each(&items, DOMAIN, &mut rng);
    assert!(verdict.all_valid());
    assert_eq!(verdict.valid.len(), 64);
    assert_eq!(verdict.pairing_checks, 1);
}

#[test]
fn several_digests_share_one_check() {
    let mut rng = StdRng::seed_from_u64(2);
    let keys = keys(30, &mut rng);
    let digests: [&[u8]; 3] = [b"first", b"second", b"third"];
    // Interleaved, so the grouping must reorder and map the verdicts back.
    let items: Vec<(PublicKey, &[u8], Signature)> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let message = digests[i % 3];
            (key.public_key(), message, key.sign(message, DOMAIN))
        })
        .collect();
    let verdict = Signature::verify_each(&items, DOMAIN, &mut rng);
    assert!(verdict.all_valid());
    assert_eq!(verdict.pairing_checks, 1);

    let mut one_bad = items.clone();
    one_bad[13].2 = keys[13].sign(digests[0], DOMAIN); // item 13 is over digests[1]
    let verdict = Signature::verify_each(&one_bad, DOMAIN, &mut rng);
    assert_eq!(invalid_positions(&verdict), vec![13]);
}

/// One invalid signature among 64 is named with three checks beyond the first, whatever its
/// position and whatever is wrong with it.
#[test]
fn one_invalid_among_64_is_named_in_four_checks() {
    let mut rng = StdRng::seed_from_u64(3);
    let keys = keys(64, &mut rng);
    let message: &[u8] = b"proposal digest";
    let items = signed(&keys, message);
    let wrong: [(usize, Signature); 4] = [
        (0, keys[0].sign(b"another digest", DOMAIN)),
        (37, keys[36].sign(message, DOMAIN)), // another operator's valid signature
        (63, keys[63].sign(message, SigningDomain::ProofOfPossession)),
        (20, Signature::aggregate(&[items[20].2, items[21].2]).unwrap()),
    ];
    for (position, signature) in wrong {
        let mut batch = items.clone();
        batch[position].2 = signature;
        let verdict = Signature::verify_each(&batch, DOMAIN, &mut rng);
        assert_eq!(invalid_positions(&verdict), vec![position]);
        assert_eq!(verdict.pairing_checks, 4, "position {position}");
    }
}

/// The attack a plain aggregate check accepts: two signatures whose errors cancel (σ_a + δ and
/// σ_b − δ) aggregate to a valid signature, yet neither is valid. Both are caught.
#[test]
fn errors_that_cancel_in_the_aggregate_are_caught() {
    let mut rng = StdRng::seed_from_u64(4);
    let keys = keys(64, &mut rng);
    let message: &[u8] = b"proposal digest";
    let mut items = signed(&keys, message);
    let one = scalar_key(U256::from(1));
    let delta = one.sign(b"any point of G2", DOMAIN);
    let minus_delta = negated(&one).sign(b"any point of G2", DOMAIN);
    let (a, b) = (5, 50);
    items[a].2 = Signature::aggregate(&[items[a].2, delta]).unwrap();
    items[b].2 = Signature::aggregate(&[items[b].2, minus_delta]).unwrap();

    let keys_only: Vec<PublicKey> = items.iter().map(|item| item.0).collect();
    let signatures: Vec<Signature> = items.iter().map(|item| item.2).collect();
    let aggregate = Signature::aggregate(&signatures).unwrap();
    assert_eq!(aggregate.fast_aggregate_verify(&keys_only, message, DOMAIN), Ok(()), "a naive check accepts");
    assert_eq!(alone(&items).iter().filter(|valid| !**valid).count(), 2);

    let verdict = Signature::verify_each(&items, DOMAIN, &mut rng);
    assert_eq!(invalid_positions(&verdict), vec![a, b]);
}

#[test]
fn small_batches_bisect() {
    let mut rng = StdRng::seed_from_u64(5);
    let keys = keys(8, &mut rng);
    let message: &[u8] = b"digest";
    let mut items = signed(&keys, message);
    items[6].2 = keys[6].sign(b"other", DOMAIN);
    let verdict = Signature::verify_each(&items, DOMAIN, &mut rng);
    assert_eq!(invalid_positions(&verdict), vec![6]);
    assert_eq!(verdict.pairing_checks, 4, "the whole, then one half per level (4, 2, 1)");

    let verdict = Signature::verify_each(&items[5..7], DOMAIN, &mut rng);
    assert_eq!(invalid_positions(&verdict), vec![1]);
    assert_eq!(verdict.pairing_checks, 2, "the left one passes, so the right one is the culprit");
}

#[test]
fn empty_single_and_all_invalid_batches() {
    let mut rng = StdRng::seed_from_u64(6);
    let verdict = Signature::verify_each(&[], DOMAIN, &mut rng);
    assert_eq!(verdict, BatchVerdict { valid: Vec::new(), pairing_checks: 0 });

    let keys = keys(20, &mut rng);
    let items = signed(&keys, b"digest");
    assert_eq!(Signature::verify_each(&items[..1], DOMAIN, &mut rng).valid, vec![true]);
    let wrong: Vec<(PublicKey, &[u8], Signature)> =
        items.iter().map(|(key, _, signature)| (*key, b"not the digest".as_slice(), *signature)).collect();
    assert_eq!(Signature::verify_each(&wrong[..1], DOMAIN, &mut rng).valid, vec![false]);
    let verdict = Signature::verify_each(&wrong, DOMAIN, &mut rng);
    assert_eq!(verdict.valid, vec![false; 20]);
}

/// Random batches (sizes, digests, invalid signatures in any number and place) get exactly the
/// verdicts of verifying each signature alone.
#[test]
fn random_batches_match_verifying_each_alone() {
    let mut rng = StdRng::seed_from_u64(7);
    let keys = keys(80, &mut rng);
    let digests: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 32]).collect();
    for round in 0..12 {
        let size = rng.gen_range(1..=keys.len());
        let groups = rng.gen_range(1..=digests.len());
        let mut items: Vec<(PublicKey, &[u8], Signature)> = keys[..size]
            .iter()
            .map(|key| {
                let message = digests[rng.gen_range(0..groups)].as_slice();
                (key.public_key(), message, key.sign(message, DOMAIN))
            })
            .collect();
        for _ in 0..rng.gen_range(0..=4) {
            let victim = rng.gen_range(0..size);
            items[victim].2 = keys[victim].sign(b"something else", DOMAIN);
        }
        let verdict = Signature::verify_each(&items, DOMAIN, &mut rng);
        assert_eq!(verdict.valid, alone(&items), "round {round}: {size} items over {groups} digests");
    }
}

/// Keys and signatures that cancel in pairs make the plain sums the point at infinity, which
/// blst's multi-pairing cannot take: such pairs are left out (their factor is 1).
#[test]
fn infinite_sums_are_handled() {
    let mut rng = StdRng::seed_from_u64(8);
    let mut keys = keys(16, &mut rng);
    let negations: Vec<SecretKey> = keys.iter().map(negated).collect();
    keys.extend(negations);
    let message: &[u8] = b"digest";
    let mut items = signed(&keys, message);

    let mut batch = Batch::new(&items, DOMAIN, &mut rng);
    assert_eq!(batch.value(0..items.len(), Weights::Ones), Some(gt_one()), "both plain sums are infinity");
    let verdict = Signature::verify_each(&items, DOMAIN, &mut rng);
    assert!(verdict.all_valid());
    assert_eq!(verdict.pairing_checks, 1);

    items[20].2 = keys[3].sign(message, DOMAIN);
    let verdict = Signature::verify_each(&items, DOMAIN, &mut rng);
    assert_eq!(invalid_positions(&verdict), vec![20]);

    // A signature is never the point at infinity, even when made of a cancelling pair.
    let sum = Signature::aggregate(&[items[0].2, items[16].2]);
    assert_eq!(sum, Err(BlsError::PointAtInfinity { what: "signature" }));
}

#[test]
fn negated_generator_is_minus_g1() {
    let g1 = scalar_key(U256::from(1)).public_key();
    let minus_g1 = scalar_key(order() - U256::from(1)).public_key();
    let minus_g1_affine: blst_p1_affine = (*minus_g1.as_blst()).into();
    assert_eq!(*negated_generator(), minus_g1_affine);
    assert_eq!(PublicKey::aggregate(&[g1, minus_g1]), Err(BlsError::PointAtInfinity { what: "public key" }));
}
