#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_lcore.h>
#include <rte_cycles.h>
#include <rte_ip.h>
#include "shim.h"

uint16_t shim_eth_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_rx_burst(port_id, queue_id, pkts, n);
}

uint16_t shim_eth_tx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_tx_burst(port_id, queue_id, pkts, n);
}

struct rte_mbuf *shim_pktmbuf_alloc(struct rte_mempool *mp) { return rte_pktmbuf_alloc(mp); }

int shim_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned int n)
{
	return rte_pktmbuf_alloc_bulk(mp, mbufs, n);
}

void shim_pktmbuf_free(struct rte_mbuf *m) { rte_pktmbuf_free(m); }

char *shim_pktmbuf_append(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_append(m, len); }

void shim_pktmbuf_refcnt_update(struct rte_mbuf *m, int16_t value) { rte_pktmbuf_refcnt_update(m, value); }

int shim_raw_cksum_mbuf(const struct rte_mbuf *m, uint32_t off, uint32_t len, uint16_t *cksum)
{
	return rte_raw_cksum_mbuf(m, off, len, cksum);
}

/* rte_errno is a per-lcore thread-local behind a macro. */
int shim_errno(void) { return rte_errno; }

unsigned int shim_lcore_id(void) { return rte_lcore_id(); }

uint64_t shim_rdtsc(void) { return rte_rdtsc(); }
