"""Small Rust helper functions that give Python semantics where Rust's built-ins differ.

Each translated file carries only the helpers it calls (plus their dependencies), so the
output stays self-contained: no crate, no ``unsafe``, nothing but ``std``.
"""

from __future__ import annotations

HELPERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "py_floordiv": (
        """
/// Python `//` on ints: rounds toward negative infinity (Rust `/` truncates toward zero).
fn py_floordiv(a: isize, b: isize) -> isize {
    if b == 0 {
        panic!("ZeroDivisionError: integer division or modulo by zero");
    }
    let q = a / b;
    if a % b != 0 && ((a < 0) != (b < 0)) { q - 1 } else { q }
}
""",
        (),
    ),
    "py_mod": (
        """
/// Python `%` on ints: the result takes the sign of the divisor.
fn py_mod(a: isize, b: isize) -> isize {
    if b == 0 {
        panic!("ZeroDivisionError: integer division or modulo by zero");
    }
    let r = a % b;
    if r != 0 && ((r < 0) != (b < 0)) { r + b } else { r }
}
""",
        (),
    ),
    "py_fmod": (
        """
/// Python `%` on floats: the result takes the sign of the divisor.
fn py_fmod(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        panic!("ZeroDivisionError: float modulo");
    }
    let r = a % b;
    if r != 0.0 && ((r < 0.0) != (b < 0.0)) { r + b } else { r }
}
""",
        (),
    ),
    "py_ffloordiv": (
        """
/// Python `//` on floats.
fn py_ffloordiv(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        panic!("ZeroDivisionError: float floor division by zero");
    }
    (a / b).floor()
}
""",
        (),
    ),
    "py_div": (
        """
/// Python `/`: always a float, and division by zero raises instead of giving infinity.
fn py_div(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        panic!("ZeroDivisionError: division by zero");
    }
    a / b
}
""",
        (),
    ),
    "py_pow": (
        """
/// Python `**` on ints; a negative exponent would give a float in Python, so it panics here.
fn py_pow(base: isize, exp: isize) -> isize {
    if exp < 0 {
        panic!("negative integer exponent is not supported");
    }
    base.checked_pow(exp as u32).expect("OverflowError: integer overflow")
}
""",
        (),
    ),
    "py_index": (
        """
/// Python index: negative counts from the end; out of range raises IndexError.
fn py_index(i: isize, len: usize) -> usize {
    let j = if i < 0 { i + len as isize } else { i };
    if j < 0 || j as usize >= len {
        panic!("IndexError: index {} out of range for length {}", i, len);
    }
    j as usize
}
""",
        (),
    ),
    "py_str_index": (
        """
/// Python `s[i]`: the i-th character (not byte), as a one-character string.
fn py_str_index(s: &str, i: isize) -> String {
    let j = py_index(i, s.chars().count());
    s.chars().nth(j).map(String::from).unwrap_or_default()
}
""",
        ("py_index",),
    ),
    "py_slice_indices": (
        """
/// The indices Python's `seq[start:stop:step]` visits, with clamping and negative indices.
fn py_slice_indices(
    len: usize,
    start: Option<isize>,
    stop: Option<isize>,
    step: Option<isize>,
) -> Vec<usize> {
    let n = len as isize;
    let step = step.unwrap_or(1);
    if step == 0 {
        panic!("ValueError: slice step cannot be zero");
    }
    let norm = |v: isize| if v < 0 { v + n } else { v };
    let mut out = Vec::new();
    if step > 0 {
        let s = start.map_or(0, norm).clamp(0, n);
        let e = stop.map_or(n, norm).clamp(0, n);
        let mut i = s;
        while i < e {
            out.push(i as usize);
            i += step;
        }
    } else {
        let s = start.map_or(n - 1, norm).clamp(-1, n - 1);
        let e = stop.map_or(-1, norm).clamp(-1, n - 1);
        let mut i = s;
        while i > e {
            out.push(i as usize);
            i += step;
        }
    }
    out
}
""",
        (),
    ),
    "py_slice": (
        """
/// Python `list[start:stop:step]` (a copy).
fn py_slice<T: Clone>(v: &[T], start: Option<isize>, stop: Option<isize>, step: Option<isize>) -> Vec<T> {
    py_slice_indices(v.len(), start, stop, step).into_iter().map(|i| v[i].clone()).collect()
}
""",
        ("py_slice_indices",),
    ),
    "py_str_slice": (
        """
/// Python `str[start:stop:step]`, by characters.
fn py_str_slice(s: &str, start: Option<isize>, stop: Option<isize>, step: Option<isize>) -> String {
    let chars: Vec<char> = s.chars().collect();
    py_slice_indices(chars.len(), start, stop, step).into_iter().map(|i| chars[i]).collect()
}
""",
        ("py_slice_indices",),
    ),
    "py_range": (
        """
/// Python `range(start, stop, step)` for a step only known at run time.
fn py_range(start: isize, stop: isize, step: isize) -> Vec<isize> {
    if step == 0 {
        panic!("ValueError: range() arg 3 must not be zero");
    }
    let mut out = Vec::new();
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        out.push(i);
        i += step;
    }
    out
}
""",
        (),
    ),
    "py_min": (
        """
/// Python `min(iterable)`: the first smallest item; an empty iterable raises ValueError.
fn py_min<T: PartialOrd, I: IntoIterator<Item = T>>(items: I) -> T {
    let mut it = items.into_iter();
    let mut best = it.next().expect("ValueError: min() arg is an empty sequence");
    for x in it {
        if x < best {
            best = x;
        }
    }
    best
}
""",
        (),
    ),
    "py_max": (
        """
/// Python `max(iterable)`: the first largest item; an empty iterable raises ValueError.
fn py_max<T: PartialOrd, I: IntoIterator<Item = T>>(items: I) -> T {
    let mut it = items.into_iter();
    let mut best = it.next().expect("ValueError: max() arg is an empty sequence");
    for x in it {
        if x > best {
            best = x;
        }
    }
    best
}
""",
        (),
    ),
    "py_min_by": (
        """
/// Python `min(iterable, key=f)`: the first item with the smallest key.
fn py_min_by<T, K, I, F>(items: I, mut key: F) -> T
where
    T: Clone,
    K: PartialOrd,
    I: IntoIterator<Item = T>,
    F: FnMut(T) -> K,
{
    let mut it = items.into_iter();
    let mut best = it.next().expect("ValueError: min() arg is an empty sequence");
    let mut best_key = key(best.clone());
    for x in it {
        let k = key(x.clone());
        if k < best_key {
            best = x;
            best_key = k;
        }
    }
    best
}
""",
        (),
    ),
    "py_max_by": (
        """
/// Python `max(iterable, key=f)`: the first item with the largest key.
fn py_max_by<T, K, I, F>(items: I, mut key: F) -> T
where
    T: Clone,
    K: PartialOrd,
    I: IntoIterator<Item = T>,
    F: FnMut(T) -> K,
{
    let mut it = items.into_iter();
    let mut best = it.next().expect("ValueError: max() arg is an empty sequence");
    let mut best_key = key(best.clone());
    for x in it {
        let k = key(x.clone());
        if k > best_key {
            best = x;
            best_key = k;
        }
    }
    best
}
""",
        (),
    ),
    "py_sorted": (
        """
/// Python `sorted(...)`: a stable sort over any ordered items (f64 included).
fn py_sorted<T: PartialOrd>(mut v: Vec<T>) -> Vec<T> {
    v.sort_by(|a, b| a.partial_cmp(b).expect("TypeError: unorderable values"));
    v
}
""",
        (),
    ),
    "py_round": (
        """
/// Python `round(x)`: round half to even, giving an int.
fn py_round(x: f64) -> isize {
    x.round_ties_even() as isize
}
""",
        (),
    ),
    "py_round_digits": (
        """
/// Python `round(x, n)` for n >= 0: correctly rounded, half to even on the exact binary value (as
/// CPython does: `round(0.015, 2)` is 0.01, since 0.015 is stored as 0.01499...). Rust's `{:.n}`
/// formatting rounds the same way.
fn py_round_digits(x: f64, n: isize) -> f64 {
    if !x.is_finite() {
        return x;
    }
    if n < 0 {
        let scale = 10f64.powi(-n as i32);
        return (x / scale).round_ties_even() * scale;
    }
    format!("{:.*}", n as usize, x).parse::<f64>().unwrap_or(x)
}
""",
        (),
    ),
    "py_float_str": (
        """
/// Python `str(float)`: integral values keep a trailing `.0`.
fn py_float_str(x: f64) -> String {
    if x.is_finite() && x == x.trunc() && x.abs() < 1e16 {
        format!("{:.1}", x)
    } else if x.is_nan() {
        String::from("nan")
    } else {
        format!("{}", x)
    }
}
""",
        (),
    ),
    "py_int": (
        """
/// Python `int(str)`: surrounding whitespace allowed; anything else raises ValueError.
fn py_int(s: &str) -> isize {
    s.trim()
        .parse::<isize>()
        .unwrap_or_else(|_| panic!("ValueError: invalid literal for int(): {:?}", s))
}
""",
        (),
    ),
    "py_float": (
        """
/// Python `float(str)`.
fn py_float(s: &str) -> f64 {
    s.trim()
        .parse::<f64>()
        .unwrap_or_else(|_| panic!("ValueError: could not convert string to float: {:?}", s))
}
""",
        (),
    ),
    "py_radix": (
        """
/// Python `bin`/`oct`/`hex`: prefixed digits, with the sign in front.
fn py_radix(x: isize, prefix: &str) -> String {
    let mag = (x as i128).unsigned_abs();
    let digits = match prefix {
        "0b" => format!("{:b}", mag),
        "0o" => format!("{:o}", mag),
        _ => format!("{:x}", mag),
    };
    if x < 0 { format!("-{}{}", prefix, digits) } else { format!("{}{}", prefix, digits) }
}
""",
        (),
    ),
    "py_ord": (
        """
/// Python `ord(c)`: exactly one character.
fn py_ord(s: &str) -> isize {
    let mut it = s.chars();
    match (it.next(), it.next()) {
        (Some(c), None) => c as isize,
        _ => panic!("TypeError: ord() expected a character, got {:?}", s),
    }
}
""",
        (),
    ),
    "py_chr": (
        """
/// Python `chr(i)`.
fn py_chr(i: isize) -> String {
    u32::try_from(i)
        .ok()
        .and_then(char::from_u32)
        .map(String::from)
        .expect("ValueError: chr() arg not in range")
}
""",
        (),
    ),
    "py_split": (
        """
/// Python `str.split(sep)`.
fn py_split(s: &str, sep: &str) -> Vec<String> {
    if sep.is_empty() {
        panic!("ValueError: empty separator");
    }
    s.split(sep).map(String::from).collect()
}
""",
        (),
    ),
    "py_split_n": (
        """
/// Python `str.split(sep, maxsplit)` (a negative `maxsplit` is no limit).
fn py_split_n(s: &str, sep: &str, maxsplit: isize) -> Vec<String> {
    if sep.is_empty() {
        panic!("ValueError: empty separator");
    }
    if maxsplit < 0 {
        return s.split(sep).map(String::from).collect();
    }
    s.splitn(maxsplit as usize + 1, sep).map(String::from).collect()
}
""",
        (),
    ),
    "py_rsplit": (
        """
/// Python `str.rsplit(sep, maxsplit)` (a negative `maxsplit` is no limit); `sep` None splits on
/// runs of whitespace from the right, the rest keeping its leading whitespace.
fn py_rsplit(s: &str, sep: Option<&str>, maxsplit: isize) -> Vec<String> {
    if let Some(sep) = sep {
        if sep.is_empty() {
            panic!("ValueError: empty separator");
        }
        if maxsplit < 0 {
            return s.split(sep).map(String::from).collect();
        }
        let mut parts: Vec<String> = s.rsplitn(maxsplit as usize + 1, sep).map(String::from).collect();
        parts.reverse();
        return parts;
    }
    let mut out: Vec<String> = Vec::new();
    let mut end = s.trim_end().len();
    while end > 0 {
        if maxsplit >= 0 && out.len() == maxsplit as usize {
            out.push(s[..end].to_string());
            break;
        }
        let start = s[..end]
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8());
        out.push(s[start..end].to_string());
        end = s[..start].trim_end().len();
    }
    out.reverse();
    out
}
""",
        (),
    ),
    "py_partition": (
        """
/// Python `str.partition(sep)` (`rpartition` with `from_right`).
fn py_partition(s: &str, sep: &str, from_right: bool) -> (String, String, String) {
    if sep.is_empty() {
        panic!("ValueError: empty separator");
    }
    let found = if from_right { s.rfind(sep) } else { s.find(sep) };
    match found {
        Some(i) => (s[..i].to_string(), sep.to_string(), s[i + sep.len()..].to_string()),
        None if from_right => (String::new(), String::new(), s.to_string()),
        None => (s.to_string(), String::new(), String::new()),
    }
}
""",
        (),
    ),
    "py_find": (
        """
/// Python `str.find(sub)`: a character index, or -1.
fn py_find(s: &str, sub: &str) -> isize {
    match s.find(sub) {
        Some(b) => s[..b].chars().count() as isize,
        None => -1,
    }
}
""",
        (),
    ),
    "py_rfind": (
        """
/// Python `str.rfind(sub)`: a character index, or -1.
fn py_rfind(s: &str, sub: &str) -> isize {
    match s.rfind(sub) {
        Some(b) => s[..b].chars().count() as isize,
        None => -1,
    }
}
""",
        (),
    ),
    "py_str_count": (
        """
/// Python `str.count(sub)`: non-overlapping occurrences.
fn py_str_count(s: &str, sub: &str) -> isize {
    if sub.is_empty() {
        return s.chars().count() as isize + 1;
    }
    s.matches(sub).count() as isize
}
""",
        (),
    ),
    "py_list_index": (
        """
/// Python `list.index(x)`.
fn py_list_index<T: PartialEq>(v: &[T], x: &T) -> isize {
    v.iter().position(|e| e == x).expect("ValueError: value is not in list") as isize
}
""",
        (),
    ),
    "py_list_remove": (
        """
/// Python `list.remove(x)`: the first occurrence.
fn py_list_remove<T: PartialEq>(v: &mut Vec<T>, x: &T) {
    let i = v.iter().position(|e| e == x).expect("ValueError: list.remove(x): x not in list");
    v.remove(i);
}
""",
        (),
    ),
    "py_pop": (
        """
/// Python `list.pop(i)`.
fn py_pop<T>(v: &mut Vec<T>, i: isize) -> T {
    let j = py_index(i, v.len());
    v.remove(j)
}
""",
        ("py_index",),
    ),
    "py_list_repeat": (
        """
/// Python `list * n`.
fn py_list_repeat<T: Clone>(v: &[T], n: isize) -> Vec<T> {
    let mut out = Vec::new();
    for _ in 0..n.max(0) {
        out.extend_from_slice(v);
    }
    out
}
""",
        (),
    ),
    "py_isupper": (
        """
/// Python `str.isupper()`: some cased character, and no lowercase one.
fn py_isupper(s: &str) -> bool {
    s.chars().any(|c| c.is_uppercase()) && !s.chars().any(|c| c.is_lowercase())
}
""",
        (),
    ),
    "py_islower": (
        """
/// Python `str.islower()`: some cased character, and no uppercase one.
fn py_islower(s: &str) -> bool {
    s.chars().any(|c| c.is_lowercase()) && !s.chars().any(|c| c.is_uppercase())
}
""",
        (),
    ),
    "py_swapcase": (
        """
/// Python `str.swapcase()`.
fn py_swapcase(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_uppercase() {
                c.to_lowercase().collect::<String>()
            } else {
                c.to_uppercase().collect::<String>()
            }
        })
        .collect()
}
""",
        (),
    ),
    "py_capitalize": (
        """
/// Python `str.capitalize()`.
fn py_capitalize(s: &str) -> String {
    let mut it = s.chars();
    match it.next() {
        Some(first) => first.to_uppercase().collect::<String>() + &it.as_str().to_lowercase(),
        None => String::new(),
    }
}
""",
        (),
    ),
    "py_title": (
        """
/// Python `str.title()`: a cased character after an uncased one is upper case, others lower case.
fn py_title(s: &str) -> String {
    let mut out = String::new();
    let mut previous_cased = false;
    for c in s.chars() {
        if previous_cased {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        previous_cased = c.is_lowercase() || c.is_uppercase();
    }
    out
}
""",
        (),
    ),
    "py_zfill": (
        """
/// Python `str.zfill(width)`: zeros after a leading sign, width in characters.
fn py_zfill(s: &str, width: isize) -> String {
    let n = s.chars().count() as isize;
    if width <= n {
        return s.to_string();
    }
    let pad = "0".repeat((width - n) as usize);
    match s.chars().next() {
        Some(c) if c == '+' || c == '-' => format!("{}{}{}", c, pad, &s[c.len_utf8()..]),
        _ => format!("{}{}", pad, s),
    }
}
""",
        (),
    ),
    "py_math_domain": (
        """
/// Python's `math` raises `ValueError: math domain error` where `f64` would return NaN.
fn py_math_domain(v: f64, ok: fn(f64) -> bool) -> f64 {
    if !ok(v) {
        panic!("ValueError: math domain error");
    }
    v
}
""",
        (),
    ),
    "py_gcd": (
        """
/// Python `math.gcd`.
fn py_gcd(a: isize, b: isize) -> isize {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}
""",
        (),
    ),
    "py_isqrt": (
        """
/// Python `math.isqrt`.
fn py_isqrt(n: isize) -> isize {
    if n < 0 {
        panic!("ValueError: isqrt() argument must be nonnegative");
    }
    let mut r = (n as f64).sqrt() as isize;
    while r * r > n {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= n {
        r += 1;
    }
    r
}
""",
        (),
    ),
    "py_factorial": (
        """
/// Python `math.factorial`.
fn py_factorial(n: isize) -> isize {
    if n < 0 {
        panic!("ValueError: factorial() not defined for negative values");
    }
    (1..=n).product()
}
""",
        (),
    ),
    "py_modpow": (
        """
/// Python `pow(base, exp, m)` for exp >= 0.
fn py_modpow(base: isize, exp: isize, m: isize) -> isize {
    if exp < 0 {
        panic!("negative exponent in pow() is not supported");
    }
    let mut result: i128 = 1 % m as i128;
    let mut b = (base as i128).rem_euclid(m as i128);
    let mut e = exp;
    while e > 0 {
        if e & 1 == 1 {
            result = result * b % m as i128;
        }
        b = b * b % m as i128;
        e >>= 1;
    }
    py_mod(result as isize, m)
}
""",
        ("py_mod",),
    ),
}


def expand(names: set[str]) -> list[str]:
    """The Rust source of ``names`` and everything they call, in a stable order."""
    todo = list(names)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(HELPERS[name][1])
    return [HELPERS[n][0].strip() for n in sorted(seen)]
