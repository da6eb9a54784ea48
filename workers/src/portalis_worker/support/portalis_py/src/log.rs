//! Python's `logging` as an unconfigured program sees it.
//!
//! A library's `logging.getLogger(__name__)` has no handlers; Python then writes records of level
//! WARNING and above to stderr through its "last resort" handler, as the bare message, and drops the
//! others. A translated crate does the same. Configuring logging (handlers, levels) is outside the
//! translation.

/// `logging.DEBUG` ... `logging.CRITICAL`.
pub const DEBUG: isize = 10;
pub const INFO: isize = 20;
pub const WARNING: isize = 30;
pub const ERROR: isize = 40;
pub const CRITICAL: isize = 50;

/// A logger: what `logging.getLogger(name)` returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Logger;

impl Logger {
    /// `logging.getLogger(name)` (the name does not change what the last resort writes).
    pub const fn new() -> Self {
        Logger
    }

    /// Whether a record of `level` is written.
    pub fn enabled(&self, level: isize) -> bool {
        level >= WARNING
    }

    /// `logger.warning(message)` and the other levels: the message, already formatted.
    pub fn log(&self, level: isize, message: &str) {
        if self.enabled(level) {
            eprintln!("{message}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_warnings_and_above_are_written() {
        let logger = Logger::new();
        assert!(!logger.enabled(DEBUG));
        assert!(!logger.enabled(INFO));
        assert!(logger.enabled(WARNING));
        assert!(logger.enabled(CRITICAL));
        logger.log(ERROR, "written to stderr");
    }
}
