//! The HTTP API's tests: one binary, each test on its own server and
//! database, on both backends.

#[allow(dead_code, reason = "each test module uses a different part of the helpers")]
mod helpers;

mod agents;
mod openapi;
mod provenance;
