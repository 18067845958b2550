use alloy::primitives::{keccak256, Address, B256, U256};

use super::*;

fn operator(n: u8) -> Address {
    Address::repeat_byte(n)
}

fn stakes(weights: &[(u8, u64)]) -> Vec<OperatorStake> {
    weights.iter().map(|(n, w)| OperatorStake { operator: operator(*n), stake: U256::from(*w) }).collect()
}

fn block_hash(i: u64) -> B256 {
    keccak256(i.to_be_bytes())
}

#[test]
fn order_is_a_deterministic_permutation_independent_of_input_order() {
    let set = stakes(&[(1, 10), (2, 20), (3, 30), (4, 40)]);
    let order = rotation_order(100, block_hash(100), &set).unwrap();
    assert_eq!(order.len(), 4);
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(sorted, vec![operator(1), operator(2), operator(3), operator(4)]);
    let mut reversed = set.clone();
    reversed.reverse();
    assert_eq!(rotation_order(100, block_hash(100), &reversed).unwrap(), order);
    assert_eq!(rotation_order(100, block_hash(100), &set).unwrap(), order);
}

#[test]
fn order_depends_on_the_block() {
    let set = stakes(&[(1, 1), (2, 1), (3, 1), (4, 1), (5, 1)]);
    let orders: std::collections::HashSet<_> =
        (0..50).map(|i| rotation_order(i, block_hash(i), &set).unwrap()).collect();
    assert!(orders.len() > 20, "50 blocks gave only {} distinct orders", orders.len());
    // Same hash, another number: another seed.
    assert_ne!(rotation_seed(1, block_hash(1)), rotation_seed(2, block_hash(1)));
}

#[test]
fn leaders_follow_stake() {
    // Stakes 1:2:3:4 over 20,000 synthetic blocks; the expected shares are 10/20/30/40 %.
    let set = stakes(&[(1, 100), (2, 200), (3, 300), (4, 400)]);
    let mut leads = [0u32; 4];
    let blocks = 20_000u64;
    for i in 0..blocks {
        let leader = rotation_order(i, block_hash(i), &set).unwrap()[0];
        leads[(leader.0[0] - 1) as usize] += 1;
    }
    for (i, count) in leads.iter().enumerate() {
        let share = f64::from(*count) / blocks as f64;
        let expected = (i + 1) as f64 / 10.0;
        // Deterministic inputs, so no flake; the tolerance is ~6 standard deviations.
        assert!((share - expected).abs() < 0.02, "operator {} led {share:.3}, expected {expected}", i + 1);
    }
}

#[test]
fn zero_stake_is_left_out_and_bad_sets_are_refused() {
    let set = stakes(&[(1, 0), (2, 5), (3, 0)]);
    assert_eq!(rotation_order(1, block_hash(1), &set).unwrap(), vec![operator(2)]);
    assert_eq!(rotation_order(1, block_hash(1), &stakes(&[(1, 0)])), Err(RotationError::NoStake));
    assert_eq!(rotation_order(1, block_hash(1), &[]), Err(RotationError::NoStake));
    assert_eq!(
        rotation_order(1, block_hash(1), &stakes(&[(1, 1), (2, 1), (1, 3)])),
        Err(RotationError::DuplicateOperator(operator(1)))
    );
    let overflow = vec![
        OperatorStake { operator: operator(1), stake: U256::MAX },
        OperatorStake { operator: operator(2), stake: U256::from(1) },
    ];
    assert_eq!(rotation_order(1, block_hash(1), &overflow), Err(RotationError::StakeOverflow));
}

#[test]
fn schedule_hands_over_every_deadline_and_wraps() {
    let set = stakes(&[(1, 1), (2, 1), (3, 1)]);
    let schedule = Schedule::new(100, block_hash(100), &set, 4).unwrap();
    let order = schedule.order().to_vec();
    assert_eq!(schedule.duty_at(100).unwrap(), Duty { slot: 0, operator: order[0] });
    assert_eq!(schedule.duty_at(103).unwrap(), Duty { slot: 0, operator: order[0] });
    let takeover = schedule.duty_at(104).unwrap();
    assert_eq!(takeover, Duty { slot: 1, operator: order[1] });
    assert!(takeover.is_takeover());
    assert_eq!(schedule.duty_at(108).unwrap().operator, order[2]);
    assert_eq!(schedule.duty_at(112).unwrap(), Duty { slot: 3, operator: order[0] }, "wraps around");
    assert_eq!(schedule.duty_at(99), Err(RotationError::BeforeReference { block: 99, reference: 100 }));
    assert_eq!(schedule.first_turn(order[2]), Some(108));
    assert_eq!(schedule.first_turn(operator(9)), None);
    assert_eq!(Schedule::new(100, block_hash(100), &set, 0), Err(RotationError::ZeroDeadline));
}
