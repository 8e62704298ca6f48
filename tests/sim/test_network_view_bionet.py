"""The cell axes of the network view turn as BioNet turns morphologies (bmtk's own rotation code)."""

from __future__ import annotations

import numpy as np
import pytest

from bmtool_lab.analysis.geometry import CELL_AXIS, rotation_matrices

pytestmark = pytest.mark.sim


def test_rotation_matrices_equal_bionet_move_and_rotate():
    morphology = pytest.importorskip("bmtk.simulator.bionet.morphology")
    rm = morphology.rotation_matrix
    rng = np.random.default_rng(11)
    angles = rng.uniform(-np.pi, np.pi, (50, 3))
    ours = rotation_matrices(angles[:, 0], angles[:, 1], angles[:, 2])
    for a, r in zip(angles, ours, strict=True):
        # Morphology.move_and_rotate: rotx · (roty · rotz)
        bionet = np.dot(rm([1, 0, 0], a[0]), rm([0, 1, 0], a[1]).dot(rm([0, 0, 1], a[2])))
        np.testing.assert_allclose(r, bionet, atol=1e-13)
        np.testing.assert_allclose(r @ CELL_AXIS, bionet @ CELL_AXIS, atol=1e-13)
