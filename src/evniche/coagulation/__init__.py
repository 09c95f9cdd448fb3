"""Coagulation: the Hockin–Mann thrombin generation model (:mod:`.hockin`) and the readouts
of a thrombin generation curve (:mod:`.thrombogram`: lag time, peak, time to peak,
endogenous thrombin potential). :mod:`evniche.readouts.thrombin` couples them to the tissue
factor and phosphatidylserine that a run's plasma EVs carry."""
