"""The receive side of a PE: event histories, the master population table and how a port reads its events.

Every incoming key block (a presynaptic slice, or a synapse PE's partial sums) gets one history. A
delayed port (latency ≥ 1) reads slot ``t − latency`` of a ring of ``next_pow2(latency + 1)`` tick
slots — spike counts for binary events, float32 payloads otherwise; a latency-0 port reads the tick's
received-packet queue (sorted by key), so a block read only at latency 0 needs no slots. The master
population table maps a received key to its history; ``receive()`` stores the event there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aedc.codegen.literals import c_state
from aedc.codegen.program import Program
from aedc.ir.graph import Projection
from aedc.routing.model import KeyBlock

__all__ = ["Histories", "History", "Port", "ReceiveSide", "receive_side"]


@dataclass
class Port:
    """Events of presynaptic slice ``src`` through projection ``proj`` onto the neurons of one slice."""

    proj: Projection
    src: int  # presynaptic slice index
    hist: int  # event history index on this PE
    row_lo: int  # first presynaptic row (local to the source block) with synapses
    row_hi: int
    code: str  # C statement applying row `i` with payload `p` to `acc`
    sigma_delta: bool
    latency: int


@dataclass
class History:
    """The event history of one incoming key block (grown as ports of larger latency use it)."""

    src: int
    block: KeyBlock
    n: int
    binary: bool
    depth: int = 1  # slots, a power of two; 1: no history (only latency-0 ports, read from the queue)
    rxq: bool = False  # a latency-0 port reads this block's packets from the received-packet queue


@dataclass
class Histories:
    """The histories of one PE, in order of first use."""

    prog: Program
    items: list[History] = field(default_factory=list)
    _of: dict[int, int] = field(default_factory=dict)

    def use(self, src: int, latency: int) -> int:
        """Index of the history of slice ``src``'s key block, grown to serve a port of ``latency``."""
        if src not in self._of:
            s = self.prog.slices[src]
            binary = s.role == "neuron" and not self.prog.pops[s.population].carries_payload
            self._of[src] = len(self.items)
            self.items.append(History(src, self.prog.block_of[src], s.size, binary))
        h = self.items[self._of[src]]
        if latency == 0:
            h.rxq = True
        else:
            h.depth = max(h.depth, 1 << latency.bit_length())  # next power of two ≥ latency + 1
        return self._of[src]

    def read(self, port: Port, lat: str) -> str:
        """C block applying every event of ``port`` in ascending presynaptic order; ``lat`` is the
        latency as a C expression (a back edge's depends on the schedule)."""
        h = self.items[port.hist]
        head = f"        {{ /* from {self.prog.slices[port.src].label} */\n"
        if port.latency == 0:
            base = h.block.base
            pay = "1.0f" if h.binary else "aedc_u2f(rxq[q][1])"
            return head + (
                f"        /* this tick's packets, sorted by key: ascending presynaptic index */\n"
                f"        for (uint32_t q = aedc_rxq_first(rxq, rxq_n, 0x{base + port.row_lo:08x}u);\n"
                f"             q < rxq_n && rxq[q][0] < 0x{base + port.row_hi:08x}u; q++) {{\n"
                f"            uint32_t i = rxq[q][0] - 0x{base:08x}u;\n"
                f"            float p = {pay};\n"
                f"            {port.code};\n"
                f"        }}\n        }}")
        slot = f"(t - {lat}) & H{port.hist}_MASK"
        if h.binary:
            return head + (
                f"        const uint8_t *cnt = h{port.hist}_cnt[{slot}];\n"
                f"        for (uint32_t i = {port.row_lo}u; i < {port.row_hi}u; i++) {{\n"
                f"            float p = 1.0f;\n"
                f"            for (uint32_t c = 0; c < cnt[i]; c++) {{ {port.code}; }}\n"
                f"        }}\n        }}")
        return head + (
            f"        const float *pay = h{port.hist}_pay[{slot}];\n"
            f"        for (uint32_t i = {port.row_lo}u; i < {port.row_hi}u; i++) {{\n"
            f"            float p = pay[i];\n"
            f"            if (p == 0.0f) continue;\n"
            f"            {port.code};\n"
            f"        }}\n        }}")


@dataclass(frozen=True)
class ReceiveSide:
    """C pieces of a PE's receive side, one per history."""

    arrays: tuple[tuple[str, int], ...]  # (declaration, bytes) of every history with slots
    clear: tuple[str, ...]  # begin_tick statements clearing this tick's slot
    cases: tuple[str, ...]  # receive() switch cases storing a packet
    mpt: tuple[str, ...]  # master population table entries


def receive_side(hists: Histories) -> ReceiveSide:
    """Declarations, tick-start clearing, packet stores and MPT entries of every history of a PE."""
    arrays, clear, cases, mpt = [], [], [], []
    for h_i, h in enumerate(hists.items):
        label = hists.prog.slices[h.src].label
        store = "rxq_insert(key, payload); " if h.rxq else ""
        if h.depth > 1:
            mask = h.depth - 1
            if h.binary:
                # spike counts, not a bitmap: in an asynchronous schedule a slow receiver's tick can
                # take two source ticks' spikes of one neuron, and each must add its weight
                text, size = c_state("uint8_t", f"h{h_i}_cnt", (h.depth, h.n),
                                     f"event history of {label}: spikes per neuron per tick slot")
                store += f"h{h_i}_cnt[now & {mask}u][i]++; "
                clear.append(f"    for (uint32_t j = 0; j < {h.n}u; j++) h{h_i}_cnt[t & {mask}u][j] = 0;")
            else:
                text, size = c_state("float", f"h{h_i}_pay", (h.depth, h.n),
                                     f"event history of {label}: payload per tick slot (0 = none)")
                store += f"h{h_i}_pay[now & {mask}u][i] = aedc_u2f(payload); "
                clear.append(f"    for (uint32_t j = 0; j < {h.n}u; j++) h{h_i}_pay[t & {mask}u][j] = 0.0f;")
            arrays.append((text + f"#define H{h_i}_MASK {mask}u /* {h.depth} slots */\n", size))
        cases.append(f"        case {h_i}u: {store}break; /* {label} */")
        mpt.append(f"    {{0x{h.block.base:08x}u, 0x{h.block.mask:08x}u, {h_i}u}}, /* {label} */")
    return ReceiveSide(tuple(arrays), tuple(clear), tuple(cases), tuple(mpt))
