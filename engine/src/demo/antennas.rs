//! `ops.antennas`: the ALMA antennas, their type and pad.

use std::fmt::Write;
use std::path::Path;

use crate::error::Result;

/// One ALMA antenna.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Antenna {
    /// Name, e.g. `DV07`.
    pub name: &'static str,
    /// Vendor and model, e.g. `Vertex 12 m`.
    pub antenna_type: &'static str,
    /// Dish diameter in metres.
    pub diameter_m: f64,
    /// Which array it belongs to: `12m`, `7m` (ACA) or `TP` (total power).
    pub array: &'static str,
}

macro_rules! antennas {
    ($prefix:literal, $ty:literal, $d:literal, $array:literal: $($n:literal)+) => {
        [$(Antenna { name: concat!($prefix, $n), antenna_type: $ty, diameter_m: $d, array: $array }),+]
    };
}

const DA: [Antenna; 25] = antennas!("DA", "AEM 12 m", 12.0, "12m": "41" "42" "43" "44" "45" "46" "47" "48" "49" "50" "51" "52" "53" "54" "55" "56" "57" "58" "59" "60" "61" "62" "63" "64" "65");
const DV: [Antenna; 25] = antennas!("DV", "Vertex 12 m", 12.0, "12m": "01" "02" "03" "04" "05" "06" "07" "08" "09" "10" "11" "12" "13" "14" "15" "16" "17" "18" "19" "20" "21" "22" "23" "24" "25");
const PM: [Antenna; 4] = antennas!("PM", "MELCO 12 m", 12.0, "TP": "01" "02" "03" "04");
const CM: [Antenna; 12] = antennas!("CM", "MELCO 7 m", 7.0, "7m": "01" "02" "03" "04" "05" "06" "07" "08" "09" "10" "11" "12");

/// All 66 ALMA antennas: DA41–DA65, DV01–DV25, PM01–PM04, CM01–CM12.
pub const ANTENNAS: [Antenna; 66] = {
    let mut all = [DA[0]; 66];
    let mut i = 0;
    while i < 25 {
        all[i] = DA[i];
        all[25 + i] = DV[i];
        i += 1;
    }
    let mut j = 0;
    while j < 4 {
        all[50 + j] = PM[j];
        j += 1;
    }
    let mut k = 0;
    while k < 12 {
        all[54 + k] = CM[k];
        k += 1;
    }
    all
};

/// The pad an antenna stands on in the demo's array configuration.
pub fn pad(index: usize) -> String {
    match ANTENNAS[index].array {
        "TP" => format!("T70{}", index - 49),
        "7m" => format!("J5{:02}", index - 53),
        _ => format!("A{:03}", index * 2 + 1),
    }
}

/// Writes `ops/antennas.csv`; returns the row count.
pub fn write(out: &Path) -> Result<u64> {
    let mut csv = String::from("antenna,antenna_type,diameter_m,array,pad\n");
    for (i, a) in ANTENNAS.iter().enumerate() {
        writeln!(
            csv,
            "{},{},{:.1},{},{}",
            a.name,
            a.antenna_type,
            a.diameter_m,
            a.array,
            pad(i)
        )
        .expect("write to string");
    }
    super::write::atomic(&out.join("ops/antennas.csv"), csv.as_bytes())?;
    Ok(ANTENNAS.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_alma_antennas() {
        let names: Vec<&str> = ANTENNAS.iter().map(|a| a.name).collect();
        assert_eq!(names[0], "DA41");
        assert_eq!(names[24], "DA65");
        assert_eq!(names[25], "DV01");
        assert_eq!(names[49], "DV25");
        assert_eq!(names[50..54], ["PM01", "PM02", "PM03", "PM04"]);
        assert_eq!(names[54], "CM01");
        assert_eq!(names[65], "CM12");
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 66);
        let pads: std::collections::HashSet<String> = (0..66).map(pad).collect();
        assert_eq!(pads.len(), 66);
    }
}
