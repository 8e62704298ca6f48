"""Cell orientation as BioNet applies it to morphologies (pure numpy).

BioNet rotates a morphology about its soma by ``R = Rx(θx) · Ry(θy) · Rz(θz)``
(``bmtk.simulator.bionet.morphology.Morphology.move_and_rotate``), each a counter-clockwise
rotation about the fixed axis by the node's ``rotation_angle_{x,y,z}axis`` in radians; an angle
the nodes file does not store counts as 0. Allen/SWC morphologies point their apical axis along
+y, so the cell's axis after rotation is ``R · (0, 1, 0)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["rotation_matrices", "cell_axes", "CELL_AXIS"]

CELL_AXIS = np.array([0.0, 1.0, 0.0])  # the morphology's principal (apical) axis before rotation


def _about(axis: int, theta: np.ndarray) -> np.ndarray:
    """(N, 3, 3) counter-clockwise rotations by ``theta`` (rad) about x (0), y (1) or z (2)."""
    c, s = np.cos(theta), np.sin(theta)
    m = np.zeros((theta.size, 3, 3))
    i, j = [(1, 2), (0, 2), (0, 1)][axis]
    m[:, axis, axis] = 1.0
    m[:, i, i] = c
    m[:, j, j] = c
    # about y the sign pattern flips (right-handed: z → x is positive)
    sign = -1.0 if axis == 1 else 1.0
    m[:, i, j] = -s * sign
    m[:, j, i] = s * sign
    return m


def rotation_matrices(theta_x: np.ndarray, theta_y: np.ndarray, theta_z: np.ndarray) -> np.ndarray:
    """(N, 3, 3) matrices ``Rx · Ry · Rz`` of per-cell angles in radians (NaN counts as 0, as in BioNet)."""
    tx, ty, tz = (np.nan_to_num(np.atleast_1d(np.asarray(a, np.float64)), nan=0.0) for a in (theta_x, theta_y, theta_z))
    tx, ty, tz = np.broadcast_arrays(tx, ty, tz)
    return _about(0, tx.ravel()) @ _about(1, ty.ravel()) @ _about(2, tz.ravel())


def cell_axes(theta_x: np.ndarray, theta_y: np.ndarray, theta_z: np.ndarray,
              reference: np.ndarray = CELL_AXIS) -> np.ndarray:
    """(N, 3) unit vectors: the morphology's ``reference`` axis after BioNet's rotation."""
    ref = np.asarray(reference, np.float64)
    ref = ref / np.linalg.norm(ref)
    return rotation_matrices(theta_x, theta_y, theta_z) @ ref
