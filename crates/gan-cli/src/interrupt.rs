//! Ctrl-C and SIGTERM for `gan train`: once training is under way ([`Interrupt::arm`]) the
//! first asks it to stop after the current step (it then checkpoints and exits 130 or 143)
//! and a second of the same kind ends the process at once, which is safe because every
//! checkpoint is written atomically; before that, either ends the process at once.
//!
//! No thread that computes ever takes these signals. Where a signal has a handler, the
//! kernel runs it on any thread that has the signal unblocked, and a signal that lands while
//! libtorch's oneDNN multiplies by a weight given as a transposed view (the gradients of the
//! fused steps) corrupts the heap: with libtorch 2.11 this was reproduced in PyTorch alone,
//! sending SIGUSR1 to a loop of `mkldnn::_linear_pointwise` under glibc's malloc checking
//! ("free(): invalid pointer" inside oneDNN's sgemm). So [`Interrupt::install`] blocks them
//! before any other thread exists, every thread created later (libtorch's OpenMP team among
//! them) inherits that, and a thread of its own takes them with `sigwait`, without handlers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub struct Interrupt {
    state: Arc<State>,
    /// The thread that takes the signals.
    #[cfg_attr(not(test), allow(dead_code))]
    taker: libc::pthread_t,
}

#[derive(Default)]
struct State {
    sigint: AtomicBool,
    sigterm: AtomicBool,
    /// Training is under way: a first signal asks it to stop instead of ending the process.
    armed: AtomicBool,
}

impl Interrupt {
    /// Blocks SIGINT and SIGTERM in this thread and in every thread it creates from now on,
    /// and starts the thread that takes them. Call it before anything starts a thread.
    pub fn install() -> std::io::Result<Interrupt> {
        let state = Arc::new(State::default());
        let signals = signal_set();
        // SAFETY: `signals` is an initialised set; this changes the calling thread's mask only.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &signals, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc));
        }
        let waiting = Arc::clone(&state);
        let taker = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || take_signals(&signals, &waiting))?;
        Ok(Interrupt {
            state,
            taker: std::os::unix::thread::JoinHandleExt::as_pthread_t(&taker),
        })
    }

    /// From now on a first signal asks training to stop after its current step.
    pub fn arm(&self) {
        self.state.armed.store(true, Ordering::SeqCst);
    }

    pub fn requested(&self) -> bool {
        self.state.sigint.load(Ordering::SeqCst) || self.state.sigterm.load(Ordering::SeqCst)
    }

    /// The conventional exit code: 128 + signal number.
    pub fn exit_code(&self) -> i32 {
        if self.state.sigterm.load(Ordering::SeqCst) {
            143
        } else {
            130
        }
    }
}

fn signal_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the zeroed set before sigaddset adds to it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        set
    }
}

/// Takes SIGINT and SIGTERM as they come, for the life of the process.
fn take_signals(signals: &libc::sigset_t, state: &State) {
    loop {
        let mut signal = 0;
        // SAFETY: `signals` is an initialised set (blocked in every thread); sigwait writes
        // the signal it took.
        if unsafe { libc::sigwait(signals, &mut signal) } != 0 {
            continue;
        }
        let (flag, code) = if signal == libc::SIGTERM {
            (&state.sigterm, 143)
        } else {
            (&state.sigint, 130)
        };
        let again = flag.swap(true, Ordering::SeqCst);
        if again || !state.armed.load(Ordering::SeqCst) {
            // SAFETY: ends the process without running destructors or exit handlers, which
            // other threads could be using.
            unsafe { libc::_exit(code) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the calling thread blocks SIGINT and SIGTERM.
    fn blocks_both() -> bool {
        // SAFETY: reads this thread's mask into an initialised set.
        unsafe {
            let mut mask: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut mask);
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut mask);
            libc::sigismember(&mask, libc::SIGINT) == 1
                && libc::sigismember(&mask, libc::SIGTERM) == 1
        }
    }

    /// Sent to the signal thread itself: one to the whole test process could land on a
    /// thread of the test harness, which does not block it and would end the process.
    #[test]
    fn the_signal_thread_takes_them_and_compute_threads_never_do() {
        let interrupt = Interrupt::install().unwrap();
        interrupt.arm();
        assert!(blocks_both(), "blocked where installed");
        let later = std::thread::spawn(blocks_both).join().unwrap();
        assert!(later, "inherited by threads created afterwards");
        assert!(!interrupt.requested());
        // SAFETY: the thread is alive (it loops for the life of the process) and blocks the
        // signal, so sigwait takes it.
        assert_eq!(
            unsafe { libc::pthread_kill(interrupt.taker, libc::SIGTERM) },
            0
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !interrupt.requested() {
            assert!(
                std::time::Instant::now() < deadline,
                "the signal was not taken"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(interrupt.exit_code(), 143);
    }
}
