//! Integration tests: the real `almasql` binary, queried by real clients.

mod cli;
mod common;
mod connectors;
mod examples;
mod postgres;
mod psql;
mod wire;
