//! Records for the services' unit tests.

/// An active user without a password.
pub fn user(id: &str, user_name: &str) -> store::UserRecord {
    store::UserRecord {
        id: id.into(),
        user_name: user_name.into(),
        external_id: None,
        active: true,
        password_hash: None,
        attributes: serde_json::json!({}),
        version: 1,
        created_at: 0,
        updated_at: 0,
    }
}

/// A TOTP factor never used, whose sealed seed is a placeholder.
pub fn totp_factor(user_id: &str, id: &str) -> store::Factor {
    store::Factor {
        id: id.into(),
        user_id: user_id.into(),
        kind: store::FactorKind::Totp,
        name: "phone".into(),
        sealed_secret: Some("sealed".into()),
        data: serde_json::json!({}),
        counter: 0,
        created_at: 0,
        last_used_at: None,
    }
}
