"""Malformed NIR files: each defect raises its named aedc error, naming the file/node/field.

The broken files are written with h5py in the layout ``nir.write`` uses (root ``version``, group ``node``
with ``type``, ``nodes/<name>/...`` and ``edges``). Profile: nir-euler (dt = 1e-4).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from nirfiles import base_tree, edit_tree, write_tree
from typer.testing import CliRunner

from aedc.cli import app
from aedc.errors import FrontendError, NIRFormatError, UnsupportedNodeError, VerifyError
from aedc.frontend import RawGraph, RawNode, from_nir, h5_isolate, nir_reader, read_nir
from aedc.ir.serialize import to_json


def test_valid_base_file_loads_without_warning(tmp_path: Path) -> None:
    path = write_tree(tmp_path / "ok.nir", base_tree())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = from_nir(path)
    assert [p.name for p in g.populations] == ["in", "fc", "lif"]
    assert g.meta["nir_version"] == "1.0.8"


def test_truncated_hdf5_names_the_file(tmp_path: Path) -> None:
    good = write_tree(tmp_path / "good.nir", base_tree()).read_bytes()
    path = tmp_path / "truncated.nir"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(NIRFormatError, match=r"truncated\.nir: cannot read as a NIR \(HDF5\) file: .*"
                                             r"truncated file") as info:
        from_nir(path)
    assert info.value.where == str(path)
    assert str(info.value).startswith(str(path))  # aedc's own sentence, not h5py's message passed on


def test_not_an_hdf5_file(tmp_path: Path) -> None:
    path = tmp_path / "model.nir"
    path.write_text("this is not HDF5\n")
    with pytest.raises(NIRFormatError, match=r"model\.nir: cannot read as a NIR \(HDF5\) file"):
        read_nir(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NIRFormatError, match=r"absent\.nir"):
        read_nir(tmp_path / "absent.nir")


def test_missing_node_group(tmp_path: Path) -> None:
    path = write_tree(tmp_path / "empty.nir", None)
    with pytest.raises(NIRFormatError, match=r"empty\.nir: no 'node' group"):
        read_nir(path)


def test_edge_to_missing_node(tmp_path: Path) -> None:
    tree = edit_tree(edges=[("in", "fc"), ("fc", "lif"), ("lif", "outt")])
    with pytest.raises(NIRFormatError, match="edge 'lif' -> 'outt' refers to missing node 'outt'") as info:
        read_nir(write_tree(tmp_path / "e.nir", tree))
    assert info.value.where == "outt"


def test_edges_of_wrong_shape(tmp_path: Path) -> None:
    path = write_tree(tmp_path / "e.nir", edit_tree(edges=None))
    with h5py.File(path, "a") as f:
        f["node"].create_dataset("edges", data=np.array([["in", "fc", "lif"]], dtype=object),
                                 dtype=h5py.string_dtype())
    with pytest.raises(NIRFormatError, match=r"e\.nir: graph: 'edges' must have shape \(N, 2\)"):
        read_nir(path)


def test_unknown_node_type(tmp_path: Path) -> None:
    tree = edit_tree(nodes__lif__type="Conv3d")
    with pytest.raises(UnsupportedNodeError, match="node 'lif' has type 'Conv3d'") as info:
        read_nir(write_tree(tmp_path / "t.nir", tree))
    assert info.value.where == "lif"


def test_unknown_field(tmp_path: Path) -> None:
    tree = edit_tree(nodes__lif__gain=np.ones(2, np.float32))
    with pytest.raises(NIRFormatError, match=r"node 'lif' \(LIF\) has unknown field 'gain'"):
        read_nir(write_tree(tmp_path / "f.nir", tree))


def test_missing_required_field(tmp_path: Path) -> None:
    tree = edit_tree(nodes__lif__tau=None)
    with pytest.raises(NIRFormatError, match=r"node 'lif' \(LIF\): required field 'tau' is missing"):
        read_nir(write_tree(tmp_path / "m.nir", tree))


def test_node_without_type(tmp_path: Path) -> None:
    tree = edit_tree(nodes__fc__type=None)
    with pytest.raises(NIRFormatError, match="node 'fc' has no 'type' field"):
        read_nir(write_tree(tmp_path / "t.nir", tree))


def test_field_of_wrong_dtype(tmp_path: Path) -> None:
    tree = edit_tree(nodes__fc__weight="heavy")
    with pytest.raises(NIRFormatError, match=r"node 'fc' \(Affine\): field 'weight' must be numeric"):
        read_nir(write_tree(tmp_path / "d.nir", tree))


def test_field_of_wrong_rank(tmp_path: Path) -> None:
    tree = edit_tree(nodes__fc__weight=np.ones(6, np.float32))
    with pytest.raises(NIRFormatError, match=r"field 'weight' must be 2-D, got shape \(6,\)"):
        read_nir(write_tree(tmp_path / "r.nir", tree))


def test_bias_not_matching_weight(tmp_path: Path) -> None:
    tree = edit_tree(nodes__fc__bias=np.zeros(5, np.float32))
    with pytest.raises(NIRFormatError, match=r"field 'bias' has shape \(5,\); expected \(2,\)"):
        read_nir(write_tree(tmp_path / "b.nir", tree))


def test_neuron_parameters_that_do_not_broadcast(tmp_path: Path) -> None:
    tree = edit_tree(nodes__lif__r=np.ones(3, np.float32))
    with pytest.raises(NIRFormatError, match=r"node 'lif' \(LIF\): field '\w+' has shape \(\d,\)"):
        read_nir(write_tree(tmp_path / "p.nir", tree))


def test_bad_padding_string(tmp_path: Path) -> None:
    tree = edit_tree(nodes__conv={"type": "Conv2d", "weight": np.ones((1, 1, 3, 3), np.float32),
                              "bias": np.zeros(1, np.float32), "stride": np.array([1, 1]),
                              "padding": "full", "dilation": np.array([1, 1]), "groups": 1})
    with pytest.raises(NIRFormatError, match="field 'padding' must be 'same', 'valid' or integers"):
        read_nir(write_tree(tmp_path / "pad.nir", tree))


def test_affine_shape_mismatch_with_its_input(tmp_path: Path) -> None:
    tree = edit_tree(nodes__in__shape=np.array([4]))
    with pytest.raises(NIRFormatError, match=r"node 'fc' \(Affine\): weight \(2, 3\) expects 3 inputs, but "
                                             r"its input has shape \(4,\)") as info:
        from_nir(write_tree(tmp_path / "s.nir", tree))
    assert info.value.where == "fc"


def test_identity_edge_size_mismatch(tmp_path: Path) -> None:
    tree = edit_tree(nodes__lif2={"type": "LIF", **{k: np.ones(5, np.float32) for k in
                                                ("tau", "r", "v_leak", "v_threshold")}},
                 edges=[("in", "fc"), ("fc", "lif"), ("lif", "lif2"), ("lif2", "out")])
    with pytest.raises(NIRFormatError, match="parameters of shape"):
        from_nir(write_tree(tmp_path / "s.nir", tree))


def test_nan_tau_is_named_by_the_verifier(tmp_path: Path) -> None:
    tree = edit_tree(nodes__lif__tau=np.array([0.01, np.nan], np.float32))
    with pytest.raises(VerifyError, match="population 'lif': parameter 'tau' has a NaN") as info:
        from_nir(write_tree(tmp_path / "nan.nir", tree))
    assert info.value.where == "population 'lif'"


def test_negative_tau_is_named_by_the_verifier(tmp_path: Path) -> None:
    tree = edit_tree(nodes__lif__tau=np.array([0.01, -0.02], np.float32))
    with pytest.raises(VerifyError, match=r"population 'lif': parameter 'tau' must be > 0 \(min -0.0199"):
        from_nir(write_tree(tmp_path / "neg.nir", tree))


def test_cycle_without_delay(tmp_path: Path) -> None:
    """Affine → Scale → Affine has no state on the loop: an equation, not a network."""
    tree = edit_tree(nodes__fc__weight=np.ones((3, 3), np.float32), nodes__fc__bias=np.zeros(3, np.float32),
                 nodes__sc={"type": "Scale", "scale": np.full(3, 0.5, np.float32)},
                 nodes__lif__tau=np.full(3, 0.01, np.float32),
                 edges=[("in", "fc"), ("fc", "sc"), ("sc", "fc"), ("fc", "lif"), ("lif", "out")])
    for k in ("r", "v_leak", "v_threshold", "v_reset"):
        tree["nodes"]["lif"][k] = np.ones(3, np.float32)
    with pytest.raises(NIRFormatError, match="cycle without a delay: fc -> sc -> fc"):
        from_nir(write_tree(tmp_path / "loop.nir", tree))


def test_non_uniform_delay_is_unsupported(tmp_path: Path) -> None:
    tree = edit_tree(nodes__d={"type": "Delay", "delay": np.array([1e-3, 2e-3], np.float32)},
                 edges=[("in", "fc"), ("fc", "d"), ("d", "lif"), ("lif", "out")])
    with pytest.raises(UnsupportedNodeError, match=r"node 'd' \(Delay\): delays range over 10\.\.20 ticks"):
        from_nir(write_tree(tmp_path / "delay.nir", tree))


def test_conv_channel_mismatch(tmp_path: Path) -> None:
    tree = edit_tree(nodes__in__shape=np.array([2, 5, 5]),
                 nodes__fc={"type": "Conv2d", "weight": np.ones((2, 3, 3, 3), np.float32),
                            "bias": np.zeros(2, np.float32), "stride": np.array([1, 1]),
                            "padding": np.array([0, 0]), "dilation": np.array([1, 1]), "groups": 1})
    with pytest.raises(NIRFormatError, match=r"node 'fc' \(Conv2d\): weight \(2, 3, 3, 3\) with groups=1 "
                                             r"expects 3 input channels"):
        from_nir(write_tree(tmp_path / "c.nir", tree))


def test_edge_into_an_input_node(tmp_path: Path) -> None:
    tree = edit_tree(edges=[("in", "fc"), ("fc", "lif"), ("lif", "out"), ("lif", "in")])
    with pytest.raises(NIRFormatError, match=r"node 'in' \(Input\) receives an edge from 'lif'"):
        from_nir(write_tree(tmp_path / "i.nir", tree))


def test_file_cut_anywhere_gives_a_format_error(tmp_path: Path) -> None:
    """A file cut at any of 60 points is a NIRFormatError naming it — never a crash or a bare h5py error.

    (Random byte flips are the fuzz suite's; the libhdf5 crashes and hangs they find are tested below.)
    """
    good = write_tree(tmp_path / "good.nir", base_tree()).read_bytes()
    path = tmp_path / "cut.nir"
    for cut in np.linspace(0, len(good) - 1, 60).astype(int):
        path.write_bytes(good[:cut])
        with pytest.raises(NIRFormatError, match=r"^\S*cut\.nir: cannot read as a NIR \(HDF5\) file: "
                                                 r"\S.*(signature|truncated)") as info:
            from_nir(path)
        assert info.value.where == str(path)


def test_bad_arguments_are_frontend_errors(tmp_path: Path) -> None:
    path = write_tree(tmp_path / "ok.nir", base_tree())
    with pytest.raises(FrontendError, match="input_event_rule must be 'binary' or 'graded'"):
        from_nir(path, input_event_rule="sigma_delta")  # type: ignore[arg-type]
    with pytest.raises(FrontendError, match="dt must be a positive number"):
        from_nir(path, dt=-1e-3)
    with pytest.raises(FrontendError, match="unknown semantics profile 'brian2'"):
        from_nir(path, profile="brian2")
    with pytest.raises(NIRFormatError, match=r"expected a nir\.NIRGraph, got int"):
        from_nir(42)  # type: ignore[arg-type]


# --- libhdf5 crashes and hangs: the file is read in a forked child (aedc.frontend.h5_isolate) ------

NIR_PAPER = Path(__file__).parent / "data" / "nir_paper"
needs_fork = pytest.mark.skipif(not h5_isolate.FORK_AVAILABLE, reason="reads are isolated only with fork")


def _flipped(src: Path, dst: Path, bits: list[tuple[int, int]]) -> Path:
    data = bytearray(src.read_bytes())
    for pos, bit in bits:
        data[pos] ^= 1 << bit
    dst.write_bytes(bytes(data))
    return dst


@needs_fork
def test_libhdf5_crash_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def segfault(path: str) -> dict[str, object]:
        os.kill(os.getpid(), signal.SIGSEGV)
        raise AssertionError("unreachable")

    monkeypatch.setattr(nir_reader, "_read_h5", segfault)
    path = write_tree(tmp_path / "crash.nir", base_tree())
    with pytest.raises(NIRFormatError, match=r"crash\.nir: cannot read as a NIR \(HDF5\) file: libhdf5 "
                                             r"crashed \(SIGSEGV\) while reading it; the file is corrupt"
                       ) as info:
        read_nir(path)
    assert info.value.where == str(path)
    assert not multiprocessing.active_children()


@needs_fork
def test_libhdf5_hang_times_out_and_kills_the_reader(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nir_reader, "_read_h5", lambda path: time.sleep(60))
    monkeypatch.setenv("AEDC_HDF5_TIMEOUT_S", "0.3")
    path = write_tree(tmp_path / "hang.nir", base_tree())
    start = time.monotonic()
    with pytest.raises(NIRFormatError, match=r"hang\.nir: cannot read as a NIR \(HDF5\) file: reading "
                                             r"timed out after 0\.3 s") as info:
        read_nir(path)
    assert time.monotonic() - start < 5
    assert info.value.where == str(path)
    assert not multiprocessing.active_children()


@needs_fork
@pytest.mark.parametrize("failure", ["crash", "hang"])
def test_compile_exits_2_with_one_error_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             failure: str) -> None:
    def crash(path: str) -> None:
        os.kill(os.getpid(), signal.SIGSEGV)

    monkeypatch.setattr(nir_reader, "_read_h5", crash if failure == "crash" else lambda p: time.sleep(60))
    monkeypatch.setenv("AEDC_HDF5_TIMEOUT_S", "0.3")
    model = write_tree(tmp_path / "model.nir", base_tree())
    res = CliRunner().invoke(app, ["compile", str(model), "-o", str(tmp_path / "build")])
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {model}: cannot read as a NIR (HDF5) file: ")
    assert ("crashed (SIGSEGV)" if failure == "crash" else "timed out after 0.3 s") in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.nir"]


@needs_fork
@pytest.mark.parametrize(("name", "bits", "timeout"), [
    ("01_lif/lif_rockpool.nir", [(17113, 2)], "30"),  # libhdf5 (h5py 3.16) segfaults
    ("01_lif/two_lif_neurons.nir", [(2329, 3)], "1"),  # libhdf5 (h5py 3.16) loops forever
])
def test_real_corrupt_files_end_in_a_format_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  name: str, bits: list[tuple[int, int]],
                                                  timeout: str) -> None:
    """Single bit flips the fuzz suite found. Another libhdf5 may read them, or fail otherwise; what
    matters is that the read returns, in time, and any error names the file."""
    monkeypatch.setenv("AEDC_HDF5_TIMEOUT_S", timeout)
    path = _flipped(NIR_PAPER / name, tmp_path / "flipped.nir", bits)
    start = time.monotonic()
    message = "flipped.nir loaded"
    try:
        read_nir(path)
    except FrontendError as exc:
        message = str(exc)
    assert time.monotonic() - start < float(timeout) + 10
    assert "flipped.nir" in message


@needs_fork
def test_exception_in_the_reader_is_reported_as_in_process(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(path: str) -> dict[str, object]:
        raise KeyError("no such object")

    monkeypatch.setattr(nir_reader, "_read_h5", broken)
    path = write_tree(tmp_path / "k.nir", base_tree())
    with pytest.raises(NIRFormatError, match=r"k\.nir: cannot read as a NIR \(HDF5\) file: 'no such "
                                             r"object'") as info:
        read_nir(path)
    assert isinstance(info.value.__cause__, KeyError)
    assert "HDF5 reader process" in "".join(getattr(info.value.__cause__, "__notes__", []))


def _same(a: Any, b: Any) -> bool:
    """Deep equality of raw graphs: dataclasses, mappings (with order), numpy arrays (dtype and values)."""
    if isinstance(a, RawGraph | RawNode):
        return type(a) is type(b) and all(_same(getattr(a, k), getattr(b, k)) for k in vars(a))
    if isinstance(a, Mapping):
        return isinstance(b, Mapping) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, tuple | list):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and bool(a == b)


@pytest.mark.parametrize(("name", "profile"), [
    ("01_lif/lif_norse.nir", "nir-euler"), ("01_lif/lif_rockpool.nir", "nir-euler"),
    ("01_lif/two_lif_neurons.nir", "nir-euler"), ("02_cnn/cnn_sinabs.nir", "sinabs")])
def test_isolated_read_equals_in_process_read(name: str, profile: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The raw graph and the imported IR are the same whether the file was read in a child or here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        isolated = read_nir(NIR_PAPER / name), to_json(from_nir(NIR_PAPER / name, profile=profile))
        monkeypatch.setattr(h5_isolate, "FORK_AVAILABLE", False)
        in_process = read_nir(NIR_PAPER / name), to_json(from_nir(NIR_PAPER / name, profile=profile))
    assert _same(isolated[0], in_process[0])
    assert isolated[1] == in_process[1]


def test_broken_files_give_the_same_error_either_way(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    good = write_tree(tmp_path / "good.nir", base_tree()).read_bytes()
    (tmp_path / "cut.nir").write_bytes(good[: len(good) // 2])
    (tmp_path / "text.nir").write_text("this is not HDF5\n")
    names = ("cut.nir", "text.nir", "absent.nir")

    def errors() -> list[tuple[type[Exception], str]]:
        out = []
        for name in names:
            with pytest.raises(NIRFormatError, match=rf"{name}: cannot read as a NIR \(HDF5\) file") as info:
                read_nir(tmp_path / name)
            out.append((type(info.value.__cause__), str(info.value)))
        return out

    isolated = errors()
    monkeypatch.setattr(h5_isolate, "FORK_AVAILABLE", False)
    assert isolated == errors()


@needs_fork
@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan"])
def test_bad_timeout_setting_is_a_frontend_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 value: str) -> None:
    monkeypatch.setenv("AEDC_HDF5_TIMEOUT_S", value)
    path = write_tree(tmp_path / "ok.nir", base_tree())
    with pytest.raises(FrontendError, match="AEDC_HDF5_TIMEOUT_S must be a positive number of seconds"):
        read_nir(path)


def test_a_shape_whose_int64_product_wraps_around_is_too_big_not_a_crash() -> None:
    """Found by `make fuzz` (byte flip of cnn_sinabs.nir, case 4583): a SumPool2d output shape
    (8, 4, 4611686018427387908) has an int64 size product that wraps to a small number; sizes are exact
    Python ints, so the population is refused by name instead of numpy failing to allocate."""
    from aedc.errors import DoesNotFitError
    from aedc.frontend.nir_ops import check_population_size, size

    shape = (8, 4, 4611686018427387908)
    assert size(shape) == 8 * 4 * 4611686018427387908
    with pytest.raises(DoesNotFitError, match="population 'p'") as info:
        check_population_size("p", shape)
    assert info.value.where == "p"
