//! The redirect-URI rules: a registered URI (first line) parsed, and any
//! requested URI (second line) matched against it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (registered, requested) = text.split_once('\n').unwrap_or((text, text));
    if let Ok(uri) = oauth::RedirectUri::parse(registered) {
        let _ = uri.matches(requested);
    }
    let _ = oauth::RedirectUri::parse(requested);
});
