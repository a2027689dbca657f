//! The per-connection prepared-statement cache (LRU).
//!
//! Owns which statements a connection keeps prepared on the server, under
//! which names, and which ones to close when the cache is full. Keys are the
//! SQL text and the declared parameter types; lookups by `&str` do not
//! allocate. The cache only decides: preparing and closing are sent by the
//! client, and an evicted statement's Close rides along with the next
//! request.
//!
//! Names carry a per-connection random tag (`pgline_<16 hex>_c<n>`): behind a
//! transaction-pooling proxy, server sessions are shared by many client
//! connections, and a name another client also used would run *its*
//! statement (another query's rows, silently). With distinct names a
//! statement that is not where this connection left it is an error
//! (26000), never someone else's statement.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::conn::client::handle::Statement;
use crate::error::{Effect, Error, SqlState};
use crate::types::Type;

/// What a statement cache name clash means, added to the server's error.
const NAME_CLASH_HINT: &str = "the statement cache's prepared statements are not where this \
     connection left them, so its server session is likely shared by other clients (a \
     transaction-pooling proxy such as PgBouncer with pool_mode=transaction); use \
     StatementCacheMode::UnnamedOnly (Config::statement_cache_mode) there";

/// `error` with [`NAME_CLASH_HINT`] when it says a cached statement's name is taken
/// (42P05) or missing (26000) on the server: errors that a connection of its own cannot
/// cause, since the cache closes what it evicts and drops what `DISCARD`/`DEALLOCATE`
/// removed. Other errors come back unchanged.
pub(crate) fn explain_name_clash(error: Error) -> Error {
    match error.code() {
        Some(&SqlState::DUPLICATE_PREPARED_STATEMENT | &SqlState::INVALID_SQL_STATEMENT_NAME) => {
            error.with_context(NAME_CLASH_HINT)
        }
        _ => error,
    }
}

/// A cached statement: its server-side name, and its description once the
/// first caller has prepared it (others wait for that).
#[derive(Debug)]
pub(crate) struct CachedStatement {
    pub(crate) name: String,
    pub(crate) prepared: OnceCell<Statement>,
    /// What the statement does to the transaction block, read from its
    /// SQL once (each run's error records it).
    pub(crate) effect: Effect,
}

#[derive(Debug)]
struct Entry {
    types: Vec<Type>,
    statement: Arc<CachedStatement>,
    last_used: u64,
}

/// Counters of the statement cache, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StatementCacheStats {
    /// Lookups that found a statement.
    pub hits: u64,
    /// Lookups that had to prepare a statement.
    pub misses: u64,
    /// Statements evicted to make room (and closed on the server).
    pub evictions: u64,
    /// Statements dropped because the server no longer had them or their
    /// plan changed result type (and, for `DISCARD ALL`/`DEALLOCATE ALL`, all).
    pub invalidations: u64,
    /// Statements in the cache now.
    pub len: usize,
    /// The cache's capacity.
    pub capacity: usize,
}

/// The LRU itself.
#[derive(Debug)]
pub(crate) struct StatementCache {
    capacity: usize,
    entries: HashMap<String, Vec<Entry>>,
    len: usize,
    tick: u64,
    next_id: u64,
    /// `pgline_<tag>_`, the start of every name this cache gives out.
    prefix: String,
    stats: StatementCacheStats,
}

/// The result of a lookup.
#[derive(Debug)]
pub(crate) struct Lookup {
    pub(crate) statement: Arc<CachedStatement>,
    /// Names of statements evicted by this lookup, to close on the server.
    pub(crate) evicted: Option<String>,
}

/// The start of every server-side statement name of a connection whose random tag is
/// `tag`: `pgline_<tag as 16 hex digits>_`.
pub(crate) fn statement_prefix(tag: u64) -> String {
    format!("pgline_{tag:016x}_")
}

impl StatementCache {
    /// A cache of `capacity` statements named `<prefix>c<n>` (see
    /// [`statement_prefix`]).
    pub(crate) fn new(capacity: usize, prefix: String) -> Self {
        Self {
            capacity,
            entries: HashMap::new(),
            len: 0,
            tick: 0,
            next_id: 0,
            prefix,
            stats: StatementCacheStats {
                capacity,
                ..StatementCacheStats::default()
            },
        }
    }

    /// Whether the cache is in use at all.
    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0
    }

    pub(crate) fn stats(&self) -> StatementCacheStats {
        StatementCacheStats {
            len: self.len,
            ..self.stats
        }
    }

    /// Whether `sql` (with no declared types) has a prepared statement; not
    /// counted as a use.
    pub(crate) fn is_prepared(&self, sql: &str) -> bool {
        self.entries.get(sql).is_some_and(|list| {
            list.iter()
                .any(|e| e.types.is_empty() && e.statement.prepared.get().is_some())
        })
    }

    /// Finds the statement for `sql` with these declared types, or makes a
    /// new (not yet prepared) entry, evicting the least recently used one
    /// when full.
    pub(crate) fn lookup(&mut self, sql: &str, types: &[Type]) -> Lookup {
        self.tick += 1;
        let tick = self.tick;
        if let Some(list) = self.entries.get_mut(sql) {
            if let Some(entry) = list.iter_mut().find(|e| e.types == types) {
                entry.last_used = tick;
                self.stats.hits += 1;
                return Lookup {
                    statement: entry.statement.clone(),
                    evicted: None,
                };
            }
        }
        self.stats.misses += 1;
        let evicted = if self.len >= self.capacity {
            self.evict_oldest()
        } else {
            None
        };
        let statement = Arc::new(CachedStatement {
            name: format!("{}c{}", self.prefix, self.next_id),
            prepared: OnceCell::new(),
            effect: Effect::of_statement(sql),
        });
        self.next_id += 1;
        self.entries.entry(sql.to_owned()).or_default().push(Entry {
            types: types.to_vec(),
            statement: statement.clone(),
            last_used: tick,
        });
        self.len += 1;
        Lookup { statement, evicted }
    }

    fn evict_oldest(&mut self) -> Option<String> {
        let (sql, index) = self
            .entries
            .iter()
            .flat_map(|(sql, list)| {
                list.iter()
                    .enumerate()
                    .map(move |(i, e)| (sql, i, e.last_used))
            })
            .min_by_key(|(_, _, used)| *used)
            .map(|(sql, i, _)| (sql.clone(), i))?;
        let entry = self.remove_at(&sql, index)?;
        self.stats.evictions += 1;
        // A statement never prepared (its preparation failed or is under way)
        // may have no server-side object; closing a missing name is harmless.
        Some(entry.statement.name.clone())
    }

    fn remove_at(&mut self, sql: &str, index: usize) -> Option<Entry> {
        let list = self.entries.get_mut(sql)?;
        let entry = list.swap_remove(index);
        if list.is_empty() {
            self.entries.remove(sql);
        }
        self.len -= 1;
        Some(entry)
    }

    /// Drops `statement` from the cache if it is still there (after a failed
    /// preparation or an invalidation). Returns whether it was.
    pub(crate) fn remove(&mut self, sql: &str, statement: &Arc<CachedStatement>) -> bool {
        let index = self.entries.get(sql).and_then(|list| {
            list.iter()
                .position(|e| Arc::ptr_eq(&e.statement, statement))
        });
        match index {
            Some(i) => self.remove_at(sql, i).is_some(),
            None => false,
        }
    }

    /// Counts an invalidation (the caller removed the entry).
    pub(crate) fn count_invalidation(&mut self) {
        self.stats.invalidations += 1;
    }

    /// Forgets every statement: the server dropped them (`DISCARD ALL`,
    /// `DEALLOCATE ALL`), so nothing needs closing.
    pub(crate) fn clear(&mut self) {
        self.stats.invalidations += self.len as u64;
        self.entries.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DbError;

    #[test]
    fn names_carry_the_connection_tag() {
        assert_eq!(statement_prefix(0xab), "pgline_00000000000000ab_");
        let mut a = StatementCache::new(4, statement_prefix(1));
        let mut b = StatementCache::new(4, statement_prefix(2));
        let first = a.lookup("SELECT 1", &[]).statement.name.clone();
        assert_eq!(first, "pgline_0000000000000001_c0");
        assert_eq!(
            a.lookup("SELECT 2", &[]).statement.name,
            "pgline_0000000000000001_c1"
        );
        assert_ne!(b.lookup("SELECT 1", &[]).statement.name, first);
        // PostgreSQL truncates identifiers at 63 bytes: names must stay below.
        assert!(statement_prefix(u64::MAX).len() + "c".len() + u64::MAX.to_string().len() <= 63);
    }

    #[test]
    fn name_clashes_name_the_mode_to_use() {
        let db = |code: &str| {
            Error::db(DbError::from_fields([
                (b'S', "ERROR"),
                (b'C', code),
                (b'M', "prepared statement \"pgline_c0\" already exists"),
            ]))
        };
        for code in ["42P05", "26000"] {
            let err = explain_name_clash(db(code));
            let text = err.to_string();
            assert!(text.contains("StatementCacheMode::UnnamedOnly"), "{text}");
            assert!(text.starts_with("prepared statement"), "{text}");
            assert_eq!(err.code().map(SqlState::code), Some(code));
        }
        let other = explain_name_clash(db("42601"));
        assert!(!other.to_string().contains("UnnamedOnly"), "{other}");
    }

    #[test]
    fn hits_misses_and_lru_eviction() {
        let mut cache = StatementCache::new(2, statement_prefix(7));
        let a = cache.lookup("SELECT 1", &[]);
        assert!(a.evicted.is_none());
        let b = cache.lookup("SELECT 2", &[]);
        assert!(b.evicted.is_none());
        // Touch A so B is the least recently used.
        let a2 = cache.lookup("SELECT 1", &[]);
        assert!(Arc::ptr_eq(&a.statement, &a2.statement));
        let c = cache.lookup("SELECT 3", &[]);
        assert_eq!(c.evicted.as_deref(), Some(b.statement.name.as_str()));
        let stats = cache.stats();
        assert_eq!(
            (stats.hits, stats.misses, stats.evictions, stats.len),
            (1, 3, 1, 2)
        );
    }

    #[test]
    fn declared_types_are_part_of_the_key() {
        let mut cache = StatementCache::new(4, statement_prefix(7));
        let plain = cache.lookup("SELECT $1", &[]);
        let typed = cache.lookup("SELECT $1", &[Type::INT8]);
        assert!(!Arc::ptr_eq(&plain.statement, &typed.statement));
        assert_ne!(plain.statement.name, typed.statement.name);
        assert_eq!(cache.stats().misses, 2);
        assert!(cache.remove("SELECT $1", &typed.statement));
        assert!(!cache.remove("SELECT $1", &typed.statement));
        assert_eq!(cache.stats().len, 1);
        cache.clear();
        assert_eq!(cache.stats().len, 0);
        assert_eq!(cache.stats().invalidations, 1);
    }

    #[test]
    fn capacity_zero_is_disabled() {
        assert!(!StatementCache::new(0, statement_prefix(7)).enabled());
    }
}
