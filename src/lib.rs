//! hookplan: declarative plan files for webhook operations.
//!
//! Data flows one way: plan text → typed model → validated DAG → engine → step runners →
//! events → sinks.

pub mod alerting;
pub mod atomic_write;
pub mod cli;
pub mod clock;
pub mod engine;
pub mod exec;
pub mod graph;
pub mod http_client;
pub mod io_error;
pub mod migration;
pub mod model;
pub mod mqtt;
pub mod observe;
pub mod plan;
pub mod random;
pub mod registry;
pub mod report;
pub mod retry;
pub mod run_link;
pub mod sandbox;
pub mod signature;
pub mod steps;
pub mod store;
