//! Generates the vectors the Solidity tests check (`contracts/test/vectors/bls_vectors.json`) and
//! fails when the committed file no longer matches what this crate computes, so the two
//! implementations cannot drift apart silently. `KEEPER_UPDATE_VECTORS=1 cargo test -p keeper-shared
//! --test solidity_vectors` rewrites the file.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::PathBuf;

use alloy::primitives::{keccak256, Address, B256, U256};
use keeper_shared::batch::{domain, key_registration_digest, Batch, BatchContext, TaskId, TaskLeaf};
use keeper_shared::bls::{hash_to_g2_eip2537, PublicKey, SecretKey, Signature, SigningDomain, BATCH_DST, POP_DST};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

fn hexs(bytes: impl AsRef<[u8]>) -> String {
    format!("0x{}", hex::encode(bytes.as_ref()))
}

fn key(index: u8) -> SecretKey {
    SecretKey::derive_master(&[index.wrapping_add(100); 32]).expect("32-byte seed")
}

fn random_bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.gen()).collect()
}

fn hash_to_g2_vectors(rng: &mut StdRng) -> Value {
    let cases: [(&[u8], Vec<u8>); 4] = [
        (BATCH_DST, vec![]),
        (BATCH_DST, random_bytes(rng, 32)),
        (BATCH_DST, random_bytes(rng, 100)),
        (POP_DST, random_bytes(rng, 32)),
    ];
    cases
        .iter()
        .map(|(dst, msg)| json!({"dst": hexs(dst), "msg": hexs(msg), "point": hexs(hash_to_g2_eip2537(msg, dst))}))
        .collect()
}

fn signature_vectors(rng: &mut StdRng) -> Value {
    let domains = [SigningDomain::Batch, SigningDomain::Batch, SigningDomain::Batch, SigningDomain::ProofOfPossession];
    domains
        .iter()
        .enumerate()
        .map(|(i, domain)| {
            let sk = key(i as u8);
            let msg = random_bytes(rng, 32);
            json!({
                "dst": hexs(domain.dst()),
                "msg": hexs(&msg),
                "pubkey": hexs(sk.public_key().to_eip2537()),
                "signature": hexs(sk.sign(&msg, *domain).to_eip2537()),
            })
        })
        .collect()
}

fn aggregate_vectors(rng: &mut StdRng) -> Value {
    [(4u8, 1usize), (7, 2)]
        .iter()
        .map(|&(count, non_signers)| {
            let keys: Vec<SecretKey> = (0..count).map(|i| key(10 + i)).collect();
            let pks: Vec<PublicKey> = keys.iter().map(SecretKey::public_key).collect();
            let msg = random_bytes(rng, 32);
            let sigs: Vec<Signature> = keys.iter().map(|k| k.sign(&msg, SigningDomain::Batch)).collect();
            let signers = keys.len() - non_signers;
            let aggregate = PublicKey::aggregate(&pks).expect("non-empty");
            json!({
                "dst": hexs(BATCH_DST),
                "msg": hexs(&msg),
                "pubkeys": pks.iter().map(|k| hexs(k.to_eip2537())).collect::<Vec<_>>(),
                "aggregatePubkey": hexs(aggregate.to_eip2537()),
                "aggregateSignature": hexs(Signature::aggregate(&sigs).expect("non-empty").to_eip2537()),
                "nonSigners": pks[signers..].iter().map(|k| hexs(k.to_eip2537())).collect::<Vec<_>>(),
                "signersAggregatePubkey": hexs(aggregate.subtract(&pks[signers..]).expect("signers left").to_eip2537()),
                "signersAggregateSignature": hexs(Signature::aggregate(&sigs[..signers]).expect("non-empty").to_eip2537()),
            })
        })
        .collect()
}

fn batch_vectors(rng: &mut StdRng) -> Value {
    [(1usize, 1u8), (5, 1), (8, 3)]
        .iter()
        .enumerate()
        .map(|(n, &(leaf_count, signer_count))| {
            let context = BatchContext {
                chain_id: 31337,
                task_manager: Address::from(rng.gen::<[u8; 20]>()),
                reference_block_number: rng.gen_range(1..1_000_000),
                reference_block_hash: B256::from(rng.gen::<[u8; 32]>()),
            };
            let leaves: Vec<TaskLeaf> = (0..leaf_count)
                .map(|i| TaskLeaf {
                    task: TaskId { job_id: U256::from(rng.gen::<u64>()), sequence: (n * 100 + i) as u64 },
                    spec_hash: B256::from(rng.gen::<[u8; 32]>()),
                    response_hash: B256::from(rng.gen::<[u8; 32]>()),
                })
                .collect();
            let batch = Batch::new(context, leaves).expect("valid batch");
            let digest = batch.digest();
            let signers: Vec<SecretKey> = (0..signer_count).map(|i| key(30 + i)).collect();
            let pubkey = PublicKey::aggregate(&signers.iter().map(SecretKey::public_key).collect::<Vec<_>>())
                .expect("non-empty");
            let signature = Signature::aggregate(
                &signers.iter().map(|k| k.sign(digest.as_slice(), SigningDomain::Batch)).collect::<Vec<_>>(),
            )
            .expect("non-empty");
            json!({
                "chainId": context.chain_id,
                "verifyingContract": context.task_manager.to_checksum(None),
                "referenceBlockNumber": context.reference_block_number,
                "referenceBlockHash": hexs(context.reference_block_hash),
                "leaves": batch.leaves().iter().map(|l| json!({
                    "jobId": hexs(l.task.job_id.to_be_bytes::<32>()),
                    "sequence": l.task.sequence,
                    "specHash": hexs(l.spec_hash),
                    "responseHash": hexs(l.response_hash),
                })).collect::<Vec<_>>(),
                "leafHashes": batch.leaves().iter().map(|l| hexs(l.hash())).collect::<Vec<_>>(),
                "root": hexs(batch.root()),
                "proofs": (0..leaf_count)
                    .map(|i| batch.proof(i).expect("in range").iter().map(hexs).collect::<Vec<_>>())
                    .collect::<Vec<_>>(),
                "domainSeparator": hexs(domain(context.chain_id, context.task_manager).separator()),
                "digest": hexs(digest),
                "pubkey": hexs(pubkey.to_eip2537()),
                "signature": hexs(signature.to_eip2537()),
            })
        })
        .collect()
}

fn registration_vectors(rng: &mut StdRng) -> Value {
    (0..2u8)
        .map(|i| {
            let sk = key(50 + i);
            let pk = sk.public_key();
            let registry = Address::from(rng.gen::<[u8; 20]>());
            let operator = Address::from(rng.gen::<[u8; 20]>());
            let pop = sk.prove_possession(31337, registry, operator);
            json!({
                "chainId": 31337,
                "registry": registry.to_checksum(None),
                "operator": operator.to_checksum(None),
                "pubkey": hexs(pk.to_eip2537()),
                "pubkeyHash": hexs(keccak256(pk.to_eip2537())),
                "digest": hexs(key_registration_digest(31337, registry, operator, &pk)),
                "pop": hexs(pop.to_eip2537()),
            })
        })
        .collect()
}

fn generate() -> String {
    let mut rng = StdRng::seed_from_u64(0x6b65_6570_6572);
    let vectors = json!({
        "hashToG2": hash_to_g2_vectors(&mut rng),
        "signatures": signature_vectors(&mut rng),
        "aggregates": aggregate_vectors(&mut rng),
        "batches": batch_vectors(&mut rng),
        "registrations": registration_vectors(&mut rng),
    });
    let mut text = serde_json::to_string_pretty(&vectors).expect("serialisable");
    text.push('\n');
    text
}

#[test]
fn solidity_vectors_are_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contracts/test/vectors/bls_vectors.json");
    let fresh = generate();
    if std::env::var_os("KEEPER_UPDATE_VECTORS").is_some() {
        std::fs::write(&path, &fresh).expect("write vectors");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(committed == fresh, "{} is stale: run `make vectors` and commit the result", path.display());
}

#[test]
fn generated_vectors_verify_in_rust() {
    let vectors: Value = serde_json::from_str(&generate()).expect("json");
    for batch in vectors["batches"].as_array().expect("array") {
        let bytes = |k: &str| hex::decode(&batch[k].as_str().expect("hex")[2..]).expect("hex");
        let pk = PublicKey::from_eip2537(&bytes("pubkey")).expect("valid key");
        let sig = Signature::from_eip2537(&bytes("signature")).expect("valid signature");
        sig.verify(&pk, &bytes("digest"), SigningDomain::Batch).expect("verifies");
    }
}
