//! The pace of an import as the time left is reckoned from: rows committed per second over the
//! last couple of seconds, not since the start. The average since the start counts the time spent
//! opening the file and reading the sample before any row was written, so it began far too slow
//! (a 1.5 s import first said 24 s left) and then kept changing its mind. A pace is only given once
//! three readings in a row agree within a quarter: until then the page shows no time left at all.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How far back the pace looks: long enough to span several commits (one each 150 ms), short
/// enough to follow a real change of speed within a couple of seconds.
const WINDOW: Duration = Duration::from_secs(2);
/// Readings shorter than this say little (a commit or two).
const SHORTEST: Duration = Duration::from_millis(400);
/// Readings that must agree before a pace is given, and by how much at most (fastest/slowest).
const AGREEING: usize = 3;
const AGREEMENT: f64 = 1.25;

#[derive(Debug, Default)]
pub struct Pace {
    /// (when, rows committed then), oldest first; the oldest is at or just before the window.
    commits: VecDeque<(Instant, u64)>,
    /// The last few readings, rows per second.
    readings: VecDeque<f64>,
    steady: bool,
}

impl Pace {
    /// Records that `rows` rows are committed at `now`; returns the pace (rows per second) once
    /// it is steady, `None` before.
    pub fn commit(&mut self, now: Instant, rows: u64) -> Option<f64> {
        self.commits.push_back((now, rows));
        // Keep one commit at or before the window's start, so the window is always full.
        while self.commits.len() > 2 && now.duration_since(self.commits[1].0) >= WINDOW {
            self.commits.pop_front();
        }
        let &(then, before) = self.commits.front()?;
        let span = now.duration_since(then);
        if span < SHORTEST || rows <= before {
            return self.steady.then(|| self.readings.back().copied()).flatten();
        }
        let reading = (rows - before) as f64 / span.as_secs_f64();
        self.readings.push_back(reading);
        if self.readings.len() > AGREEING {
            self.readings.pop_front();
        }
        if !self.steady && self.readings.len() == AGREEING {
            let fastest = self.readings.iter().copied().fold(0.0, f64::max);
            let slowest = self.readings.iter().copied().fold(f64::INFINITY, f64::min);
            self.steady = fastest <= slowest * AGREEMENT;
        }
        self.steady.then_some(reading)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds commits every 150 ms at the given rows per second; returns each answer.
    fn feed(pace: &mut Pace, start: Instant, from_ms: u64, rates: &[f64], rows: &mut f64) -> Vec<Option<f64>> {
        rates
            .iter()
            .enumerate()
            .map(|(i, rate)| {
                *rows += rate * 0.15;
                pace.commit(start + Duration::from_millis(from_ms + 150 * i as u64), *rows as u64)
            })
            .collect()
    }

    #[test]
    fn a_steady_import_gets_a_pace_after_a_few_readings_and_keeps_it() {
        let (mut pace, start, mut rows) = (Pace::default(), Instant::now(), 0.0);
        let got = feed(&mut pace, start, 0, &[500_000.0; 20], &mut rows);
        let first = got.iter().position(Option::is_some).expect("a pace at last");
        assert!((4..=6).contains(&first), "not before 0.4 s and three readings, not much later: {first}");
        for p in &got[first..] {
            let p = p.expect("once steady, always given");
            assert!((p - 500_000.0).abs() < 500_000.0 * 0.02, "{p}");
        }
    }

    #[test]
    fn a_slow_start_is_not_the_pace() {
        // The sample and the table setup: a few slow commits, then full speed.
        let (mut pace, start, mut rows) = (Pace::default(), Instant::now(), 0.0);
        let mut rates = vec![20_000.0; 4];
        rates.extend([600_000.0; 30]);
        let got = feed(&mut pace, start, 0, &rates, &mut rows);
        let last = got.last().copied().flatten().expect("steady by the end");
        assert!((last - 600_000.0).abs() < 600_000.0 * 0.02, "the window forgets the start: {last}");
        let first = got.iter().flatten().next().copied().expect("given");
        assert!(first > 300_000.0, "no pace is given while the readings still climb: {first}");
    }

    #[test]
    fn nothing_moving_gives_no_pace() {
        let (mut pace, start) = (Pace::default(), Instant::now());
        for i in 0..20 {
            assert_eq!(pace.commit(start + Duration::from_millis(150 * i), 0), None);
        }
    }
}
