//! An MCP client against this server, with the OAuth client of the
//! official MCP Python SDK (scripts/mcp_flow.py): refused by the SCIM API,
//! it follows `resource_metadata` (RFC 9728) to this authorization server
//! (RFC 8414), registers itself (RFC 7591), signs a user in with PKCE and
//! `resource` (RFC 8707), and lists SCIM users with the token, which
//! userinfo, another resource, refuses.

use crate::helpers::TestApp;
use crate::oidc::PASSWORD;

#[tokio::test]
async fn an_mcp_client_discovers_registers_and_calls_scim() {
    let python = crate::ops_kit::python();
    let app = TestApp::start(&[
        ("AUTH_ISSUER", "self"),
        ("AUTH_REGISTRATION", "open"),
        // What an operator who lets agents provision opts into: the SCIM
        // scopes are not in the default policy.
        ("AUTH_REGISTRATION_SCOPES", "openid scim:read scim:write"),
    ])
    .await;
    app.run(
        &[
            "user",
            "create",
            "--username",
            "bjensen",
            "--password-stdin",
            "--email",
            "bjensen@example.com",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    let script = format!("{}/../../scripts/mcp_flow.py", env!("CARGO_MANIFEST_DIR"));
    let base = app.server.base.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&python)
            .args([script.as_str(), base.as_str(), "bjensen", PASSWORD])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the MCP flow failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The steps, in the order the MCP authorization spec gives them.
    let steps = [
        "< 401",
        "> GET http",
        "/.well-known/oauth-protected-resource/scim/v2",
        "/.well-known/oauth-authorization-server",
        "> POST",
        "/register\n< 201",
        "/authorize?",
        "/token\n< 200",
        "/scim/v2/Users\n< 200",
        "SCIM Users: ['bjensen']",
        "/userinfo\n< 401",
        "MCP flow: ok",
    ];
    let mut rest = stdout.as_ref();
    for step in steps {
        let at = rest
            .find(step)
            .unwrap_or_else(|| panic!("{step:?} missing or out of order in:\n{stdout}"));
        rest = &rest[at..];
    }
    let registered = app.server.security_event("client_registered").await;
    assert_eq!(registered["public"], true);
}
