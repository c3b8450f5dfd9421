//! auth-service: an OAuth 2.0 authorization server and OpenID Connect
//! provider, and a SCIM 2.0 service provider, built to be operated.
//!
//! A request flows one way: route → service → response mapping. This crate
//! is the only one that knows HTTP; protocol decisions live in the `oauth`
//! and `scim` crates, storage behind the `store` traits.

pub mod cli;
pub mod config;
pub mod jwt;
pub mod keys;
pub mod opaque;
pub mod ops;
pub mod password;
mod routes;
pub mod secret;
pub mod services;
pub mod startup;
pub mod state;
pub mod web;
