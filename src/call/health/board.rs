//! The carriers' up/down board, one per config generation: the state the
//! health tasks (`health/mod.rs`) write and `CallHub::carrier_up` reads. A leaf.

use std::sync::atomic::AtomicBool;

/// The carriers' health for one config generation: every carrier starts up;
/// its task (if it has health checks) flips it. A reload builds a new board
/// and new tasks, and stops the old ones.
#[derive(Default)]
pub struct Board {
    pub(super) up: Vec<(String, AtomicBool)>,
    pub(super) tasks: Vec<tokio::task::AbortHandle>,
}

impl Drop for Board {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
