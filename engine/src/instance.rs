//! An almasql session with its persistent state: the DataFusion context,
//! the persistent views and the materialized views, and the SQL entry point
//! that routes the materialized-view statements.

use std::sync::Arc;

use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::LogicalPlanBuilder;
use datafusion::prelude::SessionContext;

use crate::config::Config;
use crate::demo::Progress;
use crate::error::Result;
use crate::materialized::{MaterializedViews, parse_statement};
use crate::views::{self, BrokenView};

/// A session with its persistent state; see [`Session::open`].
#[derive(Clone)]
pub struct Session {
    ctx: SessionContext,
    materialized: MaterializedViews,
    broken_views: Arc<Vec<BrokenView>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("session_id", &self.ctx.session_id())
            .field("materialized", &self.materialized)
            .field("broken_views", &self.broken_views)
            .finish()
    }
}

impl Session {
    /// [`crate::build_session`] followed by [`Session::open`].
    pub async fn build(config: &Config, progress: Arc<dyn Progress + Send>) -> Result<Self> {
        let ctx = crate::session::build_session(config, progress).await?;
        Self::open(ctx, config).await
    }

    /// Adds almasql's persistent state to a session whose sources are all
    /// registered (views may use any of them): makes `CREATE VIEW` / `DROP
    /// VIEW` persist in `config.data_dir` and restores the stored views,
    /// and opens the materialized views (stored and configured) with their
    /// system tables. A stored view that no longer plans is logged and
    /// reported by [`Session::broken_views`]; it does not stop the start.
    /// The refresh scheduler is not started: call
    /// `session.materialized().start_scheduler()` and keep the handle.
    pub async fn open(ctx: SessionContext, config: &Config) -> Result<Self> {
        let catalog = views::install(&ctx, &config.data_dir)?;
        let materialized = MaterializedViews::open(
            &ctx,
            catalog.plain(),
            &config.data_dir,
            &config.materialized_views,
        )
        .await?;
        let broken_views = catalog.replay(&ctx).await?;
        materialized.plan_unpopulated().await?;
        Ok(Self {
            ctx,
            materialized,
            broken_views: Arc::new(broken_views),
        })
    }

    /// The DataFusion session.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// The materialized views.
    pub fn materialized(&self) -> &MaterializedViews {
        &self.materialized
    }

    /// The stored views that did not plan at start-up.
    pub fn broken_views(&self) -> &[BrokenView] {
        &self.broken_views
    }

    /// Runs `text`: see [`sql`].
    pub async fn sql(&self, text: &str) -> Result<DataFrame> {
        sql(&self.ctx, &self.materialized, text).await
    }
}

/// Runs one SQL statement: the materialized-view statements
/// ([`parse_statement`]) run at once through
/// [`MaterializedViews::execute`] and give an empty `DataFrame`; anything
/// else is planned by DataFusion (`ctx.sql`).
pub async fn sql(
    ctx: &SessionContext,
    materialized: &MaterializedViews,
    text: &str,
) -> Result<DataFrame> {
    match parse_statement(text) {
        Some(statement) => {
            materialized.execute(statement?).await?;
            let plan = LogicalPlanBuilder::empty(false).build()?;
            Ok(DataFrame::new(ctx.state(), plan))
        }
        None => Ok(ctx.sql(text).await?),
    }
}
