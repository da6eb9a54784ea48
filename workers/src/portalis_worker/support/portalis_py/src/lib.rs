//! Python semantics for crates translated from Python by Portalis.
//!
//! Translated code calls into this crate where Python's behaviour has no one-line Rust equivalent.
//! It has no dependencies, so every translated crate builds with `cargo build --offline`.
//!
//! - [`re`]: Python's `re` module: a backtracking engine with Python's pattern syntax (groups,
//!   named groups, back-references, look-ahead and look-behind, lazy quantifiers, inline flags)
//!   and Python's rules for `search`, `match`, `fullmatch`, `findall`, `finditer`, `sub` and
//!   `split` (empty matches included). Positions are in characters, as in Python.
//! - [`text`]: Python's text forms (`repr` of a `str`).
//! - [`printable`]: which characters Python prints as themselves (`str.isprintable`), from a
//!   table generated from CPython's `unicodedata`.
//! - [`identifier`]: `str.isidentifier()`, from XID tables generated the same way.
//! - [`union`]: `Union[...]` values (`Union2` to `Union4`).
//! - [`hash`]: `hash()` of values that hold floats (equal numbers hash equal across types).
//! - [`log`]: `logging` as an unconfigured program sees it (warnings and above to stderr).
//! - [`exc`]: exceptions over panics: `try`/`except`/`else`/`finally`, matching by class name.

pub mod exc;
pub mod hash;
pub mod identifier;
pub mod log;
pub mod printable;
pub mod re;
pub mod text;
pub mod union;
