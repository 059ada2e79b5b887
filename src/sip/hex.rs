//! Numbers in hex as SIP text carries them (branches, tags, Call-IDs, nonces), printed
//! without the formatter: they are made for every request and response.

/// Appends `v` in lower-case hex, zero-padded to at least `width` digits (1 to 16):
/// what `{:0width$x}` prints.
pub fn push_hex(out: &mut String, v: u64, width: usize) {
    let digits = (16 - v.leading_zeros() as usize / 4).max(width.clamp(1, 16));
    for i in (0..digits).rev() {
        out.push(b"0123456789abcdef"[((v >> (i * 4)) & 15) as usize] as char);
    }
}

#[cfg(test)]
mod tests {
    use super::push_hex;

    #[test]
    fn hex_prints_as_the_formatter_does() {
        for v in [
            0,
            1,
            0xf,
            0x10,
            0xabc,
            0x0fff_ffff,
            1 << 60,
            (1 << 60) - 1,
            u64::MAX,
        ] {
            for width in [1, 16] {
                let mut s = String::new();
                push_hex(&mut s, v, width);
                assert_eq!(s, format!("{:0width$x}", v, width = width));
            }
        }
    }
}
