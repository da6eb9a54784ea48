"""Geometry for shelf layouts and delivery zones: points, shapes, polygons and grids."""
