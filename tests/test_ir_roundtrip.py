"""IR JSON: lossless round trip of random graphs, the document's form, and clear errors on bad documents.

Graphs come from ``strategies.graphs`` (all three semantics profiles plus ``custom``).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from strategies import graphs

from aedc.errors import SerializationError
from aedc.frontend.builder import Network
from aedc.ir import Graph, OneToOne, from_json, load, save, to_json
from aedc.ir.serialize import FORMAT, VERSION


def _small() -> Graph:
    """x(3, binary) -> h(2, lif) dense; profile nir-euler."""
    net = Network("small")
    net.input("x", 3)
    net.population("h", 2, "lif", tau=[0.01, 0.02], v_threshold=0.5)
    net.dense("x", "h", [[1.0, -2.0, 0.5], [0.25, 0.0, 3.0]])
    net.output("y", "h")
    return net.build()


def _doc(graph: Graph) -> dict[str, Any]:
    return json.loads(to_json(graph))


def _arrays(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every encoded array in a JSON document, with its path."""
    if isinstance(node, dict):
        if set(node) == {"dtype", "shape", "data"}:
            return [(path, node)]
        return [a for k, v in node.items() for a in _arrays(v, f"{path}.{k}")]
    if isinstance(node, list):
        return [a for i, v in enumerate(node) for a in _arrays(v, f"{path}.{i}")]
    return []


def _dict_key_orders(node: Any) -> list[list[str]]:
    if isinstance(node, dict):
        return [list(node), *[o for v in node.values() for o in _dict_key_orders(v)]]
    if isinstance(node, list):
        return [o for v in node for o in _dict_key_orders(v)]
    return []


# ---------------------------------------------------------------------------------------------------
# property: random graphs


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(profiles=("nir-euler", "snntorch", "sinabs", "custom")))
def test_random_graph_json_round_trip_is_byte_identical(graph: Graph) -> None:
    text = to_json(graph)
    back = from_json(text)
    assert back == graph
    assert to_json(back) == text
    # equality is not vacuous: it sees a one-ulp change in any weight
    proj = next((p for p in back.projections if getattr(p.conn, "weight", np.zeros(0)).size), None)
    if proj is not None:
        w = np.array(proj.conn.weight)
        w.flat[0] = np.nextafter(w.flat[0], np.float32(np.inf))
        changed = back.evolve(projections=tuple(
            p.evolve(conn=p.conn.evolve(weight=w)) if p is proj else p for p in back.projections))
        assert changed != graph
        assert to_json(changed) != text


@settings(max_examples=25, deadline=None)
@given(graphs(max_pops=4))
def test_random_graph_save_load_file(tmp_path_factory: pytest.TempPathFactory, graph: Graph) -> None:
    path = tmp_path_factory.mktemp("ir") / "sub" / "g.json"
    save(graph, path)
    assert load(path) == graph
    assert path.read_text(encoding="utf-8") == to_json(graph)
    assert [p.name for p in path.parent.iterdir()] == ["g.json"]  # no temp file left behind


@settings(max_examples=40, deadline=None)
@given(graphs(max_pops=4))
def test_json_document_sorted_keys_and_arrays_as_base64(graph: Graph) -> None:
    doc = _doc(graph)
    assert doc["format"] == FORMAT == "aedc-ir"
    assert doc["version"] == VERSION == 1
    for keys in _dict_key_orders(doc):
        assert keys == sorted(keys)
    # every population parameter appears as {dtype, shape, data} with the exact bytes
    encoded = dict(_arrays(doc))
    pops = {p.name: i for i, p in enumerate(graph.populations)}
    for pop in graph.populations:
        for pname, arr in pop.neuron.params().items():
            enc = encoded[f".graph.populations.{pops[pop.name]}.neuron.{pname}"]
            assert isinstance(arr, np.ndarray)
            assert enc["dtype"] == "<f4"
            assert enc["shape"] == list(pop.shape)
            assert base64.b64decode(enc["data"]) == arr.astype("<f4").tobytes()


# ---------------------------------------------------------------------------------------------------
# the document's exact form


def test_document_layout_of_a_known_graph() -> None:
    g = _small()
    text = to_json(g)
    assert text.endswith("}\n")
    assert text.startswith('{\n "format": "aedc-ir",\n "graph": {')
    doc = json.loads(text)
    assert list(doc) == ["format", "graph", "version"]
    w = doc["graph"]["projections"][0]["conn"]["weight"]
    assert w == {"dtype": "<f4", "shape": [2, 3],
                 "data": base64.b64encode(np.array([[1, -2, 0.5], [0.25, 0, 3]], "<f4").tobytes())
                 .decode()}
    tau = doc["graph"]["populations"][1]["neuron"]["tau"]
    assert np.frombuffer(base64.b64decode(tau["data"]), "<f4").tolist() == [
        float(np.float32(0.01)), float(np.float32(0.02))]
    assert doc["graph"]["outputs"] == {"y": "h"}
    assert doc["graph"]["semantics"]["profile"] == "nir-euler"
    assert doc["graph"]["semantics"]["dt"] == 1e-4


def test_nan_payload_and_negative_zero_bytes_are_preserved() -> None:
    g = _small()
    # a NaN with a non-default payload, a negative NaN, -0.0 and a denormal, as raw float32 bits
    bits = np.array([0x7FC0_1234, 0xFFC0_0001], np.uint32)
    weird = np.concatenate([bits.view(np.float32), np.array([-0.0, 1e-45], np.float32)])
    h = g.population("h")
    bad = h.evolve(shape=(4,), neuron=h.neuron.evolve(bias=weird))
    g2 = g.evolve(populations=(g.populations[0], bad), projections=())  # not verified: NaN
    back = from_json(to_json(g2))
    got = back.population("h").neuron.bias
    assert got.tobytes() == weird.tobytes()
    assert got.view(np.uint32)[:2].tolist() == [0x7FC0_1234, 0xFFC0_0001]
    assert np.signbit(got[2])
    assert got[3] == np.float32(1e-45)
    assert back == g2
    assert to_json(back) == to_json(g2)


def test_zero_d_array_keeps_its_shape() -> None:
    # regression: encode used ascontiguousarray, which turned a 0-d array into shape (1,)
    net = Network("scalar")
    net.input("x", 1)
    net.population("h", 1, "linear")
    net.project("x", "h", OneToOne(weight=np.float32(2.5)))
    g = net.build()
    assert g.projections[0].conn.weight.shape == ()
    back = from_json(to_json(g))
    assert back.projections[0].conn.weight.shape == ()
    assert back == g


def test_round_trip_keeps_dtypes_of_index_arrays() -> None:
    net = Network("sp")
    net.input("x", 4)
    net.population("h", 3, "relu")
    net.sparse("x", "h", [3, 0, 0], [1, 2, 0], [0.5, 1.0, -1.0])
    g = net.build()
    conn = from_json(to_json(g)).projections[0].conn
    assert conn.pre.dtype == np.int32
    assert conn.pre.tolist() == [0, 0, 3]
    assert conn.post.tolist() == [0, 2, 1]
    assert conn.weight.tolist() == [-1.0, 1.0, 0.5]


# ---------------------------------------------------------------------------------------------------
# bad documents


def test_unknown_field_names_the_field() -> None:
    doc = _doc(_small())
    doc["graph"]["populations"][1]["colour"] = "blue"
    with pytest.raises(SerializationError) as exc:
        from_json(json.dumps(doc), source="model.json")
    msg = str(exc.value)
    assert "populations.1.colour" in msg
    assert "model.json" in msg
    assert exc.value.where == "model.json"


def test_unknown_field_deep_inside_a_connectivity_names_it() -> None:
    doc = _doc(_small())
    doc["graph"]["projections"][0]["conn"]["stride"] = [1, 1]
    with pytest.raises(SerializationError, match=r"projections\.0\.conn\.dense\.stride"):
        from_json(json.dumps(doc))


def test_unknown_top_level_graph_field() -> None:
    doc = _doc(_small())
    doc["graph"]["clock_hz"] = 1000
    with pytest.raises(SerializationError, match="clock_hz"):
        from_json(json.dumps(doc))


@pytest.mark.parametrize(("version", "fragment"), [(2, "version 2"), (0, "version 0"),
                                                    (None, "version None"), ("1", "version '1'")])
def test_wrong_version(version: Any, fragment: str) -> None:
    doc = _doc(_small())
    doc["version"] = version
    with pytest.raises(SerializationError, match=fragment) as exc:
        from_json(json.dumps(doc))
    assert "reads version 1" in str(exc.value)


@pytest.mark.parametrize("fmt", ["nir", "aedc-IR", None, 1])
def test_wrong_format(fmt: Any) -> None:
    doc = _doc(_small())
    doc["format"] = fmt
    with pytest.raises(SerializationError, match="not an aedc IR document"):
        from_json(json.dumps(doc))


def test_missing_format_and_non_object_document() -> None:
    doc = _doc(_small())
    del doc["format"]
    with pytest.raises(SerializationError, match="not an aedc IR document"):
        from_json(json.dumps(doc))
    with pytest.raises(SerializationError, match="not an aedc IR document"):
        from_json("[1, 2, 3]")


@pytest.mark.parametrize("cut", [0, 1, 10, 100, -30, -2])
def test_truncated_json(cut: int) -> None:
    text = to_json(_small())
    with pytest.raises(SerializationError, match="not valid JSON"):
        from_json(text[:cut])


def test_truncated_file(tmp_path: Any) -> None:
    path = tmp_path / "g.json"
    save(_small(), path)
    path.write_text(path.read_text()[: len(path.read_text()) // 2])
    with pytest.raises(SerializationError, match="not valid JSON") as exc:
        load(path)
    assert str(path) in str(exc.value)


def test_missing_file() -> None:
    with pytest.raises(SerializationError, match="cannot read"):
        load("/nonexistent/dir/g.json")


@pytest.mark.parametrize(("key", "value", "fragment"), [
    ("data", base64.b64encode(b"\0" * 20).decode(), "has 20 bytes"),   # short data
    ("data", "@@not base64@@", "base64"),
    ("dtype", ">f4", "is not one of"),                                   # big-endian not allowed
    ("dtype", "nonsense", "malformed array"),                            # used to escape as TypeError
    ("shape", None, "malformed array"),
    ("shape", 6, "malformed array"),
    ("shape", [[2], 3], "malformed array"),
    ("shape", [-2, -3], "negative array shape"),
    ("shape", [2**62, 4], "needs 73786976294838206464"),                 # used to wrap around
    ("shape", [float("inf")], "malformed array"),                        # make fuzz: OverflowError
])
def test_malformed_array_is_a_serialization_error_naming_the_field(key: str, value: Any,
                                                                   fragment: str) -> None:
    doc = _doc(_small())
    doc["graph"]["projections"][0]["conn"]["weight"][key] = value
    with pytest.raises(SerializationError) as exc:
        from_json(json.dumps(doc))
    assert "projections.0.conn.dense.weight" in str(exc.value)
    assert fragment in str(exc.value)


def test_array_with_extra_key_is_rejected() -> None:
    doc = _doc(_small())
    doc["graph"]["projections"][0]["conn"]["weight"]["order"] = "F"
    with pytest.raises(SerializationError, match="exactly the keys dtype, shape, data"):
        from_json(json.dumps(doc))


def test_loaded_arrays_are_read_only() -> None:
    g = from_json(to_json(_small()))
    w = g.projections[0].conn.weight
    with pytest.raises(ValueError, match="read-only"):
        w[0, 0] = 5.0
