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

/// The lines waiting for the next batch: held only to add a line or to take them all.
static WAITING: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// The batch being written: held while writing, so batches go out in order, and a line
/// added meanwhile never waits for standard output.
static WRITING: Mutex<Vec<u8>> = Mutex::new(Vec::new());

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
        let due = {
            let mut waiting = WAITING
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            waiting.extend_from_slice(buf);
            self.urgent || waiting.len() >= BATCH
        };
        if due {
            flush();
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

/// Writes the lines waiting now (a failed write drops them: logging never stops serving).
pub fn flush() {
    let mut writing = WRITING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    std::mem::swap(
        &mut *writing,
        &mut *WAITING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    if !writing.is_empty() {
        let _ = std::io::stdout().lock().write_all(&writing);
        writing.clear();
        if writing.capacity() > 4 * BATCH {
            writing.shrink_to(BATCH);
        }
    }
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

/// The event format: tracing-subscriber's default (`Full`, no target), with the per-request
/// line ([`plaid_gateway::REQUEST_LOG_TARGET`]) written by a shorter path to the same text: a
/// timestamp formatted once a second, and its fields written in order, strings quoted and
/// escaped as `Debug` shows them (every other field of that line is a number or already
/// escaped). Lines with colours, in a span, or from anywhere else take the default path.
pub struct Format {
    default: tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Full>,
}

impl Default for Format {
    fn default() -> Format {
        Format {
            default: tracing_subscriber::fmt::format().with_target(false),
        }
    }
}

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for Format
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        if meta.target() != plaid_gateway::REQUEST_LOG_TARGET
            || writer.has_ansi_escapes()
            || ctx.lookup_current().is_some()
        {
            return self.default.format_event(ctx, writer, event);
        }
        timestamp(&mut writer, std::time::SystemTime::now())?;
        write!(writer, " {:>5} ", meta.level().as_str())?;
        let mut fields = Fields {
            writer: &mut writer,
            first: true,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_char('\n')
    }
}

/// Writes an event's fields as the default format does: the message bare, then `name=value`.
struct Fields<'w, 'a> {
    writer: &'w mut tracing_subscriber::fmt::format::Writer<'a>,
    first: bool,
    result: std::fmt::Result,
}

impl Fields<'_, '_> {
    fn field(&mut self, name: &str, value: std::fmt::Arguments<'_>) {
        if self.result.is_err() {
            return;
        }
        let pad = if std::mem::take(&mut self.first) {
            ""
        } else {
            " "
        };
        self.result = if name == "message" {
            write!(self.writer, "{pad}{value}")
        } else {
            write!(self.writer, "{pad}{name}={value}")
        };
    }
}

impl tracing::field::Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.field("message", format_args!("{value}"));
        } else {
            self.field(field.name(), format_args!("{value:?}"));
        }
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.field(field.name(), format_args!("{value}"));
    }

    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.field(field.name(), format_args!("{value}"));
    }

    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.field(field.name(), format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.field(field.name(), format_args!("{value:?}"));
    }
}

/// `2026-12-02T23:49:31.985631Z` (what tracing-subscriber's `SystemTime` writes); all but the
/// microseconds formatted once a second per thread.
fn timestamp(writer: &mut impl std::fmt::Write, now: std::time::SystemTime) -> std::fmt::Result {
    use std::cell::RefCell;
    thread_local! {
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let since = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = since.as_secs();
    SECOND.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != seconds {
            let days = (seconds / 86_400) as i64;
            let (year, month, day) = civil(days);
            let of_day = seconds % 86_400;
            cached.0 = seconds;
            cached.1 = format!(
                "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.",
                of_day / 3600,
                of_day / 60 % 60,
                of_day % 60
            );
        }
        write!(writer, "{}{:06}Z", cached.1, since.subsec_micros())
    })
}

/// The proleptic Gregorian date `days` after 1970-01-01 (counted in 400-year eras, each with
/// its days of the year from March).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn dates_are_the_calendars() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(11_016), (2000, 2, 29));
        assert_eq!(civil(11_017), (2000, 3, 1));
        assert_eq!(civil(20_789), (2026, 12, 2));
        assert_eq!(civil(-1), (1969, 12, 31));
        let mut text = String::new();
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_796_254_171_985_631);
        timestamp(&mut text, at).expect("format");
        assert_eq!(text, "2026-12-02T23:29:31.985631Z");
    }

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What a subscriber with `format` writes for the events `emit` sends, each line
    /// without its timestamp.
    fn lines<F>(format: F, emit: impl Fn()) -> Vec<String>
    where
        F: tracing_subscriber::fmt::FormatEvent<
                tracing_subscriber::Registry,
                tracing_subscriber::fmt::format::DefaultFields,
            > + Send
            + Sync
            + 'static,
    {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .event_format(format)
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let text = String::from_utf8(captured.0.lock().expect("lines").clone()).expect("UTF-8");
        text.lines()
            .map(|line| {
                let (time, rest) = line.split_once(' ').expect("a timestamp");
                assert_eq!(time.len(), 27, "{time}");
                assert!(time.ends_with('Z'), "{time}");
                rest.to_string()
            })
            .collect()
    }

    #[test]
    fn request_lines_read_as_the_default_format_writes_them() {
        let emit = || {
            for (caller, path, request_id) in [
                (
                    "bench",
                    "\"/plaid/processor/token/create\"",
                    "m8MDnv9okwxFNBV",
                ),
                ("-", "\"/x\\n\\u{1b}[31m\"", "gw-0123456789ab"),
                ("caf\u{e9} \"q\"", "\"/\"", "-"),
            ] {
                tracing::info!(
                    target: plaid_gateway::REQUEST_LOG_TARGET,
                    caller,
                    operation = "-",
                    path = %path,
                    status = 200u16,
                    latency_us = 1234u64,
                    request_id,
                    "request"
                );
            }
            tracing::warn!(change = %"caller `a` may now reach /x", "reload widens access");
            tracing::info!(target: plaid_gateway::REQUEST_LOG_TARGET, bad = "\u{1b}[2J", "request");
        };
        let ours = lines(Format::default(), emit);
        let theirs = lines(tracing_subscriber::fmt::format().with_target(false), emit);
        assert_eq!(ours.len(), 5);
        assert_eq!(ours, theirs);
    }
}
