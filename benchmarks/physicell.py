"""evniche's spatial engine beside PhysiCell 1.14.2, both built and measured in this run.

    python benchmarks/physicell.py [--quick] [--repeats K] [--days D] [--threads N]
                                   [--anchor TARBALL] [--build DIR] [--baseline CHECKOUT]
                                   [--diffusion-only]

The anchor is PhysiCell 1.14.2's source (``../shared/anchors/physicell/PhysiCell-1.14.2.tar.gz``
beside the project, or ``--anchor``), unpacked and built with g++ -O3 -fopenmp (PhysiCell's
own flags) in a cached build folder (``--build``, default the user cache folder
``anchors/physicell-1.14.2``; the first run builds for a few minutes, later runs reuse it).

Two comparisons, same work on both sides:

* **3-D diffusion**: BioFVM's constant-coefficient LOD solver
  (``diffusion_decay_solver__constant_coefficients_LOD_3D``, driven by
  ``benchmarks/anchors/biofvm_diffusion.cpp``) and evniche's :class:`Diffuser` on the same
  cubic grid (50³ and 100³ voxels of 20 µm), the same 8 fields, D = 1,000 µm²/min, the same
  step (0.01 min, PhysiCell's default ``dt_diffusion``), the same start and the same scheme
  (backward-Euler LOD, Thomas algorithm, zero-flux edges). Voxel-substrate updates per second
  (median over repeats, set-up excluded on both sides) and the largest relative difference of
  the two results after the timed steps, which shows the accuracy is the same. With
  ``--baseline CHECKOUT`` (another evniche checkout, e.g. the main branch), that checkout's
  solver is timed too, interleaved with both sides repeat by repeat, beside its largest
  relative difference from this one's; each row prints the load average during it (the
  machine may be shared). ``--diffusion-only`` stops after this comparison.
* **The rules sample's scale**: PhysiCell's ``rules_sample`` (1,300 cells, 5 substrates, a
  1 mm × 1 mm 2-D domain of 20 µm voxels) run for ``--days`` simulated days with its saves
  off, beside evniche's spatial engine on a model of the same scale (``spatial.py``'s
  ``rules_sample_model``: 1,300 agents, 5 fields, the same domain and voxels). Each side's
  time steps per simulated day are printed: PhysiCell steps diffusion every 0.01 min,
  mechanics every 0.1 min and phenotype every 6 min; evniche steps cells every 30 min and
  solves its fields implicitly in sub-steps sized by the fastest sink. The ratio is of wall
  time for the same simulated span at the same scale, not of work per step.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from evniche import user_cache  # noqa: E402
from evniche.engines.spatial import threads  # noqa: E402
from evniche.engines.spatial.diffusion import Diffuser  # noqa: E402

ANCHOR = HERE.parent.parent / "shared" / "anchors" / "physicell" / "PhysiCell-1.14.2.tar.gz"
SOURCE = "PhysiCell-1.14.2"
#: PhysiCell's own compiler flags (its Makefile's CFLAGS)
CFLAGS = ["-march=native", "-O3", "-fomit-frame-pointer", "-mfpmath=both", "-fopenmp",
          "-m64", "-std=c++11"]
BIOFVM_SOURCES = ["BioFVM_vector", "BioFVM_mesh", "BioFVM_microenvironment", "BioFVM_solvers",
                  "BioFVM_utilities", "BioFVM_basic_agent", "BioFVM_agent_container",
                  "BioFVM_MultiCellDS", "BioFVM_matlab", "pugixml"]
FIELDS = 8
DX_UM = 20.0
D_UM2_MIN = 1000.0
DT_MIN = 0.01


def build_folder(given: str | None) -> Path:
    """Where the anchor is unpacked and built (created)."""
    if given:
        path = Path(given)
    else:
        cache = user_cache.folder("anchors")
        path = (cache if cache is not None else Path(tempfile.gettempdir())) / SOURCE.lower()
    path.mkdir(parents=True, exist_ok=True)
    return path


def unpack(tarball: Path, into: Path, name: str) -> Path:
    """``tarball``'s PhysiCell tree as ``into/name`` (unpacked once)."""
    tree = into / name
    if not (tree / "Makefile").exists():
        if not tarball.is_file():
            sys.exit(f"error: the PhysiCell anchor {tarball} does not exist (give --anchor)")
        shutil.rmtree(tree, ignore_errors=True)
        with tempfile.TemporaryDirectory(dir=into) as tmp, tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="data")
            (Path(tmp) / SOURCE).rename(tree)
    return tree


def run(cmd: list[str], cwd: Path, what: str) -> str:
    """Run ``cmd``; its standard output, or exit naming ``what`` failed."""
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, encoding="utf-8")
    if done.returncode != 0:
        sys.exit(f"error: {what} failed ({' '.join(cmd[:3])} …):\n{done.stderr[-2000:]}")
    return done.stdout


def biofvm_driver(folder: Path, tarball: Path) -> Path:
    """The BioFVM diffusion driver, compiled against the anchor's BioFVM (once)."""
    tree = unpack(tarball, folder, "source")
    binary = folder / "biofvm_diffusion"
    driver = HERE / "anchors" / "biofvm_diffusion.cpp"
    if not binary.exists() or binary.stat().st_mtime < driver.stat().st_mtime:
        print("building BioFVM's diffusion driver (once) …", flush=True)
        sources = [str(tree / "BioFVM" / f"{name}.cpp") for name in BIOFVM_SOURCES]
        run(["g++", *CFLAGS, f"-I{tree / 'BioFVM'}", str(driver), *sources, "-o", str(binary)],
            folder, "compiling the BioFVM driver")
    return binary


def rules_sample_project(folder: Path, tarball: Path) -> Path:
    """PhysiCell's rules sample, built as PhysiCell documents (``make rules-sample && make``)."""
    tree = unpack(tarball, folder, "rules_sample")
    if not (tree / "project").exists():
        print("building PhysiCell's rules sample (once, a few minutes) …", flush=True)
        run(["make", "rules-sample"], tree, "make rules-sample")
        run(["make", f"-j{os.cpu_count() or 2}"], tree, "building the rules sample")
    return tree


def start_fields(n: int, fields: int) -> np.ndarray:
    """The deterministic start of both sides: 1 + sin(0.1 i + 0.2 j + 0.3 k + f)."""
    k, j, i = np.meshgrid(np.arange(n), np.arange(n), np.arange(n), indexing="ij")
    return np.stack([1.0 + np.sin(0.1 * i + 0.2 * j + 0.3 * k + f) for f in range(fields)])


def baseline_diffuser(checkout: Path) -> type:
    """The :class:`Diffuser` of another checkout (``--baseline``, e.g. the main branch's
    before a change), loaded as a module of this package so its relative imports resolve."""
    path = checkout / "src" / "evniche" / "engines" / "spatial" / "diffusion.py"
    if not path.is_file():
        sys.exit(f"error: --baseline {checkout}: expected a checkout of evniche with {path}")
    name = "evniche.engines.spatial._baseline_diffusion"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.Diffuser


def timed_steps(diffuser, n: int, steps: int) -> tuple[float, np.ndarray]:
    """Wall seconds of ``steps`` LOD steps of the start fields on an n³ grid (after one
    untimed step: the driver's set-up step, and Numba's compilation) and the result."""
    u = start_fields(n, FIELDS)
    diffuser.step(u)
    start = time.perf_counter()
    for _ in range(steps):
        diffuser.step(u)
    return time.perf_counter() - start, u


def diffusion_pair(binary: Path, n: int, steps: int, repeats: int, n_threads: int,
                   baseline: type | None = None) -> dict:
    """Medians of BioFVM and evniche (and of ``baseline``'s solver, when given) on an n³
    grid, interleaved repeat by repeat, and the results' largest relative differences."""
    anchor_s, ours_s, before_s = [], [], []
    args = ((n, n, n), DX_UM, np.full(FIELDS, D_UM2_MIN * 60.0), DT_MIN / 60.0)
    diffuser = Diffuser(*args)
    before = baseline(*args) if baseline is not None else None
    load = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "field0.bin"
        for _ in range(repeats):
            load.append(os.getloadavg()[0])
            wall = run([str(binary), str(n), str(FIELDS), str(steps), str(n_threads),
                        str(DX_UM), str(D_UM2_MIN), str(DT_MIN), str(out)], Path(tmp),
                       "BioFVM's diffusion driver")
            anchor_s.append(float(wall.strip().splitlines()[-1]))
            wall, u = timed_steps(diffuser, n, steps)
            ours_s.append(wall)
            if before is not None:
                wall, u_before = timed_steps(before, n, steps)
                before_s.append(wall)
        anchor_field = np.fromfile(out).reshape(n, n, n)
    updates = FIELDS * n**3 * steps
    result = {"n": n, "anchor": updates / float(np.median(anchor_s)),
              "ours": updates / float(np.median(ours_s)),
              "difference": float(np.max(np.abs(u[0] - anchor_field) / np.abs(anchor_field))),
              "anchor_s": anchor_s, "ours_s": ours_s, "load": float(np.median(load))}
    if before is not None:
        result["before"] = updates / float(np.median(before_s))
        result["before_s"] = before_s
        result["before_difference"] = float(np.max(np.abs(u - u_before) / np.abs(u_before)))
    return result


def physicell_rules_run(project: Path, days: float, n_threads: int) -> dict:
    """Wall time of the rules sample over ``days`` with saves off (one process)."""
    settings = project / "config" / "PhysiCell_settings.xml"
    tree = ET.parse(settings)
    root = tree.getroot()
    root.find("overall/max_time").text = f"{days * 1440:g}"
    root.find("parallel/omp_num_threads").text = str(n_threads)
    for save in ("save/full_data", "save/SVG"):
        node = root.find(save)
        if node is not None:
            node.find("enable").text = "false"
    steps = {name: float(root.find(f"overall/{name}").text)
             for name in ("dt_diffusion", "dt_mechanics", "dt_phenotype")}
    config = project / "config" / "benchmark_settings.xml"
    tree.write(config)
    start = time.perf_counter()
    run(["./project", str(config.relative_to(project))], project, "PhysiCell's rules sample")
    wall = time.perf_counter() - start
    return {"wall": wall, "per_day": {k: 1440.0 / v for k, v in steps.items()}}


def evniche_rules_run(days: float, repeats: int) -> dict:
    """Median wall time of evniche's spatial engine at the rules sample's scale."""
    import evniche
    from spatial import rules_sample_model

    model = evniche.load_model(rules_sample_model())
    opts = {"agents": 1300, "min_agents": 40, "size_um": (1000.0, 1000.0), "dx_um": DX_UM,
            "equilibrate_first": False, "animation_frames": 0, "snapshot_days": [0.0]}
    evniche.simulate(model, days=days, seed=0, engine="spatial", **opts)  # compiles
    walls = []
    for k in range(repeats):
        ds = evniche.simulate(model, days=days, seed=k, engine="spatial", **opts)
        walls.append(float(ds.attrs["wall_seconds"]))
    cell_steps = 24.0 / float(ds.attrs["dt_hours"])
    return {"wall": float(np.median(walls)), "walls": walls, "cell_steps": cell_steps,
            "field_steps": cell_steps * int(ds.attrs["field_substeps"])}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the 50³ grid only, 1 repeat")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per case (default 3)")
    parser.add_argument("--days", type=float, default=1.0,
                        help="simulated days of the rules-sample runs (default 1)")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads on both sides (default 2)")
    parser.add_argument("--anchor", default=str(ANCHOR), help="PhysiCell 1.14.2's tarball")
    parser.add_argument("--baseline", default=None,
                        help="another evniche checkout (e.g. the main branch) whose diffusion "
                             "solver is timed beside this one's, interleaved")
    parser.add_argument("--diffusion-only", action="store_true",
                        help="the 3-D diffusion comparison only (no rules-sample runs)")
    parser.add_argument("--build", default=None,
                        help="build folder (default: the user cache's anchors/physicell-1.14.2)")
    args = parser.parse_args(argv)
    if shutil.which("g++") is None or shutil.which("make") is None:
        sys.exit("error: building the PhysiCell anchor needs g++ (with OpenMP) and make")
    repeats = 1 if args.quick else args.repeats
    folder = build_folder(args.build)
    tarball = Path(args.anchor)
    binary = biofvm_driver(folder, tarball)
    project = None if args.diffusion_only else rules_sample_project(folder, tarball)
    print(f"evniche vs PhysiCell 1.14.2 (built here) — {args.threads} thread(s) on both sides, "
          f"medians of {repeats}")
    print(f"3-D diffusion: {FIELDS} fields, {DX_UM:g}-µm voxels, D = {D_UM2_MIN:g} µm²/min, "
          f"dt = {DT_MIN:g} min, backward-Euler LOD on both sides")
    before = baseline_diffuser(Path(args.baseline)) if args.baseline else None
    head = (f"{'grid':>6} {'BioFVM vox-subst/s':>19} {'evniche vox-subst/s':>20} "
            f"{'ratio':>7} {'max rel. difference':>20} {'load':>5}")
    if before is not None:
        head += f" {'before vox-subst/s':>19} {'now/before':>10} {'vs before':>9}"
    print(head)
    print("-" * len(head), flush=True)
    grids = [(50, 40)] if args.quick else [(50, 40), (100, 10)]
    with threads.using(args.threads):
        for n, steps in grids:
            r = diffusion_pair(binary, n, steps, repeats, args.threads, before)
            line = (f"{r['n']:>5}³ {r['anchor']:>19.3e} {r['ours']:>20.3e} "
                    f"{r['ours'] / r['anchor']:>6.2f}x {r['difference']:>20.1e} "
                    f"{r['load']:>5.1f}")
            if before is not None:
                line += (f" {r['before']:>19.3e} {r['ours'] / r['before']:>9.2f}x "
                         f"{r['before_difference']:>9.1e}")
            print(line, flush=True)
        if before is not None:
            print(f"before: {args.baseline}'s solver, interleaved with both sides repeat by "
                  "repeat; load: the 1-minute load average (median over the repeats)")
        if args.diffusion_only:
            return
        print()
        print(f"rules sample's scale, {args.days:g} simulated day(s): 1,300 cells, 5 fields, "
              f"1 mm × 1 mm in 20-µm voxels", flush=True)
        ours = evniche_rules_run(args.days, repeats)
    print(f"  evniche:   {ours['wall']:.2f} s wall (median of "
          + ", ".join(f"{w:.2f}" for w in ours["walls"])
          + f"); per simulated day {ours['cell_steps']:,.0f} cell steps and "
          f"{ours['field_steps']:,.0f} implicit field sub-steps", flush=True)
    anchor_runs = [physicell_rules_run(project, args.days, args.threads) for _ in range(repeats)]
    anchor_wall = float(np.median([r["wall"] for r in anchor_runs]))
    per_day = anchor_runs[0]["per_day"]
    print(f"  PhysiCell: {anchor_wall:.2f} s wall (median of "
          + ", ".join(f"{r['wall']:.2f}" for r in anchor_runs)
          + f"); per simulated day {per_day['dt_diffusion']:,.0f} diffusion, "
          f"{per_day['dt_mechanics']:,.0f} mechanics and {per_day['dt_phenotype']:,.0f} "
          f"phenotype steps")
    print(f"  wall-time ratio PhysiCell / evniche: {anchor_wall / ours['wall']:.1f}x "
          f"(same span and scale; the step sizes differ as printed)")


if __name__ == "__main__":
    main()
