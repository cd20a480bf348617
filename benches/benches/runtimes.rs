//! Per-user runtimes (`concord-registry`): what one user's runtime costs in memory, with 100 k
//! users stored, and how long resolving a user's call context takes among them. Memory is
//! counted by a global allocator that tallies live bytes (a cache's own estimate would only
//! count what it was told).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use concord_registry::{Runtimes, RuntimesConfig, UserRuntime};
use criterion::{criterion_group, criterion_main, Criterion};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// The only unsafe code in the benches: a global allocator must be one. It hands every call to
// the system allocator unchanged and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this `layout`, as `alloc` above passed it.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const USERS: usize = 100_000;

fn filled() -> Runtimes {
    let runtimes = Runtimes::new(RuntimesConfig::default());
    for i in 0..USERS {
        let mut rt = UserRuntime::new("anthropic", "claude-haiku-4-5");
        rt.settings.temperature = Some(0.5);
        rt.data.insert("plan".into(), "pro".into());
        runtimes.set(&format!("user-{i:06}"), rt);
    }
    runtimes.run_pending();
    runtimes
}

fn runtimes(c: &mut Criterion) {
    let before = LIVE.load(Ordering::Relaxed);
    let store = filled();
    let after = LIVE.load(Ordering::Relaxed);
    println!(
        "runtimes: {USERS} users hold {:.1} MiB, {} bytes per user",
        (after - before) as f64 / (1024.0 * 1024.0),
        (after - before) / USERS
    );
    let client = concord::reqwest::Client::new();
    c.bench_function("runtimes/context_among_100k", |b| {
        let mut i = 0usize;
        b.iter(|| {
            i = (i + 7919) % USERS;
            store.context(&format!("user-{i:06}"), &client).unwrap()
        })
    });
    c.bench_function("runtimes/update_among_100k", |b| {
        let mut i = 0usize;
        b.iter(|| {
            i = (i + 7919) % USERS;
            store
                .update(&format!("user-{i:06}"), |rt| {
                    let mut next = rt.clone();
                    next.model = "claude-sonnet-4-5".into();
                    Ok(next)
                })
                .unwrap()
        })
    });
}

criterion_group!(benches, runtimes);
criterion_main!(benches);
