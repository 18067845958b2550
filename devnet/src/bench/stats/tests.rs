use std::collections::BTreeSet;

use super::*;

#[test]
fn due_sequences_counts_each_due_time_in_the_half_open_window() {
    // Due at 100, 160, 220, 280, 340, ...
    assert_eq!(due_sequences(100, 60, 100, 400), 0..5);
    // `to` is excluded, `from` included.
    assert_eq!(due_sequences(100, 60, 160, 340), 1..4);
    assert_eq!(due_sequences(100, 60, 160, 341), 1..5);
    // A window before the start holds nothing; one straddling it starts at task 0.
    assert_eq!(due_sequences(100, 60, 0, 100), 0..0);
    assert_eq!(due_sequences(100, 60, 0, 101), 0..1);
    // A window between two due times holds nothing.
    assert!(due_sequences(100, 60, 161, 220).is_empty());
    assert!(due_sequences(100, 0, 0, 1000).is_empty());
    assert!(due_sequences(100, 60, 500, 400).is_empty());
}

#[test]
fn a_thousand_jobs_spread_over_a_minute_give_five_thousand_tasks_in_five_minutes() {
    let starts = spread_starts(1_000, 60, 1_000);
    assert_eq!(starts.len(), 1_000);
    assert_eq!(starts[0], 1_000);
    assert_eq!(*starts.last().unwrap(), 1_059);
    let due: usize = starts.iter().map(|&s| due_sequences(s, 60, 1_000, 1_300).count()).sum();
    assert_eq!(due, 5_000);
    // Even load: 16 or 17 jobs start in each second.
    for second in 1_000..1_060 {
        let n = starts.iter().filter(|&&s| s == second).count();
        assert!(n == 16 || n == 17, "second {second}: {n} jobs");
    }
}

#[test]
fn percentile_is_nearest_rank() {
    let values: Vec<u64> = (1..=100).collect();
    assert_eq!(percentile(&values, 50), Some(50));
    assert_eq!(percentile(&values, 99), Some(99));
    assert_eq!(percentile(&values, 100), Some(100));
    assert_eq!(percentile(&values, 0), Some(1));
    assert_eq!(percentile(&[7], 99), Some(7));
    // Two of three values are 1: the median is 1, p99 the largest.
    assert_eq!(percentile(&[1, 1, 9], 50), Some(1));
    assert_eq!(percentile(&[1, 1, 9], 99), Some(9));
    assert_eq!(percentile(&[], 50), None);
}

#[test]
fn summary_sorts_and_averages() {
    let summary = Summary::of(&[3, 1, 2, 10]).unwrap();
    assert_eq!((summary.count, summary.min, summary.max), (4, 1, 10));
    assert_eq!((summary.p50, summary.p99), (2, 10));
    assert!((summary.mean - 4.0).abs() < 1e-9);
    assert_eq!(Summary::of(&[]), None);
}

#[test]
fn first_block_at_finds_the_first_block_not_before_a_time() {
    let blocks = [(10, 100), (11, 101), (12, 101), (13, 104)];
    assert_eq!(first_block_at(&blocks, 99), Some(10));
    assert_eq!(first_block_at(&blocks, 101), Some(11));
    assert_eq!(first_block_at(&blocks, 102), Some(13));
    assert_eq!(first_block_at(&blocks, 105), None);
}

#[test]
fn tally_lists_misses_duplicates_and_tasks_outside_the_window() {
    let task = |job, sequence| Task { job, sequence };
    let due: BTreeSet<Task> = [task(1, 0), task(1, 1), task(2, 0), task(3, 4)].into_iter().collect();
    let performed = [task(1, 0), task(2, 0), task(2, 0), task(3, 5), task(1, 1)];
    let tally = tally(&due, &performed);
    assert_eq!(tally.due, 4);
    assert_eq!(tally.performed_once, 2);
    assert_eq!(tally.missed, vec![task(3, 4)]);
    assert_eq!(tally.duplicated, vec![(task(2, 0), 2)]);
    assert_eq!(tally.outside_window, 1);
    assert!(!tally.exactly_once());

    let clean = super::tally(&due, &[task(1, 0), task(1, 1), task(2, 0), task(3, 4)]);
    assert!(clean.exactly_once());
    assert_eq!(clean.performed_once, 4);
}
