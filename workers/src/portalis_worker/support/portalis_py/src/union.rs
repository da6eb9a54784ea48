//! `Union[...]` values: an enum with one variant per member type, in the order written.
//!
//! Equality and hashing are by variant and value (`1 == "1"` is false, as in Python). Ordering
//! compares two values of one member type; values of different member types raise `TypeError`,
//! as Python does. The default value is the first member's default (for locals declared before
//! their first assignment).

use std::cmp::Ordering;

macro_rules! union_type {
    ($name:ident, $($v:ident),+) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name<$($v),+> {
            $($v($v)),+
        }

        impl<$($v: PartialOrd),+> PartialOrd for $name<$($v),+> {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                match (self, other) {
                    $(($name::$v(a), $name::$v(b)) => a.partial_cmp(b),)+
                    #[allow(unreachable_patterns)]
                    _ => panic!("TypeError: '<' not supported between instances of different types"),
                }
            }
        }
    };
}

union_type!(Union2, A, B);
union_type!(Union3, A, B, C);
union_type!(Union4, A, B, C, D);

impl<A: Default, B> Default for Union2<A, B> {
    fn default() -> Self {
        Union2::A(A::default())
    }
}

impl<A: Default, B, C> Default for Union3<A, B, C> {
    fn default() -> Self {
        Union3::A(A::default())
    }
}

impl<A: Default, B, C, D> Default for Union4<A, B, C, D> {
    fn default() -> Self {
        Union4::A(A::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_ordering_and_hashing_follow_python() {
        let one: Union2<isize, String> = Union2::A(1);
        let text: Union2<isize, String> = Union2::B("1".to_string());
        assert_ne!(one, text);
        assert!(Union2::<isize, String>::A(1) < Union2::A(2));
        assert!(Union2::<isize, String>::B("a".into()) < Union2::B("b".into()));
        let mixed = std::panic::catch_unwind(|| one < text);
        assert!(mixed.is_err());
        let set: std::collections::HashSet<Union2<isize, String>> = [Union2::A(1), Union2::A(1)].into();
        assert_eq!(set.len(), 1);
        assert_eq!(Union3::<isize, String, bool>::default(), Union3::A(0));
    }
}
