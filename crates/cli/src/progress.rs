//! Progress bars that appear only when work takes over a second and stderr
//! is a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// A progress bar over a byte or item count, hidden for short work.
pub struct Bar {
    bar: ProgressBar,
    started: Instant,
    shown: bool,
    enabled: bool,
    template: &'static str,
}

impl Bar {
    /// A bar; `enabled = false` (e.g. with `--json`) never draws.
    pub fn new(enabled: bool, template: &'static str) -> Self {
        Bar {
            bar: ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()),
            started: Instant::now(),
            shown: false,
            enabled: enabled && std::io::stderr().is_terminal(),
            template,
        }
    }

    /// Sets the total.
    pub fn set_total(&mut self, total: u64) {
        self.bar.set_length(total);
    }

    /// Sets the position; shows the bar once a second has passed.
    pub fn set(&mut self, pos: u64) {
        if self.enabled && !self.shown && self.started.elapsed() > Duration::from_secs(1) {
            self.shown = true;
            if let Ok(style) = ProgressStyle::with_template(self.template) {
                self.bar.set_style(style.progress_chars("█▉▊▋▌▍▎▏ "));
            }
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        self.bar.set_position(pos);
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl traceledger_bundle::Progress for Bar {
    fn start(&mut self, total: u64) {
        self.set_total(total);
    }
    fn advance(&mut self, done: u64) {
        self.set(done);
    }
}

/// Template for byte counts.
pub const BYTES: &str =
    "{spinner} verifying [{bar:40}] {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta})";
/// Template for item counts.
pub const ITEMS: &str = "{spinner} {msg} [{bar:40}] {human_pos}/{human_len} ({per_sec}, {eta})";
