/* Unit tests of drivers/libtrace (being written). */
#include "drv_trace.h"
#include "t.h"

int main(void)
{
	CHECK(drv_trace_ops.open != NULL);
	return t_done();
}
