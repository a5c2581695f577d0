"""The SpiNNaker2 machine model: one documented table of constants, PE addressing and distances.

What consumers (partition, routing, codegen, emulator) may rely on:

* :class:`Machine` is a frozen pydantic model; every number below is a field with the documented default,
  so a test or a later software release overrides it (``Machine(dynamic_region_bytes=...)``,
  :meth:`Machine.tiny`). Nothing else in aedc hard-codes a machine number.
* A PE is addressed by :class:`PEAddress` ``(chip=(x, y), qpe=(qx, qy), pe)`` with ``qx`` in
  ``1..qpe_cols``, ``qy`` in ``1..qpe_rows`` (1-based, as in the SpiNNaker2 documentation) and ``pe`` in
  ``0..pes_per_qpe-1``. :meth:`Machine.pes` lists the PEs applications may use, in a fixed canonical order
  (chip y, chip x, qpe y, qpe x, pe); that order never changes for a given machine.
* :meth:`Machine.qpe_hops` is the NoC hop count between two QPEs of one chip (Manhattan distance on the
  QPE mesh; 0 inside a QPE). :meth:`Machine.chip_hops` is the hop count between chips on the hexagonal
  torus, :meth:`Machine.link_direction` the link a packet leaves a chip by towards a neighbour.
* ``to_json``/``from_json`` give a stable, sorted JSON document.

Sources of the numbers (SpiNNaker2 documentation and py-spinnaker2's runtime, as summarised in
DESIGN.md "Partition and placement"): 152 PEs = 38 QPEs × 4 on a 7 × 6 QPE grid with holes at (4,3),
(4,4), (7,3), (7,4); PE SRAM 128 KiB = ITCM 32 KiB + DTCM 96 KiB, 4 KiB stack at 0x1F000; the runtime's
static .data/.bss must fit 26 KiB and its dynamically placed regions (16-byte aligned) 67,328 B; 16,384
router entries per chip (32-bit key and mask); NoC packets carry a destination QPE and a 4-bit PE mask;
6 chip links in a hexagonal torus; 48 chips per board; multicast payload 0/32/64/128 bits; 1 ms tick;
about 12 M synaptic events/s per PE.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import Final, Literal, Self, overload

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

QPE = tuple[int, int]
Chip = tuple[int, int]

LinkDirection = Literal["E", "NE", "N", "W", "SW", "S"]
LINKS: Final[tuple[tuple[LinkDirection, int, int], ...]] = (
    ("E", 1, 0), ("NE", 1, 1), ("N", 0, 1), ("W", -1, 0), ("SW", -1, -1), ("S", 0, -1))
"""The 6 chip links of the hexagonal topology (SpiNNaker convention): name, dx, dy."""

DEFAULT_HOLES: Final[tuple[QPE, ...]] = ((4, 3), (4, 4), (7, 3), (7, 4))
"""QPE positions of the 7 × 6 grid that hold no QPE (7 × 6 − 4 = 38 QPEs)."""

ITCM_BASE: Final[int] = 0x0000_0000
"""Address of ITCM in a PE's memory map; DTCM follows it (:attr:`Machine.dtcm_base`)."""

DEFAULT_RESERVED: Final[tuple[tuple[int, int, int], ...]] = ((1, 1, 0), (1, 1, 1), (1, 1, 2), (1, 1, 3))
"""PEs ``(qx, qy, pe)`` of every chip that applications may not use: 152 − 4 = 148 usable.

ASSUMPTION: the documentation says 148 of 152 PEs are usable by applications but not which 4 are
withheld; we reserve the whole QPE (1, 1) (host/IO services). Override ``reserved_pes`` if that is wrong.
"""


MAX_CHIPS: Final[int] = 65_536
"""Most chips a machine model may have (``chips_x · chips_y``). The largest SpiNNaker2 system planned,
SpiNNcloud's 5 M-core machine, has ~34,600 chips (5·10^6 / 148 usable PEs; spinncloud.com); a grid
beyond this is a typo, refused up front instead of exhausting memory."""


class PEAddress(BaseModel):
    """One processing element: chip ``(x, y)``, QPE ``(qx, qy)`` (1-based), PE ``0..3`` inside the QPE."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    chip: Chip = (0, 0)
    qpe: QPE
    pe: int = Field(ge=0)

    def key(self) -> tuple[int, int, int, int, int]:
        """Canonical sort key: chip y, chip x, qpe y, qpe x, pe."""
        return (self.chip[1], self.chip[0], self.qpe[1], self.qpe[0], self.pe)

    def __str__(self) -> str:
        return f"{self.chip[0]},{self.chip[1]}:{self.qpe[0]},{self.qpe[1]}:{self.pe}"

    @classmethod
    def parse(cls, text: str) -> PEAddress:
        """Inverse of ``str()``: ``"x,y:qx,qy:pe"``."""
        chip, qpe, pe = text.split(":")
        cx, cy = (int(v) for v in chip.split(","))
        qx, qy = (int(v) for v in qpe.split(","))
        return cls(chip=(cx, cy), qpe=(qx, qy), pe=int(pe))


class PESequence(Sequence[PEAddress]):
    """The usable PEs of a machine in canonical order, made on demand (index, slice, iterate).

    Placement asks for the first few PEs of a machine that may have millions; materialising them all
    (a pydantic object each) is what made a 1-neuron compile on a 100 × 100 chip grid take 24 s and 1 GB.
    """

    __slots__ = ("_chips", "_per_chip")

    def __init__(self, chips: tuple[Chip, ...], per_chip: tuple[tuple[QPE, int], ...]) -> None:
        self._chips, self._per_chip = chips, per_chip

    def __len__(self) -> int:
        return len(self._chips) * len(self._per_chip)

    def _at(self, i: int) -> PEAddress:
        chip, j = divmod(i, len(self._per_chip))
        q, pe = self._per_chip[j]
        return PEAddress(chip=self._chips[chip], qpe=q, pe=pe)

    @overload
    def __getitem__(self, i: int) -> PEAddress: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[PEAddress, ...]: ...

    def __getitem__(self, i: int | slice) -> PEAddress | tuple[PEAddress, ...]:
        n = len(self)
        if isinstance(i, slice):
            return tuple(self._at(k) for k in range(*i.indices(n)))
        k = i + n if i < 0 else i
        if not 0 <= k < n:
            raise IndexError(f"PE index {i} out of range for {n:,} PEs")
        return self._at(k)

    def __iter__(self) -> Iterator[PEAddress]:
        for chip in self._chips:
            for q, pe in self._per_chip:
                yield PEAddress(chip=chip, qpe=q, pe=pe)


class Machine(BaseModel):
    """A SpiNNaker2 machine: a grid of identical chips (each field is one documented constant)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "spinnaker2"
    # ---- chip topology ------------------------------------------------------------------------------
    qpe_cols: int = Field(7, ge=1, description="QPE grid width (qx = 1..qpe_cols)")
    qpe_rows: int = Field(6, ge=1, description="QPE grid height (qy = 1..qpe_rows)")
    qpe_holes: tuple[QPE, ...] = Field(DEFAULT_HOLES, description="grid positions without a QPE")
    pes_per_qpe: int = Field(4, ge=1, le=4, description="PEs per QPE; the NoC PE mask has 4 bits")
    reserved_pes: tuple[tuple[int, int, int], ...] = Field(
        DEFAULT_RESERVED, description="(qx, qy, pe) withheld from applications on every chip (assumed)")
    # ---- multi-chip ---------------------------------------------------------------------------------
    chips_x: int = Field(1, ge=1, le=MAX_CHIPS, description="chip grid width")
    chips_y: int = Field(1, ge=1, le=MAX_CHIPS, description="chip grid height")
    torus: bool = Field(True, description="chip links wrap around (hexagonal torus)")
    links_per_chip: int = Field(6, description="chip-to-chip links (hexagonal)")
    chips_per_board: int = Field(48, description="chips on one board")
    # ---- PE memory (bytes) --------------------------------------------------------------------------
    sram_bytes: int = Field(128 * 1024, description="SRAM per PE = ITCM + DTCM")
    itcm_bytes: int = Field(32 * 1024, description="instruction memory (code)")
    dtcm_bytes: int = Field(96 * 1024, description="data memory (static + dynamic + stack)")
    stack_bytes: int = Field(4 * 1024, description="stack, at stack_base")
    stack_base: int = Field(0x1F000, description="address of the stack")
    static_data_bytes: int = Field(26 * 1024, description="max .data/.bss of the runtime")
    dynamic_region_bytes: int = Field(67_328, ge=1, description="budget of dynamically placed regions")
    region_alignment: int = Field(16, ge=1, description="alignment of every dynamic region")
    # ---- router and NoC -----------------------------------------------------------------------------
    router_entries: int = Field(16_384, description="multicast entries (32-bit key + mask) per chip")
    key_bits: int = Field(32, description="routing key width")
    payload_bits: tuple[int, ...] = Field((0, 32, 64, 128), description="multicast payload sizes")
    # ---- timing -------------------------------------------------------------------------------------
    tick_s: float = Field(1e-3, gt=0, description="timer tick of the PE program")
    synaptic_events_per_s: float = Field(12e6, gt=0, description="synaptic events one PE processes per s")

    @model_validator(mode="after")
    def _check(self) -> Self:
        for qx, qy in self.qpe_holes:
            if not (1 <= qx <= self.qpe_cols and 1 <= qy <= self.qpe_rows):
                raise ValueError(f"QPE hole ({qx},{qy}) is outside the {self.qpe_cols}×{self.qpe_rows} grid")
        if self.itcm_bytes + self.dtcm_bytes != self.sram_bytes:
            raise ValueError("itcm_bytes + dtcm_bytes must equal sram_bytes")
        if self.chips_x * self.chips_y > MAX_CHIPS:
            raise ValueError(f"a {self.chips_x}×{self.chips_y} chip grid has {self.chips_x * self.chips_y:,} "
                             f"chips; at most {MAX_CHIPS:,} are modelled")
        return self

    # ---- constructors -------------------------------------------------------------------------------

    @classmethod
    def spinnaker2(cls, chips: Chip = (1, 1), **overrides: object) -> Machine:
        """The default SpiNNaker2 chip, or a ``chips`` grid of them (a 48-chip board is e.g. (8, 6))."""
        return cls.model_validate({"chips_x": chips[0], "chips_y": chips[1], **overrides})

    @classmethod
    def tiny(cls, qpes: QPE = (2, 2), *, pes_per_qpe: int = 4, chips: Chip = (1, 1),
             dynamic_region_bytes: int = 67_328, **overrides: object) -> Machine:
        """A small machine for tests: no holes, nothing reserved, ``qpes`` = (cols, rows) per chip."""
        return cls.model_validate({
            "name": "tiny", "qpe_cols": qpes[0], "qpe_rows": qpes[1], "qpe_holes": (),
            "pes_per_qpe": pes_per_qpe, "reserved_pes": (), "chips_x": chips[0], "chips_y": chips[1],
            "dynamic_region_bytes": dynamic_region_bytes, **overrides})

    # ---- derived quantities -------------------------------------------------------------------------

    @property
    def dtcm_base(self) -> int:
        """Address of DTCM: right after ITCM (0x8000 by default)."""
        return ITCM_BASE + self.itcm_bytes

    @property
    def stack_top(self) -> int:
        """Initial stack pointer: the stack grows down from the end of ``stack_bytes`` at ``stack_base``."""
        return self.stack_base + self.stack_bytes

    @property
    def events_per_tick(self) -> int:
        """Synaptic events one PE can process per tick (12 M/s × 1 ms = 12,000 by default)."""
        return int(self.synaptic_events_per_s * self.tick_s)

    @cached_property
    def qpes(self) -> tuple[QPE, ...]:
        """QPE positions of one chip, in order (qy, qx)."""
        holes = set(self.qpe_holes)
        return tuple((qx, qy) for qy in range(1, self.qpe_rows + 1) for qx in range(1, self.qpe_cols + 1)
                     if (qx, qy) not in holes)

    @cached_property
    def chips(self) -> tuple[Chip, ...]:
        """Chip coordinates, in order (y, x)."""
        return tuple((x, y) for y in range(self.chips_y) for x in range(self.chips_x))

    @cached_property
    def chip_pes(self) -> tuple[tuple[QPE, int], ...]:
        """Usable ``(qpe, pe)`` of one chip, in canonical order."""
        reserved = set(self.reserved_pes)
        return tuple((q, pe) for q in self.qpes for pe in range(self.pes_per_qpe)
                     if (q[0], q[1], pe) not in reserved)

    def pes(self) -> PESequence:
        """Every PE applications may use, in canonical order (chip y, chip x, qpe y, qpe x, pe) — a lazy
        sequence: an address is made when it is asked for, so a large machine costs only the PEs a
        network uses."""
        return PESequence(self.chips, self.chip_pes)

    def chip_pe_addresses(self, chip: Chip) -> tuple[PEAddress, ...]:
        """The usable PEs of one chip, in canonical order."""
        return tuple(PEAddress(chip=chip, qpe=q, pe=pe) for q, pe in self.chip_pes)

    @property
    def pes_per_chip(self) -> int:
        """Usable PEs on one chip (148 by default)."""
        return len(self.chip_pes)

    @property
    def total_pes(self) -> int:
        return self.pes_per_chip * len(self.chips)

    def qpe_hops(self, a: QPE, b: QPE) -> int:
        """NoC hops between two QPEs of one chip: Manhattan distance on the QPE mesh (0 = same QPE)."""
        return abs(a[0] - b[0]) + abs(a[1] - b[1])

    def _delta(self, d: int, n: int) -> tuple[int, ...]:
        return (d, d - n, d + n) if self.torus and n > 1 else (d,)

    def chip_hops(self, a: Chip, b: Chip) -> int:
        """Hops between chips on the hexagonal (torus) mesh: links E, NE, N, W, SW, S.

        On a hexagonal grid a step may change x and y together (NE/SW), so the distance of a move
        ``(dx, dy)`` is ``max(|dx|, |dy|)`` when both have the same sign, else ``|dx| + |dy|``; on a torus
        the shortest of the wrapped alternatives.
        """
        best = None
        for dx in self._delta(b[0] - a[0], self.chips_x):
            for dy in self._delta(b[1] - a[1], self.chips_y):
                d = max(abs(dx), abs(dy)) if dx * dy > 0 else abs(dx) + abs(dy)
                best = d if best is None else min(best, d)
        assert best is not None
        return best

    def link_direction(self, a: Chip, b: Chip) -> LinkDirection:
        """The link from chip ``a`` to its neighbour ``b`` (``ValueError`` if they are not neighbours)."""
        for name, dx, dy in LINKS:
            nx, ny = a[0] + dx, a[1] + dy
            if self.torus:
                nx, ny = nx % self.chips_x, ny % self.chips_y
            if (nx, ny) == tuple(b) and tuple(a) != tuple(b):
                return name
        raise ValueError(f"chips {a} and {b} are not neighbours")

    def pe_hops(self, a: PEAddress, b: PEAddress) -> tuple[int, int]:
        """``(chip hops, QPE hops)`` between two PEs (QPE hops only count inside one chip)."""
        if a.chip == b.chip:
            return 0, self.qpe_hops(a.qpe, b.qpe)
        return self.chip_hops(a.chip, b.chip), 0

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Machine:
        return cls.model_validate_json(text)


SPINNAKER2: Final[Machine] = Machine()
"""One SpiNNaker2 chip with the default constants."""


class PECost(BaseModel):
    """What a PE's work costs in time: the cost model of the event-driven schedule's µs accounting
    (:mod:`aedc.timing.event_time`) and, later, the slicer's second budget beside bytes.

    The defaults are documented estimates, not measurements: the clock is SpiNNaker2's 150 MHz nominal
    PE clock (DESIGN.md), the per-synapse cost follows :attr:`Machine.synaptic_events_per_s` (12 M/s at
    150 MHz ≈ 12.5 cycles per synaptic word), and the per-packet, per-spike and per-neuron costs are
    order-of-magnitude figures for an interrupt-driven PE program (packet interrupt, master population
    table lookup and row fetch; one multicast send; one neuron's leak and threshold test). The QEMU
    replay runtime's instruction counts (issue 15) are what should replace them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    clock_mhz: float = Field(150.0, gt=0, description="PE clock (MHz): cycles per µs")
    cycles_per_packet: float = Field(150.0, ge=0, description="receive one packet: interrupt, MPT lookup, "
                                                              "row fetch")
    cycles_per_synapse: float = Field(12.5, ge=0, description="apply one synaptic word to the accumulator "
                                                              "and test its neuron")
    cycles_per_spike: float = Field(40.0, ge=0, description="send one spike (multicast packet)")
    cycles_per_neuron: float = Field(60.0, ge=0, description="one neuron's per-step work on the timer "
                                                             "(leak, commit, reset)")

    def us(self, cycles: float | np.ndarray) -> np.ndarray:
        """``cycles`` at :attr:`clock_mhz` in µs (float64)."""
        return np.asarray(cycles, np.float64) / self.clock_mhz


PE_COST: Final[PECost] = PECost()
"""The default PE cost model."""
