//! The failover state machine: notices that the primary is gone, finds the
//! new one, and fences a second primary.
//!
//! Owns [`Failover`], its [`FailoverState`], its inputs (probe results, I/O
//! errors on primary connections, timer wake-ups, each with the `now` it
//! happened at), and its outputs: [`FailoverEvent`]s, the nodes to probe
//! now, and the next wake-up. It is sans-IO in the shape of
//! [`proto::startup`](crate::proto::startup): it does not probe, sleep, read
//! a clock or close connections. A small tokio task drives it: it probes
//! what [`Failover::poll_probe`] asks for, feeds the results back, sleeps
//! until [`Failover::poll_timeout`] and calls [`Failover::handle_timeout`],
//! publishes [`Failover::poll_event`]'s events, and routes writes to
//! [`Failover::primary`] only.
//!
//! ```text
//!                    new(now)
//!                       │
//!                       ▼            no election by `since + primary_wait`
//!   ┌─────────────► Discovering ─────────────────────────────────► NoPrimary
//!   │               │   every node probed,                          │ every node probed,
//!   │               │   at most every probe_interval                │ at most every probe_interval
//!   │               │ a primary elected                             │ a primary elected
//!   │               ▼                                               │
//!   │            Healthy ◄──────────────────────────────────────────┘
//!   │               │  ▲ │
//!   │   I/O error / │  │ └── another node on a higher timeline claims primary:
//!   │  failed probe │  │     it wins, the old one is fenced (SplitBrainSuspected)
//!   │  of primary   ▼  │ the primary's probe answers as primary
//!   │             Suspect
//!   │               │ the primary's probe fails again or reports standby,
//!   └───────────────┘ or suspect_timeout passes (PrimaryLost)
//!
//!   Healthy ── the primary reports standby (PrimaryLost) ──► Discovering
//!   Suspect ── another node on a higher timeline claims primary
//!              (PrimaryLost, PrimaryElected) ──► Healthy with that node
//!   any state ── close() ──► Closed
//! ```
//!
//! # Election
//!
//! The machine does not promote anyone; it finds the node that claims to be
//! primary (`pg_is_in_recovery()` false). A discovery round probes every
//! node; when all have answered (or, with at least one claim in, the round's
//! `probe_interval` is up or `primary_wait` runs out) the claimant with the
//! highest timeline wins, then the highest LSN, then the lowest node id.
//! Claims on a timeline below the highest one ever elected are refused: such
//! a node is an old primary that never followed a promotion, and writing to
//! it would lose data.
//!
//! # Split brain
//!
//! Two nodes claiming primary at once: the higher timeline wins (an
//! incumbent keeps its place on an equal timeline), the loser is *fenced* —
//! [`Failover::is_fenced`] is true until it reports itself a standby, no
//! write is routed to it, and the driver closes its pooled connections as
//! they are released — and [`FailoverEvent::SplitBrainSuspected`] is
//! emitted once per fencing.
//!
//! # Loss time
//!
//! The primary is lost from the first sign: the I/O error or failed probe
//! that made it suspect. Writes wait from then; [`FailoverState::NoPrimary`]
//! follows exactly `primary_wait` later if no primary has been elected.
//!
//! # What survives a failover
//!
//! A write the old primary acknowledged is on the new one only if the old
//! primary waited for that node before acknowledging it. Under PostgreSQL's
//! default asynchronous replication a commit acknowledged just before a
//! crash may never have left the old primary, and no client can recover
//! it. For no acknowledged write to be lost, the primary must name the
//! standby that will be promoted in `synchronous_standby_names` (with
//! `synchronous_commit` `on` or stronger). What the cluster guarantees on
//! top of that: a write is reported done only when its server said so, a
//! write whose outcome is unknown is never run again, and after the
//! election writes go to the new primary only.
//!
//! # Errors
//!
//! Inputs the machine cannot accept return a [`FailoverError`] and change
//! nothing: an unknown node, an I/O error blamed on a node that is not the
//! primary, a timeline of zero, a `now` earlier than a previous input's,
//! anything after [`Failover::close`].

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use super::error::ClusterConfigError;
use super::lsn::Lsn;
use super::probe::ProbeReport;
use super::topology::{NodeId, Role};

/// The failover machine's timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailoverConfig {
    /// How long writes wait for an election after the primary is lost
    /// before they fail with no primary. Default 5 s.
    pub primary_wait: Duration,
    /// The shortest time between two discovery rounds (every node probed).
    /// Default 500 ms.
    pub probe_interval: Duration,
    /// How long a suspect primary has to answer a probe as primary before
    /// it is declared lost. Default 1 s.
    pub suspect_timeout: Duration,
}

impl FailoverConfig {
    /// Checks the timings: `probe_interval` and `suspect_timeout` must not
    /// be zero (`primary_wait` may be: writes then fail as soon as the
    /// primary is lost).
    pub fn validate(&self) -> Result<(), ClusterConfigError> {
        if self.probe_interval.is_zero() {
            return Err(ClusterConfigError::ZeroDuration {
                setting: "probe_interval",
            });
        }
        if self.suspect_timeout.is_zero() {
            return Err(ClusterConfigError::ZeroDuration {
                setting: "suspect_timeout",
            });
        }
        Ok(())
    }
}

impl Default for FailoverConfig {
    fn default() -> Self {
        Self {
            primary_wait: Duration::from_secs(5),
            probe_interval: Duration::from_millis(500),
            suspect_timeout: Duration::from_secs(1),
        }
    }
}

/// Where the failover machine stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailoverState {
    /// A primary is elected and writes go to it.
    Healthy {
        /// The primary.
        primary: NodeId,
        /// Its timeline.
        timeline: u32,
    },
    /// The primary showed a sign of trouble; a probe will tell. Writes wait.
    Suspect {
        /// The suspect primary.
        primary: NodeId,
        /// Its timeline.
        timeline: u32,
        /// When the trouble was first seen (the loss time if it is lost).
        since: Instant,
    },
    /// No primary: every node is probed each round until one claims the
    /// role. Writes wait until `since + primary_wait`.
    Discovering {
        /// When the primary was lost (or the machine started).
        since: Instant,
        /// When the current probe round started.
        round_started: Instant,
    },
    /// No primary was elected within `primary_wait`: writes fail at once
    /// while probing goes on.
    NoPrimary {
        /// When the primary was lost (or the machine started).
        since: Instant,
        /// When the current probe round started.
        round_started: Instant,
    },
    /// [`Failover::close`] was called.
    Closed,
}

impl FailoverState {
    /// The state's name (`healthy`, `no-primary`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Healthy { .. } => "healthy",
            Self::Suspect { .. } => "suspect",
            Self::Discovering { .. } => "discovering",
            Self::NoPrimary { .. } => "no-primary",
            Self::Closed => "closed",
        }
    }
}

/// Something the driver should publish (and, for a fencing, act on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailoverEvent {
    /// The primary is gone (its probe failed twice, it reported standby, or
    /// it did not answer within `suspect_timeout`).
    PrimaryLost {
        /// The lost primary.
        node: NodeId,
    },
    /// A primary was elected; writes go to it from now on.
    PrimaryElected {
        /// The new primary.
        node: NodeId,
        /// Its timeline.
        timeline: u32,
    },
    /// Two nodes claimed primary at once; the loser is fenced.
    SplitBrainSuspected {
        /// The node that keeps (or takes) the primary role.
        winner: NodeId,
        /// The node fenced.
        loser: NodeId,
        /// The loser's timeline.
        loser_timeline: u32,
    },
    /// A node claimed primary on a timeline below the highest ever elected
    /// and was fenced rather than elected.
    StalePrimaryFenced {
        /// The node.
        node: NodeId,
        /// Its timeline.
        timeline: u32,
    },
    /// No primary was elected within `primary_wait` of the loss.
    NoPrimary {
        /// When the primary was lost (or the machine started).
        since: Instant,
    },
    /// A node last seen as primary (or fenced) now reports itself a standby.
    RejoinedAsStandby {
        /// The node.
        node: NodeId,
    },
}

/// An input the machine refused; nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailoverError {
    /// The node id is not in the cluster.
    UnknownNode {
        /// The id given.
        node: NodeId,
        /// How many nodes there are.
        nodes: usize,
    },
    /// An I/O error was blamed on a primary connection of a node that is not
    /// the current primary (a stale connection, or no primary at all).
    NotThePrimary {
        /// The node blamed.
        node: NodeId,
        /// The current primary, if any.
        primary: Option<NodeId>,
    },
    /// A probe reported timeline 0; PostgreSQL's timelines start at 1.
    InvalidTimeline {
        /// The node that reported it.
        node: NodeId,
    },
    /// `now` is earlier than a previous input's.
    TimeWentBackwards {
        /// How far back.
        by: Duration,
    },
    /// The machine was closed.
    Closed,
}

impl fmt::Display for FailoverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownNode { node, nodes } => {
                write!(f, "{node} is not in the cluster ({nodes} nodes)")
            }
            Self::NotThePrimary {
                node,
                primary: Some(primary),
            } => write!(f, "{node} is not the primary ({primary} is)"),
            Self::NotThePrimary {
                node,
                primary: None,
            } => write!(f, "{node} is not the primary (there is none)"),
            Self::InvalidTimeline { node } => write!(f, "{node} reported timeline 0"),
            Self::TimeWentBackwards { by } => write!(f, "time went backwards by {by:?}"),
            Self::Closed => f.write_str("the failover machine is closed"),
        }
    }
}

impl std::error::Error for FailoverError {}

/// A node's answer in the current discovery round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Pending,
    Failed,
    Standby,
    Primary { timeline: u32, lsn: Lsn },
}

/// What the machine remembers of one node.
#[derive(Debug, Clone, Copy)]
struct Memory {
    last_role: Role,
    fenced: bool,
    answer: Answer,
    probe_wanted: bool,
}

impl Memory {
    const NEW: Self = Self {
        last_role: Role::Unknown,
        fenced: false,
        answer: Answer::Pending,
        probe_wanted: false,
    };
}

/// The failover state machine (see the module documentation).
///
/// Method groups: getters ([`state`](Self::state),
/// [`primary`](Self::primary), [`write_deadline`](Self::write_deadline),
/// [`is_fenced`](Self::is_fenced)); `handle_*` inputs, each with its `now`
/// ([`handle_probe_report`](Self::handle_probe_report),
/// [`handle_probe_failure`](Self::handle_probe_failure),
/// [`handle_primary_io_error`](Self::handle_primary_io_error),
/// [`handle_timeout`](Self::handle_timeout), [`close`](Self::close)); and
/// `poll_*` outputs ([`poll_event`](Self::poll_event),
/// [`poll_probe`](Self::poll_probe), [`poll_timeout`](Self::poll_timeout)).
#[derive(Debug, Clone)]
pub struct Failover {
    config: FailoverConfig,
    state: FailoverState,
    nodes: Vec<Memory>,
    events: VecDeque<FailoverEvent>,
    /// The highest timeline ever elected; claims below it are stale.
    elected_timeline: u32,
    last_now: Instant,
}

impl Failover {
    /// A machine for `nodes` nodes starting at `now` with no primary known:
    /// it is [`FailoverState::Discovering`] and asks for every node to be
    /// probed.
    pub fn new(nodes: usize, config: FailoverConfig, now: Instant) -> Self {
        let mut machine = Self {
            config,
            state: FailoverState::Closed,
            nodes: vec![Memory::NEW; nodes],
            events: VecDeque::new(),
            elected_timeline: 0,
            last_now: now,
        };
        machine.start_discovering(now, now);
        machine
    }

    // Getters.

    /// The current state.
    pub fn state(&self) -> FailoverState {
        self.state
    }

    /// The node writes go to: the primary while [`FailoverState::Healthy`],
    /// none otherwise.
    pub fn primary(&self) -> Option<NodeId> {
        match self.state {
            FailoverState::Healthy { primary, .. } => Some(primary),
            _ => None,
        }
    }

    /// Until when a write may wait for an election: `None` while healthy
    /// (no wait) or closed; a time already past in
    /// [`FailoverState::NoPrimary`] (fail at once).
    pub fn write_deadline(&self) -> Option<Instant> {
        match self.state {
            FailoverState::Suspect { since, .. }
            | FailoverState::Discovering { since, .. }
            | FailoverState::NoPrimary { since, .. } => Some(since + self.config.primary_wait),
            FailoverState::Healthy { .. } | FailoverState::Closed => None,
        }
    }

    /// Whether `node` is fenced: it claimed primary and lost, and gets no
    /// write until it reports itself a standby.
    pub fn is_fenced(&self, node: NodeId) -> bool {
        self.nodes.get(node.index()).is_some_and(|m| m.fenced)
    }

    /// The timings in use.
    pub fn config(&self) -> &FailoverConfig {
        &self.config
    }

    // Inputs.

    /// A probe of `node` answered at `now` with `report`.
    pub fn handle_probe_report(
        &mut self,
        node: NodeId,
        report: &ProbeReport,
        now: Instant,
    ) -> Result<(), FailoverError> {
        self.accept(now)?;
        self.check_node(node)?;
        if report.timeline == 0 {
            return Err(FailoverError::InvalidTimeline { node });
        }
        self.last_now = now;
        let role = report.role();
        let memory = &mut self.nodes[node.index()];
        memory.probe_wanted = false;
        let rejoined =
            role == Role::Standby && (memory.fenced || memory.last_role == Role::Primary);
        if rejoined {
            memory.fenced = false;
        }
        memory.last_role = role;
        let timeline = report.timeline;
        match (self.state, role) {
            (FailoverState::Healthy { primary, .. }, Role::Standby) if primary == node => {
                self.lose(primary, now, now);
            }
            (FailoverState::Suspect { primary, since, .. }, Role::Standby) if primary == node => {
                self.lose(primary, since, now);
            }
            (
                FailoverState::Healthy {
                    primary,
                    timeline: current,
                }
                | FailoverState::Suspect {
                    primary,
                    timeline: current,
                    ..
                },
                Role::Primary,
            ) if primary == node => {
                self.state = FailoverState::Healthy {
                    primary,
                    timeline: current.max(timeline),
                };
                self.elected_timeline = self.elected_timeline.max(timeline);
            }
            (
                FailoverState::Healthy {
                    primary,
                    timeline: current,
                }
                | FailoverState::Suspect {
                    primary,
                    timeline: current,
                    ..
                },
                Role::Primary,
            ) => {
                if timeline > current {
                    self.supersede(primary, node, timeline, current);
                } else {
                    self.fence(primary, node, timeline);
                }
            }
            (FailoverState::Discovering { .. } | FailoverState::NoPrimary { .. }, _) => {
                self.nodes[node.index()].answer = match role {
                    Role::Primary => Answer::Primary {
                        timeline,
                        lsn: report.lsn,
                    },
                    _ => Answer::Standby,
                };
                if self.round_complete() {
                    self.elect();
                }
            }
            _ => {}
        }
        if rejoined {
            self.events
                .push_back(FailoverEvent::RejoinedAsStandby { node });
        }
        Ok(())
    }

    /// A probe of `node` failed (no connection, an error, or no reply in
    /// time) at `now`.
    pub fn handle_probe_failure(
        &mut self,
        node: NodeId,
        now: Instant,
    ) -> Result<(), FailoverError> {
        self.accept(now)?;
        self.check_node(node)?;
        self.last_now = now;
        self.nodes[node.index()].probe_wanted = false;
        match self.state {
            FailoverState::Healthy { primary, timeline } if primary == node => {
                self.suspect(primary, timeline, now);
            }
            FailoverState::Suspect { primary, since, .. } if primary == node => {
                self.lose(primary, since, now);
            }
            FailoverState::Discovering { .. } | FailoverState::NoPrimary { .. } => {
                self.nodes[node.index()].answer = Answer::Failed;
                if self.round_complete() {
                    self.elect();
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A connection to `node`, believed primary, failed with an I/O error at
    /// `now`. Refused unless `node` is the current (possibly suspect)
    /// primary.
    pub fn handle_primary_io_error(
        &mut self,
        node: NodeId,
        now: Instant,
    ) -> Result<(), FailoverError> {
        self.accept(now)?;
        self.check_node(node)?;
        match self.state {
            FailoverState::Healthy { primary, timeline } if primary == node => {
                self.last_now = now;
                self.suspect(primary, timeline, now);
                Ok(())
            }
            // Every connection to a failing primary reports; one is enough.
            FailoverState::Suspect { primary, .. } if primary == node => {
                self.last_now = now;
                Ok(())
            }
            FailoverState::Healthy { primary, .. } | FailoverState::Suspect { primary, .. } => {
                Err(FailoverError::NotThePrimary {
                    node,
                    primary: Some(primary),
                })
            }
            _ => Err(FailoverError::NotThePrimary {
                node,
                primary: None,
            }),
        }
    }

    /// The timer fired at `now`. Early or repeated calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), FailoverError> {
        self.accept(now)?;
        self.last_now = now;
        match self.state {
            FailoverState::Suspect { primary, since, .. }
                if now >= since + self.config.suspect_timeout =>
            {
                self.lose(primary, since, now);
            }
            FailoverState::Discovering {
                since,
                round_started,
            }
            | FailoverState::NoPrimary {
                since,
                round_started,
            } => {
                let deadline = since + self.config.primary_wait;
                let discovering = matches!(self.state, FailoverState::Discovering { .. });
                let round_over = now >= round_started + self.config.probe_interval;
                let out_of_time = discovering && now >= deadline;
                if (round_over || out_of_time) && self.elect() {
                    return Ok(());
                }
                if round_over {
                    self.start_round(now);
                }
                if out_of_time {
                    let FailoverState::Discovering { round_started, .. } = self.state else {
                        return Ok(());
                    };
                    self.state = FailoverState::NoPrimary {
                        since,
                        round_started,
                    };
                    self.events.push_back(FailoverEvent::NoPrimary { since });
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Stops the machine: every later input is refused with
    /// [`FailoverError::Closed`], and it asks for nothing more.
    pub fn close(&mut self) {
        self.state = FailoverState::Closed;
        for memory in &mut self.nodes {
            memory.probe_wanted = false;
        }
    }

    // Outputs.

    /// The next event to publish, oldest first.
    pub fn poll_event(&mut self) -> Option<FailoverEvent> {
        self.events.pop_front()
    }

    /// The next node to probe now (each asked for once until its result is
    /// fed back or a new round asks again).
    pub fn poll_probe(&mut self) -> Option<NodeId> {
        let index = self.nodes.iter().position(|m| m.probe_wanted)?;
        self.nodes[index].probe_wanted = false;
        Some(NodeId::new(index))
    }

    /// When [`handle_timeout`](Self::handle_timeout) should be called next,
    /// if anything is timed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            FailoverState::Suspect { since, .. } => Some(since + self.config.suspect_timeout),
            FailoverState::Discovering {
                since,
                round_started,
            } => Some(
                (round_started + self.config.probe_interval).min(since + self.config.primary_wait),
            ),
            FailoverState::NoPrimary { round_started, .. } => {
                Some(round_started + self.config.probe_interval)
            }
            FailoverState::Healthy { .. } | FailoverState::Closed => None,
        }
    }

    // Transitions.

    fn accept(&self, now: Instant) -> Result<(), FailoverError> {
        if self.state == FailoverState::Closed {
            return Err(FailoverError::Closed);
        }
        if now < self.last_now {
            return Err(FailoverError::TimeWentBackwards {
                by: self.last_now - now,
            });
        }
        Ok(())
    }

    fn check_node(&self, node: NodeId) -> Result<(), FailoverError> {
        if node.index() < self.nodes.len() {
            Ok(())
        } else {
            Err(FailoverError::UnknownNode {
                node,
                nodes: self.nodes.len(),
            })
        }
    }

    /// Healthy → Suspect: ask for the primary to be probed at once.
    fn suspect(&mut self, primary: NodeId, timeline: u32, now: Instant) {
        self.state = FailoverState::Suspect {
            primary,
            timeline,
            since: now,
        };
        self.nodes[primary.index()].probe_wanted = true;
    }

    /// The primary is lost since `since`: Discovering.
    fn lose(&mut self, primary: NodeId, since: Instant, now: Instant) {
        self.events
            .push_back(FailoverEvent::PrimaryLost { node: primary });
        self.start_discovering(since, now);
    }

    fn start_discovering(&mut self, since: Instant, now: Instant) {
        self.state = FailoverState::Discovering {
            since,
            round_started: now,
        };
        self.start_round(now);
    }

    /// A new discovery round at `now`: every node's answer is forgotten and
    /// every node is to be probed.
    fn start_round(&mut self, now: Instant) {
        for memory in &mut self.nodes {
            memory.answer = Answer::Pending;
            memory.probe_wanted = true;
        }
        match &mut self.state {
            FailoverState::Discovering { round_started, .. }
            | FailoverState::NoPrimary { round_started, .. } => *round_started = now,
            _ => {}
        }
    }

    fn round_complete(&self) -> bool {
        self.nodes.iter().all(|m| m.answer != Answer::Pending)
    }

    /// Elects among this round's claims, if any; returns whether a primary
    /// was elected.
    fn elect(&mut self) -> bool {
        let floor = self.elected_timeline;
        // Stale claims are refused first, so they neither win nor count as
        // split-brain losers.
        for index in 0..self.nodes.len() {
            if let Answer::Primary { timeline, .. } = self.nodes[index].answer {
                if timeline < floor {
                    self.nodes[index].answer = Answer::Failed;
                    if !self.nodes[index].fenced {
                        self.nodes[index].fenced = true;
                        self.events.push_back(FailoverEvent::StalePrimaryFenced {
                            node: NodeId::new(index),
                            timeline,
                        });
                    }
                }
            }
        }
        let winner = self
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, m)| match m.answer {
                Answer::Primary { timeline, lsn } => Some((timeline, lsn, i)),
                _ => None,
            })
            // Highest timeline, then highest LSN, then the lowest id.
            .max_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)).then(b.2.cmp(&a.2)));
        let Some((timeline, _, winner)) = winner else {
            return false;
        };
        let winner = NodeId::new(winner);
        self.nodes[winner.index()].fenced = false;
        self.elected_timeline = self.elected_timeline.max(timeline);
        self.state = FailoverState::Healthy {
            primary: winner,
            timeline,
        };
        self.events.push_back(FailoverEvent::PrimaryElected {
            node: winner,
            timeline,
        });
        for index in 0..self.nodes.len() {
            if let Answer::Primary {
                timeline: loser_timeline,
                ..
            } = self.nodes[index].answer
            {
                if index != winner.index() {
                    self.fence(winner, NodeId::new(index), loser_timeline);
                }
            }
        }
        for memory in &mut self.nodes {
            memory.answer = Answer::Pending;
            memory.probe_wanted = false;
        }
        true
    }

    /// `challenger`, on a higher timeline than the current primary, takes
    /// its place; the old primary is fenced.
    fn supersede(&mut self, old: NodeId, challenger: NodeId, timeline: u32, old_timeline: u32) {
        // A suspect primary may well be dead: it is reported lost, not
        // fenced; should it come back claiming its old timeline, the healthy
        // state's rule fences it then.
        let was_suspect = matches!(self.state, FailoverState::Suspect { .. });
        if was_suspect {
            self.events
                .push_back(FailoverEvent::PrimaryLost { node: old });
        }
        self.nodes[challenger.index()].fenced = false;
        self.elected_timeline = self.elected_timeline.max(timeline);
        self.state = FailoverState::Healthy {
            primary: challenger,
            timeline,
        };
        self.events.push_back(FailoverEvent::PrimaryElected {
            node: challenger,
            timeline,
        });
        if !was_suspect {
            self.fence(challenger, old, old_timeline);
        }
    }

    /// Fences `loser`, which claimed primary against `winner`; the event is
    /// emitted once per fencing.
    fn fence(&mut self, winner: NodeId, loser: NodeId, loser_timeline: u32) {
        let memory = &mut self.nodes[loser.index()];
        if !memory.fenced {
            memory.fenced = true;
            self.events.push_back(FailoverEvent::SplitBrainSuspected {
                winner,
                loser,
                loser_timeline,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);
    const NS: Duration = Duration::from_nanos(1);

    fn n(i: usize) -> NodeId {
        NodeId::new(i)
    }

    fn primary(timeline: u32, lsn: u64) -> ProbeReport {
        ProbeReport {
            in_recovery: false,
            lsn: Lsn::new(lsn),
            timeline,
            read_only: false,
        }
    }

    fn standby(timeline: u32, lsn: u64) -> ProbeReport {
        ProbeReport {
            in_recovery: true,
            lsn: Lsn::new(lsn),
            timeline,
            read_only: true,
        }
    }

    fn events(m: &mut Failover) -> Vec<FailoverEvent> {
        std::iter::from_fn(|| m.poll_event()).collect()
    }

    fn probes(m: &mut Failover) -> Vec<usize> {
        std::iter::from_fn(|| m.poll_probe())
            .map(NodeId::index)
            .collect()
    }

    /// Three nodes at `t0`: node 0 primary on timeline 1, nodes 1 and 2
    /// standbys; elected, events and probe requests drained.
    fn healthy(t0: Instant) -> Failover {
        let mut m = Failover::new(3, FailoverConfig::default(), t0);
        assert_eq!(probes(&mut m), [0, 1, 2]);
        m.handle_probe_report(n(0), &primary(1, 1000), t0).unwrap();
        m.handle_probe_report(n(1), &standby(1, 900), t0).unwrap();
        m.handle_probe_report(n(2), &standby(1, 950), t0).unwrap();
        assert_eq!(
            events(&mut m),
            [FailoverEvent::PrimaryElected {
                node: n(0),
                timeline: 1
            }]
        );
        assert_eq!(
            m.state(),
            FailoverState::Healthy {
                primary: n(0),
                timeline: 1
            }
        );
        m
    }

    #[test]
    fn starts_discovering_and_elects_once_every_node_answered() {
        let t0 = Instant::now();
        let mut m = Failover::new(3, FailoverConfig::default(), t0);
        assert_eq!(
            m.state(),
            FailoverState::Discovering {
                since: t0,
                round_started: t0
            }
        );
        assert_eq!(m.primary(), None);
        assert_eq!(m.write_deadline(), Some(t0 + MS * 5000));
        assert_eq!(m.poll_timeout(), Some(t0 + MS * 500));
        assert_eq!(probes(&mut m), [0, 1, 2]);
        assert_eq!(probes(&mut m), [] as [usize; 0], "asked once per round");

        m.handle_probe_report(n(1), &primary(1, 1000), t0 + MS)
            .unwrap();
        // A claim alone does not elect while other answers are pending: a
        // second claimant on a higher timeline may still answer.
        assert!(matches!(m.state(), FailoverState::Discovering { .. }));
        m.handle_probe_report(n(0), &standby(1, 990), t0 + MS * 2)
            .unwrap();
        m.handle_probe_failure(n(2), t0 + MS * 3).unwrap();
        assert_eq!(m.primary(), Some(n(1)));
        assert_eq!(m.write_deadline(), None);
        assert_eq!(m.poll_timeout(), None);
        assert_eq!(
            events(&mut m),
            [FailoverEvent::PrimaryElected {
                node: n(1),
                timeline: 1
            }]
        );
    }

    #[test]
    fn election_order_is_timeline_then_lsn_then_lowest_id() {
        // (timeline, lsn) claimed by nodes 0..3 (None: a standby), and the
        // winner.
        type Claims = [Option<(u32, u64)>; 3];
        let cases: [(Claims, usize); 6] = [
            ([Some((1, 900)), Some((2, 100)), None], 1),
            ([Some((3, 100)), Some((2, 900)), Some((2, 999))], 0),
            ([Some((2, 500)), Some((2, 700)), Some((2, 600))], 1),
            ([None, Some((4, 10)), Some((4, 10))], 1),
            ([Some((5, 10)), None, Some((5, 10))], 0),
            ([None, None, Some((1, 1))], 2),
        ];
        for (claims, winner) in cases {
            let t0 = Instant::now();
            let mut m = Failover::new(3, FailoverConfig::default(), t0);
            for (i, claim) in claims.iter().enumerate() {
                let report = match claim {
                    Some((tl, lsn)) => primary(*tl, *lsn),
                    None => standby(1, 1),
                };
                m.handle_probe_report(n(i), &report, t0).unwrap();
            }
            assert_eq!(m.primary(), Some(n(winner)), "{claims:?}");
            let elected = events(&mut m);
            let timeline = claims[winner].unwrap().0;
            assert_eq!(
                elected[0],
                FailoverEvent::PrimaryElected {
                    node: n(winner),
                    timeline
                }
            );
            // Every other claimant is fenced, with one event each.
            for (i, claim) in claims.iter().enumerate() {
                let loser = i != winner && claim.is_some();
                assert_eq!(m.is_fenced(n(i)), loser, "{claims:?} node {i}");
                let event = FailoverEvent::SplitBrainSuspected {
                    winner: n(winner),
                    loser: n(i),
                    loser_timeline: claim.map_or(0, |c| c.0),
                };
                assert_eq!(elected.contains(&event), loser, "{claims:?} node {i}");
            }
        }
    }

    #[test]
    fn an_unanswered_probe_does_not_block_an_election_past_the_round() {
        let t0 = Instant::now();
        let mut m = Failover::new(3, FailoverConfig::default(), t0);
        m.handle_probe_report(n(2), &primary(2, 50), t0 + MS * 10)
            .unwrap();
        m.handle_probe_report(n(0), &standby(2, 40), t0 + MS * 20)
            .unwrap();
        // Node 1 never answers; the round ends at 500 ms.
        m.handle_timeout(t0 + MS * 499).unwrap();
        assert_eq!(m.primary(), None);
        m.handle_timeout(t0 + MS * 500).unwrap();
        assert_eq!(m.primary(), Some(n(2)));
    }

    #[test]
    fn io_error_then_confirming_probe_clears_suspicion() {
        let t0 = Instant::now();
        let mut m = healthy(t0);
        let t1 = t0 + MS * 100;
        m.handle_primary_io_error(n(0), t1).unwrap();
        assert_eq!(
            m.state(),
            FailoverState::Suspect {
                primary: n(0),
                timeline: 1,
                since: t1
            }
        );
        assert_eq!(m.primary(), None, "writes wait while suspect");
        assert_eq!(m.write_deadline(), Some(t1 + MS * 5000));
        assert_eq!(m.poll_timeout(), Some(t1 + MS * 1000));
        assert_eq!(probes(&mut m), [0]);
        // More connections fail the same way: nothing new.
        m.handle_primary_io_error(n(0), t1 + MS).unwrap();
        assert_eq!(probes(&mut m), [] as [usize; 0]);
        // The probe answers as primary: a false alarm.
        m.handle_probe_report(n(0), &primary(1, 1100), t1 + MS * 5)
            .unwrap();
        assert_eq!(m.primary(), Some(n(0)));
        assert_eq!(events(&mut m), []);
    }

    #[test]
    fn failed_probes_make_the_primary_suspect_then_lost() {
        let t0 = Instant::now();
        let mut m = healthy(t0);
        let t1 = t0 + MS * 1000;
        // A failed probe of a standby changes nothing.
        m.handle_probe_failure(n(1), t1).unwrap();
        assert_eq!(m.primary(), Some(n(0)));
        // A failed probe of the primary makes it suspect...
        m.handle_probe_failure(n(0), t1).unwrap();
        assert!(matches!(m.state(), FailoverState::Suspect { since, .. } if since == t1));
        assert_eq!(probes(&mut m), [0]);
        // ...and a second one lost: every node is probed.
        m.handle_probe_failure(n(0), t1 + MS * 3).unwrap();
        assert_eq!(
            m.state(),
            FailoverState::Discovering {
                since: t1,
                round_started: t1 + MS * 3
            }
        );
        assert_eq!(events(&mut m), [FailoverEvent::PrimaryLost { node: n(0) }]);
        assert_eq!(probes(&mut m), [0, 1, 2]);
    }

    #[test]
    fn a_suspect_that_stays_silent_is_lost_at_suspect_timeout() {
        let t0 = Instant::now();
        let mut m = healthy(t0);
        m.handle_primary_io_error(n(0), t0).unwrap();
        m.handle_timeout(t0 + MS * 1000 - NS).unwrap();
        assert!(matches!(m.state(), FailoverState::Suspect { .. }));
        m.handle_timeout(t0 + MS * 1000).unwrap();
        assert!(matches!(m.state(), FailoverState::Discovering { since, .. } if since == t0));
        assert_eq!(events(&mut m), [FailoverEvent::PrimaryLost { node: n(0) }]);
    }

    #[test]
    fn a_primary_reporting_standby_is_lost_and_rejoins() {
        let t0 = Instant::now();
        let mut m = healthy(t0);
        m.handle_probe_report(n(0), &standby(1, 1000), t0 + MS)
            .unwrap();
        assert!(matches!(m.state(), FailoverState::Discovering { .. }));
        assert_eq!(
            events(&mut m),
            [
                FailoverEvent::PrimaryLost { node: n(0) },
                FailoverEvent::RejoinedAsStandby { node: n(0) },
            ]
        );
        // Same from Suspect.
        let mut m = healthy(t0);
        m.handle_primary_io_error(n(0), t0 + MS).unwrap();
        m.handle_probe_report(n(0), &standby(1, 1000), t0 + MS * 2)
            .unwrap();
        assert!(matches!(m.state(), FailoverState::Discovering { since, .. } if since == t0 + MS));
    }

    #[test]
    fn no_primary_exactly_primary_wait_after_the_loss() {
        let t0 = Instant::now();
        let mut m = healthy(t0);
        let lost = t0 + MS * 7;
        m.handle_primary_io_error(n(0), lost).unwrap();
        m.handle_probe_failure(n(0), lost + MS * 2).unwrap();
        events(&mut m);
        // Drive the machine by its own timer; every probe fails. Record when
        // each round's probes were asked for.
        let mut rounds = vec![lost + MS * 2];
        assert_eq!(probes(&mut m).len(), 3);
        let deadline = lost + MS * 5000;
        let mut now = lost + MS * 2;
        while matches!(m.state(), FailoverState::Discovering { .. }) {
            for i in 0..3 {
                m.handle_probe_failure(n(i), now).unwrap();
            }
            let next = m.poll_timeout().unwrap();
            assert!(next <= deadline);
            if next == deadline {
                // A nanosecond early changes nothing.
                m.handle_timeout(deadline - NS).unwrap();
                assert!(matches!(m.state(), FailoverState::Discovering { .. }));
                assert_eq!(events(&mut m), []);
            }
            now = next;
            m.handle_timeout(now).unwrap();
            if !probes(&mut m).is_empty() {
                rounds.push(now);
            }
        }
        assert_eq!(now, deadline);
        assert_eq!(
            m.state(),
            FailoverState::NoPrimary {
                since: lost,
                round_started: *rounds.last().unwrap()
            }
        );
        assert_eq!(events(&mut m), [FailoverEvent::NoPrimary { since: lost }]);
        assert!(m.write_deadline().unwrap() <= now, "writes fail at once");
        // Rounds every 500 ms, never closer.
        assert!(rounds.len() >= 10, "{}", rounds.len());
        for pair in rounds.windows(2) {
            assert!(pair[1] - pair[0] >= MS * 500, "{:?}", pair[1] - pair[0]);
        }

        // Probing goes on; a promoted node is elected.
        let next = m.poll_timeout().unwrap();
        assert_eq!(next, *rounds.last().unwrap() + MS * 500);
        m.handle_timeout(next).unwrap();
        assert_eq!(probes(&mut m), [0, 1, 2]);
        m.handle_probe_failure(n(0), next).unwrap();
        m.handle_probe_report(n(1), &primary(2, 2000), next)
            .unwrap();
        m.handle_probe_report(n(2), &standby(1, 1900), next)
            .unwrap();
        assert_eq!(m.primary(), Some(n(1)));
        assert_eq!(
            events(&mut m),
            [FailoverEvent::PrimaryElected {
                node: n(1),
                timeline: 2
            }]
        );
    }

    #[test]
    fn a_claim_at_the_deadline_wins_over_no_primary() {
        let t0 = Instant::now();
        let config = FailoverConfig {
            primary_wait: MS * 300,
            ..FailoverConfig::default()
        };
        let mut m = Failover::new(2, config, t0);
        m.handle_probe_report(n(1), &primary(1, 5), t0 + MS)
            .unwrap();
        // Node 0 has not answered when the wait runs out.
        assert_eq!(m.poll_timeout(), Some(t0 + MS * 300));
        m.handle_timeout(t0 + MS * 300).unwrap();
        assert_eq!(m.primary(), Some(n(1)));
        assert_eq!(
            events(&mut m),
            [FailoverEvent::PrimaryElected {
                node: n(1),
                timeline: 1
            }]
        );
    }

    #[test]
    fn split_brain_higher_timeline_wins_and_the_loser_is_fenced() {
        let t0 = Instant::now();
        let mut m = healthy(t0);
        // Node 1 promoted while node 0 keeps running.
        m.handle_probe_report(n(1), &primary(2, 1200), t0 + MS)
            .unwrap();
        assert_eq!(m.primary(), Some(n(1)));
        assert!(m.is_fenced(n(0)) && !m.is_fenced(n(1)));
        assert_eq!(
            events(&mut m),
            [
                FailoverEvent::PrimaryElected {
                    node: n(1),
                    timeline: 2
                },
                FailoverEvent::SplitBrainSuspected {
                    winner: n(1),
                    loser: n(0),
                    loser_timeline: 1
                },
            ]
        );
        // The old primary keeps claiming: fenced once, no write, one event.
        m.handle_probe_report(n(0), &primary(1, 1300), t0 + MS * 2)
            .unwrap();
        m.handle_probe_report(n(0), &primary(1, 1400), t0 + MS * 3)
            .unwrap();
        assert_eq!(m.primary(), Some(n(1)));
        assert_eq!(events(&mut m), []);
        // An I/O error on the fenced node's old connections is refused.
        assert_eq!(
            m.handle_primary_io_error(n(0), t0 + MS * 4),
            Err(FailoverError::NotThePrimary {
                node: n(0),
                primary: Some(n(1))
            })
        );
        // Rewound and restarted as a standby: it rejoins, unfenced.
        m.handle_probe_report(n(0), &standby(2, 1250), t0 + MS * 5)
            .unwrap();
        assert!(!m.is_fenced(n(0)));
        assert_eq!(
            events(&mut m),
            [FailoverEvent::RejoinedAsStandby { node: n(0) }]
        );
    }

    #[test]
    fn split_brain_incumbent_keeps_its_place_on_an_equal_or_lower_timeline() {
        let t0 = Instant::now();
        for challenger_timeline in [2, 1] {
            // Node 0 primary on timeline 2.
            let mut m = Failover::new(3, FailoverConfig::default(), t0);
            m.handle_probe_report(n(0), &primary(2, 1000), t0).unwrap();
            m.handle_probe_report(n(1), &standby(2, 900), t0).unwrap();
            m.handle_probe_report(n(2), &standby(2, 900), t0).unwrap();
            events(&mut m);
            // A higher LSN does not help a challenger on no higher timeline.
            m.handle_probe_report(n(2), &primary(challenger_timeline, 5000), t0 + MS)
                .unwrap();
            assert_eq!(m.primary(), Some(n(0)));
            assert!(m.is_fenced(n(2)));
            assert_eq!(
                events(&mut m),
                [FailoverEvent::SplitBrainSuspected {
                    winner: n(0),
                    loser: n(2),
                    loser_timeline: challenger_timeline
                }]
            );
        }
    }

    #[test]
    fn a_promotion_seen_while_suspect_completes_the_failover() {
        let t0 = Instant::now();
        let mut m = healthy(t0);
        m.handle_primary_io_error(n(0), t0 + MS).unwrap();
        m.handle_probe_report(n(1), &primary(2, 1100), t0 + MS * 2)
            .unwrap();
        assert_eq!(m.primary(), Some(n(1)));
        assert_eq!(
            events(&mut m),
            [
                FailoverEvent::PrimaryLost { node: n(0) },
                FailoverEvent::PrimaryElected {
                    node: n(1),
                    timeline: 2
                },
            ]
        );
        // The old primary comes back without following: fenced then.
        m.handle_probe_report(n(0), &primary(1, 1000), t0 + MS * 3)
            .unwrap();
        assert!(m.is_fenced(n(0)));
        assert_eq!(m.primary(), Some(n(1)));
    }

    #[test]
    fn a_claim_below_the_elected_timeline_is_never_elected() {
        let t0 = Instant::now();
        let mut m = healthy(t0);
        // Failover to node 1 on timeline 2.
        m.handle_probe_report(n(1), &primary(2, 1100), t0).unwrap();
        m.handle_probe_report(n(0), &standby(2, 1100), t0).unwrap();
        events(&mut m);
        // Node 1 dies; only node 0, somehow back on timeline 1, claims.
        m.handle_probe_failure(n(1), t0 + MS).unwrap();
        m.handle_probe_failure(n(1), t0 + MS * 2).unwrap();
        m.handle_probe_report(n(0), &primary(1, 1200), t0 + MS * 3)
            .unwrap();
        m.handle_probe_report(n(1), &standby(2, 1), t0 + MS * 3)
            .unwrap();
        m.handle_probe_report(n(2), &standby(2, 1), t0 + MS * 3)
            .unwrap();
        assert_eq!(m.primary(), None);
        assert!(m.is_fenced(n(0)));
        assert_eq!(
            events(&mut m),
            [
                FailoverEvent::PrimaryLost { node: n(1) },
                FailoverEvent::RejoinedAsStandby { node: n(1) },
                FailoverEvent::StalePrimaryFenced {
                    node: n(0),
                    timeline: 1
                },
            ]
        );
    }

    #[test]
    fn disallowed_inputs_are_refused_and_change_nothing() {
        let t0 = Instant::now();
        let mut m = healthy(t0);
        let before = m.state();
        let later = t0 + MS * 10;
        let unknown = FailoverError::UnknownNode {
            node: n(3),
            nodes: 3,
        };
        assert_eq!(
            m.handle_probe_report(n(3), &primary(9, 1), later),
            Err(unknown)
        );
        assert_eq!(m.handle_probe_failure(n(3), later), Err(unknown));
        assert_eq!(m.handle_primary_io_error(n(3), later), Err(unknown));
        assert_eq!(
            m.handle_primary_io_error(n(1), later),
            Err(FailoverError::NotThePrimary {
                node: n(1),
                primary: Some(n(0))
            })
        );
        assert_eq!(
            m.handle_probe_report(n(1), &primary(0, 1), later),
            Err(FailoverError::InvalidTimeline { node: n(1) })
        );
        m.handle_timeout(later).unwrap();
        assert_eq!(
            m.handle_probe_failure(n(0), later - MS * 3),
            Err(FailoverError::TimeWentBackwards { by: MS * 3 })
        );
        assert_eq!(
            m.handle_timeout(later - NS),
            Err(FailoverError::TimeWentBackwards { by: NS })
        );
        assert_eq!(m.state(), before);
        assert_eq!(events(&mut m), []);
        assert_eq!(probes(&mut m), [] as [usize; 0]);

        // No primary to blame while discovering.
        let mut d = Failover::new(2, FailoverConfig::default(), t0);
        assert_eq!(
            d.handle_primary_io_error(n(0), t0),
            Err(FailoverError::NotThePrimary {
                node: n(0),
                primary: None
            })
        );
        assert!(matches!(d.state(), FailoverState::Discovering { .. }));

        // Closed refuses everything and asks for nothing.
        d.close();
        assert_eq!(d.state(), FailoverState::Closed);
        assert_eq!(
            d.handle_probe_report(n(0), &primary(1, 1), t0),
            Err(FailoverError::Closed)
        );
        assert_eq!(d.handle_probe_failure(n(0), t0), Err(FailoverError::Closed));
        assert_eq!(
            d.handle_primary_io_error(n(0), t0),
            Err(FailoverError::Closed)
        );
        assert_eq!(d.handle_timeout(t0), Err(FailoverError::Closed));
        assert_eq!(d.poll_timeout(), None);
        assert_eq!(d.poll_probe(), None);
        assert_eq!(d.write_deadline(), None);
        assert_eq!(
            FailoverError::NotThePrimary {
                node: n(1),
                primary: Some(n(0))
            }
            .to_string(),
            "node 1 is not the primary (node 0 is)"
        );
    }

    #[test]
    fn timings_are_validated() {
        assert_eq!(FailoverConfig::default().validate(), Ok(()));
        let zero_wait = FailoverConfig {
            primary_wait: Duration::ZERO,
            ..FailoverConfig::default()
        };
        assert_eq!(zero_wait.validate(), Ok(()));
        let busy = FailoverConfig {
            probe_interval: Duration::ZERO,
            ..FailoverConfig::default()
        };
        assert_eq!(
            busy.validate(),
            Err(ClusterConfigError::ZeroDuration {
                setting: "probe_interval"
            })
        );
        let hasty = FailoverConfig {
            suspect_timeout: Duration::ZERO,
            ..FailoverConfig::default()
        };
        assert_eq!(
            hasty.validate().unwrap_err().to_string(),
            "suspect_timeout must be greater than zero"
        );
    }

    #[derive(Debug, Clone)]
    enum Input {
        Report(usize, bool, u32, u64),
        Failure(usize),
        IoError(usize),
        Timeout,
    }

    fn input() -> impl Strategy<Value = (u64, Input)> {
        let node = 0usize..4;
        let kind = prop_oneof![
            (node.clone(), any::<bool>(), 1u32..4, 0u64..1000)
                .prop_map(|(i, r, tl, lsn)| Input::Report(i, r, tl, lsn)),
            node.clone().prop_map(Input::Failure),
            node.prop_map(Input::IoError),
            Just(Input::Timeout),
        ];
        (0u64..700, kind)
    }

    proptest! {
        /// Random inputs never panic, and the machine's promises hold after
        /// each: writes go only to a healthy, unfenced primary; the elected
        /// timeline never goes down; a timer is set whenever the machine
        /// waits for one.
        #[test]
        fn invariants_hold_under_random_inputs(inputs in proptest::collection::vec(input(), 1..80)) {
            let t0 = Instant::now();
            let mut m = Failover::new(3, FailoverConfig::default(), t0);
            let mut now = t0;
            let mut highest = 0;
            for (dt, input) in inputs {
                now += MS * dt as u32;
                let result = match input {
                    Input::Report(i, in_recovery, tl, lsn) => {
                        let report = if in_recovery { standby(tl, lsn) } else { primary(tl, lsn) };
                        m.handle_probe_report(n(i), &report, now)
                    }
                    Input::Failure(i) => m.handle_probe_failure(n(i), now),
                    Input::IoError(i) => m.handle_primary_io_error(n(i), now),
                    Input::Timeout => m.handle_timeout(now),
                };
                if let Err(e) = result {
                    prop_assert!(
                        matches!(e, FailoverError::UnknownNode { .. } | FailoverError::NotThePrimary { .. }),
                        "{:?}", e
                    );
                }
                if let Some(p) = m.primary() {
                    prop_assert!(!m.is_fenced(p));
                    let FailoverState::Healthy { timeline, .. } = m.state() else {
                        return Err(TestCaseError::fail("primary outside Healthy"));
                    };
                    prop_assert!(timeline >= highest, "{} < {}", timeline, highest);
                    highest = timeline;
                }
                let timed = !matches!(m.state(), FailoverState::Healthy { .. });
                prop_assert_eq!(m.poll_timeout().is_some(), timed);
                while let Some(event) = m.poll_event() {
                    if let FailoverEvent::PrimaryElected { node, .. } = event {
                        prop_assert!(node.index() < 3);
                    }
                }
            }
        }
    }
}
