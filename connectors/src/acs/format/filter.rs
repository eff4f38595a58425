//! Record filters, evaluated on the raw attributes before any Arrow value
//! is built.

use super::AcsRecordFilter;
use super::parser::{RawRecord, Text};
use super::schema::{A_ANTENNA, A_HOST, A_PROCESS, ACS_LEVELS};

/// An [`AcsRecordFilter`] prepared for evaluation.
#[derive(Debug, Default)]
pub(super) struct CompiledFilter {
    time_from_us: Option<i64>,
    time_to_us: Option<i64>,
    /// Bit `i` set: level `ACS_LEVELS[i]` passes.
    levels: Option<u16>,
    /// (attribute index, accepted values), for host, antenna, process.
    attrs: Vec<(usize, Vec<String>)>,
}

impl CompiledFilter {
    pub fn new(filter: &AcsRecordFilter) -> Self {
        let levels = filter.levels.as_ref().map(|names| {
            ACS_LEVELS
                .iter()
                .enumerate()
                .filter(|(_, (level, _))| names.iter().any(|n| n == level))
                .fold(0u16, |mask, (i, _)| mask | (1 << i))
        });
        let attrs = [
            (A_HOST, &filter.hosts),
            (A_ANTENNA, &filter.antennas),
            (A_PROCESS, &filter.processes),
        ]
        .into_iter()
        .filter_map(|(attr, values)| values.clone().map(|v| (attr, v)))
        .collect();
        Self {
            time_from_us: filter.time_from_us,
            time_to_us: filter.time_to_us,
            levels,
            attrs,
        }
    }

    /// Whether the record (with parsed time `time`) passes.
    #[inline]
    pub fn matches(
        &self,
        buf: &[u8],
        rec: &RawRecord,
        time: i64,
        latin1: bool,
        scratch: &mut String,
    ) -> bool {
        if self.time_from_us.is_some_and(|from| time < from)
            || self.time_to_us.is_some_and(|to| time >= to)
            || self.levels.is_some_and(|mask| mask & (1 << rec.level) == 0)
        {
            return false;
        }
        self.attrs
            .iter()
            .all(|(attr, accepted)| match rec.attrs[*attr] {
                None => false,
                Some(span) => {
                    let value = Text::new(buf, latin1).attr(span, scratch);
                    accepted.iter().any(|a| a == value)
                }
            })
    }
}
