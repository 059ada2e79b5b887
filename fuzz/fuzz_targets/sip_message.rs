//! Any bytes as a SIP message: parse, check, answer. Must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vozbox::sip::message::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = Message::parse(data) {
        if let Ok(checked) = vozbox::sip::validate::check_request(&msg) {
            let _ = checked.to.uri();
            let _ = checked.from.tag();
        }
        let r = vozbox::sip::reply::response(&msg, 400, "Bad Request", "t");
        let _ = r.to_bytes();
        for c in msg.list("Contact") {
            if let Ok(na) = vozbox::sip::headers::NameAddr::parse(&c) {
                let _ = na.uri();
            }
        }
    }
});
