//! gRPC server reflection that describes exactly what one server serves:
//! its own service, `grpc.health.v1.Health` and the reflection service in
//! both versions, answered over `grpc.reflection.v1` and over
//! `grpc.reflection.v1alpha` (which Python's official reflection client and
//! older tools still speak).
//!
//! Every leadwheel contract is compiled into one descriptor set; handing it
//! all to tonic-reflection would list all five services on every port, and
//! calling another service's RPC there answers `UNIMPLEMENTED`. So only the
//! files that define the served service, and the files they import, are
//! registered, and the listed names are given explicitly.

use std::collections::{BTreeSet, HashMap};

use anyhow::{Context, Result, bail};
use prost::Message;
use prost_types::{FileDescriptorProto, FileDescriptorSet};
use tonic_reflection::pb::{v1, v1alpha};
use tonic_reflection::server::{Builder, v1 as server_v1, v1alpha as server_v1alpha};

/// The health service every server also serves.
pub const HEALTH_SERVICE: &str = "grpc.health.v1.Health";
/// The reflection service, version 1.
pub const REFLECTION_V1: &str = "grpc.reflection.v1.ServerReflection";
/// The reflection service, version 1alpha.
pub const REFLECTION_V1ALPHA: &str = "grpc.reflection.v1alpha.ServerReflection";

/// The names a server serving `service` lists over reflection, sorted.
pub fn listed_services(service: &str) -> Vec<String> {
    let mut names: Vec<String> = [service, HEALTH_SERVICE, REFLECTION_V1, REFLECTION_V1ALPHA]
        .into_iter()
        .map(String::from)
        .collect();
    names.sort();
    names
}

/// The reflection services (v1 and v1alpha) of a server serving `service`
/// (a fully qualified name from leadwheel's contracts).
pub fn services(
    service: &str,
) -> Result<(
    server_v1::ServerReflectionServer<impl server_v1::ServerReflection>,
    server_v1alpha::ServerReflectionServer<impl server_v1alpha::ServerReflection>,
)> {
    let own = files_serving(leadwheel_proto::FILE_DESCRIPTOR_SET, service)?;
    let v1 = builder(own.clone(), service)
        .build_v1()
        .context("building gRPC reflection v1")?;
    let v1alpha = builder(own, service)
        .build_v1alpha()
        .context("building gRPC reflection v1alpha")?;
    Ok((v1, v1alpha))
}

fn builder(own: FileDescriptorSet, service: &str) -> Builder<'static> {
    // Both reflection descriptors are registered by hand (not by
    // `include_reflection_service`, which adds only the version being
    // built) since both versions are served.
    let mut builder = Builder::configure()
        .include_reflection_service(false)
        .register_file_descriptor_set(own)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(v1alpha::FILE_DESCRIPTOR_SET);
    for name in listed_services(service) {
        builder = builder.with_service_name(name);
    }
    builder
}

/// The files of the encoded set `encoded` that `service` needs: the one
/// defining it and everything that file imports, transitively.
pub fn files_serving(encoded: &[u8], service: &str) -> Result<FileDescriptorSet> {
    let set = FileDescriptorSet::decode(encoded).context("decoding the descriptor set")?;
    let by_name: HashMap<&str, &FileDescriptorProto> =
        set.file.iter().map(|f| (f.name(), f)).collect();
    let Some(defining) = set.file.iter().find(|f| {
        f.service
            .iter()
            .any(|s| qualified(f.package(), s.name()) == service)
    }) else {
        bail!("no file in the descriptor set defines the service {service}");
    };
    let mut wanted = BTreeSet::new();
    let mut pending = vec![defining.name()];
    while let Some(name) = pending.pop() {
        if !wanted.insert(name) {
            continue;
        }
        let file = by_name
            .get(name)
            .with_context(|| format!("the descriptor set lacks {name}, imported for {service}"))?;
        pending.extend(file.dependency.iter().map(String::as_str));
    }
    Ok(FileDescriptorSet {
        file: set
            .file
            .iter()
            .filter(|f| wanted.contains(f.name()))
            .cloned()
            .collect(),
    })
}

fn qualified(package: &str, name: &str) -> String {
    if package.is_empty() {
        name.to_string()
    } else {
        format!("{package}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_served_service_and_its_imports_are_kept() {
        let kept = files_serving(
            leadwheel_proto::FILE_DESCRIPTOR_SET,
            "leadwheel.wheel.v1.WheelService",
        )
        .unwrap();
        let services: Vec<String> = kept
            .file
            .iter()
            .flat_map(|f| f.service.iter().map(|s| qualified(f.package(), s.name())))
            .collect();
        assert_eq!(services, ["leadwheel.wheel.v1.WheelService"]);
        // Every import of a kept file is kept too.
        let names: BTreeSet<&str> = kept.file.iter().map(|f| f.name()).collect();
        for file in &kept.file {
            for dep in &file.dependency {
                assert!(names.contains(dep.as_str()), "{dep} missing");
            }
        }
    }

    #[test]
    fn an_unknown_service_is_refused() {
        let err = files_serving(leadwheel_proto::FILE_DESCRIPTOR_SET, "no.Such").unwrap_err();
        assert!(err.to_string().contains("no.Such"), "{err}");
    }
}
