//! The set of installed hooks, and how the layers call it.
//!
//! Owns [`Hooks`]: the hooks of each phase in installation order, shared
//! by every connection and pool built from one configuration. With none
//! installed it is a `None` pointer: the layers test it and move on, with
//! no clock read and no allocation. It calls nothing of the other layers.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::acquire::AcquireHook;
use super::batch::BatchHook;
use super::cluster::ClusterHook;
use super::connect::ConnectHook;
use super::copy::CopyHook;
use super::hook_data::HookData;
use super::prepare::PrepareHook;
use super::query::QueryHook;
use super::release::ReleaseHook;

/// A hook for every phase: implemented for any type that implements all
/// the phase traits, and installed for all of them by [`Hooks::all`].
pub trait AllHooks:
    ConnectHook
    + AcquireHook
    + ReleaseHook
    + PrepareHook
    + QueryHook
    + BatchHook
    + CopyHook
    + ClusterHook
{
}

impl<T> AllHooks for T where
    T: ConnectHook
        + AcquireHook
        + ReleaseHook
        + PrepareHook
        + QueryHook
        + BatchHook
        + CopyHook
        + ClusterHook
{
}

// A hook shared behind an `Arc` (one value registered for several phases,
// or kept by the application to read back) is a hook.
impl<H: ConnectHook + ?Sized> ConnectHook for Arc<H> {
    fn connect_start(&self, c: &super::ConnectStart<'_>) -> HookData {
        (**self).connect_start(c)
    }
    fn connect_end(&self, d: HookData, c: &super::ConnectEnd<'_>) {
        (**self).connect_end(d, c)
    }
}
impl<H: AcquireHook + ?Sized> AcquireHook for Arc<H> {
    fn acquire_start(&self, a: &super::AcquireStart<'_>) -> HookData {
        (**self).acquire_start(a)
    }
    fn checkout(&self, c: &super::Checkout<'_>) -> super::CheckoutDecision {
        (**self).checkout(c)
    }
    fn acquire_end(&self, d: HookData, a: &super::AcquireEnd<'_>) {
        (**self).acquire_end(d, a)
    }
}
impl<H: ReleaseHook + ?Sized> ReleaseHook for Arc<H> {
    fn release(&self, r: &super::Release<'_>) -> super::ReleaseDecision {
        (**self).release(r)
    }
}
impl<H: PrepareHook + ?Sized> PrepareHook for Arc<H> {
    fn prepare_start(&self, p: &super::PrepareStart<'_>) -> HookData {
        (**self).prepare_start(p)
    }
    fn prepare_end(&self, d: HookData, p: &super::PrepareEnd<'_>) {
        (**self).prepare_end(d, p)
    }
}
impl<H: QueryHook + ?Sized> QueryHook for Arc<H> {
    fn query_start(&self, q: &super::QueryStart<'_>) -> HookData {
        (**self).query_start(q)
    }
    fn query_end(&self, d: HookData, q: &super::QueryEnd<'_>) {
        (**self).query_end(d, q)
    }
}
impl<H: BatchHook + ?Sized> BatchHook for Arc<H> {
    fn batch_start(&self, b: &super::BatchStart<'_>) -> HookData {
        (**self).batch_start(b)
    }
    fn batch_statement(&self, d: &HookData, s: &super::BatchStatement<'_>) {
        (**self).batch_statement(d, s)
    }
    fn batch_end(&self, d: HookData, b: &super::BatchEnd<'_>) {
        (**self).batch_end(d, b)
    }
}
impl<H: CopyHook + ?Sized> CopyHook for Arc<H> {
    fn copy_start(&self, c: &super::CopyStart<'_>) -> HookData {
        (**self).copy_start(c)
    }
    fn copy_end(&self, d: HookData, c: &super::CopyEnd<'_>) {
        (**self).copy_end(d, c)
    }
}
impl<H: ClusterHook + ?Sized> ClusterHook for Arc<H> {
    fn node_sample(&self, s: &super::NodeSample<'_>) {
        (**self).node_sample(s)
    }
    fn cluster_change(&self, c: &super::ClusterChange<'_>) {
        (**self).cluster_change(c)
    }
    fn routing(&self, r: &super::Routing<'_>) {
        (**self).routing(r)
    }
    fn retried(&self, r: &super::Retried) {
        (**self).retried(r)
    }
}

#[derive(Clone, Default)]
struct HookSet {
    connect: Vec<Arc<dyn ConnectHook>>,
    acquire: Vec<Arc<dyn AcquireHook>>,
    release: Vec<Arc<dyn ReleaseHook>>,
    prepare: Vec<Arc<dyn PrepareHook>>,
    query: Vec<Arc<dyn QueryHook>>,
    batch: Vec<Arc<dyn BatchHook>>,
    copy: Vec<Arc<dyn CopyHook>>,
    cluster: Vec<Arc<dyn ClusterHook>>,
}

/// Hooks to call at each phase, in the order they were added.
///
/// Installed with [`Config::hooks`](crate::Config::hooks) (every
/// connection made from that configuration, pooled or not, calls them) and
/// [`PoolBuilder::hooks`] (the pool's acquire and release, and the
/// connections it opens), and `ClusterBuilder::hooks` (the cluster hooks,
/// and every host's pool as `PoolBuilder::hooks`). Cheap to clone; two sets are equal when they
/// are the same set.
///
/// ```
/// use pgline::observe::{Hooks, HookData, QueryHook, QueryEnd, QueryStart};
///
/// struct SlowLog;
/// impl QueryHook for SlowLog {
///     fn query_end(&self, _: HookData, q: &QueryEnd<'_>) {
///         if q.elapsed.as_millis() > 100 {
///             eprintln!("slow: {:?} took {:?}", q.sql, q.elapsed);
///         }
///     }
/// }
///
/// let mut config = pgline::Config::new();
/// config.hooks(Hooks::new().query(SlowLog));
/// ```
///
/// [`PoolBuilder::hooks`]: crate::PoolBuilder::hooks
#[derive(Clone, Default)]
pub struct Hooks {
    set: Option<Arc<HookSet>>,
}

impl Hooks {
    /// No hooks.
    pub fn new() -> Self {
        Self::default()
    }

    fn edit(mut self, f: impl FnOnce(&mut HookSet)) -> Self {
        let set = self.set.get_or_insert_with(Default::default);
        f(Arc::make_mut(set));
        self
    }

    /// Adds a hook for every phase.
    pub fn all<H: AllHooks>(self, hook: H) -> Self {
        let hook = Arc::new(hook);
        self.edit(|s| {
            s.connect.push(hook.clone());
            s.acquire.push(hook.clone());
            s.release.push(hook.clone());
            s.prepare.push(hook.clone());
            s.query.push(hook.clone());
            s.batch.push(hook.clone());
            s.copy.push(hook.clone());
            s.cluster.push(hook);
        })
    }

    /// Adds a connect hook.
    pub fn connect(self, hook: impl ConnectHook) -> Self {
        self.edit(|s| s.connect.push(Arc::new(hook)))
    }

    /// Adds an acquire (and checkout) hook.
    pub fn acquire(self, hook: impl AcquireHook) -> Self {
        self.edit(|s| s.acquire.push(Arc::new(hook)))
    }

    /// Adds a release hook.
    pub fn release(self, hook: impl ReleaseHook) -> Self {
        self.edit(|s| s.release.push(Arc::new(hook)))
    }

    /// Adds a prepare hook.
    pub fn prepare(self, hook: impl PrepareHook) -> Self {
        self.edit(|s| s.prepare.push(Arc::new(hook)))
    }

    /// Adds a query hook.
    pub fn query(self, hook: impl QueryHook) -> Self {
        self.edit(|s| s.query.push(Arc::new(hook)))
    }

    /// Adds a batch hook.
    pub fn batch(self, hook: impl BatchHook) -> Self {
        self.edit(|s| s.batch.push(Arc::new(hook)))
    }

    /// Adds a COPY hook.
    pub fn copy(self, hook: impl CopyHook) -> Self {
        self.edit(|s| s.copy.push(Arc::new(hook)))
    }

    /// Adds a cluster hook (installed on a
    /// [`ClusterBuilder`](crate::cluster::ClusterBuilder)).
    pub fn cluster(self, hook: impl ClusterHook) -> Self {
        self.edit(|s| s.cluster.push(Arc::new(hook)))
    }

    /// These hooks, then `other`'s.
    pub fn merged(&self, other: &Self) -> Self {
        match (&self.set, &other.set) {
            (None, _) => other.clone(),
            (_, None) => self.clone(),
            (Some(a), Some(b)) => {
                let mut s = HookSet::clone(a);
                s.connect.extend(b.connect.iter().cloned());
                s.acquire.extend(b.acquire.iter().cloned());
                s.release.extend(b.release.iter().cloned());
                s.prepare.extend(b.prepare.iter().cloned());
                s.query.extend(b.query.iter().cloned());
                s.batch.extend(b.batch.iter().cloned());
                s.copy.extend(b.copy.iter().cloned());
                s.cluster.extend(b.cluster.iter().cloned());
                Self {
                    set: Some(Arc::new(s)),
                }
            }
        }
    }

    /// Whether no hook is installed.
    pub fn is_empty(&self) -> bool {
        self.set.is_none()
    }

    pub(crate) fn connects(&self) -> Option<&[Arc<dyn ConnectHook>]> {
        non_empty(&self.set.as_ref()?.connect)
    }
    pub(crate) fn acquires(&self) -> Option<&[Arc<dyn AcquireHook>]> {
        non_empty(&self.set.as_ref()?.acquire)
    }
    pub(crate) fn releases(&self) -> Option<&[Arc<dyn ReleaseHook>]> {
        non_empty(&self.set.as_ref()?.release)
    }
    pub(crate) fn prepares(&self) -> Option<&[Arc<dyn PrepareHook>]> {
        non_empty(&self.set.as_ref()?.prepare)
    }
    pub(crate) fn queries(&self) -> Option<&[Arc<dyn QueryHook>]> {
        non_empty(&self.set.as_ref()?.query)
    }
    pub(crate) fn batches(&self) -> Option<&[Arc<dyn BatchHook>]> {
        non_empty(&self.set.as_ref()?.batch)
    }
    pub(crate) fn copies(&self) -> Option<&[Arc<dyn CopyHook>]> {
        non_empty(&self.set.as_ref()?.copy)
    }
    pub(crate) fn clusters(&self) -> Option<&[Arc<dyn ClusterHook>]> {
        non_empty(&self.set.as_ref()?.cluster)
    }
}

fn non_empty<T>(v: &[T]) -> Option<&[T]> {
    (!v.is_empty()).then_some(v)
}

impl PartialEq for Hooks {
    fn eq(&self, other: &Self) -> bool {
        match (&self.set, &other.set) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Hooks {}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(s) = &self.set else {
            return f.write_str("Hooks(none)");
        };
        f.debug_struct("Hooks")
            .field("connect", &s.connect.len())
            .field("acquire", &s.acquire.len())
            .field("release", &s.release.len())
            .field("prepare", &s.prepare.len())
            .field("query", &s.query.len())
            .field("batch", &s.batch.len())
            .field("copy", &s.copy.len())
            .field("cluster", &s.cluster.len())
            .finish()
    }
}

/// What the start methods of one phase's hooks returned, and when. The
/// first two are kept inline: one or two hooks per phase allocate nothing
/// here.
#[derive(Debug)]
pub(crate) struct Pending {
    inline: [HookData; 2],
    more: Vec<HookData>,
    at: Instant,
}

impl Pending {
    /// Calls every hook's start method.
    pub(crate) fn start<H: ?Sized>(hooks: &[Arc<H>], f: impl Fn(&H) -> HookData) -> Self {
        let mut inline = [HookData::none(), HookData::none()];
        let mut more = Vec::new();
        for (i, h) in hooks.iter().enumerate() {
            match inline.get_mut(i) {
                Some(slot) => *slot = f(h),
                None => more.push(f(h)),
            }
        }
        Self {
            inline,
            more,
            at: Instant::now(),
        }
    }

    /// The first `tracing` span a start method returned.
    #[cfg(feature = "runtime")]
    fn span(&self) -> Option<&tracing::Span> {
        self.inline
            .iter()
            .chain(&self.more)
            .find_map(|d| d.get::<tracing::Span>())
    }

    /// Runs the future `call` makes inside the first span a start method
    /// returned (entered at each poll), so the spans of what it does (a
    /// prepare inside a query, a connect inside an acquire) are its
    /// children. The span is borrowed, not cloned: entering it is all the
    /// subscriber sees; and the future is made here, in place, not moved.
    #[cfg(feature = "runtime")]
    pub(crate) async fn in_span<F: std::future::Future>(
        &self,
        call: impl FnOnce() -> F,
    ) -> F::Output {
        let span = self.span();
        let mut call = std::pin::pin!(call());
        std::future::poll_fn(|cx| {
            let _entered = span.map(tracing::Span::enter);
            call.as_mut().poll(cx)
        })
        .await
    }

    /// Time since the start.
    pub(crate) fn elapsed(&self) -> Duration {
        self.at.elapsed()
    }

    /// Calls every hook with its data, borrowed (between start and end).
    pub(crate) fn each<H: ?Sized>(&self, hooks: &[Arc<H>], f: impl Fn(&H, &HookData)) {
        for (h, d) in hooks.iter().zip(self.inline.iter().chain(&self.more)) {
            f(h, d);
        }
    }

    /// Calls every hook's end method with its data and the elapsed time.
    pub(crate) fn end<H: ?Sized>(mut self, hooks: &[Arc<H>], f: impl Fn(&H, HookData, Duration)) {
        let elapsed = self.at.elapsed();
        // Taken slot by slot: no move of the inline array, and an empty
        // `more` is never iterated.
        let mut more = std::mem::take(&mut self.more).into_iter();
        for (i, h) in hooks.iter().enumerate() {
            let data = match self.inline.get_mut(i) {
                Some(slot) => std::mem::take(slot),
                None => more.next().unwrap_or_default(),
            };
            f(h, data, elapsed);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::observe::{QueryEnd, QueryStart, ServerInfo};

    struct Log(Arc<Mutex<Vec<String>>>, &'static str);

    impl QueryHook for Log {
        fn query_start(&self, q: &QueryStart<'_>) -> HookData {
            self.0.lock().unwrap().push(format!("{} start", self.1));
            HookData::new(q.params)
        }
        fn query_end(&self, data: HookData, _: &QueryEnd<'_>) {
            let params = data.take::<usize>().unwrap();
            self.0
                .lock()
                .unwrap()
                .push(format!("{} end {params}", self.1));
        }
    }

    #[test]
    fn hooks_compose_in_order_and_get_their_own_data_back() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let a = Hooks::new().query(Log(log.clone(), "a"));
        let b = Hooks::new().query(Log(log.clone(), "b"));
        let both = a.merged(&b);
        assert!(Hooks::new().queries().is_none());
        assert!(a.acquires().is_none());
        let hooks = both.queries().unwrap();
        let server = ServerInfo::default();
        let start = QueryStart {
            operation: "query",
            sql: Some("SELECT 1"),
            params: 2,
            server: &server,
        };
        let pending = Pending::start(hooks, |h| h.query_start(&start));
        pending.end(hooks, |h, d, elapsed| {
            h.query_end(
                d,
                &QueryEnd {
                    operation: "query",
                    sql: Some("SELECT 1"),
                    elapsed,
                    rows: Some(1),
                    error: None,
                    server: &server,
                },
            )
        });
        assert_eq!(
            *log.lock().unwrap(),
            ["a start", "b start", "a end 2", "b end 2"]
        );
        assert_eq!(both, both.clone());
        assert_ne!(both, a);
        assert_eq!(Hooks::new(), Hooks::default());
    }
}
