//! Python's text forms of values (`repr` of `str` and `bytes`), and `hash()`.

/// `hash(x)`: a hash that equal values share (the numbers differ from CPython's).
pub fn hash<T: std::hash::Hash + ?Sized>(value: &T) -> isize {
    use std::hash::Hasher;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish() as isize
}

/// `repr(s)` of a `str`: single quotes unless the text has a single quote and no double quote;
/// backslash, the quote, `\n`, `\r`, `\t` escaped; other characters Python does not print as
/// themselves (controls, separators other than the space, format characters) as `\xNN`, `\uNNNN`
/// or `\UNNNNNNNN`.
pub fn repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !printable(c) => {
                let n = c as u32;
                if n < 0x100 {
                    out.push_str(&format!("\\x{n:02x}"));
                } else if n < 0x10000 {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `repr(b)` of a `bytes`: `b'...'` (double quotes when it holds a single quote and no double
/// quote); printable ASCII as itself, `\\`, the quote, `\n`, `\r`, `\t` escaped, other bytes as `\xNN`.
pub fn bytes_repr(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') { b'"' } else { b'\'' };
    let mut out = String::with_capacity(b.len() + 3);
    out.push('b');
    out.push(quote as char);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c as char);
            }
            0x20..=0x7e => out.push(c as char),
            c => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push(quote as char);
    out
}

/// `str.isprintable()` for one character.
fn printable(c: char) -> bool {
    crate::printable::is_printable(c)
}

#[cfg(test)]
mod tests {
    use super::repr;

    #[test]
    fn equal_values_hash_equal() {
        assert_eq!(super::hash(&("a".to_string(), 1isize)), super::hash(&("a".to_string(), 1isize)));
        assert_ne!(super::hash("a"), super::hash("b"));
    }

    #[test]
    fn bytes_like_python() {
        use super::bytes_repr;
        assert_eq!(bytes_repr(b"ab"), "b'ab'");
        assert_eq!(bytes_repr(b"it's"), "b\"it's\"");
        assert_eq!(bytes_repr(b"\x00\xff\n\\"), "b'\\x00\\xff\\n\\\\'");
    }

    #[test]
    fn quotes_and_escapes_like_python() {
        assert_eq!(repr("big"), "'big'");
        assert_eq!(repr("it's"), "\"it's\"");
        assert_eq!(repr("'\""), "'\\'\"'");
        assert_eq!(repr("a\nb\t\\"), "'a\\nb\\t\\\\'");
        assert_eq!(repr("\u{7f}\u{a0}é\u{200b}"), "'\\x7f\\xa0é\\u200b'");
    }
}
