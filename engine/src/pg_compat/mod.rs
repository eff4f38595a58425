//! PostgreSQL compatibility: functions clients expect that neither
//! DataFusion nor datafusion-pg-catalog provide in the form they need, and
//! the SQL rewrites of [`rewrite`].

mod catalog_functions;
pub mod datetime;
mod format;
mod json_build_object;
mod like_escape;
mod pg_proc;
pub mod rewrite;
mod settings;
pub mod text_out;
mod type_names;

pub use catalog_functions::{ConstantCatalogFunc, ToRegtypeFunc, builtin_type_oid};
pub use format::{FormatFunc, format_row};
pub use json_build_object::JsonBuildObjectFunc;
pub use like_escape::{LikeEscapeFunc, backslash_pattern};
pub use pg_proc::{FunctionDescriptionFunc, PgCatalogWithFunctions, ProcEntry, proc_entries};
pub use settings::{CurrentSchemaFunc, CurrentSettingFunc, setting, time_zone};
pub use type_names::{PgTypeNameFunc, TypeNameKind, pg_type_names};

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

/// The PostgreSQL version almasql reports; clients parse its number.
pub const PG_VERSION: &str = "16.6";

/// The text `version()` returns: clients such as DBeaver and Metabase expect
/// it to begin with `PostgreSQL <major>.<minor>`.
pub fn version_string() -> String {
    format!(
        "PostgreSQL {PG_VERSION} (almasql {}, Apache DataFusion {})",
        env!("CARGO_PKG_VERSION"),
        datafusion::DATAFUSION_VERSION
    )
}

/// Registers `version()` in the PostgreSQL form and the other functions of
/// this module. Call it after `setup_pg_catalog`, whose constant
/// `current_schema()` it replaces with one that follows `search_path`.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(CurrentSettingFunc::default()));
    ctx.register_udf(ScalarUDF::new_from_impl(CurrentSchemaFunc::default()));
    ctx.register_udf(ScalarUDF::new_from_impl(JsonBuildObjectFunc::default()));
    ctx.register_udf(ScalarUDF::new_from_impl(LikeEscapeFunc::default()));
    ctx.register_udf(ScalarUDF::new_from_impl(ToRegtypeFunc::default()));
    ctx.register_udf(ScalarUDF::new_from_impl(FormatFunc::default()));
    for kind in [TypeNameKind::DataType, TypeNameKind::UdtName] {
        ctx.register_udf(ScalarUDF::new_from_impl(PgTypeNameFunc::new(kind)));
    }
    for f in catalog_functions::functions() {
        ctx.register_udf(f);
    }
    let entries = Arc::new(proc_entries());
    type Describe = fn(&ProcEntry) -> Option<String>;
    let describe: [(&'static str, Describe); 3] = [
        ("pg_get_function_result", |e| e.result.clone()),
        ("pg_get_function_arguments", |e| Some(e.arguments.clone())),
        ("pg_get_function_identity_arguments", |e| {
            Some(e.arguments.clone())
        }),
    ];
    for (name, text) in describe {
        ctx.register_udf(ScalarUDF::new_from_impl(FunctionDescriptionFunc::new(
            name, &entries, text,
        )));
    }
    let catalog_name = ctx
        .state()
        .config()
        .options()
        .catalog
        .default_catalog
        .clone();
    if let Some(catalog) = ctx.catalog(&catalog_name)
        && let Some(pg_catalog) = catalog.schema("pg_catalog")
        && pg_catalog
            .as_ref()
            .downcast_ref::<PgCatalogWithFunctions>()
            .is_none()
    {
        let wrapped = PgCatalogWithFunctions::new(pg_catalog, entries);
        if let Err(e) = catalog.register_schema("pg_catalog", Arc::new(wrapped)) {
            tracing::warn!("cannot list almasql's functions in pg_catalog.pg_proc: {e}");
        }
    }
    let version = ScalarValue::Utf8(Some(version_string()));
    ctx.register_udf(create_udf(
        "version",
        vec![],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |_| Ok(ColumnarValue::Scalar(version.clone()))),
    ));
}
