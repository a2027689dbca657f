//! Test-only scratch directories under `std::env::temp_dir()`, removed on drop.
//!
//! Owns nothing the library uses; it exists so the service-file and
//! `.pgpass` tests can write real files without extra dependencies.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh directory with a unique name, deleted with its contents on drop.
#[derive(Debug)]
pub(crate) struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub(crate) fn new(label: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let unique = format!(
            "pgline-config-{label}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&path).expect("create scratch directory");
        Self { path }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `name` with `contents`, readable by the owner only, and returns its path.
    pub(crate) fn write(&self, name: &str, contents: &[u8]) -> PathBuf {
        let file = self.path.join(name);
        std::fs::write(&file, contents).expect("write scratch file");
        self.set_mode(&file, 0o600);
        file
    }

    /// Sets the Unix permission bits of `file` (no-op elsewhere).
    pub(crate) fn set_mode(&self, file: &Path, mode: u32) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode))
                .expect("set permissions");
        }
        #[cfg(not(unix))]
        let _ = (file, mode);
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A fake environment for `apply_env`/`resolve` tests: a lookup over `pairs`.
pub(crate) fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}
