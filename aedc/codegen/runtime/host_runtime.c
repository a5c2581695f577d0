/* host_runtime.c — runs a whole placed aedc program on the host (written by aedc; not generated).
 *
 * Every PE's generated kernel.c is compiled with -DAEDC_HOST -DAEDC_PE_SYMBOL=aedc_pe_<i> and linked with
 * this file and the build's host/host_table.c. Synchronous schedule (the reference's): one tick t is
 *   begin_tick(t) on every PE; then every slice in tick order (topological order of populations):
 *   drain its PE's event queue (packets sorted by key, ties in send order), stream its input (input
 *   slices), slice_tick; at the end of the tick every queue is drained again, so an event sent in tick
 *   t is stored in the receivers' history slot of tick t whatever the order of the PEs.
 * Delivery follows the packets' destinations: one packet per destination QPE, the PE mask selects the
 * PEs of that QPE.
 *
 * Usage: host_runner T inputs.f32 traces.f32
 *   inputs.f32: T × width float32 (the input populations' values, graph order, concatenated)
 *   traces.f32: per tick, per slice in tick order: value[n], payload[n], then each state variable[n]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aedc_pe.h"

extern const aedc_pe_t *const aedc_host_pes[];
extern const uint32_t aedc_host_addr[];
extern const uint32_t aedc_host_n_pes;
extern const uint32_t aedc_host_order[][2];
extern const uint32_t aedc_host_n_order;
extern const uint32_t aedc_host_inputs[][4];
extern const uint32_t aedc_host_n_inputs;
extern const uint32_t aedc_host_input_width;
extern const uint32_t aedc_host_slice_sizes[];
extern const uint32_t aedc_host_slice_states[];

typedef struct {
    uint32_t key, payload, seq;
} packet_t;

typedef struct {
    packet_t *items;
    uint32_t n, cap;
} queue_t;

static queue_t *queues;
static uint32_t seq;

void aedc_send(uint32_t key, uint32_t payload, uint32_t has_payload, uint32_t target) {
    (void)has_payload;
    for (uint32_t i = 0; i < aedc_host_n_pes; i++) {
        uint32_t a = aedc_host_addr[i];
        if ((a & ~0xFFu) != (target & ~0xFFu) || !((target >> (a & 0xFu)) & 1u)) continue;
        queue_t *q = &queues[i];
        if (q->n == q->cap) {
            q->cap = q->cap ? 2 * q->cap : 64;
            q->items = realloc(q->items, q->cap * sizeof(packet_t));
            if (!q->items) { perror("realloc"); exit(3); }
        }
        q->items[q->n++] = (packet_t){key, payload, seq++};
    }
}

static int by_key(const void *a, const void *b) {
    const packet_t *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

static void drain(uint32_t i) {
    queue_t *q = &queues[i];
    if (!q->n) return;
    qsort(q->items, q->n, sizeof(packet_t), by_key);
    uint32_t n = q->n;
    q->n = 0;
    for (uint32_t j = 0; j < n; j++) aedc_host_pes[i]->receive(q->items[j].key, q->items[j].payload);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s T inputs.f32 traces.f32\n", argv[0]);
        return 2;
    }
    uint32_t T = (uint32_t)strtoul(argv[1], 0, 10);
    FILE *fin = fopen(argv[2], "rb");
    FILE *fout = fopen(argv[3], "wb");
    if (!fin || !fout) { perror("open"); return 2; }
    queues = calloc(aedc_host_n_pes, sizeof(queue_t));
    float *in = calloc(aedc_host_input_width + 1, sizeof(float));
    for (uint32_t t = 0; t < T; t++) {
        if (aedc_host_input_width &&
            fread(in, sizeof(float), aedc_host_input_width, fin) != aedc_host_input_width) {
            fprintf(stderr, "input file too short at tick %u\n", t);
            return 2;
        }
        for (uint32_t i = 0; i < aedc_host_n_pes; i++) aedc_host_pes[i]->begin_tick(t);
        for (uint32_t j = 0; j < aedc_host_n_inputs; j++) {
            const uint32_t *r = aedc_host_inputs[j];
            aedc_host_pes[r[0]]->set_input(r[1], t, in + r[2]);
        }
        for (uint32_t o = 0; o < aedc_host_n_order; o++) {
            uint32_t pe = aedc_host_order[o][0], k = aedc_host_order[o][1];
            drain(pe);
            aedc_host_pes[pe]->slice_tick(k, t);
        }
        for (uint32_t i = 0; i < aedc_host_n_pes; i++) drain(i);
        for (uint32_t o = 0; o < aedc_host_n_order; o++) {
            uint32_t pe = aedc_host_order[o][0], k = aedc_host_order[o][1];
            uint32_t n = aedc_host_slice_sizes[o], ns = aedc_host_slice_states[o];
            for (uint32_t what = 0; what < 2 + ns; what++) {
                const float *v = aedc_host_pes[pe]->trace(k, what);
                if (fwrite(v, sizeof(float), n, fout) != n) { perror("write"); return 3; }
            }
        }
    }
    fclose(fout);
    fclose(fin);
    return 0;
}
