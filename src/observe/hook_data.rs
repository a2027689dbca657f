//! The value a hook's `*_start` returns and its `*_end` gets back.
//!
//! Owns [`HookData`]. It is empty unless a hook puts something in it, so a
//! hook that only counts or times costs no allocation.

use std::any::Any;
use std::fmt;

/// What a hook's start method hands to the matching end method: nothing
/// (the default, no allocation), or any value the hook boxes (a span, an
/// id, a start time of its own).
#[derive(Default)]
pub struct HookData(Option<Box<dyn Any + Send + Sync>>);

impl HookData {
    /// Nothing to carry.
    pub const fn none() -> Self {
        Self(None)
    }

    /// Carries `value` to the end method (one allocation).
    pub fn new<T: Any + Send + Sync>(value: T) -> Self {
        Self(Some(Box::new(value)))
    }

    /// Takes the value back, if it is a `T`.
    pub fn take<T: Any>(self) -> Option<T> {
        self.0?.downcast::<T>().ok().map(|b| *b)
    }

    /// The value, if it is a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.as_ref()?.downcast_ref::<T>()
    }

    /// Whether it carries nothing.
    pub fn is_none(&self) -> bool {
        self.0.is_none()
    }
}

impl fmt::Debug for HookData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "HookData(Some(..))"
        } else {
            "HookData(None)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carries_a_value_of_the_asked_type_only() {
        assert!(HookData::none().is_none());
        assert_eq!(HookData::new(7u32).take::<u32>(), Some(7));
        assert_eq!(HookData::new(7u32).take::<u64>(), None);
        assert_eq!(HookData::new("x").get::<&str>(), Some(&"x"));
        assert_eq!(HookData::none().take::<u32>(), None);
    }
}
