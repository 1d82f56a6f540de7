//! `leadwheel-console`: the web console binary.

#[tokio::main]
async fn main() {
    if let Err(err) = leadwheel_console::main_entry().await {
        eprintln!("leadwheel-console: {err:#}");
        std::process::exit(1);
    }
}
