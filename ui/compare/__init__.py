"""The Compare tab: variants on shared seeds, the grid, votes, CLIP scores, ablation."""
