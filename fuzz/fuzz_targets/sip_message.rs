//! Any bytes as a SIP message: parse, check, answer; glance at it and answer from the
//! glance (overload's refusal). Must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vozbox::sip::message::Message;

fuzz_target!(|data: &[u8]| {
    if let Some(g) = vozbox::sip::glance::Glance::of(data) {
        let top = g.top_via().to_string();
        let _ = vozbox::sip::reply::glanced_response(&g, &top, 503, "Service Unavailable", "t", &[]);
        let _ = vozbox::sip::validate::first_via(g.top_via());
        if let Some((sent_by, branch)) = g.sent_by_and_branch() {
            let memory = vozbox::sip::refused::Refused::new(1);
            let key = memory.key(sent_by, branch, g.method);
            memory.insert(key, 7);
            assert!(memory.contains(key, 8));
        }
    }
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
