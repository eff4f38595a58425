//! Integration tests: the real `almasql` binary, queried by real clients.

mod cli;
mod common;
mod examples;
mod psql;
mod wire;
