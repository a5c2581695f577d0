/* qemu_event_runtime.c — the replay runtime of the event-driven schedule: one PE's generated event
 * kernel on an emulated Cortex-M4F, call by call in the host event runtime's order.
 *
 * Written by aedc (aedc/codegen/runtime/qemu_event_runtime.c; driven by aedc/codegen/qemu_event.py). It
 * replaces event_chip_runtime.c and nothing else (image, run, timing and the common file format:
 * qemu_replay.h). The chip runtime's rounds depend on what the NoC delivered when; this one makes the
 * calls event_runtime.c made to this PE under the contract's global micro-steps (aedc.timing.event),
 * so the Arm binary is compared bit for bit with the host / the emulator. The firing round runs on the
 * Arm: the PE's candidates and aedc_ev_select (aedc_event.h), the code both other runtimes run.
 *
 * Input (replay.in, version 2): after the header and dump table, {K policy seed}, then the calls:
 *   {1 t} begin_tick, {3 k t n values[n]} set_input, {4 k t} slice_tick (an input slice sends frame t),
 *   {10 key payload} store (a packet reaching the PE), {11 k} begin (step start), {12} rx_clear,
 *   {13 key payload} rx, {14 k t first} integrate, {15 k m} evaluate, {16 t m} the firing round of
 *   micro-step m, {17 k t} end (the step's commit), {0}.
 * Output (replay.out): the common records; {10 accepted} after each store (1: a latency-0 port reads
 *   the key), state {6} and recording row {9} after every end.
 */
#include "qemu_replay.h"
#include "aedc_event.h"

extern const aedc_ev_pe_t aedc_ev_pe;

/* the PE's share of the host runtime's step (3): its candidates, up to K of them fired in policy order */
static void fire_round(const uint32_t *cfg, uint32_t t, uint32_t m) {
    const aedc_ev_pe_t *ev = &aedc_ev_pe;
    uint32_t n = 0;
    for (uint32_t k = 0; k < ev->pe.n_slices; k++)
        if (ev->slices[k].kind == AEDC_EV_SPIKING) n += ev->candidates(k, ev->cand + n);
    if (n) aedc_ev_select(ev, ev->cand, n, cfg[0], cfg[1], cfg[2], t, m);
}

__attribute__((noinline)) static void replay(void) {
    const aedc_ev_pe_t *ev = &aedc_ev_pe;
    const uint32_t *end;
    const uint32_t *in = replay_open(2u, &end);
    uint32_t n_dump = in[3];
    const uint32_t *dumps = in + 4;
    const uint32_t *cfg = dumps + 4u * n_dump; /* K policy seed */
    need(cfg, 3u, end);
    const uint32_t *p = cfg + 3;
    static const uint8_t size[18] = {1, 2, 0, 4, 3, 0, 0, 0, 0, 0, 3, 2, 1, 3, 4, 3, 3, 3}; /* words per op */
    while (p < end && *p != 0u) {
        uint32_t accepted = 0;
        need(p, *p < 18u && size[*p] ? size[*p] : 1u, end);
        if (*p == 3u) need(p + 4, p[3], end);
        switch (*p) {
        case 1u: TIMED(1u, ev->pe.begin_tick(p[1])); p += 2; break;
        case 3u: TIMED(3u, ev->pe.set_input(p[1], p[2], (const float *)(p + 4))); p += 4 + p[3]; break;
        case 4u: TIMED(4u, ev->pe.slice_tick(p[1], p[2])); p += 3; break;
        case 10u:
            TIMED(10u, accepted = ev->store(p[1], p[2]));
            put(10u);
            put(accepted);
            p += 3;
            break;
        case 11u: TIMED(11u, ev->begin(p[1])); p += 2; break;
        case 12u: TIMED(12u, ev->rx_clear()); p += 1; break;
        case 13u: TIMED(13u, ev->rx(p[1], p[2])); p += 3; break;
        case 14u: TIMED(14u, ev->integrate(p[1], p[2], p[3])); p += 4; break;
        case 15u: TIMED(15u, ev->evaluate(p[1], p[2])); p += 3; break;
        case 16u: TIMED(16u, fire_round(cfg, p[1], p[2])); p += 3; break;
        case 17u:
            TIMED(17u, ev->end(p[1], p[2]));
            dump(dumps, n_dump, p[1], 6u, 0u);
            dump(dumps, n_dump, p[1], 9u, p[2]);
            p += 3;
            break;
        default: leave(2u, "replay: unknown record in replay.in\n");
        }
    }
    replay_close(dumps, n_dump);
}
