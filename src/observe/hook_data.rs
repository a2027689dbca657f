//! The value a hook's `*_start` returns and its `*_end` gets back.
//!
//! Owns [`HookData`]. It is empty unless a hook puts something in it, so a
//! hook that only counts or times costs no allocation; a `tracing` span
//! (what the bundled `Spans` hook carries) is kept inline, so one costs
//! none either.

use std::any::Any;
use std::fmt;

/// What a hook's start method hands to the matching end method: nothing
/// (the default, no allocation), a `tracing::Span` (kept inline, no
/// allocation), or any other value the hook boxes (a start time of its
/// own, an id).
#[derive(Default)]
pub struct HookData(Inner);

#[derive(Default)]
enum Inner {
    #[default]
    None,
    #[cfg(feature = "runtime")]
    Span(tracing::Span),
    Boxed(Box<dyn Any + Send + Sync>),
}

impl HookData {
    /// Nothing to carry.
    pub const fn none() -> Self {
        Self(Inner::None)
    }

    /// Carries `value` to the end method: inline when it is a
    /// `tracing::Span`, else in one allocation.
    pub fn new<T: Any + Send + Sync>(value: T) -> Self {
        #[cfg_attr(not(feature = "runtime"), allow(unused_mut))]
        let mut slot = Some(value);
        // The type test is resolved at compile time for each `T`.
        #[cfg(feature = "runtime")]
        if let Some(span) = (&mut slot as &mut dyn Any)
            .downcast_mut::<Option<tracing::Span>>()
            .and_then(Option::take)
        {
            return Self(Inner::Span(span));
        }
        match slot {
            Some(value) => Self(Inner::Boxed(Box::new(value))),
            None => Self::none(),
        }
    }

    /// Takes the value back, if it is a `T`.
    pub fn take<T: Any>(self) -> Option<T> {
        match self.0 {
            Inner::None => None,
            #[cfg(feature = "runtime")]
            Inner::Span(span) => {
                let mut slot = Some(span);
                (&mut slot as &mut dyn Any)
                    .downcast_mut::<Option<T>>()
                    .and_then(Option::take)
            }
            Inner::Boxed(value) => value.downcast::<T>().ok().map(|b| *b),
        }
    }

    /// The value, if it is a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        match &self.0 {
            Inner::None => None,
            #[cfg(feature = "runtime")]
            Inner::Span(span) => (span as &dyn Any).downcast_ref::<T>(),
            Inner::Boxed(value) => value.downcast_ref::<T>(),
        }
    }

    /// Whether it carries nothing.
    pub fn is_none(&self) -> bool {
        matches!(self.0, Inner::None)
    }
}

impl fmt::Debug for HookData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_none() {
            "HookData(None)"
        } else {
            "HookData(Some(..))"
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

    #[cfg(feature = "runtime")]
    #[test]
    fn carries_a_span_inline_and_gives_it_back() {
        let data = HookData::new(tracing::Span::none());
        assert!(matches!(data.0, Inner::Span(_)));
        assert!(data.get::<tracing::Span>().is_some());
        assert!(data.get::<u32>().is_none());
        assert!(data.take::<tracing::Span>().is_some());
        assert_eq!(HookData::new(tracing::Span::none()).take::<u32>(), None);
    }
}
