//! The HTTP API's tests: one binary, each test on its own server and
//! database, on both backends.

mod helpers;

mod agents;
mod attributions;
mod auth;
mod claims;
mod concurrency;
mod contract;
mod hostile;
mod instances;
mod openapi;
mod seeds;
mod sources;
mod transfer;
