use std::ffi::CStr;

/// A failed DPDK call: which operation, the errno-style code, and DPDK's own text for it.
#[derive(Debug, thiserror::Error)]
#[error("{op}: {msg} (error {code})")]
pub struct Error {
    pub op: String,
    pub code: i32,
    pub msg: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Builds an error from a positive errno value.
    pub fn from_code(op: impl Into<String>, code: i32) -> Error {
        let code = code.abs();
        // SAFETY: rte_strerror returns a pointer to a static or thread-local NUL-terminated
        // string for any input value.
        let msg = unsafe { CStr::from_ptr(dpdk_sys::rte_strerror(code)) }
            .to_string_lossy()
            .into_owned();
        Error {
            op: op.into(),
            code,
            msg,
        }
    }

    /// Builds an error from `rte_errno`, for calls that return -1 or NULL.
    pub fn from_rte_errno(op: impl Into<String>) -> Error {
        // SAFETY: reads the calling thread's rte_errno; no arguments.
        let code = unsafe { dpdk_sys::shim_errno() };
        Error::from_code(op, code)
    }

    /// An error that did not come from a DPDK return code.
    pub fn other(op: impl Into<String>, msg: impl Into<String>) -> Error {
        Error {
            op: op.into(),
            code: 0,
            msg: msg.into(),
        }
    }
}

/// Maps DPDK's "negative errno on failure" convention.
pub(crate) fn check(op: &str, ret: i32) -> Result<i32> {
    if ret < 0 {
        Err(Error::from_code(op, -ret))
    } else {
        Ok(ret)
    }
}
