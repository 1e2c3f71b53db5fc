//! Logs: human-readable text by default, one JSON object per line with `LOG_FORMAT=json`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Starts logging from `LOG_FORMAT` and `DEBUG` alone, before the rest of the configuration is
/// read (invalid values are reported by the configuration right after).
pub fn init_from_env() {
    init_from_env_on(Output::Stdout);
}

/// Where log lines go: standard output (the service's), or standard error for a command whose
/// output is data (`saghat draw proof`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Stdout,
    Stderr,
}

/// [`init_from_env`], writing to `output`.
pub fn init_from_env_on(output: Output) {
    let env = |name: &str| std::env::var(name).unwrap_or_default().to_ascii_lowercase();
    let format = if env("LOG_FORMAT") == "json" {
        LogFormat::Json
    } else {
        LogFormat::Text
    };
    init_on(
        format,
        matches!(env("DEBUG").as_str(), "1" | "true" | "yes" | "on"),
        output,
    );
}

pub fn init(format: LogFormat, debug: bool) {
    init_on(format, debug, Output::Stdout);
}

fn init_on(format: LogFormat, debug: bool, output: Output) {
    let default = if debug {
        "saghat=debug,tower_http=debug,info"
    } else {
        "saghat=info,tower_http=info,warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Colour codes only for a terminal: in files, journald or a log collector they are noise.
    let terminal = match output {
        Output::Stdout => std::io::stdout().is_terminal(),
        Output::Stderr => std::io::stderr().is_terminal(),
    };
    let colour = terminal && std::env::var_os("NO_COLOR").is_none();
    let writer = move || -> Box<dyn std::io::Write> {
        match output {
            Output::Stdout => Box::new(std::io::stdout()),
            Output::Stderr => Box::new(std::io::stderr()),
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(writer)
        .with_target(true);
    // A second init (tests, or a CLI command that serves) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
