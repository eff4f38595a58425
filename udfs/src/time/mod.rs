//! Time-scale functions: ACS time and Modified Julian Date.

use crate::AlmaFunction;

pub mod acs_to_timestamp;
pub mod mjd;
pub mod mjd_to_timestamp;
pub mod timestamp_to_acs;

/// ACS time of the Unix epoch: 100 ns units from 1582-10-15T00:00:00 UTC to
/// 1970-01-01T00:00:00 UTC.
pub const ACS_UNIX_EPOCH_OFFSET: i64 = 122_192_928_000_000_000;

make_udf_function!(acs_to_timestamp::AcsToTimestampFunc, acs_to_timestamp);
make_udf_function!(timestamp_to_acs::TimestampToAcsFunc, timestamp_to_acs);
make_udf_function!(mjd::MjdFunc, mjd);
make_udf_function!(mjd_to_timestamp::MjdToTimestampFunc, mjd_to_timestamp);

/// Every function of the time family.
pub fn functions() -> Vec<AlmaFunction> {
    vec![
        AlmaFunction::Scalar(acs_to_timestamp()),
        AlmaFunction::Scalar(timestamp_to_acs()),
        AlmaFunction::Scalar(mjd()),
        AlmaFunction::Scalar(mjd_to_timestamp()),
    ]
}
