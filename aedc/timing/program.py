"""The placed program the emulator executes: a graph plus which PE runs which neuron.

The emulator needs exactly one thing from a placement: for every population, the PE of each neuron
(flat C order), and for every PE its :class:`~aedc.machine.PEAddress` (to count NoC hops and destination
QPEs). :meth:`PlacedProgram.trivial` puts each population on its own PE (population *i* in graph order
on the *i*-th usable PE of one SpiNNaker2 chip, so PEs fill QPEs four at a time);
:meth:`PlacedProgram.from_placement` reads the neuron slices of a :class:`~aedc.partition.model.Placement`.

Synapse PEs of fan-in splitting (``role == "synapse"`` slices) are not modelled as separate processes:
the emulator sums every synapse on the PE of the post neuron, so the partial-sum hop (one extra tick in
async mode on the chip) is not reproduced; see the package docstring.

Synapse formats are a codegen and memory-model matter: whether a projection is stored as rows, dense
blocks or kernels (conv2d / pool2d, targets computed from the geometry; issue 18), the emulator applies
its expanded synapse list in the same (pre, post) order, which is the summation order every format's C
reproduces, so the slices, their PEs and their memory come from the chosen format while the emulator's
arithmetic is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from aedc.errors import TimingError
from aedc.ir.graph import Graph
from aedc.machine import Machine, PEAddress

if TYPE_CHECKING:
    from aedc.partition.model import Placement


@dataclass(frozen=True, eq=False)
class PlacedProgram:
    """``graph`` with ``pe_of[population][i]`` = index into ``pes`` of the PE running neuron ``i``."""

    graph: Graph
    pe_of: Mapping[str, np.ndarray]
    pes: tuple[PEAddress, ...]
    machine: Machine

    def __post_init__(self) -> None:
        for pop in self.graph.populations:
            ids = self.pe_of.get(pop.name)
            if ids is None or ids.shape != (pop.size,):
                raise TimingError(f"placement gives no PE for every neuron of population '{pop.name}' "
                                    f"({pop.size} neurons)", where=pop.name)
            if ids.size and (ids.min() < 0 or ids.max() >= len(self.pes)):
                raise TimingError(f"population '{pop.name}' is placed on a PE index outside "
                                    f"0..{len(self.pes) - 1}", where=pop.name)

    @property
    def n_pes(self) -> int:
        return len(self.pes)

    def pe_words(self) -> np.ndarray:
        """Every PE's 32-bit address word ``chip_x·2^24 + chip_y·2^16 + qpe_x·2^12 + qpe_y·2^8 + pe``
        (int64 ``(n_pes,)``; how the C runtimes pack a PE address): the counter of its clock jitter
        (:mod:`aedc.timing.schedule`)."""
        return np.array([(p.chip[0] << 24) | (p.chip[1] << 16) | (p.qpe[0] << 12) | (p.qpe[1] << 8) | p.pe
                         for p in self.pes], np.int64)

    def hops(self) -> tuple[np.ndarray, np.ndarray]:
        """``(chip_hops, qpe_hops)`` between every pair of PEs, each ``(n_pes, n_pes)``
        (:meth:`Machine.pe_hops`: QPE hops count only inside one chip)."""
        chips = sorted({p.chip for p in self.pes})
        cid = np.array([chips.index(p.chip) for p in self.pes], np.int64)
        chip_table = np.array([[self.machine.chip_hops(a, b) for b in chips] for a in chips], np.int64)
        q = np.array([p.qpe for p in self.pes], np.int64).reshape(-1, 2)
        same = cid[:, None] == cid[None, :]
        manhattan = np.abs(q[:, None, :] - q[None, :, :]).sum(axis=-1)
        return chip_table[cid[:, None], cid[None, :]], np.where(same, manhattan, 0)

    def qpe_index(self) -> np.ndarray:
        """A dense id per distinct (chip, QPE) of every PE (NoC packets go to one QPE each)."""
        keys = [(p.chip, p.qpe) for p in self.pes]
        uniq = {k: i for i, k in enumerate(sorted(set(keys)))}
        return np.array([uniq[k] for k in keys], np.int64)

    @classmethod
    def trivial(cls, graph: Graph, machine: Machine | None = None) -> PlacedProgram:
        """One PE per population: population *i* (graph order, inputs included) on usable PE *i*."""
        machine = machine or Machine.spinnaker2()
        usable = machine.pes()
        if len(graph.populations) > len(usable):
            raise TimingError(f"trivial placement needs {len(graph.populations)} PEs, machine "
                                f"'{machine.name}' has {len(usable)}; use a real placement")
        pe_of = {p.name: np.full(p.size, i, np.int64) for i, p in enumerate(graph.populations)}
        return cls(graph, pe_of, tuple(usable[: len(graph.populations)]), machine)

    @classmethod
    def from_placement(cls, graph: Graph, placement: Placement) -> PlacedProgram:
        """Neuron slices of ``placement`` → PEs; input populations without a slice get their own PE."""
        used: dict[tuple[int, int, int, int, int], int] = {}
        pes: list[PEAddress] = []

        def pe_id(addr: PEAddress) -> int:
            if addr.key() not in used:
                used[addr.key()] = len(pes)
                pes.append(addr)
            return used[addr.key()]

        pe_of = {p.name: np.full(p.size, -1, np.int64) for p in graph.populations}
        for i, sl in enumerate(placement.slicing.slices):
            if sl.role != "neuron" or sl.population not in pe_of:
                continue
            pe_of[sl.population][sl.lo:sl.hi] = pe_id(placement.assignment[i])
        spare = iter(a for a in placement.machine.pes() if a.key() not in used)
        for pop in graph.populations:
            ids = pe_of[pop.name]
            if np.any(ids < 0):
                if not pop.is_input:
                    raise TimingError(f"placement leaves neurons of population '{pop.name}' without "
                                        f"a PE", where=pop.name)
                try:
                    ids[:] = pe_id(next(spare))
                except StopIteration:
                    raise TimingError(f"no free PE left for input population '{pop.name}'",
                                        where=pop.name) from None
        return cls(graph, pe_of, tuple(pes), placement.machine)
