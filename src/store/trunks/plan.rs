//! What an edit writes: the rows that differ between the set before and
//! after a change, with timestamps settled (`created_ms` kept, `updated_ms`
//! = now for new or changed rows). Pure; shared by the SQLite and the
//! PostgreSQL store so both write exactly the same rows.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::{EditError, StoredNumber, StoredTrunk, TrunkSet};
use crate::config::{Number, Trunk};

/// Rows to upsert (value, created_ms, updated_ms) and keys to delete.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub put_trunks: Vec<(Trunk, i64, i64)>,
    pub delete_trunks: Vec<Uuid>,
    pub put_numbers: Vec<(Number, i64, i64)>,
    pub delete_numbers: Vec<String>,
}

/// Runs `change` on a copy of `before`, validates the result with the
/// config's rules and plans the writes. Returns the closure's value, the
/// set as it will be once committed (numbers sorted) and the plan.
pub fn prepare<T, E>(
    before: &TrunkSet,
    now: i64,
    change: impl FnOnce(&mut TrunkSet) -> Result<T, E>,
) -> Result<(T, TrunkSet, Plan), EditError<E>> {
    let mut after = before.clone();
    let value = change(&mut after).map_err(EditError::Refused)?;
    after.validate().map_err(EditError::Invalid)?;
    let plan = plan(before, &mut after, now);
    after.numbers.sort_by(|a, b| a.number.no.cmp(&b.number.no));
    Ok((value, after, plan))
}

/// The writes that turn `before` into `after`; sets `after`'s timestamps.
pub fn plan(before: &TrunkSet, after: &mut TrunkSet, now: i64) -> Plan {
    let mut p = Plan::default();
    let old_trunks: HashMap<Uuid, &StoredTrunk> = before
        .trunks
        .iter()
        .map(|t| (t.trunk.trunk_id, t))
        .collect();
    for t in after.trunks.iter_mut() {
        let old = old_trunks.get(&t.trunk.trunk_id);
        t.created_ms = old.map_or(now, |o| o.created_ms);
        match old {
            Some(o) if o.trunk == t.trunk => t.updated_ms = o.updated_ms,
            _ => {
                t.updated_ms = now;
                p.put_trunks.push((t.trunk.clone(), t.created_ms, now));
            }
        }
    }
    let kept: HashSet<Uuid> = after.trunks.iter().map(|t| t.trunk.trunk_id).collect();
    p.delete_trunks = before
        .trunks
        .iter()
        .map(|t| t.trunk.trunk_id)
        .filter(|id| !kept.contains(id))
        .collect();
    let old_numbers: HashMap<&str, &StoredNumber> = before
        .numbers
        .iter()
        .map(|n| (n.number.no.as_str(), n))
        .collect();
    for n in after.numbers.iter_mut() {
        let old = old_numbers.get(n.number.no.as_str());
        n.created_ms = old.map_or(now, |o| o.created_ms);
        match old {
            Some(o) if o.number == n.number => n.updated_ms = o.updated_ms,
            _ => {
                n.updated_ms = now;
                p.put_numbers.push((n.number.clone(), n.created_ms, now));
            }
        }
    }
    let kept: HashSet<&str> = after.numbers.iter().map(|n| n.number.no.as_str()).collect();
    p.delete_numbers = before
        .numbers
        .iter()
        .map(|n| n.number.no.clone())
        .filter(|no| !kept.contains(no.as_str()))
        .collect();
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Assignment;

    fn number(no: &str, description: Option<&str>) -> StoredNumber {
        StoredNumber {
            number: Number {
                no: no.into(),
                assigned_to: Assignment::ParkingLot,
                description: description.map(str::to_string),
            },
            created_ms: 1,
            updated_ms: 2,
        }
    }

    #[test]
    fn only_new_changed_and_removed_rows_are_written() {
        let before = TrunkSet {
            trunks: Vec::new(),
            numbers: vec![number("+14155550100", None), number("+14155550101", None)],
        };
        let mut after = before.clone();
        after.numbers[0].number.description = Some("desk".into());
        after.numbers.remove(1);
        after.numbers.push(number("+14155550102", None));
        let p = plan(&before, &mut after, 50);
        assert_eq!(p.delete_numbers, vec!["+14155550101".to_string()]);
        let puts: Vec<(&str, i64, i64)> = p
            .put_numbers
            .iter()
            .map(|(n, c, u)| (n.no.as_str(), *c, *u))
            .collect();
        assert_eq!(
            puts,
            vec![("+14155550100", 1, 50), ("+14155550102", 50, 50)]
        );
        assert_eq!(
            (after.numbers[0].created_ms, after.numbers[0].updated_ms),
            (1, 50)
        );
        let mut same = before.clone();
        assert_eq!(plan(&before, &mut same, 60), Plan::default());
        assert_eq!(same, before, "an unchanged set keeps its timestamps");
    }
}
