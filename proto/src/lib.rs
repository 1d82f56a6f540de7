//! Generated protobuf and gRPC code for every leadwheel contract.
//!
//! Packages follow `leadwheel.<service>.v1`; event payloads live in
//! `leadwheel.events.v1`.

#![allow(clippy::all, missing_docs)]

pub mod events {
    pub mod v1 {
        tonic::include_proto!("leadwheel.events.v1");
    }
}
pub mod intake {
    pub mod v1 {
        tonic::include_proto!("leadwheel.intake.v1");
    }
}
pub mod wheel {
    pub mod v1 {
        tonic::include_proto!("leadwheel.wheel.v1");
    }
}
pub mod opportunity {
    pub mod v1 {
        tonic::include_proto!("leadwheel.opportunity.v1");
    }
}
pub mod alerting {
    pub mod v1 {
        tonic::include_proto!("leadwheel.alerting.v1");
    }
}
pub mod reporting {
    pub mod v1 {
        tonic::include_proto!("leadwheel.reporting.v1");
    }
}

/// Encoded `FileDescriptorSet` of every leadwheel proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/leadwheel_descriptor.bin"));
