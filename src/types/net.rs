//! Network types: `inet` and `cidr` ([`PgInet`], and `std::net::IpAddr`
//! for host addresses), `macaddr` ([`PgMacAddr`]) and `macaddr8`
//! ([`PgMacAddr8`]).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, BytesMut};

use super::reader::Reader;
use super::{Decode, Encode, IsNull, Type, TypeError};

/// The server's address family codes in the binary format.
const PGSQL_AF_INET: u8 = 2;
const PGSQL_AF_INET6: u8 = 3;

/// An `inet` or `cidr` value: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PgInet {
    /// The address.
    pub addr: IpAddr,
    /// The prefix length (netmask bits).
    pub prefix: u8,
}

impl PgInet {
    /// A host address (full-length prefix).
    pub fn host(addr: IpAddr) -> Self {
        Self {
            addr,
            prefix: max_prefix(addr),
        }
    }
}

fn max_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

impl fmt::Display for PgInet {
    /// The `inet` text form: the prefix is shown unless it is full length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.addr)?;
        if self.prefix != max_prefix(self.addr) {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

fn encode_inet(v: &PgInet, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
    if v.prefix > max_prefix(v.addr) {
        return Err(TypeError::InvalidValue {
            pg: ty,
            reason: "prefix longer than the address",
        });
    }
    match v.addr {
        IpAddr::V4(a) => {
            out.put_slice(&[PGSQL_AF_INET, v.prefix, u8::from(ty == Type::CIDR), 4]);
            out.put_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            out.put_slice(&[PGSQL_AF_INET6, v.prefix, u8::from(ty == Type::CIDR), 16]);
            out.put_slice(&a.octets());
        }
    }
    Ok(IsNull::No)
}

fn decode_inet(ty: Type, raw: &[u8]) -> Result<PgInet, TypeError> {
    let mut r = Reader::new(ty, raw);
    let family = r.u8()?;
    let prefix = r.u8()?;
    let _is_cidr = r.u8()?;
    let len = r.u8()?;
    let addr = match (family, len) {
        (PGSQL_AF_INET, 4) => {
            let b = r.take(4)?;
            IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        }
        (PGSQL_AF_INET6, 16) => {
            let b = <[u8; 16]>::try_from(r.take(16)?).map_err(|_| TypeError::InvalidValue {
                pg: ty,
                reason: "short address",
            })?;
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return Err(r.invalid("unknown address family or length")),
    };
    r.finish()?;
    if prefix > max_prefix(addr) {
        return Err(TypeError::InvalidValue {
            pg: ty,
            reason: "prefix longer than the address",
        });
    }
    Ok(PgInet { addr, prefix })
}

impl Encode for PgInet {
    fn preferred_type(&self) -> Type {
        Type::INET
    }
    fn static_type() -> Type {
        Type::INET
    }
    fn accepts(&self, ty: Type) -> bool {
        ty == Type::INET || ty == Type::CIDR
    }
    fn encode(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        encode_inet(self, ty, out)
    }
}

impl Decode<'_> for PgInet {
    fn accepts(ty: Type) -> bool {
        ty == Type::INET || ty == Type::CIDR
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        decode_inet(ty, raw)
    }
}

/// A host address as `inet`; decoding refuses values with a shorter prefix.
impl Encode for IpAddr {
    fn preferred_type(&self) -> Type {
        Type::INET
    }
    fn static_type() -> Type {
        Type::INET
    }
    fn accepts(&self, ty: Type) -> bool {
        ty == Type::INET || ty == Type::CIDR
    }
    fn encode(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        encode_inet(&PgInet::host(*self), ty, out)
    }
}

impl Decode<'_> for IpAddr {
    fn accepts(ty: Type) -> bool {
        ty == Type::INET || ty == Type::CIDR
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        let v = decode_inet(ty, raw)?;
        if v.prefix != max_prefix(v.addr) {
            return Err(TypeError::OutOfRange {
                rust: "IpAddr (a network, not a host: use PgInet)",
                pg: ty,
            });
        }
        Ok(v.addr)
    }
}

macro_rules! mac {
    ($(#[$doc:meta])* $name:ident, $n:literal, $ty:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; $n]);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for (i, b) in self.0.iter().enumerate() {
                    if i > 0 {
                        f.write_str(":")?;
                    }
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }

        impl Encode for $name {
            fn preferred_type(&self) -> Type {
                $ty
            }
            fn static_type() -> Type {
                $ty
            }
            fn accepts(&self, ty: Type) -> bool {
                ty == $ty
            }
            fn encode(&self, _: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
                out.put_slice(&self.0);
                Ok(IsNull::No)
            }
        }

        impl Decode<'_> for $name {
            fn accepts(ty: Type) -> bool {
                ty == $ty
            }
            fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
                <[u8; $n]>::try_from(raw).map(Self).map_err(|_| TypeError::InvalidValue {
                    pg: ty,
                    reason: concat!("a MAC address of ", stringify!($n), " bytes was expected"),
                })
            }
        }
    };
}

mac!(
    /// A `macaddr` (6 bytes).
    PgMacAddr,
    6,
    Type::MACADDR
);
mac!(
    /// A `macaddr8` (8 bytes).
    PgMacAddr8,
    8,
    Type::MACADDR8
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::decode_value;

    #[test]
    fn inet_codec() {
        let v = PgInet {
            addr: "10.1.0.0".parse().unwrap(),
            prefix: 16,
        };
        let mut out = BytesMut::new();
        v.encode(Type::CIDR, &mut out).unwrap();
        assert_eq!(&out[..], &[2, 16, 1, 4, 10, 1, 0, 0]);
        assert_eq!(decode_value::<PgInet>(Type::CIDR, Some(&out)), Ok(v));
        assert_eq!(v.to_string(), "10.1.0.0/16");
        assert!(decode_value::<IpAddr>(Type::CIDR, Some(&out)).is_err());
        assert!(decode_value::<PgInet>(Type::INET, Some(&[2, 33, 0, 4, 1, 2, 3, 4])).is_err());
        assert!(decode_value::<PgInet>(Type::INET, Some(&[3, 8, 0, 16, 1])).is_err());
        let host: IpAddr = "::1".parse().unwrap();
        out.clear();
        host.encode(Type::INET, &mut out).unwrap();
        assert_eq!(decode_value::<IpAddr>(Type::INET, Some(&out)), Ok(host));
    }

    #[test]
    fn mac_text() {
        assert_eq!(
            PgMacAddr([8, 0, 0x2b, 1, 2, 3]).to_string(),
            "08:00:2b:01:02:03"
        );
        assert!(decode_value::<PgMacAddr8>(Type::MACADDR8, Some(&[0; 6])).is_err());
    }
}
