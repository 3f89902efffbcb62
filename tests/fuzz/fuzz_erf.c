/*
 * Fuzz target: ERF files (records with extension headers, Ethernet, IP and skipped record
 * types) through the pcap driver, as weir reads an input. ERF has no magic, so this is also
 * the reader's format detection on bytes that are nearly a record. The body is
 * fuzz_reader.h, shared with the pcap and pcapng targets; this one's corpus holds ERF files.
 */
#include "fuzz_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_reader_run(data, size);
}
