//! The `leadwheel-intake` binary; everything lives in the library.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match leadwheel_intake::main_entry().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("leadwheel-intake: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
