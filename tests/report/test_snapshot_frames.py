"""The snapshot figure is built once and each frame puts its own snapshot into it: agents,
legend, field images, the "none at this time" note and the day."""

import numpy as np

from evniche.report import figures


def test_each_frame_shows_its_own_snapshot_and_nothing_of_the_previous(spatial_run):
    ds = spatial_run.copy(deep=True)
    ds["field_snapshot"][1, 0] = 0.0  # the EV field is empty on day 45
    ds["agent_type"][2, :10] = np.nan  # fewer agents on day 90
    fields = ["LSC.exosome", "CXCL12"]
    norms = {f: figures._scale(ds, f) for f in fields}
    fig = figures.new_figure(figsize=(13.4, 4.2), layout="constrained")
    section = figures._Section(fig, ds, *fields, norms)
    static = len(section.cells.collections)
    for k in (0, 1, 2, 0, 2):
        section.show(k)
        types = ds["agent_type"].values[k]
        assert sum(len(d.get_offsets()) for d in section.dots) == np.isfinite(types).sum()
        assert len(section.cells.collections) == static + len(section.dots)
        labels = [t.get_text() for t in section.cells.get_legend().get_texts()]
        for t, name in enumerate(("HSC", "LSC", "MSC")):
            assert f"{name} ({int(np.sum(types == t))})" in labels
        for name, image in section.images.items():
            data = ds["field_snapshot"].sel(field=name).values[k]
            # (a log-scaled field masks what is not positive)
            np.testing.assert_array_equal(np.ma.filled(image.get_array(), 0.0),
                                          np.where(data > 0, data, 0.0))
            empty = not np.any(data > 0)
            assert (section.notes[name] is not None) == empty
            notes = [t for t in image.axes.texts if t.get_text() == "none at this time"]
            assert len(notes) == int(empty)
        day = float(ds["snapshot_day"].values[k])
        assert fig.get_suptitle().startswith(f"Day {day:g} —")
    fig.canvas.draw()  # the figure still renders


def test_the_layout_is_made_for_the_widest_legend(spatial_run):
    ds = spatial_run.copy(deep=True)
    types = ds["agent_type"].values
    types[types == 2] = 0.0
    types[1, :3] = 2.0  # the type with the long name appears on day 45 only
    ds.attrs["agent_type_names"] = "HSC;LSC;a-much-longer-name"
    assert figures._widest_legend(ds, [0, 1, 2]) == 1
    assert figures._widest_legend(ds, [0, 2]) in (0, 2)
