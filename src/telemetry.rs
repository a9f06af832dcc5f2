//! Logging: tracing to standard error, as text or one JSON object per line (`log_format`),
//! filtered by `log_filter` (tracing `EnvFilter` syntax). Every request runs in a span that
//! carries its request id, method, route and status. Nothing logged carries a field value.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, Sources};

/// Installs the global subscriber once; later calls do nothing. A filter that does not parse
/// falls back to `info`.
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Installs the subscriber for commands other than `serve`: the environment's format, and its
/// filter if one is set (`SLUIS_LOG_FILTER` or `RUST_LOG`), else warnings only — a command's
/// output is what it prints, not a log.
pub fn init_from_env() {
    let settings = Sources::gather(None, &toml::Table::new())
        .and_then(|s| s.settings())
        .unwrap_or_default();
    let filter_set = ["SLUIS_LOG_FILTER", "RUST_LOG"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    let filter = if filter_set {
        settings.log_filter.as_str()
    } else {
        "warn"
    };
    init(settings.log_format, filter);
}

/// The process's Prometheus recorder, installed on first use; `/metrics` renders it.
pub fn prometheus() -> &'static metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    HANDLE.get_or_init(|| {
        let buckets = [
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        // Buckets are refused only when empty; these are not.
        let builder = metrics_exporter_prometheus::PrometheusBuilder::new()
            .set_buckets(&buckets)
            .unwrap_or_else(|_| metrics_exporter_prometheus::PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder may be installed already (an embedding program's); then this handle
        // renders only what reaches it, which is nothing — not an error.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Counts one answered request by route template (never the concrete path: no ids) and status.
pub fn record_request(route: &str, method: &str, status: u16, seconds: f64) {
    let labels = [
        ("route", route.to_owned()),
        ("method", method.to_owned()),
        ("status", status.to_string()),
    ];
    metrics::counter!("sluis_http_requests_total", &labels).increment(1);
    metrics::histogram!("sluis_http_request_duration_seconds", "route" => route.to_owned())
        .record(seconds);
}

/// Time a request waited for its access event to be durable: in the queue, the group's writes
/// and its commit — not the request's own reads (what the access log adds to a request).
pub fn record_log_wait(seconds: f64) {
    metrics::histogram!("sluis_audit_wait_seconds").record(seconds);
}

/// Counts fields sealed (one age file each).
pub fn record_sealed(fields: usize) {
    metrics::counter!("sluis_fields_sealed_total").increment(fields as u64);
}

/// Counts slices served (the broker never opens; its clients do).
pub fn record_slice_served(fields: usize) {
    metrics::counter!("sluis_slices_served_total").increment(1);
    metrics::counter!("sluis_slice_fields_served_total").increment(fields as u64);
}

/// Sets the access log gauges: its size and the age of the latest checkpoint.
pub fn record_log(size: u64, last_checkpoint_age_secs: Option<i64>) {
    metrics::gauge!("sluis_audit_events").set(size as f64);
    if let Some(age) = last_checkpoint_age_secs {
        metrics::gauge!("sluis_audit_last_checkpoint_age_seconds").set(age as f64);
    }
}
