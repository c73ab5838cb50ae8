//! The call layer's front door: every received message passes here first.
//!
//! - `dispatch`: parse checks, stateless answers, Call-ID -> call task.
//! - `admit`: a new INVITE -> `CallPlan` (then with its limit slot) or a typed refusal; sends nothing.
//! - `start`: executes admission: the limit slot, the Call-ID registration, the call task.
//! - `flood`: the per-source flood guard for untrusted sources.
//! - `overload`: sheds new INVITEs (503 + Retry-After) while the gateway cannot keep up;
//!   `fair`: which sources send them (a clearly light source is spared the soft signals).
//!
//! Depends on the call layer's leaves (`hub`, `respond`, `limits`, `outcome`)
//! and starts `actor::Call` tasks; nothing in `actor` imports it.

mod admit;
pub mod dispatch;
pub mod fair;
pub mod flood;
pub mod overload;
pub mod recent_rejects;
mod start;
