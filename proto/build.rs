//! Compiles every `.proto` under `leadwheel/` with protox (pure Rust, so no
//! system `protoc`) and writes the descriptor set used by gRPC reflection.

use std::path::PathBuf;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Every .proto under leadwheel/, found rather than listed, so a new
    // contract file cannot be forgotten here.
    let mut files = Vec::new();
    collect_protos(std::path::Path::new("leadwheel"), &mut files)?;
    files.sort();
    println!("cargo:rerun-if-changed=leadwheel");
    for file in &files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(&files, ["."])?;
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

fn collect_protos(dir: &std::path::Path, files: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, files)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            files.push(path.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}
