//! The authorization transaction: the parameters of an authorization
//! request, carried through the login and consent pages as a sealed string
//! instead of server-side state. It is the raw request (re-validated at each
//! step, so a client changed meanwhile is seen) and the time it started,
//! sealed (`super::sealed`), so it cannot be altered, and it expires.

use serde::{Deserialize, Serialize};

use crate::keys::MasterKey;

/// How long a user may take between `/authorize` and finishing the pages.
pub const LIFETIME_SECONDS: i64 = 15 * 60;
const PURPOSE: &str = "authorization-transaction";

#[derive(Debug, Serialize, Deserialize)]
struct Transaction {
    params: Vec<(String, String)>,
    started: i64,
}

/// Seals `params` as one opaque, URL-safe string.
pub fn seal(master: &MasterKey, params: &[(String, String)], now: i64) -> String {
    let transaction = Transaction {
        params: params.to_vec(),
        started: now,
    };
    super::sealed::seal(master, PURPOSE, &transaction)
}

/// The parameters of a sealed transaction, if it is authentic and unexpired.
pub fn open(master: &MasterKey, sealed: &str, now: i64) -> Option<Vec<(String, String)>> {
    let transaction: Transaction = super::sealed::open(master, PURPOSE, sealed)?;
    (now - transaction.started < LIFETIME_SECONDS && transaction.started <= now)
        .then_some(transaction.params)
}

/// The one parameter of a sign-in to the account page (`routes::account`)
/// instead of an authorization request. A raw request that carries it has
/// other parameters too, so it cannot pass for one.
const ACCOUNT: (&str, &str) = ("auth-service:to", "account");

/// The parameters of a sign-in to the account page, to seal.
pub fn account_params() -> Vec<(String, String)> {
    vec![(ACCOUNT.0.to_owned(), ACCOUNT.1.to_owned())]
}

/// Whether opened parameters are a sign-in to the account page.
pub fn is_account(params: &[(String, String)]) -> bool {
    matches!(params, [(name, value)] if name == ACCOUNT.0 && value == ACCOUNT.1)
}

/// The marker of a device authorization (RFC 8628 §3.3) being decided at
/// the verification page (`routes::device`) instead of an authorization
/// request; like [`ACCOUNT`], no raw request can pass for one.
const DEVICE: (&str, &str) = ("auth-service:to", "device");

/// The parameters of a device authorization's sign-in, to seal: the hash
/// of the user code the user entered, and the client (for the login
/// page's heading and the log).
pub fn device_params(user_code_hash: &str, client_id: &str) -> Vec<(String, String)> {
    vec![
        (DEVICE.0.to_owned(), DEVICE.1.to_owned()),
        ("device".to_owned(), user_code_hash.to_owned()),
        ("client_id".to_owned(), client_id.to_owned()),
    ]
}

/// The user code hash of opened parameters that are a device
/// authorization's.
pub fn device_of(params: &[(String, String)]) -> Option<&str> {
    match params {
        [(marker, to), (device, hash), (client, _)]
            if (marker.as_str(), to.as_str()) == DEVICE
                && device == "device"
                && client == "client_id" =>
        {
            Some(hash)
        }
        _ => None,
    }
}

/// The marker of a sign-in for an application behind forward
/// authentication (`routes::forward_auth`), which ends at its URL.
const FORWARD: (&str, &str) = ("auth-service:to", "forward");

/// The parameters of a forward-auth sign-in that returns to `url`.
pub fn forward_params(url: &str) -> Vec<(String, String)> {
    vec![
        (FORWARD.0.to_owned(), FORWARD.1.to_owned()),
        ("rd".to_owned(), url.to_owned()),
    ]
}

/// The URL of opened parameters that are a forward-auth sign-in's.
pub fn forward_of(params: &[(String, String)]) -> Option<&str> {
    match params {
        [(marker, to), (rd, url)] if (marker.as_str(), to.as_str()) == FORWARD && rd == "rd" => {
            Some(url)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    #[test]
    fn sealed_transactions_resist_tampering_and_expire() {
        let master = MasterKey::from_bytes(&[3; 32]).unwrap();
        let params = vec![("client_id".to_owned(), "web".to_owned())];
        let sealed = seal(&master, &params, 1_000);
        assert_eq!(open(&master, &sealed, 1_010), Some(params));
        assert_eq!(open(&master, &sealed, 1_000 + LIFETIME_SECONDS), None);
        let (body, tag) = sealed.split_once('.').unwrap();
        let forged_body =
            URL_SAFE_NO_PAD.encode(br#"{"params":[["client_id","evil"]],"started":1000}"#);
        assert_eq!(open(&master, &format!("{forged_body}.{tag}"), 1_010), None);
        assert_eq!(
            open(&MasterKey::from_bytes(&[4; 32]).unwrap(), &sealed, 1_010),
            None
        );
        assert_eq!(open(&master, body, 1_010), None);
    }

    #[test]
    fn device_transactions_are_told_apart() {
        let params = device_params("h", "tv");
        assert_eq!(device_of(&params), Some("h"));
        assert!(!is_account(&params));
        assert_eq!(device_of(&account_params()), None);
        let mut request = params.clone();
        request.push(("redirect_uri".to_owned(), "https://evil.example".to_owned()));
        assert_eq!(device_of(&request), None);
    }
}
