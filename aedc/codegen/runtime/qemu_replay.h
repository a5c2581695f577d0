/* qemu_replay.h — what the QEMU replay runtimes share: qemu_runtime.c (tick schedules) and
 * qemu_event_runtime.c (the event-driven schedule). Written by aedc (aedc/codegen/runtime/qemu_replay.h;
 * driven by aedc/codegen/qemu.py); included by exactly one of them per image.
 *
 * The image is placed exactly as on the PE: the same kernel.c, compiler flags and link.ld as the chip
 * build (code in ITCM 32 KiB at 0x0, data in DTCM 96 KiB at 0x8000, stack at 0x1F000), inside the first
 * 4 MiB SSRAM of QEMU's mps2-an386 board; only the runtime's buffers live outside the PE's 128 KiB (board
 * RAM at 0x20000000 and 0x21000000, never in a linker section), so they cost the PE no byte.
 *
 * Run: qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none -semihosting
 *      -icount shift=10 -kernel pe.elf        (working directory holding replay.in)
 *
 * Input (semihosting file replay.in, little-endian uint32 words): 'AEQR' version async_mode n_dump, then
 *   n_dump × {slice, address, words, rows}: the state arrays dumped after a slice's tick (slice
 *   0xFFFFFFFF: dumped once at the end); rows > 0 marks the slice's recording ring (rows × words), of
 *   which row t % rows is dumped after the tick of step t. Addresses come from the ELF's symbol table
 *   (the host reads it). Then the runtime's own part (its header), ending in {0}. A dump table or record
 *   that runs past the file's end stops the run (exit 2, a message), before anything reads past it.
 * Output (replay.out): 'AEQO' 1 calib, then {5 key payload has_payload target} per aedc_send,
 *   {7 op counts} after every call, {6 k n words[n]} (state) and {9 k n words[n]} (recording row)
 *   after every slice tick, the runtime's own records, {8 n words[n]} at the end, {0}.
 *
 * Instruction counting: QEMU's -icount makes every instruction last exactly 2^shift ns of virtual time;
 * the CMSDK APB timer 0 (0x40000000) counts the 25 MHz board clock down, so with shift = 10 one
 * instruction is 25.6 counts and the host recovers the exact count by rounding (shift = 0 would give a
 * 40-instruction resolution). Each call is timed by two timer reads; `calib` is the count of an empty
 * pair, subtracted by the host, so a call counts the kernel's instructions plus the runtime's call
 * instruction (tests/test_qemu_replay.py checks this against QEMU's single-step trace). The body of
 * aedc_send (this runtime's bookkeeping) is excluded between its own two timer reads; the kernel's call
 * and about ten instructions around those reads are counted, about what the chip runtime's send (three
 * NoC register writes and a counter) costs. QEMU does not model timing: cycles are estimated on the host.
 */
#ifndef AEDC_QEMU_REPLAY_H
#define AEDC_QEMU_REPLAY_H

#include "aedc_pe.h"

extern uint32_t __stack_top;

/* the replay sets the schedule the recording ran under (aedc_pe.h) */
uint32_t aedc_async_mode;

#define REG(addr) (*(volatile uint32_t *)(addr))
#define CPACR REG(0xE000ED88u)
#define TIMER_CTRL REG(0x40000000u)
#define TIMER_VALUE REG(0x40000004u)
#define TIMER_RELOAD REG(0x40000008u)

#define OUT_BUF ((uint32_t *)0x20000000u) /* board SSRAM2/3: output, flushed when full */
#define OUT_WORDS (1u << 18)               /* 1 MiB */
#define IN_BUF ((uint32_t *)0x21000000u)  /* board PSRAM, 16 MiB: the whole replay input */
#define IN_BYTES (16u << 20)

#define SYS_OPEN 0x01u
#define SYS_CLOSE 0x02u
#define SYS_WRITE0 0x04u
#define SYS_WRITE 0x05u
#define SYS_READ 0x06u
#define SYS_FLEN 0x0Cu
#define SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

static uint32_t out_n, out_fd, excluded;

static uint32_t semihost(uint32_t op, const void *arg) {
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static void leave(uint32_t code, const char *why) {
    if (why) semihost(SYS_WRITE0, why);
    uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, code};
    semihost(SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}

static void flush(void) {
    uint32_t block[3] = {out_fd, (uint32_t)OUT_BUF, out_n * 4u};
    if (out_n && semihost(SYS_WRITE, block) != 0u) leave(3u, "replay: cannot write replay.out\n");
    out_n = 0;
}

static void put(uint32_t w) {
    if (out_n == OUT_WORDS) flush();
    OUT_BUF[out_n++] = w;
}

/* the runtime's send: record the packet; its own instructions are excluded from the call's count */
void aedc_send(uint32_t key, uint32_t payload, uint32_t has_payload, uint32_t target) {
    uint32_t t0 = TIMER_VALUE;
    put(5u);
    put(key);
    put(payload);
    put(has_payload);
    put(target);
    excluded += t0 - TIMER_VALUE;
}

static uint32_t open_file(const char *name, uint32_t mode, uint32_t len) {
    uint32_t block[3] = {(uint32_t)name, mode, len};
    uint32_t fd = semihost(SYS_OPEN, block);
    if (fd == 0xFFFFFFFFu) leave(2u, "replay: cannot open replay.in / replay.out\n");
    return fd;
}

/* the plain arrays of `slice` as one record {tag [slice] words data}; with `t` set, its recording row */
static void dump(const uint32_t *in, uint32_t n_dump, uint32_t slice, uint32_t tag, uint32_t t) {
    uint32_t words = 0;
    for (uint32_t d = 0; d < n_dump; d++)
        if (in[4 * d] == slice && (in[4 * d + 3] != 0u) == (tag == 9u)) words += in[4 * d + 2];
    if (tag == 9u && words == 0u) return;
    put(tag);
    if (tag != 8u) put(slice);
    put(words);
    for (uint32_t d = 0; d < n_dump; d++) {
        const uint32_t *e = in + 4 * d;
        if (e[0] != slice || (e[3] != 0u) != (tag == 9u)) continue;
        const uint32_t *a = (const uint32_t *)e[1] + (e[3] ? (t % e[3]) * e[2] : 0u);
        for (uint32_t j = 0; j < e[2]; j++) put(a[j]);
    }
}

/* the `words` words at `p` lie inside the input: a truncated replay.in ends the run, not read past */
static void need(const uint32_t *p, uint32_t words, const uint32_t *end) {
    if (p > end || words > (uint32_t)(end - p)) leave(2u, "replay: replay.in is truncated inside a record\n");
}

/* timed call: the counts between two timer reads, less what aedc_send spent */
#define TIMED(op, call)                   \
    do {                                  \
        excluded = 0;                     \
        uint32_t t0_ = TIMER_VALUE;       \
        call;                             \
        uint32_t t1_ = TIMER_VALUE;       \
        put(7u);                          \
        put(op);                          \
        put(t0_ - t1_ - excluded);        \
    } while (0)

/* Start the timer, read replay.in (format `version`), open replay.out and write its header; returns
 * the input, whose words end before *end. */
static const uint32_t *replay_open(uint32_t version, const uint32_t **end) {
    TIMER_RELOAD = 0xFFFFFFFFu;
    TIMER_VALUE = 0xFFFFFFFFu;
    TIMER_CTRL = 1u; /* enable, board clock, no interrupt */
    uint32_t fd = open_file("replay.in", 1u, 9u);
    uint32_t flen_block[1] = {fd};
    uint32_t len = semihost(SYS_FLEN, flen_block);
    if (len > IN_BYTES || len < 16u) leave(2u, "replay: replay.in is empty or over 16 MiB\n");
    uint32_t rd[3] = {fd, (uint32_t)IN_BUF, len};
    if (semihost(SYS_READ, rd) != 0u) leave(2u, "replay: short read of replay.in\n");
    uint32_t cl[1] = {fd};
    semihost(SYS_CLOSE, cl);
    out_fd = open_file("replay.out", 5u, 10u);
    const uint32_t *in = IN_BUF;
    if (in[0] != 0x52514541u || in[1] != version)
        leave(2u, "replay: replay.in is not an AEQR file of this runtime's version\n");
    aedc_async_mode = in[2];
    *end = in + len / 4u;
    if (in[3] > (uint32_t)(*end - in - 4) / 4u) /* n_dump entries of 4 words */
        leave(2u, "replay: replay.in is truncated inside its dump table\n");
    uint32_t c0 = TIMER_VALUE;
    uint32_t c1 = TIMER_VALUE;
    put(0x4F514541u);
    put(1u);
    put(c0 - c1);
    return in;
}

/* the end dump (slice 0xFFFFFFFF: the kernel's counters), the end mark, and the exit */
static void replay_close(const uint32_t *dumps, uint32_t n_dump) {
    dump(dumps, n_dump, 0xFFFFFFFFu, 8u, 0u);
    put(0u);
    flush();
    uint32_t cl[1] = {out_fd};
    semihost(SYS_CLOSE, cl);
    leave(0u, 0);
}

static void replay(void); /* the runtime's loop over its calls */

/* reset: enable the FPU (CP10, CP11 full access) before any float instruction, then replay */
void aedc_reset(void) {
    CPACR |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    replay();
}

static void aedc_fault(void) {
    leave(4u, "replay: fault (hard fault or NMI) in the PE program\n");
}

/* vector table: initial stack pointer (the chip's, from link.ld), reset, NMI, hard fault */
__attribute__((section(".vectors"), used)) static const void *const vectors[4] = {
    &__stack_top, (const void *)aedc_reset, (const void *)aedc_fault, (const void *)aedc_fault};

#endif /* AEDC_QEMU_REPLAY_H */
