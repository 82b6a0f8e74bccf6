"""Everything that touches a quantum device: the catalogue and calibration profiles, the
compiler, the emulators and the Braket QPU path behind one backend interface, the spend gate
and ledger, and the hardware stage's validation, evidence and promotion (module map: README,
"Architecture")."""
