/* qemu_runtime.c — the replay runtime: one PE's generated kernel on an emulated Cortex-M4F, tick by tick.
 *
 * Written by aedc (aedc/codegen/runtime/qemu_runtime.c; driven by aedc/codegen/qemu.py). It replaces
 * chip_runtime.c and nothing else (image, run, timing and the common file format: qemu_replay.h), and
 * needs none of the chip runtime's timer/NoC registers.
 *
 * Input (replay.in, version 1): after the header and dump table, the calls the PE received, in the
 *   order its runtime made them:
 *   {1 t} begin_tick, {2 key payload} receive, {3 k t n values[n]} set_input, {4 k t} slice_tick, {0}.
 * Output (replay.out): the common records; state {6} and recording row {9} after every slice_tick.
 */
#include "qemu_replay.h"

extern const aedc_pe_t aedc_pe;

__attribute__((noinline)) static void replay(void) {
    const uint32_t *end;
    const uint32_t *in = replay_open(1u, &end);
    uint32_t n_dump = in[3];
    const uint32_t *dumps = in + 4;
    const uint32_t *p = dumps + 4u * n_dump;
    while (p < end && *p != 0u) {
        uint32_t op = *p;
        need(p, op == 1u ? 2u : op == 3u ? 4u : op <= 4u ? 3u : 1u, end);
        if (op == 3u) need(p + 4, p[3], end);
        if (op == 1u) {
            TIMED(1u, aedc_pe.begin_tick(p[1]));
            p += 2;
        } else if (op == 2u) {
            TIMED(2u, aedc_pe.receive(p[1], p[2]));
            p += 3;
        } else if (op == 3u) {
            TIMED(3u, aedc_pe.set_input(p[1], p[2], (const float *)(p + 4)));
            p += 4 + p[3];
        } else if (op == 4u) {
            TIMED(4u, aedc_pe.slice_tick(p[1], p[2]));
            dump(dumps, n_dump, p[1], 6u, 0u);
            dump(dumps, n_dump, p[1], 9u, p[2]);
            p += 3;
        } else {
            leave(2u, "replay: unknown record in replay.in\n");
        }
    }
    replay_close(dumps, n_dump);
}
