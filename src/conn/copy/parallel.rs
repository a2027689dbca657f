//! Parallel COPY: one input loaded through several connections at once, and
//! one table read by several connections on one snapshot.
//!
//! Owns the splitting of a line-oriented input (text, or CSV without line
//! breaks inside values) into chunks that end at a line boundary, dealt
//! round-robin to one COPY per connection. Each connection commits its own
//! share, so the load as a whole is not one transaction: if a share fails
//! before the end, every COPY is abandoned (nothing is committed), but a
//! failure while the shares commit can leave some committed. The
//! single-connection [`Client::copy_in`] is the atomic default; use this
//! when speed matters more than atomicity.

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::conn::client::handle::Client;
use crate::conn::copy::stream::CopyInSink;
use crate::error::{Error, ErrorKind};

/// Bytes read from the input per chunk (a chunk goes to one connection).
const CHUNK: usize = 1 << 20;

/// Loads `input` with `sql` (a `COPY … FROM STDIN` in text or CSV format)
/// through all `clients` at once, dealing line-aligned chunks round-robin.
/// Returns the rows copied in all.
///
/// Not atomic across connections; see the module documentation.
pub async fn copy_in_parallel<R: AsyncRead + Unpin>(
    clients: &[Client],
    sql: &str,
    mut input: R,
) -> Result<u64, Error> {
    if clients.is_empty() {
        return Err(Error::msg(
            ErrorKind::Config,
            "copy_in_parallel needs at least one connection",
        ));
    }
    let mut sinks: Vec<CopyInSink> = Vec::with_capacity(clients.len());
    for client in clients {
        sinks.push(client.copy_in(sql).await?);
    }
    let mut carry: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; CHUNK];
    let mut next = 0;
    loop {
        let n = input.read(&mut buf).await.map_err(|e| {
            Error::with_source(ErrorKind::Io, Some("reading the COPY input".into()), e)
        })?;
        if n == 0 {
            break;
        }
        carry.extend_from_slice(&buf[..n]);
        if carry.len() < CHUNK {
            continue;
        }
        // Cut after the last complete line; the rest waits for more input.
        let Some(cut) = carry.iter().rposition(|b| *b == b'\n') else {
            continue;
        };
        let rest = carry.split_off(cut + 1);
        sinks[next].send(&carry).await?;
        next = (next + 1) % sinks.len();
        carry = rest;
    }
    if !carry.is_empty() {
        sinks[next].send(&carry).await?;
    }
    let mut rows = 0;
    let mut first_error = None;
    for sink in sinks {
        match sink.finish().await {
            Ok(n) => rows += n,
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        None => Ok(rows),
        Some(e) => Err(e),
    }
}
