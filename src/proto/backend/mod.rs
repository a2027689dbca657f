//! Backend (server-to-client) messages: decoding a [`Frame`] into a
//! [`BackendMessage`].
//!
//! Owns the message type bytes and one decoder per message family (one
//! file each). Decoders borrow from the frame's `Bytes` (row data is never
//! copied), validate everything on parse (lengths, NUL terminators, UTF-8
//! of text fields, allowed values) and reject trailing bytes, so that the
//! accessors of a decoded message cannot fail. Nothing here does I/O or
//! knows which message is expected next: that is the connection's and the
//! startup state machine's business.

mod authentication;
mod command;
mod copy;
mod data_row;
mod error_fields;
mod format;
mod key_data;
mod negotiate;
mod notification;
mod parameter_description;
pub(crate) mod reader;
mod row_description;
mod ssl_response;
mod status;

pub use authentication::{Authentication, SaslMechanismIter, SaslMechanisms};
pub use command::CommandComplete;
pub use copy::{ColumnFormats, CopyData, CopyResponse};
pub use data_row::{DataRow, Fields, Ranges};
pub use error_fields::{ErrorFieldIter, ErrorFields};
pub use format::Format;
pub use key_data::{BackendKeyData, MAX_SECRET_KEY_LEN, MIN_SECRET_KEY_LEN};
pub use negotiate::{NegotiateProtocolVersion, OptionNames};
pub use notification::Notification;
pub use parameter_description::{ParameterDescription, TypeOids};
pub use row_description::{FieldDescription, FieldDescriptions, RowDescription};
pub use ssl_response::SslResponse;
pub use status::{ParameterStatus, TransactionStatus};

use super::{Frame, ProtoError};

/// The message type bytes of backend messages.
pub mod tag {
    /// `R`: Authentication request.
    pub const AUTHENTICATION: u8 = b'R';
    /// `K`: BackendKeyData.
    pub const BACKEND_KEY_DATA: u8 = b'K';
    /// `2`: BindComplete.
    pub const BIND_COMPLETE: u8 = b'2';
    /// `3`: CloseComplete.
    pub const CLOSE_COMPLETE: u8 = b'3';
    /// `C`: CommandComplete.
    pub const COMMAND_COMPLETE: u8 = b'C';
    /// `d`: CopyData.
    pub const COPY_DATA: u8 = b'd';
    /// `c`: CopyDone.
    pub const COPY_DONE: u8 = b'c';
    /// `G`: CopyInResponse.
    pub const COPY_IN_RESPONSE: u8 = b'G';
    /// `H`: CopyOutResponse.
    pub const COPY_OUT_RESPONSE: u8 = b'H';
    /// `W`: CopyBothResponse.
    pub const COPY_BOTH_RESPONSE: u8 = b'W';
    /// `D`: DataRow.
    pub const DATA_ROW: u8 = b'D';
    /// `I`: EmptyQueryResponse.
    pub const EMPTY_QUERY_RESPONSE: u8 = b'I';
    /// `E`: ErrorResponse.
    pub const ERROR_RESPONSE: u8 = b'E';
    /// `N`: NoticeResponse.
    pub const NOTICE_RESPONSE: u8 = b'N';
    /// `v`: NegotiateProtocolVersion.
    pub const NEGOTIATE_PROTOCOL_VERSION: u8 = b'v';
    /// `n`: NoData.
    pub const NO_DATA: u8 = b'n';
    /// `A`: NotificationResponse.
    pub const NOTIFICATION_RESPONSE: u8 = b'A';
    /// `t`: ParameterDescription.
    pub const PARAMETER_DESCRIPTION: u8 = b't';
    /// `S`: ParameterStatus.
    pub const PARAMETER_STATUS: u8 = b'S';
    /// `1`: ParseComplete.
    pub const PARSE_COMPLETE: u8 = b'1';
    /// `s`: PortalSuspended.
    pub const PORTAL_SUSPENDED: u8 = b's';
    /// `Z`: ReadyForQuery.
    pub const READY_FOR_QUERY: u8 = b'Z';
    /// `T`: RowDescription.
    pub const ROW_DESCRIPTION: u8 = b'T';

    /// Every type byte [`BackendMessage::parse`](super::BackendMessage::parse)
    /// decodes.
    pub const ALL: [u8; 23] = [
        AUTHENTICATION,
        BACKEND_KEY_DATA,
        BIND_COMPLETE,
        CLOSE_COMPLETE,
        COMMAND_COMPLETE,
        COPY_DATA,
        COPY_DONE,
        COPY_IN_RESPONSE,
        COPY_OUT_RESPONSE,
        COPY_BOTH_RESPONSE,
        DATA_ROW,
        EMPTY_QUERY_RESPONSE,
        ERROR_RESPONSE,
        NOTICE_RESPONSE,
        NEGOTIATE_PROTOCOL_VERSION,
        NO_DATA,
        NOTIFICATION_RESPONSE,
        PARAMETER_DESCRIPTION,
        PARAMETER_STATUS,
        PARSE_COMPLETE,
        PORTAL_SUSPENDED,
        READY_FOR_QUERY,
        ROW_DESCRIPTION,
    ];
}

/// A decoded message from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendMessage {
    /// `R`: an authentication request or outcome.
    Authentication(Authentication),
    /// `K`: the key to cancel this session's queries.
    BackendKeyData(BackendKeyData),
    /// `2`: a Bind succeeded.
    BindComplete,
    /// `3`: a Close succeeded.
    CloseComplete,
    /// `C`: a command finished.
    CommandComplete(CommandComplete),
    /// `d`: a chunk of COPY data.
    CopyData(CopyData),
    /// `c`: the server's COPY data is complete.
    CopyDone,
    /// `G`: the server is ready for COPY data from the client.
    CopyInResponse(CopyResponse),
    /// `H`: the server is about to send COPY data.
    CopyOutResponse(CopyResponse),
    /// `W`: COPY data flows both ways (replication).
    CopyBothResponse(CopyResponse),
    /// `D`: one row.
    DataRow(DataRow),
    /// `I`: the query string was empty.
    EmptyQueryResponse,
    /// `E`: an error.
    ErrorResponse(ErrorFields),
    /// `N`: a notice.
    NoticeResponse(ErrorFields),
    /// `v`: the server does not support the requested minor version or
    /// some protocol options.
    NegotiateProtocolVersion(NegotiateProtocolVersion),
    /// `n`: the statement or portal returns no rows.
    NoData,
    /// `A`: a `NOTIFY` on a channel this session listens to.
    NotificationResponse(Notification),
    /// `t`: the parameter types of a statement.
    ParameterDescription(ParameterDescription),
    /// `S`: a run-time parameter's value.
    ParameterStatus(ParameterStatus),
    /// `1`: a Parse succeeded.
    ParseComplete,
    /// `s`: an Execute reached its row limit.
    PortalSuspended,
    /// `Z`: the server is ready for a new query cycle.
    ReadyForQuery(TransactionStatus),
    /// `T`: the columns of the rows that follow.
    RowDescription(RowDescription),
}

impl BackendMessage {
    /// Decodes a frame. Unknown type bytes, malformed bodies and trailing
    /// bytes are errors.
    pub fn parse(frame: Frame) -> Result<Self, ProtoError> {
        let Frame { tag, body } = frame;
        if let Some(message) = Self::parse_unowned(tag, &body) {
            return message;
        }
        Ok(match tag {
            tag::AUTHENTICATION => Self::Authentication(Authentication::parse(body)?),
            tag::BACKEND_KEY_DATA => Self::BackendKeyData(BackendKeyData::parse(body)?),
            tag::COMMAND_COMPLETE => Self::CommandComplete(CommandComplete::parse(body)?),
            tag::COPY_DATA => Self::CopyData(CopyData::parse(body)),
            tag::COPY_IN_RESPONSE => {
                Self::CopyInResponse(CopyResponse::parse(body, "CopyInResponse")?)
            }
            tag::COPY_OUT_RESPONSE => {
                Self::CopyOutResponse(CopyResponse::parse(body, "CopyOutResponse")?)
            }
            tag::COPY_BOTH_RESPONSE => {
                Self::CopyBothResponse(CopyResponse::parse(body, "CopyBothResponse")?)
            }
            tag::DATA_ROW => Self::DataRow(DataRow::parse(body)?),
            tag::ERROR_RESPONSE => Self::ErrorResponse(ErrorFields::parse(body, "ErrorResponse")?),
            tag::NOTICE_RESPONSE => {
                Self::NoticeResponse(ErrorFields::parse(body, "NoticeResponse")?)
            }
            tag::NEGOTIATE_PROTOCOL_VERSION => {
                Self::NegotiateProtocolVersion(NegotiateProtocolVersion::parse(body)?)
            }
            tag::NOTIFICATION_RESPONSE => Self::NotificationResponse(Notification::parse(body)?),
            tag::PARAMETER_DESCRIPTION => {
                Self::ParameterDescription(ParameterDescription::parse(body)?)
            }
            tag::PARAMETER_STATUS => Self::ParameterStatus(ParameterStatus::parse(body)?),
            tag::ROW_DESCRIPTION => Self::RowDescription(RowDescription::parse(body)?),
            tag => return Err(ProtoError::UnknownMessage { tag }),
        })
    }

    /// Decodes the messages that keep nothing of their body (BindComplete,
    /// CloseComplete, CopyDone, EmptyQueryResponse, NoData, ParseComplete,
    /// PortalSuspended, ReadyForQuery) from a borrowed body, so a reader
    /// can skip them without taking a share of its buffer; `None` for
    /// every other tag.
    #[inline]
    pub fn parse_unowned(tag: u8, body: &[u8]) -> Option<Result<Self, ProtoError>> {
        Some(match tag {
            tag::BIND_COMPLETE => empty(body, Self::BindComplete),
            tag::CLOSE_COMPLETE => empty(body, Self::CloseComplete),
            tag::COPY_DONE => empty(body, Self::CopyDone),
            tag::EMPTY_QUERY_RESPONSE => empty(body, Self::EmptyQueryResponse),
            tag::NO_DATA => empty(body, Self::NoData),
            tag::PARSE_COMPLETE => empty(body, Self::ParseComplete),
            tag::PORTAL_SUSPENDED => empty(body, Self::PortalSuspended),
            tag::READY_FOR_QUERY => TransactionStatus::parse(body).map(Self::ReadyForQuery),
            _ => return None,
        })
    }

    /// The message's name as the protocol documentation spells it, for
    /// error messages: `"DataRow"`, `"ReadyForQuery"`, …
    pub fn name(&self) -> &'static str {
        match self {
            Self::Authentication(_) => "Authentication",
            Self::BackendKeyData(_) => "BackendKeyData",
            Self::BindComplete => "BindComplete",
            Self::CloseComplete => "CloseComplete",
            Self::CommandComplete(_) => "CommandComplete",
            Self::CopyData(_) => "CopyData",
            Self::CopyDone => "CopyDone",
            Self::CopyInResponse(_) => "CopyInResponse",
            Self::CopyOutResponse(_) => "CopyOutResponse",
            Self::CopyBothResponse(_) => "CopyBothResponse",
            Self::DataRow(_) => "DataRow",
            Self::EmptyQueryResponse => "EmptyQueryResponse",
            Self::ErrorResponse(_) => "ErrorResponse",
            Self::NoticeResponse(_) => "NoticeResponse",
            Self::NegotiateProtocolVersion(_) => "NegotiateProtocolVersion",
            Self::NoData => "NoData",
            Self::NotificationResponse(_) => "NotificationResponse",
            Self::ParameterDescription(_) => "ParameterDescription",
            Self::ParameterStatus(_) => "ParameterStatus",
            Self::ParseComplete => "ParseComplete",
            Self::PortalSuspended => "PortalSuspended",
            Self::ReadyForQuery(_) => "ReadyForQuery",
            Self::RowDescription(_) => "RowDescription",
        }
    }
}

/// A message with no body: `message` if the body is empty, else
/// [`ProtoError::TrailingBytes`].
fn empty(body: &[u8], message: BackendMessage) -> Result<BackendMessage, ProtoError> {
    if body.is_empty() {
        Ok(message)
    } else {
        Err(ProtoError::TrailingBytes {
            message: message.name(),
            extra: body.len(),
        })
    }
}

#[cfg(test)]
mod tests;
