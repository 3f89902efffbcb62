/*
 * Fuzz target: pcapng files (sections of either byte order, interfaces with their own link
 * types and timestamp resolutions, enhanced, simple and obsolete packet blocks) through the
 * pcap driver, as weir reads an input. The body is fuzz_reader.h, shared with the pcap and ERF
 * targets; this one's corpus holds pcapng files.
 */
#include "fuzz_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_reader_run(data, size);
}
