//! Values the browser carries for us between pages, sealed: JSON, base64url,
//! and an HMAC under a key derived from the master key for one purpose, so
//! they cannot be altered or moved to another purpose. They are not
//! encrypted: nothing secret goes in (`transaction`, `pending`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::keys::MasterKey;

/// `value` as one opaque, URL-safe string for `purpose`.
pub fn seal(master: &MasterKey, purpose: &str, value: &impl Serialize) -> String {
    let json = serde_json::to_vec(value).unwrap_or_default();
    let body = URL_SAFE_NO_PAD.encode(&json);
    let tag = master.mac(purpose, body.as_bytes());
    format!("{body}.{tag}")
}

/// The value sealed for `purpose`, if `sealed` is authentic.
pub fn open<T: DeserializeOwned>(master: &MasterKey, purpose: &str, sealed: &str) -> Option<T> {
    let (body, tag) = sealed.split_once('.')?;
    if !master.verify_mac(purpose, body.as_bytes(), tag) {
        return None;
    }
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()
}
