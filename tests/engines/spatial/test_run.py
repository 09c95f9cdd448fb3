"""``evniche run … --engine spatial`` end to end: trajectory, run record, Zarr and Parquet
snapshots, and a report with the section images and their animation."""

import base64
import io
import re
from pathlib import Path

import pandas as pd
import xarray as xr
from PIL import Image

from evniche.cli import main
from evniche.report.html import num

TINY = Path(__file__).with_name("tiny.yaml")


def test_cli_run_writes_snapshots_and_a_report_with_section_images(tmp_path, monkeypatch):
    monkeypatch.setenv("EVNICHE_REGISTRY", str(tmp_path / "registry"))
    out = tmp_path / "run"
    status = main(["run", str(TINY), "--engine", "spatial", "--days", "1", "--out", str(out),
                   "--spatial", "size_um=[120,120]", "--spatial", "sinusoid_spacing_um=60",
                   "--spatial", "agents=300", "--spatial", "snapshot_days=[0,1]",
                   "--spatial", "animation_frames=3", "--spatial", "placement.HSC=hsc",
                   # the fixture's steady state has no HSCs (MSC miR-150 holds their renewal
                   # below balance): start from the initial values, where both types live
                   "--spatial", "equilibrate_first=false"])
    assert status == 0
    with xr.open_dataset(out / "trajectory.nc") as ds:
        assert ds.attrs["engine"] == "spatial"
        assert list(ds["snapshot_day"].values) == [0.0, 0.5, 1.0]
        assert ds.attrs["section_days"] == "0;1"
    assert (out / "run.json").is_file()
    with xr.open_zarr(out / "fields.zarr", consolidated=False) as fields:
        assert fields["field"].sizes == {"snapshot": 3, "field_name": 1, "z": 1, "y": 12,
                                         "x": 12}
    agents = pd.read_parquet(out / "agents.parquet")
    assert {"day", "cell_type", "x_um", "cells_per_agent", "cargo:miR-150"} <= set(agents)
    assert set(agents["cell_type"]) == {"MSC", "HSC"}
    page = (out / "report.html").read_text(encoding="utf-8")
    section = page.split(">Spatial snapshots</h2>")[1].split("<h2")[0]
    assert "Day 0<" in section and "Day 1<" in section and "Day 0.5<" not in section
    pngs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', section)
    gifs = re.findall(r'src="data:image/gif;base64,([A-Za-z0-9+/=]+)"', section)
    assert len(pngs) == 2 and len(gifs) == 1
    assert Image.open(io.BytesIO(base64.b64decode(gifs[0]))).n_frames == 3
    assert "fields.zarr" in section and "<code>MSC.exosome</code>" in section
    assert f"<code>{out.resolve()}</code>" in section  # where they are, not where written
    # the niche-anatomy table: the fraction near a sinusoid, per type, from the Dataset
    assert "<code>niche_fraction</code>" in section and "within 10&nbsp;µm" in section
    with xr.open_dataset(out / "trajectory.nc") as ds:
        hsc = ds["niche_fraction"].sel(cell_type="HSC").values
    row = section.split("<tr><td>HSC</td>")[1].split("</tr>")[0]
    assert f'<td class="n">{num(hsc[0])}</td>' in row and num(hsc.mean()) in row


def test_spatial_options_need_the_spatial_engine(tmp_path, capsys):
    status = main(["run", str(TINY), "--days", "1", "--out", str(tmp_path / "o"),
                   "--spatial", "agents=10"])
    assert status == 2
    assert "--engine spatial" in capsys.readouterr().err
