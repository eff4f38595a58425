//! The ambient weather at the array, shared by the monitor data and the logs
//! so that lock losses correlate with the temperature the monitor data shows.

use super::Spec;
use super::rng::DemoRng;

/// A deterministic weather history at 1-minute resolution.
#[derive(Debug)]
pub struct Weather {
    /// Ambient temperature in °C per minute since the start.
    temperature: Vec<f64>,
}

impl Weather {
    /// The weather over the whole span of `spec`.
    pub fn new(spec: &Spec) -> Self {
        let mut rng = DemoRng::new(spec.seed, "weather");
        let minutes = spec.days() as usize * 1440;
        let mut day_offset = 0.0;
        let mut temperature = Vec::with_capacity(minutes);
        let mut slow = 0.0;
        for m in 0..minutes {
            if m % 1440 == 0 {
                day_offset = 0.7 * day_offset + 1.5 * rng.normal();
            }
            slow = 0.98 * slow + 0.05 * rng.normal();
            let hour = (m % 1440) as f64 / 60.0;
            // Warmest near 19 UTC (16 local), coldest near 07–10 UTC.
            let diurnal = 4.5 * (std::f64::consts::TAU * (hour - 19.0) / 24.0).cos();
            temperature.push(-2.5 + diurnal + day_offset + slow);
        }
        Self { temperature }
    }

    /// Ambient temperature (°C) at a minute since the start.
    pub fn temperature(&self, minute: usize) -> f64 {
        self.temperature[minute.min(self.temperature.len() - 1)]
    }
}
