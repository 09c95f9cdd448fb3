"""Virtual patient cohorts: population draws (:mod:`.population`), assay models with their
limits and noise (:mod:`.assays`), biomarker statistics (:mod:`.biomarkers`) and the
resumable, Dask-distributed runner (:mod:`.cohort`). See docs/cohorts.md."""
