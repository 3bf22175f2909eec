/*
 * ducq: the protocol interface (struct ducq_vtbl), under the original's
 * header name. Everything is declared in ducq.h.
 */
#ifndef DUCQ_VTBL_H
#define DUCQ_VTBL_H
#include "ducq.h"
#endif /* DUCQ_VTBL_H */
