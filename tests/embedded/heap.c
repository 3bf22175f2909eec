/*
 * Counts the heap the device library uses: every malloc, realloc and free
 * of the program goes through these wrappers (linked with
 * -Wl,--wrap=malloc,--wrap=free,--wrap=realloc,--wrap=calloc), which keep
 * each block's size just before it and track the bytes in use and their
 * peak. Only the test programs link this; the library just calls malloc.
 */
#include <stddef.h>
#include <string.h>

#include "heap.h"

void *__real_malloc(size_t size);
void __real_free(void *ptr);

/* A header that keeps the block 8-byte aligned, as malloc's own. */
#define HEADER 8

static size_t in_use, peak, blocks;

static void *track(unsigned char *raw, size_t size)
{
	if (raw == NULL)
		return NULL;
	memcpy(raw, &size, sizeof size);
	in_use += size;
	blocks++;
	if (in_use > peak)
		peak = in_use;
	return raw + HEADER;
}

static size_t untrack(unsigned char *raw)
{
	size_t size;
	memcpy(&size, raw, sizeof size);
	in_use -= size;
	blocks--;
	return size;
}

void *__wrap_malloc(size_t size)
{
	return track((unsigned char *)__real_malloc(size + HEADER), size);
}

void *__wrap_calloc(size_t n, size_t size)
{
	void *p;
	if (size != 0 && n > (size_t)-1 / size)
		return NULL;
	p = __wrap_malloc(n * size);
	if (p != NULL)
		memset(p, 0, n * size);
	return p;
}

void __wrap_free(void *ptr)
{
	unsigned char *raw;
	if (ptr == NULL)
		return;
	raw = (unsigned char *)ptr - HEADER;
	untrack(raw);
	__real_free(raw);
}

/* Moves the block itself: the C library's own realloc calls malloc and
 * free inside, which would meet these wrappers with blocks they never
 * made. */
void *__wrap_realloc(void *ptr, size_t size)
{
	unsigned char *fresh;
	size_t old;
	if (ptr == NULL)
		return __wrap_malloc(size);
	memcpy(&old, (unsigned char *)ptr - HEADER, sizeof old);
	fresh = (unsigned char *)__wrap_malloc(size);
	if (fresh == NULL)
		return NULL;
	memcpy(fresh, ptr, old < size ? old : size);
	__wrap_free(ptr);
	return fresh;
}

size_t heap_in_use(void) { return in_use; }
size_t heap_blocks(void) { return blocks; }
size_t heap_peak(void) { return peak; }
void heap_reset_peak(void) { peak = in_use; }
