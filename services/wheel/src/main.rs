use std::process::ExitCode;

/// jemalloc serves every allocation of the process, SQLite's included (its
/// symbols replace the C library's `malloc`): under load glibc's
/// allocator took more than half of the SQLite thread's time, consolidating
/// its free lists around the page cache's allocations, and the wheel
/// sustains about a third more claims with jemalloc (docs/benchmarks.md,
/// session 17).
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
