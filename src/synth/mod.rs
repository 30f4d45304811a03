//! Synthetic partnership data (STUB: being written by a helper session).
