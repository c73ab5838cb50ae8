//! SIP messages (RFC 3261 §7): a zero-copy parser, typed views, request and
//! response validation, and a builder for the messages we send.
//!
//! No I/O lives here; `transport` hands us one datagram or one stream frame as
//! [`bytes::Bytes`] and gets back a [`Message`]:
//!
//! ```text
//!  Bytes ─► Message::parse        start line + header index: per line the
//!                                 name's id and u32 offsets, one pass; values
//!                                 sliced from the input on access
//!        ─► typed views on demand Via / NameAddr / Uri / CSeq / Max-Forwards
//!        ─► validate_request      400 / 416 / 420 / 505 before the core acts
//!  MessageBuilder / response_to ─► Bytes for the other leg
//! ```
//!
//! Parsing never panics and allocates no `Bytes` per header: the index holds
//! offsets, known names (compact forms included) are resolved to an id once,
//! and folded values are joined into one buffer beside the message.

pub mod addr_text;
mod builder;
mod error;
mod header_name;
mod host;
mod message;
mod method;
mod name_addr;
mod parse;
#[cfg(test)]
mod proptests;
mod scan;
pub mod sdp;
mod start_line;
mod swar;
mod uri;
mod validate;
mod via;

pub use builder::{default_reason, response_to, MessageBuilder};
pub use error::{ParseError, Reject};
pub use header_name::HeaderName;
pub use host::Host;
pub use message::{
    CSeq, FramingDefect, Header, Headers, Message, ParseOptions, RequestLine, StartLine, StatusLine,
};
pub use method::Method;
pub use name_addr::NameAddr;
pub use uri::{Scheme, Uri};
pub use validate::Checked;
pub use via::{Via, MAGIC_COOKIE};
