//! gRPC server reflection on each of the five real service binaries, asked
//! with tonic-reflection's generated clients over both protocol versions
//! (`grpc.reflection.v1`, and `v1alpha`, which Python's official client
//! and older tools speak): each port lists exactly what it serves — its own
//! service, health and reflection — describes its own service, and knows
//! nothing of the other four.

use leadwheel_e2e::{SERVICES, System};
use prost::Message;
use prost_types::FileDescriptorProto;
use tonic::transport::Channel;

/// What a reflection request came back with.
#[derive(Debug)]
enum Reply {
    Services(Vec<String>),
    Files(Vec<FileDescriptorProto>),
    Error(i32, String),
}

/// `ask_v1` and `ask_v1alpha`: one request on one reflection stream. The
/// two versions' messages are the same shape in different packages.
macro_rules! asker {
    ($name:ident, $version:ident) => {
        async fn $name(channel: Channel, list: bool, symbol: &str) -> Reply {
            use tonic_reflection::pb::$version::ServerReflectionRequest;
            use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;
            use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
            use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;
            let message_request = if list {
                MessageRequest::ListServices(String::new())
            } else {
                MessageRequest::FileContainingSymbol(symbol.to_string())
            };
            let request = ServerReflectionRequest {
                host: String::new(),
                message_request: Some(message_request),
            };
            let mut replies = ServerReflectionClient::new(channel)
                .server_reflection_info(futures::stream::iter([request]))
                .await
                .expect("the reflection call is answered")
                .into_inner();
            // tonic-reflection ends the stream with a status for an unknown
            // symbol rather than sending an `ErrorResponse`; both count.
            let reply = match replies.message().await {
                Ok(reply) => reply.expect("one reply per request"),
                Err(status) => return Reply::Error(status.code() as i32, status.message().into()),
            };
            match reply.message_response.expect("a reply body") {
                MessageResponse::ListServicesResponse(list) => {
                    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
                    names.sort();
                    Reply::Services(names)
                }
                MessageResponse::FileDescriptorResponse(files) => Reply::Files(
                    files
                        .file_descriptor_proto
                        .iter()
                        .map(|bytes| FileDescriptorProto::decode(bytes.as_slice()).unwrap())
                        .collect(),
                ),
                MessageResponse::ErrorResponse(error) => {
                    Reply::Error(error.error_code, error.error_message)
                }
                other => panic!("unexpected reflection reply {other:?}"),
            }
        }
    };
}

asker!(ask_v1, v1);
asker!(ask_v1alpha, v1alpha);

/// The fully qualified name of `service`'s gRPC service.
fn service_name(service: &str) -> &'static str {
    use leadwheel_proto::*;
    match service {
        "intake" => intake::v1::intake_service_server::SERVICE_NAME,
        "wheel" => wheel::v1::wheel_service_server::SERVICE_NAME,
        "opportunity" => opportunity::v1::opportunity_service_server::SERVICE_NAME,
        "alerting" => alerting::v1::alerting_service_server::SERVICE_NAME,
        "reporting" => reporting::v1::reporting_service_server::SERVICE_NAME,
        other => panic!("no service {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_port_reflects_exactly_what_it_serves_over_v1_and_v1alpha() {
    let system = System::start().await.expect("starting the system");
    for service in SERVICES {
        let own = service_name(service);
        let mut expected = vec![
            own.to_string(),
            "grpc.health.v1.Health".to_string(),
            "grpc.reflection.v1.ServerReflection".to_string(),
            "grpc.reflection.v1alpha.ServerReflection".to_string(),
        ];
        expected.sort();
        for version in ["v1", "v1alpha"] {
            let ask = |list: bool, symbol: &'static str| {
                let system = &system;
                async move {
                    let channel = system.channel(service).await;
                    match version {
                        "v1" => ask_v1(channel, list, symbol).await,
                        _ => ask_v1alpha(channel, list, symbol).await,
                    }
                }
            };
            let at = format!("{service} over {version}");
            match ask(true, "").await {
                Reply::Services(names) => assert_eq!(names, expected, "{at}"),
                other => panic!("{at}: listing services answered {other:?}"),
            }
            // Its own service resolves to the file that defines it.
            match ask(false, own).await {
                Reply::Files(files) => assert!(
                    files.iter().any(|f| f.service.iter().any(|s| format!(
                        "{}.{}",
                        f.package(),
                        s.name()
                    ) == own)),
                    "{at}: {own} is not in {:?}",
                    files.iter().map(|f| f.name()).collect::<Vec<_>>()
                ),
                other => panic!("{at}: describing {own} answered {other:?}"),
            }
            // So do health and reflection, which every port serves.
            for served in [
                "grpc.health.v1.Health",
                "grpc.reflection.v1alpha.ServerReflection",
            ] {
                assert!(
                    matches!(ask(false, served).await, Reply::Files(_)),
                    "{at}: {served} does not resolve"
                );
            }
            // Another service's contract is not described here.
            for other in SERVICES.into_iter().filter(|s| *s != service) {
                let symbol = service_name(other);
                match ask(false, symbol).await {
                    Reply::Error(code, message) => assert_eq!(
                        code,
                        tonic::Code::NotFound as i32,
                        "{at}: {symbol}: {message}"
                    ),
                    reply => panic!("{at}: {symbol} answered {reply:?}"),
                }
            }
        }
    }
}
