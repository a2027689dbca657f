//! Hooks, counters and tracing used by every layer.
