//! Any text as a provisioning file: errors with places, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = vozbox::provision::parse(s);
    }
});
