//! The trainer (feature `train`).
