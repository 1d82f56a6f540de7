//! What the API does, one module per area. Each operation checks the
//! request and who may make it ([`access`]), then reads on a pooled
//! connection or changes state through the [`Engine`] (which opens every
//! transaction and moves leads), and returns rows for [`crate::grpc`] to
//! convert. Operations never see gRPC types beyond the request messages
//! they parse, and never each other's handlers.

use crate::engine::{Engine, ReadConn};
use crate::error::WheelError;

pub mod access;
pub mod insight;
pub mod leads;
pub mod offers;
pub mod reps;
pub mod routing;
pub mod teams;

/// The operations, over the engine.
#[derive(Clone, Debug)]
pub struct Wheel {
    engine: Engine,
}

impl Wheel {
    /// Operations routing through `engine`.
    pub fn new(engine: Engine) -> Self {
        Self { engine }
    }

    /// The current time on the service's clock.
    pub fn now(&self) -> i64 {
        self.engine.now()
    }

    async fn read(&self) -> Result<ReadConn, WheelError> {
        self.engine.read().await
    }
}
