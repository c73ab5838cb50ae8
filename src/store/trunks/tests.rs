//! The trunk store on a real file: seeding once, validated edits, no lost
//! updates between two connections.

use super::*;
use crate::config::{Assignment, Direction, InboundSettings, TrunkStatus};

struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let d = std::env::temp_dir().join(format!(
            "trunkgate-trunkstore-{what}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&d);
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn inbound(id: u128, dest: &str) -> Trunk {
    Trunk {
        trunk_id: Uuid::from_u128(id),
        media_encryption: Default::default(),
        status: TrunkStatus::Active,
        direction: Direction::Inbound,
        simultaneous_call_limit: None,
        description: None,
        recording: None,
        inbound: Some(InboundSettings {
            destination: Some(dest.into()),
            failover: None,
            phone_numbers_uri: None,
        }),
        outbound: None,
    }
}

fn number(no: &str, id: u128) -> Number {
    Number {
        no: no.into(),
        assigned_to: Assignment::Trunk(Uuid::from_u128(id)),
        description: None,
    }
}

#[test]
fn seeds_once_and_keeps_later_changes() {
    let dir = TempDir::new("seed");
    let mut s = TrunkStore::open(&dir.0).unwrap();
    assert!(s
        .seed_once(
            &[inbound(1, "pbx.example.com")],
            &[number("+14155550100", 1)]
        )
        .unwrap());
    s.edit(|set| {
        set.trunk_mut(Uuid::from_u128(1)).unwrap().trunk.description = Some("api".into());
        Ok::<_, ()>(())
    })
    .unwrap();
    drop(s);
    let mut s = TrunkStore::open(&dir.0).unwrap();
    assert!(!s
        .seed_once(&[inbound(1, "other.example.com")], &[])
        .unwrap());
    let set = s.load().unwrap();
    assert_eq!(set.trunks.len(), 1);
    assert_eq!(set.trunks[0].trunk.description.as_deref(), Some("api"));
    assert_eq!(
        set.trunks[0]
            .trunk
            .inbound
            .as_ref()
            .unwrap()
            .destination
            .as_deref(),
        Some("pbx.example.com")
    );
    assert_eq!(set.numbers.len(), 1);
    assert!(set.trunks[0].updated_ms >= set.trunks[0].created_ms);
}

#[test]
fn an_invalid_edit_changes_nothing() {
    let dir = TempDir::new("invalid");
    let mut s = TrunkStore::open(&dir.0).unwrap();
    s.seed_once(
        &[inbound(1, "pbx.example.com")],
        &[number("+14155550100", 1)],
    )
    .unwrap();
    // Removing the trunk a number is assigned to breaks the number's rule.
    let err = s
        .edit(|set| {
            set.trunks.clear();
            Ok::<_, ()>(())
        })
        .unwrap_err();
    match err {
        EditError::Invalid(f) => {
            assert_eq!(f[0].field, "numbers[0].assigned_to");
            assert!(f[0].rule.contains("no trunk with id"), "{}", f[0].rule);
        }
        other => panic!("{other:?}"),
    }
    let refused = s.edit(|set| {
        set.trunks.clear();
        Err::<(), _>("no")
    });
    assert!(matches!(refused, Err(EditError::Refused("no"))));
    assert_eq!(s.load().unwrap().trunks.len(), 1);
}

#[test]
fn two_connections_do_not_lose_updates() {
    let dir = TempDir::new("race");
    let mut s = TrunkStore::open(&dir.0).unwrap();
    s.seed_once(&[inbound(1, "pbx.example.com")], &[]).unwrap();
    let bump = |dir: PathBuf| {
        std::thread::spawn(move || {
            let mut s = TrunkStore::open(&dir).unwrap();
            for _ in 0..25 {
                s.edit(|set| {
                    let t = &mut set.trunk_mut(Uuid::from_u128(1)).unwrap().trunk;
                    let n = t.simultaneous_call_limit.unwrap_or(0);
                    t.simultaneous_call_limit = Some(n + 1);
                    Ok::<_, ()>(())
                })
                .unwrap();
            }
        })
    };
    let a = bump(dir.0.clone());
    let b = bump(dir.0.clone());
    a.join().unwrap();
    b.join().unwrap();
    let t = s.trunk(Uuid::from_u128(1)).unwrap().unwrap();
    assert_eq!(t.trunk.simultaneous_call_limit, Some(50));
}
