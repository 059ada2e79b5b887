//! G.711 encoding (ITU-T G.711): 16-bit linear PCM to µ-law (PCMU) and A-law (PCMA), the
//! classic segment algorithms. Used once per prompt at start, never per call.

/// µ-law of one 16-bit sample.
pub fn ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let mut s = sample as i32;
    // One's complement for negative samples, as the ITU-T reference (G.191) does.
    let sign = if s < 0 {
        s = -s - 1;
        0x80
    } else {
        0
    };
    s = s.min(CLIP) + BIAS;
    let exponent = (7 - (s.leading_zeros() as i32 - 17)).clamp(0, 7);
    let mantissa = (s >> (exponent + 3)) & 0x0f;
    !((sign | (exponent << 4) | mantissa) as u8)
}

/// A-law of one 16-bit sample.
pub fn alaw(sample: i16) -> u8 {
    let mut s = sample as i32;
    let sign = if s >= 0 {
        0x80
    } else {
        s = -s - 1;
        0
    };
    s = s.min(32767) >> 3;
    let (exponent, mantissa) = if s < 32 {
        (0, s >> 1)
    } else {
        let e = (31 - (s as u32).leading_zeros() as i32) - 4;
        (e, (s >> e) & 0x0f)
    };
    ((sign | (exponent << 4) | mantissa) as u8) ^ 0x55
}

/// The 16-bit sample of one µ-law code.
pub fn ulaw_decode(code: u8) -> i16 {
    let c = !code;
    let exponent = (c >> 4) & 0x07;
    let mantissa = (c & 0x0f) as i32;
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    if c & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// The 16-bit sample of one A-law code.
pub fn alaw_decode(code: u8) -> i16 {
    let c = code ^ 0x55;
    let exponent = (c >> 4) & 0x07;
    let mantissa = (c & 0x0f) as i32;
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    if c & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decoding what was encoded gives the sample back within the code's step.
    #[test]
    fn decoding_inverts_encoding() {
        for s in (-32768i32..32768).step_by(7) {
            let s = s as i16;
            for (code, back) in [
                (ulaw(s), ulaw_decode(ulaw(s))),
                (alaw(s), alaw_decode(alaw(s))),
            ] {
                let err = (s as i32 - back as i32).abs();
                let step = (s as i32).abs() / 16 + 16;
                assert!(
                    err <= step,
                    "{} → {:#x} → {} (error {})",
                    s,
                    code,
                    back,
                    err
                );
            }
        }
        assert_eq!(ulaw_decode(0xff), 0);
        assert_eq!(alaw_decode(0xd5), 8);
    }

    #[test]
    fn known_codes() {
        // silence
        assert_eq!(ulaw(0), 0xff);
        assert_eq!(alaw(0), 0xd5);
        // full scale
        assert_eq!(ulaw(i16::MAX), 0x80);
        assert_eq!(ulaw(i16::MIN), 0x00);
        assert_eq!(alaw(i16::MAX), 0xaa);
        assert_eq!(alaw(i16::MIN), 0x2a);
        // sign symmetry
        assert_eq!(ulaw(1000) & 0x7f, ulaw(-1000) & 0x7f);
        assert_ne!(ulaw(1000), ulaw(-1000));
    }

    /// Decoding our codes back (reference decoders of G.711) stays close to the input.
    #[test]
    fn round_trip_is_close() {
        fn ulaw_dec(u: u8) -> i32 {
            let u = !u;
            let t = (((u & 0x0f) as i32) << 3) + 0x84;
            let t = t << ((u & 0x70) >> 4);
            if u & 0x80 != 0 {
                0x84 - t
            } else {
                t - 0x84
            }
        }
        fn alaw_dec(a: u8) -> i32 {
            let a = a ^ 0x55;
            let mut t = ((a & 0x0f) as i32) << 4;
            let seg = ((a & 0x70) >> 4) as i32;
            match seg {
                0 => t += 8,
                1 => t += 0x108,
                _ => {
                    t += 0x108;
                    t <<= seg - 1;
                }
            }
            if a & 0x80 != 0 {
                t
            } else {
                -t
            }
        }
        for x in (-32000..32000).step_by(997) {
            let x = x as i16;
            let err_u = (ulaw_dec(ulaw(x)) - x as i32).abs();
            let err_a = (alaw_dec(alaw(x)) - x as i32).abs();
            let tol = (x as i32).abs() / 16 + 16;
            assert!(err_u <= tol, "ulaw {} -> {}", x, ulaw_dec(ulaw(x)));
            assert!(err_a <= tol, "alaw {} -> {}", x, alaw_dec(alaw(x)));
        }
    }
}
