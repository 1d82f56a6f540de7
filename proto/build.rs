//! Compiles every `.proto` under `leadwheel/` with protox (pure Rust, so no
//! system `protoc`) and writes the descriptor set used by gRPC reflection.

use std::path::PathBuf;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "leadwheel/events/v1/events.proto",
        "leadwheel/intake/v1/intake.proto",
        "leadwheel/wheel/v1/wheel.proto",
        "leadwheel/opportunity/v1/opportunity.proto",
        "leadwheel/alerting/v1/alerting.proto",
        "leadwheel/reporting/v1/reporting.proto",
    ];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["."])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("leadwheel_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
