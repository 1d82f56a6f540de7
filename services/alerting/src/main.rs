//! `leadwheel-alerting`: the alerting service binary.

#[tokio::main]
async fn main() {
    if let Err(err) = leadwheel_alerting::main_entry().await {
        eprintln!("leadwheel-alerting: {err:#}");
        std::process::exit(1);
    }
}
