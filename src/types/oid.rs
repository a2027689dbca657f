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
    XML_ARRAY = 143, "xml[]";
    JSON_ARRAY = 199, "json[]";
    CIDR_ARRAY = 651, "cidr[]";
    CIDR = 650, "cidr";
    FLOAT4 = 700, "float4";
    FLOAT8 = 701, "float8";
    UNKNOWN = 705, "unknown";
    MACADDR8 = 774, "macaddr8";
    MACADDR8_ARRAY = 775, "macaddr8[]";
    MONEY = 790, "money";
    MONEY_ARRAY = 791, "money[]";
    MACADDR = 829, "macaddr";
    INET = 869, "inet";
    BOOL_ARRAY = 1000, "bool[]";
    BYTEA_ARRAY = 1001, "bytea[]";
    CHAR_ARRAY = 1002, "char[]";
    NAME_ARRAY = 1003, "name[]";
    INT2_ARRAY = 1005, "int2[]";
    INT4_ARRAY = 1007, "int4[]";
    TEXT_ARRAY = 1009, "text[]";
    BPCHAR_ARRAY = 1014, "bpchar[]";
    VARCHAR_ARRAY = 1015, "varchar[]";
    INT8_ARRAY = 1016, "int8[]";
    FLOAT4_ARRAY = 1021, "float4[]";
    FLOAT8_ARRAY = 1022, "float8[]";
    OID_ARRAY = 1028, "oid[]";
    MACADDR_ARRAY = 1040, "macaddr[]";
    INET_ARRAY = 1041, "inet[]";
    BPCHAR = 1042, "bpchar";
    VARCHAR = 1043, "varchar";
    DATE = 1082, "date";
    TIME = 1083, "time";
    TIMESTAMP = 1114, "timestamp";
    TIMESTAMP_ARRAY = 1115, "timestamp[]";
    DATE_ARRAY = 1182, "date[]";
    TIME_ARRAY = 1183, "time[]";
    TIMESTAMPTZ = 1184, "timestamptz";
    TIMESTAMPTZ_ARRAY = 1185, "timestamptz[]";
    INTERVAL = 1186, "interval";
    INTERVAL_ARRAY = 1187, "interval[]";
    NUMERIC_ARRAY = 1231, "numeric[]";
    TIMETZ = 1266, "timetz";
    TIMETZ_ARRAY = 1270, "timetz[]";
    BIT = 1560, "bit";
    BIT_ARRAY = 1561, "bit[]";
    VARBIT = 1562, "varbit";
    VARBIT_ARRAY = 1563, "varbit[]";
    NUMERIC = 1700, "numeric";
    RECORD = 2249, "record";
    RECORD_ARRAY = 2287, "record[]";
    VOID = 2278, "void";
    UUID = 2950, "uuid";
    UUID_ARRAY = 2951, "uuid[]";
    JSONB = 3802, "jsonb";
    JSONB_ARRAY = 3807, "jsonb[]";
    INT4_RANGE = 3904, "int4range";
    INT4_RANGE_ARRAY = 3905, "int4range[]";
    NUM_RANGE = 3906, "numrange";
    NUM_RANGE_ARRAY = 3907, "numrange[]";
    TS_RANGE = 3908, "tsrange";
    TS_RANGE_ARRAY = 3909, "tsrange[]";
    TSTZ_RANGE = 3910, "tstzrange";
    TSTZ_RANGE_ARRAY = 3911, "tstzrange[]";
    DATE_RANGE = 3912, "daterange";
    DATE_RANGE_ARRAY = 3913, "daterange[]";
    INT8_RANGE = 3926, "int8range";
    INT8_RANGE_ARRAY = 3927, "int8range[]";
    INT4_MULTIRANGE = 4451, "int4multirange";
    NUM_MULTIRANGE = 4532, "nummultirange";
    TS_MULTIRANGE = 4533, "tsmultirange";
    TSTZ_MULTIRANGE = 4534, "tstzmultirange";
    DATE_MULTIRANGE = 4535, "datemultirange";
    INT8_MULTIRANGE = 4536, "int8multirange";
}

/// Built-in array types and their element types.
const ARRAYS: &[(Type, Type)] = &[
    (Type::BOOL_ARRAY, Type::BOOL),
    (Type::BYTEA_ARRAY, Type::BYTEA),
    (Type::CHAR_ARRAY, Type::CHAR),
    (Type::NAME_ARRAY, Type::NAME),
    (Type::INT2_ARRAY, Type::INT2),
    (Type::INT4_ARRAY, Type::INT4),
    (Type::TEXT_ARRAY, Type::TEXT),
    (Type::BPCHAR_ARRAY, Type::BPCHAR),
    (Type::VARCHAR_ARRAY, Type::VARCHAR),
    (Type::INT8_ARRAY, Type::INT8),
    (Type::FLOAT4_ARRAY, Type::FLOAT4),
    (Type::FLOAT8_ARRAY, Type::FLOAT8),
    (Type::OID_ARRAY, Type::OID),
    (Type::XML_ARRAY, Type::XML),
    (Type::JSON_ARRAY, Type::JSON),
    (Type::JSONB_ARRAY, Type::JSONB),
    (Type::CIDR_ARRAY, Type::CIDR),
    (Type::INET_ARRAY, Type::INET),
    (Type::MACADDR_ARRAY, Type::MACADDR),
    (Type::MACADDR8_ARRAY, Type::MACADDR8),
    (Type::MONEY_ARRAY, Type::MONEY),
    (Type::DATE_ARRAY, Type::DATE),
    (Type::TIME_ARRAY, Type::TIME),
    (Type::TIMETZ_ARRAY, Type::TIMETZ),
    (Type::TIMESTAMP_ARRAY, Type::TIMESTAMP),
    (Type::TIMESTAMPTZ_ARRAY, Type::TIMESTAMPTZ),
    (Type::INTERVAL_ARRAY, Type::INTERVAL),
    (Type::NUMERIC_ARRAY, Type::NUMERIC),
    (Type::BIT_ARRAY, Type::BIT),
    (Type::VARBIT_ARRAY, Type::VARBIT),
    (Type::UUID_ARRAY, Type::UUID),
    (Type::RECORD_ARRAY, Type::RECORD),
    (Type::INT4_RANGE_ARRAY, Type::INT4_RANGE),
    (Type::INT8_RANGE_ARRAY, Type::INT8_RANGE),
    (Type::NUM_RANGE_ARRAY, Type::NUM_RANGE),
    (Type::DATE_RANGE_ARRAY, Type::DATE_RANGE),
    (Type::TS_RANGE_ARRAY, Type::TS_RANGE),
    (Type::TSTZ_RANGE_ARRAY, Type::TSTZ_RANGE),
];

/// Built-in range types, their multirange types and their element types.
const RANGES: &[(Type, Type, Type)] = &[
    (Type::INT4_RANGE, Type::INT4_MULTIRANGE, Type::INT4),
    (Type::INT8_RANGE, Type::INT8_MULTIRANGE, Type::INT8),
    (Type::NUM_RANGE, Type::NUM_MULTIRANGE, Type::NUMERIC),
    (Type::DATE_RANGE, Type::DATE_MULTIRANGE, Type::DATE),
    (Type::TS_RANGE, Type::TS_MULTIRANGE, Type::TIMESTAMP),
    (Type::TSTZ_RANGE, Type::TSTZ_MULTIRANGE, Type::TIMESTAMPTZ),
];

/// OIDs below this are assigned by PostgreSQL itself (`FirstNormalObjectId`);
/// user types and extension types get OIDs from here up.
const FIRST_USER_OID: Oid = 16384;

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

    /// The element type, for a built-in array type.
    pub fn array_element(self) -> Option<Self> {
        ARRAYS.iter().find(|(a, _)| *a == self).map(|(_, e)| *e)
    }

    /// The array type whose elements are `self`, for built-in types.
    pub fn array_of(self) -> Option<Self> {
        ARRAYS.iter().find(|(_, e)| *e == self).map(|(a, _)| *a)
    }

    /// The element (subtype) of a built-in range type.
    pub fn range_element(self) -> Option<Self> {
        RANGES
            .iter()
            .find(|(r, _, _)| *r == self)
            .map(|(_, _, e)| *e)
    }

    /// The range type of a built-in multirange type.
    pub fn multirange_range(self) -> Option<Self> {
        RANGES
            .iter()
            .find(|(_, m, _)| *m == self)
            .map(|(r, _, _)| *r)
    }

    /// The built-in range type over `self`.
    pub fn range_of(self) -> Option<Self> {
        RANGES
            .iter()
            .find(|(_, _, e)| *e == self)
            .map(|(r, _, _)| *r)
    }

    /// The built-in multirange type over `self`.
    pub fn multirange_of(self) -> Option<Self> {
        RANGES
            .iter()
            .find(|(_, _, e)| *e == self)
            .map(|(_, m, _)| *m)
    }

    /// Whether the OID belongs to a user-defined or extension type (enum,
    /// composite, domain, `hstore`, `citext`, …), whose OID differs from one
    /// database to the next.
    pub const fn is_user_defined(self) -> bool {
        self.0 >= FIRST_USER_OID
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
