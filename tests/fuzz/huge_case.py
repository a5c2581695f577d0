"""Run one 'declared size 10^9' case under an address-space limit and print how it ended (JSON).

Usage: ``python huge_case.py CASE WORKDIR``. Exit status 0 when the case ended in a compile or an aedc
error, 1 on any other exception (MemoryError included: the limit makes an allocation fail loudly).
"""

from __future__ import annotations

import json
import resource
import shutil
import sys
import time
import traceback
import warnings
from pathlib import Path

LIMIT = 3 * 2**30
N = 10**9


def _nir_case(case: str, work: Path) -> Path:
    import h5py
    import numpy as np

    src = Path(__file__).resolve().parents[1] / "data" / "nir_paper" / "01_lif" / "lif_norse.nir"
    path = work / f"{case}.nir"
    shutil.copyfile(src, path)
    with h5py.File(path, "a") as f:
        nodes = f["node/nodes"]

        def put(group: str, key: str, data: object) -> None:
            if key in nodes[group]:
                del nodes[group][key]
            nodes[group].create_dataset(key, data=data)

        put("input", "shape", np.array([N]))
        if case in ("nir_scalar_lif", "nir_identity_output"):
            del nodes["0"]
            edges = [["input", "1"], ["1", "output"]] if case == "nir_scalar_lif" else [["input", "output"]]
            if case == "nir_identity_output":
                del nodes["1"]
            del f["node/edges"]
            f["node"].create_dataset("edges", data=np.array(edges, dtype=object),
                                     dtype=h5py.string_dtype())
            put("output", "shape", np.array([N]))
            if case == "nir_scalar_lif":
                for k in ("r", "tau", "v_leak", "v_threshold"):
                    put("1", k, np.float32(nodes["1"][k][0]))
    return path


def _ir_case(case: str, work: Path) -> Path:
    from aedc.frontend import Network
    from aedc.ir import to_json

    net = Network("huge")
    net.input("x", 4)
    net.population("h", 4, "lif", tau=0.01)
    net.one_to_one("x", "h")
    net.output("o", "h")
    doc = json.loads(to_json(net.build()))
    pops = doc["graph"]["populations"]
    if case == "ir_input":  # an input population of 10^9 that feeds nothing but an output
        pops[0]["shape"] = [N]
        doc["graph"]["projections"] = []
        doc["graph"]["outputs"] = {"o": "x"}
    else:  # ir_array: a parameter array that claims 10^9 values with no data behind them
        pops[1]["neuron"]["tau"] = {"dtype": "<f4", "shape": [N], "data": ""}
    path = work / f"{case}.json"
    path.write_text(json.dumps(doc))
    return path


def main() -> int:
    case, work = sys.argv[1], Path(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))
    warnings.simplefilter("ignore")
    from aedc.errors import AedcError
    from aedc.frontend.load import load_model
    from aedc.passes import DEFAULT_PIPELINE, CompileState, PassContext, PassManager

    t0 = time.perf_counter()
    try:
        if case == "builder":
            from aedc.frontend import Network

            net = Network("huge")
            net.input("x", N)
            net.population("h", N, "lif", tau=0.01)
            net.identity("x", "h")
            graph = net.build()
        else:
            graph = load_model(_nir_case(case, work) if case.startswith("nir") else _ir_case(case, work))
        PassManager(DEFAULT_PIPELINE).run(CompileState(graph=graph), PassContext())
        result = {"outcome": "ok"}
    except AedcError as exc:
        result = {"outcome": type(exc).__name__, "message": str(exc), "where": exc.where}
    except BaseException as exc:
        result = {"outcome": "crash", "type": type(exc).__name__,
                  "traceback": "".join(traceback.format_exception(exc))}
    result["seconds"] = time.perf_counter() - t0
    print(json.dumps(result))
    return 1 if result["outcome"] == "crash" else 0


if __name__ == "__main__":
    sys.exit(main())
