//! [`Readiness`]: whether a service over a [`Cluster`] can do its work now,
//! for a `/readyz` endpoint.
//!
//! Owns the readiness rule and its JSON rendering. A writing service is
//! ready while a primary is elected; a read-only one while a replica is
//! eligible (up, not fenced, within the cluster's staleness bound) or a
//! primary is elected. The nodes' view is the monitor's, read under the
//! cluster's lock without I/O, so an endpoint can call it on every request.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::observe::NodeRole;

use super::handle::{Cluster, State};
use super::topology::{NodeId, Role};

/// Whether the cluster can serve, and every node's state.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Readiness {
    /// Whether the service can do its work: a primary is elected (or, for
    /// a read-only service, a replica is eligible).
    pub ready: bool,
    /// The elected primary.
    pub primary: Option<NodeId>,
    /// Every node, in host-list order.
    pub nodes: Vec<NodeReadiness>,
}

/// One node's state in a [`Readiness`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NodeReadiness {
    /// The node.
    pub node: NodeId,
    /// Its host.
    pub address: String,
    /// Its port.
    pub port: u16,
    /// Its role as the router sees it.
    pub role: NodeRole,
    /// How many bytes of log it is behind the primary (0 on the primary).
    pub lag_bytes: Option<u64>,
    /// The upper bound of its staleness (0 on the primary).
    pub staleness: Option<Duration>,
}

impl Readiness {
    /// 200 when ready, else 503.
    pub fn http_status(&self) -> u16 {
        if self.ready { 200 } else { 503 }
    }

    /// A JSON object: `ready`, `primary` (a node index or `null`) and
    /// `nodes` (index, address, port, role, lag in bytes, staleness in
    /// seconds; `null` when unknown).
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(64 + 128 * self.nodes.len());
        let primary = self
            .primary
            .map_or_else(|| "null".to_owned(), |p| p.index().to_string());
        let _ = write!(
            out,
            "{{\"ready\":{},\"primary\":{primary},\"nodes\":[",
            self.ready
        );
        for (i, n) in self.nodes.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let lag = n
                .lag_bytes
                .map_or_else(|| "null".to_owned(), |b| b.to_string());
            let staleness = n
                .staleness
                .map_or_else(|| "null".to_owned(), |d| format!("{:.3}", d.as_secs_f64()));
            let _ = write!(
                out,
                "{{\"node\":{},\"address\":\"{}\",\"port\":{},\"role\":\"{}\",\
                 \"lag_bytes\":{lag},\"staleness_seconds\":{staleness}}}",
                n.node.index(),
                json_escaped(&n.address),
                n.port,
                n.role.name(),
            );
        }
        out.push_str("]}");
        out
    }
}

/// `s` with JSON's special characters escaped (a host name or a socket
/// directory may hold any of them).
fn json_escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// A node's state as the router sees it, taken under the lock.
#[derive(Debug, Clone, Copy)]
pub(super) struct NodeView {
    pub(super) role: NodeRole,
    pub(super) up: bool,
    pub(super) lag_bytes: Option<u64>,
    pub(super) staleness: Option<Duration>,
}

/// `node`'s role as the router sees it (down, fenced, the elected primary,
/// a standby), its lag and staleness.
pub(super) fn node_view(state: &State, node: NodeId, now: Instant) -> NodeView {
    let Some(n) = state.topology.node(node) else {
        return NodeView {
            role: NodeRole::Unknown,
            up: false,
            lag_bytes: None,
            staleness: None,
        };
    };
    let role = if !n.up {
        NodeRole::Down
    } else if state.failover.is_fenced(node) {
        NodeRole::Fenced
    } else if state.failover.primary() == Some(node) {
        NodeRole::Primary
    } else if n.role == Role::Standby {
        NodeRole::Standby
    } else {
        NodeRole::Unknown
    };
    let (lag_bytes, staleness) = match role {
        NodeRole::Primary => (Some(0), Some(Duration::ZERO)),
        NodeRole::Standby => (
            state.topology.lag_bytes(node),
            state.topology.staleness(node, now).upper_bound(),
        ),
        _ => (None, None),
    };
    NodeView {
        role,
        up: n.up,
        lag_bytes,
        staleness,
    }
}

/// The readiness rule: a primary elected; for a read-only service, a
/// standby within `max_staleness` (when set) will do.
fn ready(views: &[NodeView], read_only: bool, max_staleness: Option<Duration>) -> bool {
    views.iter().any(|v| {
        v.role == NodeRole::Primary
            || (read_only
                && v.role == NodeRole::Standby
                && max_staleness.is_none_or(|bound| v.staleness.is_some_and(|s| s <= bound)))
    })
}

impl Cluster {
    /// Whether a service over this cluster can do its work now (for a
    /// `/readyz` endpoint), and every node's state. `read_only`: the
    /// service only reads, so an eligible replica is enough.
    pub fn readiness(&self, read_only: bool) -> Readiness {
        let shared = &self.shared;
        let now = Instant::now();
        let (primary, views) = {
            let state = shared.lock();
            let views: Vec<NodeView> = (0..shared.pools.len())
                .map(|i| node_view(&state, NodeId::new(i), now))
                .collect();
            (state.failover.primary(), views)
        };
        let ready = ready(&views, read_only, shared.settings.policy.max_staleness);
        let nodes = views
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let (address, port) = shared.addresses.get(i).cloned().unwrap_or_default();
                NodeReadiness {
                    node: NodeId::new(i),
                    address,
                    port,
                    role: v.role,
                    lag_bytes: v.lag_bytes,
                    staleness: v.staleness,
                }
            })
            .collect();
        Readiness {
            ready,
            primary,
            nodes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(role: NodeRole, staleness: Option<Duration>) -> NodeView {
        NodeView {
            role,
            up: role != NodeRole::Down,
            lag_bytes: None,
            staleness,
        }
    }

    #[test]
    fn a_writer_needs_a_primary_and_a_reader_an_eligible_replica() {
        let secs = |s| Some(Duration::from_secs(s));
        let no_primary = [
            view(NodeRole::Down, None),
            view(NodeRole::Standby, secs(1)),
            view(NodeRole::Fenced, None),
        ];
        assert!(!ready(&no_primary, false, None));
        assert!(ready(&no_primary, true, None));
        assert!(ready(&no_primary, true, secs(2)));
        assert!(!ready(&no_primary, true, Some(Duration::from_millis(500))));
        let unknown_staleness = [view(NodeRole::Standby, None)];
        assert!(!ready(&unknown_staleness, true, secs(2)));
        let with_primary = [view(NodeRole::Primary, secs(0)), view(NodeRole::Down, None)];
        assert!(ready(&with_primary, false, None));
        assert!(ready(&with_primary, true, secs(1)));
        assert!(!ready(&[], true, None));
    }

    #[test]
    fn the_json_body_names_every_node_and_escapes_addresses() {
        let readiness = Readiness {
            ready: false,
            primary: None,
            nodes: vec![
                NodeReadiness {
                    node: NodeId::new(0),
                    address: "127.0.0.1".into(),
                    port: 5432,
                    role: NodeRole::Down,
                    lag_bytes: None,
                    staleness: None,
                },
                NodeReadiness {
                    node: NodeId::new(1),
                    address: "/tmp/a\"b".into(),
                    port: 5433,
                    role: NodeRole::Standby,
                    lag_bytes: Some(128),
                    staleness: Some(Duration::from_millis(1500)),
                },
            ],
        };
        assert_eq!(readiness.http_status(), 503);
        assert_eq!(
            readiness.to_json(),
            "{\"ready\":false,\"primary\":null,\"nodes\":[\
             {\"node\":0,\"address\":\"127.0.0.1\",\"port\":5432,\"role\":\"down\",\
             \"lag_bytes\":null,\"staleness_seconds\":null},\
             {\"node\":1,\"address\":\"/tmp/a\\\"b\",\"port\":5433,\"role\":\"standby\",\
             \"lag_bytes\":128,\"staleness_seconds\":1.500}]}"
        );
    }
}
