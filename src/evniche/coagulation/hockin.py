"""The Hockin–Mann model of tissue-factor-initiated thrombin generation (34 species, 42 rates).

Hockin MF, Jones KC, Everse SJ, Mann KG (2002). A model for the stoichiometric regulation of
blood coagulation. J Biol Chem 277:18322-18333, doi:10.1074/jbc.M201173200 (PMID 11893748).
The rate constants and the mean-plasma initial concentrations below are those of the
paper as encoded in its curated BioModels entry BIOMD0000000335 (SBML ``k1``…``k42``,
species ``initialConcentration``); docs/sources/thrombin.md lists them with the check.
The paper's own curves (Figs 1-3, as a figure read-off: TF 1-25 pM with and without TFPI
and AT-III) are reproduced within the read-off's precision
(tests/coagulation/test_hockin_published.py; docs/sources/thrombin.md H7).

Every reaction is mass action in a well-mixed volume of plasma. Units inside: mol/L (M)
and seconds; rates of second-order steps in 1/(M·s), of first-order steps in 1/s. The
thrombin signal is the model's own, free α-thrombin plus 1.2 × meizothrombin
(``IIa + 1.2 mIIa``, BIOMD0000000335's assignment rule: meizothrombin's activity on the
chromogenic substrate the paper compares with).

**Membranes.** The paper's simulations assume phospholipid in excess (the synthetic plasma
it compares with carries 2 µM PCPS vesicles; its model has no membrane species). Where
membrane is scarce (a plasma sample whose only membranes are its EVs) the model here scales
the on-rates of the membrane-assembled complexes — the intrinsic tenase (IXa·VIIIa, k19;
its substrate X, k21) and the prothrombinase (Xa·Va, k28; its substrate II, k30) — by a
factor ``membrane`` in [0, 1] (1: the paper's excess membrane). How a plasma sample's
phosphatidylserine sets that factor is :func:`evniche.readouts.thrombin.membrane_factor`
(an assumption, with its range there). TF·VIIa sits on the membrane of the EV that carries
the TF, so the extrinsic tenase is not scaled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp
from scipy.sparse import csr_matrix

from ..errors import EvnicheError

#: species in the order of the state vector (Hockin 2002 Table / BIOMD0000000335 ids)
SPECIES = (
    "TF", "VII", "TF_VII", "VIIa", "TF_VIIa", "Xa", "IIa", "X", "TF_VIIa_X", "TF_VIIa_Xa",
    "IX", "TF_VIIa_IX", "IXa", "II", "VIII", "VIIIa", "IXa_VIIIa", "IXa_VIIIa_X",
    "VIIIa1_L", "VIIIa2", "V", "Va", "Xa_Va", "Xa_Va_II", "mIIa", "TFPI", "Xa_TFPI",
    "TF_VIIa_Xa_TFPI", "ATIII", "Xa_ATIII", "mIIa_ATIII", "IXa_ATIII", "IIa_ATIII",
    "TF_VIIa_ATIII",
)
INDEX = {name: i for i, name in enumerate(SPECIES)}

#: rate constants k1…k42 (1/s or 1/(M·s)); Hockin 2002 Table 1 = BIOMD0000000335 parameters
RATES: dict[str, float] = {
    "k1": 3.1e-3, "k2": 3.2e6, "k3": 3.1e-3, "k4": 2.3e7, "k5": 4.4e5, "k6": 1.3e7,
    "k7": 2.3e4, "k8": 1.05, "k9": 2.5e7, "k10": 6.0, "k11": 19.0, "k12": 2.2e7,
    "k13": 2.4, "k14": 1.0e7, "k15": 1.8, "k16": 7.5e3, "k17": 2.0e7, "k18": 5.0e-3,
    "k19": 1.0e7, "k20": 1.0e-3, "k21": 1.0e8, "k22": 8.2, "k23": 2.2e4, "k24": 6.0e-3,
    "k25": 1.0e-3, "k26": 2.0e7, "k27": 0.2, "k28": 4.0e8, "k29": 103.0, "k30": 1.0e8,
    "k31": 63.5, "k32": 1.5e7, "k33": 3.6e-4, "k34": 9.0e5, "k35": 1.1e-4, "k36": 3.2e8,
    "k37": 5.0e7, "k38": 1.5e3, "k39": 7.1e3, "k40": 4.9e2, "k41": 7.1e3, "k42": 2.3e2,
}

#: mean normal plasma (M): Hockin 2002 "Simulations" = BIOMD0000000335 initial values
#: (the SBML's TF of 25 pM is the paper's highest dose; TF is set per simulation here)
PLASMA: dict[str, float] = {
    "II": 1.4e-6, "V": 2.0e-8, "VII": 1.0e-8, "VIIa": 1.0e-10, "VIII": 7.0e-10,
    "IX": 9.0e-8, "X": 1.6e-7, "TFPI": 2.5e-9, "ATIII": 3.4e-6,
}

#: membrane-assembled steps scaled by the membrane factor (see the module docstring)
MEMBRANE_STEPS = ("k19", "k21", "k28", "k30")

# reactions: (rate name, reactants, products); mass action, catalysts on both sides
_REACTIONS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("k1", ("TF_VII",), ("TF", "VII")),
    ("k2", ("TF", "VII"), ("TF_VII",)),
    ("k3", ("TF_VIIa",), ("TF", "VIIa")),
    ("k4", ("TF", "VIIa"), ("TF_VIIa",)),
    ("k5", ("TF_VIIa", "VII"), ("TF_VIIa", "VIIa")),
    ("k6", ("Xa", "VII"), ("Xa", "VIIa")),
    ("k7", ("IIa", "VII"), ("IIa", "VIIa")),
    ("k8", ("TF_VIIa_X",), ("TF_VIIa", "X")),
    ("k9", ("TF_VIIa", "X"), ("TF_VIIa_X",)),
    ("k10", ("TF_VIIa_X",), ("TF_VIIa_Xa",)),
    ("k11", ("TF_VIIa_Xa",), ("TF_VIIa", "Xa")),
    ("k12", ("TF_VIIa", "Xa"), ("TF_VIIa_Xa",)),
    ("k13", ("TF_VIIa_IX",), ("TF_VIIa", "IX")),
    ("k14", ("TF_VIIa", "IX"), ("TF_VIIa_IX",)),
    ("k15", ("TF_VIIa_IX",), ("TF_VIIa", "IXa")),
    ("k16", ("Xa", "II"), ("Xa", "IIa")),
    ("k17", ("IIa", "VIII"), ("IIa", "VIIIa")),
    ("k18", ("IXa_VIIIa",), ("IXa", "VIIIa")),
    ("k19", ("IXa", "VIIIa"), ("IXa_VIIIa",)),
    ("k20", ("IXa_VIIIa_X",), ("IXa_VIIIa", "X")),
    ("k21", ("IXa_VIIIa", "X"), ("IXa_VIIIa_X",)),
    ("k22", ("IXa_VIIIa_X",), ("IXa_VIIIa", "Xa")),
    ("k23", ("VIIIa1_L", "VIIIa2"), ("VIIIa",)),
    ("k24", ("VIIIa",), ("VIIIa1_L", "VIIIa2")),
    ("k25", ("IXa_VIIIa_X",), ("VIIIa1_L", "VIIIa2", "X", "IXa")),
    ("k25", ("IXa_VIIIa",), ("VIIIa1_L", "VIIIa2", "IXa")),
    ("k26", ("IIa", "V"), ("IIa", "Va")),
    ("k27", ("Xa_Va",), ("Xa", "Va")),
    ("k28", ("Xa", "Va"), ("Xa_Va",)),
    ("k29", ("Xa_Va_II",), ("Xa_Va", "II")),
    ("k30", ("Xa_Va", "II"), ("Xa_Va_II",)),
    ("k31", ("Xa_Va_II",), ("Xa_Va", "mIIa")),
    ("k32", ("mIIa", "Xa_Va"), ("IIa", "Xa_Va")),
    ("k33", ("Xa_TFPI",), ("Xa", "TFPI")),
    ("k34", ("Xa", "TFPI"), ("Xa_TFPI",)),
    ("k35", ("TF_VIIa_Xa_TFPI",), ("TF_VIIa_Xa", "TFPI")),
    ("k36", ("TF_VIIa_Xa", "TFPI"), ("TF_VIIa_Xa_TFPI",)),
    ("k37", ("TF_VIIa", "Xa_TFPI"), ("TF_VIIa_Xa_TFPI",)),
    ("k38", ("Xa", "ATIII"), ("Xa_ATIII",)),
    ("k39", ("mIIa", "ATIII"), ("mIIa_ATIII",)),
    ("k40", ("IXa", "ATIII"), ("IXa_ATIII",)),
    ("k41", ("IIa", "ATIII"), ("IIa_ATIII",)),
    ("k42", ("TF_VIIa", "ATIII"), ("TF_VIIa_ATIII",)),
)

_N, _R = len(SPECIES), len(_REACTIONS)
_A = np.array([INDEX[r[1][0]] for r in _REACTIONS])  # first reactant of each reaction
_B = np.array([INDEX[r[1][1]] if len(r[1]) > 1 else -1 for r in _REACTIONS])
_SECOND = _B >= 0


def _stoichiometry() -> csr_matrix:
    s = np.zeros((_N, _R))
    for j, (_, reactants, products) in enumerate(_REACTIONS):
        for name in reactants:
            s[INDEX[name], j] -= 1
        for name in products:
            s[INDEX[name], j] += 1
    return csr_matrix(s)


_S = _stoichiometry()


@dataclass(frozen=True)
class ThrombinCurve:
    """A simulated thrombin generation curve: ``time_min`` (min) and ``thrombin_nM`` (nM,
    IIa + 1.2 mIIa), with the conditions it was made under."""

    time_min: np.ndarray
    thrombin_nM: np.ndarray
    tf_pM: float
    membrane: float


def rate_vector(membrane: float = 1.0, rates: dict[str, float] | None = None) -> np.ndarray:
    """The 43 reaction rate constants (k25 twice) with the membrane-assembled steps scaled
    by ``membrane`` (0–1)."""
    table = dict(RATES if rates is None else rates)
    for name in MEMBRANE_STEPS:
        table[name] = table[name] * membrane
    return np.array([table[r[0]] for r in _REACTIONS])


def initial_state(tf_pM: float, plasma: dict[str, float] | None = None) -> np.ndarray:
    """State vector (M) of mean plasma (or ``plasma``, M by species) with ``tf_pM`` pM TF."""
    y = np.zeros(_N)
    for name, value in (PLASMA if plasma is None else plasma).items():
        if name not in INDEX:
            raise EvnicheError(f"unknown coagulation species '{name}'; expected one of "
                               f"{', '.join(SPECIES)}")
        y[INDEX[name]] = value
    y[INDEX["TF"]] = tf_pM * 1e-12
    return y


def _fluxes(y: np.ndarray, k: np.ndarray) -> np.ndarray:
    v = k * y[_A]
    v[_SECOND] *= y[_B[_SECOND]]
    return v


def simulate(tf_pM: float, membrane: float = 1.0, minutes: float = 40.0,
             plasma: dict[str, float] | None = None, points: int = 801) -> ThrombinCurve:
    """Thrombin generation after ``tf_pM`` pM tissue factor meets plasma (min, nM).

    ``membrane`` (0–1) scales the membrane-assembled complexes (1: membrane in excess, the
    paper's condition); ``minutes`` is the simulated time, sampled at ``points`` times."""
    if not (np.isfinite(tf_pM) and tf_pM >= 0):
        raise EvnicheError(f"tissue factor must be a number of pM >= 0, got {tf_pM}")
    if not (np.isfinite(membrane) and 0 <= membrane <= 1):
        raise EvnicheError(f"membrane factor must lie in [0, 1], got {membrane}")
    if not (np.isfinite(minutes) and minutes > 0):
        raise EvnicheError(f"simulated time must be a number of minutes > 0, got {minutes}")
    k = rate_vector(membrane)
    y0 = initial_state(tf_pM, plasma)
    a_cols = np.arange(_R)

    def rhs(_t, y):
        return _S @ _fluxes(y, k)

    def jac(_t, y):
        # d v_j / d y: k_j y_b at a, k_j y_a at b (second order); k_j at a (first order)
        d = np.zeros((_R, _N))
        first = np.where(_SECOND, k * y[np.where(_SECOND, _B, 0)], k)
        d[a_cols, _A] = first
        d[a_cols[_SECOND], _B[_SECOND]] += k[_SECOND] * y[_A[_SECOND]]
        return (_S @ d)

    t_eval = np.linspace(0.0, minutes * 60.0, points)
    sol = solve_ivp(rhs, (0.0, t_eval[-1]), y0, method="LSODA", jac=jac, t_eval=t_eval,
                    rtol=1e-7, atol=1e-18)
    if not sol.success:  # pragma: no cover - the model is well posed for valid input
        raise EvnicheError(f"the thrombin generation model failed: {sol.message}")
    y = np.clip(sol.y, 0.0, None)
    thrombin = (y[INDEX["IIa"]] + 1.2 * y[INDEX["mIIa"]]) * 1e9
    return ThrombinCurve(sol.t / 60.0, thrombin, float(tf_pM), float(membrane))
