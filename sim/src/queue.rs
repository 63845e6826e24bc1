//! The event queue: sorted lanes for the events scheduled a constant time ahead, and a
//! binary heap for the rest.
//!
//! Most of a run's events are scheduled a fixed time after the event that causes them: an
//! attempt reaches the server half a round trip after it is sent, an answer reaches the
//! client half a round trip after the server gives it, a request is served a fixed time
//! after a worker takes it. Since the clock never goes back, such events are produced in
//! the order they are due, and a plain FIFO keeps them sorted for nothing. Only the events
//! with a random delay (retries, arrivals) need a heap, which stays small and cheap.
//!
//! A lane accepts an event only if it is not due before the lane's last one; otherwise
//! (an overload changing the service time, say) the event goes to the heap. Either way
//! [`EventQueue::pop`] returns the smallest key of all.
//!
//! Keys are `(time << 64) | sequence`: unique, ordered by time, then first in first out,
//! so a run never depends on how ties are broken.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// A heap entry, ordered by key alone and reversed, so that `BinaryHeap` (a max-heap)
/// pops the smallest key.
#[derive(Debug)]
struct Entry<T>(u128, T);

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<T> Eq for Entry<T> {}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.cmp(&self.0)
    }
}

#[derive(Debug)]
pub(super) struct EventQueue<T, const LANES: usize> {
    lanes: [VecDeque<(u128, T)>; LANES],
    heap: BinaryHeap<Entry<T>>,
}

impl<T, const LANES: usize> EventQueue<T, LANES> {
    pub(super) fn new() -> Self {
        EventQueue {
            lanes: core::array::from_fn(|_| VecDeque::new()),
            heap: BinaryHeap::new(),
        }
    }

    /// Adds an event with a random delay.
    pub(super) fn push(&mut self, key: u128, item: T) {
        self.heap.push(Entry(key, item));
    }

    /// Adds an event to `lane` if it is not due before the lane's last event, else to the
    /// heap.
    pub(super) fn push_lane(&mut self, lane: usize, key: u128, item: T) {
        match self.lanes.get_mut(lane) {
            Some(l) if l.back().is_none_or(|(last, _)| *last <= key) => l.push_back((key, item)),
            _ => self.push(key, item),
        }
    }

    /// Whether no event is waiting.
    pub(super) fn is_empty(&self) -> bool {
        self.heap.is_empty() && self.lanes.iter().all(VecDeque::is_empty)
    }

    /// Removes the event with the smallest key.
    pub(super) fn pop(&mut self) -> Option<(u128, T)> {
        let mut best: Option<(usize, u128)> = None;
        for (i, lane) in self.lanes.iter().enumerate() {
            if let Some((key, _)) = lane.front() {
                if best.is_none_or(|(_, b)| *key < b) {
                    best = Some((i, *key));
                }
            }
        }
        let heap_first = self
            .heap
            .peek()
            .is_some_and(|e| best.is_none_or(|(_, b)| e.0 < b));
        if heap_first {
            return self.heap.pop().map(|Entry(k, t)| (k, t));
        }
        let (lane, _) = best?;
        self.lanes.get_mut(lane)?.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Reverse;

    proptest! {
        /// Interleaved pushes (to lanes or the heap, never due before now) and pops give
        /// the same order as one binary heap.
        #[test]
        fn prop_event_queue_pops_in_key_order(
            ops in prop::collection::vec((0usize..5, 0u64..1000), 0..400),
        ) {
            let mut queue = EventQueue::<(), 3>::new();
            let mut reference = BinaryHeap::new();
            let (mut now, mut seq) = (0u64, 0u64);
            for (op, delay) in ops {
                if op == 4 {
                    let a = queue.pop();
                    let b = reference.pop().map(|Reverse(k)| (k, ()));
                    prop_assert_eq!(a, b);
                    if let Some((k, ())) = a {
                        now = (k >> 64) as u64;
                    }
                } else {
                    seq += 1;
                    let key = (u128::from(now + delay) << 64) | u128::from(seq);
                    if op == 3 {
                        queue.push(key, ());
                    } else {
                        queue.push_lane(op, key, ());
                    }
                    reference.push(Reverse(key));
                }
            }
            while let Some(Reverse(k)) = reference.pop() {
                prop_assert_eq!(queue.pop(), Some((k, ())));
            }
            prop_assert_eq!(queue.pop(), None);
        }
    }
}
