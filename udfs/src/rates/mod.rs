//! Rate and pressure analysis: Poisson rates with exact intervals.

use crate::AlmaFunction;

pub mod gamma;
pub mod poisson_rate_ci;

make_udf_function!(poisson_rate_ci::PoissonRateCiFunc, poisson_rate_ci);

/// Every function of the rates family.
pub fn functions() -> Vec<AlmaFunction> {
    vec![AlmaFunction::Scalar(poisson_rate_ci())]
}
