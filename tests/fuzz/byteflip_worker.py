"""Worker for ``test_fuzz_bytes.py``: flip random bytes of NIR example files and compile them.

Usage: ``python byteflip_worker.py SEED FIRST COUNT LOG``. Case ``i`` flips 1-4 bytes (drawn from
``numpy.random.default_rng((SEED, i))``) of one shared example and runs the frontend and the pipeline.
Before a case starts, ``i start`` is appended to LOG; after it, ``i <outcome>`` where outcome is ``ok``,
an aedc error class, or ``EXC:<type>:<message>`` for any other exception. A segfault in libhdf5 ends
the process after ``i start``; the parent counts it and restarts at ``i + 1``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "data" / "nir_paper"
FILES = (("01_lif/lif_norse.nir", "nir-euler"), ("01_lif/lif_rockpool.nir", "nir-euler"),
         ("01_lif/two_lif_neurons.nir", "nir-euler"), ("02_cnn/cnn_sinabs.nir", "sinabs"))
PIPELINE = "verify,fold-scale,fuse-affine,dce,slice,place{solver=greedy},route,compress-tables"
CNN_PIPELINE = "verify,fold-scale,fuse-affine,dce"  # byte flips test the reader; CNN placing is slow


def main() -> int:
    seed, first, count, log = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    warnings.simplefilter("ignore")
    from aedc.errors import AedcError
    from aedc.frontend.load import load_model
    from aedc.passes import CompileState, PassContext, PassManager

    blobs = [(EXAMPLES / f).read_bytes() for f, _ in FILES]
    with tempfile.TemporaryDirectory() as tmp, log.open("a") as out:
        for i in range(first, first + count):
            rng = np.random.default_rng((seed, i))
            k = int(rng.integers(len(FILES)))
            data = bytearray(blobs[k])
            for _ in range(int(rng.integers(1, 5))):
                data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
            path = Path(tmp) / "m.nir"
            path.write_bytes(bytes(data))
            out.write(f"{i} start\n")
            out.flush()
            os.fsync(out.fileno())
            try:
                graph = load_model(path, profile=FILES[k][1])
                pipeline = CNN_PIPELINE if k == 3 else PIPELINE
                PassManager(pipeline).run(CompileState(graph=graph), PassContext())
                result = "ok"
            except AedcError as exc:
                result = type(exc).__name__ if str(exc) else f"EXC:{type(exc).__name__}:empty message"
            except Exception as exc:
                result = f"EXC:{type(exc).__name__}:{str(exc)[:200]!r}"
            out.write(f"{i} {result}\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
