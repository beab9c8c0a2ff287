//! Logging: tracing-subscriber with an env filter (`RUST_LOG` wins over
//! `telemetry.filter`), human-readable or JSON. Installed once, by the binary;
//! tests and library users bring their own subscriber or none.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, TelemetrySettings};

pub fn init(settings: &TelemetrySettings) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // `try_init`: a second call (or a host program's own subscriber) is not an error.
    let _ = match settings.format {
        LogFormat::Pretty => builder.compact().try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
