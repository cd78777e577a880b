//! Where the binary's log lines go: standard output, in batches. Lines at `info` and below
//! (one per request) gather in memory and are written together every [`EVERY`], or as soon as
//! [`BATCH`] bytes are waiting; a warning or an error is written at once, after the lines
//! before it. So a busy gateway makes one `write` per batch instead of one per request.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

/// The longest a line waits to be written.
const EVERY: Duration = Duration::from_millis(100);

/// How many waiting bytes make a batch be written at once.
const BATCH: usize = 32 * 1024;

static WAITING: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// The writer tracing-subscriber asks for each line; [`start`] must run for lines to be
/// written without a warning behind them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Batched;

/// One line's writer: at once (`urgent`) or with the next batch.
pub struct Line {
    urgent: bool,
}

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut waiting = WAITING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        waiting.extend_from_slice(buf);
        if self.urgent || waiting.len() >= BATCH {
            write_out(&mut waiting);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Batched {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line { urgent: true }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Line {
        Line {
            urgent: *meta.level() <= tracing::Level::WARN,
        }
    }
}

/// Writes the waiting lines (a failed write drops them: logging never stops serving).
fn write_out(waiting: &mut Vec<u8>) {
    if !waiting.is_empty() {
        let _ = std::io::stdout().lock().write_all(waiting);
        waiting.clear();
        if waiting.capacity() > 4 * BATCH {
            waiting.shrink_to(BATCH);
        }
    }
}

/// Writes whatever is waiting now (at exit).
pub fn flush() {
    write_out(
        &mut WAITING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
}

/// Starts the thread that writes the waiting lines every [`EVERY`].
pub fn start() {
    let _ = std::thread::Builder::new()
        .name("plaid-gateway-logs".into())
        .spawn(|| {
            loop {
                std::thread::sleep(EVERY);
                flush();
            }
        });
}
