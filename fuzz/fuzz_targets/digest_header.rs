//! Any text as an Authorization header.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vozbox::auth::digest::{Algorithm, Credentials};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(c) = Credentials::parse(s) {
            let _ = c.nonce_count();
            let _ = c.expected(Algorithm::Md5, "0123456789abcdef0123456789abcdef", "REGISTER");
        }
    }
});
