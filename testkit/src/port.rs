//! Picking a free loopback TCP port.
//!
//! Owns: asking the kernel for an unused port on 127.0.0.1. Must not: hold the port (the
//! server binds it right after; a lost race is handled by the caller retrying).

use std::net::{Ipv4Addr, TcpListener};

use crate::Error;

/// A port on 127.0.0.1 that was free a moment ago.
pub(crate) fn free_loopback_port() -> Result<u16, Error> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| Error::io("binding 127.0.0.1:0 to find a free port", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("reading the free port", e))?;
    Ok(addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_is_bindable_after_release() {
        let port = free_loopback_port().unwrap();
        assert_ne!(port, 0);
        let again = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
        assert_eq!(again.local_addr().unwrap().port(), port);
    }
}
