//! claimtrail: factual claims linked to the sources that state them, and the
//! trail back to where each claim comes from.

pub mod agents;
pub mod attributions;
pub mod auth;
pub mod backup;
pub mod card;
pub mod claims;
pub mod cli;
pub mod config;
pub mod cursor;
pub mod db;
pub mod error;
pub mod exit;
pub mod generate;
pub mod health;
pub mod http;
pub mod idempotency;
pub mod ids;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod names;
pub mod observability;
pub mod openapi;
pub mod progress;
pub mod provenance;
pub mod quotes;
pub mod reviews;
pub mod revisions;
pub mod search;
pub mod security_headers;
pub mod seed;
pub mod sources;
pub mod startup;
pub mod stems;
pub mod transfer;
pub mod validate;

pub use config::Settings;
pub use startup::Application;
