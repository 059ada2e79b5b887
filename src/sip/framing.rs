//! Cuts SIP messages out of a byte stream (TCP, TLS): header block up to the empty line
//! (CRLF or bare LF), then `Content-Length` bytes. The buffer is capped: a head or body
//! larger than the limit ends the connection with `513`, never a growing buffer.

pub enum Frame {
    Incomplete,
    /// A CRLFCRLF keep-alive (RFC 5626 §3.5.1).
    Ping,
    Message(Vec<u8>),
    /// The stream cannot be cut any more: close it. `head` is the header block of the
    /// message that could not be framed, so that it can still get its `400`.
    Fatal {
        why: String,
        head: Option<Vec<u8>>,
    },
}

pub struct Framer {
    buf: Vec<u8>,
    max: usize,
}

impl Framer {
    pub fn new(max: usize) -> Framer {
        Framer {
            buf: Vec::with_capacity(4096),
            max,
        }
    }

    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    pub fn next_frame(&mut self) -> Frame {
        // Leading line ends between messages: a CRLFCRLF is a ping, lone ones are skipped.
        let lead = self
            .buf
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        if lead > 0 {
            let ping = self.buf[..lead].windows(4).any(|w| w == b"\r\n\r\n");
            self.buf.drain(..lead);
            if ping {
                return Frame::Ping;
            }
        }
        if self.buf.is_empty() {
            return Frame::Incomplete;
        }
        let Some(head_end) = super::message::header_end(&self.buf) else {
            if self.buf.len() > self.max {
                return Frame::Fatal {
                    why: format!("header block over {} bytes", self.max),
                    head: None,
                };
            }
            return Frame::Incomplete;
        };
        let cl = match content_length(&self.buf[..head_end]) {
            Ok(n) => n,
            Err(why) => {
                return Frame::Fatal {
                    why,
                    head: Some(self.buf[..head_end].to_vec()),
                }
            }
        };
        if cl > self.max || head_end + cl > self.max {
            return Frame::Fatal {
                why: format!("message over {} bytes", self.max),
                head: None,
            };
        }
        if self.buf.len() < head_end + cl {
            return Frame::Incomplete;
        }
        let msg: Vec<u8> = self.buf.drain(..head_end + cl).collect();
        if self.buf.capacity() > 64 * 1024 && self.buf.len() < 4096 {
            self.buf.shrink_to(4096);
        }
        Frame::Message(msg)
    }
}

/// The Content-Length of a header block (0 when absent); an unreadable one cannot be framed.
fn content_length(head: &[u8]) -> Result<usize, String> {
    let text = String::from_utf8_lossy(head);
    let mut found: Option<usize> = None;
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l") {
            let n = value
                .trim()
                .parse::<usize>()
                .map_err(|_| "unreadable Content-Length on a stream".to_string())?;
            if found.is_some_and(|f| f != n) {
                return Err("conflicting Content-Length headers on a stream".into());
            }
            found = Some(n);
        }
    }
    Ok(found.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_two_messages_and_a_ping() {
        let mut f = Framer::new(4096);
        f.push(b"OPTIONS sip:a SIP/2.0\r\nl: 3\r\n\r\nabc\r\n\r\nOPTIONS sip:b SIP/2.0\r\n\n");
        assert!(matches!(f.next_frame(), Frame::Message(m) if m.ends_with(b"abc")));
        assert!(matches!(f.next_frame(), Frame::Ping));
        assert!(matches!(f.next_frame(), Frame::Message(m) if m.starts_with(b"OPTIONS sip:b")));
        assert!(matches!(f.next_frame(), Frame::Incomplete));
    }

    #[test]
    fn a_huge_content_length_is_refused_not_overflowed() {
        let mut f = Framer::new(4096);
        f.push(b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 18446744073709551615\r\n\r\n");
        assert!(matches!(f.next_frame(), Frame::Fatal { .. }));
    }

    #[test]
    fn caps_the_buffer() {
        let mut f = Framer::new(100);
        f.push(&[b'a'; 200]);
        assert!(matches!(f.next_frame(), Frame::Fatal { .. }));
    }
}
