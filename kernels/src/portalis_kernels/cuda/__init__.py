"""CUDA C sources of the kernels (package data, compiled at run time by cupy or NVRTC)."""
