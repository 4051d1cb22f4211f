/*
 * Exported wrappers for DPDK functions that are `static inline` (or macros) in the
 * headers and so have no symbol Rust could link against. One line each; no logic.
 * Per-packet helpers (mtod, prefetch) are written in Rust instead, so the hot path pays
 * one call per burst, not per packet.
 */
#ifndef DATAPLANE_SHIM_H
#define DATAPLANE_SHIM_H
#include <stdint.h>

struct rte_mbuf;
struct rte_mempool;

uint16_t shim_eth_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **pkts, uint16_t n);
uint16_t shim_eth_tx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **pkts, uint16_t n);
struct rte_mbuf *shim_pktmbuf_alloc(struct rte_mempool *mp);
int shim_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned int n);
void shim_pktmbuf_free(struct rte_mbuf *m);
char *shim_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
void shim_pktmbuf_refcnt_update(struct rte_mbuf *m, int16_t value);
int shim_raw_cksum_mbuf(const struct rte_mbuf *m, uint32_t off, uint32_t len, uint16_t *cksum);
int shim_errno(void);
unsigned int shim_lcore_id(void);
uint64_t shim_rdtsc(void);
#endif
