//! `leadwheel-opportunity`: the opportunity service binary.

#[tokio::main]
async fn main() {
    if let Err(err) = leadwheel_opportunity::main_entry().await {
        eprintln!("leadwheel-opportunity: {err:#}");
        std::process::exit(1);
    }
}
