//! Logging: tracing-subscriber with an env filter (`RUST_LOG` wins over
//! `telemetry.filter`), human-readable or JSON. Installed once, by the binary;
//! tests and library users bring their own subscriber or none.
//!
//! What anyone on the network can cause is not an ERROR: actix-http's line
//! for a connection it dropped because of the client is filtered out here
//! (`QuietClientErrors`), whatever the filter says.

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogFormat, TelemetrySettings};

pub fn init(settings: &TelemetrySettings) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // `try_init`: a second call (or a host program's own subscriber) is not an error.
    let _ = match settings.format {
        LogFormat::Pretty => builder
            .compact()
            .finish()
            .with(QuietClientErrors)
            .try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .finish()
            .with(QuietClientErrors)
            .try_init(),
    };
}

/// Where actix-http reports the end of an HTTP/1 connection that failed.
const ACTIX_DISPATCHER: &str = "actix_http::h1::dispatcher";
/// How that report starts: the request could not be parsed (malformed,
/// head too large) or the client's socket failed, i.e. the client's doing.
const CLIENT_STREAM_ERROR: &str = "stream error";

/// Drops actix-http's `ERROR stream error: …` line. It is logged for every
/// connection that sent something unparsable or broke off, so anyone could
/// fill the error log (and page whoever watches it) with a few malformed
/// requests. The client got its 400 (or 431) already, and actix logs the
/// same failure at TRACE ("parse error …", "I/O error …", target
/// `actix_http::h1::dispatcher`) for whoever needs to see it. The
/// dispatcher's other errors (a response body that failed) stay.
struct QuietClientErrors;

impl<S: Subscriber> Layer<S> for QuietClientErrors {
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        !is_client_stream_error(event)
    }
}

fn is_client_stream_error(event: &Event<'_>) -> bool {
    let metadata = event.metadata();
    if *metadata.level() != Level::ERROR || metadata.target() != ACTIX_DISPATCHER {
        return false;
    }
    let mut message = Message(None);
    event.record(&mut message);
    message
        .0
        .is_some_and(|text| text.starts_with(CLIENT_STREAM_ERROR))
}

/// An event's `message` field, formatted.
struct Message(Option<String>);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

/// The span every request runs in: method, path and request id. Unlike
/// tracing-actix-web's default it leaves the query string out, because
/// sign-in callbacks carry one-time codes there (`?code=…&state=…`).
pub struct RequestSpan;

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        use actix_web::HttpMessage;
        let request_id = request
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.path(),
            request_id = %request_id,
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
