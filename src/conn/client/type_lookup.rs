//! `Client::lookup_type`: finds a type by name in the server's catalog
//! (`pg_type`, `pg_enum`, `pg_attribute`, `pg_range`) once per connection
//! and caches it in the client's `types::TypeCache`.
//!
//! Uses only the public query API; interpreting the result is `types`' job.

use std::sync::Arc;

use crate::error::{Error, ErrorKind};
use crate::types::{Oid, Type, TypeInfo};

use crate::conn::client::handle::Client;

/// One row per type: the type, its kind, and what each kind needs.
const LOOKUP: &str = "\
SELECT t.oid, t.typname::text, n.nspname::text, t.typtype, t.typcategory,
  CASE t.typtype
    WHEN 'd' THEN t.typbasetype
    WHEN 'r' THEN (SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid)
    WHEN 'm' THEN (SELECT r.rngtypid FROM pg_catalog.pg_range r WHERE r.rngmultitypid = t.oid)
    ELSE t.typelem
  END,
  t.typarray,
  ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e
        WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder),
  ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum),
  ARRAY(SELECT a.atttypid FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)
FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE t.oid = pg_catalog.to_regtype($1)";

impl Client {
    /// Looks up a type by name (`"hstore"`, `"my_schema.mood"`, `"mood[]"`)
    /// and caches the answer for the life of this connection. An unknown
    /// name is an error of kind [`ErrorKind::Type`].
    pub async fn lookup_type(&self, name: &str) -> Result<Arc<TypeInfo>, Error> {
        if let Some(info) = self.inner.types.get(name) {
            return Ok(info);
        }
        let row = self.query_opt(LOOKUP, &[&name]).await?;
        let Some(row) = row else {
            return Err(Error::msg(
                ErrorKind::Type,
                format!("no type named {name:?}"),
            ));
        };
        let oid: Oid = row.get(0)?;
        let typtype: i8 = row.get(3)?;
        let typcategory: i8 = row.get(4)?;
        let related: Oid = row.get(5)?;
        let labels: Vec<String> = row.get(7)?;
        let field_names: Vec<String> = row.get(8)?;
        let field_types: Vec<Oid> = row.get(9)?;
        let fields = field_names
            .into_iter()
            .zip(field_types.into_iter().map(Type::from_oid))
            .collect();
        let info = TypeInfo {
            ty: Type::from_oid(oid),
            name: row.get(1)?,
            schema: row.get(2)?,
            kind: TypeInfo::kind_from_catalog(
                char::from(typtype as u8),
                char::from(typcategory as u8),
                related,
                labels,
                fields,
            ),
            array_oid: row.get(6)?,
        };
        Ok(self.inner.types.insert(name, info))
    }

    /// The types this connection has looked up so far.
    pub fn cached_types(&self) -> &crate::types::TypeCache {
        &self.inner.types
    }
}
