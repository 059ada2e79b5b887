//! The single writer: one thread that takes binding changes from a bounded queue and
//! commits as many as are waiting in one durable transaction (group commit). Each change
//! carries what to do once it is on disk (send the `200 OK`), which runs on this thread
//! right after the commit: no task, channel or wake-up per registration.

use super::Store;
use crate::model::{Binding, Cdr, Mail};
use crate::stats::{Histogram, COMMIT_BUCKETS};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One durable change: a binding written or removed, or a call record appended.
pub enum Op {
    Put(Arc<Binding>),
    Delete(String),
    Cdr(Box<Cdr>),
    /// A priced call's effect on its client's account: queued in the same job as its
    /// record, so both are in one transaction (a crash never charges twice or not at all).
    Charge(Box<crate::policy::credit::Charge>),
    /// The daily-usage e-mail of a client was queued for a day (one a day).
    Notified {
        client: String,
        day: String,
    },
    /// An e-mail into the outbox (the SMTP sender takes it from there).
    Mail(Box<Mail>),
    /// The outbox's e-mail with this number was sent (or given up).
    MailSent(u64),
}

/// A commit slower than this is logged: registrations wait for it.
const SLOW_COMMIT: Duration = Duration::from_millis(100);

/// What became of a submitted change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Durable,
    /// The commit failed (the error is logged).
    Failed,
    /// The queue was full: nothing was queued (shed the request with 503).
    Busy,
}

/// Called once with the fate of the change: on the writer thread after the commit, or at
/// once in `submit` when the queue is full.
pub type Done = Box<dyn FnOnce(Written) + Send>;

struct Job {
    ops: Vec<Op>,
    done: Option<Done>,
    /// The last job: the thread ends after committing the batch that holds it.
    last: bool,
}

impl Job {
    fn new(ops: Vec<Op>, done: Option<Done>) -> Job {
        Job {
            ops,
            done,
            last: false,
        }
    }
}

#[derive(Clone)]
pub struct Writer {
    tx: SyncSender<Job>,
    pub stats: Arc<WriterStats>,
    nap: Arc<Nap>,
    /// The writer thread, joined by `stop`.
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

/// The writer's counters, read by the metrics exporter: the queue and the commits. The
/// commit side is written by the writer thread alone; submitting adds one relaxed atomic
/// addition per job (no lock).
pub struct WriterStats {
    /// The queue's capacity in jobs.
    pub capacity: usize,
    /// Jobs queued, and jobs taken by the writer: the difference is the queue's depth.
    queued: AtomicU64,
    taken: AtomicU64,
    commits: AtomicU64,
    failed: AtomicU64,
    /// Changes committed durably, and call records among them.
    ops: AtomicU64,
    cdrs: AtomicU64,
    /// How long each commit (one durable redb transaction) took.
    pub commit_seconds: Histogram,
}

impl WriterStats {
    fn new(capacity: usize) -> WriterStats {
        WriterStats {
            capacity,
            queued: AtomicU64::new(0),
            taken: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            ops: AtomicU64::new(0),
            cdrs: AtomicU64::new(0),
            commit_seconds: Histogram::new(COMMIT_BUCKETS),
        }
    }

    fn queued(&self) {
        self.queued.fetch_add(1, Ordering::Relaxed);
    }

    /// Jobs waiting for the writer (those it is committing not counted).
    pub fn depth(&self) -> u64 {
        // taken first: a job taken after this read was queued before the next one
        let taken = self.taken.load(Ordering::Relaxed);
        self.queued.load(Ordering::Relaxed).saturating_sub(taken)
    }

    /// Commits that succeeded and that failed.
    pub fn commits(&self) -> (u64, u64) {
        (
            self.commits.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }

    /// Changes made durable, and call records among them.
    pub fn written(&self) -> (u64, u64) {
        (
            self.ops.load(Ordering::Relaxed),
            self.cdrs.load(Ordering::Relaxed),
        )
    }
}

/// Most jobs committed in one transaction: bounds the latency of the first of them.
const MAX_BATCH: usize = 4096;

/// How long the writer waits for more jobs after the first of a batch when the queue runs
/// dry: a few hundred microseconds of latency buy fewer, larger commits at moderate load.
const LINGER: Duration = Duration::from_micros(500);

/// How long a batch waits once it holds a second job someone waits for: under a stream of
/// registrations a commit's fixed cost (its `fdatasync`, about 0.2 ms of CPU here) is
/// shared by more of them. At 8,000–12,000 registrations a second, 10 ms instead of
/// 0.5 ms took about 0.8× the CPU per registration, 20 ms little more
/// (docs/performance.md); a lone REGISTER still waits only `LINGER`.
const BUSY_LINGER: Duration = Duration::from_millis(10);

/// How long a batch of call records alone waits for more: nobody waits for a CDR's
/// commit, so at thousands of calls per second a few dozen commits a second do.
const CDR_LINGER: Duration = Duration::from_millis(20);

/// Whether someone waits for this job's commit at once (a registration's 200 OK). A call
/// record keeps its longer batching even when a BYE's 200 waits for it.
fn urgent(j: &Job) -> bool {
    urgent_ops(&j.ops)
}

fn urgent_ops(ops: &[Op]) -> bool {
    ops.iter().any(|o| matches!(o, Op::Put(_) | Op::Delete(_)))
}

/// How long after its first job a batch closes, by the jobs in it that someone waits for:
/// none, `CDR_LINGER`; one, `LINGER`; two or more, `BUSY_LINGER` (a stream of
/// registrations to share the commit with; call records do not make one). A batch with
/// the last job (shutdown) waits only `LINGER`.
fn linger(urgent: usize, last: bool) -> Duration {
    match (urgent, last) {
        (_, true) => LINGER,
        (0, _) => CDR_LINGER,
        (1, _) => LINGER,
        _ => BUSY_LINGER,
    }
}

/// How a job somebody waits for cuts short a batch of call records' wait: the writer,
/// napping through such a batch, raises `napping`, and whoever queues a registration then
/// wakes it (one `unpark` a nap at most, and none while the writer waits for a batch that
/// already holds registrations: the stream shares the commit).
#[derive(Default)]
struct Nap {
    napping: AtomicBool,
    writer: OnceLock<std::thread::Thread>,
}

impl Nap {
    /// Wakes the writer if it naps through a batch of call records; true if it did.
    fn wake(&self) -> bool {
        // read first: under a stream of registrations the flag is down and stays unwritten
        if !self.napping.load(Ordering::SeqCst) || !self.napping.swap(false, Ordering::SeqCst) {
            return false;
        }
        if let Some(t) = self.writer.get() {
            t.unpark();
        }
        true
    }
}

/// Takes what else is queued into `batch`, lingering (see `linger`) for more. The writer
/// sleeps through the linger instead of waiting on the channel, so that the receive
/// threads queueing jobs meanwhile do not wake it for each of them (one futex wake and
/// two context switches a job, under load); a batch of call records alone sleeps until
/// its end or until a registration's job wakes it (`Nap`), not in short naps (a timer
/// armed per nap costs a virtual machine several microseconds).
fn collect(rx: &Receiver<Job>, batch: &mut Vec<Job>, nap: &Nap) {
    let start = Instant::now();
    let mut waited_for = batch.iter().filter(|j| urgent(j)).count();
    let mut last = batch.iter().any(|j| j.last);
    let take = |batch: &mut Vec<Job>, waited_for: &mut usize, last: &mut bool| {
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => {
                    *waited_for += usize::from(urgent(&j));
                    *last |= j.last;
                    batch.push(j);
                }
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return false,
            }
        }
        true
    };
    loop {
        if !take(batch, &mut waited_for, &mut last) {
            return;
        }
        let deadline = start + linger(waited_for, last);
        let now = Instant::now();
        if batch.len() >= MAX_BATCH || now >= deadline {
            return;
        }
        if waited_for > 0 {
            std::thread::sleep(deadline - now);
            continue;
        }
        // Nobody waits for this batch yet: nap until its end, raising the flag first so
        // that a job queued after the look below wakes the nap.
        nap.napping.store(true, Ordering::SeqCst);
        let before = batch.len();
        let open = take(batch, &mut waited_for, &mut last);
        if open && batch.len() == before {
            std::thread::park_timeout(deadline - now);
        }
        nap.napping.store(false, Ordering::SeqCst);
        if !open {
            return;
        }
    }
}

impl Writer {
    pub fn start(store: Arc<Store>, queue: usize) -> std::io::Result<Writer> {
        let (tx, rx) = sync_channel::<Job>(queue);
        let stats = Arc::new(WriterStats::new(queue));
        let counts = stats.clone();
        let nap = Arc::new(Nap::default());
        let naps = nap.clone();
        let thread = std::thread::Builder::new()
            .name("vozbox-store".into())
            .spawn(move || {
                let _ = naps.writer.set(std::thread::current());
                let mut batch: Vec<Job> = Vec::with_capacity(256);
                while let Ok(first) = rx.recv() {
                    batch.push(first);
                    collect(&rx, &mut batch, &naps);
                    counts
                        .taken
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    let last = batch.iter().any(|j| j.last);
                    let ops: Vec<Op> = batch.iter_mut().flat_map(|j| j.ops.drain(..)).collect();
                    let started = Instant::now();
                    let result = store.write_ops(&ops);
                    let took = started.elapsed();
                    counts.commit_seconds.observe(took);
                    if took > SLOW_COMMIT {
                        tracing::warn!(
                            "store: committing {} changes took {} ms",
                            ops.len(),
                            took.as_millis()
                        );
                    }
                    let ok = match result {
                        Ok(()) => {
                            let cdrs = ops.iter().filter(|o| matches!(o, Op::Cdr(_))).count();
                            counts.commits.fetch_add(1, Ordering::Relaxed);
                            counts.ops.fetch_add(ops.len() as u64, Ordering::Relaxed);
                            counts.cdrs.fetch_add(cdrs as u64, Ordering::Relaxed);
                            Written::Durable
                        }
                        Err(e) => {
                            counts.failed.fetch_add(1, Ordering::Relaxed);
                            tracing::error!("store: writing {} changes failed: {}", ops.len(), e);
                            Written::Failed
                        }
                    };
                    for j in batch.drain(..) {
                        if let Some(d) = j.done {
                            d(ok);
                        }
                    }
                    if last {
                        return;
                    }
                }
            })?;
        Ok(Writer {
            tx,
            stats,
            nap,
            thread: Arc::new(Mutex::new(Some(thread))),
        })
    }

    /// Commits everything queued so far, then ends the writer thread and waits for it
    /// (blocking: call it from a thread that may wait). Changes queued later are not
    /// written (their completion never runs; `try_queue` and `submit_wait` log them as
    /// lost). False when the thread had already ended or panicked.
    pub fn stop(&self) -> bool {
        let job = Job {
            ops: Vec::new(),
            done: None,
            last: true,
        };
        let sent = self.tx.send(job).is_ok();
        self.nap.wake();
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        match thread {
            Some(t) => t.join().is_ok() && sent,
            None => false,
        }
    }

    /// A job was queued: counted, and the writer woken if it naps through a batch of call
    /// records while this one has somebody waiting.
    fn queued(&self, wake: bool) {
        self.stats.queued();
        if wake {
            self.nap.wake();
        }
    }

    /// Queues changes whose completion must follow them; when the queue is full nothing is
    /// queued and `done` comes back to the caller (which can undo, then answer 503).
    pub fn try_submit(&self, ops: Vec<Op>, done: Done) -> Result<(), Done> {
        let wake = urgent_ops(&ops);
        match self.tx.try_send(Job::new(ops, Some(done))) {
            Ok(()) => {
                self.queued(wake);
                Ok(())
            }
            Err(TrySendError::Full(job)) | Err(TrySendError::Disconnected(job)) => {
                Err(job.done.unwrap_or_else(|| Box::new(|_| {})))
            }
        }
    }

    /// Queues changes that must not be dropped (call records) without blocking, with what
    /// to run once they are durable: when the queue is full both come back, for the caller
    /// to queue from a thread that may wait (`submit_wait`).
    #[allow(clippy::type_complexity)]
    pub fn try_queue(
        &self,
        ops: Vec<Op>,
        done: Option<Done>,
    ) -> Result<(), (Vec<Op>, Option<Done>)> {
        let wake = urgent_ops(&ops);
        match self.tx.try_send(Job::new(ops, done)) {
            Ok(()) => {
                self.queued(wake);
                Ok(())
            }
            Err(TrySendError::Full(job)) => Err((job.ops, job.done)),
            Err(TrySendError::Disconnected(job)) => {
                tracing::error!("store: the writer has stopped; a change is lost");
                if let Some(d) = job.done {
                    d(Written::Failed);
                }
                Ok(())
            }
        }
    }

    /// Queues changes, waiting for room in the queue when it is full.
    pub fn submit_wait(&self, ops: Vec<Op>, done: Option<Done>) {
        // Counted before: the writer may take the job before `send` returns.
        self.stats.queued();
        let wake = urgent_ops(&ops);
        if let Err(e) = self.tx.send(Job::new(ops, done)) {
            if let Some(d) = e.0.done {
                d(Written::Failed);
            }
            tracing::error!("store: the writer has stopped; a change is lost");
        } else if wake {
            self.nap.wake();
        }
    }

    /// Queues changes; `done` learns what became of them.
    pub fn submit(&self, ops: Vec<Op>, done: Option<Done>) {
        let wake = urgent_ops(&ops);
        match self.tx.try_send(Job::new(ops, done)) {
            Ok(()) => self.queued(wake),
            Err(TrySendError::Full(job)) | Err(TrySendError::Disconnected(job)) => {
                if let Some(d) = job.done {
                    d(Written::Busy);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job someone waits for (a binding removed) or not (an outbox line).
    fn job(urgent: bool) -> Job {
        let op = if urgent {
            Op::Delete("aor\ncontact".into())
        } else {
            Op::MailSent(1)
        };
        Job::new(vec![op], None)
    }

    fn collected(first: Job, rx: &Receiver<Job>) -> (Vec<Job>, Duration) {
        let t0 = Instant::now();
        let mut batch = vec![first];
        collect(rx, &mut batch, &Nap::default());
        (batch, t0.elapsed())
    }

    #[test]
    fn what_is_queued_goes_in_one_batch_of_at_most_max_batch() {
        let (tx, rx) = sync_channel::<Job>(2 * MAX_BATCH);
        for i in 0..MAX_BATCH + 10 {
            tx.send(job(i % 2 == 0)).unwrap();
        }
        let (batch, _) = collected(job(true), &rx);
        assert_eq!(batch.len(), MAX_BATCH);
        let (batch, _) = collected(job(true), &rx);
        assert_eq!(batch.len(), 12);
    }

    #[test]
    fn a_batch_lingers_longer_when_nobody_waits_for_it() {
        let (tx, rx) = sync_channel::<Job>(16);
        let (batch, took) = collected(job(false), &rx);
        assert_eq!(batch.len(), 1);
        assert!(took >= CDR_LINGER, "{:?}", took);
        let (batch, took) = collected(job(true), &rx);
        assert_eq!(batch.len(), 1);
        assert!(took >= LINGER, "{:?}", took);
        // an urgent job queued before joins the records' batch (the batch, one job waited
        // for, then closes LINGER after its start)
        tx.send(job(true)).unwrap();
        let (batch, _) = collected(job(false), &rx);
        assert_eq!(batch.len(), 2);
        drop(tx);
    }

    #[test]
    fn a_second_urgent_job_stretches_the_wait_to_share_the_commit() {
        assert_eq!(linger(0, false), CDR_LINGER);
        assert_eq!(linger(1, false), LINGER);
        assert_eq!(linger(2, false), BUSY_LINGER);
        assert_eq!(linger(40, false), BUSY_LINGER);
        // the shutdown's last job does not wait for a stream
        assert_eq!(linger(40, true), LINGER);
        assert_eq!(linger(0, true), LINGER);
        let (tx, rx) = sync_channel::<Job>(16);
        tx.send(job(true)).unwrap();
        let (batch, took) = collected(job(true), &rx);
        assert_eq!(batch.len(), 2);
        assert!(took >= BUSY_LINGER, "{:?}", took);
        drop(tx);
    }

    #[test]
    fn the_last_job_and_a_gone_sender_end_the_wait() {
        let (tx, rx) = sync_channel::<Job>(16);
        let mut last = job(false);
        last.last = true;
        let (batch, took) = collected(last, &rx);
        assert_eq!(batch.len(), 1);
        assert!(took >= LINGER, "{:?}", took);
        tx.send(job(false)).unwrap();
        drop(tx);
        // the queued job is taken; then the channel is found closed
        let (batch, _) = collected(job(false), &rx);
        assert_eq!(batch.len(), 2);
    }

    #[test]
    fn a_registration_wakes_a_batch_of_records_and_joins_it() {
        let (tx, rx) = sync_channel::<Job>(16);
        let nap = Arc::new(Nap::default());
        // nobody naps: nothing to wake
        assert!(!nap.wake());
        let _ = nap.writer.set(std::thread::current());
        let waker = {
            let (nap, tx) = (nap.clone(), tx.clone());
            std::thread::spawn(move || {
                while !nap.napping.load(Ordering::SeqCst) {
                    std::thread::yield_now();
                }
                tx.send(job(true)).unwrap();
                nap.wake();
            })
        };
        let t0 = Instant::now();
        let mut batch = vec![job(false)];
        collect(&rx, &mut batch, &nap);
        let took = t0.elapsed();
        waker.join().unwrap();
        assert_eq!(batch.len(), 2);
        // woken (or the job found by the look after the flag went up), the batch (one job
        // waited for) closes LINGER after its start, not at the records' CDR_LINGER
        assert!(took < CDR_LINGER, "{:?}", took);
        assert!(!nap.napping.load(Ordering::SeqCst));
        drop(tx);
    }
}
