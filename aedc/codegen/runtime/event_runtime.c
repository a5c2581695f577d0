/* event_runtime.c — runs a whole placed aedc program on the host under the event-driven schedule
 * (aedc.timing.event; written by aedc, not generated). It implements the contract itself: it replays
 * no order computed elsewhere.
 *
 * Every PE's kernel.c (emitted with event code, see aedc_event.h) is compiled with -DAEDC_HOST and
 * linked with this file, host/host_table.c and host/event_table.c. Step t:
 *   every PE: begin_tick(t); every slice: begin (acc = 0, nothing fired); the input slices send frame
 *   t (arrival micro-step 0). Micro-step m = 0 .. M-1:
 *   (0) layered: a population becomes ready in the first m where every non-input population it
 *       receives a latency-0 projection from was ready before m and has no candidate left;
 *   (1) each ready slice integrates the packets of its PE due now — arrived in m, or held for it
 *       until it became ready — loaded into the kernel's key-sorted queue (ties in send order), and in
 *       its first micro-step its delayed (latency >= 1) and sigma-delta ports;
 *   (2) it evaluates its unfired neurons (when something arrived, or in its first micro-step);
 *   (3) every PE fires up to k of its candidates in policy order (aedc_ev_select); a spike is stored
 *       at once in the receivers' histories (latency >= 1) and queued for micro-step m + 1 where a
 *       latency-0 port reads it.
 *   The step ends after m when no candidate is left, nothing was queued in m and every population was
 *   ready; otherwise after M micro-steps, the candidates left are the overflow. Then every slice's
 *   end commits the model's tick with the whole acc and z = fired.
 *
 * Usage: event_runner T inputs.f32 traces.f32 micro.i32 K POLICY SEED M LAYERED
 *   inputs.f32, traces.f32: as host_runtime.c (traces per step, per slice in tick order)
 *   micro.i32: per step: micro-steps used, overflow, then per slice in tick order the micro-step of
 *   each neuron's spike (-1: none; always -1 for input and graded slices)
 *   POLICY: 0 arrival, 1 momentum, 2 random (aedc_event.h)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aedc_event.h"

extern const aedc_ev_pe_t *const aedc_ev_pes[];
extern const uint32_t aedc_host_addr[];
extern const uint32_t aedc_host_n_pes;
extern const uint32_t aedc_host_order[][2];
extern const uint32_t aedc_host_n_order;
extern const uint32_t aedc_host_inputs[][4];
extern const uint32_t aedc_host_n_inputs;
extern const uint32_t aedc_host_input_width;
extern const uint32_t aedc_host_slice_sizes[];
extern const uint32_t aedc_host_slice_states[];
extern const uint32_t aedc_ev_slices[][3]; /* non-input neuron slices: PE, slice, population */
extern const uint32_t aedc_ev_n_slices;
extern const uint32_t aedc_ev_waits[][2]; /* layered: population, a population it waits for */
extern const uint32_t aedc_ev_n_waits;
extern const uint32_t aedc_ev_n_pops;     /* populations in graph order, inputs included */
extern const uint32_t aedc_ev_hidden[];   /* 1 for a non-input population */

typedef struct {
    uint32_t key, payload, arrival;
} packet_t;

typedef struct {
    packet_t *items;
    uint32_t n, cap;
} queue_t;

uint32_t aedc_async_mode; /* 0: a back edge's latency is delay + 1 steps, as in the contract */
static queue_t *queues;
static uint32_t arrival; /* micro-step a packet sent now is integrated in */
static uint32_t queued;  /* packets queued for a latency-0 port since the last look */

void aedc_send(uint32_t key, uint32_t payload, uint32_t has_payload, uint32_t target) {
    (void)has_payload;
    for (uint32_t i = 0; i < aedc_host_n_pes; i++) {
        uint32_t a = aedc_host_addr[i];
        if ((a & ~0xFFu) != (target & ~0xFFu) || !((target >> (a & 0xFu)) & 1u)) continue;
        if (!aedc_ev_pes[i]->store(key, payload)) continue; /* only delayed ports read it */
        queue_t *q = &queues[i];
        if (q->n == q->cap) {
            q->cap = q->cap ? 2 * q->cap : 64;
            q->items = realloc(q->items, q->cap * sizeof(packet_t));
            if (!q->items) { perror("realloc"); exit(3); }
        }
        q->items[q->n++] = (packet_t){key, payload, arrival};
        queued++;
    }
}

int main(int argc, char **argv) {
    if (argc != 10) {
        fprintf(stderr, "usage: %s T inputs.f32 traces.f32 micro.i32 K POLICY SEED M LAYERED\n", argv[0]);
        return 2;
    }
    uint32_t T = (uint32_t)strtoul(argv[1], 0, 10);
    uint32_t K = (uint32_t)strtoul(argv[5], 0, 10), policy = (uint32_t)strtoul(argv[6], 0, 10);
    uint32_t seed = (uint32_t)strtoul(argv[7], 0, 10), M = (uint32_t)strtoul(argv[8], 0, 10);
    uint32_t layered = (uint32_t)strtoul(argv[9], 0, 10);
    FILE *fin = fopen(argv[2], "rb"), *fout = fopen(argv[3], "wb"), *fmic = fopen(argv[4], "wb");
    if (!fin || !fout || !fmic) { perror("open"); return 2; }
    if (M < 1u || M > 32767u || policy > 2u) { fprintf(stderr, "bad M or policy\n"); return 2; }
    uint32_t n_pes = aedc_host_n_pes, n_pops = aedc_ev_n_pops;
    queues = calloc(n_pes, sizeof(queue_t));
    float *in = calloc(aedc_host_input_width + 1, sizeof(float));
    int32_t *ready = malloc((n_pops + 1) * sizeof(int32_t));
    uint32_t *left = calloc(n_pops + 1, sizeof(uint32_t)); /* candidates per population */
    int32_t *ready_of = malloc((aedc_ev_n_slices + 1) * sizeof(int32_t));
    uint32_t most = 1;
    for (uint32_t i = 0; i < n_pes; i++) most = aedc_ev_pes[i]->n_neurons > most ? aedc_ev_pes[i]->n_neurons : most;
    /* mic also holds one slice's micro-steps: an input slice can be larger than any PE's candidates */
    for (uint32_t o = 0; o < aedc_host_n_order; o++)
        most = aedc_host_slice_sizes[o] > most ? aedc_host_slice_sizes[o] : most;
    aedc_ev_cand_t *scratch = malloc(most * sizeof(aedc_ev_cand_t));
    int32_t *mic = malloc((most + 2) * sizeof(int32_t));
    if (!queues || !in || !ready || !left || !ready_of || !scratch || !mic) { perror("malloc"); return 3; }
    for (uint32_t t = 0; t < T; t++) {
        if (aedc_host_input_width &&
            fread(in, sizeof(float), aedc_host_input_width, fin) != aedc_host_input_width) {
            fprintf(stderr, "input file too short at step %u\n", t);
            return 2;
        }
        for (uint32_t i = 0; i < n_pes; i++) {
            aedc_ev_pes[i]->pe.begin_tick(t);
            queues[i].n = 0;
        }
        for (uint32_t s = 0; s < aedc_ev_n_slices; s++)
            aedc_ev_pes[aedc_ev_slices[s][0]]->begin(aedc_ev_slices[s][1]);
        arrival = 0;
        for (uint32_t j = 0; j < aedc_host_n_inputs; j++) {
            const uint32_t *r = aedc_host_inputs[j];
            aedc_ev_pes[r[0]]->pe.set_input(r[1], t, in + r[2]);
        }
        for (uint32_t j = 0; j < aedc_host_n_inputs; j++) {
            const uint32_t *r = aedc_host_inputs[j];
            aedc_ev_pes[r[0]]->pe.slice_tick(r[1], t); /* frame t: sent at the step's start */
        }
        for (uint32_t p = 0; p < n_pops; p++) ready[p] = -1;
        int32_t used = (int32_t)M, overflow = 0;
        for (uint32_t m = 0; m < M; m++) {
            /* (0) which populations act in this micro-step */
            for (uint32_t p = 0; p < n_pops; p++) {
                if (!aedc_ev_hidden[p] || ready[p] >= 0) continue;
                int ok = 1;
                for (uint32_t w = 0; layered && w < aedc_ev_n_waits; w++) {
                    if (aedc_ev_waits[w][0] != p) continue;
                    int32_t r = ready[aedc_ev_waits[w][1]];
                    if (r < 0 || r >= (int32_t)m || left[aedc_ev_waits[w][1]]) ok = 0;
                }
                if (ok) ready[p] = (int32_t)m;
            }
            /* (1) integrate what is due, (2) evaluate */
            for (uint32_t s = 0; s < aedc_ev_n_slices; s++) {
                uint32_t pe = aedc_ev_slices[s][0], k = aedc_ev_slices[s][1];
                int32_t r = ready[aedc_ev_slices[s][2]];
                if (r < 0) continue;
                const aedc_ev_pe_t *ev = aedc_ev_pes[pe];
                const queue_t *q = &queues[pe];
                uint32_t loaded = 0;
                ev->rx_clear();
                for (uint32_t j = 0; j < q->n; j++) {
                    uint32_t due = q->items[j].arrival > (uint32_t)r ? q->items[j].arrival : (uint32_t)r;
                    if (due != m) continue;
                    ev->rx(q->items[j].key, q->items[j].payload);
                    loaded++;
                }
                uint32_t first = (uint32_t)r == m;
                ev->integrate(k, t, first);
                if (loaded || first) ev->evaluate(k, m);
            }
            /* (3) every PE fires up to K of its candidates */
            arrival = m + 1;
            queued = 0;
            for (uint32_t i = 0; i < n_pes; i++) {
                const aedc_ev_pe_t *ev = aedc_ev_pes[i];
                uint32_t n = 0;
                for (uint32_t k = 0; k < ev->pe.n_slices; k++)
                    if (ev->slices[k].kind == AEDC_EV_SPIKING) n += ev->candidates(k, ev->cand + n);
                if (n) aedc_ev_select(ev, ev->cand, n, K, policy, seed, t, m);
            }
            /* does the step end here? */
            uint32_t total = 0, all_ready = 1;
            for (uint32_t p = 0; p < n_pops; p++) {
                left[p] = 0;
                if (aedc_ev_hidden[p] && ready[p] < 0) all_ready = 0;
            }
            for (uint32_t s = 0; s < aedc_ev_n_slices; s++) {
                const aedc_ev_pe_t *ev = aedc_ev_pes[aedc_ev_slices[s][0]];
                uint32_t c = ev->candidates(aedc_ev_slices[s][1], scratch);
                left[aedc_ev_slices[s][2]] += c;
                total += c;
            }
            if (total == 0 && queued == 0 && all_ready) {
                used = (int32_t)m + 1;
                break;
            }
            if (m + 1 == M) overflow = (int32_t)total; /* packets still queued are not integrated */
        }
        for (uint32_t p = 0; p < n_pops; p++) left[p] = 0;
        for (uint32_t s = 0; s < aedc_ev_n_slices; s++)
            aedc_ev_pes[aedc_ev_slices[s][0]]->end(aedc_ev_slices[s][1], t);
        mic[0] = used;
        mic[1] = overflow;
        if (fwrite(mic, sizeof(int32_t), 2, fmic) != 2) { perror("write"); return 3; }
        for (uint32_t o = 0; o < aedc_host_n_order; o++) {
            uint32_t pe = aedc_host_order[o][0], k = aedc_host_order[o][1];
            uint32_t n = aedc_host_slice_sizes[o], ns = aedc_host_slice_states[o];
            const aedc_ev_pe_t *ev = aedc_ev_pes[pe];
            for (uint32_t what = 0; what < 2 + ns; what++) {
                const float *v = ev->pe.trace(k, what);
                if (fwrite(v, sizeof(float), n, fout) != n) { perror("write"); return 3; }
            }
            const int16_t *fm = ev->slices[k].kind == AEDC_EV_SPIKING ? ev->fired_at(k) : 0;
            for (uint32_t i = 0; i < n; i++) mic[i] = fm ? fm[i] : -1;
            if (fwrite(mic, sizeof(int32_t), n, fmic) != n) { perror("write"); return 3; }
        }
    }
    fclose(fmic);
    fclose(fout);
    fclose(fin);
    return 0;
}
