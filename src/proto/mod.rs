//! The PostgreSQL frontend/backend protocol, sans-IO.
