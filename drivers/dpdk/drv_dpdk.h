/*
 * drivers/dpdk: (being written)
 */
#ifndef DRV_DPDK_H
#define DRV_DPDK_H

#include "capture.h"

extern const struct capture_driver_ops drv_dpdk_ops;

#endif /* DRV_DPDK_H */
