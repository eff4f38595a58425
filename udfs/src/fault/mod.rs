//! Fault detection and diagnosis: drift, robust statistics, control charts
//! and change points (the IF-processor drift and LO2 use cases).

use crate::AlmaFunction;

pub mod changepoint_time;
pub mod cusum;
pub mod drift_slope;
pub mod ewma;
pub mod mad;
pub mod pairwise_pct_variation;
pub mod robust;
pub mod robust_zscore;

make_udaf_function!(drift_slope::DriftSlope, drift_slope);
make_udaf_function!(mad::Mad, mad);
make_udaf_function!(changepoint_time::ChangepointTime, changepoint_time);
make_udaf_function!(
    pairwise_pct_variation::PairwisePctVariation,
    pairwise_pct_variation
);
make_udwf_function!(robust_zscore::RobustZscore, robust_zscore);
make_udwf_function!(cusum::Cusum, cusum);
make_udwf_function!(ewma::Ewma, ewma);

/// Every function of the fault family.
pub fn functions() -> Vec<AlmaFunction> {
    vec![
        AlmaFunction::Aggregate(drift_slope()),
        AlmaFunction::Aggregate(mad()),
        AlmaFunction::Window(robust_zscore()),
        AlmaFunction::Window(cusum()),
        AlmaFunction::Window(ewma()),
        AlmaFunction::Aggregate(changepoint_time()),
        AlmaFunction::Aggregate(pairwise_pct_variation()),
    ]
}
