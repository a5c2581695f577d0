"""Malformed NIR files: each defect raises its named aedc error, naming the file/node/field.

The broken files are written with h5py in the layout ``nir.write`` uses (root ``version``, group ``node``
with ``type``, ``nodes/<name>/...`` and ``edges``). Profile: nir-euler (dt = 1e-4).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from nirfiles import base_tree, edit_tree, write_tree

from aedc.errors import FrontendError, NIRFormatError, UnsupportedNodeError, VerifyError
from aedc.frontend import from_nir, read_nir


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
    with pytest.raises(NIRFormatError, match=r"truncated\.nir") as info:
        from_nir(path)
    assert info.value.where == str(path)


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

    (Random byte flips are not tested: libhdf5 can segfault on a corrupted heap, which no reader can
    catch; see the nir_reader docstring.)
    """
    good = write_tree(tmp_path / "good.nir", base_tree()).read_bytes()
    path = tmp_path / "cut.nir"
    for cut in np.linspace(0, len(good) - 1, 60).astype(int):
        path.write_bytes(good[:cut])
        with pytest.raises(NIRFormatError, match=r"cut\.nir"):
            from_nir(path)


def test_bad_arguments_are_frontend_errors(tmp_path: Path) -> None:
    path = write_tree(tmp_path / "ok.nir", base_tree())
    with pytest.raises(FrontendError, match="input_event_rule must be 'binary' or 'graded'"):
        from_nir(path, input_event_rule="sigma_delta")  # type: ignore[arg-type]
    with pytest.raises(FrontendError, match="dt must be a positive number"):
        from_nir(path, dt=-1e-3)
    with pytest.raises(FrontendError, match="unknown semantics profile 'norse'"):
        from_nir(path, profile="norse")
    with pytest.raises(NIRFormatError, match=r"expected a nir\.NIRGraph, got int"):
        from_nir(42)  # type: ignore[arg-type]
