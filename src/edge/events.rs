//! The core's log events, written: one JSON line each (`console.log` for info and debug,
//! `console.error` for errors), and one data point each in the Analytics Engine dataset named
//! by `metrics_binding`, when it is bound (README: Logs and metrics).
//!
//! Never called on the hot path at the default level: the core returns no events there.

use crate::core::config::Config;
use crate::core::log::{Event, EventKind, LogLevel};
use worker::{console_error, console_log, AnalyticsEngineDataPointBuilder, AnalyticsEngineDataset, Env};

/// Writes `events` to the log and, with a dataset bound, to Analytics Engine.
pub(super) fn write(env: &Env, config: &Config, events: &[Event]) {
    for event in events {
        line(event);
    }
    if let Some(dataset) = config.metrics_binding.as_deref().and_then(|name| dataset(env, name)) {
        for event in events.iter().filter(|e| e.event != EventKind::Forwarded) {
            count(&dataset, event);
        }
    }
}

fn line(event: &Event) {
    let line = event.to_line();
    if event.level == LogLevel::Error {
        console_error!("{line}");
    } else {
        console_log!("{line}");
    }
}

/// The dataset, if the binding exists (workers-rs takes any object: Miniflare binds datasets as
/// plain objects, not instances of a class). Off the hot path, so workers-rs' builder is used as it
/// is (measured: ~1 KB gzip more than one hand-written call; BENCHMARKS.md Notes).
fn dataset(env: &Env, name: &str) -> Option<AnalyticsEngineDataset> {
    env.analytics_engine(name).ok()
}

/// One data point: blobs `event`, `provider`, `reason`; doubles `1` (a count, for `SUM`) and
/// `duration_ms`; index `provider` (the sampling key).
fn count(dataset: &AnalyticsEngineDataset, event: &Event) {
    let provider = event.provider.as_deref().unwrap_or("");
    let reason = event.reason.or(event.rule).unwrap_or("");
    let duration = event.duration_ms.unwrap_or(0) as f64;
    let point = AnalyticsEngineDataPointBuilder::new()
        .indexes([provider])
        .add_blob(event.event.as_str())
        .add_blob(provider)
        .add_blob(reason)
        .add_double(1)
        .add_double(duration)
        .build();
    if dataset.write_data_point(&point).is_err() {
        // Not an event of its own: a failing dataset must not multiply the log.
        console_error!(r#"{{"event":"internal_error","level":"error","reason":"metrics_write"}}"#);
    }
}

/// The configuration could not be validated: the message names the key and the fix (operator
/// text from the configuration, never request input).
pub(super) fn config_error(message: &str) {
    let mut event = Event::new(EventKind::ConfigError);
    event.reason = Some("config");
    event.detail = Some(message.to_owned());
    line(&event);
}

/// A fault of the shell itself (`reason`: which step), without the runtime's text, which can
/// quote the URL and its query.
pub(super) fn internal_error(reason: &'static str) {
    let mut event = Event::new(EventKind::InternalError);
    event.reason = Some(reason);
    line(&event);
}

/// A KV operation the core does not wait for failed (`reason`: which).
pub(super) fn kv_error(reason: &'static str) {
    let mut event = Event::new(EventKind::KvError);
    event.reason = Some(reason);
    line(&event);
}
