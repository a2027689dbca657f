//! Where a connection is in its life.
//!
//! Owns [`Lifecycle`], the one state callers and the driver task share
//! (under the write lock) to say whether requests are accepted and how the
//! connection is to end. It replaces four flags whose combinations had to be
//! read together; the states are ordered, and a state only moves forward:
//!
//! ```text
//!   Open ──last handle dropped──▶ Draining ──close()──▶ Closing
//!    │  └────────────close()─────────────────────────────▲   │
//!    └──abort(), a lost cancel, a poisoned reply──▶ Aborting ◀┘
//!                           driver ends (any state) ──▶ Closed
//! ```
//!
//! A later request for a gentler end than the current one changes nothing
//! (`close()` after `abort()` stays aborting), so the order of the enum is
//! the order of severity.

/// A connection's lifecycle; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) enum Lifecycle {
    /// Requests are accepted.
    #[default]
    Open,
    /// The last handle was dropped: requests whose callers still listen (a
    /// stream being read, a COPY sink) finish, then Terminate is sent. New
    /// requests are refused; copy data is still taken.
    Draining,
    /// `Client::close`: what is already queued is written, then Terminate,
    /// without waiting for replies. New requests are refused; copy data is
    /// still taken.
    Closing,
    /// Ends at once: the driver drops the socket without writing what is
    /// queued (a connection that may never answer again must not hold
    /// anyone). Nothing more is taken.
    Aborting,
    /// The driver task has ended; every request was answered or failed.
    Closed,
}

impl Lifecycle {
    /// Moves to `to` unless the connection is already further along.
    pub(crate) fn advance(&mut self, to: Self) {
        if to > *self {
            *self = to;
        }
    }

    /// Whether new requests are accepted.
    pub(crate) fn accepts_requests(self) -> bool {
        self == Self::Open
    }

    /// Whether bytes for a request already accepted (copy data, the end of
    /// a COPY) are still taken, and callers waiting for room still wait.
    pub(crate) fn takes_bytes(self) -> bool {
        self < Self::Aborting
    }

    /// Whether the driver is to send Terminate once what it must finish is
    /// done (see [`Lifecycle::waits_for_replies`]).
    pub(crate) fn terminates(self) -> bool {
        matches!(self, Self::Draining | Self::Closing)
    }

    /// For a connection that terminates: whether requests whose callers
    /// still listen are answered first (the last handle dropped) or not
    /// (an explicit close, as libpq's `PQfinish`).
    pub(crate) fn waits_for_replies(self) -> bool {
        self == Self::Draining
    }

    /// Whether the driver is to drop the socket at once.
    pub(crate) fn aborts(self) -> bool {
        self >= Self::Aborting
    }
}

#[cfg(test)]
mod tests {
    use super::Lifecycle::{self, *};

    const ALL: [Lifecycle; 5] = [Open, Draining, Closing, Aborting, Closed];

    #[test]
    fn only_moves_forward() {
        for from in ALL {
            for to in ALL {
                let mut state = from;
                state.advance(to);
                assert_eq!(state, from.max(to), "{from:?} then {to:?}");
            }
        }
    }

    /// What each state allows, as a table: accepts requests, takes bytes,
    /// terminates, waits for replies, aborts.
    #[test]
    fn what_each_state_allows() {
        let table = [
            (Open, [true, true, false, false, false]),
            (Draining, [false, true, true, true, false]),
            (Closing, [false, true, true, false, false]),
            (Aborting, [false, false, false, false, true]),
            (Closed, [false, false, false, false, true]),
        ];
        for (state, want) in table {
            let got = [
                state.accepts_requests(),
                state.takes_bytes(),
                state.terminates(),
                state.terminates() && state.waits_for_replies(),
                state.aborts(),
            ];
            assert_eq!(got, want, "{state:?}");
        }
    }
}
