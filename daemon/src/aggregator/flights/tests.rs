//! The flight bookkeeping under a paused clock: order of submission, the quorum window, expiry, and
//! the lifetime following the keepers' pace.

use std::time::Duration;

use alloy::primitives::B256;
use tokio::time::Instant;

use super::*;

const WINDOW: Duration = Duration::from_millis(300);

fn digest(n: u8) -> B256 {
    B256::repeat_byte(n)
}

#[tokio::test(start_paused = true)]
async fn ready_proposals_come_out_in_proposal_order_once_their_window_is_over() {
    let mut flights = Flights::new(WINDOW, 64);
    let start = Instant::now();
    // Proposed 3, 1, 2; quorum in the order 2, 1, 3.
    flights.open(digest(3), 10, false, start, ());
    flights.open(digest(1), 10, false, start, ());
    flights.open(digest(2), 11, false, start, ());
    tokio::time::advance(Duration::from_millis(50)).await;
    assert!(flights.quorum_reached(digest(2), 12, Instant::now()).is_some());
    tokio::time::advance(Duration::from_millis(50)).await;
    assert!(flights.quorum_reached(digest(1), 12, Instant::now()).is_some());
    assert!(flights.quorum_reached(digest(3), 12, Instant::now()).is_some());
    assert!(flights.ready(Instant::now(), |_| false).is_empty(), "inside every window");

    tokio::time::advance(WINDOW - Duration::from_millis(50)).await;
    assert_eq!(flights.ready(Instant::now(), |_| false), vec![digest(2)], "only the first quorum's window is over");
    tokio::time::advance(Duration::from_millis(50)).await;
    assert_eq!(flights.ready(Instant::now(), |_| false), vec![digest(3), digest(1), digest(2)]);
}

#[tokio::test(start_paused = true)]
async fn a_proposal_every_operator_signed_is_ready_without_waiting_for_its_window() {
    let mut flights = Flights::new(WINDOW, 64);
    flights.open(digest(1), 10, false, Instant::now(), ());
    flights.open(digest(2), 10, false, Instant::now(), ());
    assert!(flights.ready(Instant::now(), |_| true).is_empty(), "no quorum, not ready however many signed");
    flights.quorum_reached(digest(1), 10, Instant::now());
    flights.quorum_reached(digest(2), 10, Instant::now());
    assert_eq!(flights.ready(Instant::now(), |d| d == digest(2)), vec![digest(2)]);
}

#[tokio::test(start_paused = true)]
async fn quorum_time_is_reported_once_and_a_quorum_at_publication_counts_from_then() {
    let mut flights = Flights::new(WINDOW, 64);
    flights.open(digest(1), 10, false, Instant::now(), ());
    tokio::time::advance(Duration::from_millis(700)).await;
    assert_eq!(flights.quorum_reached(digest(1), 11, Instant::now()), Some(Duration::from_millis(700)));
    assert_eq!(flights.quorum_reached(digest(1), 11, Instant::now()), None, "reported once");
    assert_eq!(flights.quorum_reached(digest(9), 11, Instant::now()), None, "not open");

    // Restored with its signatures: quorum already, its window starts at publication.
    flights.open(digest(2), 10, true, Instant::now(), ());
    tokio::time::advance(WINDOW).await;
    assert_eq!(flights.ready(Instant::now(), |_| false), vec![digest(1), digest(2)]);
}

#[tokio::test(start_paused = true)]
async fn unsigned_proposals_expire_past_their_lifetime_and_signed_ones_never_do() {
    let mut flights = Flights::new(WINDOW, 64);
    let lifetime = flights.lifetime_blocks();
    assert_eq!(lifetime, 60, "before any quorum: maxReferenceAge less the margin");
    flights.open(digest(1), 100, false, Instant::now(), "a");
    flights.open(digest(2), 101, false, Instant::now(), "b");
    flights.open(digest(3), 100, true, Instant::now(), "c");
    assert!(flights.expire(100 + lifetime).is_empty(), "at the limit it is still open");
    let expired = flights.expire(100 + lifetime + 1);
    assert_eq!(expired.len(), 1);
    assert_eq!((expired[0].0, expired[0].1.payload), (digest(1), "a"));
    let expired = flights.expire(10_000);
    assert_eq!(expired.iter().map(|(d, _)| *d).collect::<Vec<_>>(), vec![digest(2)]);
    assert!(flights.contains(&digest(3)), "a proposal with quorum waits for its submission");
}

#[test]
fn the_lifetime_follows_the_keepers_pace_within_the_reference_age() {
    let mut lifetime = Lifetime::new(64);
    assert_eq!(lifetime.blocks(), 60);
    // Keepers signing in the reference block's next block.
    for block in 0..20 {
        lifetime.observe_quorum(block, block + 1);
    }
    assert_eq!(lifetime.blocks(), 6, "2 x 1 block + 3 of slack, at least the floor of 6");
    // Overloaded keepers taking 20 blocks: the lifetime grows towards 2 x 20 + 3.
    for block in 0..50 {
        lifetime.observe_quorum(block, block + 20);
    }
    assert_eq!(lifetime.blocks(), 43);
    // And never past maxReferenceAge less the margin.
    for block in 0..50 {
        lifetime.observe_quorum(block, block + 100);
    }
    assert_eq!(lifetime.blocks(), 60);
    // A tiny maxReferenceAge still leaves one block.
    assert_eq!(Lifetime::new(2).blocks(), 1);
}

#[tokio::test(start_paused = true)]
async fn expired_proposals_come_out_oldest_first_and_shorter_lifetimes_expire_sooner() {
    let mut flights = Flights::new(WINDOW, 64);
    // Fast keepers: quorum in one block.
    for n in 0..10u8 {
        flights.open(digest(100 + n), 10, false, Instant::now(), ());
        flights.quorum_reached(digest(100 + n), 11, Instant::now());
        flights.remove(&digest(100 + n));
    }
    assert_eq!(flights.lifetime_blocks(), 6);
    flights.open(digest(2), 20, false, Instant::now(), ());
    flights.open(digest(1), 20, false, Instant::now(), ());
    let expired: Vec<B256> = flights.expire(27).into_iter().map(|(d, _)| d).collect();
    assert_eq!(expired, vec![digest(2), digest(1)]);
    assert!(flights.is_empty());
}

#[test]
fn the_pace_is_measured_only_while_keepers_have_a_backlog_and_bounds_what_is_proposed() {
    let mut pace = Pace::default();
    assert_eq!(pace.allowance(128, 0), 512, "unmeasured: four full batches");
    assert_eq!(pace.allowance(128, 500), 12);
    pace.on_head(10, 0);
    // Keepers signing everything they get: no measurement, the demand is not their pace.
    pace.signed(50);
    pace.on_head(11, 0);
    assert_eq!(pace.per_block(), None);
    // Busy keepers: 100 leaves a block.
    for head in 12..40 {
        pace.signed(100);
        pace.on_head(head, 300);
    }
    let measured = pace.per_block().unwrap_or_default();
    assert!((measured - 100.0).abs() < 1e-6, "{measured}");
    assert_eq!(pace.allowance(128, 0), 200, "twice the pace");
    assert_eq!(pace.allowance(128, 150), 50);
    assert_eq!(pace.allowance(128, 250), 0, "more waiting than twice the pace: nothing new");
    // Keepers that signed all they had: the estimate grows by half.
    pace.signed(100);
    pace.on_head(40, 0);
    assert_eq!(pace.allowance(128, 0), 300);
    // Slow keepers: never less than one full batch in flight.
    for head in 41..80 {
        pace.signed(10);
        pace.on_head(head, 300);
    }
    assert_eq!(pace.allowance(128, 0), 128);
    // Two blocks between heads: the rate is per block.
    let mut pace = Pace::default();
    pace.on_head(1, 0);
    pace.signed(300);
    pace.on_head(3, 1);
    assert_eq!(pace.per_block(), Some(150.0));
}

#[tokio::test(start_paused = true)]
async fn only_proposals_from_before_the_last_round_are_a_backlog() {
    let mut flights = Flights::new(WINDOW, 64);
    flights.open(digest(1), 10, false, Instant::now(), ());
    flights.open(digest(2), 12, false, Instant::now(), ());
    flights.open(digest(3), 9, true, Instant::now(), ());
    let backlog = |previous| {
        let mut blocks = flights.backlog(previous).map(|f| f.reference_block).collect::<Vec<_>>();
        blocks.sort_unstable();
        blocks
    };
    assert!(backlog(10).is_empty(), "the last round's proposal is not a backlog yet");
    assert_eq!(backlog(12), vec![10], "a round that took two blocks");
    assert_eq!(backlog(13), vec![10, 12], "one with quorum never is");
}
