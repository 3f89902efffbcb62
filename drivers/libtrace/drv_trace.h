/*
 * drivers/libtrace: (being written)
 */
#ifndef DRV_TRACE_H
#define DRV_TRACE_H

#include "capture.h"

extern const struct capture_driver_ops drv_trace_ops;

#endif /* DRV_TRACE_H */
