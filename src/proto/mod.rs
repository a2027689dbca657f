//! The PostgreSQL frontend/backend protocol, sans-IO.
pub mod auth;
