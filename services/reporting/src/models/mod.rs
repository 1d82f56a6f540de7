//! The sales read models' store: applying updates from events, reading
//! sums, and quotas. `sqlx::Error` never leaves here except wrapped in
//! [`StoreError`](leadwheel_plumbing::store::StoreError).

pub mod aggregates;
pub mod apply;
pub mod derived;
pub mod duration_histograms;
pub mod follow_ups;
pub mod forecast_changes;
pub mod open_days;
pub mod per_deal;
pub mod queries;
pub mod quotas;
pub mod snapshots;
pub mod timing;
