//! Sending a bearer token with every gRPC call.

use tonic::metadata::{Ascii, MetadataValue};
use tonic::{Request, Status};

/// Client-side interceptor adding `authorization: Bearer <token>` to every
/// call. (The services wrap it to add the trace context as well.)
#[derive(Clone, Debug)]
pub struct BearerToken {
    header: MetadataValue<Ascii>,
}

impl BearerToken {
    /// Wraps `token`; fails if it is not valid ASCII header text.
    pub fn new(token: &str) -> Result<Self, Status> {
        let header = format!("Bearer {token}")
            .parse()
            .map_err(|_| Status::invalid_argument("token is not valid header text"))?;
        Ok(Self { header })
    }
}

impl tonic::service::Interceptor for BearerToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.header.clone());
        Ok(request)
    }
}
