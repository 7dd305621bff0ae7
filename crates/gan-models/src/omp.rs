//! Running a closure on libtorch's own OpenMP threads.
//!
//! libtorch's CPU ops run their loops on an OpenMP team whose workers spin between ops. A
//! thread of ours would compete with those spinning workers for the same cores, so work we
//! split ourselves goes to that team instead, through the entry point GCC's `#pragma omp
//! parallel` compiles to (`GOMP_parallel`, stable libgomp ABI). It is looked up at run time
//! in the libraries already loaded; where there is none (another OpenMP runtime, macOS), the
//! closure runs once, on the calling thread, as the only worker.

use std::ffi::{c_int, c_uint, c_void, CStr};
use std::sync::OnceLock;

type Job = unsafe extern "C" fn(*mut c_void);
type GompParallel = unsafe extern "C" fn(Job, *mut c_void, c_uint, c_uint);
type OmpInt = unsafe extern "C" fn() -> c_int;

struct Gomp {
    parallel: GompParallel,
    thread_num: OmpInt,
    num_threads: OmpInt,
}

fn gomp() -> Option<&'static Gomp> {
    static GOMP: OnceLock<Option<Gomp>> = OnceLock::new();
    GOMP.get_or_init(|| {
        // libtorch is linked into this binary, so its libgomp is loaded by now.
        let parallel = symbol(c"GOMP_parallel")?;
        let thread_num = symbol(c"omp_get_thread_num")?;
        let num_threads = symbol(c"omp_get_num_threads")?;
        // SAFETY: these are libgomp's exported functions with the signatures declared above.
        unsafe {
            Some(Gomp {
                parallel: std::mem::transmute::<*mut c_void, GompParallel>(parallel),
                thread_num: std::mem::transmute::<*mut c_void, OmpInt>(thread_num),
                num_threads: std::mem::transmute::<*mut c_void, OmpInt>(num_threads),
            })
        }
    })
    .as_ref()
}

#[cfg(unix)]
fn symbol(name: &CStr) -> Option<*mut c_void> {
    // SAFETY: dlsym with RTLD_DEFAULT only reads the loaded libraries' symbol tables.
    let address = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    (!address.is_null()).then_some(address)
}

#[cfg(not(unix))]
fn symbol(_name: &CStr) -> Option<*mut c_void> {
    None
}

/// Calls `work(index, count)` once on each of the `count` threads of libtorch's OpenMP team
/// (the caller among them) and returns when all have finished. `work` must not panic: a
/// panic cannot unwind through OpenMP and aborts the process.
pub fn on_each_thread(work: &(dyn Fn(usize, usize) + Sync)) {
    let Some(gomp) = gomp() else {
        work(0, 1);
        return;
    };
    struct Context<'a> {
        work: &'a (dyn Fn(usize, usize) + Sync),
        gomp: &'a Gomp,
    }
    unsafe extern "C" fn trampoline(data: *mut c_void) {
        // SAFETY: `data` is the `Context` below, alive until GOMP_parallel returns.
        let context = unsafe { &*(data as *const Context) };
        // SAFETY: libgomp's query functions, called inside the parallel region.
        let (index, count) = unsafe { ((context.gomp.thread_num)(), (context.gomp.num_threads)()) };
        (context.work)(index as usize, count.max(1) as usize);
    }
    let context = Context { work, gomp };
    let threads = tch::get_num_threads().max(1) as c_uint;
    // SAFETY: a team of libtorch's intra-op thread count; flags 0 asks for nothing special;
    // `context` outlives the call, which joins all threads.
    unsafe {
        (gomp.parallel)(
            trampoline,
            &context as *const Context as *mut c_void,
            threads,
            0,
        )
    };
}

/// Below this many values a pass runs on the calling thread alone: waking the team costs
/// more than it saves.
const PARALLEL_MIN_VALUES: usize = 16_384;

/// [`on_each_thread`] for a pass over `values` values, or `work(0, 1)` on the calling thread
/// alone when they are too few to pay for waking the team.
pub fn on_each_thread_or_alone(values: usize, work: &(dyn Fn(usize, usize) + Sync)) {
    if values < PARALLEL_MIN_VALUES {
        work(0, 1);
    } else {
        on_each_thread(work);
    }
}

/// The part `[start, end)` of `0..len` that worker `index` of `count` takes: contiguous,
/// disjoint, covering, sizes differing by at most one.
pub fn share(len: usize, index: usize, count: usize) -> (usize, usize) {
    let (base, extra) = (len / count, len % count);
    let start = index * base + index.min(extra);
    (start, start + base + usize::from(index < extra))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_thread_of_the_team_runs_once() {
        let calls = AtomicUsize::new(0);
        let seen = AtomicUsize::new(0);
        let total = AtomicUsize::new(0);
        on_each_thread(&|index, count| {
            calls.fetch_add(1, Ordering::SeqCst);
            seen.fetch_or(1 << index, Ordering::SeqCst);
            total.store(count, Ordering::SeqCst);
        });
        let count = total.load(Ordering::SeqCst);
        // The PyPI libtorch on Linux uses libgomp: the team is the intra-op thread count.
        if cfg!(target_os = "linux") {
            assert!(
                gomp().is_some(),
                "libgomp not found among the loaded libraries"
            );
            assert_eq!(count, tch::get_num_threads() as usize);
        }
        assert_eq!(calls.load(Ordering::SeqCst), count);
        assert_eq!(seen.load(Ordering::SeqCst), (1 << count) - 1);
    }

    #[test]
    fn shares_cover_without_overlap() {
        for len in [0, 1, 7, 100] {
            for count in 1..5 {
                let mut next = 0;
                for index in 0..count {
                    let (start, end) = share(len, index, count);
                    assert_eq!(start, next);
                    assert!(end - start <= len / count + 1);
                    next = end;
                }
                assert_eq!(next, len);
            }
        }
    }
}
