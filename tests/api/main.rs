//! The HTTP API's tests: one binary, each test on its own server and
//! database, on both backends.

#[allow(dead_code, reason = "each test module uses a different part of the helpers")]
mod helpers;

mod agents;
mod attributions;
mod auth;
mod backup;
mod bulk_import;
mod card_cache;
mod claimreview;
mod claims;
mod claims_list;
mod cli;
mod cluster;
mod concurrency;
mod contract;
mod findability;
mod hostile;
mod instances;
mod limits;
mod openapi;
mod operations;
mod provenance;
mod relevance;
mod resilience;
mod reviews;
mod revisions;
mod search;
mod seeds;
mod seeds_fidelity;
mod sources;
mod spec_truth;
mod transfer;
mod write_path;
