//! colorize: plausible colour for black-and-white photographs.

#[cfg(feature = "train")]
pub mod train;
