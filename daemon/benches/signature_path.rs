//! The aggregator's signature path: verifying one round of queued keeper signatures through
//! `keeperd::quorum::verify_signatures` (the grouped check, `Signature::verify_each`,
//! that the verifier makes for a round's shared signatures), against the path it replaced.
//!
//! `make bench-signatures` (`cargo bench -p keeperd --bench signature_path` pinned to one core; the
//! README's "The aggregator's signature path" has the numbers)
//!
//! For 64 and 128 operators signing one proposal digest (criterion reports signatures per second):
//! - `grouped/valid/N`, `grouped/one_invalid/N`: the verifier's path. One random-scalar pairing
//!   check per digest group proves every signature valid on its own; one invalid signature is
//!   named with three more checks.
//! - `old/valid/N`, `old/one_invalid/N`: the previous path, a random linear combination over
//!   (key, digest, signature) triples (a hash and a Miller loop per signature), then every
//!   signature verified alone when it fails.
//! - `plain_aggregate/valid/N`: sum the signatures and the keys, one verification. Unsound for
//!   individual signatures (errors that cancel pass), shown only as the floor the issue measured.
//! - `grouped/valid_4_digests/128`: 128 signatures spread over four open proposals.
//! - `reference/verify_one`: one signature verified alone, to compare this machine's speed with
//!   measurements made elsewhere (one verification is the usual yardstick).

use std::hint::black_box;

use alloy::primitives::B256;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use keeper_shared::bls::{PublicKey, SecretKey, Signature, SigningDomain};
use keeperd::quorum::verify_signatures;
use rand::rngs::StdRng;
use rand::SeedableRng;

const DOMAIN: SigningDomain = SigningDomain::Batch;

/// `count` operators' valid signatures, over `digests` proposal digests in turn.
fn round(count: usize, digests: usize) -> Vec<(PublicKey, B256, Signature)> {
    let mut rng = StdRng::seed_from_u64(count as u64);
    (0..count)
        .map(|i| {
            let key = SecretKey::random(&mut rng);
            let digest = B256::repeat_byte(1 + (i % digests) as u8);
            (key.public_key(), digest, key.sign(digest.as_slice(), DOMAIN))
        })
        .collect()
}

/// The same round with the signature at the middle made over another digest.
fn with_one_invalid(items: &[(PublicKey, B256, Signature)]) -> Vec<(PublicKey, B256, Signature)> {
    let mut items = items.to_vec();
    let middle = items.len() / 2;
    let (key, digest, _) = items[middle];
    let mut rng = StdRng::seed_from_u64(99);
    let wrong = SecretKey::random(&mut rng).sign(digest.as_slice(), DOMAIN);
    items[middle] = (key, digest, wrong);
    items
}

/// The replaced path, as it was: one random linear combination over the triples, and each
/// signature alone when it fails.
fn old_path(items: &[(PublicKey, B256, Signature)]) -> Vec<bool> {
    let triples: Vec<(PublicKey, &[u8], Signature)> =
        items.iter().map(|(key, digest, signature)| (*key, digest.as_slice(), *signature)).collect();
    if Signature::verify_many(&triples, DOMAIN, &mut rand::thread_rng()).is_ok() {
        return vec![true; items.len()];
    }
    items.iter().map(|(key, digest, signature)| signature.verify(key, digest.as_slice(), DOMAIN).is_ok()).collect()
}

/// Sum first, check once: proves the aggregate only.
fn plain_aggregate(items: &[(PublicKey, B256, Signature)]) -> bool {
    let keys: Vec<PublicKey> = items.iter().map(|item| item.0).collect();
    let signatures: Vec<Signature> = items.iter().map(|item| item.2).collect();
    match Signature::aggregate(&signatures) {
        Ok(sum) => sum.fast_aggregate_verify(&keys, items[0].1.as_slice(), DOMAIN).is_ok(),
        Err(_) => false,
    }
}

fn expect(verdicts: Vec<bool>, invalid: Option<usize>) -> Vec<bool> {
    for (index, valid) in verdicts.iter().enumerate() {
        assert_eq!(*valid, Some(index) != invalid, "signature {index}");
    }
    verdicts
}

fn signature_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("signature_path");
    group.sample_size(20);
    for count in [64usize, 128] {
        let valid = round(count, 1);
        let one_invalid = with_one_invalid(&valid);
        let middle = Some(count / 2);
        group.throughput(Throughput::Elements(count as u64));
        group.bench_with_input(BenchmarkId::new("grouped/valid", count), &valid, |b, items| {
            b.iter(|| expect(verify_signatures(black_box(items), &mut rand::thread_rng()), None))
        });
        group.bench_with_input(BenchmarkId::new("grouped/one_invalid", count), &one_invalid, |b, items| {
            b.iter(|| expect(verify_signatures(black_box(items), &mut rand::thread_rng()), middle))
        });
        group.bench_with_input(BenchmarkId::new("old/valid", count), &valid, |b, items| {
            b.iter(|| expect(old_path(black_box(items)), None))
        });
        group.bench_with_input(BenchmarkId::new("old/one_invalid", count), &one_invalid, |b, items| {
            b.iter(|| expect(old_path(black_box(items)), middle))
        });
        group.bench_with_input(BenchmarkId::new("plain_aggregate/valid", count), &valid, |b, items| {
            b.iter(|| assert!(plain_aggregate(black_box(items))))
        });
    }
    let spread = round(128, 4);
    group.throughput(Throughput::Elements(128));
    group.bench_with_input(BenchmarkId::new("grouped/valid_4_digests", 128), &spread, |b, items| {
        b.iter(|| expect(verify_signatures(black_box(items), &mut rand::thread_rng()), None))
    });
    let (key, digest, signature) = spread[0];
    group.throughput(Throughput::Elements(1));
    group.bench_function("reference/verify_one", |b| {
        b.iter(|| assert!(black_box(signature).verify(&key, digest.as_slice(), DOMAIN).is_ok()))
    });
    group.finish();
}

criterion_group!(benches, signature_path);
criterion_main!(benches);
