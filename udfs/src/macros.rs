//! Macros that define the singleton accessor of each function, after
//! DataFusion's own `make_udf_function!`.

/// Defines `pub fn $NAME() -> Arc<ScalarUDF>` returning a shared instance of
/// the scalar function implemented by `$UDF`.
macro_rules! make_udf_function {
    ($UDF:ty, $NAME:ident) => {
        #[doc = concat!("The `", stringify!($NAME), "` scalar function (shared instance).")]
        pub fn $NAME() -> std::sync::Arc<datafusion::logical_expr::ScalarUDF> {
            static INSTANCE: std::sync::LazyLock<
                std::sync::Arc<datafusion::logical_expr::ScalarUDF>,
            > = std::sync::LazyLock::new(|| {
                std::sync::Arc::new(datafusion::logical_expr::ScalarUDF::new_from_impl(
                    <$UDF>::new(),
                ))
            });
            std::sync::Arc::clone(&INSTANCE)
        }
    };
}

/// Defines `pub fn $NAME() -> Arc<AggregateUDF>` returning a shared instance
/// of the aggregate function implemented by `$UDAF`.
macro_rules! make_udaf_function {
    ($UDAF:ty, $NAME:ident) => {
        #[doc = concat!("The `", stringify!($NAME), "` aggregate function (shared instance).")]
        pub fn $NAME() -> std::sync::Arc<datafusion::logical_expr::AggregateUDF> {
            static INSTANCE: std::sync::LazyLock<
                std::sync::Arc<datafusion::logical_expr::AggregateUDF>,
            > = std::sync::LazyLock::new(|| {
                std::sync::Arc::new(datafusion::logical_expr::AggregateUDF::new_from_impl(
                    <$UDAF>::new(),
                ))
            });
            std::sync::Arc::clone(&INSTANCE)
        }
    };
}

/// Defines `pub fn $NAME() -> Arc<WindowUDF>` returning a shared instance of
/// the window function implemented by `$UDWF`.
macro_rules! make_udwf_function {
    ($UDWF:ty, $NAME:ident) => {
        #[doc = concat!("The `", stringify!($NAME), "` window function (shared instance).")]
        pub fn $NAME() -> std::sync::Arc<datafusion::logical_expr::WindowUDF> {
            static INSTANCE: std::sync::LazyLock<
                std::sync::Arc<datafusion::logical_expr::WindowUDF>,
            > = std::sync::LazyLock::new(|| {
                std::sync::Arc::new(datafusion::logical_expr::WindowUDF::new_from_impl(
                    <$UDWF>::new(),
                ))
            });
            std::sync::Arc::clone(&INSTANCE)
        }
    };
}
