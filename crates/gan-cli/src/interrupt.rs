//! Ctrl-C and SIGTERM: the first asks training to stop after the current step (it then
//! checkpoints and exits 130 or 143); a second one ends the process at once, which is safe
//! because every checkpoint is written atomically.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;

pub struct Interrupt {
    sigint: Arc<AtomicBool>,
    sigterm: Arc<AtomicBool>,
}

impl Interrupt {
    pub fn install() -> std::io::Result<Interrupt> {
        let sigint = Arc::new(AtomicBool::new(false));
        let sigterm = Arc::new(AtomicBool::new(false));
        // Registered before the flags themselves: with the flag already set, a second signal
        // exits immediately (signal-hook's "double Ctrl-C" pattern).
        flag::register_conditional_shutdown(SIGINT, 130, Arc::clone(&sigint))?;
        flag::register(SIGINT, Arc::clone(&sigint))?;
        flag::register_conditional_shutdown(SIGTERM, 143, Arc::clone(&sigterm))?;
        flag::register(SIGTERM, Arc::clone(&sigterm))?;
        Ok(Interrupt { sigint, sigterm })
    }

    pub fn requested(&self) -> bool {
        self.sigint.load(Ordering::Relaxed) || self.sigterm.load(Ordering::Relaxed)
    }

    /// The conventional exit code: 128 + signal number.
    pub fn exit_code(&self) -> i32 {
        if self.sigterm.load(Ordering::Relaxed) {
            143
        } else {
            130
        }
    }
}
