"""The NIR paper's graphs import with the shapes and parameters a hand calculation gives.

Profile: ``nir-euler`` (dt = 1e-4, the paper's tick) unless a test says otherwise. All four files were
written by NIR 0.1/0.2, so they load with a NIRVersionWarning.
"""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import pytest

from aedc.frontend import NIRVersionWarning, from_nir, read_nir
from aedc.ir import Graph
from aedc.ir.connectivity import Conv2d, Dense, Identity, Pool2d, conv_out_len
from aedc.ir.neurons import IFModel, LIFModel, LinearModel

DATA = Path(__file__).parent / "data" / "nir_paper"
LIF_NORSE = DATA / "01_lif" / "lif_norse.nir"
LIF_ROCKPOOL = DATA / "01_lif" / "lif_rockpool.nir"
TWO_LIF = DATA / "01_lif" / "two_lif_neurons.nir"
CNN = DATA / "02_cnn" / "cnn_sinabs.nir"


def _load(path: Path, profile: str = "nir-euler") -> Graph:
    with pytest.warns(NIRVersionWarning, match="version '0"):
        return from_nir(path, profile=profile)


def test_lif_norse_imports_with_v_reset_defaulting_to_zero() -> None:
    g = _load(LIF_NORSE)
    assert [p.name for p in g.populations] == ["input", "0", "1"]
    assert g.outputs == {"output": "1"}
    lif = g.population("1")
    assert isinstance(lif.neuron, LIFModel)
    assert lif.event_rule == "binary"
    assert lif.meta == {"nir_type": "LIF"}
    np.testing.assert_array_equal(lif.neuron.tau, np.float32([0.0025]))
    np.testing.assert_array_equal(lif.neuron.v_threshold, np.float32([0.1]))
    np.testing.assert_array_equal(lif.neuron.v_reset, np.float32([0.0]))  # not in the file
    assert lif.neuron.v_reset.dtype == np.float32
    fc = g.projection("0")
    assert (fc.pre, fc.post) == ("input", "0")
    assert isinstance(fc.conn, Dense)
    np.testing.assert_array_equal(fc.conn.weight, [[1.0]])
    assert g.projection("0->1").conn == Identity()
    assert g.population("input").event_rule == "graded"
    assert g.semantics.profile == "nir-euler"
    assert g.semantics.dt == pytest.approx(1e-4)
    assert g.meta == {"dt_source": "profile", "nir_version": "0.1.1", "source": str(LIF_NORSE)}
    assert g.name == "lif_norse"


def test_lif_rockpool_output_shape_111_is_tolerated() -> None:
    with pytest.raises(ValueError, match="type mismatch"):
        nir.read(LIF_ROCKPOOL)  # the reason this reader exists
    g = _load(LIF_ROCKPOOL)
    assert g.outputs == {"output": "1_LIFNeuronTorch"}
    assert g.population("1_LIFNeuronTorch").shape == (1,)
    np.testing.assert_allclose(g.population("1_LIFNeuronTorch").neuron.r, [24.019737])
    np.testing.assert_allclose(g.projection("0_LinearTorch").conn.weight, [[0.04]])
    with pytest.warns(NIRVersionWarning):
        raw = read_nir(LIF_ROCKPOOL)
    assert raw.nodes["output"].fields["shape"] == (1, 1, 1)


def test_two_lif_neurons_float64_parameters_become_float32() -> None:
    g = _load(TWO_LIF)
    assert [p.name for p in g.populations] == ["in", "linear1", "lif1", "linear2", "lif2"]
    assert [p.name for p in g.projections] == ["linear1", "linear1->lif1", "linear2", "linear2->lif2"]
    lif1, lif2 = g.population("lif1").neuron, g.population("lif2").neuron
    assert isinstance(lif1, LIFModel)
    assert isinstance(lif2, LIFModel)
    assert lif1.v_leak.dtype == np.float32
    np.testing.assert_array_equal(lif1.v_leak, np.float32([1.2]))
    np.testing.assert_array_equal(lif2.v_threshold, np.float32([20.0]))
    np.testing.assert_array_equal(lif1.tau, np.float32([0.01]))
    assert g.outputs == {"out": "lif2"}


def test_cnn_sinabs_shapes_match_hand_calculation() -> None:
    g = _load(CNN, profile="sinabs")
    # hand calculation: out = floor((n + 2p - k) / s) + 1
    assert (34 + 2 * 1 - 5) // 2 + 1 == 16
    assert (16 + 2 * 1 - 3) // 1 + 1 == 16
    expected = {
        "input": (2, 34, 34),
        "0": (16, 16, 16),  # conv 5x5 s2 p1
        "1": (16, 16, 16),
        "2": (16, 16, 16),  # conv 3x3 s1 p1
        "3": (16, 16, 16),
        "4": (16, 8, 8),    # sumpool 2
        "5": (8, 8, 8),     # conv 3x3 s1 p1, 16 → 8 channels
        "6": (8, 8, 8),
        "7": (8, 4, 4),     # sumpool 2
        "8": (128,),        # flatten 8·4·4
        "9": (256,),        # affine 128 → 256
        "10": (256,),
        "11": (10,),        # affine 256 → 10
        "12": (10,),
    }
    assert {p.name: p.shape for p in g.populations} == expected
    assert [p.name for p in g.populations] == list(expected)  # topological order
    assert {p.name: p.size for p in g.populations}["0"] == 4096
    assert g.outputs == {"output": "12"}
    kinds = {p.name: p.neuron.model for p in g.populations}
    assert [n for n, k in kinds.items() if k == "if"] == ["1", "3", "6", "10", "12"]
    conv0 = g.projection("0").conn
    assert isinstance(conv0, Conv2d)
    assert conv0.in_shape == (2, 34, 34)
    assert conv0.stride == (2, 2)
    assert conv0.padding == ((1, 1), (1, 1))
    assert conv0.padding_spec is None
    assert conv0.weight.shape == (16, 2, 5, 5)
    assert conv_out_len(34, 5, 2, (1, 1), 1) == 16
    pool = g.projection("4").conn
    assert isinstance(pool, Pool2d)
    assert (pool.mode, pool.kernel, pool.stride, pool.in_shape) == ("sum", (2, 2), (2, 2), (16, 16, 16))
    flat = g.population("8")
    assert flat.meta == {"end_dim": "-1", "nir_type": "Flatten", "start_dim": "0"}
    assert g.projection("8").conn == Identity()
    fc = g.projection("9").conn
    assert isinstance(fc, Dense)
    assert fc.weight.shape == (256, 128)


def test_cnn_sinabs_biases_and_if_parameters() -> None:
    g = _load(CNN)
    with pytest.warns(NIRVersionWarning):
        raw_graph = read_nir(CNN)
    conv_bias = raw_graph.nodes["0"].fields["bias"]
    assert isinstance(conv_bias, np.ndarray)
    pop0 = g.population("0").neuron
    assert isinstance(pop0, LinearModel)
    assert pop0.bias.shape == (16, 16, 16)
    np.testing.assert_array_equal(pop0.bias[:, 3, 7], conv_bias.astype(np.float32))
    if1 = g.population("1").neuron
    assert isinstance(if1, IFModel)
    assert if1.v_threshold.shape == (16, 16, 16)
    np.testing.assert_array_equal(if1.v_reset, np.zeros((16, 16, 16), np.float32))
    assert g.population("1").neuron.bias.sum() == 0.0
    np.testing.assert_array_equal(g.population("9").neuron.bias, raw_graph.nodes["9"].fields["bias"])


def test_cnn_from_nir_object_equals_from_file() -> None:
    graph = nir.read(CNN)
    from_obj = from_nir(graph)
    from_file = _load(CNN)
    assert from_obj.meta["source"] == "<nir.NIRGraph>"
    assert from_obj.meta["nir_version"] == nir.version
    assert from_obj.populations == from_file.populations
    assert from_obj.projections == from_file.projections
    assert from_obj.outputs == from_file.outputs
