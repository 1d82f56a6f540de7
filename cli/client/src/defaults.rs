//! What a client assumes when nothing is configured.

/// The JWT secret used when none is configured: only for local development.
/// Services refuse to start with it unless `LEADWHEEL_DEV_MODE=1`.
pub const DEV_JWT_SECRET: &str = "leadwheel-dev-secret-not-for-production";

/// Default listen ports, one block per service.
pub mod ports {
    /// Intake's HTTP webhook port.
    pub const INTAKE_HTTP: u16 = 8080;
    /// gRPC ports.
    pub const INTAKE_GRPC: u16 = 50051;
    /// Wheel gRPC.
    pub const WHEEL_GRPC: u16 = 50052;
    /// Opportunity gRPC.
    pub const OPPORTUNITY_GRPC: u16 = 50053;
    /// Alerting gRPC.
    pub const ALERTING_GRPC: u16 = 50054;
    /// Reporting gRPC.
    pub const REPORTING_GRPC: u16 = 50055;
    /// Admin (health, metrics) ports are the gRPC port + 1000.
    pub const ADMIN_OFFSET: u16 = 1000;
}
