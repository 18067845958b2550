//! What the network layer costs per message and per block, on the node's task.
//!
//! `cargo bench -p keeper-p2p --bench envelope`
//!
//! - `envelope/sign/signature`, `/proposal_64k`: signing an envelope (EIP-712 digest + ECDSA).
//! - `envelope/decode/signature`, `/proposal_64k`: decoding wire bytes, the canonical check and
//!   recovering the author: the crate's share of validating one gossip message.
//! - `rotation/order/100`: the stake-weighted order of 100 operators for one reference block.

#![allow(clippy::unwrap_used)] // benchmark set-up

use std::hint::black_box;

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use criterion::{criterion_group, criterion_main, Criterion};
use keeper_p2p::rotation::{rotation_order, OperatorStake};
use keeper_p2p::{Envelope, NetworkId, SignedEnvelope, Topic};

fn envelope(topic: Topic, len: usize) -> Envelope {
    Envelope {
        topic,
        reference_block_number: 1_000,
        reference_block_hash: B256::repeat_byte(9),
        created_at_ms: 1_800_000_000_000,
        payload: vec![0xab; len],
    }
}

fn envelopes(c: &mut Criterion) {
    let network = NetworkId { chain_id: 31337, task_manager: Address::repeat_byte(0xaa) };
    let signer = PrivateKeySigner::random();
    for (name, topic, len) in [("signature", Topic::Signatures, 180), ("proposal_64k", Topic::Proposals, 64 * 1024)] {
        c.bench_function(&format!("envelope/sign/{name}"), |b| {
            b.iter(|| envelope(topic, len).sign(&network, &signer).unwrap())
        });
        let bytes = envelope(topic, len).sign(&network, &signer).unwrap().encoded().to_vec();
        c.bench_function(&format!("envelope/decode/{name}"), |b| {
            b.iter(|| SignedEnvelope::decode(black_box(&bytes), &network, 1 << 20).unwrap())
        });
    }
}

fn rotation(c: &mut Criterion) {
    let operators: Vec<_> = (0..100u8)
        .map(|i| OperatorStake { operator: Address::repeat_byte(i), stake: U256::from(1_000 + u64::from(i)) })
        .collect();
    c.bench_function("rotation/order/100", |b| {
        b.iter(|| rotation_order(1_000, black_box(B256::repeat_byte(3)), &operators).unwrap())
    });
}

criterion_group!(benches, envelopes, rotation);
criterion_main!(benches);
