"""One of two processes of a ``jax.distributed`` run on localhost (``tests/test_emulator_sharded.py``).

``python tests/sharded_multiprocess.py COORDINATOR PROCESS_ID OUT.json``: joins the run
(:func:`aedc.emulator.sharded.init_processes`, CPU collectives over gloo), shards the compiled MLP of
``sharded_check.py`` over the global mesh of both processes' devices (one each) and runs it under the
jittered async schedule; also runs it on its own device alone. Process 0 writes the
(population, field) pairs that differ and the sharding metrics.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from aedc.emulator.sharded import init_processes


def main(coordinator: str, process_id: int, out: str) -> None:
    init_processes(coordinator, 2, process_id)
    import jax
    import numpy as np
    from sharded_check import JITTER, compiled_mlp, differences

    from aedc.emulator import Emulator

    program, x = compiled_mlp()
    rows = []
    for name, sched in (("mlp_async_jitter", JITTER),):
        one = Emulator(program, sched).run(x)  # this process's own device
        many = Emulator(program, sched, devices=2).run(x)
        rows.append({"case": name, "differences": differences(one, many),
                     "events": {n: int(np.count_nonzero(e)) for n, e in one.events.items()},
                     "processes": jax.process_count(), "devices": len(jax.devices()),
                     "local_devices": len(jax.local_devices()),
                     **{k: many.metrics[k] for k in ("shards", "exchanges", "exchange_floats")}})
    if process_id == 0:
        Path(out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
