"""Scheduling: shift intervals, calendars, task queues and dependency ordering."""
