//! Binary encoding and decoding of PostgreSQL values.
