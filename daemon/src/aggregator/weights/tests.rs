//! The weight keeper's decisions without a chain: when to confirm, when the budget forbids
//! proposing, and which blocks a stake event asks a member to be re-read at.

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::rpc::types::Log;
use alloy::sol_types::SolEvent;
use keeper_shared::contracts::BlsKeyRegistry;
use keeper_shared::eigenlayer::allocation_manager::AllocationManager;

use super::*;

const AVS: Address = Address::repeat_byte(0xa5);
const SET: (Address, u32) = (AVS, 0);
const ALLOCATION_MANAGER: Address = Address::repeat_byte(0xa1);
const REGISTRY: Address = Address::repeat_byte(0x4e);
const OPERATOR: Address = Address::repeat_byte(0x01);

fn log(address: Address, event: &impl SolEvent) -> Log {
    Log { inner: alloy::primitives::Log { address, data: event.encode_log_data() }, ..Log::default() }
}

fn allocation(set: (Address, u32), effect_block: u32) -> Log {
    log(
        ALLOCATION_MANAGER,
        &AllocationManager::AllocationUpdated {
            operator: OPERATOR,
            operatorSet: AllocationManager::OperatorSet { avs: set.0, id: set.1 },
            strategy: Address::repeat_byte(0x57),
            magnitude: 0,
            effectBlock: effect_block,
        },
    )
}

#[test]
fn a_deallocation_is_re_read_when_the_horizon_reaches_it_and_when_it_takes_effect() {
    // Queued at block 100 with EigenLayer's delay of 200: effect at 301. With a 200-block horizon the
    // registry's reading drops from block 101 on; an allocation's effect shows at 301.
    let recheck = recheck_of(&allocation(SET, 301), SET, REGISTRY, 100, 200).unwrap();
    assert_eq!(recheck, Recheck { operator: OPERATOR, at: vec![101, 301] });
    // A horizon shorter than the delay (the withdrawal delay is smaller) moves the first re-read later.
    assert_eq!(recheck_of(&allocation(SET, 301), SET, REGISTRY, 100, 50).unwrap().at, vec![251, 301]);
    // Read late (catching up), every block already past is re-read at once, and only once.
    assert_eq!(recheck_of(&allocation(SET, 301), SET, REGISTRY, 400, 200).unwrap().at, vec![400]);
}

#[test]
fn only_the_keeper_sets_events_ask_for_a_re_read() {
    assert_eq!(recheck_of(&allocation((AVS, 1), 301), SET, REGISTRY, 100, 200), None, "another set of the AVS");
    assert_eq!(recheck_of(&allocation((Address::repeat_byte(9), 0), 301), SET, REGISTRY, 100, 200), None);
    let slashed = |set: (Address, u32)| {
        log(
            ALLOCATION_MANAGER,
            &AllocationManager::OperatorSlashed {
                operator: OPERATOR,
                operatorSet: AllocationManager::OperatorSet { avs: set.0, id: set.1 },
                strategies: vec![Address::repeat_byte(0x57)],
                wadSlashed: vec![U256::from(5u64)],
                description: "equivocation".into(),
            },
        )
    };
    assert_eq!(recheck_of(&slashed(SET), SET, REGISTRY, 100, 200), Some(Recheck { operator: OPERATOR, at: vec![100] }));
    assert_eq!(recheck_of(&slashed((AVS, 3)), SET, REGISTRY, 100, 200), None);
    let registered =
        log(REGISTRY, &BlsKeyRegistry::OperatorRegistered { operator: OPERATOR, pubkeyHash: B256::repeat_byte(7) });
    assert_eq!(recheck_of(&registered, SET, REGISTRY, 90, 200), Some(Recheck { operator: OPERATOR, at: vec![90] }));
    // The same event from another contract is not the registry's.
    let forged = log(
        Address::repeat_byte(0xee),
        &BlsKeyRegistry::OperatorRegistered { operator: OPERATOR, pubkeyHash: B256::repeat_byte(7) },
    );
    assert_eq!(recheck_of(&forged, SET, REGISTRY, 90, 200), None);
    let unrelated = Log {
        inner: alloy::primitives::Log::new_unchecked(ALLOCATION_MANAGER, vec![B256::repeat_byte(3)], Bytes::new()),
        ..Log::default()
    };
    assert_eq!(recheck_of(&unrelated, SET, REGISTRY, 90, 200), None);
}

#[test]
fn a_budget_beyond_the_horizon_forbids_proposing_and_names_both_sides() {
    assert!(Budget { used: 200, horizon: 200 }.check().is_ok());
    let error = Budget { used: 201, horizon: 200 }.check().unwrap_err();
    assert!(matches!(error, WeightsError::BudgetExceedsHorizon { used: 201, horizon: 200 }));
    let message = error.to_string();
    assert!(message.contains("201 blocks") && message.contains("(200 blocks)"), "{message}");
}

/// The set's weights are confirmed once half the task manager's weight age has passed since the last
/// confirmation, and this aggregator does not send again while its own may still be pending.
#[test]
fn weights_are_confirmed_at_half_their_age_and_not_twice_at_once() {
    let mut weights = WeightConfirmation { max_age: 76, confirmed_at: 1_000, sent_at: None };
    assert!(!weights.due(1_037));
    assert!(weights.due(1_038));
    weights.sent_at = Some(1_038);
    assert!(!weights.due(1_056), "its own is pending");
    assert!(weights.due(1_057), "a quarter of the age later, again");
    // Confirmed meanwhile (by anyone): not due until half the age after that.
    weights.confirmed_at = 1_040;
    assert!(!weights.due(1_077));
    assert!(weights.due(1_078));
    // A weight age of 1 still confirms every block, never dividing by zero.
    let tiny = WeightConfirmation { max_age: 1, confirmed_at: 5, sent_at: Some(5) };
    assert!(tiny.due(6));
}

#[test]
fn a_refresh_is_each_operators_turn_in_the_drawn_order_one_turn_apart() {
    let order = [Address::repeat_byte(3), Address::repeat_byte(1), Address::repeat_byte(2)];
    assert_eq!(turn_starts(&order, Address::repeat_byte(3), 500, 4), Some(500), "the first sends at once");
    assert_eq!(turn_starts(&order, Address::repeat_byte(1), 500, 4), Some(504));
    assert_eq!(turn_starts(&order, Address::repeat_byte(2), 500, 4), Some(508));
    assert_eq!(turn_starts(&order, Address::repeat_byte(9), 500, 4), None, "no stake, no turn");
    assert_eq!(turn_starts(&order, Address::repeat_byte(2), u64::MAX - 1, 4), Some(u64::MAX), "saturates");
}

#[test]
fn the_confirmation_falls_due_at_one_block_for_every_node_that_saw_the_last() {
    let seen = WeightConfirmation { max_age: 100, confirmed_at: 1_000, sent_at: None };
    assert_eq!(seen.due_at(), 1_050);
    assert!(!seen.due(1_049));
    assert!(seen.due(1_050));
    // A node that sent its own confirmation waits a quarter of the age before sending again.
    let sent = WeightConfirmation { sent_at: Some(1_050), ..seen };
    assert!(!sent.due(1_074));
    assert!(sent.due(1_075));
}
