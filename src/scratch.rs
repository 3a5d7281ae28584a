//! Large scratch buffers kept for reuse between calls.
//!
//! A transform of a million samples needs several buffers of megabytes each. Fresh from the
//! allocator, such a buffer is new pages from the kernel: each page faults and is zeroed on
//! its first touch, which for a long FFT costs about a third of the whole call (measured on
//! `fftconvolve` of 1e6 by 5e5 float64 samples: 35 ms, 22 ms with the pages kept mapped). A
//! buffer handed back here after use stays mapped, and the next call of a similar size
//! refills it instead, at the speed of a memset.
//!
//! The cache keeps buffers of at least [`MIN_BYTES`], at most [`MAX_BUFFERS`] of them and
//! [`MAX_BYTES`] in all (the oldest go first), so what a process holds between calls is
//! bounded. It is guarded by `try_lock`: when the lock is busy (another thread is taking or
//! returning a buffer), poisoned or stale after a `fork`, a buffer is simply allocated or
//! freed as usual, so the cache never blocks a call and never deadlocks a child process.

use std::any::Any;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

/// Smaller buffers come from the allocator's reused heap anyway. Larger ones do not reliably:
/// glibc gives a few hundred KiB back to the kernel when the top of its heap is freed, so a
/// call that allocates eight 440 KiB buffers (a two-phase transform of 1e5 + 1e4 points) took
/// 830 page faults every time, and ran at half speed, with the cache starting at 1 MiB.
pub const MIN_BYTES: usize = 64 << 10;
/// The most bytes the cache holds.
pub const MAX_BYTES: usize = 64 << 20;
/// The most buffers the cache holds (a two-phase transform holds eight at once).
pub const MAX_BUFFERS: usize = 16;

/// A cached buffer: its element type erased, its size in bytes.
struct Entry {
    vec: Box<dyn Any + Send>,
    bytes: usize,
}

static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// A vector that goes back to the cache when dropped (see the module documentation).
pub struct Scratch<T: Copy + Send + 'static> {
    vec: Vec<T>,
}

/// `len` copies of `value`, in a buffer from the cache when one of this element type with a
/// capacity between `len` and `2 len` is there.
pub fn filled<T: Copy + Send + 'static>(len: usize, value: T) -> Scratch<T> {
    get(len, value, true)
}

/// `len` elements of unspecified value (`value` in a fresh buffer, whatever the last user
/// left in a reused one): for buffers the caller writes in full before reading, which saves
/// refilling a reused buffer.
pub fn overwritten<T: Copy + Send + 'static>(len: usize, value: T) -> Scratch<T> {
    get(len, value, false)
}

/// A buffer of `len` elements, from the cache when it fits; a reused one is set to `value`
/// throughout when `refill`, else only where it grew.
fn get<T: Copy + Send + 'static>(len: usize, value: T, refill: bool) -> Scratch<T> {
    let bytes = len.saturating_mul(std::mem::size_of::<T>());
    if bytes >= MIN_BYTES {
        if let Some(mut vec) = take::<T>(len) {
            if refill {
                vec.clear();
            }
            vec.truncate(len);
            vec.resize(len, value);
            return Scratch { vec };
        }
    }
    Scratch {
        vec: vec![value; len],
    }
}

/// Removes and returns a cached `Vec<T>` whose capacity fits `len`.
fn take<T: Copy + Send + 'static>(len: usize) -> Option<Vec<T>> {
    let mut cache = CACHE.try_lock().ok()?;
    let at = cache.iter().position(|e| {
        e.vec
            .downcast_ref::<Vec<T>>()
            .is_some_and(|v| v.capacity() >= len && v.capacity() / 2 <= len)
    })?;
    let entry = cache.remove(at);
    drop(cache);
    entry.vec.downcast::<Vec<T>>().ok().map(|b| *b)
}

/// Hands `vec` to the cache, dropping the oldest entries to stay within the limits.
fn give_back<T: Copy + Send + 'static>(vec: Vec<T>) {
    let bytes = vec.capacity().saturating_mul(std::mem::size_of::<T>());
    if !(MIN_BYTES..=MAX_BYTES).contains(&bytes) {
        return;
    }
    let Ok(mut cache) = CACHE.try_lock() else {
        return;
    };
    let mut held: usize = cache.iter().map(|e| e.bytes).sum();
    while !cache.is_empty() && (cache.len() >= MAX_BUFFERS || held + bytes > MAX_BYTES) {
        held -= cache.remove(0).bytes;
    }
    cache.push(Entry {
        vec: Box::new(vec),
        bytes,
    });
}

impl<T: Copy + Send + 'static> Deref for Scratch<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.vec
    }
}

impl<T: Copy + Send + 'static> DerefMut for Scratch<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.vec
    }
}

impl<T: Copy + Send + 'static> Drop for Scratch<T> {
    fn drop(&mut self) {
        give_back(std::mem::take(&mut self.vec));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_returned_buffer_is_reused_and_refilled() {
        let len = MIN_BYTES / 8 + 3;
        {
            let mut a = filled(len, 1.5f64);
            a[7] = -2.0;
        }
        // Whether this gets that buffer back or (with other tests running) a fresh one, it
        // holds only the new value.
        let b = filled(len, 0.25f64);
        assert_eq!(b.len(), len);
        assert!(b.iter().all(|&v| v == 0.25));
        // A different element type never receives it.
        let c = filled(len, 0u64);
        assert!(c.iter().all(|&v| v == 0));
        drop(b);
        // An overwritten buffer has the length asked for, reused or not.
        let d = overwritten(len - 5, 0f64);
        assert_eq!(d.len(), len - 5);
    }

    #[test]
    fn small_buffers_bypass_the_cache_and_limits_hold() {
        let small = filled(16, 0f32);
        assert_eq!(small.len(), 16);
        drop(small);
        let bufs: Vec<_> = (0..2 * MAX_BUFFERS)
            .map(|i| filled(MIN_BYTES + i, 0u8))
            .collect();
        drop(bufs);
        if let Ok(cache) = CACHE.try_lock() {
            assert!(cache.len() <= MAX_BUFFERS);
            assert!(cache.iter().map(|e| e.bytes).sum::<usize>() <= MAX_BYTES);
        }
    }
}
