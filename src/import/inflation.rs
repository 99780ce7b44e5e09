//! How far the compressed parts of a workbook (an .xlsx's sheet and shared strings, an .ods's
//! content) may inflate: at most `--max-inflation-ratio` times their compressed size each (Apache
//! POI's default bound is 100:1), and `--max-inflated-bytes` in all. Found from outside: a 15 MB
//! .xlsx whose sheet inflated 100:1 to 1.5 GB was imported whole, 1,500,000 rows: memory held, but
//! one small upload wrote gigabytes to the disk. The benchmark's sheets inflate 5.9 to 6.7 times,
//! their shared strings 8.7 (100,000 rows, Python's zipfile on the generated files).
//!
//! Both bounds are checked on what the archive declares before the first row is read (a preview
//! says so as well as an import), and again on the bytes as they inflate, since a declaration can
//! lie; past either, the reading stops with the sentence of [`Inflated`].

use super::ImportError;
use super::limits::Limits;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes a part may inflate to before its ratio is judged: tiny parts of repeated markup compress
/// far beyond any ratio and weigh nothing.
const GRACE: u64 = 1 << 20;

/// The default `--max-inflation-ratio`.
pub const DEFAULT_MAX_RATIO: u64 = 100;
/// The default `--max-inflated-bytes`: room for the default `--max-rows` of the benchmark's rows
/// (100,000 of them with inline strings inflate to 49 MB: 10,000,000 to some 4.9 GB).
pub const DEFAULT_MAX_BYTES: u64 = 8 << 30;

/// Why a part stopped inflating.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Inflated {
    #[error(
        "this workbook's {part} inflates to more than {ratio} times its compressed size ({compressed} compressed), \
         more than this server reads: a file built to fill the disk looks like this; if it is a genuine sheet, \
         save it as CSV, or ask whoever runs the server to raise --max-inflation-ratio"
    )]
    Ratio { part: &'static str, ratio: u64, compressed: String },
    #[error(
        "this workbook inflates to more than {max} of XML, more than this server reads in one import; split it, \
         save it as CSV, or ask whoever runs the server to raise --max-inflated-bytes"
    )]
    Bytes { max: String },
}

impl From<Inflated> for ImportError {
    fn from(e: Inflated) -> Self {
        ImportError::Invalid(e.to_string())
    }
}

/// The bytes inflated so far from one workbook, shared by the readers of its parts.
#[derive(Debug, Clone, Default)]
pub struct Budget(Arc<AtomicU64>);

/// Checks what the archive declares for a part (`compressed` bytes inflating to `size`), before
/// anything of it is read.
pub fn declared(part: &'static str, compressed: u64, size: u64, limits: &Limits) -> Result<(), Inflated> {
    if size > limits.max_inflated_bytes {
        return Err(Inflated::Bytes { max: crate::format::bytes(limits.max_inflated_bytes) });
    }
    if size > GRACE && size > compressed.saturating_mul(limits.max_inflation_ratio) {
        return Err(ratio(part, compressed, limits));
    }
    Ok(())
}

fn ratio(part: &'static str, compressed: u64, limits: &Limits) -> Inflated {
    Inflated::Ratio { part, ratio: limits.max_inflation_ratio, compressed: crate::format::bytes(compressed) }
}

/// A part as it inflates, stopped past either bound with an [`Inflated`] inside the I/O error
/// (see [`of_io`]).
pub struct Inflating<R> {
    inner: R,
    part: &'static str,
    compressed: u64,
    read: u64,
    budget: Budget,
    limits: Limits,
}

impl<R: Read> Inflating<R> {
    pub fn new(inner: R, part: &'static str, compressed: u64, budget: &Budget, limits: &Limits) -> Self {
        Self { inner, part, compressed, read: 0, budget: budget.clone(), limits: *limits }
    }
}

impl<R: Read> Read for Inflating<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        let total = self.budget.0.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if total > self.limits.max_inflated_bytes {
            let max = crate::format::bytes(self.limits.max_inflated_bytes);
            return Err(std::io::Error::other(Inflated::Bytes { max }));
        }
        if self.read > GRACE && self.read > self.compressed.saturating_mul(self.limits.max_inflation_ratio) {
            return Err(std::io::Error::other(ratio(self.part, self.compressed, &self.limits)));
        }
        Ok(n)
    }
}

/// The sentence of an [`Inflated`] carried by `e`, when it carries one.
pub fn of_io(e: &std::io::Error) -> Option<ImportError> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<Inflated>()).map(|i| i.clone().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_stop_past_their_ratio_and_workbooks_past_their_bytes() {
        let limits = Limits { max_inflation_ratio: 100, max_inflated_bytes: 10 << 20, ..Limits::default() };
        assert!(declared("sheet", 1 << 20, 50 << 20, &limits).is_err(), "past the bytes");
        assert!(declared("sheet", 10_000, 5 << 20, &limits).is_err(), "524:1");
        assert!(declared("sheet", 100_000, 5 << 20, &limits).is_ok(), "52:1");
        assert!(declared("sheet", 100, 1 << 19, &limits).is_ok(), "a small part is never judged by its ratio");

        let zeros = vec![0u8; 3 << 20];
        let mut part = Inflating::new(&zeros[..], "sheet", 20_000, &Budget::default(), &limits);
        let e = std::io::copy(&mut part, &mut std::io::sink()).expect_err("157:1");
        assert!(of_io(&e).is_some_and(|e| e.to_string().contains("100 times")), "{e}");
        // Two parts of one workbook share its bytes.
        let budget = Budget::default();
        let mut one = Inflating::new(&zeros[..], "sheet", 1 << 20, &budget, &limits);
        std::io::copy(&mut one, &mut std::io::sink()).expect("3 MB of 10");
        let big = vec![0u8; 8 << 20];
        let mut two = Inflating::new(&big[..], "shared strings", 1 << 20, &budget, &limits);
        let e = std::io::copy(&mut two, &mut std::io::sink()).expect_err("11 MB of 10");
        assert!(of_io(&e).is_some_and(|e| e.to_string().contains("--max-inflated-bytes")), "{e}");
    }
}
