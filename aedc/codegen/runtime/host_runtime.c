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
 * Asynchronous schedule (the emulator's, aedc.timing.schedule), when a schedule file is given: PE i
 * starts its local tick k at times[i][k] = offset[i] + k·period[i] + j_i(k) µs, with the jitter
 * j_i(k) = aedc_hash4(seed, addr_i, k, AEDC_JITTER_STREAM) mod (jitter + 1) of its address word addr_i
 * (aedc_host_addr); PE ticks run in time order (no barrier). A packet sent by PE s in its tick k
 * arrives at PE d at times[s][k] + lat[s][d], lat = link + hop·(QPE hops) + chip_hop·(chip hops): on
 * one chip the Manhattan distance of the QPEs, between chips the hexagonal (torus) distance of the
 * chips and no QPE hops (aedc.machine). It is delivered at the start of d's first tick that starts
 * strictly after that (begin_tick, then the packets sorted by key, ties in send order — ascending
 * source tick), never in the tick that sent it; packets for a tick ≥ T are dropped. The times and
 * latencies are computed here from the schedule's parameters, not received.
 *
 * Usage: host_runner T inputs.f32 traces.f32 [schedule.bin]
 *   inputs.f32: T × width float32 (the input populations' values, graph order, concatenated)
 *   traces.f32: per tick, per slice in tick order: value[n], payload[n], then each state variable[n]
 *   schedule.bin (aedc.codegen.host.schedule_table): uint32 magic "AEDS", jitter, seed, link, hop,
 *   chip_hop (µs), chips_x, chips_y, torus; then int64 period[n_pes], int64 offset[n_pes] (PEs in
 *   manifest order)
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
    uint32_t key, payload, seq, k0; /* k0: receiver tick of delivery (async schedule) */
} packet_t;

typedef struct {
    packet_t *items;
    uint32_t n, cap;
} queue_t;

static queue_t *queues;
static uint32_t seq;
uint32_t aedc_async_mode; /* set when a schedule file is given (see aedc_pe.h) */
/* async schedule: tick start times (n_pes × T), NoC latencies (n_pes × n_pes), the sending tick */
static int64_t *times;
static uint32_t *lat;
static uint32_t n_ticks, cur_pe, cur_tick;

#define AEDC_SCHEDULE_MAGIC 0x53444541u /* "AEDS" */
#define AEDC_JITTER_STREAM 0x4A495454u  /* "JITT": the jitter's third hash word */

/* hops between chips a and b on the hexagonal mesh (links E, NE, N, W, SW, S): max(|dx|, |dy|) when
 * dx and dy have the same sign, else |dx| + |dy|; on a torus the shortest wrapped alternative */
static int64_t chip_distance(int64_t ax, int64_t ay, int64_t bx, int64_t by, int64_t w, int64_t h,
                             uint32_t torus) {
    int64_t best = -1;
    for (int i = 0; i < 3; i++) {
        int64_t dx = (bx - ax) + (i == 1 ? -w : i == 2 ? w : 0);
        if (i && !(torus && w > 1)) continue;
        for (int j = 0; j < 3; j++) {
            int64_t dy = (by - ay) + (j == 1 ? -h : j == 2 ? h : 0);
            if (j && !(torus && h > 1)) continue;
            int64_t adx = dx < 0 ? -dx : dx, ady = dy < 0 ? -dy : dy;
            int64_t d = dx * dy > 0 ? (adx > ady ? adx : ady) : adx + ady;
            if (best < 0 || d < best) best = d;
        }
    }
    return best;
}

/* Read the schedule's parameters; compute every PE's tick times and every pair's NoC latency. */
static int read_schedule(FILE *f, uint32_t n, uint32_t T) {
    uint32_t head[9];
    int64_t *period = malloc(((size_t)n + 1) * sizeof(int64_t));
    int64_t *offset = malloc(((size_t)n + 1) * sizeof(int64_t));
    if (!period || !offset) { perror("malloc"); return 3; }
    if (fread(head, sizeof(uint32_t), 9, f) != 9 || head[0] != AEDC_SCHEDULE_MAGIC
        || fread(period, sizeof(int64_t), n, f) != n || fread(offset, sizeof(int64_t), n, f) != n) {
        fprintf(stderr, "not an aedc schedule file for %u PEs (magic AEDS, 9 words, 2 × %u int64)\n", n, n);
        return 2;
    }
    uint32_t jitter = head[1], seed = head[2], link = head[3], hop = head[4], chip_hop = head[5];
    /* the bounds of aedc.timing.schedule (TIME_MAX_US, LATENCY_MAX_US): no jitter + 1 wraps to 0, no
     * pair's latency leaves its uint32 */
    if (jitter > 0x7FFFFFFFu || link > (1u << 20) || hop > (1u << 20) || chip_hop > (1u << 20)) {
        fprintf(stderr, "schedule out of range: jitter %u µs (at most 2^31 - 1), link %u, hop %u, chip hop "
                "%u µs (at most 2^20)\n", jitter, link, hop, chip_hop);
        return 2;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (period[i] <= 0 || offset[i] < 0 || (int64_t)jitter >= period[i]) {
            fprintf(stderr, "PE %u: period %lld µs, offset %lld µs, jitter %u µs: need period > jitter "
                    "and offset ≥ 0\n", i, (long long)period[i], (long long)offset[i], jitter);
            return 2;
        }
        for (uint32_t k = 0; k < T; k++)
            times[(size_t)i * T + k] = offset[i] + (int64_t)k * period[i]
                + (int64_t)(aedc_hash4(seed, aedc_host_addr[i], k, AEDC_JITTER_STREAM) % (jitter + 1u));
    }
    for (uint32_t s = 0; s < n; s++) {
        uint32_t a = aedc_host_addr[s];
        for (uint32_t d = 0; d < n; d++) {
            uint32_t b = aedc_host_addr[d];
            int64_t l = link;
            if ((a >> 16) == (b >> 16)) { /* one chip: Manhattan distance of the QPEs */
                int64_t dqx = (int64_t)((a >> 12) & 0xFu) - (int64_t)((b >> 12) & 0xFu);
                int64_t dqy = (int64_t)((a >> 8) & 0xFu) - (int64_t)((b >> 8) & 0xFu);
                l += (int64_t)hop * ((dqx < 0 ? -dqx : dqx) + (dqy < 0 ? -dqy : dqy));
            } else {
                l += (int64_t)chip_hop * chip_distance(a >> 24, (a >> 16) & 0xFFu, b >> 24, (b >> 16) & 0xFFu,
                                                       head[6], head[7], head[8]);
            }
            lat[(size_t)s * n + d] = (uint32_t)l;
        }
    }
    free(period);
    free(offset);
    return 0;
}

/* the first tick of PE d that starts strictly after time a (n_ticks if none) */
static uint32_t first_tick_after(uint32_t d, int64_t a) {
    const int64_t *td = times + (size_t)d * n_ticks;
    uint32_t lo = 0, hi = n_ticks;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (td[mid] > a) hi = mid; else lo = mid + 1;
    }
    return lo;
}

void aedc_send(uint32_t key, uint32_t payload, uint32_t has_payload, uint32_t target) {
    (void)has_payload;
    for (uint32_t i = 0; i < aedc_host_n_pes; i++) {
        uint32_t a = aedc_host_addr[i];
        if ((a & ~0xFFu) != (target & ~0xFFu) || !((target >> (a & 0xFu)) & 1u)) continue;
        uint32_t k0 = 0;
        if (times) {
            int64_t sent = times[(size_t)cur_pe * n_ticks + cur_tick];
            k0 = first_tick_after(i, sent + (int64_t)lat[(size_t)cur_pe * aedc_host_n_pes + i]);
            if (k0 >= n_ticks) continue; /* used after the receiver's last tick: lost */
        }
        queue_t *q = &queues[i];
        if (q->n == q->cap) {
            q->cap = q->cap ? 2 * q->cap : 64;
            q->items = realloc(q->items, q->cap * sizeof(packet_t));
            if (!q->items) { perror("realloc"); exit(3); }
        }
        q->items[q->n++] = (packet_t){key, payload, seq++, k0};
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

/* deliver PE i's packets due at its tick k (async): sorted by key, ties in send order */
static void deliver_due(uint32_t i, uint32_t k) {
    queue_t *q = &queues[i];
    uint32_t n = 0, keep = 0;
    packet_t *due = malloc((q->n + 1) * sizeof(packet_t));
    if (!due) { perror("malloc"); exit(3); }
    for (uint32_t j = 0; j < q->n; j++) {
        if (q->items[j].k0 == k) due[n++] = q->items[j];
        else q->items[keep++] = q->items[j];
    }
    q->n = keep;
    qsort(due, n, sizeof(packet_t), by_key);
    for (uint32_t j = 0; j < n; j++) aedc_host_pes[i]->receive(due[j].key, due[j].payload);
    free(due);
}

typedef struct {
    int64_t time;
    uint32_t pe, k;
} pe_tick_t;

static int by_time(const void *a, const void *b) {
    const pe_tick_t *x = a, *y = b;
    if (x->time != y->time) return x->time < y->time ? -1 : 1;
    if (x->pe != y->pe) return x->pe < y->pe ? -1 : 1;
    return (x->k > y->k) - (x->k < y->k);
}

/* The asynchronous run: every PE's ticks in time order, traces gathered per tick then written. */
static int run_async(uint32_t T, FILE *fin, FILE *fout, FILE *fsched) {
    uint32_t n = aedc_host_n_pes, w = aedc_host_input_width;
    times = malloc(((size_t)n * T + 1) * sizeof(int64_t));
    lat = malloc(((size_t)n * n + 1) * sizeof(uint32_t));
    float *in = calloc((size_t)T * w + 1, sizeof(float));
    if (!times || !lat || !in) { perror("malloc"); return 3; }
    int rc = read_schedule(fsched, n, T);
    if (rc) return rc;
    if (w && fread(in, sizeof(float), (size_t)T * w, fin) != (size_t)T * w) {
        fprintf(stderr, "input file too short\n");
        return 2;
    }
    n_ticks = T;
    aedc_async_mode = 1u;
    size_t per_tick = 0;
    size_t *off = malloc((aedc_host_n_order + 1) * sizeof(size_t));
    if (!off) { perror("malloc"); return 3; }
    for (uint32_t o = 0; o < aedc_host_n_order; o++) {
        off[o] = per_tick;
        per_tick += (size_t)(2 + aedc_host_slice_states[o]) * aedc_host_slice_sizes[o];
    }
    float *tr = calloc((size_t)T * per_tick + 1, sizeof(float));
    pe_tick_t *ev = malloc(((size_t)n * T + 1) * sizeof(pe_tick_t));
    if (!tr || !ev) { perror("malloc"); return 3; }
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t k = 0; k < T; k++) ev[(size_t)i * T + k] = (pe_tick_t){times[(size_t)i * T + k], i, k};
    qsort(ev, (size_t)n * T, sizeof(pe_tick_t), by_time);
    for (size_t e = 0; e < (size_t)n * T; e++) {
        uint32_t i = ev[e].pe, k = ev[e].k;
        cur_pe = i;
        cur_tick = k;
        aedc_host_pes[i]->begin_tick(k);
        deliver_due(i, k);
        for (uint32_t j = 0; j < aedc_host_n_inputs; j++) {
            const uint32_t *r = aedc_host_inputs[j];
            if (r[0] == i) aedc_host_pes[i]->set_input(r[1], k, in + (size_t)k * w + r[2]);
        }
        for (uint32_t o = 0; o < aedc_host_n_order; o++) {
            if (aedc_host_order[o][0] != i) continue;
            uint32_t s = aedc_host_order[o][1], sz = aedc_host_slice_sizes[o];
            aedc_host_pes[i]->slice_tick(s, k);
            for (uint32_t what = 0; what < 2 + aedc_host_slice_states[o]; what++)
                memcpy(tr + (size_t)k * per_tick + off[o] + (size_t)what * sz,
                       aedc_host_pes[i]->trace(s, what), sz * sizeof(float));
        }
    }
    if (fwrite(tr, sizeof(float), (size_t)T * per_tick, fout) != (size_t)T * per_tick) {
        perror("write");
        return 3;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: %s T inputs.f32 traces.f32 [schedule.bin]\n", argv[0]);
        return 2;
    }
    uint32_t T = (uint32_t)strtoul(argv[1], 0, 10);
    FILE *fin = fopen(argv[2], "rb");
    FILE *fout = fopen(argv[3], "wb");
    if (!fin || !fout) { perror("open"); return 2; }
    queues = calloc(aedc_host_n_pes, sizeof(queue_t));
    if (argc == 5) {
        FILE *fsched = fopen(argv[4], "rb");
        if (!fsched) { perror("open"); return 2; }
        int rc = run_async(T, fin, fout, fsched);
        fclose(fsched);
        fclose(fout);
        fclose(fin);
        return rc;
    }
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
