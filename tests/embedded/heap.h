/* The heap counters of heap.c (bytes the program has allocated now, at
 * most since the last reset, and the number of live blocks). */
#ifndef DUCQ_EMBEDDED_HEAP_H
#define DUCQ_EMBEDDED_HEAP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

size_t heap_in_use(void);
size_t heap_blocks(void);
size_t heap_peak(void);
void heap_reset_peak(void);

#ifdef __cplusplus
}
#endif

#endif
