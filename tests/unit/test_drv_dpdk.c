/* Unit tests of drivers/dpdk (being written). */
#include "drv_dpdk.h"
#include "t.h"

int main(void)
{
	CHECK(drv_dpdk_ops.open != NULL);
	return t_done();
}
