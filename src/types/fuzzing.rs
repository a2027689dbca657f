//! Fuzzing entry points for the binary value decoders and row mapping.
//!
//! **No stability promise**: this module exists for the `fuzz/` targets and
//! the corpus replay tests, and may change or vanish in any release. Each
//! entry takes arbitrary bytes, returns nothing, and panics only when an
//! invariant breaks: a decoder panicked, or a value that decoded does not
//! survive `decode(encode(value)) == value`.

use std::collections::HashMap;
use std::fmt::Debug;

use bytes::{Bytes, BytesMut};

use super::derive_support::{decode_column, require_column};
use super::{
    ColumnRef, Decode, Encode, FromRow, PgArray, PgBits, PgDate, PgInet, PgInterval, PgMacAddr,
    PgMacAddr8, PgMoney, PgMultirange, PgNumeric, PgRange, PgTime, PgTimeTz, PgTimestamp,
    PgTimestampTz, PgUuid, RowAccess, Type, TypeError, decode_value,
};
use crate::proto::{BackendMessage, DataRow, Frame, RowDescription};

/// Decodes the value, and when it decodes, encodes it back and decodes
/// again: the two values must be equal.
fn round_trip<T>(ty: Type, raw: &[u8])
where
    T: for<'a> Decode<'a> + Encode + PartialEq + Debug,
{
    let Ok(value) = decode_value::<T>(ty, Some(raw)) else {
        return;
    };
    let mut out = BytesMut::new();
    if value.encode(ty, &mut out).is_err() {
        return;
    }
    let again = decode_value::<T>(ty, Some(&out))
        .unwrap_or_else(|e| panic!("{ty}: re-encoded {value:?} does not decode: {e}"));
    assert_eq!(again, value, "{ty}: decode(encode(x)) != x");
}

/// Decodes only (for types whose encoding is not canonical, e.g. NaN floats
/// compare unequal).
fn decode_only<T: for<'a> Decode<'a>>(ty: Type, raw: &[u8]) {
    let _ = decode_value::<T>(ty, Some(raw));
}

/// The first byte picks a type; the rest is a binary value of it.
pub fn decode(data: &[u8]) {
    let Some((&selector, raw)) = data.split_first() else {
        return;
    };
    match selector % 32 {
        0 => round_trip::<bool>(Type::BOOL, raw),
        1 => round_trip::<i16>(Type::INT2, raw),
        2 => round_trip::<i32>(Type::INT4, raw),
        3 => round_trip::<i64>(Type::INT8, raw),
        4 => decode_only::<f32>(Type::FLOAT4, raw),
        5 => decode_only::<f64>(Type::FLOAT8, raw),
        6 => round_trip::<PgNumeric>(Type::NUMERIC, raw),
        7 => round_trip::<String>(Type::TEXT, raw),
        8 => round_trip::<String>(Type::JSONB, raw),
        9 => round_trip::<Vec<u8>>(Type::BYTEA, raw),
        10 => round_trip::<PgUuid>(Type::UUID, raw),
        11 => round_trip::<PgDate>(Type::DATE, raw),
        12 => round_trip::<PgTime>(Type::TIME, raw),
        13 => round_trip::<PgTimeTz>(Type::TIMETZ, raw),
        14 => round_trip::<PgTimestamp>(Type::TIMESTAMP, raw),
        15 => round_trip::<PgTimestampTz>(Type::TIMESTAMPTZ, raw),
        16 => round_trip::<PgInterval>(Type::INTERVAL, raw),
        17 => round_trip::<PgInet>(Type::INET, raw),
        18 => round_trip::<PgInet>(Type::CIDR, raw),
        19 => round_trip::<PgMacAddr>(Type::MACADDR, raw),
        20 => round_trip::<PgMacAddr8>(Type::MACADDR8, raw),
        21 => round_trip::<PgBits>(Type::VARBIT, raw),
        22 => round_trip::<PgMoney>(Type::MONEY, raw),
        23 => round_trip::<PgArray<Option<i32>>>(Type::INT4_ARRAY, raw),
        24 => round_trip::<PgArray<Option<String>>>(Type::TEXT_ARRAY, raw),
        25 => round_trip::<PgRange<i32>>(Type::INT4_RANGE, raw),
        26 => round_trip::<PgRange<PgTimestampTz>>(Type::TSTZ_RANGE, raw),
        27 => round_trip::<PgMultirange<i64>>(Type::INT8_MULTIRANGE, raw),
        28 => round_trip::<PgRange<PgNumeric>>(Type::NUM_RANGE, raw),
        29 => decode_only::<HashMap<String, Option<String>>>(Type::from_oid(16_400), raw),
        30 => round_trip::<PgArray<Option<PgNumeric>>>(Type::NUMERIC_ARRAY, raw),
        _ => round_trip::<String>(Type::JSON, raw),
    }
}

/// A row as the server would describe and send it, for mapping.
struct FuzzRow {
    columns: Vec<(String, Type)>,
    data: DataRow,
}

impl RowAccess for FuzzRow {
    fn column_count(&self) -> usize {
        self.columns.len()
    }
    fn column_name(&self, index: usize) -> Option<&str> {
        self.columns.get(index).map(|(n, _)| n.as_str())
    }
    fn column_type(&self, index: usize) -> Option<Type> {
        self.columns.get(index).map(|(_, t)| *t)
    }
    fn raw_value(&self, index: usize) -> Option<&[u8]> {
        let range = self.data.ranges().nth(index)??;
        self.data.body().get(range)
    }
}

/// A struct mapped the way `#[derive(FromRow)]` maps: columns resolved by
/// name, then decoded.
#[derive(Debug)]
#[allow(dead_code)]
struct Mapped<'r> {
    id: i64,
    name: Option<&'r str>,
    tags: Vec<String>,
    at: Option<PgTimestampTz>,
    amount: PgNumeric,
}

impl<'r> FromRow<'r> for Mapped<'r> {
    type Columns = (ColumnRef, ColumnRef, ColumnRef, ColumnRef, ColumnRef);

    fn resolve<R: RowAccess + ?Sized>(row: &R, prefix: &str) -> Result<Self::Columns, TypeError> {
        Ok((
            require_column::<Self, _>(row, prefix, "id")?,
            require_column::<Self, _>(row, prefix, "name")?,
            require_column::<Self, _>(row, prefix, "tags")?,
            require_column::<Self, _>(row, prefix, "at")?,
            require_column::<Self, _>(row, prefix, "amount")?,
        ))
    }

    fn from_resolved<R: RowAccess + ?Sized>(
        row: &'r R,
        c: &Self::Columns,
    ) -> Result<Self, TypeError> {
        Ok(Self {
            id: decode_column(row, c.0)?,
            name: decode_column(row, c.1)?,
            tags: decode_column(row, c.2)?,
            at: decode_column(row, c.3)?,
            amount: decode_column(row, c.4)?,
        })
    }
}

/// Maps an arbitrary RowDescription + DataRow pair: the first two bytes are
/// the RowDescription body's length, that body follows, and the rest is
/// the DataRow body. Mapping errors are expected; panics are bugs.
pub fn from_row(data: &[u8]) {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let len = usize::from(u16::from_be_bytes(*len)).min(rest.len());
    let (description, values) = rest.split_at(len);
    let parse = |tag, body: &[u8]| {
        BackendMessage::parse(Frame {
            tag,
            body: Bytes::copy_from_slice(body),
        })
    };
    let (Ok(BackendMessage::RowDescription(d)), Ok(BackendMessage::DataRow(row))) =
        (parse(b'T', description), parse(b'D', values))
    else {
        return;
    };
    let columns = columns_of(&d);
    // The connection layer refuses rows whose field count differs.
    if columns.len() != row.len() {
        return;
    }
    let row = FuzzRow { columns, data: row };
    let first = format!("{:?}", Mapped::from_row(&row));
    // Mapping is a pure function of the row: a second pass agrees.
    let second = format!("{:?}", Mapped::from_row(&row));
    assert_eq!(first, second, "mapping the same row twice differs");
    if let Ok(mapped) = Mapped::from_row(&row) {
        // A borrowed text field points into the row's own bytes.
        if let Some(name) = mapped.name {
            let body = row.data.body().as_ref().as_ptr_range();
            assert!(
                body.contains(&name.as_ptr()) || name.is_empty(),
                "name was copied"
            );
        }
    }
}

fn columns_of(d: &RowDescription) -> Vec<(String, Type)> {
    d.fields()
        .map(|f| (f.name.to_owned(), Type::from_oid(f.type_oid)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay(target: &str, entry: fn(&[u8])) -> usize {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let mut n = 0;
        for file in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = file.unwrap().path();
            entry(&std::fs::read(&path).unwrap());
            n += 1;
        }
        n
    }

    #[test]
    fn decode_corpus_replays() {
        assert!(replay("type_decoders", decode) >= 10);
    }

    #[test]
    fn from_row_corpus_replays() {
        assert!(replay("from_row", from_row) >= 3);
    }

    #[test]
    fn every_selector_handles_empty_and_short_values() {
        for selector in 0..32u8 {
            decode(&[selector]);
            decode(&[selector, 0]);
            decode(&[selector, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        }
    }
}
