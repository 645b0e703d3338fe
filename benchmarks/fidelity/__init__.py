"""The study: TSN vs TSM vs STSM on the motion benchmark over seeds, the alpha ablation, int8 (`python -m stsm_edge.benchmarks.fidelity.run`)."""
