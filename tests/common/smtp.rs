//! A real SMTP server for the e-mail tests: PyPI's aiosmtpd, printing what it receives.

use super::*;

/// A real SMTP server printing every message it receives.
pub struct Sink {
    child: Child,
    out: std::path::PathBuf,
    pub port: u16,
}

impl Sink {
    pub fn start() -> Sink {
        Sink::start_on(free_port("127.0.0.1"))
    }

    /// The same on a chosen port (one vozbox was told of before it was up).
    pub fn start_on(port: u16) -> Sink {
        let out = temp_dir("smtp").join("messages.txt");
        let child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "aiosmtpd",
                "-n",
                "-c",
                "aiosmtpd.handlers.Debugging",
            ])
            .args(["-l", &format!("127.0.0.1:{}", port)])
            .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd (pip install aiosmtpd)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Sink { child, out, port }
    }

    pub fn received(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Messages received whole: aiosmtpd prints a message's start marker before its lines,
    /// so a message being received is not counted until its end marker.
    pub fn count(&self) -> usize {
        self.received().matches("END MESSAGE").count()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
