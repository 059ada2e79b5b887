//! Any bytes as a stored binding: decoding never panics, and a binary value that decodes
//! is written back byte for byte (the encoding is canonical: one way to write a binding).
#![no_main]
use libfuzzer_sys::fuzz_target;
use vozbox::store::binding_value::{decode, encode};

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = decode(data) {
        if data.first() != Some(&b'{') {
            assert_eq!(encode(&b), data);
        }
    }
});
