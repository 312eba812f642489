//! Progress on stderr: one indicatif bar per file with bytes, rate and ETA.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar's layout: file name, bar, bytes done / total, rate, time left (decimal units,
/// as the Hub shows sizes).
pub const TEMPLATE: &str =
    "{msg:30!} [{bar:30}] {decimal_bytes}/{decimal_total_bytes} {decimal_bytes_per_sec} ETA {eta}";

/// A bar for downloading `file` of `size` bytes, starting at `start` (resume); hidden when
/// `quiet` (indicatif also draws nothing when stderr is not a terminal).
pub(crate) fn bar(file: &str, size: u64, start: u64, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(TEMPLATE) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(file.to_string());
    pb.set_position(start);
    pb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_is_valid() {
        assert!(ProgressStyle::with_template(TEMPLATE).is_ok());
        let pb = bar("model.safetensors", 100, 40, false);
        assert_eq!(pb.position(), 40);
        assert_eq!(pb.length(), Some(100));
        assert!(bar("x", 1, 0, true).is_hidden());
    }
}
