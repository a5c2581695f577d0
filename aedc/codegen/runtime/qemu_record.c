/* qemu_record.c — records, on the host, what every PE of a program receives and produces, for the
 * QEMU replay (aedc/codegen/qemu.py; written by aedc, not generated).
 *
 * Linked into the host program (run_host) unchanged in every other respect: aedc.codegen.qemu replaces
 * each PE's kernel.c by a wrapper that includes the original under -DAEDC_PE_SYMBOL=aedc_pe_real_<i>
 * with aedc_send renamed to aedc_rec_send, and defines the aedc_pe_<i> that host_table.c names, whose
 * functions call the ones below; host_table.c includes this file. The host runtime makes the same calls
 * in the same order; they are only written down, per PE, to AEDC_REPLAY_LOG_PATH.
 *
 * Log (little-endian uint32 words), one record per call, tagged with the PE index (manifest order):
 *   {1 pe t async}  {2 pe key payload}  {3 pe k t n values[n]}  {4 pe k t}  — the calls, as made;
 *   {5 pe key payload has_payload target} — a packet sent during the PE's slice_tick;
 *   {6 pe k n words[n]} — the slice's state variables (trace 2, 3, …) after that slice_tick.
 * An event-schedule kernel's wrapper (aedc.codegen.qemu_event) writes its own calls through
 * aedc_rec_call, names the sender of the packets it fires with aedc_rec_sender and dumps the state
 * after each step's end with aedc_rec_state.
 */
#include <stdio.h>
#include <stdlib.h>

#include "aedc_pe.h"

static FILE *rec_log;
static uint32_t rec_pe = 0xFFFFFFFFu;

static void put(const uint32_t *w, size_t n) {
    if (!rec_log) {
        rec_log = fopen(AEDC_REPLAY_LOG_PATH, "wb");
        if (!rec_log) { perror(AEDC_REPLAY_LOG_PATH); exit(3); }
    }
    if (n && fwrite(w, sizeof(uint32_t), n, rec_log) != n) { perror(AEDC_REPLAY_LOG_PATH); exit(3); }
}

void aedc_rec_send(uint32_t key, uint32_t payload, uint32_t has_payload, uint32_t target) {
    uint32_t r[6] = {5u, rec_pe, key, payload, has_payload, target};
    put(r, 6);
    aedc_send(key, payload, has_payload, target);
}

void aedc_rec_begin(const aedc_pe_t *pe, uint32_t i, uint32_t t) {
    uint32_t r[4] = {1u, i, t, aedc_async_mode};
    put(r, 4);
    pe->begin_tick(t);
}

void aedc_rec_receive(const aedc_pe_t *pe, uint32_t i, uint32_t key, uint32_t payload) {
    uint32_t r[4] = {2u, i, key, payload};
    put(r, 4);
    pe->receive(key, payload);
}

void aedc_rec_input(const aedc_pe_t *pe, uint32_t i, uint32_t k, uint32_t t, const float *values,
                    uint32_t n) {
    uint32_t r[5] = {3u, i, k, t, n};
    put(r, 5);
    put((const uint32_t *)values, n);
    pe->set_input(k, t, values);
}

void aedc_rec_state(const aedc_pe_t *pe, uint32_t i, uint32_t k, uint32_t n, uint32_t nst) {
    uint32_t h[4] = {6u, i, k, n * nst};
    put(h, 4);
    for (uint32_t j = 0; j < nst; j++) put((const uint32_t *)pe->trace(k, 2u + j), n);
}

void aedc_rec_tick(const aedc_pe_t *pe, uint32_t i, uint32_t k, uint32_t t, uint32_t n, uint32_t nst) {
    uint32_t r[4] = {4u, i, k, t};
    put(r, 4);
    rec_pe = i;
    pe->slice_tick(k, t);
    rec_pe = 0xFFFFFFFFu;
    aedc_rec_state(pe, i, k, n, nst);
}

void aedc_rec_call(const uint32_t *w, uint32_t n) { put(w, n); }

uint32_t aedc_rec_sender(uint32_t i) {
    uint32_t was = rec_pe;
    rec_pe = i;
    return was;
}
