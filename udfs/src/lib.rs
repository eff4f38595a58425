//! ALMA domain functions for DataFusion: time scales, LST and observability,
//! receiver bands, fault scoring and pressure analysis.
//!
//! Every function is registered in a [`SessionContext`] by [`register_all`].
//! The functions are grouped in families, each with a `functions()` list:
//!
//! * [`time`]: ACS time, MJD.
//! * [`sky`]: sidereal time, hour angle, elevation, J-names, bands, LST bins.
//! * [`fault`]: drift, robust statistics, CUSUM/EWMA, change points.
//! * [`rates`]: Poisson rate confidence intervals.
//!
//! The reference page `docs/functions.md` is generated from the functions'
//! own documentation by [`docs::render_markdown`].

#![deny(missing_docs)]

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::error::Result;
use datafusion::logical_expr::{AggregateUDF, Documentation, ScalarUDF, WindowUDF};
use datafusion::prelude::SessionContext;

#[macro_use]
mod macros;

pub mod common;
pub mod docs;
pub mod fault;
pub mod rates;
pub mod sky;
pub mod time;

/// A table function together with its SQL name and documentation.
#[derive(Debug, Clone)]
pub struct TableFunctionEntry {
    /// SQL name under which the function is registered.
    pub name: &'static str,
    /// The implementation.
    pub function: Arc<dyn TableFunctionImpl>,
    /// User documentation of the function.
    pub documentation: Option<&'static Documentation>,
}

/// One almasql function of any kind.
#[derive(Debug, Clone)]
pub enum AlmaFunction {
    /// A scalar function.
    Scalar(Arc<ScalarUDF>),
    /// An aggregate function.
    Aggregate(Arc<AggregateUDF>),
    /// A window function.
    Window(Arc<WindowUDF>),
    /// A table function.
    Table(TableFunctionEntry),
}

impl AlmaFunction {
    /// SQL name of the function.
    pub fn name(&self) -> &str {
        match self {
            Self::Scalar(f) => f.name(),
            Self::Aggregate(f) => f.name(),
            Self::Window(f) => f.name(),
            Self::Table(f) => f.name,
        }
    }

    /// User documentation of the function, if any.
    pub fn documentation(&self) -> Option<&Documentation> {
        match self {
            Self::Scalar(f) => f.documentation(),
            Self::Aggregate(f) => f.documentation(),
            Self::Window(f) => f.documentation(),
            Self::Table(f) => f.documentation,
        }
    }

    /// Kind of the function as a lower-case word ("scalar", "aggregate", ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Scalar(_) => "scalar",
            Self::Aggregate(_) => "aggregate",
            Self::Window(_) => "window",
            Self::Table(_) => "table",
        }
    }

    /// Registers the function in `ctx`.
    pub fn register(&self, ctx: &SessionContext) {
        match self {
            Self::Scalar(f) => ctx.register_udf(f.as_ref().clone()),
            Self::Aggregate(f) => ctx.register_udaf(f.as_ref().clone()),
            Self::Window(f) => ctx.register_udwf(f.as_ref().clone()),
            Self::Table(f) => ctx.register_udtf(f.name, Arc::clone(&f.function)),
        }
    }
}

/// Every almasql function, family by family.
pub fn all_functions() -> Vec<AlmaFunction> {
    let mut all = time::functions();
    all.extend(sky::functions());
    all.extend(fault::functions());
    all.extend(rates::functions());
    all
}

/// Registers every almasql domain function (scalar, aggregate, window and
/// table functions) in `ctx`.
pub fn register_all(ctx: &SessionContext) -> Result<()> {
    for function in all_functions() {
        function.register(ctx);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_documented() {
        let mut seen = HashSet::new();
        for f in all_functions() {
            assert!(seen.insert(f.name().to_string()), "duplicate {}", f.name());
            let doc = f
                .documentation()
                .unwrap_or_else(|| panic!("{} undocumented", f.name()));
            assert!(doc.sql_example.is_some(), "{} has no sql_example", f.name());
        }
    }

    #[test]
    fn register_all_registers_every_function() {
        let ctx = SessionContext::new();
        register_all(&ctx).unwrap();
        let state = ctx.state();
        for f in all_functions() {
            let found = match &f {
                AlmaFunction::Scalar(_) => state.scalar_functions().contains_key(f.name()),
                AlmaFunction::Aggregate(_) => state.aggregate_functions().contains_key(f.name()),
                AlmaFunction::Window(_) => state.window_functions().contains_key(f.name()),
                AlmaFunction::Table(_) => state.table_functions().contains_key(f.name()),
            };
            assert!(found, "{} not registered", f.name());
        }
    }
}
