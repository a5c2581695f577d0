/* aedc_pe.h — the interface between a generated PE kernel and the runtime that drives it.
 *
 * Written by aedc (aedc/codegen/runtime/aedc_pe.h); copied unchanged into every build as
 * common/aedc_pe.h. The same kernel source builds for the SpiNNaker2 PE (chip_runtime.c) and for the
 * host (host_runtime.c, compiled with -DAEDC_HOST). Everything is float32 with no fused multiply-add
 * (-ffp-contract=off): the kernel reproduces aedc.reference.simulate bit for bit.
 *
 * Memory regions (see aedc/partition/memory.py): the data image (parameters, synapses, master
 * population table, routing info) lives in section .aedc_image, the mutable per-neuron state, event
 * histories, input/recording buffers and the packet queue in .aedc_state; both are the "dynamically
 * placed" DTCM regions of the memory model, every array 16-byte aligned.
 */
#ifndef AEDC_PE_H
#define AEDC_PE_H

#include <stdint.h>

/* The image is written by the host loader, so it is not const: the compiler must read it, never fold it. */
#define AEDC_IMAGE __attribute__((section(".aedc_image"), aligned(16), used))
#define AEDC_STATE __attribute__((section(".aedc_state"), aligned(16)))

/* One master population table entry (12 B): a received key matches when (key & mask) == key_base;
 * the packet is stored into event history `hist` at index key - key_base. */
typedef struct {
    uint32_t key;
    uint32_t mask;
    uint32_t hist;
} aedc_mpt_entry_t;

/* Routing info of one outgoing slice (16 B): key block base and mask, neurons, payload type. */
typedef struct {
    uint32_t key_base;
    uint32_t key_mask;
    uint32_t n_neurons;
    uint32_t payload; /* 0 = binary spike (no payload), 1 = float32 payload */
} aedc_routing_info_t;

/* Header of one synaptic row (12 B): the row's words start at `first_word` and there are `n_words`;
 * only presynaptic neurons with synapses have a row, sorted by their index `pre` in the key block. */
typedef struct {
    uint16_t n_words;
    uint16_t flags;
    uint32_t first_word;
    uint32_t pre;
} aedc_row_header_t;

/* The row of presynaptic neuron `pre` (binary search), or -1 when it has no synapses here. */
static inline int32_t aedc_find_row(const aedc_row_header_t *hdr, uint32_t n_rows, uint32_t pre) {
    uint32_t lo = 0, hi = n_rows;
    while (lo < hi) {
        uint32_t mid = (lo + hi) >> 1;
        if (hdr[mid].pre < pre) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return (lo < n_rows && hdr[lo].pre == pre) ? (int32_t)lo : -1;
}

/* First entry of the key-sorted packet queue with key >= `key` (binary search). */
static inline uint32_t aedc_rxq_first(uint32_t (*q)[2], uint32_t n, uint32_t key) {
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) >> 1;
        if (q[mid][0] < key) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* A destination of an outgoing slice: one NoC packet per destination QPE, with a 4-bit PE mask.
 * Packed: chip x (bits 24..31), chip y (16..23), QPE x (12..15), QPE y (8..11), PE mask (0..3). */
#define AEDC_TARGET(cx, cy, qx, qy, mask) \
    (((uint32_t)(cx) << 24) | ((uint32_t)(cy) << 16) | ((uint32_t)(qx) << 12) | ((uint32_t)(qy) << 8) \
     | (uint32_t)(mask))

/* The counter-based hash of four words (aedc.timing.event.counter_hash), mod 2^32: the event
 * schedule's random policy (aedc_ev_priority) and the async clock jitter of the host runtime. */
static inline uint32_t aedc_hash4(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
    uint32_t h = a * 0x9E3779B1u + b * 0x85EBCA77u + c * 0xC2B2AE3Du + d * 0x27D4EB2Fu;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    h *= 0x297A2D39u;
    h ^= h >> 15;
    return h;
}

/* What a PE program exports to its runtime. */
typedef struct {
    uint32_t n_slices;
    uint32_t tick_us;                                    /* timer period (µs), 1000 by default */
    void (*begin_tick)(uint32_t t);                     /* clear this tick's event-history slots */
    void (*receive)(uint32_t key, uint32_t payload);     /* one received packet: MPT lookup + store */
    void (*slice_tick)(uint32_t k, uint32_t t);          /* sum inputs, update neurons, emit events */
    void (*set_input)(uint32_t k, uint32_t t, const float *values); /* input slices: stream tick t */
    const float *(*trace)(uint32_t k, uint32_t what);    /* host only: 0 value, 1 payload, 2+ state */
} aedc_pe_t;

/* Provided by the runtime: send one multicast packet to destination `target` (AEDC_TARGET). */
void aedc_send(uint32_t key, uint32_t payload, uint32_t has_payload, uint32_t target);

/* Provided by the runtime: 1 when ticks are asynchronous (on chip; the host runtime's async schedule),
 * 0 for the host's synchronous, layer-ordered schedule. Events reach a receiver in a later tick either
 * way in async mode, so back edges drop the extra tick they need in the synchronous order. */
extern uint32_t aedc_async_mode;

static inline uint32_t aedc_f2u(float f) {
    uint32_t u;
    __builtin_memcpy(&u, &f, 4);
    return u;
}

static inline float aedc_u2f(uint32_t u) {
    float f;
    __builtin_memcpy(&f, &u, 4);
    return f;
}

/* IEEE half → float32, exact (no FP16 hardware or compiler extension needed). */
static inline float aedc_half(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t man = h & 0x3FFu;
    if (exp == 0x1Fu) {
        return aedc_u2f(sign | 0x7F800000u | (man << 13));
    }
    if (exp == 0) {
        /* subnormal half: man · 2^-24, exact in float32 */
        float f = (float)man * 5.9604644775390625e-8f;
        return sign ? -f : f;
    }
    return aedc_u2f(sign | ((exp + 112u) << 23) | (man << 13));
}

/* ---- synapse formats: apply presynaptic row r with payload p to the accumulator acc -------------
 * Within a row, synapses are in ascending postsynaptic index (the reference's summation order). */

/* rows format, 16-bit words: weight index (bits 12..15) into a 16-entry table, delay (9..11, 0),
 * type (8), target (0..7). */
static inline void aedc_rows_lut4(const aedc_row_header_t *hdr, const uint16_t *words,
                                  const float *lut, uint32_t r, float p, float *acc) {
    const aedc_row_header_t *h = &hdr[r];
    const uint16_t *w = words + h->first_word;
    for (uint32_t j = 0; j < h->n_words; j++) {
        uint32_t s = w[j];
        acc[s & 0xFFu] += lut[s >> 12] * p;
    }
}

/* rows format, 32-bit words: weight index (bits 16..31) into the projection's table, target (0..15). */
static inline void aedc_rows_wide(const aedc_row_header_t *hdr, const uint32_t *words,
                                  const float *table, uint32_t r, float p, float *acc) {
    const aedc_row_header_t *h = &hdr[r];
    const uint32_t *w = words + h->first_word;
    for (uint32_t j = 0; j < h->n_words; j++) {
        uint32_t s = w[j];
        acc[s & 0xFFFFu] += table[s >> 16] * p;
    }
}

/* dense blocks: row r of a (rows × n) matrix; zero weights add ±0, which never changes a sum that
 * started at +0.0, so they need no index and no skipping. */
static inline void aedc_dense_f32(const float *m, uint32_t n, uint32_t r, float p, float *acc) {
    const float *row = m + r * n;
    for (uint32_t j = 0; j < n; j++) {
        acc[j] += row[j] * p;
    }
}

static inline void aedc_dense_fp16(const uint16_t *m, uint32_t n, uint32_t r, float p, float *acc) {
    const uint16_t *row = m + r * n;
    for (uint32_t j = 0; j < n; j++) {
        acc[j] += aedc_half(row[j]) * p;
    }
}

/* int8 with a power-of-two scale: k · scale is exact, so the weight equals the float32 one. */
static inline void aedc_dense_int8(const int8_t *m, float scale, uint32_t n, uint32_t r, float p,
                                   float *acc) {
    const int8_t *row = m + r * n;
    for (uint32_t j = 0; j < n; j++) {
        acc[j] += ((float)row[j] * scale) * p;
    }
}

/* ---- kernel format (conv2d, pool2d): an event's targets computed from the geometry ------------------
 * The PE holds the kernel entries of its slice's output channels co_lo..co_hi − 1, C order
 * (co − co_lo, ci mod c_in_g, ky, kx), and this header (84 B, aedc.partition.memory.KERNEL_HEADER_BYTES).
 * Presynaptic flat index pre = (ci, iy, ix) reaches output (co, oy, ox) of the group of ci through tap
 * (ky, kx) when iy + ph − ky·dh = oy·sh and ix + pw − kx·dw = ox·sw, inside the output. Taps are visited
 * with ky and kx descending, so targets come in ascending postsynaptic index (as a row); each target is
 * reached at most once per event, so its sum follows the event order: the reference's (pre, post)
 * order. */
typedef struct {
    uint32_t c_in_g, c_out_g;  /* input / output channels per group */
    uint32_t h, w, oh, ow;     /* input and output rows, columns */
    uint32_t kh, kw, sh, sw;   /* kernel, stride */
    uint32_t ph, pw, dh, dw;   /* padding before (top, left), dilation */
    uint32_t co_lo, co_hi;     /* output channels of the kernel slice (hi exclusive) */
    uint32_t lo, hi;           /* the slice's postsynaptic neurons (flat, hi exclusive): acc[post − lo] */
    uint32_t shared;           /* 1: every tap has weight `scale` (pooling), no entries */
    uint32_t entries;          /* kernel entries stored */
    float scale;               /* quantised entries: weight = k · scale (a power of two: exact) */
} aedc_conv_t;

#define AEDC_CONV_MAX_K 32u /* kernel rows / columns at most (aedc.partition.memory.KERNEL_MAX_K) */

/* The taps of one axis that event position `i` reaches: (kernel index, output index) pairs with
 * i + pad − k·dil = o·stride, 0 ≤ o < n_out, in ascending o (descending k); returns their count. */
static inline uint32_t aedc_conv_taps(int32_t i, uint32_t pad, uint32_t k, uint32_t dil, uint32_t stride,
                                      uint32_t n_out, uint16_t *tk, uint16_t *to) {
    uint32_t n = 0;
    if (dil == 1) { /* the common case: one division, then every stride-th tap */
        int32_t base = i + (int32_t)pad, j = (int32_t)k - 1;
        if (base < 0) return 0;
        if (j > base) j = base; /* t = base − j ≥ 0 */
        uint32_t t = (uint32_t)(base - j), rem = t % stride;
        if (rem) {
            t += stride - rem;
            j -= (int32_t)(stride - rem);
        }
        for (uint32_t o = t / stride; j >= 0 && o < n_out; j -= (int32_t)stride, o++) {
            tk[n] = (uint16_t)j;
            to[n] = (uint16_t)o;
            n++;
        }
        return n;
    }
    for (int32_t j = (int32_t)k - 1; j >= 0; j--) {
        int32_t t = i + (int32_t)pad - j * (int32_t)dil;
        if (t < 0 || (uint32_t)t % stride) continue;
        uint32_t o = (uint32_t)t / stride;
        if (o >= n_out) break; /* t grows as j falls */
        tk[n] = (uint16_t)j;
        to[n] = (uint16_t)o;
        n++;
    }
    return n;
}

/* The taps of each axis are found once per event (the only divisions); then every output channel of the
 * event's group in the slice adds weight × p to its reached targets in ascending post order — without
 * bounds checks when the whole channel lies in the slice. Zero weights add ±0, which never changes a
 * sum that started at +0.0 (as in the dense blocks). */
#define AEDC_CONV_FN(NAME, T, WEIGHT)                                                                  \
    static __attribute__((noinline, unused)) void NAME(const aedc_conv_t *g, const T *k, uint32_t pre,  \
                                                      float p, float *acc) {                           \
        uint16_t tky[AEDC_CONV_MAX_K], toy[AEDC_CONV_MAX_K], tkx[AEDC_CONV_MAX_K], tox[AEDC_CONV_MAX_K]; \
        uint32_t plane = g->h * g->w;                                                                  \
        uint32_t ci = pre / plane, r = pre - ci * plane;                                               \
        uint32_t iy = r / g->w, ix = r - iy * g->w;                                                    \
        uint32_t ny = aedc_conv_taps((int32_t)iy, g->ph, g->kh, g->dh, g->sh, g->oh, tky, toy);        \
        uint32_t nx = aedc_conv_taps((int32_t)ix, g->pw, g->kw, g->dw, g->sw, g->ow, tkx, tox);        \
        if (ny == 0 || nx == 0) return;                                                                \
        uint32_t grp = ci / g->c_in_g, cig = ci - grp * g->c_in_g;                                     \
        uint32_t co_a = grp * g->c_out_g, co_b = co_a + g->c_out_g;                                    \
        if (co_a < g->co_lo) co_a = g->co_lo;                                                          \
        if (co_b > g->co_hi) co_b = g->co_hi;                                                          \
        uint32_t ow = g->ow, ohw = g->oh * ow, lo = g->lo, hi = g->hi, kw = g->kw;                     \
        uint32_t shared = g->shared, taps = g->kh * kw;                                                \
        float scale = g->scale; /* a local: acc's float stores could alias the header's scale */      \
        for (uint32_t co = co_a; co < co_b; co++) {                                                    \
            const T *kc = shared ? k : k + ((co - g->co_lo) * g->c_in_g + cig) * taps;                 \
            uint32_t base = co * ohw;                                                                  \
            if (base >= lo && base + ohw <= hi) { /* the whole channel is in the slice */              \
                float *ac = acc + (base - lo);                                                         \
                for (uint32_t a = 0; a < ny; a++) {                                                    \
                    float *arow = ac + (uint32_t)toy[a] * ow;                                          \
                    const T *kr = shared ? kc : kc + (uint32_t)tky[a] * kw;                            \
                    for (uint32_t b = 0; b < nx; b++) arow[tox[b]] += (WEIGHT) * p;                    \
                }                                                                                      \
                continue;                                                                              \
            }                                                                                          \
            for (uint32_t a = 0; a < ny; a++) {                                                        \
                uint32_t row = base + (uint32_t)toy[a] * ow;                                           \
                const T *kr = shared ? kc : kc + (uint32_t)tky[a] * kw;                                \
                for (uint32_t b = 0; b < nx; b++) {                                                    \
                    uint32_t post = row + tox[b];                                                      \
                    if (post < lo) continue;                                                           \
                    if (post >= hi) return; /* ascending: no later target is in the slice */           \
                    acc[post - lo] += (WEIGHT) * p;                                                    \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
    }

AEDC_CONV_FN(aedc_conv_f32, float, shared ? scale : kr[tkx[b]])
AEDC_CONV_FN(aedc_conv_int16, int16_t, (float)kr[tkx[b]] * scale)
AEDC_CONV_FN(aedc_conv_int8, int8_t, (float)kr[tkx[b]] * scale)

#endif /* AEDC_PE_H */
