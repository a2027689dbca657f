//! `Type`: a PostgreSQL type, by OID, with the built-in types named.

use std::fmt;

/// A PostgreSQL object identifier.
pub type Oid = u32;

/// A PostgreSQL data type, identified by its OID.
///
/// Built-in types have constants and names; other OIDs (user types,
/// extensions) are kept as they are.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Type(Oid);

macro_rules! builtin_types {
    ($($name:ident = $oid:literal, $pg:literal;)*) => {
        impl Type {
            $(
                #[doc = concat!("`", $pg, "` (OID ", stringify!($oid), ")")]
                pub const $name: Self = Self($oid);
            )*

            /// The type's name, for built-in types.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($oid => Some($pg),)*
                    _ => None,
                }
            }
        }
    };
}

builtin_types! {
    BOOL = 16, "bool";
    BYTEA = 17, "bytea";
    CHAR = 18, "char";
    NAME = 19, "name";
    INT8 = 20, "int8";
    INT2 = 21, "int2";
    INT4 = 23, "int4";
    TEXT = 25, "text";
    OID = 26, "oid";
    JSON = 114, "json";
    XML = 142, "xml";
    FLOAT4 = 700, "float4";
    FLOAT8 = 701, "float8";
    UNKNOWN = 705, "unknown";
    BPCHAR = 1042, "bpchar";
    VARCHAR = 1043, "varchar";
    DATE = 1082, "date";
    TIMESTAMP = 1114, "timestamp";
    TIMESTAMPTZ = 1184, "timestamptz";
    INTERVAL = 1186, "interval";
    NUMERIC = 1700, "numeric";
    VOID = 2278, "void";
    UUID = 2950, "uuid";
    JSONB = 3802, "jsonb";
}

impl Type {
    /// OID 0: "unspecified", letting the server infer a parameter's type.
    pub const UNKNOWN_PARAM: Self = Self(0);

    /// The type with this OID.
    pub const fn from_oid(oid: Oid) -> Self {
        Self(oid)
    }

    /// The OID.
    pub const fn oid(self) -> Oid {
        self.0
    }
}

impl fmt::Debug for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "Type({name})"),
            None => write!(f, "Type(oid {})", self.0),
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "type with OID {}", self.0),
        }
    }
}
