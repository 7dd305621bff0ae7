//! Progress bars for transfers (the library reports, the binary draws).

use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Mutex;

/// Draws one bar per file fetched by [`gan_data::Fetcher`].
pub struct Bars {
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    pub fn new() -> Self {
        Bars {
            bar: Mutex::new(None),
        }
    }
}

impl gan_data::FetchProgress for Bars {
    fn started(&self, file: &str, source: &str, total: Option<u64>) {
        let bar = match total {
            Some(total) => ProgressBar::new(total),
            None => ProgressBar::new_spinner(),
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:32} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(file.to_owned());
        bar.println(format!("fetching {file} from {source}"));
        if let Some(old) = self.bar.lock().expect("bar lock").replace(bar) {
            old.finish_and_clear();
        }
    }

    fn advanced(&self, bytes: u64) {
        if let Some(bar) = self.bar.lock().expect("bar lock").as_ref() {
            bar.inc(bytes);
        }
    }

    fn finished(&self, _file: &str) {
        if let Some(bar) = self.bar.lock().expect("bar lock").take() {
            bar.finish_and_clear();
        }
    }
}
