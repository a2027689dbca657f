//! Types found by name: [`TypeInfo`] (what `pg_type`, `pg_enum`,
//! `pg_attribute` and `pg_range` say about a type) and [`TypeCache`], the
//! per-connection cache of those lookups.
//!
//! Sans-IO: the catalog query lives in the connection layer
//! (`Client::lookup_type`); this module only holds and interprets results.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{Oid, Type};

/// What kind of type a [`TypeInfo`] describes, with what each kind needs
/// for encoding and decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TypeKind {
    /// A base (scalar) type, such as `hstore` or `citext`.
    Base,
    /// An enum, with its labels in sort order.
    Enum(Vec<String>),
    /// A domain over a base type; values travel as the base type.
    Domain(Type),
    /// A composite type, with its fields' names and types in order.
    Composite(Vec<(String, Type)>),
    /// An array of an element type.
    Array(Type),
    /// A range over a subtype.
    Range(Type),
    /// A multirange over a range type.
    Multirange(Type),
    /// A pseudo-type or another kind (the `typtype` letter).
    Other(char),
}

/// A type found by name in the server's catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeInfo {
    /// The type (its OID, valid for this database).
    pub ty: Type,
    /// The type's name.
    pub name: String,
    /// The schema the type is in.
    pub schema: String,
    /// Its kind and the related types.
    pub kind: TypeKind,
    /// The OID of the array type over this type, or 0.
    pub array_oid: Oid,
}

impl TypeInfo {
    /// The `typtype` letter and related columns read into a kind.
    /// `related` is `typbasetype` for domains, `typelem` for arrays, the
    /// range subtype for ranges and the range type for multiranges.
    pub fn kind_from_catalog(
        typtype: char,
        typcategory: char,
        related: Oid,
        labels: Vec<String>,
        fields: Vec<(String, Type)>,
    ) -> TypeKind {
        match (typtype, typcategory) {
            ('e', _) => TypeKind::Enum(labels),
            ('d', _) => TypeKind::Domain(Type::from_oid(related)),
            ('c', _) => TypeKind::Composite(fields),
            ('r', _) => TypeKind::Range(Type::from_oid(related)),
            ('m', _) => TypeKind::Multirange(Type::from_oid(related)),
            ('b', 'A') if related != 0 => TypeKind::Array(Type::from_oid(related)),
            ('b', _) => TypeKind::Base,
            (other, _) => TypeKind::Other(other),
        }
    }

    /// The type values of this type travel as on the wire: the base type
    /// of a domain (followed through nested domains in the cache is up to
    /// the caller), the type itself otherwise.
    pub fn wire_type(&self) -> Type {
        match self.kind {
            TypeKind::Domain(base) => base,
            _ => self.ty,
        }
    }
}

/// A per-connection cache of types looked up by name (and by OID).
#[derive(Debug, Default)]
pub struct TypeCache {
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    by_name: HashMap<String, Arc<TypeInfo>>,
    by_oid: HashMap<Oid, Arc<TypeInfo>>,
}

impl TypeCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The type cached under `name`.
    pub fn get(&self, name: &str) -> Option<Arc<TypeInfo>> {
        self.lock().by_name.get(name).cloned()
    }

    /// The type cached with this OID.
    pub fn get_by_oid(&self, oid: Oid) -> Option<Arc<TypeInfo>> {
        self.lock().by_oid.get(&oid).cloned()
    }

    /// Caches `info` under `name` (the name it was looked up by) and its OID.
    pub fn insert(&self, name: &str, info: TypeInfo) -> Arc<TypeInfo> {
        let info = Arc::new(info);
        let mut entries = self.lock();
        entries.by_name.insert(name.to_owned(), info.clone());
        entries.by_oid.insert(info.ty.oid(), info.clone());
        info
    }

    /// How many names are cached.
    pub fn len(&self) -> usize {
        self.lock().by_name.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding the lock cannot leave the maps half-updated
        // (each insert is one call), so a poisoned lock is still usable.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_cache() {
        assert_eq!(
            TypeInfo::kind_from_catalog('e', 'E', 0, vec!["a".into()], vec![]),
            TypeKind::Enum(vec!["a".into()])
        );
        assert_eq!(
            TypeInfo::kind_from_catalog('b', 'A', 23, vec![], vec![]),
            TypeKind::Array(Type::INT4)
        );
        assert_eq!(
            TypeInfo::kind_from_catalog('b', 'U', 0, vec![], vec![]),
            TypeKind::Base
        );
        let cache = TypeCache::new();
        let info = TypeInfo {
            ty: Type::from_oid(16385),
            name: "positive".into(),
            schema: "public".into(),
            kind: TypeKind::Domain(Type::INT4),
            array_oid: 16384,
        };
        cache.insert("positive", info);
        assert_eq!(cache.get("positive").unwrap().wire_type(), Type::INT4);
        assert_eq!(cache.get_by_oid(16385).unwrap().name, "positive");
        assert!(cache.get("other").is_none());
        assert_eq!(cache.len(), 1);
    }
}
