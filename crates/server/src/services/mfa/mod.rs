//! Multi-factor sign-in (issue 14). So far: TOTP generators ([`totp`]) on
//! the store's factors (`store::FactorStore`). Passkeys, recovery codes,
//! the policy, step-up and the account page build on these.

pub mod totp;
