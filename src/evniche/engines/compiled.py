"""Compiled right-hand side and exact sparse Jacobian of a :class:`~.kinetics.Kinetics`.

:class:`CompiledKinetics` packs the index arrays and parameter values of a Kinetics into
one integer and one float array (a few arguments keep a call into compiled code cheap) and
evaluates, with Numba, the same dy/dt as :meth:`Kinetics.rhs` (per hour; counts, copies
per cell, nM, EVs) and its Jacobian (per hour).

Each block of :func:`_rhs` mirrors one block of :meth:`Kinetics.rhs` and is marked with the
same comment; a term added there needs its counterpart here (and, if it reads new index
arrays or parameters, a field in :data:`INT_FIELDS` / :data:`FLOAT_FIELDS`). The
equivalence test (tests/engines/test_compiled.py) compares the two on every shipped preset.

The Jacobian is exact, not a finite difference: :func:`_rhs` is written for real and
complex states alike, and column j of the Jacobian is Im f(y + i·h·e_j) / h (the
complex-step derivative: no subtraction, so no cancellation error, for any tiny h).
Columns that share no row (a greedy coloring of the sparsity pattern) are stepped
together, so a Jacobian costs one complex evaluation per color. The Jacobian therefore
follows every term of the right-hand side without code of its own. Piecewise parts
(signals and counts clipped at 0) branch on the real part; below 0 (a solver's small
excursion) the clip's slope is taken as 1, not 0 (see :func:`_clip0`).
"""

from __future__ import annotations

import numba
import numpy as np
from scipy import sparse

from .kernel_cache import ENABLED as _CACHE  # sets Numba's cache folder before any kernel
from .kinetics import Kinetics

#: integer fields of the packed layout, in order (names of Kinetics attributes, or of the
#: derived arrays built in :func:`_int_fields`)
INT_FIELDS = (
    "i_cell", "i_state", "i_cargo", "i_cyt", "i_drug", "i_ev_m", "i_ev_b",
    "led_secreted", "led_degraded", "led_cleared", "led_removed", "i_led_uptake",
    "up_beh", "up_sig", "dn_beh", "dn_sig",
    "c_prolif", "c_renew", "c_death", "c_exit", "c_fail", "exit_from", "exit_into",
    "c_drug_death",
    "c_fb", "c_niche", "diff_from", "diff_to", "c_counted", "c_mut", "mut_from", "mut_to",
    "fb_members", "niche_members", "crowd_members", "h_on",
    "k_killer", "k_target", "k_beh", "s_target",
    "pl_src", "pl_sec", "pl_per_death", "r_target", "r_pool", "r_mult", "r_ev", "r_marrow",
    "q_cell", "Q_indptr", "Q_indices", "pr_cell", "pr_beh", "pr_cyt",
    "A_indptr", "A_indices", "sizes",
)
#: float fields of the packed layout, in order
FLOAT_FIELDS = (
    "b_base", "up_half", "up_hill", "up_sat", "dn_half", "dn_hill", "dn_sat",
    "h_set", "h_pow", "s_tau", "pl_in_marrow", "pl_deg", "pl_drain", "pl_clear", "pl_home",
    "r_rate", "r_V", "q_decay", "Q_data", "cyt_decay", "drug_elim", "A_data", "diff_frac",
    "scalars", "c_fb_exp",
)
# field numbers (compile-time constants inside the kernels)
(I_CELL, I_STATE, I_CARGO, I_CYT, I_DRUG, I_EV_M, I_EV_B,
 LED_SECRETED, LED_DEGRADED, LED_CLEARED, LED_REMOVED, I_LED_UPTAKE,
 UP_BEH, UP_SIG, DN_BEH, DN_SIG,
 C_PROLIF, C_RENEW, C_DEATH, C_EXIT, C_FAIL, EXIT_FROM, EXIT_INTO,
 C_DRUG_DEATH,
 C_FB, C_NICHE, DIFF_FROM, DIFF_TO, C_COUNTED, C_MUT, MUT_FROM, MUT_TO,
 FB_MEMBERS, NICHE_MEMBERS, CROWD_MEMBERS, H_ON,
 K_KILLER, K_TARGET, K_BEH, S_TARGET,
 PL_SRC, PL_SEC, PL_PER_DEATH, R_TARGET, R_POOL, R_MULT, R_EV, R_MARROW,
 Q_CELL, Q_INDPTR, Q_INDICES, PR_CELL, PR_BEH, PR_CYT,
 A_INDPTR, A_INDICES, SIZES) = range(len(INT_FIELDS))
(B_BASE, UP_HALF, UP_HILL, UP_SAT, DN_HALF, DN_HILL, DN_SAT,
 H_SET, H_POW, S_TAU, PL_IN_MARROW, PL_DEG, PL_DRAIN, PL_CLEAR, PL_HOME,
 R_RATE, R_V, Q_DECAY, Q_DATA, CYT_DECAY, DRUG_ELIM, A_DATA, DIFF_FRAC,
 SCALARS, C_FB_EXP) = range(len(FLOAT_FIELDS))
# entries of "scalars"
V_MARROW, V_BLOOD, FB_K, NICHE_INV, CROWD_INV, CROWD_RATE, CROWD_POW = range(7)
# entries of "sizes": species, behaviors, signals
N_SPECIES, N_BEH, N_SIG = range(3)

#: Jacobian patterns by network structure (see CompiledKinetics.sparsity)
_PATTERNS: dict[tuple[bytes, bytes, bytes], tuple] = {}

#: complex step of a column, relative to max(|y_j|, 1e-6) (any tiny value is exact)
COMPLEX_STEP = 1e-20
#: a Hill term (s / half)^h with a power h < 1 has an unbounded slope h x^(h-1) at x = s /
#: half -> 0; below this x its Jacobian entry is the slope at this x (the term is then at
#: most 1e-3 of its half-maximal value for h >= 0.5), see :func:`_hill`
HILL_FLOOR = 1e-6


def _int_fields(kin: Kinetics) -> dict[str, np.ndarray]:
    """Integer arrays of ``kin`` by field name (booleans as 0/1)."""
    out = {name: getattr(kin, name) for name in INT_FIELDS if hasattr(kin, name)}
    for t in ("secreted", "degraded", "cleared", "removed"):
        out[f"led_{t}"] = kin.i_led[t]
    out["Q_indptr"], out["Q_indices"] = kin.Q.indptr, kin.Q.indices
    out["A_indptr"], out["A_indices"] = kin.A.indptr, kin.A.indices
    out["sizes"] = np.array([kin.n, kin.n_beh, kin.A.shape[0]])
    return out


def _float_fields(kin: Kinetics) -> dict[str, np.ndarray]:
    """Float arrays of ``kin`` by field name."""
    out = {name: getattr(kin, name) for name in FLOAT_FIELDS if hasattr(kin, name)}
    out["Q_data"], out["A_data"] = kin.Q.data, kin.A.data
    cap, crate, cpow = kin.crowd
    out["scalars"] = np.array([kin.V_marrow, kin.V_blood, kin.fb_k, 1.0 / kin.niche_cap,
                               1.0 / cap if crate else 0.0, crate, cpow])
    return out


def _pack(fields: tuple[str, ...], arrays: dict[str, np.ndarray], dtype
          ) -> tuple[np.ndarray, np.ndarray]:
    """One flat array of ``dtype`` and the offsets of its fields (field k is
    ``flat[offsets[k]:offsets[k + 1]]``)."""
    parts = [np.asarray(arrays[name]).astype(dtype).ravel() for name in fields]
    offsets = np.cumsum([0] + [p.size for p in parts]).astype(np.int64)
    flat = np.concatenate(parts) if parts else np.zeros(0, dtype)
    return flat, offsets


class CompiledKinetics:
    """The compiled right-hand side and Jacobian of ``kin`` (same units as Kinetics)."""

    def __init__(self, kin: Kinetics, held: np.ndarray | None = None) -> None:
        """``held``: species held at exactly 0 (read as 0, rate of change 0), e.g. the
        leukemic populations while relaxing to the healthy steady state."""
        self.kin = kin
        self.n = kin.n
        self.ints, self.int_off = _pack(INT_FIELDS, _int_fields(kin), np.int64)
        self.floats, self.float_off = _pack(FLOAT_FIELDS, _float_fields(kin), np.float64)
        self.held = np.zeros(kin.n, np.bool_)
        if held is not None:
            self.held[np.asarray(held, int)] = True
        self._pattern: sparse.csc_matrix | None = None

    # -------------------------------------------------------------------- rhs
    def rhs_into(self, y: np.ndarray, out: np.ndarray, modifiers: tuple) -> None:
        """Write dy/dt (per hour) at ``y`` into ``out``; ``modifiers``: the behavior
        factors, uptake factors, removal rates (1/h) and infusions (nM/h) of a segment
        (:meth:`modifiers`)."""
        _rhs_held(y, out, self.ints, self.int_off, self.floats, self.float_off,
                  *modifiers, self.held)

    def rhs(self, t: float, y: np.ndarray, beh_factor=None, upt_factor=None, removal=None,
            infusion=None) -> np.ndarray:
        """dy/dt (per hour), with the signature of :meth:`Kinetics.rhs`."""
        out = np.empty(self.n)
        self.rhs_into(np.asarray(y, float), out,
                      self.modifiers(beh_factor, upt_factor, removal, infusion))
        return out

    def modifiers(self, beh_factor=None, upt_factor=None, removal=None, infusion=None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The four modifier arrays, with the neutral value where None is given."""
        kin = self.kin

        def arr(v, size, neutral):
            return np.full(size, neutral) if v is None else np.broadcast_to(
                np.asarray(v, float), (size,)).copy()

        return (arr(beh_factor, kin.n_beh, 1.0), arr(upt_factor, kin.n_routes, 1.0),
                arr(removal, kin.n_pools, 0.0), arr(infusion, len(kin.drug_elim), 0.0))

    def behaviors_signals(self, Y: np.ndarray, beh_factors: np.ndarray,
                          upt_factors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Behaviors (rows × behaviors, canonical units) and signals (rows × signals) at
        each row of ``Y`` under that row's behavior and uptake factors: what
        :meth:`Kinetics.parts` gives as ``beh`` and ``sig``, for a whole trajectory."""
        return _behaviors_signals(np.ascontiguousarray(Y, dtype=float), self.ints,
                                  self.int_off, self.floats, self.float_off,
                                  np.ascontiguousarray(beh_factors, dtype=float),
                                  np.ascontiguousarray(upt_factors, dtype=float))

    def segment(self, beh_factor=None, upt_factor=None, removal=None, infusion=None):
        """``(f, jac)`` of one segment of a schedule: ``f(t, y)`` → dy/dt (per hour) and
        ``jac(t, y)`` → its sparse Jacobian (per hour), as ``solve_ivp`` calls them."""
        mods = self.modifiers(beh_factor, upt_factor, removal, infusion)
        pattern = self.sparsity()
        n = self.n

        def f(t: float, y: np.ndarray) -> np.ndarray:
            out = np.empty(n)
            _rhs_held(np.ascontiguousarray(y, dtype=float), out, self.ints, self.int_off,
                      self.floats, self.float_off, *mods,
                      self.held)
            return out

        def jac(t: float, y: np.ndarray) -> sparse.csc_matrix:
            data = np.empty(pattern.nnz)
            self.jacobian_into(np.ascontiguousarray(y, dtype=float), data, mods)
            return sparse.csc_matrix((data, pattern.indices, pattern.indptr),
                                     shape=pattern.shape)

        # what CVODE driven from compiled code calls instead (:mod:`.sundials`)
        f.packed = jac.packed = (self, mods)  # type: ignore[attr-defined]
        return f, jac

    # -------------------------------------------------------------------- Jacobian
    def sparsity(self) -> sparse.csc_matrix:
        """Which derivatives can be non-zero (and the diagonal), from the network's
        structure alone: the exact Jacobian's pattern, one column at a time, at a generic
        positive state with generic positive parameter values and every pool's removal
        on. It depends on the index arrays only, so it is computed once per network (and
        held set) and shared by every parameter set of an ensemble."""
        if self._pattern is None:
            key = (self.ints.tobytes(), self.int_off.tobytes(), self.held.tobytes())
            if key not in _PATTERNS:
                if len(_PATTERNS) >= 32:
                    _PATTERNS.pop(next(iter(_PATTERNS)))
                _PATTERNS[key] = self._structure()
            self._pattern, self.colors, self.nz_rows, self.nz_cols = _PATTERNS[key]
            self.n_colors = int(self.colors.max()) + 1 if self.n else 0
        return self._pattern

    def _structure(self) -> tuple[sparse.csc_matrix, np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng(12345)
        base = np.abs(self.kin.initial_state()) + 1.0 + rng.random(self.n)
        generic = rng.uniform(0.5, 2.0, self.floats.size)
        mods = self.modifiers(removal=np.ones(self.kin.n_pools))
        cols = _columns_each(base, self.ints, self.int_off, generic, self.float_off, *mods,
                             self.held)
        pattern = sparse.csc_matrix((cols != 0).T | np.eye(self.n, dtype=bool))
        pattern.sort_indices()
        pattern = pattern.astype(np.float64)
        nz_cols = np.repeat(np.arange(self.n), np.diff(pattern.indptr)).astype(np.int64)
        return pattern, greedy_colors(pattern), pattern.indices.astype(np.int64), nz_cols

    def jacobian_into(self, y: np.ndarray, data: np.ndarray, modifiers: tuple) -> None:
        """Write the Jacobian's values at ``y`` (per hour) into ``data``, in the order of
        :meth:`sparsity` (compressed columns)."""
        self.sparsity()
        _jacobian(y, data, self.colors, self.n_colors, self.nz_rows, self.nz_cols,
                  self.ints, self.int_off, self.floats, self.float_off, *modifiers,
                  self.held)

    def jacobian(self, t: float, y: np.ndarray, beh_factor=None, upt_factor=None,
                 removal=None, infusion=None) -> sparse.csc_matrix:
        """∂(dy/dt)/∂y at ``y`` (per hour) as a sparse matrix."""
        pattern = self.sparsity()
        data = np.empty(pattern.nnz)
        self.jacobian_into(np.asarray(y, float), data,
                           self.modifiers(beh_factor, upt_factor, removal, infusion))
        return sparse.csc_matrix((data, pattern.indices, pattern.indptr), shape=pattern.shape)


def greedy_colors(pattern: sparse.csc_matrix) -> np.ndarray:
    """A color per column such that no two columns of one color share a row."""
    n_rows, n_cols = pattern.shape
    colors = np.zeros(n_cols, np.int64)
    used: list[np.ndarray] = []  # per color: rows taken
    for j in range(n_cols):
        rows = pattern.indices[pattern.indptr[j]:pattern.indptr[j + 1]]
        for c, taken in enumerate(used):
            if not taken[rows].any():
                taken[rows] = True
                colors[j] = c
                break
        else:
            taken = np.zeros(n_rows, bool)
            taken[rows] = True
            used.append(taken)
            colors[j] = len(used) - 1
    return colors


# ============================================================================ kernels
@numba.njit(cache=_CACHE, inline="always")
def _seg(flat, off, k):
    return flat[off[k]:off[k + 1]]


@numba.njit(cache=_CACHE)
def _clip0(v):
    """max(v, 0) on the real part. Its derivative is taken as 1 on both sides (a complex
    state keeps its imaginary part): only a solver's small excursion below 0 is clipped,
    and a Newton iteration that sees a slope of 0 there cannot find its way back."""
    return v - v.real if v.real < 0.0 else v


@numba.njit(cache=_CACHE)
def _hill(s, half, hill):
    """(s / half)^hill with 0^hill = 0 for hill > 0 (1 for hill = 0), as NumPy.

    For a power below 1 and x = s / half below :data:`HILL_FLOOR` (a signal at or near 0:
    a drug not given, an EV pool not yet filled), the complex step (the Jacobian) gets the
    slope at the floor instead of h x^(h-1), which grows without bound there (a step of
    1e-26 gave entries of 1e12-1e21, and CVODE's Newton iteration with them stalled where
    it converges with the slope at the floor). The value is x^h as always: on a real state
    (the right-hand side) the result is bitwise that of ``x ** hill``."""
    x = s / half
    if x == 0.0:
        return x * 0.0 + (1.0 if hill == 0.0 else 0.0)
    if hill < 1.0 and x.real < HILL_FLOOR:
        # x - x.real is 0 on a real state, the complex step on a complex one
        return (x - x.real) * (hill * max(x.real, HILL_FLOOR) ** (hill - 1.0)) + \
            x.real ** hill
    return x ** hill


@numba.njit(cache=_CACHE)
def _parts(y, ix, ixo, fx, fxo, beh_f, upt_f):
    """Counts N, the counted total, uptake per target cell by route (EVs/cell/h), signals
    and behaviors (with a 0 appended): the counterpart of :meth:`Kinetics.parts`."""
    i_cell = _seg(ix, ixo, I_CELL)
    i_ev_m = _seg(ix, ixo, I_EV_M)
    i_ev_b = _seg(ix, ixo, I_EV_B)
    i_cargo = _seg(ix, ixo, I_CARGO)
    i_cyt = _seg(ix, ixo, I_CYT)
    i_state = _seg(ix, ixo, I_STATE)
    i_drug = _seg(ix, ixo, I_DRUG)
    sizes = _seg(ix, ixo, SIZES)
    sc = _seg(fx, fxo, SCALARS)
    n_beh = sizes[N_BEH]
    n_sig = sizes[N_SIG]
    nN = i_cell.size
    npl = i_ev_m.size
    zero = y[0] * 0.0  # 0 of the state's type (real or complex)

    # ---- parts: counts, totals
    N = np.empty(nN, y.dtype)
    for i in range(nN):
        N[i] = y[i_cell[i]]
    c_counted = _seg(ix, ixo, C_COUNTED)
    n_total = zero
    for i in range(nN):
        if c_counted[i]:
            n_total += N[i]
    if not n_total.real > 0.0:
        n_total = zero + 1.0

    # ---- parts: uptake per target cell with the base multipliers (for uptake signals)
    r_rate = _seg(fx, fxo, R_RATE)
    r_V = _seg(fx, fxo, R_V)
    r_ev = _seg(ix, ixo, R_EV)
    r_mult = _seg(ix, ixo, R_MULT)
    b_base = _seg(fx, fxo, B_BASE)
    nr = r_rate.size
    r = np.empty(nr, y.dtype)
    for k in range(nr):
        mult = b_base[r_mult[k]] if n_beh else 1.0
        r[k] = r_rate[k] * (mult * upt_f[k]) * y[r_ev[k]] / r_V[k]

    # ---- parts: z = [q, r, Em/V, Eb/V, C, x, D, N/Ntot]; signals = max(A z, 0)
    nz = i_cargo.size + nr + 2 * npl + i_cyt.size + i_state.size + i_drug.size + nN
    z = np.empty(nz, y.dtype)
    o = 0
    for i in range(i_cargo.size):
        z[o] = y[i_cargo[i]]
        o += 1
    for k in range(nr):
        z[o] = r[k]
        o += 1
    for p in range(npl):
        z[o] = y[i_ev_m[p]] / sc[V_MARROW]
        o += 1
    for p in range(npl):
        z[o] = y[i_ev_b[p]] / sc[V_BLOOD]
        o += 1
    for i in range(i_cyt.size):
        z[o] = y[i_cyt[i]]
        o += 1
    for i in range(i_state.size):
        z[o] = y[i_state[i]]
        o += 1
    for i in range(i_drug.size):
        z[o] = y[i_drug[i]]
        o += 1
    for i in range(nN):
        z[o] = N[i] / n_total
        o += 1
    a_ptr = _seg(ix, ixo, A_INDPTR)
    a_idx = _seg(ix, ixo, A_INDICES)
    a_val = _seg(fx, fxo, A_DATA)
    sig = np.empty(n_sig, y.dtype)
    for s in range(n_sig):
        acc = zero
        for k in range(a_ptr[s], a_ptr[s + 1]):
            acc += a_val[k] * z[a_idx[k]]
        sig[s] = _clip0(acc)

    # ---- parts: behaviors (combine_rules: up-rules pull from the base, then down-rules)
    beh = np.empty(n_beh + 1, y.dtype)  # index n_beh: the appended 0 ("no behavior")
    for b in range(n_beh):
        beh[b] = zero + b_base[b]
    beh[n_beh] = zero
    for which in range(2):
        rb = _seg(ix, ixo, UP_BEH if which == 0 else DN_BEH)
        rs = _seg(ix, ixo, UP_SIG if which == 0 else DN_SIG)
        half = _seg(fx, fxo, UP_HALF if which == 0 else DN_HALF)
        hill = _seg(fx, fxo, UP_HILL if which == 0 else DN_HILL)
        sat = _seg(fx, fxo, UP_SAT if which == 0 else DN_SAT)
        if rb.size == 0:
            continue
        hsum = np.zeros(n_beh, y.dtype)
        pull = np.zeros(n_beh, y.dtype)
        for k in range(rb.size):
            h = _hill(sig[rs[k]], half[k], hill[k])
            hsum[rb[k]] += h
            pull[rb[k]] += h * (sat[k] - beh[rb[k]])
        for b in range(n_beh):
            beh[b] = beh[b] + pull[b] / (1.0 + hsum[b])
    for b in range(n_beh):
        beh[b] = beh[b] * beh_f[b]

    # ---- parts: uptake per target cell with the behaviors' multipliers (EVs/cell/h)
    for k in range(nr):
        r[k] = r_rate[k] * (beh[r_mult[k]] * upt_f[k]) * y[r_ev[k]] / r_V[k]

    return N, n_total, r, sig, beh


@numba.njit(cache=_CACHE)
def _core_rates(y, N, beh, ix, ixo, fx, fxo):
    """The hematopoiesis core's rates per cell type (counts ``N``, behaviors ``beh``):
    proliferation (1/h), self-renewal with feedback and niche, division failure, death
    with homeostasis and crowding plus drug-induced death (1/h), exit (1/h) and the
    probability that a daughter mutates; in the dtype of ``y`` (real, or complex for the
    complex-step Jacobian). The well-mixed right-hand side and the stochastic engine's
    events both use it."""
    sc = _seg(fx, fxo, SCALARS)
    nN = N.size
    zero = y[0] * 0.0
    fb_members = _seg(ix, ixo, FB_MEMBERS)
    niche_members = _seg(ix, ixo, NICHE_MEMBERS)
    crowd_members = _seg(ix, ixo, CROWD_MEMBERS)
    fb_sum = zero
    niche_sum = zero
    crowd_sum = zero
    for i in range(nN):
        if fb_members[i]:
            fb_sum += N[i]
        if niche_members[i]:
            niche_sum += N[i]
        if crowd_members[i]:
            crowd_sum += N[i]
    s_fb = 1.0 / (1.0 + sc[FB_K] * fb_sum)
    nu = 1.0 / (1.0 + niche_sum * sc[NICHE_INV])
    crowd_death = zero
    if sc[CROWD_RATE] != 0.0:
        crowd_death = sc[CROWD_RATE] * _hill(_clip0(crowd_sum), 1.0 / sc[CROWD_INV],
                                             sc[CROWD_POW])
    c_prolif = _seg(ix, ixo, C_PROLIF)
    c_renew = _seg(ix, ixo, C_RENEW)
    c_fail = _seg(ix, ixo, C_FAIL)
    c_death = _seg(ix, ixo, C_DEATH)
    c_drug_death = _seg(ix, ixo, C_DRUG_DEATH)
    c_exit = _seg(ix, ixo, C_EXIT)
    c_fb = _seg(ix, ixo, C_FB)
    c_fb_exp = _seg(fx, fxo, C_FB_EXP)  # feedback coupling φ: renewal × s^φ
    c_niche = _seg(ix, ixo, C_NICHE)
    c_mut = _seg(ix, ixo, C_MUT)
    h_on = _seg(ix, ixo, H_ON)
    h_set = _seg(fx, fxo, H_SET)
    h_pow = _seg(fx, fxo, H_POW)
    prolif = np.empty(nN, y.dtype)
    renew = np.empty(nN, y.dtype)
    fail = np.empty(nN, y.dtype)
    death = np.empty(nN, y.dtype)
    exit_ = np.empty(nN, y.dtype)
    mut = np.empty(nN, y.dtype)
    for i in range(nN):
        prolif[i] = beh[c_prolif[i]]
        fb = zero + 1.0  # s^φ: exactly s for φ = 1 and 1 for φ = 0 (no power evaluated)
        if c_fb[i]:
            fb = s_fb if c_fb_exp[i] == 1.0 else s_fb ** c_fb_exp[i]
        renew[i] = beh[c_renew[i]] * fb * (nu if c_niche[i] else 1.0)
        fail[i] = beh[c_fail[i]]
        homeo = _hill(_clip0(N[i]), h_set[i], h_pow[i]) if h_on[i] else zero + 1.0
        death[i] = (beh[c_death[i]] * homeo + (crowd_death if crowd_members[i] else zero)
                    + beh[c_drug_death[i]])
        exit_[i] = beh[c_exit[i]]
        mut[i] = beh[c_mut[i]]
    return prolif, renew, fail, death, exit_, mut


@numba.njit(cache=_CACHE)
def _rhs(y, dy, ix, ixo, fx, fxo, beh_f, upt_f, rem, inf):  # noqa: C901 - one block per term
    """dy/dt into ``dy``: the counterpart of :meth:`Kinetics.rhs`, block by block."""
    N, n_total, r, sig, beh = _parts(y, ix, ixo, fx, fxo, beh_f, upt_f)
    i_cell = _seg(ix, ixo, I_CELL)
    i_ev_m = _seg(ix, ixo, I_EV_M)
    i_ev_b = _seg(ix, ixo, I_EV_B)
    i_cargo = _seg(ix, ixo, I_CARGO)
    i_cyt = _seg(ix, ixo, I_CYT)
    i_state = _seg(ix, ixo, I_STATE)
    i_drug = _seg(ix, ixo, I_DRUG)
    sc = _seg(fx, fxo, SCALARS)
    nN = i_cell.size
    npl = i_ev_m.size
    nr = r.size
    zero = y[0] * 0.0
    for i in range(dy.size):
        dy[i] = zero

    # ---- hematopoiesis core
    prolif, renew, fail, death, exit_, mut = _core_rates(y, N, beh, ix, ixo, fx, fxo)
    kept = np.empty(nN, y.dtype)  # 1 - the probability that a daughter mutates
    dN = np.empty(nN, y.dtype)
    dying = np.empty(nN, y.dtype)
    for i in range(nN):
        kept[i] = 1.0 - mut[i]
        dN[i] = ((2.0 * renew[i] * (1.0 - fail[i]) * kept[i] - 1.0) * prolif[i] * N[i]
                 - (death[i] + exit_[i]) * N[i])
    diff_from = _seg(ix, ixo, DIFF_FROM)
    diff_to = _seg(ix, ixo, DIFF_TO)
    diff_frac = _seg(fx, fxo, DIFF_FRAC)
    for k in range(diff_from.size):
        a = diff_from[k]
        dN[diff_to[k]] += (2.0 * (1.0 - renew[a]) * (1.0 - fail[a]) * kept[a] * diff_frac[k]
                           * prolif[a] * N[a])
    # mutation at division: each daughter of a successful division mutates with beh[c_mut]
    mut_from = _seg(ix, ixo, MUT_FROM)
    mut_to = _seg(ix, ixo, MUT_TO)
    for k in range(mut_from.size):
        a = mut_from[k]
        dN[mut_to[k]] += 2.0 * (1.0 - fail[a]) * (1.0 - kept[a]) * prolif[a] * N[a]
    exit_from = _seg(ix, ixo, EXIT_FROM)
    exit_into = _seg(ix, ixo, EXIT_INTO)
    for k in range(exit_from.size):
        dN[exit_into[k]] += exit_[exit_from[k]] * N[exit_from[k]]
    # dying cells per hour: deaths, the two daughters of each failed division, kills
    for i in range(nN):
        dying[i] = (death[i] + 2.0 * fail[i] * prolif[i]) * N[i]
    k_killer = _seg(ix, ixo, K_KILLER)
    k_target = _seg(ix, ixo, K_TARGET)
    k_beh = _seg(ix, ixo, K_BEH)
    for k in range(k_beh.size):
        kills = beh[k_beh[k]] * N[k_killer[k]] * N[k_target[k]] / n_total
        dN[k_target[k]] -= kills
        dying[k_target[k]] += kills
    for i in range(nN):
        dy[i_cell[i]] = dN[i]

    # ---- states relax to rule-set targets
    s_target = _seg(ix, ixo, S_TARGET)
    s_tau = _seg(fx, fxo, S_TAU)
    for i in range(i_state.size):
        dy[i_state[i]] = (beh[s_target[i]] - y[i_state[i]]) / s_tau[i]

    # ---- EV pools (a per-death pool releases its EVs per dying cell of its source)
    pl_src = _seg(ix, ixo, PL_SRC)
    pl_sec = _seg(ix, ixo, PL_SEC)
    pl_per_death = _seg(ix, ixo, PL_PER_DEATH)
    pl_in_marrow = _seg(fx, fxo, PL_IN_MARROW)
    pl_deg = _seg(fx, fxo, PL_DEG)
    pl_drain = _seg(fx, fxo, PL_DRAIN)
    pl_clear = _seg(fx, fxo, PL_CLEAR)
    pl_home = _seg(fx, fxo, PL_HOME)
    r_target = _seg(ix, ixo, R_TARGET)
    r_pool = _seg(ix, ixo, R_POOL)
    r_marrow = _seg(ix, ixo, R_MARROW)
    led_uptake = _seg(ix, ixo, I_LED_UPTAKE)
    Um = np.zeros(npl, y.dtype)
    Ub = np.zeros(npl, y.dtype)
    for k in range(nr):
        U = r[k] * N[r_target[k]]  # EVs per hour, per route
        if r_marrow[k]:
            Um[r_pool[k]] += U
        else:
            Ub[r_pool[k]] += U
        if led_uptake.size:  # a network without its ledger has none
            dy[led_uptake[k]] += U
    led_sec = _seg(ix, ixo, LED_SECRETED)
    led_deg = _seg(ix, ixo, LED_DEGRADED)
    led_clr = _seg(ix, ixo, LED_CLEARED)
    led_rem = _seg(ix, ixo, LED_REMOVED)
    for p in range(npl):
        src = pl_src[p]
        S = beh[pl_sec[p]] * (dying[src] if pl_per_death[p] else N[src])
        Em = y[i_ev_m[p]]
        Eb = y[i_ev_b[p]]
        dy[i_ev_m[p]] = (S * pl_in_marrow[p] - Um[p] - (pl_deg[p] + pl_drain[p]) * Em
                         + pl_home[p] * Eb)
        dy[i_ev_b[p]] = (S * (1.0 - pl_in_marrow[p]) - Ub[p] + pl_drain[p] * Em
                         - (pl_clear[p] + pl_home[p] + rem[p]) * Eb)
        if led_sec.size:
            dy[led_sec[p]] = S
            dy[led_deg[p]] = pl_deg[p] * Em
            dy[led_clr[p]] = pl_clear[p] * Eb
            dy[led_rem[p]] = rem[p] * Eb

    # ---- internalized cargo per cell: delivered copies, decay, halving at each division
    q_decay = _seg(fx, fxo, Q_DECAY)
    q_cell = _seg(ix, ixo, Q_CELL)
    q_ptr = _seg(ix, ixo, Q_INDPTR)
    q_idx = _seg(ix, ixo, Q_INDICES)
    q_val = _seg(fx, fxo, Q_DATA)
    for i in range(q_decay.size):
        acc = zero
        for k in range(q_ptr[i], q_ptr[i + 1]):
            acc += q_val[k] * r[q_idx[k]]
        dy[i_cargo[i]] = acc - (q_decay[i] + prolif[q_cell[i]]) * y[i_cargo[i]]

    # ---- cytokines and drugs
    cyt_decay = _seg(fx, fxo, CYT_DECAY)
    pr_cell = _seg(ix, ixo, PR_CELL)
    pr_beh = _seg(ix, ixo, PR_BEH)
    pr_cyt = _seg(ix, ixo, PR_CYT)
    if cyt_decay.size:
        prod = np.zeros(cyt_decay.size, y.dtype)
        for k in range(pr_cyt.size):
            prod[pr_cyt[k]] += beh[pr_beh[k]] * N[pr_cell[k]]
        for i in range(cyt_decay.size):
            dy[i_cyt[i]] = prod[i] / sc[V_MARROW] - cyt_decay[i] * y[i_cyt[i]]
    drug_elim = _seg(fx, fxo, DRUG_ELIM)
    for i in range(drug_elim.size):
        dy[i_drug[i]] = -drug_elim[i] * y[i_drug[i]] + inf[i]


@numba.njit(cache=_CACHE)
def _rhs_held(y, dy, ix, ixo, fx, fxo, beh_f, upt_f, rem, inf, held):
    """:func:`_rhs` with the ``held`` species read as 0 and kept at 0."""
    u = y.copy()
    for i in range(u.size):
        if held[i]:
            u[i] = u[i] * 0.0
    _rhs(u, dy, ix, ixo, fx, fxo, beh_f, upt_f, rem, inf)
    for i in range(dy.size):
        if held[i]:
            dy[i] = dy[i] * 0.0


@numba.njit(cache=_CACHE)
def _behaviors_signals(Y, ix, ixo, fx, fxo, beh_fs, upt_fs):
    """Behaviors and signals of each row of ``Y`` (see ``behaviors_signals``)."""
    n_beh = _seg(ix, ixo, SIZES)[N_BEH]
    n_sig = _seg(ix, ixo, SIZES)[N_SIG]
    beh_out = np.empty((Y.shape[0], n_beh))
    sig_out = np.empty((Y.shape[0], n_sig))
    for t in range(Y.shape[0]):
        _, _, _, sig, beh = _parts(Y[t], ix, ixo, fx, fxo, beh_fs[t], upt_fs[t])
        beh_out[t] = beh[:n_beh]
        sig_out[t] = sig
    return beh_out, sig_out


@numba.njit(cache=_CACHE)
def _step_size(v):
    return COMPLEX_STEP * max(abs(v), 1e-6)


@numba.njit(cache=_CACHE)
def _jacobian(y, data, colors, n_colors, nz_rows, nz_cols, ix, ixo, fx, fxo, beh_f, upt_f,
              rem, inf, held):
    """Jacobian values (compressed columns) by one complex-step evaluation per color."""
    n = y.size
    yc = np.empty(n, np.complex128)
    fc = np.empty(n, np.complex128)
    for c in range(n_colors):
        for j in range(n):
            yc[j] = y[j] + (1j * _step_size(y[j]) if colors[j] == c else 0.0)
        _rhs_held(yc, fc, ix, ixo, fx, fxo, beh_f, upt_f, rem, inf, held)
        for k in range(nz_rows.size):
            j = nz_cols[k]
            if colors[j] == c:
                data[k] = fc[nz_rows[k]].imag / _step_size(y[j])


@numba.njit(cache=_CACHE)
def _columns_each(y, ix, ixo, fx, fxo, beh_f, upt_f, rem, inf, held):
    """Dense Jacobian (column by column, complex step): only for its pattern."""
    n = y.size
    out = np.zeros((n, n))  # out[j] = column j
    yc = np.empty(n, np.complex128)
    fc = np.empty(n, np.complex128)
    for j in range(n):
        for i in range(n):
            yc[i] = y[i] + 0j
        yc[j] = y[j] + 1j * _step_size(y[j])
        _rhs_held(yc, fc, ix, ixo, fx, fxo, beh_f, upt_f, rem, inf, held)
        for i in range(n):
            out[j, i] = fc[i].imag
    return out
