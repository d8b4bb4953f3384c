"""Hosting: the mode (local, --auth, public), visitors, limits, ZeroGPU, served paths."""
