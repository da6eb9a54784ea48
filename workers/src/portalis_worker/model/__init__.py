"""The translation model served by Triton: a NeMo ModelPT seq2seq transformer over bytes.

Import the modules by concern (``byte_codec``, ``transformer``, ``translator``, ``serving``); this
package imports nothing heavy itself, so the worker can import ``portalis_worker`` without torch or
nemo_toolkit (they come with the ``serving`` extra).
"""
