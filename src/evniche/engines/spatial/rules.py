"""Rule-modified behaviors per agent, from the same index arrays as the well-mixed engine.

:class:`Kinetics` evaluates behaviors for whole populations from a signal vector
``z = [q, r, E/V, C, x, D, N/Ntot]`` and the sparse matrix ``A`` (signals = A·z). Here the
same ``A`` and Hill terms are cut per cell type, and ``z`` is filled per agent: its own
cargo and states, the concentrations in its voxel, its per-cell uptake rates from that
voxel, and global drugs and population fractions. Behaviors then combine exactly as
:func:`evniche.engines.kinetics.combine_rules` does (PhysiCell's multivariate Hill rule,
generalized to per-rule saturation values).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kinetics import Kinetics

#: kinds of z column, in Kinetics' order (E: marrow pools, then blood pools)
Q, R, E, C, X, D, N = range(7)


@dataclass
class TypeRules:
    """Behaviors of one cell type as a function of per-agent signals."""

    beh: np.ndarray  # global behavior indices of this type (local column → global)
    base: np.ndarray
    cols_kind: np.ndarray  # for each needed z column: its kind (Q, R, ...)
    cols_index: np.ndarray  # ... and the index inside that kind
    A: np.ndarray  # dense (n_signals_of_type, n_cols)
    #: Hill terms: local behavior, local signal, half-max, Hill power, saturation
    up: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    down: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def type_rules(kin: Kinetics) -> list[TypeRules]:
    """Cut the network's rule machinery per cell type."""
    net = kin.net
    off = kin.z_off
    bounds = [*off.tolist(), kin.z_size]
    out = []
    for c in net.cells:
        beh = np.array([i for i, b in enumerate(net.behaviors) if b.cell_type == c.name], int)
        local_beh = {int(g): k for k, g in enumerate(beh)}
        sigs = np.array([i for i, s in enumerate(net.signals) if s.cell_type == c.name], int)
        local_sig = {int(g): k for k, g in enumerate(sigs)}
        A = kin.A[sigs] if sigs.size else kin.A[:0]
        cols = np.unique(A.indices) if sigs.size else np.zeros(0, int)
        kinds = np.searchsorted(np.array(bounds[1:]), cols, side="right")
        index = cols - np.array(bounds[:-1])[kinds] if cols.size else cols
        dense = A[:, cols].toarray() if cols.size else np.zeros((sigs.size, 0))

        def terms(b_idx, s_idx, half, hill, sat, local_beh=local_beh, local_sig=local_sig):
            keep = np.array([int(b) in local_beh for b in b_idx], bool)
            return (np.array([local_beh[int(b)] for b in b_idx[keep]], int),
                    np.array([local_sig[int(s)] for s in s_idx[keep]], int),
                    half[keep], hill[keep], sat[keep])

        out.append(TypeRules(
            beh=beh, base=kin.b_base[beh],
            cols_kind=kinds.astype(int), cols_index=index.astype(int), A=dense,
            up=terms(kin.up_beh, kin.up_sig, kin.up_half, kin.up_hill, kin.up_sat),
            down=terms(kin.dn_beh, kin.dn_sig, kin.dn_half, kin.dn_hill, kin.dn_sat)))
    return out


def evaluate(tr: TypeRules, columns: np.ndarray, beh_factor: np.ndarray) -> np.ndarray:
    """Behaviors (n_agents × n_behaviors of the type) from the needed z ``columns``
    (n_agents × n_cols); ``beh_factor`` (global, per behavior) applies interventions."""
    n = columns.shape[0]
    beh = np.broadcast_to(tr.base, (n, tr.base.size)).copy()
    if tr.beh.size == 0:
        return beh
    sig = np.maximum(columns @ tr.A.T, 0.0) if tr.A.size else np.zeros((n, 0))
    nb = tr.base.size
    for b, s, half, hill, sat in (tr.up, tr.down):
        if b.size == 0:
            continue
        total = np.zeros((n, nb))
        pull = np.zeros((n, nb))
        for k in range(b.size):
            h = (sig[:, s[k]] / half[k]) ** hill[k]
            total[:, b[k]] += h
            pull[:, b[k]] += h * (sat[k] - beh[:, b[k]])
        beh = beh + pull / (1.0 + total)
    return beh * beh_factor[tr.beh]
