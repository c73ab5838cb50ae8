//! Call-IDs recently refused statelessly (a bounded FIFO held in `CallHub`). A leaf.

/// Call-IDs recently refused statelessly, so a retransmitted INVITE (our
/// response was lost) does not log the same refusal twice. Bounded FIFO.
#[derive(Default)]
pub struct RecentRejects {
    set: std::collections::HashSet<bytes::Bytes>,
    order: std::collections::VecDeque<bytes::Bytes>,
}

impl RecentRejects {
    const CAP: usize = 4096;

    /// True when `id` is new (and remembers it).
    pub fn insert(&mut self, id: &bytes::Bytes) -> bool {
        if !self.set.insert(id.clone()) {
            return false;
        }
        self.order.push_back(id.clone());
        if self.order.len() > Self::CAP {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}
