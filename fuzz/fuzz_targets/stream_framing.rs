//! Any byte stream cut into messages by the TCP framer, in chunks of any size.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vozbox::sip::framing::{Frame, Framer};

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, rest)) = data.split_first() else { return };
    let mut f = Framer::new(4096);
    for piece in rest.chunks(chunk.max(1) as usize) {
        f.push(piece);
        loop {
            match f.next_frame() {
                Frame::Incomplete => break,
                Frame::Ping => {}
                Frame::Message(m) => {
                    let _ = vozbox::sip::message::Message::parse(&m);
                }
                Frame::Fatal { .. } => return,
            }
        }
    }
});
