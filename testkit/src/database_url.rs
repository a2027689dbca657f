//! The database an example or a tool connects to.
//!
//! Owns [`database_url_or_start`]: `DATABASE_URL` when it is set, a throwaway server
//! otherwise. Must not: be used by tests (they use [`crate::shared`] or their own
//! [`crate::ServerBuilder`]).

use crate::{AuthMethod, Error, Server, ServerBuilder};

/// `DATABASE_URL` when it is set; otherwise starts a throwaway server where `user` logs
/// in with `password` (SCRAM-SHA-256) and owns `database`, and returns its URL with the
/// server, which must be kept alive while it is used (dropping it stops the server and
/// removes its folder).
///
/// ```no_run
/// let (url, _server) = pgline_testkit::database_url_or_start("demo", "demo-secret", "demo")?;
/// println!("connecting to {url}");
/// # Ok::<(), pgline_testkit::Error>(())
/// ```
pub fn database_url_or_start(
    user: &str,
    password: &str,
    database: &str,
) -> Result<(String, Option<Server>), Error> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        return Ok((url, None));
    }
    let server = ServerBuilder::new()
        .auth(AuthMethod::ScramSha256)
        .user(user, password)
        .database(database, user)
        .start()?;
    let url = server.url(user, Some(password), database);
    Ok((url, Some(server)))
}
