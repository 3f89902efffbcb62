/*
 * Fuzz target: pcap files (micro- and nanosecond, either byte order) through the pcap
 * driver, as weir reads an input. The body is fuzz_reader.h, shared with the pcapng and ERF
 * targets; this one's corpus holds pcap files.
 */
#include "fuzz_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_reader_run(data, size);
}
