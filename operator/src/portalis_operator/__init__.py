"""Portalis DGX operator: TranslationJob queueing, admission and recovery on GPU pools."""
