//! The shapes the open-loop workload compares: which driver, how many
//! connections, and pgline's reply coalescing on or off.
//!
//! Owns: [`Shape`] and its names. Must not: run anything.

/// One way of serving the 64 tasks' requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Shape {
    /// The same schedule with no query: what the harness itself costs.
    NoQuery,
    /// pgline, one shared `Client`, default settings (reply coalescing off).
    Pgline,
    /// pgline, one shared `Client` with `Config::coalesce_replies(true)`.
    PglineCoalesce,
    /// pgline's `Pool` of 8.
    PglinePool,
    /// tokio-postgres, one shared client.
    TokioPostgres,
    /// deadpool-postgres over tokio-postgres, 8 connections.
    Deadpool,
    /// libpq, 8 connections, each on a thread of its own.
    Libpq,
}

impl Shape {
    /// Every shape, in table order.
    pub const ALL: [Self; 7] = [
        Self::NoQuery,
        Self::Pgline,
        Self::PglineCoalesce,
        Self::PglinePool,
        Self::TokioPostgres,
        Self::Deadpool,
        Self::Libpq,
    ];

    /// The peers pgline's shapes are held against.
    pub const PEERS: [Self; 3] = [Self::TokioPostgres, Self::Deadpool, Self::Libpq];

    /// The name in tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::NoQuery => "no-query",
            Self::Pgline => "pgline",
            Self::PglineCoalesce => "pgline-coalesce",
            Self::PglinePool => "pgline-pool8",
            Self::TokioPostgres => "tokio-postgres",
            Self::Deadpool => "deadpool8",
            Self::Libpq => "libpq8",
        }
    }

    /// What it is, for the report.
    pub fn about(self) -> &'static str {
        match self {
            Self::NoQuery => "the same schedule and 64 tasks, no query (harness cost)",
            Self::Pgline => "pgline, one shared Client, default settings (reply coalescing off)",
            Self::PglineCoalesce => "pgline, one shared Client, coalesce_replies(true)",
            Self::PglinePool => "pgline Pool of 8, query_one through the pool",
            Self::TokioPostgres => "tokio-postgres, one shared client, prepared statement",
            Self::Deadpool => "deadpool-postgres of 8, get + prepare_cached + query_one",
            Self::Libpq => "libpq, 8 connections on 8 threads, PQexecPrepared",
        }
    }

    /// The shape with this name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether this is one of pgline's shapes.
    pub fn is_pgline(self) -> bool {
        matches!(self, Self::Pgline | Self::PglineCoalesce | Self::PglinePool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for shape in Shape::ALL {
            assert_eq!(Shape::from_name(shape.name()), Some(shape));
        }
        assert_eq!(Shape::from_name("jdbc"), None);
        assert!(Shape::PglinePool.is_pgline());
        assert!(!Shape::Libpq.is_pgline());
    }
}
