//! Zero-copy views over packet bytes. Each view checks its length once, in `new_checked`;
//! after that no accessor can panic.

pub mod ethernet;

pub use ethernet::{EtherType, EthernetFrame, MacAddr, ParseMacError};

/// Why a byte slice is not a valid header of the requested kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The slice is shorter than the fixed header.
    Truncated,
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Truncated => f.write_str("truncated header"),
        }
    }
}

impl std::error::Error for WireError {}
