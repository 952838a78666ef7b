//! The one error type of the library.
//!
//! Every fallible function returns [`Error`], whose [`ErrorKind`] maps one-to-one onto the
//! C API's `colorize_status` codes, so the C layer never has to guess a status from a message.

use std::fmt;

/// What went wrong, coarse enough for a caller to act on (and for the C status codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A size, stride, buffer length, option or pixel value that cannot be used.
    InvalidArgument,
    /// No embedded default model in this build, or an unknown model name.
    NoModel,
    /// The model file cannot be read or is not valid ONNX.
    ModelLoad,
    /// Valid ONNX that breaks the model contract (docs/model-contract.md).
    ModelContract,
    /// The network failed while running.
    Inference,
    /// Reading, decoding, encoding or writing a file failed.
    Io,
    /// A size overflowed or is over a limit (pixels, file size).
    TooLarge,
    /// The progress callback asked to stop; outputs are untouched.
    Cancelled,
}

/// An error with its kind and a message meant for a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// Short for `std::result::Result<T, colorize::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    pub(crate) fn too_large(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::TooLarge, message)
    }

    /// Prefixes the message with context (a file name, say), keeping the kind.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
