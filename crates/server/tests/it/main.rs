//! The integration tests of auth-service: one binary, a module per surface.
//! Most tests run the real `auth-service` binary as a child process on a
//! free loopback port (so signals, exit codes and log lines are the real
//! ones); `helpers` starts it and reads its output.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod abuse;
mod audit;
mod backchannel;
mod backup;
mod browser;
mod cli;
mod client_documents;
mod cluster;
mod device;
mod doctor;
mod dpop;
mod forward_auth;
mod health;
mod helpers;
mod hostile;
mod integrations;
mod k8s_sentinel;
mod logs;
mod mcp;
mod metrics;
mod mfa;
mod oauth;
mod oidc;
mod openapi;
mod ops_kit;
mod par;
mod passkey;
mod production;
mod redis_cluster;
mod redis_faults;
mod redis_tls;
mod registration;
mod relying_party;
mod relying_party_apache;
mod resources;
mod runbook;
mod scim;
mod sentinel;
mod shutdown;
mod sign_in;
mod soft_authenticator;
mod startup;
mod token_checks;
mod token_exchange;
