//! Python exceptions over Rust panics: `raise`, `try`/`except`/`else`/`finally`.
//!
//! Translated code raises an exception as a panic whose message is Python's
//! `"<ExceptionClass>: <str(exc)>"` (or the bare class name when there is no message). A `try`
//! statement runs its body through [`try_`], which catches the panic; each `except` clause tests
//! the class name with [`is`] against the names the translator lists for it (the class and every
//! subclass it knows of), and an exception no clause takes is raised again with [`reraise`].
//!
//! While a [`try_`] runs on a thread, the panic hook stays silent on that thread (an exception
//! that is handled prints nothing, as in Python); outside it, panics print as usual.

use std::any::Any;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

/// A raised exception: the payload of the panic that carried it.
pub type Exception = Box<dyn Any + Send + 'static>;

thread_local! {
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}
static HOOK: Once = Once::new();

/// Runs `body`; `Err` holds the exception it raised.
pub fn try_<T>(body: impl FnOnce() -> T) -> Result<T, Exception> {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if DEPTH.with(|d| d.get()) == 0 {
                previous(info);
            }
        }));
    });
    DEPTH.with(|d| d.set(d.get() + 1));
    let result = panic::catch_unwind(AssertUnwindSafe(body));
    DEPTH.with(|d| d.set(d.get() - 1));
    result
}

/// The panic's text: `"ValueError: bad value"`.
pub fn text(exc: &Exception) -> &str {
    if let Some(s) = exc.downcast_ref::<String>() {
        s
    } else if let Some(s) = exc.downcast_ref::<&'static str>() {
        s
    } else {
        ""
    }
}

/// The exception's class name. Panics of Rust's own checks carry the name of the exception
/// Python raises in their place (an index out of range is an `IndexError`).
pub fn name(exc: &Exception) -> &str {
    let text = text(exc);
    if text.starts_with("index out of bounds") {
        return "IndexError";
    }
    if text.starts_with("no entry found for key") {
        return "KeyError";
    }
    if text.starts_with("attempt to divide by zero")
        || text.starts_with("attempt to calculate the remainder with a divisor of zero")
    {
        return "ZeroDivisionError";
    }
    match text.find(": ") {
        Some(end) if is_class_name(&text[..end]) => &text[..end],
        _ if is_class_name(text) => text,
        _ => "",
    }
}

fn is_class_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `str(e)`: the message after the class name (empty when there is none).
pub fn message(exc: &Exception) -> String {
    let text = text(exc);
    let name = name(exc);
    if !name.is_empty() && text.starts_with(name) {
        text[name.len()..].strip_prefix(": ").unwrap_or("").to_string()
    } else {
        text.to_string()
    }
}

/// Whether the exception is an instance of one of `classes`.
pub fn is(exc: &Exception, classes: &[&str]) -> bool {
    let name = name(exc);
    classes.iter().any(|c| *c == name)
}

/// Raises the exception again, unchanged (a bare `raise`, or no clause took it).
pub fn reraise(exc: Exception) -> ! {
    panic::resume_unwind(exc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catches_an_exception_with_its_class_and_message() {
        let caught = try_(|| -> i32 { panic!("ValueError: invalid literal for int(): {:?}", "x") });
        let exc = caught.unwrap_err();
        assert_eq!(name(&exc), "ValueError");
        assert_eq!(message(&exc), "invalid literal for int(): \"x\"");
        assert!(is(&exc, &["KeyError", "ValueError"]));
        assert!(!is(&exc, &["KeyError"]));
    }

    #[test]
    fn a_class_without_a_message_and_rust_checks() {
        let exc = try_(|| panic!("StopIteration")).unwrap_err();
        assert_eq!((name(&exc), message(&exc)), ("StopIteration", String::new()));
        let v: Vec<i32> = Vec::new();
        let exc = try_(|| v[3]).unwrap_err();
        assert_eq!(name(&exc), "IndexError");
        let d: std::collections::HashMap<String, i32> = Default::default();
        let exc = try_(|| d["k"]).unwrap_err();
        assert_eq!(name(&exc), "KeyError");
        let exc = try_(|| panic!("assertion failed: x > 0")).unwrap_err();
        assert_eq!(name(&exc), "");
        assert_eq!(message(&exc), "assertion failed: x > 0");
    }

    #[test]
    fn a_value_passes_through_and_nested_tries_reraise() {
        assert_eq!(try_(|| 41 + 1).unwrap(), 42);
        let outer = try_(|| {
            let inner = try_(|| -> () { panic!("KeyError: 'k'") });
            match inner {
                Ok(()) => 0,
                Err(e) if is(&e, &["ValueError"]) => 1,
                Err(e) => reraise(e),
            }
        });
        let exc = outer.unwrap_err();
        assert_eq!((name(&exc), message(&exc)), ("KeyError", "'k'".to_string()));
    }
}
