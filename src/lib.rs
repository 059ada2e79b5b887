//! vozbox: a SIP PBX for small operators in one binary. See docs/architecture.md.

pub mod api;
pub mod app;
pub mod auth;
pub mod b2bua;
pub mod config;
pub mod dns;
pub mod files;
pub mod mail;
pub mod media;
pub mod metrics;
pub mod model;
pub mod models;
pub mod policy;
pub mod portal;
pub mod provision;
pub mod recording;
pub mod registrar;
pub mod report;
pub mod routing;
pub mod server;
pub mod shutdown;
pub mod sip;
pub mod stats;
pub mod store;
pub mod voicemail;
