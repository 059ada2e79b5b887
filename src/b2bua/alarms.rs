//! The calls' deadlines in one queue, served by one thread (`vozbox-alarms`): each call's
//! next deadline (its core's `poll_timeout`) is an entry; the thread sleeps until the
//! soonest and hands every call that is due `Event::Timeout` through the driver. One
//! thread waking a few hundred times a second serves thousands of calls, where a task per
//! call woke a runtime thread several times per call.
//!
//! A call keeps one live entry (`Slot::queued`: its instant and sequence number); an entry
//! whose number is no longer the call's is stale and skipped. A deadline that moves later
//! needs no new entry (the call is found not yet due and queued again at its new
//! deadline); one that moves sooner is queued anew.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once, Weak};
use std::time::{Duration, Instant};

/// The thread wakes at most once per grain: deadlines that fall within one are served
/// together, none before it is due and none later than a grain after. SIP's shortest
/// timer is 500 ms (T1).
pub const GRAIN: Duration = Duration::from_millis(4);

/// How long the thread sleeps at most with nothing due (it then checks that the B2BUA
/// still exists).
const IDLE: Duration = Duration::from_secs(1);

struct Entry<T> {
    at: Instant,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Entry<T> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// What the serving thread is doing, for a push to know whether to wake it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sleep {
    /// Serving entries: it looks at the queue again before it sleeps.
    Busy,
    /// Asleep until this instant.
    Until(Instant),
}

/// The queue itself, without threads or clocks: given `now`, it says what is due and
/// until when to sleep (tested in virtual time).
pub struct Queue<T> {
    heap: BinaryHeap<Reverse<Entry<T>>>,
    next_seq: u64,
    /// When the last batch was served: the next one is at least a grain later.
    last: Option<Instant>,
    sleep: Sleep,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue {
            heap: BinaryHeap::new(),
            next_seq: 0,
            last: None,
            sleep: Sleep::Busy,
        }
    }
}

impl<T> Queue<T> {
    /// Queues `item` for `at`; its sequence number (never 0), and whether the sleeping
    /// thread must be woken (the entry is due before it would wake).
    pub fn push(&mut self, at: Instant, item: T) -> (u64, bool) {
        self.next_seq += 1;
        let seq = self.next_seq;
        self.heap.push(Reverse(Entry { at, seq, item }));
        let wake = match self.sleep {
            Sleep::Busy => false,
            Sleep::Until(u) => self.wake_at(at) < u,
        };
        (seq, wake)
    }

    /// When an entry for `at` can be served: not before it, nor within a grain of the
    /// last batch.
    fn wake_at(&self, at: Instant) -> Instant {
        match self.last {
            Some(last) => at.max(last + GRAIN),
            None => at,
        }
    }

    /// The entries due at `now` (each with its sequence number), oldest first, when a
    /// grain has passed since the last batch; none otherwise.
    pub fn take_due(&mut self, now: Instant) -> Vec<(u64, T)> {
        if self.last.is_some_and(|l| now < l + GRAIN) {
            return Vec::new();
        }
        let mut due = Vec::new();
        while self.heap.peek().is_some_and(|Reverse(e)| e.at <= now) {
            if let Some(Reverse(e)) = self.heap.pop() {
                due.push((e.seq, e.item));
            }
        }
        if !due.is_empty() {
            self.last = Some(now);
        }
        due
    }

    /// Until when to sleep after serving at `now` (at most `IDLE`).
    pub fn sleep_until(&self, now: Instant) -> Instant {
        let idle = now + IDLE;
        match self.heap.peek() {
            Some(Reverse(e)) => self.wake_at(e.at).min(idle),
            None => idle,
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// The queue shared by the driver (which pushes) and the serving thread.
pub struct Alarms<T> {
    queue: Mutex<Queue<T>>,
    ring: Condvar,
    started: Once,
}

impl<T> Default for Alarms<T> {
    fn default() -> Self {
        Alarms {
            queue: Mutex::new(Queue::default()),
            ring: Condvar::new(),
            started: Once::new(),
        }
    }
}

impl<T: Send + 'static> Alarms<T> {
    fn lock(&self) -> MutexGuard<'_, Queue<T>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `item` for `at`, waking the thread when it must serve it sooner than it
    /// planned; `start` runs once, at the first push (it starts the thread).
    pub fn push(&self, at: Instant, item: T, start: impl FnOnce()) -> u64 {
        self.started.call_once(start);
        let (seq, wake) = self.lock().push(at, item);
        if wake {
            self.ring.notify_one();
        }
        seq
    }

    /// Waits until entries are due and returns them; None once `alive` says the owner is
    /// gone (checked at least every `IDLE`).
    pub fn wait(&self, alive: impl Fn() -> bool) -> Option<Vec<(u64, T)>> {
        let mut q = self.lock();
        loop {
            let now = Instant::now();
            let due = q.take_due(now);
            if !due.is_empty() {
                q.sleep = Sleep::Busy;
                return Some(due);
            }
            if !alive() {
                return None;
            }
            let until = q.sleep_until(now);
            q.sleep = Sleep::Until(until);
            let wait = until.saturating_duration_since(now);
            q = match self.ring.wait_timeout(q, wait) {
                Ok((q, _)) => q,
                Err(e) => e.into_inner().0,
            };
        }
    }
}

/// Starts the thread serving `alarms` with `serve` (one batch at a time) until `owner`
/// is dropped, inside the runtime `rt` (what it drives may spawn tasks).
pub fn spawn<T: Send + 'static, O: Send + Sync + 'static>(
    alarms: Arc<Alarms<T>>,
    owner: Weak<O>,
    rt: tokio::runtime::Handle,
    serve: impl Fn(&Arc<O>, Vec<(u64, T)>) + Send + 'static,
) {
    let spawned = std::thread::Builder::new()
        .name("vozbox-alarms".into())
        .spawn(move || {
            let _rt = rt.enter();
            while let Some(due) = alarms.wait(|| owner.strong_count() > 0) {
                match owner.upgrade() {
                    Some(o) => serve(&o, due),
                    None => return,
                }
            }
        });
    if let Err(e) = spawned {
        // Without it no call would time out: nothing can run without threads anyway.
        tracing::error!("the calls' timer thread could not start: {}", e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(t: Instant, n: u64) -> Instant {
        t + Duration::from_millis(n)
    }

    /// Entries come out in deadline order, none before it is due.
    #[test]
    fn due_entries_in_order_none_early() {
        let t = Instant::now();
        let mut q = Queue::default();
        q.push(ms(t, 500), "a");
        q.push(ms(t, 100), "b");
        q.push(ms(t, 32_000), "c");
        assert!(q.take_due(ms(t, 99)).is_empty());
        let due: Vec<_> = q.take_due(ms(t, 500)).into_iter().map(|e| e.1).collect();
        assert_eq!(due, vec!["b", "a"]);
        assert_eq!(q.sleep_until(ms(t, 500)), ms(t, 1_500)); // idle cap before c
        assert!(q.take_due(ms(t, 31_999)).is_empty());
        assert_eq!(q.take_due(ms(t, 32_000))[0].1, "c");
        assert!(q.is_empty());
    }

    /// After a batch the next comes a grain later at the earliest: deadlines within one
    /// grain are served together.
    #[test]
    fn one_batch_per_grain() {
        let t = Instant::now();
        let mut q = Queue::default();
        q.push(ms(t, 10), 1);
        q.push(ms(t, 11), 2);
        q.push(ms(t, 13), 3);
        assert_eq!(q.take_due(ms(t, 10)).len(), 1);
        assert_eq!(q.sleep_until(ms(t, 10)), ms(t, 10) + GRAIN);
        assert!(q.take_due(ms(t, 12)).is_empty(), "within the grain");
        let due = q.take_due(ms(t, 10) + GRAIN);
        assert_eq!(due.iter().map(|e| e.1).collect::<Vec<_>>(), vec![2, 3]);
    }

    /// A push wakes the sleeping thread only when it is due before the thread wakes.
    #[test]
    fn a_later_push_wakes_nobody() {
        let t = Instant::now();
        let mut q = Queue::default();
        q.push(ms(t, 1_000), 1);
        q.sleep = Sleep::Until(q.sleep_until(t));
        assert_eq!(q.sleep, Sleep::Until(ms(t, 1_000)));
        assert!(!q.push(ms(t, 2_000), 2).1);
        assert!(q.push(ms(t, 500), 3).1);
        q.sleep = Sleep::Busy;
        assert!(
            !q.push(ms(t, 1), 4).1,
            "a busy thread looks again by itself"
        );
    }

    /// Sequence numbers are distinct and never 0.
    #[test]
    fn sequence_numbers() {
        let t = Instant::now();
        let mut q = Queue::default();
        let a = q.push(t, ()).0;
        let b = q.push(t, ()).0;
        assert!(a != 0 && b != 0 && a != b);
        assert_eq!(q.len(), 2);
    }

    /// 32 s of RFC 3261 timers for a thousand calls in virtual time: every deadline served
    /// once, never early, at most a grain late, in at most one batch per grain.
    #[test]
    fn thirty_two_seconds_of_deadlines() {
        let t = Instant::now();
        let mut q = Queue::default();
        for i in 0..1_000u64 {
            // Timer A's doublings from 500 ms, then Timer B at 32 s
            let start = i * 7;
            let mut d = 500;
            while start + d < 32_000 {
                q.push(ms(t, start + d), (i, start + d));
                d *= 2;
            }
            q.push(ms(t, start + 32_000), (i, start + 32_000));
        }
        let total = q.len();
        let (mut now, mut served, mut batches) = (t, 0, 0);
        while !q.is_empty() {
            now = q.sleep_until(now);
            let due = q.take_due(now);
            if !due.is_empty() {
                batches += 1;
            }
            for (_, (_, at)) in due {
                let at = ms(t, at);
                assert!(at <= now && now - at <= GRAIN, "{:?} late", now - at);
                served += 1;
            }
        }
        assert_eq!(served, total);
        assert!(batches as u128 <= (now - t).as_millis() / GRAIN.as_millis() + 1);
    }
}
