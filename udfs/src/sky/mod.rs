//! Sky functions: sidereal time, hour angle, elevation, calibrator J-names,
//! receiver bands and LST binning, at the ALMA site.

use std::sync::{Arc, LazyLock};

use crate::{AlmaFunction, TableFunctionEntry};

pub mod alma_band;
pub mod astrometry;
pub mod elevation;
pub mod hour_angle;
pub mod jname;
pub mod jname_dec;
pub mod jname_ra;
pub mod lst;
pub mod lst_bins;
pub mod lst_overlap_hours;

make_udf_function!(lst::LstFunc, lst);
make_udf_function!(hour_angle::HourAngleFunc, hour_angle);
make_udf_function!(elevation::ElevationFunc, elevation);
make_udf_function!(jname_ra::JnameRaFunc, jname_ra);
make_udf_function!(jname_dec::JnameDecFunc, jname_dec);
make_udf_function!(alma_band::AlmaBandFunc, alma_band);
make_udf_function!(lst_overlap_hours::LstOverlapHoursFunc, lst_overlap_hours);

/// The `lst_bins` table function with its name and documentation.
pub fn lst_bins() -> TableFunctionEntry {
    static INSTANCE: LazyLock<Arc<lst_bins::LstBinsFunc>> =
        LazyLock::new(|| Arc::new(lst_bins::LstBinsFunc::new()));
    let instance: &'static lst_bins::LstBinsFunc = &INSTANCE;
    TableFunctionEntry {
        name: "lst_bins",
        function: Arc::clone(&INSTANCE) as _,
        documentation: instance.documentation(),
    }
}

/// Every function of the sky family.
pub fn functions() -> Vec<AlmaFunction> {
    vec![
        AlmaFunction::Scalar(lst()),
        AlmaFunction::Scalar(hour_angle()),
        AlmaFunction::Scalar(elevation()),
        AlmaFunction::Scalar(jname_ra()),
        AlmaFunction::Scalar(jname_dec()),
        AlmaFunction::Scalar(alma_band()),
        AlmaFunction::Scalar(lst_overlap_hours()),
        AlmaFunction::Table(lst_bins()),
    ]
}
