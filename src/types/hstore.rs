//! `hstore` (the contrib extension): a map of text keys to optional text
//! values, as `HashMap<String, Option<String>>` or `BTreeMap`.
//!
//! hstore's OID differs per database, so these maps accept any user type;
//! `Client::lookup_type("hstore")` gives the OID when a check is wanted.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use bytes::{BufMut, BytesMut};

use super::reader::{Reader, write_value};
use super::{Decode, Encode, IsNull, Type, TypeError};

fn encode_pairs<'a>(
    ty: Type,
    len: usize,
    pairs: impl Iterator<Item = (&'a String, &'a Option<String>)>,
    out: &mut BytesMut,
) -> Result<IsNull, TypeError> {
    let n = i32::try_from(len).map_err(|_| TypeError::InvalidValue {
        pg: ty,
        reason: "too many hstore pairs",
    })?;
    out.put_i32(n);
    for (k, v) in pairs {
        write_value(out, ty, |o| {
            o.put_slice(k.as_bytes());
            Ok(IsNull::No)
        })?;
        write_value(out, ty, |o| match v {
            Some(v) => {
                o.put_slice(v.as_bytes());
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        })?;
    }
    Ok(IsNull::No)
}

fn decode_pairs<C: Extend<(String, Option<String>)>>(
    ty: Type,
    raw: &[u8],
    out: &mut C,
) -> Result<(), TypeError> {
    let mut r = Reader::new(ty, raw);
    let n = r.i32()?;
    let n = usize::try_from(n).map_err(|_| r.invalid("negative pair count"))?;
    if n > r.remaining() / 8 {
        return Err(r.invalid("more pairs announced than bytes present"));
    }
    let text = |b: &[u8]| {
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| TypeError::InvalidValue {
                pg: ty,
                reason: "hstore text is not UTF-8",
            })
    };
    for _ in 0..n {
        let key = r.value()?.ok_or(TypeError::InvalidValue {
            pg: ty,
            reason: "NULL hstore key",
        })?;
        let key = text(key)?;
        let value = r.value()?.map(text).transpose()?;
        out.extend([(key, value)]);
    }
    r.finish()
}

impl<S: BuildHasher> Encode for HashMap<String, Option<String>, S> {
    fn preferred_type(&self) -> Type {
        Type::UNKNOWN_PARAM
    }
    fn accepts(&self, ty: Type) -> bool {
        ty.is_user_defined()
    }
    fn encode(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        encode_pairs(ty, self.len(), self.iter(), out)
    }
}

impl<S: BuildHasher + Default> Decode<'_> for HashMap<String, Option<String>, S> {
    fn accepts(ty: Type) -> bool {
        ty.is_user_defined()
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        let mut map = Self::default();
        decode_pairs(ty, raw, &mut map)?;
        Ok(map)
    }
}

impl Encode for BTreeMap<String, Option<String>> {
    fn preferred_type(&self) -> Type {
        Type::UNKNOWN_PARAM
    }
    fn accepts(&self, ty: Type) -> bool {
        ty.is_user_defined()
    }
    fn encode(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        encode_pairs(ty, self.len(), self.iter(), out)
    }
}

impl Decode<'_> for BTreeMap<String, Option<String>> {
    fn accepts(ty: Type) -> bool {
        ty.is_user_defined()
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        let mut map = Self::new();
        decode_pairs(ty, raw, &mut map)?;
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::decode_value;

    #[test]
    fn round_trip_and_corpus() {
        let hstore = Type::from_oid(16400);
        let mut m = BTreeMap::new();
        m.insert("a".to_owned(), Some("1".to_owned()));
        m.insert("b".to_owned(), None);
        let mut out = BytesMut::new();
        m.encode(hstore, &mut out).unwrap();
        assert_eq!(
            decode_value::<BTreeMap<String, Option<String>>>(hstore, Some(&out)),
            Ok(m)
        );
        // 1 pair, key length 5, no key bytes
        let bad = [0, 0, 0, 1, 0, 0, 0, 5];
        assert!(decode_value::<HashMap<String, Option<String>>>(hstore, Some(&bad)).is_err());
        assert!(
            decode_value::<HashMap<String, Option<String>>>(hstore, Some(&[0x7f, 0, 0, 0]))
                .is_err()
        );
    }
}
