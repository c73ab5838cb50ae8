//! placeholder: filled in by the sip work.
