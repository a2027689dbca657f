//! What the metrics tests share: every series a debugging recorder holds,
//! keyed by kind, name and sorted labels.

#![allow(dead_code)]

use std::collections::BTreeMap;

use metrics_util::MetricKind;
use metrics_util::debugging::{DebugValue, Snapshotter};

/// Every series: (kind, name, sorted labels) -> value.
pub type Series = BTreeMap<(String, String, Vec<(String, String)>), DebugValue>;

pub fn series(snapshotter: &Snapshotter) -> Series {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let kind = match key.kind() {
                MetricKind::Counter => "counter",
                MetricKind::Gauge => "gauge",
                MetricKind::Histogram => "histogram",
            };
            let key = key.key();
            let mut labels: Vec<(String, String)> = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            ((kind.to_owned(), key.name().to_owned(), labels), value)
        })
        .collect()
}

/// Sorted label pairs, as `series` keys them.
pub fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    v.sort();
    v
}
