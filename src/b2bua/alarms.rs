//! The calls' deadlines in one queue, served by one thread (`vozbox-alarms`): each call's
//! next deadline (its core's `poll_timeout`) is an entry; the thread sleeps until the
//! soonest and hands every call that is due `Event::Timeout` through the driver. One
//! thread waking a few hundred times a second serves thousands of calls, where a task per
//! call woke a runtime thread several times per call.
//!
//! A call has at most one entry, its key kept in the call (`Slot::queued`): a deadline
//! that moves sooner replaces it, one that moves later keeps it (the call is found not yet
//! due when it is served, and queued again at its new deadline), none removes it.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The thread wakes at most once per grain: deadlines that fall within one are served
/// together, none before it is due and none later than a grain after. SIP's shortest
/// timer is 500 ms (T1).
pub const GRAIN: Duration = Duration::from_millis(4);

/// How long the thread sleeps at most with nothing due (it then checks that the B2BUA
/// still exists).
const IDLE: Duration = Duration::from_secs(1);

/// An entry's key: its instant and a sequence number (distinct, never 0).
pub type Key = (Instant, u64);

/// What the serving thread is doing, for a change to know whether to wake it.
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
    entries: BTreeMap<Key, T>,
    next_seq: u64,
    /// When the last batch was served: the next one is at least a grain later.
    last: Option<Instant>,
    sleep: Sleep,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue {
            entries: BTreeMap::new(),
            next_seq: 0,
            last: None,
            sleep: Sleep::Busy,
        }
    }
}

impl<T> Queue<T> {
    /// Points the entry of one owner (its key in `queued`) at `next`: a sooner deadline
    /// replaces it (`item` makes the new one), a later one keeps it, none removes it.
    /// Whether the sleeping thread must be woken (the new entry is due before it wakes).
    pub fn set(
        &mut self,
        queued: &mut Option<Key>,
        next: Option<Instant>,
        item: impl FnOnce() -> T,
    ) -> bool {
        let Some(next) = next else {
            if let Some(k) = queued.take() {
                self.entries.remove(&k);
            }
            return false;
        };
        if queued.is_some_and(|(at, _)| at <= next) {
            return false;
        }
        if let Some(k) = queued.take() {
            self.entries.remove(&k);
        }
        self.next_seq += 1;
        let key = (next, self.next_seq);
        self.entries.insert(key, item());
        *queued = Some(key);
        match self.sleep {
            Sleep::Busy => false,
            Sleep::Until(u) => self.wake_at(next) < u,
        }
    }

    /// When an entry for `at` can be served: not before it, nor within a grain of the
    /// last batch.
    fn wake_at(&self, at: Instant) -> Instant {
        match self.last {
            Some(last) => at.max(last + GRAIN),
            None => at,
        }
    }

    /// The entries due at `now`, soonest first, when a grain has passed since the last
    /// batch; none otherwise. Their owners find them gone: the key each owner holds is
    /// to be compared with the one served.
    pub fn take_due(&mut self, now: Instant) -> Vec<(Key, T)> {
        if self.last.is_some_and(|l| now < l + GRAIN) {
            return Vec::new();
        }
        let mut due = Vec::new();
        while self
            .entries
            .first_key_value()
            .is_some_and(|(k, _)| k.0 <= now)
        {
            if let Some(e) = self.entries.pop_first() {
                due.push(e);
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
        match self.entries.first_key_value() {
            Some((k, _)) => self.wake_at(k.0).min(idle),
            None => idle,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The owner of `queued` is served the entry `key` the thread took out: whether it is
/// still the owner's (not replaced by a sooner one meanwhile), in which case the owner
/// has no entry any more until it sets one.
pub fn claim(queued: &mut Option<Key>, key: Key) -> bool {
    if *queued == Some(key) {
        *queued = None;
        true
    } else {
        false
    }
}

/// The queue shared by the driver (which sets entries) and the serving thread.
pub struct Alarms<T> {
    queue: Mutex<Queue<T>>,
    ring: Condvar,
}

impl<T> Default for Alarms<T> {
    fn default() -> Self {
        Alarms {
            queue: Mutex::new(Queue::default()),
            ring: Condvar::new(),
        }
    }
}

impl<T> Alarms<T> {
    fn lock(&self) -> MutexGuard<'_, Queue<T>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Queue::set`, waking the thread when it must serve sooner than it planned.
    pub fn set(&self, queued: &mut Option<Key>, next: Option<Instant>, item: impl FnOnce() -> T) {
        if self.lock().set(queued, next, item) {
            self.ring.notify_one();
        }
    }

    /// Waits until entries are due and returns them; None once `alive` says the owner is
    /// gone (checked at least every `IDLE`).
    pub fn wait(&self, alive: impl Fn() -> bool) -> Option<Vec<(Key, T)>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn ms(t: Instant, n: u64) -> Instant {
        t + Duration::from_millis(n)
    }

    /// Entries come out in deadline order, none before it is due.
    #[test]
    fn due_entries_in_order_none_early() {
        let t = Instant::now();
        let mut q = Queue::default();
        let (mut a, mut b, mut c) = (None, None, None);
        q.set(&mut a, Some(ms(t, 500)), || "a");
        q.set(&mut b, Some(ms(t, 100)), || "b");
        q.set(&mut c, Some(ms(t, 32_000)), || "c");
        assert!(q.take_due(ms(t, 99)).is_empty());
        let due: Vec<_> = q.take_due(ms(t, 500)).into_iter().map(|e| e.1).collect();
        assert_eq!(due, vec!["b", "a"]);
        assert_eq!(q.sleep_until(ms(t, 500)), ms(t, 1_500)); // the idle cap before c
        assert!(q.take_due(ms(t, 31_999)).is_empty());
        let due = q.take_due(ms(t, 32_000));
        assert_eq!((due[0].0, due[0].1), (c.unwrap(), "c"));
        assert!(q.is_empty());
    }

    /// One owner has one entry: a sooner deadline replaces it, a later one keeps it,
    /// none removes it.
    #[test]
    fn one_entry_per_owner() {
        let t = Instant::now();
        let mut q = Queue::default();
        let mut k = None;
        q.set(&mut k, Some(ms(t, 32_000)), || 1);
        let first = k.unwrap();
        q.set(&mut k, Some(ms(t, 500)), || 2);
        assert_eq!(q.len(), 1, "the later entry is gone");
        assert_eq!(k.unwrap().0, ms(t, 500));
        assert_ne!(k.unwrap().1, first.1);
        q.set(&mut k, Some(ms(t, 4_000)), || 3);
        assert_eq!(k.unwrap().0, ms(t, 500), "a later deadline keeps the entry");
        assert_eq!(q.len(), 1);
        q.set(&mut k, None, || 4);
        assert!(k.is_none() && q.is_empty(), "none removes it");
        // the served entry is the owner's no longer: a later set makes a new one
        q.set(&mut k, Some(ms(t, 10)), || 5);
        let served = q.take_due(ms(t, 10));
        assert_eq!(served[0].0, k.unwrap());
        q.set(&mut k, Some(ms(t, 20)), || 6);
        assert!(
            q.is_empty(),
            "k still names the served entry, at or before 20 ms"
        );
        assert!(claim(&mut k, served[0].0)); // what the driver does once it is served
        q.set(&mut k, Some(ms(t, 20)), || 6);
        assert_eq!(q.len(), 1);
    }

    /// The driver's round: an entry taken out, the owner's deadline moving meanwhile
    /// (later: the taken entry is still the owner's; sooner: a new one replaces it), the
    /// owner served, its next deadline queued again; a forgotten owner has no entry.
    #[test]
    fn an_entry_taken_out_and_served() {
        let t = Instant::now();
        let mut q = Queue::default();
        let mut k = None;
        q.set(&mut k, Some(ms(t, 500)), || 1);
        let (key, _) = q.take_due(ms(t, 500)).pop().unwrap();
        // a later deadline while the entry is out: nothing queued, the taken one holds
        q.set(&mut k, Some(ms(t, 1_000)), || 1);
        assert!(q.is_empty());
        assert!(claim(&mut k, key), "the owner's entry");
        assert!(k.is_none());
        q.set(&mut k, Some(ms(t, 1_000)), || 1);
        assert_eq!(q.len(), 1, "queued again");
        // a sooner deadline while the entry is out replaces it: the taken one is stale
        let (key, _) = q.take_due(ms(t, 1_000)).pop().unwrap();
        let mut k2 = k;
        q.set(&mut k2, Some(ms(t, 999)), || 1);
        assert!(!q.is_empty() && k2 != Some(key));
        assert!(!claim(&mut k2, key), "stale: not served");
        assert!(k2.is_some(), "the new entry stays the owner's");
        // forgotten: no entry, the old key claims nothing
        q.set(&mut k2, None, || 1);
        assert!(q.is_empty() && !claim(&mut k2, key));
    }

    /// The thread's wait: an entry set sooner while it sleeps wakes it, and it returns
    /// the entry once due, not before.
    #[test]
    fn a_sooner_entry_wakes_the_waiting_thread() {
        let alarms = std::sync::Arc::new(Alarms::default());
        let mut far = None;
        alarms.set(
            &mut far,
            Some(Instant::now() + Duration::from_secs(30)),
            || 0,
        );
        let a = alarms.clone();
        let waiter = std::thread::spawn(move || {
            let due = a.wait(|| true);
            (Instant::now(), due)
        });
        std::thread::sleep(Duration::from_millis(50)); // the thread sleeps towards 30 s
        let at = Instant::now() + Duration::from_millis(20);
        let mut near = None;
        alarms.set(&mut near, Some(at), || 7);
        let (woke, due) = waiter.join().unwrap();
        let due = due.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].1, 7);
        assert!(woke >= at, "served early");
        // not woken, it would have slept until its idle cap (1 s after it began to wait)
        assert!(
            woke < at + Duration::from_millis(800),
            "not woken for the sooner entry"
        );
    }

    /// After a batch the next comes a grain later at the earliest: deadlines within one
    /// grain are served together.
    #[test]
    fn one_batch_per_grain() {
        let t = Instant::now();
        let mut q = Queue::default();
        for (i, at) in [10, 11, 13].into_iter().enumerate() {
            let mut k = None;
            q.set(&mut k, Some(ms(t, at)), || i);
        }
        assert_eq!(q.take_due(ms(t, 10)).len(), 1);
        assert_eq!(q.sleep_until(ms(t, 10)), ms(t, 10) + GRAIN);
        assert!(q.take_due(ms(t, 12)).is_empty(), "within the grain");
        let due = q.take_due(ms(t, 10) + GRAIN);
        assert_eq!(due.iter().map(|e| e.1).collect::<Vec<_>>(), vec![1, 2]);
    }

    /// A change wakes the sleeping thread only when its entry is due before the thread
    /// wakes.
    #[test]
    fn a_later_entry_wakes_nobody() {
        let t = Instant::now();
        let mut q = Queue::default();
        let (mut a, mut b, mut c, mut d) = (None, None, None, None);
        q.set(&mut a, Some(ms(t, 1_000)), || 1);
        q.sleep = Sleep::Until(q.sleep_until(t));
        assert_eq!(q.sleep, Sleep::Until(ms(t, 1_000)));
        assert!(!q.set(&mut b, Some(ms(t, 2_000)), || 2));
        assert!(q.set(&mut c, Some(ms(t, 500)), || 3));
        q.sleep = Sleep::Busy;
        assert!(
            !q.set(&mut d, Some(ms(t, 1)), || 4),
            "a busy thread looks again"
        );
    }

    /// 32 s of RFC 3261 timers for a thousand calls in virtual time, each call's deadline
    /// moving on as it is served (Timer A doubling from 500 ms, then Timer B), calls
    /// starting 1 ms apart: every deadline served once, never early, at most a grain late,
    /// in at most one batch per grain.
    #[test]
    fn thirty_two_seconds_of_timers() {
        let t = Instant::now();
        let mut q = Queue::default();
        // per call: its start and the deadline it waits for (ms), and its queue key
        let mut calls: HashMap<u64, (u64, u64, Option<Key>)> = HashMap::new();
        for i in 0..1_000u64 {
            let mut k = None;
            q.set(&mut k, Some(ms(t, i + 500)), || i);
            calls.insert(i, (i, 500, k));
        }
        let (mut now, mut served, mut batches, mut steps) = (t, 0, 0, 0);
        while !q.is_empty() {
            steps += 1;
            assert!(steps < 100_000, "the queue makes no progress");
            now = q.sleep_until(now);
            let due = q.take_due(now);
            if !due.is_empty() {
                batches += 1;
            }
            for (key, i) in due {
                let (start, wait, queued) = calls.get_mut(&i).unwrap();
                assert_eq!(*queued, Some(key), "one live entry per call");
                *queued = None;
                let at = ms(t, *start + *wait);
                assert!(at <= now, "served early");
                assert!(now - at <= GRAIN, "{:?} late", now - at);
                served += 1;
                // Timer A doubles until Timer B (32 s) ends the call
                let next = match *wait {
                    32_000 => None,
                    w if w * 2 >= 32_000 => Some(32_000),
                    w => Some(w * 2),
                };
                if let Some(n) = next {
                    *wait = n;
                    q.set(queued, Some(ms(t, *start + n)), || i);
                }
            }
        }
        // 500, 1000, ..., 16000 ms, then 32 s: seven deadlines per call
        assert_eq!(served, 7_000);
        // a thousand calls 1 ms apart: one batch per deadline without the grain
        let grains = (now - t).as_millis() / GRAIN.as_millis() + 1;
        assert!(
            batches as u128 <= grains,
            "{} batches in {} grains",
            batches,
            grains
        );
        assert!(
            batches < 7_000 / 2,
            "{} batches: deadlines 1 ms apart not gathered",
            batches
        );
    }
}
