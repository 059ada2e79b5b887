//! Any bytes as an SDP body: rewritten for the relay, answered for a voice prompt, filtered
//! by allowed codecs; and as a multipart body whose SDP part is looked for. Must never
//! panic; a rewritten body must parse again; an SDP part found lies inside the body.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vozbox::b2bua::codecs;
use vozbox::media::multipart::{self, Found};
use vozbox::media::sdp;

fuzz_target!(|data: &[u8]| {
    let relay = "192.0.2.10:40000".parse().unwrap();
    if let Ok((_, out)) = sdp::rewrite(data, relay) {
        // What vozbox sends on must be SDP it can read itself.
        assert!(sdp::rewrite(&out, relay).is_ok(), "a rewritten body does not parse");
    }
    let _ = sdp::prompt_answer(data, relay);
    let _ = codecs::filter(data, &["PCMU".to_string(), "telephone-event".to_string()]);
    let _ = codecs::filter(data, &[]);
    for ctype in ["multipart/mixed;boundary=b", "multipart/mixed; boundary=\"--\""] {
        if let Ok(Found::Sdp(part)) = multipart::sdp_part(ctype, data) {
            let (start, end) = (data.as_ptr() as usize, data.as_ptr() as usize + data.len());
            let at = part.as_ptr() as usize;
            assert!(at >= start && at + part.len() <= end);
        }
    }
});
