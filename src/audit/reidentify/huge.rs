//! A fixed-length buffer on 2 MiB pages where the kernel allows it
//! (Linux transparent huge pages, `madvise` mode): the lookup table's
//! probes land on random places of 64 MiB, and on 4 KiB pages nearly every
//! one of them also missed the TLB (perf: most of the matching's time sat
//! on the prefetches of table slots). `Vec` cannot carry the 2 MiB
//! alignment a huge page needs, hence this type.

use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// Huge-page size and alignment.
const HUGE: usize = 2 << 20;

/// `len` copies of a value, 2 MiB-aligned, advised onto huge pages.
pub(super) struct Huge<T: Copy> {
    ptr: NonNull<T>,
    len: usize,
    layout: Layout,
}

// SAFETY: `Huge` owns its elements like a `Box<[T]>`.
unsafe impl<T: Copy + Send> Send for Huge<T> {}
// SAFETY: shared access only reads through `&[T]`.
unsafe impl<T: Copy + Sync> Sync for Huge<T> {}

impl<T: Copy> Huge<T> {
    /// `len` copies of `fill`.
    pub(super) fn new(len: usize, fill: T) -> Self {
        let bytes = (len * size_of::<T>()).max(1);
        let layout = Layout::from_size_align(bytes, HUGE.max(align_of::<T>()))
            .expect("a buffer smaller than isize::MAX");
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(raw.cast::<T>()) else {
            handle_alloc_error(layout)
        };
        advise_huge(raw, bytes);
        for i in 0..len {
            // SAFETY: `i < len` elements fit the allocation.
            unsafe { ptr.as_ptr().add(i).write(fill) };
        }
        Huge { ptr, len, layout }
    }
}

/// Asks for huge pages before the first write (a hint: without it, or
/// elsewhere than Linux, the buffer is the same on small pages).
fn advise_huge(start: *mut u8, bytes: usize) {
    #[cfg(target_os = "linux")]
    if bytes >= HUGE {
        // SAFETY: the range is one live allocation starting on a 2 MiB
        // boundary; MADV_HUGEPAGE changes no contents.
        unsafe {
            libc::madvise(start.cast(), bytes, libc::MADV_HUGEPAGE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (start, bytes);
}

impl<T: Copy> Deref for Huge<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `len` initialized elements (`new`).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Copy> DerefMut for Huge<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: `len` initialized elements, borrowed uniquely.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Copy> Drop for Huge<T> {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout; `T: Copy` needs no drop.
        unsafe { dealloc(self.ptr.as_ptr().cast(), self.layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_its_values_at_any_size() {
        for len in [0usize, 1, 3, HUGE / 8 + 5] {
            let mut h = Huge::new(len, 7u64);
            assert_eq!(h.len(), len);
            assert!(h.iter().all(|&x| x == 7));
            if len > 0 {
                h[len - 1] = 9;
                assert_eq!(h[len - 1], 9);
                assert_eq!(h.as_ptr() as usize % HUGE, 0);
            }
        }
    }
}
