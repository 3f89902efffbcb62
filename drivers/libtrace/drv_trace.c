/* (being written) */
#include <errno.h>
#include <stdio.h>

#include "drv_trace.h"

static int trace_open(const char *spec, const struct capture_open_params *params, void **ret_handle,
                      char *err, size_t errlen)
{
	(void)spec;
	(void)params;
	(void)ret_handle;
	snprintf(err, errlen, "not built yet");
	return -ENOTSUP;
}

const struct capture_driver_ops drv_trace_ops = {
    .name = "trace",
    .open = trace_open,
};
