//! The voice notifications and locutions built into the binary: every WAV of `sounds/`
//! (English and Spanish, 8 kHz mono 16-bit), so that a `vozbox` installed on its own, or run
//! from any directory, plays the same as one run from the repository. A `[media] sounds`
//! folder, when present, overrides them file by file (`prompts.rs`). A WAV added to
//! `sounds/` is built in by a line here.

/// (language, name, WAV bytes).
pub const SOUNDS: &[(&str, &str, &[u8])] = &[
    ("en", "busy", include_bytes!("../../sounds/en/busy.wav")),
    (
        "en",
        "cannot_be_billed",
        include_bytes!("../../sounds/en/cannot_be_billed.wav"),
    ),
    ("en", "failed", include_bytes!("../../sounds/en/failed.wav")),
    (
        "en",
        "ip_not_allowed",
        include_bytes!("../../sounds/en/ip_not_allowed.wav"),
    ),
    (
        "en",
        "max_calls",
        include_bytes!("../../sounds/en/max_calls.wav"),
    ),
    (
        "en",
        "no_credit",
        include_bytes!("../../sounds/en/no_credit.wav"),
    ),
    (
        "en",
        "not_allowed",
        include_bytes!("../../sounds/en/not_allowed.wav"),
    ),
    (
        "en",
        "not_available",
        include_bytes!("../../sounds/en/not_available.wav"),
    ),
    (
        "en",
        "not_in_service",
        include_bytes!("../../sounds/en/not_in_service.wav"),
    ),
    (
        "en",
        "welcome",
        include_bytes!("../../sounds/en/welcome.wav"),
    ),
    (
        "en",
        "forward_on",
        include_bytes!("../../sounds/en/forward_on.wav"),
    ),
    (
        "en",
        "forward_off",
        include_bytes!("../../sounds/en/forward_off.wav"),
    ),
    ("es", "busy", include_bytes!("../../sounds/es/busy.wav")),
    (
        "es",
        "cannot_be_billed",
        include_bytes!("../../sounds/es/cannot_be_billed.wav"),
    ),
    ("es", "failed", include_bytes!("../../sounds/es/failed.wav")),
    (
        "es",
        "ip_not_allowed",
        include_bytes!("../../sounds/es/ip_not_allowed.wav"),
    ),
    (
        "es",
        "max_calls",
        include_bytes!("../../sounds/es/max_calls.wav"),
    ),
    (
        "es",
        "no_credit",
        include_bytes!("../../sounds/es/no_credit.wav"),
    ),
    (
        "es",
        "not_allowed",
        include_bytes!("../../sounds/es/not_allowed.wav"),
    ),
    (
        "es",
        "not_available",
        include_bytes!("../../sounds/es/not_available.wav"),
    ),
    (
        "es",
        "not_in_service",
        include_bytes!("../../sounds/es/not_in_service.wav"),
    ),
    (
        "es",
        "welcome",
        include_bytes!("../../sounds/es/welcome.wav"),
    ),
    (
        "es",
        "forward_on",
        include_bytes!("../../sounds/es/forward_on.wav"),
    ),
    (
        "es",
        "forward_off",
        include_bytes!("../../sounds/es/forward_off.wav"),
    ),
];
