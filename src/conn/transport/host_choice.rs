//! libpq's rules for choosing among several hosts, as pure decisions:
//! which server a `target_session_attrs` value accepts ([`judge`]), what a
//! check query's answer means ([`read_answer`]), when prefer-standby starts
//! its second pass ([`next_pass`]), where a failed attempt goes next
//! ([`after_failure`]), and the `load_balance_hosts=random` shuffle with a
//! seedable generator ([`HostRng`]).
//!
//! Owns the decisions only. It must not open sockets, run queries, read a
//! clock or draw from the OS (except [`HostRng::from_os`], which callers use
//! to seed): `connect.rs` does the I/O and asks here what to do next, so
//! every rule is tested without a server.
//!
//! The walk over hosts, as `connect.rs` drives it:
//!
//! ```text
//!  pass First ─► host 1 ─► addr 1 ─► addr 2 … ─► host 2 … ─► hosts exhausted
//!                  │ connected: judge(attrs, pass, role)          │
//!                  ├─ Accept ─────────────► done                  │ next_pass
//!                  ├─ Ask(check) ─► read_answer ─► judge again    ├─ Some(AnyRole):
//!                  └─ Reject ─► next host (its other addresses    │   from host 1 again
//!                               are skipped)                      └─ None: fail with
//!                                                                     the last error
//! ```
//!
//! A failed attempt moves on per [`after_failure`]: a socket that cannot be
//! opened, or an address that times out (`connect_timeout`), goes to the
//! next address; a server that answers 57P03 (cannot connect now), rejects
//! the role, or fails the check query goes to the next host; anything else
//! (authentication failed, any other server error at startup, an I/O error
//! or protocol violation once the socket is open) ends the whole attempt,
//! as in libpq ("if authentication fails, the remaining hosts are not
//! tried").

use crate::config::TargetSessionAttrs;
use crate::conn::transport::endpoint::ServerRole;
use crate::error::SqlState;

/// Which pass over the host list is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// The only pass, or prefer-standby's first (standbys only).
    First,
    /// prefer-standby found no standby: every host again, any role.
    AnyRole,
}

/// A query that settles a role the server did not report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// `SHOW transaction_read_only`: for read-write and read-only.
    TransactionReadOnly,
    /// `SELECT pg_catalog.pg_is_in_recovery()`: for primary, standby and
    /// prefer-standby.
    InRecovery,
}

impl Check {
    /// The query, exactly as libpq sends it.
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Self::TransactionReadOnly => "SHOW transaction_read_only",
            Self::InRecovery => "SELECT pg_catalog.pg_is_in_recovery()",
        }
    }
}

/// Why a connected server was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// read-write asked, the session is read-only.
    ReadOnly,
    /// read-only asked, the session is read-write.
    NotReadOnly,
    /// primary asked, the server is a hot standby.
    HotStandby,
    /// standby (or prefer-standby's first pass) asked, the server is not a
    /// hot standby.
    NotHotStandby,
    /// The check query failed or returned no single row.
    CheckFailed(Check),
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ReadOnly => f.write_str("session is read-only"),
            Self::NotReadOnly => f.write_str("session is not read-only"),
            Self::HotStandby => f.write_str("server is in hot standby mode"),
            Self::NotHotStandby => f.write_str("server is not in hot standby mode"),
            Self::CheckFailed(check) => write!(f, "\"{}\" failed", check.sql()),
        }
    }
}

impl std::error::Error for Rejection {}

/// What to do with a connected server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Hand the connection to the caller.
    Accept,
    /// The role is not known well enough: run this query, feed its answer
    /// to [`read_answer`] and judge again.
    Ask(Check),
    /// Close it politely and go to the next host.
    Reject(Rejection),
}

/// Judges a connected server by what it reported (or what a check query
/// established), in libpq's order:
///
/// - read-write / read-only need both `default_transaction_read_only` and
///   `in_hot_standby`; either unknown asks `SHOW transaction_read_only`.
///   The session is read-only when either is on.
/// - primary / standby / prefer-standby (first pass) need
///   `in_hot_standby`; unknown asks `pg_is_in_recovery()`, except on
///   servers before 9.0 (`pre_9_0`), which have no standby mode and count
///   as not in recovery.
/// - any, and prefer-standby's second pass, accept every server.
pub(crate) fn judge(
    attrs: TargetSessionAttrs,
    pass: Pass,
    role: ServerRole,
    pre_9_0: bool,
) -> Verdict {
    use TargetSessionAttrs as T;
    match (attrs, pass) {
        (T::ReadWrite | T::ReadOnly, _) => {
            let Some(read_only) = role.is_read_only() else {
                return Verdict::Ask(Check::TransactionReadOnly);
            };
            match (attrs, read_only) {
                (T::ReadWrite, true) => Verdict::Reject(Rejection::ReadOnly),
                (T::ReadOnly, false) => Verdict::Reject(Rejection::NotReadOnly),
                _ => Verdict::Accept,
            }
        }
        (T::Primary | T::Standby, _) | (T::PreferStandby, Pass::First) => {
            let standby = match role.in_hot_standby {
                Some(standby) => standby,
                None if pre_9_0 => false,
                None => return Verdict::Ask(Check::InRecovery),
            };
            match (attrs, standby) {
                (T::Primary, true) => Verdict::Reject(Rejection::HotStandby),
                (T::Primary, false) => Verdict::Accept,
                (_, false) => Verdict::Reject(Rejection::NotHotStandby),
                (_, true) => Verdict::Accept,
            }
        }
        (T::Any, _) | (T::PreferStandby, Pass::AnyRole) => Verdict::Accept,
    }
}

/// The role a check query established, from its only row's only value
/// (`None`: SQL NULL), or the rejection when the query failed or did not
/// return exactly one row (`rows` is the row count).
///
/// As libpq reads it: `transaction_read_only` starting with `on` sets both
/// parameters on (which of the two is on does not matter for read-write or
/// read-only), anything else both off; `pg_is_in_recovery()` starting with
/// `t` sets `in_hot_standby` on, anything else off.
pub(crate) fn read_answer(
    check: Check,
    role: ServerRole,
    rows: usize,
    value: Option<&str>,
) -> Result<ServerRole, Rejection> {
    if rows != 1 {
        return Err(Rejection::CheckFailed(check));
    }
    let value = value.unwrap_or("");
    Ok(match check {
        Check::TransactionReadOnly => {
            let on = value.starts_with("on");
            ServerRole::new(Some(on), Some(on))
        }
        Check::InRecovery => ServerRole::new(
            Some(value.starts_with('t')),
            role.default_transaction_read_only,
        ),
    })
}

/// The pass to run once every host of `pass` has been tried without
/// success: prefer-standby gets a second pass from the first host that
/// accepts any role; everything else has failed.
pub(crate) fn next_pass(attrs: TargetSessionAttrs, pass: Pass) -> Option<Pass> {
    match (attrs, pass) {
        (TargetSessionAttrs::PreferStandby, Pass::First) => Some(Pass::AnyRole),
        _ => None,
    }
}

/// Whether `server_version` (as the server reports it, e.g. `8.4.22`,
/// `9.6.3`, `15.8 (Debian 15.8-1)`) is older than 9.0. An unreadable
/// version counts as new.
pub(crate) fn before_9_0(server_version: Option<&str>) -> bool {
    let Some(version) = server_version else {
        return false;
    };
    let major: String = version.chars().take_while(char::is_ascii_digit).collect();
    major.parse::<u32>().is_ok_and(|major| major < 9)
}

/// Where an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Opening the socket (TCP connect, or the Unix socket file).
    Socket,
    /// `connect_timeout` ran out for this address.
    Timeout,
    /// After the socket opened: TLS, the startup exchange, authentication.
    Startup,
    /// Running the check query.
    Check,
}

/// Where to go after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// The host's next address (the next host when it has no more).
    Address,
    /// The next host; this host's other addresses are skipped.
    Host,
    /// No further host: the connect fails with this error.
    Stop,
}

/// libpq's rule for what follows a failure at `stage`, given the SQLSTATE
/// of the server's error, if the failure was one: see the module docs.
pub(crate) fn after_failure(stage: Stage, code: Option<&SqlState>) -> Next {
    match stage {
        Stage::Socket | Stage::Timeout => Next::Address,
        Stage::Startup if code == Some(&SqlState::CANNOT_CONNECT_NOW) => Next::Host,
        Stage::Check if code.is_some() => Next::Host,
        Stage::Startup | Stage::Check => Next::Stop,
    }
}

/// The generator behind `load_balance_hosts=random`: the crate's jitter
/// generator (SplitMix64 over an atomic state, so one generator serves
/// concurrent connects and a fixed seed replays the same orders). Not for
/// cryptography.
pub(crate) type HostRng = crate::jitter::Jitter;

#[cfg(test)]
mod tests {
    use super::*;
    use TargetSessionAttrs as T;

    const ALL_ATTRS: [T; 6] = [
        T::Any,
        T::ReadWrite,
        T::ReadOnly,
        T::Primary,
        T::Standby,
        T::PreferStandby,
    ];
    const VALUES: [Option<bool>; 3] = [None, Some(false), Some(true)];

    /// One letter per verdict: A accept, w/r ask SHOW transaction_read_only
    /// / pg_is_in_recovery(), R reject.
    fn letter(v: Verdict) -> char {
        match v {
            Verdict::Accept => 'A',
            Verdict::Ask(Check::TransactionReadOnly) => 'w',
            Verdict::Ask(Check::InRecovery) => 'r',
            Verdict::Reject(_) => 'R',
        }
    }

    /// Every (attrs, pass, in_hot_standby, default_transaction_read_only)
    /// combination. Each row lists the nine roles in the order
    /// (hs, ro) = (?,?) (?,off) (?,on) (off,?) (off,off) (off,on) (on,?)
    /// (on,off) (on,on), `?` meaning not reported; read from libpq's
    /// CONNECTION_CHECK_TARGET.
    #[test]
    fn verdict_table_is_libpqs() {
        let table: [(T, Pass, &str); 12] = [
            (T::Any, Pass::First, "AAAAAAAAA"),
            (T::Any, Pass::AnyRole, "AAAAAAAAA"),
            (T::ReadWrite, Pass::First, "wwwwARwRR"),
            (T::ReadWrite, Pass::AnyRole, "wwwwARwRR"),
            (T::ReadOnly, Pass::First, "wwwwRAwAA"),
            (T::ReadOnly, Pass::AnyRole, "wwwwRAwAA"),
            (T::Primary, Pass::First, "rrrAAARRR"),
            (T::Primary, Pass::AnyRole, "rrrAAARRR"),
            (T::Standby, Pass::First, "rrrRRRAAA"),
            (T::Standby, Pass::AnyRole, "rrrRRRAAA"),
            (T::PreferStandby, Pass::First, "rrrRRRAAA"),
            (T::PreferStandby, Pass::AnyRole, "AAAAAAAAA"),
        ];
        for (attrs, pass, expected) in table {
            let mut got = String::new();
            for hs in VALUES {
                for ro in VALUES {
                    got.push(letter(judge(attrs, pass, ServerRole::new(hs, ro), false)));
                }
            }
            assert_eq!(got, expected, "{attrs:?} {pass:?}");
        }
        // The table covers every value of both enums.
        for attrs in ALL_ATTRS {
            assert_eq!(table.iter().filter(|(a, _, _)| *a == attrs).count(), 2);
        }
    }

    #[test]
    fn rejections_name_what_was_wrong_as_libpq_does() {
        let role = |hs, ro| ServerRole::new(Some(hs), Some(ro));
        let reject = |attrs, r| match judge(attrs, Pass::First, r, false) {
            Verdict::Reject(why) => why.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            reject(T::ReadWrite, role(false, true)),
            "session is read-only"
        );
        assert_eq!(
            reject(T::ReadOnly, role(false, false)),
            "session is not read-only"
        );
        assert_eq!(
            reject(T::Primary, role(true, true)),
            "server is in hot standby mode"
        );
        assert_eq!(
            reject(T::Standby, role(false, false)),
            "server is not in hot standby mode"
        );
        assert_eq!(
            Rejection::CheckFailed(Check::InRecovery).to_string(),
            "\"SELECT pg_catalog.pg_is_in_recovery()\" failed"
        );
    }

    #[test]
    fn servers_before_9_0_have_no_standby_mode() {
        let unknown = ServerRole::default();
        for (attrs, expected) in [
            (T::Primary, 'A'),
            (T::Standby, 'R'),
            (T::PreferStandby, 'R'),
            // read-write still needs SHOW transaction_read_only.
            (T::ReadWrite, 'w'),
            (T::Any, 'A'),
        ] {
            assert_eq!(
                letter(judge(attrs, Pass::First, unknown, true)),
                expected,
                "{attrs:?}"
            );
        }
        assert!(before_9_0(Some("8.4.22")));
        assert!(before_9_0(Some("7")));
        assert!(!before_9_0(Some("9.0.1")));
        assert!(!before_9_0(Some("15.8 (Debian 15.8-1.pgdg120+1)")));
        assert!(!before_9_0(Some("devel")));
        assert!(!before_9_0(None));
    }

    #[test]
    fn check_answers_as_libpq_reads_them() {
        let unknown = ServerRole::default();
        let show = Check::TransactionReadOnly;
        let rec = Check::InRecovery;
        let both = |on| ServerRole::new(Some(on), Some(on));
        assert_eq!(read_answer(show, unknown, 1, Some("on")), Ok(both(true)));
        assert_eq!(read_answer(show, unknown, 1, Some("off")), Ok(both(false)));
        assert_eq!(read_answer(show, unknown, 1, Some("only")), Ok(both(true)));
        assert_eq!(read_answer(show, unknown, 1, None), Ok(both(false)));
        let ro = ServerRole::new(None, Some(true));
        assert_eq!(
            read_answer(rec, ro, 1, Some("t")),
            Ok(ServerRole::new(Some(true), Some(true)))
        );
        assert_eq!(
            read_answer(rec, ro, 1, Some("f")),
            Ok(ServerRole::new(Some(false), Some(true)))
        );
        assert_eq!(
            read_answer(rec, unknown, 1, Some("true")),
            Ok(ServerRole::new(Some(true), None))
        );
        for rows in [0, 2] {
            assert_eq!(
                read_answer(rec, unknown, rows, Some("t")),
                Err(Rejection::CheckFailed(rec))
            );
            assert_eq!(
                read_answer(show, unknown, rows, Some("on")),
                Err(Rejection::CheckFailed(show))
            );
        }
        // After an answer, the judgement no longer asks.
        for attrs in ALL_ATTRS {
            for check in [show, rec] {
                for value in ["on", "off", "t", "f"] {
                    let role = read_answer(check, unknown, 1, Some(value)).unwrap();
                    let needed = match attrs {
                        T::ReadWrite | T::ReadOnly => check == show,
                        _ => true,
                    };
                    if needed {
                        assert!(
                            !matches!(judge(attrs, Pass::First, role, false), Verdict::Ask(_)),
                            "{attrs:?} {check:?} {value}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn only_prefer_standby_gets_a_second_pass() {
        for attrs in ALL_ATTRS {
            let expected = (attrs == T::PreferStandby).then_some(Pass::AnyRole);
            assert_eq!(next_pass(attrs, Pass::First), expected, "{attrs:?}");
            assert_eq!(next_pass(attrs, Pass::AnyRole), None, "{attrs:?}");
        }
    }

    #[test]
    fn failures_move_on_as_in_libpq() {
        let auth = SqlState::INVALID_PASSWORD;
        let too_many = SqlState::TOO_MANY_CONNECTIONS;
        let now = SqlState::CANNOT_CONNECT_NOW;
        let cases = [
            (Stage::Socket, None, Next::Address),
            (Stage::Timeout, None, Next::Address),
            (Stage::Startup, Some(&now), Next::Host),
            (Stage::Startup, Some(&auth), Next::Stop),
            (Stage::Startup, Some(&too_many), Next::Stop),
            (Stage::Startup, None, Next::Stop),
            (Stage::Check, Some(&too_many), Next::Host),
            (Stage::Check, None, Next::Stop),
        ];
        for (stage, code, expected) in cases {
            assert_eq!(after_failure(stage, code), expected, "{stage:?} {code:?}");
        }
    }

    #[test]
    fn shuffle_is_seeded_uniform_and_a_permutation() {
        let a = HostRng::with_seed(7);
        let b = HostRng::with_seed(7);
        let mut x: Vec<u32> = (0..10).collect();
        let mut y = x.clone();
        a.shuffle(&mut x);
        b.shuffle(&mut y);
        assert_eq!(x, y);
        let mut sorted = x.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());

        // Each of the 6 orders of 3 hosts comes up about 1/6 of the time.
        let rng = HostRng::with_seed(12345);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..60_000 {
            let mut hosts = ['a', 'b', 'c'];
            rng.shuffle(&mut hosts);
            *counts.entry(hosts).or_insert(0u32) += 1;
        }
        assert_eq!(counts.len(), 6);
        for (order, n) in counts {
            assert!((9_000..11_000).contains(&n), "{order:?}: {n}");
        }
        // Lists of zero and one element are left alone.
        let mut empty: [u8; 0] = [];
        rng.shuffle(&mut empty);
        let mut one = [9];
        rng.shuffle(&mut one);
        assert_eq!(one, [9]);
    }
}
