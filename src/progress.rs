//! Progress of long commands (`generate`, `import`, `export`) on stderr: a
//! bar with rate and ETA on a terminal (indicatif), a plain line every few
//! seconds and one at the end otherwise, so that a log file shows progress
//! without control characters. The server reports nothing: [`advance`] is a
//! no-op unless a command started a report.

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, HumanCount, HumanDuration, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a plain (non-terminal) report writes a line.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Things with a name: `claims`, `records`.
    Items(&'static str),
    /// Bytes, shown as KiB, MiB, ...
    Bytes,
}

/// One command's progress report; clones report to the same one.
#[derive(Clone)]
pub struct Progress(Arc<Inner>);

struct Inner {
    what: &'static str,
    unit: Unit,
    total: Option<u64>,
    started: Instant,
    output: Output,
}

enum Output {
    Bar(ProgressBar),
    Plain(Mutex<Plain>),
}

struct Plain {
    done: u64,
    last_line: Instant,
}

/// The report the current command started, for code that cannot be handed
/// one (the generator).
static CURRENT: Mutex<Option<Progress>> = Mutex::new(None);

impl Progress {
    /// Starts a report on stderr: a bar when stderr is a terminal, plain
    /// lines otherwise. It becomes the one [`advance`] moves.
    pub fn start(what: &'static str, unit: Unit, total: Option<u64>) -> Progress {
        let output = if io::stderr().is_terminal() {
            Output::Bar(bar(what, unit, total))
        } else {
            Output::Plain(Mutex::new(Plain { done: 0, last_line: Instant::now() }))
        };
        let progress = Progress(Arc::new(Inner { what, unit, total, started: Instant::now(), output }));
        *CURRENT.lock().unwrap_or_else(PoisonError::into_inner) = Some(progress.clone());
        progress
    }

    /// Counts `n` more units done.
    pub fn inc(&self, n: u64) {
        match &self.0.output {
            Output::Bar(bar) => bar.inc(n),
            Output::Plain(plain) => {
                let mut plain = plain.lock().unwrap_or_else(PoisonError::into_inner);
                plain.done += n;
                if plain.last_line.elapsed() >= PLAIN_EVERY {
                    plain.last_line = Instant::now();
                    eprintln!("{}", self.0.line(plain.done, false));
                }
            }
        }
    }

    /// Ends the report with a last line, and stops [`advance`] moving it.
    pub fn finish(&self) {
        match &self.0.output {
            Output::Bar(bar) => bar.finish(),
            Output::Plain(plain) => {
                let done = plain.lock().unwrap_or_else(PoisonError::into_inner).done;
                eprintln!("{}", self.0.line(done, true));
            }
        }
        let mut current = CURRENT.lock().unwrap_or_else(PoisonError::into_inner);
        if current.as_ref().is_some_and(|p| Arc::ptr_eq(&p.0, &self.0)) {
            *current = None;
        }
    }

    /// Wraps a reader so that every byte it hands out counts.
    pub fn reader<R: BufRead>(&self, inner: R) -> CountingReader<R> {
        CountingReader { inner, progress: self.clone() }
    }

    /// Wraps a writer so that every line written counts as one item.
    pub fn line_writer<W: Write>(&self, inner: W) -> LineCountingWriter<W> {
        LineCountingWriter { inner, progress: self.clone() }
    }
}

/// Moves the current command's report on by `n`; nothing when no command
/// started one (the server, the tests).
pub fn advance(n: u64) {
    let current = CURRENT.lock().unwrap_or_else(PoisonError::into_inner).clone();
    if let Some(progress) = current {
        progress.inc(n);
    }
}

fn bar(what: &'static str, unit: Unit, total: Option<u64>) -> ProgressBar {
    let (counts, rate) = match unit {
        Unit::Items(_) => ("{human_pos}/{human_len}", "{rate}"),
        Unit::Bytes => ("{binary_bytes}/{binary_total_bytes}", "{binary_bytes_per_sec}"),
    };
    let items = match unit {
        Unit::Items(name) => name,
        Unit::Bytes => "",
    };
    let template = match total {
        Some(_) => format!("{what} [{{elapsed_precise}}] {{wide_bar}} {counts} {items} ({rate}, ETA {{eta}})"),
        None => format!(
            "{what} {{spinner}} [{{elapsed_precise}}] {} {items} ({rate})",
            counts.split('/').next().unwrap_or(counts)
        ),
    };
    let style = ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()).with_key(
        "rate",
        |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
            let _ = write!(out, "{}/s", HumanCount(state.per_sec() as u64));
        },
    );
    let bar = match total {
        Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

impl Inner {
    fn amount(&self, n: u64) -> String {
        match self.unit {
            Unit::Items(name) => format!("{} {name}", HumanCount(n)),
            Unit::Bytes => HumanBytes(n).to_string(),
        }
    }

    /// A plain progress line: `generate: 120,000/1,000,000 claims (12%), 4,500/s, ETA 3m`.
    fn line(&self, done: u64, finished: bool) -> String {
        let elapsed = self.started.elapsed();
        let seconds = elapsed.as_secs_f64().max(1e-3);
        let rate = done as f64 / seconds;
        let rate = match self.unit {
            Unit::Items(_) => format!("{}/s", HumanCount(rate as u64)),
            Unit::Bytes => format!("{}/s", HumanBytes(rate as u64)),
        };
        let amount = match (self.total, self.unit) {
            (Some(total), Unit::Items(name)) => format!("{}/{} {name}", HumanCount(done), HumanCount(total)),
            (Some(total), Unit::Bytes) => format!("{}/{}", HumanBytes(done), HumanBytes(total)),
            (None, _) => self.amount(done),
        };
        let percent = self.total.filter(|t| *t > 0).map(|t| format!(" ({:.0}%)", done as f64 * 100.0 / t as f64));
        let percent = percent.unwrap_or_default();
        if finished {
            return format!("{}: {amount}{percent}, {rate}, done in {}", self.what, HumanDuration(elapsed));
        }
        let eta = match self.total {
            Some(total) if done > 0 && total > done => {
                let left = Duration::from_secs_f64((total - done) as f64 * seconds / done as f64);
                format!(", ETA {}", HumanDuration(left))
            }
            _ => String::new(),
        };
        format!("{}: {amount}{percent}, {rate}{eta}", self.what)
    }
}

/// A reader whose bytes count towards a report.
pub struct CountingReader<R> {
    inner: R,
    progress: Progress,
}

impl<R: BufRead> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.inc(n as u64);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for CountingReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
        self.progress.inc(amount as u64);
    }
}

/// A writer whose lines count towards a report.
pub struct LineCountingWriter<W> {
    inner: W,
    progress: Progress,
}

impl<W: Write> Write for LineCountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let lines = buf[..n].iter().filter(|b| **b == b'\n').count();
        if lines > 0 {
            self.progress.inc(lines as u64);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_give_the_amount_the_share_and_the_rate() {
        let inner = Inner {
            what: "generate",
            unit: Unit::Items("claims"),
            total: Some(1_000_000),
            started: Instant::now() - Duration::from_secs(10),
            output: Output::Plain(Mutex::new(Plain { done: 0, last_line: Instant::now() })),
        };
        let line = inner.line(250_000, false);
        assert!(line.starts_with("generate: 250,000/1,000,000 claims (25%), 2"), "{line}");
        assert!(line.contains("/s, ETA 3"), "{line}");
        let done = inner.line(1_000_000, true);
        assert!(done.contains("(100%)") && done.contains("done in"), "{done}");
        let bytes = Inner { unit: Unit::Bytes, total: None, ..inner };
        assert!(
            bytes.line(3 * 1024 * 1024, false).starts_with("generate: 3.00 MiB, "),
            "{}",
            bytes.line(3 << 20, false)
        );
    }

    #[test]
    fn counting_wrappers_count_bytes_read_and_lines_written() {
        let progress = Progress(Arc::new(Inner {
            what: "test",
            unit: Unit::Items("records"),
            total: None,
            started: Instant::now(),
            output: Output::Plain(Mutex::new(Plain { done: 0, last_line: Instant::now() })),
        }));
        let mut reader = progress.reader(&b"one\ntwo\n"[..]);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let mut writer = progress.line_writer(Vec::new());
        writer.write_all(b"a\nb\nc").unwrap();
        let Output::Plain(plain) = &progress.0.output else { unreachable!() };
        assert_eq!(plain.lock().unwrap().done, 4 + 2);
    }
}
