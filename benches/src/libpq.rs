//! A small safe face over libpq (through `pq-sys`), holding every `unsafe`
//! call of the benchmark crate.
//!
//! Owns: connecting, prepared and unprepared execution, pipeline mode and COPY
//! through libpq's C API, and freeing what libpq hands out. Must not: know any
//! workload; the workloads in `workloads/` call only the safe methods here.

use std::ffi::{CStr, CString, c_char, c_int};
use std::ptr;

use pq_sys as ffi;

use crate::BenchError;

/// libpq's status of one result, as far as the benchmarks care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultStatus {
    /// A command without rows finished.
    CommandOk,
    /// Rows are in the result.
    TuplesOk,
    /// One row of a query in single-row mode.
    SingleTuple,
    /// The server waits for COPY data.
    CopyIn,
    /// The server sends COPY data.
    CopyOut,
    /// A pipeline Sync point was reached.
    PipelineSync,
    /// Anything else (errors, aborted pipelines, empty queries).
    Other,
}

/// An open libpq connection; closed (`PQfinish`) on drop.
#[derive(Debug)]
pub struct PqConn {
    raw: *mut ffi::PGconn,
}

/// A result handed out by libpq; freed (`PQclear`) on drop.
#[derive(Debug)]
pub struct PqResult {
    raw: *mut ffi::PGresult,
}

/// A COPY OUT chunk allocated by libpq; freed (`PQfreemem`) on drop.
#[derive(Debug)]
pub struct CopyChunk {
    raw: *mut c_char,
    len: usize,
}

/// One binary `int4` parameter, kept in network order for libpq.
#[derive(Debug, Clone, Copy)]
pub struct Int4Param {
    bytes: [u8; 4],
}

impl Int4Param {
    /// The parameter holding `value`.
    pub fn new(value: i32) -> Self {
        Self {
            bytes: value.to_be_bytes(),
        }
    }
}

const BINARY: c_int = 1;
const INT4_OID: ffi::Oid = 23;

fn c_string(text: &str) -> Result<CString, BenchError> {
    CString::new(text).map_err(|_| BenchError::new(format!("NUL byte in {text:?}")))
}

impl PqConn {
    /// Connects with a libpq `key=value` string or URL, blocking.
    pub fn connect(conninfo: &str) -> Result<Self, BenchError> {
        let conninfo = c_string(conninfo)?;
        // SAFETY: `conninfo` is a valid NUL-terminated string that outlives the
        // call; libpq returns either null (out of memory) or a connection that
        // we own and free exactly once in `Drop`.
        let raw = unsafe { ffi::PQconnectdb(conninfo.as_ptr()) };
        if raw.is_null() {
            return Err(BenchError::new("libpq: PQconnectdb returned null"));
        }
        let conn = Self { raw };
        // SAFETY: `raw` is a live connection owned by `conn`.
        let status = unsafe { ffi::PQstatus(conn.raw) };
        if status != ffi::ConnStatusType::CONNECTION_OK {
            return Err(BenchError::new(format!(
                "libpq connect: {}",
                conn.error_message()
            )));
        }
        Ok(conn)
    }

    /// The connection's last error message.
    pub fn error_message(&self) -> String {
        // SAFETY: `raw` is live; libpq returns a pointer to a NUL-terminated
        // string owned by the connection, valid until the next call on it; it
        // is copied out before returning.
        unsafe {
            let text = ffi::PQerrorMessage(self.raw);
            if text.is_null() {
                return String::new();
            }
            CStr::from_ptr(text).to_string_lossy().trim_end().to_owned()
        }
    }

    fn take(&self, raw: *mut ffi::PGresult) -> Result<PqResult, BenchError> {
        if raw.is_null() {
            return Err(BenchError::new(format!("libpq: {}", self.error_message())));
        }
        Ok(PqResult { raw })
    }

    /// Runs SQL text with the simple protocol and checks it succeeded.
    pub fn exec(&self, sql: &str) -> Result<PqResult, BenchError> {
        let sql = c_string(sql)?;
        // SAFETY: `raw` is live, `sql` is NUL-terminated and outlives the call.
        let result = self.take(unsafe { ffi::PQexec(self.raw, sql.as_ptr()) })?;
        result.expect_ok()
    }

    /// Prepares `sql` under `name` with `params` int4 parameters.
    pub fn prepare_int4(&self, name: &str, sql: &str, params: usize) -> Result<(), BenchError> {
        let name = c_string(name)?;
        let sql = c_string(sql)?;
        let types = vec![INT4_OID; params];
        let count = c_int::try_from(params).map_err(|_| BenchError::new("too many params"))?;
        // SAFETY: every pointer is valid for the call: the C strings and the
        // `types` array (of `count` entries) outlive it.
        let raw =
            unsafe { ffi::PQprepare(self.raw, name.as_ptr(), sql.as_ptr(), count, types.as_ptr()) };
        self.take(raw)?.expect_ok().map(drop)
    }

    /// Executes a prepared statement with one binary int4 parameter, asking
    /// for binary results.
    pub fn exec_prepared_int4(
        &self,
        name: &CStr,
        param: Int4Param,
    ) -> Result<PqResult, BenchError> {
        let values = [param.bytes.as_ptr().cast::<c_char>()];
        let lengths = [4 as c_int];
        let formats = [BINARY];
        // SAFETY: `name` is NUL-terminated; the three arrays hold one entry
        // each, matching nParams = 1, and `param.bytes` (4 bytes, the length
        // given) lives on this stack frame for the whole call.
        let raw = unsafe {
            ffi::PQexecPrepared(
                self.raw,
                name.as_ptr(),
                1,
                values.as_ptr(),
                lengths.as_ptr(),
                formats.as_ptr(),
                BINARY,
            )
        };
        self.take(raw)?.expect_ok()
    }

    /// Runs SQL text with the extended protocol (unnamed statement) with one
    /// binary int4 parameter and binary results.
    pub fn exec_params_int4(&self, sql: &CStr, param: Int4Param) -> Result<PqResult, BenchError> {
        let types = [INT4_OID];
        let values = [param.bytes.as_ptr().cast::<c_char>()];
        let lengths = [4 as c_int];
        let formats = [BINARY];
        // SAFETY: as in `exec_prepared_int4`, plus `types` with one entry.
        let raw = unsafe {
            ffi::PQexecParams(
                self.raw,
                sql.as_ptr(),
                1,
                types.as_ptr(),
                values.as_ptr(),
                lengths.as_ptr(),
                formats.as_ptr(),
                BINARY,
            )
        };
        self.take(raw)?.expect_ok()
    }

    /// Runs SQL text without parameters through the extended protocol with
    /// binary results.
    pub fn exec_binary(&self, sql: &str) -> Result<PqResult, BenchError> {
        let sql = c_string(sql)?;
        // SAFETY: no parameters (null arrays with nParams = 0 are allowed);
        // `sql` outlives the call.
        let raw = unsafe {
            ffi::PQexecParams(
                self.raw,
                sql.as_ptr(),
                0,
                ptr::null(),
                ptr::null(),
                ptr::null(),
                ptr::null(),
                BINARY,
            )
        };
        self.take(raw)?.expect_ok()
    }

    /// Sends SQL text with the simple protocol without waiting for its
    /// results (read them with [`next_result`](Self::next_result)).
    pub fn send_query(&self, sql: &str) -> Result<(), BenchError> {
        let sql = c_string(sql)?;
        // SAFETY: `raw` is live, `sql` is NUL-terminated and outlives the
        // call; libpq copies it into its output buffer.
        self.check(
            unsafe { ffi::PQsendQuery(self.raw, sql.as_ptr()) },
            "PQsendQuery",
        )
    }

    /// Switches the query just sent to single-row mode: each row then
    /// comes as a result of its own ([`ResultStatus::SingleTuple`]),
    /// followed by an empty [`ResultStatus::TuplesOk`].
    pub fn set_single_row_mode(&self) -> Result<(), BenchError> {
        // SAFETY: `raw` is live.
        self.check(
            unsafe { ffi::PQsetSingleRowMode(self.raw) },
            "PQsetSingleRowMode",
        )
    }

    /// Enters pipeline mode.
    pub fn enter_pipeline_mode(&self) -> Result<(), BenchError> {
        // SAFETY: `raw` is live.
        self.check(
            unsafe { ffi::PQenterPipelineMode(self.raw) },
            "PQenterPipelineMode",
        )
    }

    /// Leaves pipeline mode (every result must have been read).
    pub fn exit_pipeline_mode(&self) -> Result<(), BenchError> {
        // SAFETY: `raw` is live.
        self.check(
            unsafe { ffi::PQexitPipelineMode(self.raw) },
            "PQexitPipelineMode",
        )
    }

    /// Queues one execution of a prepared statement with one binary int4
    /// parameter (pipeline mode).
    pub fn send_prepared_int4(&self, name: &CStr, param: Int4Param) -> Result<(), BenchError> {
        let values = [param.bytes.as_ptr().cast::<c_char>()];
        let lengths = [4 as c_int];
        let formats = [BINARY];
        // SAFETY: as in `exec_prepared_int4`; libpq copies the parameter
        // bytes into its output buffer before returning.
        let sent = unsafe {
            ffi::PQsendQueryPrepared(
                self.raw,
                name.as_ptr(),
                1,
                values.as_ptr(),
                lengths.as_ptr(),
                formats.as_ptr(),
                BINARY,
            )
        };
        self.check(sent, "PQsendQueryPrepared")
    }

    /// Queues a Sync (pipeline mode).
    pub fn pipeline_sync(&self) -> Result<(), BenchError> {
        // SAFETY: `raw` is live.
        self.check(unsafe { ffi::PQpipelineSync(self.raw) }, "PQpipelineSync")
    }

    /// Flushes libpq's output buffer (blocking connection: writes it all).
    pub fn flush(&self) -> Result<(), BenchError> {
        // SAFETY: `raw` is live.
        match unsafe { ffi::PQflush(self.raw) } {
            0 => Ok(()),
            _ => Err(BenchError::new(format!(
                "PQflush: {}",
                self.error_message()
            ))),
        }
    }

    /// The next result, or `None` at the end of one query's results.
    pub fn next_result(&self) -> Option<PqResult> {
        // SAFETY: `raw` is live; a non-null result is owned by the returned
        // value and cleared once.
        let raw = unsafe { ffi::PQgetResult(self.raw) };
        (!raw.is_null()).then_some(PqResult { raw })
    }

    /// Sends one chunk of COPY IN data (blocking).
    pub fn put_copy_data(&self, data: &[u8]) -> Result<(), BenchError> {
        let len = c_int::try_from(data.len()).map_err(|_| BenchError::new("COPY chunk too big"))?;
        // SAFETY: `data` is valid for `len` bytes during the call; libpq copies it.
        let sent = unsafe { ffi::PQputCopyData(self.raw, data.as_ptr().cast(), len) };
        self.check(sent, "PQputCopyData")
    }

    /// Ends COPY IN and reads the final result.
    pub fn put_copy_end(&self) -> Result<(), BenchError> {
        // SAFETY: null error message means a successful end.
        let sent = unsafe { ffi::PQputCopyEnd(self.raw, ptr::null()) };
        self.check(sent, "PQputCopyEnd")?;
        self.drain_results()
    }

    /// The next COPY OUT row, or `None` when COPY is done (the final result is
    /// read then).
    pub fn get_copy_data(&self) -> Result<Option<CopyChunk>, BenchError> {
        let mut buffer: *mut c_char = ptr::null_mut();
        // SAFETY: `buffer` is a valid out-pointer; on a positive return libpq
        // stores a buffer of that many bytes that we free with PQfreemem.
        let len = unsafe { ffi::PQgetCopyData(self.raw, &mut buffer, 0) };
        match len {
            n if n > 0 && !buffer.is_null() => Ok(Some(CopyChunk {
                raw: buffer,
                len: n as usize,
            })),
            -1 => self.drain_results().map(|()| None),
            _ => Err(BenchError::new(format!(
                "PQgetCopyData: {}",
                self.error_message()
            ))),
        }
    }

    fn drain_results(&self) -> Result<(), BenchError> {
        while let Some(result) = self.next_result() {
            result.expect_ok()?;
        }
        Ok(())
    }

    fn check(&self, code: c_int, what: &str) -> Result<(), BenchError> {
        if code == 1 {
            Ok(())
        } else {
            Err(BenchError::new(format!("{what}: {}", self.error_message())))
        }
    }
}

impl Drop for PqConn {
    fn drop(&mut self) {
        // SAFETY: `raw` came from PQconnectdb and is finished exactly once.
        unsafe { ffi::PQfinish(self.raw) }
    }
}

impl PqResult {
    /// The status of this result.
    pub fn status(&self) -> ResultStatus {
        // SAFETY: `raw` is a live result.
        match unsafe { ffi::PQresultStatus(self.raw) } {
            ffi::ExecStatusType::PGRES_COMMAND_OK => ResultStatus::CommandOk,
            ffi::ExecStatusType::PGRES_TUPLES_OK => ResultStatus::TuplesOk,
            ffi::ExecStatusType::PGRES_SINGLE_TUPLE => ResultStatus::SingleTuple,
            ffi::ExecStatusType::PGRES_COPY_IN => ResultStatus::CopyIn,
            ffi::ExecStatusType::PGRES_COPY_OUT => ResultStatus::CopyOut,
            ffi::ExecStatusType::PGRES_PIPELINE_SYNC => ResultStatus::PipelineSync,
            _ => ResultStatus::Other,
        }
    }

    /// This result, or an error carrying the server's message when it failed.
    pub fn expect_ok(self) -> Result<Self, BenchError> {
        if self.status() == ResultStatus::Other {
            // SAFETY: `raw` is live; the message is copied before the result
            // is cleared.
            let message = unsafe {
                let text = ffi::PQresultErrorMessage(self.raw);
                if text.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(text).to_string_lossy().trim_end().to_owned()
                }
            };
            return Err(BenchError::new(format!("libpq query failed: {message}")));
        }
        Ok(self)
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        // SAFETY: `raw` is a live result.
        let n = unsafe { ffi::PQntuples(self.raw) };
        usize::try_from(n).unwrap_or(0)
    }

    /// The bytes of one field, `None` for NULL or out of range.
    pub fn value(&self, row: usize, column: usize) -> Option<&[u8]> {
        let row = c_int::try_from(row).ok()?;
        let column = c_int::try_from(column).ok()?;
        if row >= c_int::try_from(self.rows()).ok()? {
            return None;
        }
        // SAFETY: `raw` is live and `row` is in range; libpq returns null for
        // a column out of range. The value pointer and length describe a
        // buffer owned by the result, which the returned slice borrows.
        unsafe {
            if ffi::PQgetisnull(self.raw, row, column) != 0 {
                return None;
            }
            let data = ffi::PQgetvalue(self.raw, row, column);
            if data.is_null() {
                return None;
            }
            let len = usize::try_from(ffi::PQgetlength(self.raw, row, column)).ok()?;
            Some(std::slice::from_raw_parts(data.cast::<u8>(), len))
        }
    }
}

impl Drop for PqResult {
    fn drop(&mut self) {
        // SAFETY: `raw` came from libpq and is cleared exactly once.
        unsafe { ffi::PQclear(self.raw) }
    }
}

impl CopyChunk {
    /// The bytes of this chunk (one COPY row).
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: libpq gave `len` bytes at `raw`, alive until PQfreemem.
        unsafe { std::slice::from_raw_parts(self.raw.cast::<u8>(), self.len) }
    }
}

impl Drop for CopyChunk {
    fn drop(&mut self) {
        // SAFETY: `raw` came from PQgetCopyData and is freed exactly once.
        unsafe { ffi::PQfreemem(self.raw.cast()) }
    }
}
