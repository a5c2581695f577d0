"""Data sets that need no download: Yin-Yang, scikit-learn digits and two synthetic temporal tasks
(temporal order; random-manifold spike times, :func:`randman`).

Every loader returns a :class:`Split` (``x`` float32 features or spike rasters, ``y`` int labels) and is
deterministic for its seed. Encoders turn features into emulator input rasters ``(B, T, N)``:
:func:`encode_ttfs` (time-to-first-spike, binary events) and :func:`encode_graded` (one graded event
per feature). Importing this package imports NumPy only (digits imports scikit-learn when called).
"""

from aedc.datasets.digits import digits
from aedc.datasets.encoding import Split, encode_graded, encode_ttfs
from aedc.datasets.randman import randman
from aedc.datasets.temporal import temporal_order
from aedc.datasets.yinyang import YINYANG_SPLITS, yinyang, yinyang_class

__all__ = ["YINYANG_SPLITS", "Split", "digits", "encode_graded", "encode_ttfs", "randman",
           "temporal_order", "yinyang", "yinyang_class"]
