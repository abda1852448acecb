//! Replay protection: a signed message is accepted once. A captured `execute_request` sent
//! again is refused, as jupyter_client's `Session` does ("Duplicate Signature").

use std::collections::{HashSet, VecDeque};

/// The signatures of recently accepted messages.
pub struct ReplayGuard {
    seen: HashSet<Vec<u8>>,
    order: VecDeque<Vec<u8>>,
    capacity: usize,
}

impl ReplayGuard {
    /// jupyter_client remembers 2^16 digests; so do we. Each holds 64 hex bytes: about 8 MB.
    pub fn new() -> ReplayGuard {
        ReplayGuard::with_capacity(1 << 16)
    }

    pub fn with_capacity(capacity: usize) -> ReplayGuard {
        ReplayGuard {
            seen: HashSet::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// True the first time a signature is offered, false for a replay. Unsigned messages (an
    /// empty key) cannot be told apart and are always accepted.
    pub fn first_time(&mut self, signature: &[u8]) -> bool {
        if signature.is_empty() {
            return true;
        }
        if self.seen.contains(signature) {
            return false;
        }
        if self.order.len() == self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        self.seen.insert(signature.to_vec());
        self.order.push_back(signature.to_vec());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_replay_and_forgets_the_oldest() {
        let mut guard = ReplayGuard::with_capacity(2);
        assert!(guard.first_time(b"a"));
        assert!(!guard.first_time(b"a"));
        assert!(guard.first_time(b"b"));
        assert!(guard.first_time(b"c")); // "a" is forgotten
        assert!(guard.first_time(b"a"));
        assert!(!guard.first_time(b"c"));
        assert!(guard.first_time(b"") && guard.first_time(b""));
    }
}
