//! `leadwheel-reporting`: the reporting service binary.

#[tokio::main]
async fn main() {
    if let Err(err) = leadwheel_reporting::main_entry().await {
        eprintln!("leadwheel-reporting: {err:#}");
        std::process::exit(1);
    }
}
