//! Child death review (cdop.md): the Child Death Overview Panel's figures and its national
//! return.
//!
//! - [`age`]: the age band at death, decided by birthday.
//! - [`cases`]: the deaths of the store with what every figure derives from them, and the view
//!   `cdop_base` that `queries/cdop.sql` reads (the figures themselves, ids `cdop_...`, are in
//!   that file and run with the other measures).
//! - [`national_return`]: `cdop-return`, the child-level file, the aggregate tables and the
//!   validation report a CDOP submits for a year.

pub mod age;
pub mod cases;
pub mod national_return;

pub use age::{age_band, AgeBand};
pub use cases::{base_frame, base_from_reviews, read_cases, Case, REVIEW_TIME_BANDS};
pub use national_return::{write_return, ReturnSummary};
