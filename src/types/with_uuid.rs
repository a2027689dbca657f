//! `uuid::Uuid` for `uuid` (`uuid` feature).

use bytes::BytesMut;

use super::{Decode, Encode, IsNull, PgUuid, Type, TypeError};

impl Encode for uuid::Uuid {
    fn preferred_type(&self) -> Type {
        Type::UUID
    }
    fn static_type() -> Type {
        Type::UUID
    }
    fn accepts(&self, ty: Type) -> bool {
        ty == Type::UUID
    }
    fn encode(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        PgUuid(*self.as_bytes()).encode(ty, out)
    }
}

impl Decode<'_> for uuid::Uuid {
    fn accepts(ty: Type) -> bool {
        ty == Type::UUID
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        PgUuid::decode(ty, raw).map(|u| Self::from_bytes(u.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::decode_value;

    #[test]
    fn round_trip() {
        let u = uuid::Uuid::from_bytes([7; 16]);
        let mut out = BytesMut::new();
        u.encode(Type::UUID, &mut out).unwrap();
        assert_eq!(&out[..], &[7; 16]);
        assert_eq!(decode_value::<uuid::Uuid>(Type::UUID, Some(&out)), Ok(u));
    }
}
