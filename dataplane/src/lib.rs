//! Tier 5: the dataplane. Joins the safe DPDK layer (`dpdk`) with the switch logic
//! (`switch`): ports are opened from the config, one worker lcore busy-polls them in bursts
//! and switches frames, and the main lcore prints counters and handles shutdown.
//!
//! ```text
//!            rx_burst(32)         Bridge::process          per-port tx buffers
//!  port 0 ─┐                ┌──────────────────────┐   ┌─► [tx 0] ─ tx_burst ─► port 0
//!  port 1 ─┼─► [rx burst] ──► learn src, look up dst├───┼─► [tx 1] ─ tx_burst ─► port 1
//!  port n ─┘   prefetch     │ forward / flood / drop│   └─► [tx n] ─ tx_burst ─► port n
//!                           └──────────────────────┘        unsent → freed, counted
//! ```

pub mod counters;
pub mod memory;
pub mod ports;
pub mod runtime;
pub mod worker;
