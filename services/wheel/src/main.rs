use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match leadwheel_wheel::main_entry().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("leadwheel-wheel: {err:#}");
            ExitCode::FAILURE
        }
    }
}
