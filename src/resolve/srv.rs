//! RFC 2782 SRV target selection: the order in which a client tries the
//! records of one SRV RRset. Pure; the RNG is passed in so tests are seeded.

use rand::Rng;

use super::SrvRecord;

/// Orders `records` the way RFC 2782 ("Usage rules") says a client tries them:
/// priority ascending; within one priority, repeatedly pick a record with
/// probability proportional to its weight, weight-0 records placed first in
/// the running sum so they get a small chance (a draw of exactly 0). When every
/// remaining weight is 0 the pick is uniform. Records whose target is `"."`
/// (service decidedly not available) are dropped.
pub fn order_srv<R: Rng + ?Sized>(records: &[SrvRecord], rng: &mut R) -> Vec<SrvRecord> {
    let mut rest: Vec<SrvRecord> = records
        .iter()
        .filter(|r| r.target != "." && !r.target.is_empty())
        .cloned()
        .collect();
    // Stable sort: weight-0 records first within a priority, input order otherwise.
    rest.sort_by_key(|r| (r.priority, r.weight != 0));
    let mut out = Vec::with_capacity(rest.len());
    while let Some(first) = rest.first() {
        let priority = first.priority;
        let group_len = rest.iter().take_while(|r| r.priority == priority).count();
        let mut group: Vec<SrvRecord> = rest.drain(..group_len).collect();
        while !group.is_empty() {
            let index = pick_weighted(&group, rng);
            out.push(group.remove(index));
        }
    }
    out
}

/// RFC 2782: draw a number uniformly in `0..=sum` and select the first record
/// whose running sum of weights is >= it.
fn pick_weighted<R: Rng + ?Sized>(group: &[SrvRecord], rng: &mut R) -> usize {
    let sum: u32 = group.iter().map(|r| u32::from(r.weight)).sum();
    if sum == 0 {
        return rng.random_range(0..group.len());
    }
    let draw = rng.random_range(0..=sum);
    let mut running = 0u32;
    for (i, r) in group.iter().enumerate() {
        running += u32::from(r.weight);
        if running >= draw {
            return i;
        }
    }
    group.len() - 1
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    fn srv(priority: u16, weight: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port: 5060,
            target: target.to_string(),
        }
    }

    fn targets(records: &[SrvRecord]) -> Vec<&str> {
        records.iter().map(|r| r.target.as_str()).collect()
    }

    #[test]
    fn priority_strictly_ascending() {
        let records = [
            srv(30, 100, "c"),
            srv(10, 0, "a"),
            srv(20, 65535, "b"),
            srv(30, 1, "d"),
        ];
        for seed in 0..50 {
            let ordered = order_srv(&records, &mut StdRng::seed_from_u64(seed));
            assert_eq!(targets(&ordered[..2]), ["a", "b"], "seed {seed}");
            let mut tail = targets(&ordered[2..]);
            tail.sort_unstable();
            assert_eq!(tail, ["c", "d"], "seed {seed}");
        }
    }

    #[test]
    fn dot_target_is_dropped() {
        let records = [srv(10, 1, "."), srv(20, 1, "b")];
        let ordered = order_srv(&records, &mut StdRng::seed_from_u64(1));
        assert_eq!(targets(&ordered), ["b"]);
    }

    /// Counts how often `heavy` comes first over 1000 seeded runs.
    fn first_count(records: &[SrvRecord], heavy: &str, seed: u64) -> usize {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..1000)
            .filter(|_| order_srv(records, &mut rng)[0].target == heavy)
            .count()
    }

    #[test]
    fn weights_give_proportional_first_choice() {
        // 80/20: P(heavy first) = 81/101 ≈ 0.80.
        let records = [srv(10, 20, "light"), srv(10, 80, "heavy")];
        for seed in [1, 2, 3] {
            let n = first_count(&records, "heavy", seed);
            assert!((740..=860).contains(&n), "seed {seed}: {n}");
        }
    }

    #[test]
    fn weight_zero_has_a_small_chance() {
        // RFC 2782: weight 0 is first only on a draw of 0: P = 1/11.
        let records = [srv(10, 10, "ten"), srv(10, 0, "zero")];
        for seed in [4, 5] {
            let n = first_count(&records, "zero", seed);
            assert!((40..=150).contains(&n), "seed {seed}: {n}");
        }
    }

    #[test]
    fn all_zero_weights_are_uniform() {
        let records = [srv(10, 0, "a"), srv(10, 0, "b")];
        let n = first_count(&records, "a", 6);
        assert!((420..=580).contains(&n), "{n}");
    }

    #[test]
    fn every_record_appears_once() {
        let records = [
            srv(1, 5, "a"),
            srv(1, 0, "b"),
            srv(2, 7, "c"),
            srv(1, 9, "d"),
        ];
        let mut rng = StdRng::seed_from_u64(9);
        for _ in 0..100 {
            let mut got = targets(&order_srv(&records, &mut rng))
                .into_iter()
                .map(str::to_string)
                .collect::<Vec<_>>();
            assert_eq!(got.pop().as_deref(), Some("c"));
            got.sort_unstable();
            assert_eq!(got, ["a", "b", "d"]);
        }
    }

    proptest! {
        /// Any input: the output is a permutation of the non-"." records with
        /// priorities non-decreasing.
        #[test]
        fn output_is_a_priority_sorted_permutation(
            raw in proptest::collection::vec((0u16..4, any::<u16>(), prop_oneof![Just(".".to_string()), "[a-e]"]), 0..12),
            seed in any::<u64>(),
        ) {
            let records: Vec<SrvRecord> = raw
                .iter()
                .enumerate()
                .map(|(i, (p, w, t))| SrvRecord { priority: *p, weight: *w, port: i as u16, target: t.to_string() })
                .collect();
            let ordered = order_srv(&records, &mut StdRng::seed_from_u64(seed));
            prop_assert!(ordered.windows(2).all(|w| w[0].priority <= w[1].priority));
            let mut got: Vec<u16> = ordered.iter().map(|r| r.port).collect();
            got.sort_unstable();
            let want: Vec<u16> = records.iter().filter(|r| r.target != ".").map(|r| r.port).collect();
            prop_assert_eq!(got, want);
        }
    }
}
