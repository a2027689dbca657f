//! [`CausalToken`]: a session's read-your-writes position.
//!
//! Owns the token's rules: it holds the log position of the session's
//! latest write (the WAL insert position read with the COMMIT), only moves
//! forward, and travels between processes as `pg_lsn` text (`0/4003A88`).
//! Reading it from the server and waiting on a replica belong to the layer
//! above; this module is pure.

use std::fmt;
use std::str::FromStr;

use super::lsn::{Lsn, LsnParseError};
use super::preference::ReadPolicy;

/// The position a session's reads must see: a replica qualifies once it has
/// replayed up to it. The default (`0/0`) asks for nothing.
///
/// ```
/// use pgline::cluster::causal::CausalToken;
/// use pgline::cluster::Lsn;
///
/// let mut token = CausalToken::default();
/// token.advance(Lsn::new(0x0400_3A88));
/// token.advance(Lsn::new(0x0400_0000)); // older: ignored
/// assert_eq!(token.to_string(), "0/4003A88");
///
/// // Another process picks up where this one wrote.
/// let theirs: CausalToken = token.to_string().parse().unwrap();
/// assert_eq!(theirs, token);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct CausalToken(Lsn);

impl CausalToken {
    /// A token at `lsn`.
    pub const fn new(lsn: Lsn) -> Self {
        Self(lsn)
    }

    /// The position.
    pub const fn lsn(self) -> Lsn {
        self.0
    }

    /// Moves the token to `lsn` if that is later; returns whether it moved.
    pub fn advance(&mut self, lsn: Lsn) -> bool {
        let moved = lsn > self.0;
        if moved {
            self.0 = lsn;
        }
        moved
    }

    /// Takes in another session's token (imported from text, say): the
    /// later of the two wins.
    pub fn merge(&mut self, other: Self) -> bool {
        self.advance(other.0)
    }

    /// Whether a node that has replayed up to `replayed` has seen every
    /// write the token covers.
    pub fn is_satisfied_by(self, replayed: Lsn) -> bool {
        replayed >= self.0
    }

    /// `policy` made causal with this token (unchanged for `0/0`).
    pub fn apply(self, policy: ReadPolicy) -> ReadPolicy {
        if self.0 == Lsn::ZERO {
            policy
        } else {
            policy.with_min_replay_lsn(self.0)
        }
    }
}

impl fmt::Display for CausalToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for CausalToken {
    type Err = LsnParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::preference::ReadPreference;
    use proptest::prelude::*;

    #[test]
    fn moves_only_forward_and_applies_to_a_policy() {
        let mut token = CausalToken::default();
        let base = ReadPolicy::new(ReadPreference::ReplicaPreferred);
        assert_eq!(token.apply(base), base, "0/0 asks for nothing");
        assert!(token.is_satisfied_by(Lsn::ZERO));
        assert!(token.advance(Lsn::new(500)));
        assert!(!token.advance(Lsn::new(400)));
        assert!(!token.advance(Lsn::new(500)));
        assert_eq!(token.lsn(), Lsn::new(500));
        assert!(!token.merge(CausalToken::new(Lsn::new(10))));
        assert!(token.merge(CausalToken::new(Lsn::new(900))));
        assert!(!token.is_satisfied_by(Lsn::new(899)));
        assert!(token.is_satisfied_by(Lsn::new(900)));
        assert_eq!(token.apply(base).min_replay_lsn, Some(Lsn::new(900)));
    }

    #[test]
    fn text_form_round_trips_and_rejects_garbage() {
        let token: CausalToken = "0/4003A88".parse().unwrap();
        assert_eq!(token.lsn(), Lsn::new(0x0400_3A88));
        assert_eq!(token.to_string(), "0/4003A88");
        assert_eq!(
            "0/4003A88x".parse::<CausalToken>(),
            Err(LsnParseError::InvalidDigit { position: 9 })
        );
        assert_eq!("".parse::<CausalToken>(), Err(LsnParseError::Empty));
    }

    proptest! {
        #[test]
        fn token_is_the_maximum_seen(lsns in proptest::collection::vec(any::<u64>(), 0..50)) {
            let mut token = CausalToken::default();
            for &lsn in &lsns {
                let before = token;
                token.advance(Lsn::new(lsn));
                prop_assert!(token >= before);
            }
            let max = lsns.iter().copied().max().unwrap_or(0);
            prop_assert_eq!(token.lsn(), Lsn::new(max));
            prop_assert_eq!(token.to_string().parse::<CausalToken>(), Ok(token));
        }
    }
}
