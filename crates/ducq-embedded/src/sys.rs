//! What a `no_std` static library needs from its host program: a heap,
//! taken from the C library's `malloc`, `free` and `realloc` (so the
//! application's own heap, its limits and any instrumentation cover ducq
//! too), and a panic handler. The library is built with `panic = abort`
//! and its code avoids panics by construction; should one happen anyway
//! (or the heap run out), it ends in the C library's `abort()`, which on
//! ESP-IDF prints a backtrace and restarts the chip.
//!
//! It must not allocate by any other route, nor print: a device may have
//! nowhere to print to.

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;
use core::ptr;

extern "C" {
    fn malloc(size: usize) -> *mut c_void;
    fn free(ptr: *mut c_void);
    fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void;
    fn abort() -> !;
}

/// The alignment every C `malloc` is trusted to give: a pointer's size.
/// (C promises more, but some device heaps give only 4 bytes on 32-bit
/// chips.) A layout that needs more is served by over-allocating.
const MALLOC_ALIGN: usize = core::mem::size_of::<usize>();

/// The C library's heap, as Rust's global allocator.
struct CHeap;

/// Whether `malloc` alone satisfies `layout`.
fn plain(layout: Layout) -> bool {
    layout.align() <= MALLOC_ALIGN
}

/// Room for a block of `layout` at its alignment, plus the pointer
/// `malloc` returned, stored just before the block.
fn padded(layout: Layout) -> Option<usize> {
    layout
        .size()
        .checked_add(layout.align())?
        .checked_add(MALLOC_ALIGN)
}

// SAFETY: every block comes from malloc (directly, or at an aligned offset
// inside one whose start is stored just before it) and goes back to free,
// chosen by the same test on the layout both ways.
unsafe impl GlobalAlloc for CHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if plain(layout) {
            // SAFETY: malloc may be called with any size.
            return unsafe { malloc(layout.size()) }.cast();
        }
        let Some(total) = padded(layout) else {
            return ptr::null_mut();
        };
        // SAFETY: as above.
        let base = unsafe { malloc(total) }.cast::<u8>();
        if base.is_null() {
            return base;
        }
        let start = base as usize + MALLOC_ALIGN;
        let aligned = start.next_multiple_of(layout.align());
        let block = base.wrapping_add(aligned - base as usize);
        // SAFETY: `block` lies at least MALLOC_ALIGN bytes into the
        // allocation, so the word before it is inside it, and it is
        // pointer-aligned (both `block` and MALLOC_ALIGN are multiples of
        // it); the block's `size` bytes fit in `total`.
        unsafe { block.cast::<*mut u8>().sub(1).write(base) };
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        if plain(layout) {
            // SAFETY: came from malloc (the same test chose it).
            unsafe { free(block.cast()) };
            return;
        }
        // SAFETY: `alloc` stored malloc's pointer just before the block.
        unsafe { free(block.cast::<*mut u8>().sub(1).read().cast()) };
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if plain(layout) {
            // SAFETY: came from malloc; realloc keeps its alignment.
            return unsafe { realloc(block.cast(), new_size) }.cast();
        }
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return ptr::null_mut();
        };
        // SAFETY: a fresh block of the same alignment; the old one is
        // valid for `min(old, new)` bytes, and freed after the copy.
        unsafe {
            let fresh = self.alloc(new_layout);
            if !fresh.is_null() {
                ptr::copy_nonoverlapping(block, fresh, layout.size().min(new_size));
                self.dealloc(block, layout);
            }
            fresh
        }
    }
}

#[global_allocator]
static HEAP: CHeap = CHeap;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: abort ends the program; it takes no arguments.
    unsafe { abort() }
}

/// The precompiled `core` and `alloc` of a hosted target (the Linux build
/// that tests the socket layer against a live server) were built to unwind
/// and name this routine. With `panic = abort` nothing ever unwinds, so it
/// is never called; bare-metal targets do not ask for it.
#[cfg(not(target_os = "none"))]
#[no_mangle]
extern "C" fn rust_eh_personality() {}
