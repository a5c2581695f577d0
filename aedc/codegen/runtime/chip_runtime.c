/* chip_runtime.c — the SpiNNaker2 PE runtime a generated kernel links against (Cortex-M4F).
 *
 * Written by aedc (aedc/codegen/runtime/chip_runtime.c). Program structure of one PE:
 *   timer tick (aedc_pe.tick_us, 1 ms by default: emit-c{tick-us=...}) → begin_tick → drain the received-packet queue once (each
 *   packet: master population table lookup, store in the event history) → per slice: sum the rows of
 *   this tick's events, update the neurons in float32, emit events (one NoC packet per destination QPE
 *   with a 4-bit PE mask, payload for graded events).
 * The peripheral addresses below are this runtime's placeholders for the PE's timer, NoC receive FIFO
 * and NoC transmit registers; the host build (host_runtime.c) replaces this whole file.
 */
#include "aedc_pe.h"

extern const aedc_pe_t aedc_pe;
extern uint32_t __stack_top;

#define REG(addr) (*(volatile uint32_t *)(addr))
#define TIMER_LOAD REG(0xE000E014u)   /* SysTick reload */
#define TIMER_CTRL REG(0xE000E010u)   /* SysTick control; bit 16 = count flag (a tick elapsed) */
#define NOC_RX_COUNT REG(0xF0000000u) /* packets waiting in the receive FIFO */
#define NOC_RX_KEY REG(0xF0000004u)
#define NOC_RX_PAYLOAD REG(0xF0000008u)
#define NOC_TX_TARGET REG(0xF0000010u)
#define NOC_TX_PAYLOAD REG(0xF0000014u)
#define NOC_TX_KEY REG(0xF0000018u)    /* writing the key sends the packet */
#define NOC_TX_KEY_ONLY REG(0xF000001Cu)

/* a PE ticks on its own timer: the asynchronous schedule (see aedc_pe.h) */
uint32_t aedc_async_mode = 1u;

/* runtime counters (the packet queue itself is the kernel's: see kernel.c) */
static volatile uint32_t counters[4]; /* 0 tick, 1 received, 2 sent */

void aedc_send(uint32_t key, uint32_t payload, uint32_t has_payload, uint32_t target) {
    NOC_TX_TARGET = target;
    if (has_payload) {
        NOC_TX_PAYLOAD = payload;
        NOC_TX_KEY = key;
    } else {
        NOC_TX_KEY_ONLY = key;
    }
    counters[2]++;
}

/* drain the NoC receive FIFO: every packet goes through the kernel's master population table */
static void drain_fifo(void) {
    while (NOC_RX_COUNT != 0u) {
        uint32_t key = NOC_RX_KEY;
        uint32_t payload = NOC_RX_PAYLOAD;
        aedc_pe.receive(key, payload);
        counters[1]++;
    }
}

int main(void) {
    TIMER_LOAD = aedc_pe.tick_us * 150u - 1u; /* 150 MHz PE clock */
    TIMER_CTRL = 5u;
    for (uint32_t t = 0;; t++) {
        while ((TIMER_CTRL & (1u << 16)) == 0u) {
        }
        counters[0] = t;
        aedc_pe.begin_tick(t);
        /* once per tick: what arrives while the slices run waits for the next tick, which is the
         * asynchronous model (an event is used from the receiver's first tick that starts after it
         * arrived; back edges read latency - aedc_async_mode) and keeps a PE's own events out of the
         * tick that sent them */
        drain_fifo();
        for (uint32_t k = 0; k < aedc_pe.n_slices; k++) aedc_pe.slice_tick(k, t);
    }
    return 0;
}

void aedc_reset(void) {
    main();
    for (;;) {
    }
}

static void aedc_fault(void) {
    for (;;) {
    }
}

/* vector table: initial stack pointer, reset, NMI, hard fault */
__attribute__((section(".vectors"), used)) static const void *const vectors[4] = {
    &__stack_top, (const void *)aedc_reset, (const void *)aedc_fault, (const void *)aedc_fault};
