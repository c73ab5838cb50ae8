//! placeholder: filled in by the call work.
