/*
 * exporter internals shared by the message builder and the exporter: the sizes the exporter
 * needs to check that a buffer can always hold the template set and one record.
 */
#ifndef IPFIX_INTERNAL_H
#define IPFIX_INTERNAL_H

#include <stddef.h>

#define IPFIX_SET_HEADER_LEN 4

/* Bytes that ipfix_msg_add_templates() appends (sets and headers included), for records with
 * n_selectors selectors (0: no sampling), uniflow or biflow. */
size_t ipfix_template_set_len(uint32_t n_selectors, int biflow);

/* Bytes that ipfix_msg_add_stats() appends. */
size_t ipfix_stats_len(void);

/* Bytes of the longest data record of any template (its set header not included). */
size_t ipfix_record_max_len(void);

#endif /* IPFIX_INTERNAL_H */
