//! Helpers of the unit tests.

/// The package's directory: Cargo's `CARGO_MANIFEST_DIR` of this run, which
/// is this checkout's even when a checkout sharing the target directory
/// built the binary; else the build's.
pub fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || env!("CARGO_MANIFEST_DIR").into(),
        std::path::PathBuf::from,
    )
}
