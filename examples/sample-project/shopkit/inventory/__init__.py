"""Inventory: items, stock levels, warehouse bins and reorder planning."""
