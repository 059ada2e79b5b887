//! An RTP stream vozbox sends itself (a prompt, a beep, voicemail's prompts): its own
//! SSRC, a sequence and a timestamp that go on from packet to packet (RFC 3550), 20 ms G.711
//! frames.

use super::prompts::FRAME;

/// A packet of one frame: the 12-byte header and 160 bytes of G.711.
pub type Packet = [u8; 12 + FRAME];

pub struct Stream {
    pt: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
}

impl Stream {
    /// A new stream in payload type `pt` (random SSRC, sequence and timestamp).
    pub fn new(pt: u8) -> Stream {
        Stream {
            pt,
            seq: rand::random(),
            ts: rand::random(),
            ssrc: rand::random(),
        }
    }

    /// The packet of the next frame (`first`: the marker of a talkspurt's start).
    pub fn packet(&mut self, frame: &[u8; FRAME], first: bool) -> Packet {
        let mut pkt = [0u8; 12 + FRAME];
        pkt[0] = 0x80;
        pkt[1] = self.pt | if first { 0x80 } else { 0 };
        pkt[2..4].copy_from_slice(&self.seq.to_be_bytes());
        pkt[4..8].copy_from_slice(&self.ts.to_be_bytes());
        pkt[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        pkt[12..].copy_from_slice(frame);
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(FRAME as u32);
        pkt
    }

    /// A pause of `frames` frames the receiver should hear as silence passed.
    pub fn skip(&mut self, frames: u32) {
        self.ts = self.ts.wrapping_add(frames * FRAME as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_and_timestamp_go_on() {
        let mut s = Stream::new(8);
        let a = s.packet(&[0xd5; FRAME], true);
        let b = s.packet(&[0xd5; FRAME], false);
        assert_eq!((a[1], b[1]), (0x88, 8));
        let seq = |p: &Packet| u16::from_be_bytes([p[2], p[3]]);
        let ts = |p: &Packet| u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
        assert_eq!(seq(&b), seq(&a).wrapping_add(1));
        assert_eq!(ts(&b), ts(&a).wrapping_add(160));
        assert_eq!(a[8..12], b[8..12]);
    }
}
