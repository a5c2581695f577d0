/* aedc_event.h — the event-driven (AED) schedule's interface between a generated PE kernel and the
 * event runtimes: event_runtime.c (host, every PE, global micro-steps) and event_chip_runtime.c (one
 * SpiNNaker2 PE). Written by aedc (aedc/codegen/runtime/aedc_event.h); only builds emitted with event
 * code (aedc.codegen.event_emit) carry it, so sync/async build trees are unchanged.
 *
 * The contract is aedc.timing.event. The packet path does the neuron work: a micro-step's packets go
 * into the kernel's key-sorted receive queue (rx), integrate() adds their synaptic rows to the slice's
 * step accumulator at once (projections in graph order, then presynaptic index: the float32 order of
 * the contract), evaluate() tests the unfired neurons on the candidate state (the model's update on the
 * step-start state with acc + bias, nothing committed), and the runtime fires up to k candidates per PE
 * in policy order (aedc_ev_select, below) — fire() sends the spike at once. The timer only marks steps:
 * begin() zeroes acc and the fired flags at the step's start (input frames and latency >= 1 events are
 * integrated in the first micro-step), end() commits the model's tick with the whole acc and z = fired.
 * Evaluating every unfired neuron instead of only the touched ones is the same predicate: an untouched
 * neuron's acc, and so its candidate state, did not change since it was last evaluated.
 */
#ifndef AEDC_EVENT_H
#define AEDC_EVENT_H

#include "aedc_pe.h"

#define AEDC_EV_ARRIVAL 0u
#define AEDC_EV_MOMENTUM 1u
#define AEDC_EV_RANDOM 2u

#define AEDC_EV_INPUT 0u   /* streams its frame at the step's start (slice_tick), not limited by k */
#define AEDC_EV_SPIKING 1u /* candidates, fires once per step */
#define AEDC_EV_GRADED 2u  /* integrates, runs its tick at the step's end (a sink) */

/* host-only bookkeeping of each spike's micro-step (for the traces); nothing on the PE */
#ifdef AEDC_HOST
#define AEDC_EV_FIREM(stmt) (stmt)
#else
#define AEDC_EV_FIREM(stmt) ((void)0)
#endif

/* One slice of a PE as the event runtime sees it. */
typedef struct {
    uint32_t n;        /* neurons */
    uint32_t kind;     /* AEDC_EV_INPUT, AEDC_EV_SPIKING or AEDC_EV_GRADED */
    uint32_t gid_base; /* global id of neuron 0: population offset (graph order, inputs included) + lo */
    uint32_t rank;     /* position of the slice in the PE's neuron order (population graph order, lo) */
} aedc_ev_slice_t;

/* A waiting candidate (16 B). */
typedef struct {
    uint16_t slice, i; /* slice of the PE, neuron in the slice */
    int16_t since;     /* micro-step it became a candidate (the arrival order) */
    uint16_t rank;     /* the slice's rank (aedc_ev_slice_t.rank) */
    float margin;      /* float32(v - theta) of its latest candidate state (momentum) */
    uint32_t prio;     /* aedc_ev_priority of the micro-step (random) */
} aedc_ev_cand_t;

/* What an event-mode PE program exports (besides the tick interface `pe`). */
typedef struct {
    aedc_pe_t pe; /* begin_tick (step t: sets the history slot, clears it), set_input, slice_tick
                   * (input slices send their frame), trace (host) */
    const aedc_ev_slice_t *slices;
    aedc_ev_cand_t *cand;      /* room for one candidate per neuron of the PE */
    uint32_t n_neurons;        /* size of cand */
    /* a packet reaching the PE: stored in the event history of latency >= 1 ports; returns 1 when a
     * latency-0 port reads its key (then the runtime queues it for the next micro-step) */
    uint32_t (*store)(uint32_t key, uint32_t payload);
    void (*rx_clear)(void);                        /* empty the micro-step's receive queue */
    void (*rx)(uint32_t key, uint32_t payload);    /* one packet into it (kept sorted by key) */
    void (*begin)(uint32_t k);                     /* step start of slice k */
    void (*integrate)(uint32_t k, uint32_t t, uint32_t first); /* first: the slice's first micro-step */
    void (*evaluate)(uint32_t k, uint32_t m);      /* candidate test in micro-step m */
    uint32_t (*candidates)(uint32_t k, aedc_ev_cand_t *out); /* the waiting candidates of slice k */
    void (*fire)(uint32_t k, uint32_t i, uint32_t m); /* spike of neuron i, sent at once */
    void (*end)(uint32_t k, uint32_t t);           /* step end: the model's tick, z = fired */
    const int16_t *(*fired_at)(uint32_t k);        /* host only: micro-step of each spike, -1 none */
} aedc_ev_pe_t;

/* The random policy's priority (aedc.timing.event.event_priority): aedc_hash4 of aedc_pe.h. */
static inline uint32_t aedc_ev_priority(uint32_t seed, uint32_t step, uint32_t m, uint32_t gid) {
    return aedc_hash4(seed, step, m, gid);
}

/* Whether candidate a fires before b: the policy's key, then arrival (micro-step it became a
 * candidate), then the PE's neuron order (slice rank, index). */
static inline int aedc_ev_before(const aedc_ev_cand_t *a, const aedc_ev_cand_t *b, uint32_t policy) {
    if (policy == AEDC_EV_MOMENTUM && a->margin != b->margin) return a->margin > b->margin;
    if (policy == AEDC_EV_RANDOM && a->prio != b->prio) return a->prio < b->prio;
    if (a->since != b->since) return a->since < b->since;
    if (a->rank != b->rank) return a->rank < b->rank;
    return a->i < b->i;
}

/* Fire up to k (0: all) of one PE's n candidates c in policy order, in micro-step m of step t; returns
 * how many fired. All of them fire in any order when k does not bind (their packets are sorted by key
 * before anyone integrates them); otherwise k rounds pick the first remaining one. */
static inline uint32_t aedc_ev_select(const aedc_ev_pe_t *pe, aedc_ev_cand_t *c, uint32_t n, uint32_t k,
                                      uint32_t policy, uint32_t seed, uint32_t t, uint32_t m) {
    uint32_t fire = (k == 0u || k > n) ? n : k;
    if (fire < n && policy == AEDC_EV_RANDOM)
        for (uint32_t j = 0; j < n; j++)
            c[j].prio = aedc_ev_priority(seed, t, m, pe->slices[c[j].slice].gid_base + c[j].i);
    for (uint32_t r = 0; r < fire; r++) {
        if (fire < n) {
            uint32_t best = r;
            for (uint32_t j = r + 1; j < n; j++)
                if (aedc_ev_before(&c[j], &c[best], policy)) best = j;
            aedc_ev_cand_t tmp = c[r];
            c[r] = c[best];
            c[best] = tmp;
        }
        pe->fire(c[r].slice, c[r].i, m);
    }
    return fire;
}

#endif /* AEDC_EVENT_H */
