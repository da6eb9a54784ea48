//! `hash()` of values that hold floats, which Rust's `Hash` does not cover.
//!
//! Python requires equal values to hash equal, across numeric types too: `hash(1) == hash(1.0) ==
//! hash(True)`. [`PyHash`] follows that rule: a float with an integral value hashes as that
//! integer, a bool as 0 or 1, and tuples, lists, Optionals and unions hash their items. The numbers
//! differ from CPython's (as `hash()` of a str differs between CPython processes).

use std::hash::{Hash, Hasher};

/// Python's hashing, for values whose types may include `f64`.
pub trait PyHash {
    fn py_hash<H: Hasher>(&self, state: &mut H);
}

/// `hash(x)` for a value that holds floats.
pub fn hash<T: PyHash + ?Sized>(value: &T) -> isize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    value.py_hash(&mut hasher);
    hasher.finish() as isize
}

impl PyHash for isize {
    fn py_hash<H: Hasher>(&self, state: &mut H) {
        state.write_i64(*self as i64);
    }
}

impl PyHash for bool {
    fn py_hash<H: Hasher>(&self, state: &mut H) {
        (*self as isize).py_hash(state);
    }
}

impl PyHash for f64 {
    fn py_hash<H: Hasher>(&self, state: &mut H) {
        if self.fract() == 0.0 && self.abs() < 9.2e18 {
            (*self as isize).py_hash(state); // 2.0 == 2, and -0.0 == 0.0
        } else if self.is_nan() {
            state.write_u64(f64::NAN.to_bits());
        } else {
            state.write_u64(self.to_bits());
        }
    }
}

impl PyHash for u8 {
    fn py_hash<H: Hasher>(&self, state: &mut H) {
        state.write_u8(*self);
    }
}

impl PyHash for String {
    fn py_hash<H: Hasher>(&self, state: &mut H) {
        self.hash(state);
    }
}

impl PyHash for str {
    fn py_hash<H: Hasher>(&self, state: &mut H) {
        self.hash(state);
    }
}

impl PyHash for () {
    fn py_hash<H: Hasher>(&self, state: &mut H) {
        state.write_u8(0);
    }
}

impl<T: PyHash> PyHash for Vec<T> {
    fn py_hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        for item in self {
            item.py_hash(state);
        }
    }
}

impl<T: PyHash> PyHash for Option<T> {
    fn py_hash<H: Hasher>(&self, state: &mut H) {
        match self {
            None => state.write_u8(0),
            Some(v) => {
                state.write_u8(1);
                v.py_hash(state);
            }
        }
    }
}

impl<T: PyHash + ?Sized> PyHash for &T {
    fn py_hash<H: Hasher>(&self, state: &mut H) {
        (**self).py_hash(state);
    }
}

macro_rules! tuple_hash {
    ($($name:ident),+) => {
        impl<$($name: PyHash),+> PyHash for ($($name,)+) {
            #[allow(non_snake_case)]
            fn py_hash<HH: Hasher>(&self, state: &mut HH) {
                let ($($name,)+) = self;
                $($name.py_hash(state);)+
            }
        }
    };
}

tuple_hash!(A);
tuple_hash!(A, B);
tuple_hash!(A, B, C);
tuple_hash!(A, B, C, D);
tuple_hash!(A, B, C, D, E);
tuple_hash!(A, B, C, D, E, F);
tuple_hash!(A, B, C, D, E, F, G);
tuple_hash!(A, B, C, D, E, F, G, I);

macro_rules! union_hash {
    ($union:ident, $($v:ident),+) => {
        impl<$($v: PyHash),+> PyHash for crate::union::$union<$($v),+> {
            fn py_hash<HH: Hasher>(&self, state: &mut HH) {
                match self {
                    $(crate::union::$union::$v(x) => x.py_hash(state),)+
                }
            }
        }
    };
}

union_hash!(Union2, A, B);
union_hash!(Union3, A, B, C);
union_hash!(Union4, A, B, C, D);

#[cfg(test)]
mod tests {
    use super::hash;

    #[test]
    fn equal_numbers_hash_equal() {
        assert_eq!(hash(&1isize), hash(&1.0f64));
        assert_eq!(hash(&true), hash(&1isize));
        assert_eq!(hash(&0.0f64), hash(&-0.0f64));
        assert_eq!(hash(&(1isize, "a".to_string())), hash(&(1.0f64, "a".to_string())));
        assert_ne!(hash(&1.5f64), hash(&1isize));
        assert_eq!(hash(&vec![(0.5f64, "x".to_string())]), hash(&vec![(0.5f64, "x".to_string())]));
        let u: crate::union::Union2<isize, f64> = crate::union::Union2::B(3.0);
        assert_eq!(hash(&u), hash(&3isize));
    }
}
