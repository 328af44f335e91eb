//! A minimal stderr logger for the binary, so the `log` facade needs no heavier backend.

use std::io::Write;

use log::{LevelFilter, Log, Metadata, Record};

struct StderrLogger {
    level: LevelFilter,
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level && metadata.target().starts_with("framechat")
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            // A closed or broken stderr must not take the server down: the line is dropped.
            let _ = writeln!(
                std::io::stderr(),
                "[{:<5} {}] {}",
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

/// Installs the logger at `level` (`error`, `warn`, `info`, `debug`, `trace`, `off`); a second call
/// keeps the first logger.
pub(crate) fn init(level: LevelFilter) {
    let logger = Box::leak(Box::new(StderrLogger { level }));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(level);
    }
}
