//! Stopping the server as a service manager does: a signal, then its exit status.

use super::Vozbox;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

impl Vozbox {
    /// Sends SIGTERM (what `systemctl stop` sends) to the running server.
    pub fn terminate(&self) {
        self.signal("TERM");
    }

    /// Sends the signal `name` ("TERM", "INT", "HUP" …) with kill(1).
    pub fn signal(&self, name: &str) {
        let pid = self.child.as_ref().expect("vozbox is running").id();
        let st = Command::new("kill")
            .arg(format!("-{}", name))
            .arg(pid.to_string())
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -{} {}", name, pid);
    }

    /// Waits at most `timeout` for the server to exit: its exit status, or None while it
    /// still runs (it is killed when the `Vozbox` is dropped).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let c = self.child.as_mut()?;
            if let Ok(Some(st)) = c.try_wait() {
                self.child = None;
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits at most `timeout` for `needle` in the server's log (stderr).
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no {:?} in the log:\n{}",
                needle,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
