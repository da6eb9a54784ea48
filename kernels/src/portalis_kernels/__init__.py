"""Portalis CUDA kernels (cupy RawModule) with NumPy reference implementations.

Import from the modules by concern: ``featurize``, ``minhash``, ``similarity`` (one public function
per kernel), ``neardup`` (what the worker calls), ``backend`` (device choice) and ``nvrtc``
(compile-only checks). Nothing is re-exported here, so a function never shadows its module, and
importing the package never imports cupy.
"""
