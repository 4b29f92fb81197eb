//! Where the server's log lines go and how they look (docs/http.md "Logs"):
//! stderr, as `text` (colour only when stderr is a terminal: journald and
//! files get no escape codes) or `json` (one object a line: `ts`, `level`,
//! `msg`, then the event's fields, for a log shipper to read without
//! parsing prose). `RUST_LOG` tunes what is logged (default `info`).

use std::fmt;
use std::io::IsTerminal;

use clap::ValueEnum;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// `--log-format` values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object a line.
    Json,
}

/// Send log lines to stderr in `format`, from now on.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // Set once per process; a second call (tests) keeps the first.
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.event_format(Json).try_init(),
    };
}

/// The `json` format: `{"ts":…,"level":…,"msg":…,FIELD:…}`.
struct Json;

impl<S, N> FormatEvent<S, N> for Json
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        writeln!(writer, "{}", Value::Object(json_line(event)))
    }
}

/// The object of one event.
fn json_line(event: &Event<'_>) -> Map<String, Value> {
    let mut fields = Fields(Map::new());
    event.record(&mut fields);
    let mut line = Map::new();
    line.insert(
        "ts".into(),
        chrono::Utc::now()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            .into(),
    );
    line.insert(
        "level".into(),
        event
            .metadata()
            .level()
            .as_str()
            .to_ascii_lowercase()
            .into(),
    );
    line.insert("msg".into(), fields.0.remove("message").unwrap_or_default());
    for (k, v) in fields.0 {
        // A field named like one of ours keeps ours and is renamed.
        let k = if line.contains_key(&k) {
            format!("field.{k}")
        } else {
            k
        };
        line.insert(k, v);
    }
    line
}

/// An event's fields as JSON values: numbers and booleans as such, the
/// rest as the strings the text format would show.
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
}
