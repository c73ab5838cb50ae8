//! Errors of the SIP message layer: [`ParseError`] (the bytes are not a SIP
//! message: drop them) and [`Reject`] (a message we must answer with an error
//! status, RFC 3261 §8.2, §21.4).

use bytes::Bytes;

/// Why bytes could not be parsed as a SIP message at all. Such input is
/// dropped (UDP) or closes the connection (stream), never answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("message of {size} bytes exceeds the {max} byte limit")]
    TooLarge { size: usize, max: usize },
    #[error("empty message")]
    Empty,
    #[error("start line is neither a Request-Line nor a Status-Line")]
    BadStartLine,
    #[error("no blank line ends the header section")]
    NoHeaderEnd,
    #[error("malformed header line {line}")]
    BadHeaderLine { line: usize },
}

impl ParseError {
    /// Static label for metrics and logs.
    pub fn name(&self) -> &'static str {
        match self {
            ParseError::TooLarge { .. } => "too_large",
            ParseError::Empty => "empty",
            ParseError::BadStartLine => "bad_start_line",
            ParseError::NoHeaderEnd => "no_header_end",
            ParseError::BadHeaderLine { .. } => "bad_header_line",
        }
    }
}

/// A request the gateway must refuse with `code` (or, for responses, drop).
/// `reason` is a full reason phrase naming the problem, e.g.
/// "Bad Request (CSeq method mismatch)"; `unsupported` lists the option tags
/// for a 420's Unsupported header (RFC 3261 §8.2.2.3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} {reason}")]
pub struct Reject {
    pub code: u16,
    pub reason: &'static str,
    pub unsupported: Vec<Bytes>,
}

impl Reject {
    /// A rejection with no Unsupported list.
    pub fn new(code: u16, reason: &'static str) -> Reject {
        Reject {
            code,
            reason,
            unsupported: Vec::new(),
        }
    }

    /// 400 Bad Request with the given phrase.
    pub(crate) fn bad(reason: &'static str) -> Reject {
        Reject::new(400, reason)
    }

    /// Static label for metrics and logs: the reason phrase.
    pub fn name(&self) -> &'static str {
        self.reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_display() {
        assert_eq!(ParseError::BadStartLine.name(), "bad_start_line");
        assert_eq!(ParseError::TooLarge { size: 9, max: 8 }.name(), "too_large");
        assert_eq!(
            ParseError::TooLarge { size: 9, max: 8 }.to_string(),
            "message of 9 bytes exceeds the 8 byte limit"
        );
        let r = Reject::bad("Bad Request (Via)");
        assert_eq!(r.to_string(), "400 Bad Request (Via)");
        assert_eq!(r.code, 400);
        assert!(r.unsupported.is_empty());
    }
}
