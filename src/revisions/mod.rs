//! Revisions of every resource and the change feed.

pub mod model;
pub mod store;
