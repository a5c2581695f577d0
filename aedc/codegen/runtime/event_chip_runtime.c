/* event_chip_runtime.c — the SpiNNaker2 PE runtime of the event-driven schedule (Cortex-M4F).
 *
 * Written by aedc (aedc/codegen/runtime/event_chip_runtime.c); event builds link it instead of
 * chip_runtime.c (aedc.codegen.event_emit). The packet path does the neuron work, the timer only marks
 * time steps (contract: aedc.timing.event):
 *   timer tick t → begin_tick(t) (history slot), every slice's begin (acc = 0) → the input slices
 *   send frame t → until the next tick, rounds ("micro-steps" m = 0, 1, …): drain the NoC receive FIFO
 *   (each packet into the event history of its delayed ports, and into the sorted queue where a
 *   latency-0 port reads it), integrate the queued rows into acc (delayed and sigma-delta ports in the
 *   step's first round), test the unfired neurons, fire up to AEDC_EV_K candidates in AEDC_EV_POLICY
 *   order (aedc_ev_select in aedc_event.h, the same code the host runtime runs) — each spike leaves at
 *   once as one NoC packet per destination QPE → at the next tick, end of step t: every slice commits
 *   the model's tick with the step's whole acc and z = fired.
 * On the chip a round ends when the PE has looked at its FIFO once, not at a global micro-step barrier,
 * so what arrives when depends on the NoC; the host runtime (event_runtime.c) runs the contract's
 * global micro-steps and is the one compared bit for bit with the emulator. The layered variant needs
 * that barrier and is host-only. AEDC_EV_K (0: all), AEDC_EV_POLICY (0 arrival, 1 momentum, 2 random)
 * and AEDC_EV_SEED are compile-time options (-D...).
 * The peripheral addresses are this runtime's placeholders, as in chip_runtime.c.
 */
#include "aedc_event.h"

#ifndef AEDC_EV_K
#define AEDC_EV_K 0u
#endif
#ifndef AEDC_EV_POLICY
#define AEDC_EV_POLICY AEDC_EV_ARRIVAL
#endif
#ifndef AEDC_EV_SEED
#define AEDC_EV_SEED 0u
#endif

extern const aedc_ev_pe_t aedc_ev_pe;
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

/* back edges arrive delay + 1 steps later, as in the contract (no tick-async correction) */
uint32_t aedc_async_mode = 0u;

static volatile uint32_t counters[4]; /* 0 step, 1 received, 2 sent, 3 rounds in the last step */

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

/* one round: the packets that arrived, their rows, the candidate test, the firing */
static void round_of(uint32_t t, uint32_t m) {
    const aedc_ev_pe_t *ev = &aedc_ev_pe;
    uint32_t got = 0;
    ev->rx_clear();
    while (NOC_RX_COUNT != 0u) {
        uint32_t key = NOC_RX_KEY;
        uint32_t payload = NOC_RX_PAYLOAD;
        counters[1]++;
        if (ev->store(key, payload)) {
            ev->rx(key, payload);
            got++;
        }
    }
    uint32_t n = 0;
    for (uint32_t k = 0; k < ev->pe.n_slices; k++) {
        if (ev->slices[k].kind == AEDC_EV_INPUT) continue;
        ev->integrate(k, t, m == 0u);
        if (ev->slices[k].kind != AEDC_EV_SPIKING || (!got && m)) continue;
        ev->evaluate(k, m);
        n += ev->candidates(k, ev->cand + n);
    }
    if (n) aedc_ev_select(ev, ev->cand, n, AEDC_EV_K, AEDC_EV_POLICY, AEDC_EV_SEED, t, m);
}

int main(void) {
    const aedc_ev_pe_t *ev = &aedc_ev_pe;
    TIMER_LOAD = ev->pe.tick_us * 150u - 1u; /* 150 MHz PE clock */
    TIMER_CTRL = 5u;
    while ((TIMER_CTRL & (1u << 16)) == 0u) {
    }
    for (uint32_t t = 0;; t++) {
        counters[0] = t;
        ev->pe.begin_tick(t);
        for (uint32_t k = 0; k < ev->pe.n_slices; k++)
            if (ev->slices[k].kind != AEDC_EV_INPUT) ev->begin(k);
        for (uint32_t k = 0; k < ev->pe.n_slices; k++)
            if (ev->slices[k].kind == AEDC_EV_INPUT) ev->pe.slice_tick(k, t);
        uint32_t m = 0;
        do {
            round_of(t, m);
            if (m < 32767u) m++;
        } while ((TIMER_CTRL & (1u << 16)) == 0u);
        counters[3] = m;
        for (uint32_t k = 0; k < ev->pe.n_slices; k++)
            if (ev->slices[k].kind != AEDC_EV_INPUT) ev->end(k, t);
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
